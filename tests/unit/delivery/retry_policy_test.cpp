// retry_policy.hpp: capped exponential backoff with full jitter, attempt and age limits, Retry-After.
#include "relay/delivery/retry_policy.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace {

using namespace std::chrono_literals;
using relay::delivery::Duration;
using relay::delivery::RetryPolicy;

RetryPolicy policy() {
    RetryPolicy p;
    p.initial = 100ms;
    p.max_delay = 10s;
    p.multiplier = 2.0;
    p.max_attempts = 50;
    p.max_age = 24h;
    return p;
}

constexpr int kDraws = 5'000;

}  // namespace

TEST(RetryPolicy, CeilingGrowsGeometricallyUntilTheCap) {
    const auto p = policy();
    EXPECT_EQ(p.ceiling(1), 100ms);
    EXPECT_EQ(p.ceiling(2), 200ms);
    EXPECT_EQ(p.ceiling(3), 400ms);
    EXPECT_EQ(p.ceiling(7), 6400ms);
    EXPECT_EQ(p.ceiling(8), 10s);
    EXPECT_EQ(p.ceiling(0), 100ms);
    EXPECT_EQ(p.ceiling(-3), 100ms);
}

TEST(RetryPolicy, CeilingIsNonDecreasingAndSaturatesWithoutOverflow) {
    auto p = policy();
    p.multiplier = 10.0;
    Duration previous = Duration::zero();
    for (int attempt = 1; attempt <= 2'000; ++attempt) {
        const Duration c = p.ceiling(attempt);
        EXPECT_GE(c, previous) << "attempt " << attempt;
        EXPECT_LE(c, p.max_delay) << "attempt " << attempt;
        previous = c;
    }
    EXPECT_EQ(p.ceiling(2'000), p.max_delay);
}

TEST(RetryPolicy, JitteredDelaysStayWithinZeroAndTheCeiling) {
    const auto p = policy();
    std::mt19937_64 rng(42);
    for (int attempt = 1; attempt < 12; ++attempt) {
        for (int i = 0; i < kDraws; ++i) {
            const auto delay = p.next_delay(attempt, 0ms, rng);
            ASSERT_TRUE(delay.has_value());
            ASSERT_GE(*delay, 0ms);
            ASSERT_LE(*delay, p.ceiling(attempt)) << "attempt " << attempt;
        }
    }
}

TEST(RetryPolicy, JitterIsSpreadOverTheWholeRange) {
    // Full jitter, not "ceiling minus a little": the draws reach both ends and average near the middle.
    const auto p = policy();
    std::mt19937_64 rng(7);
    const int attempt = 20;  // capped at 10 s
    Duration lowest = p.max_delay;
    Duration highest = 0ms;
    double sum_ms = 0;
    for (int i = 0; i < kDraws; ++i) {
        const Duration d = *p.next_delay(attempt, 0ms, rng);
        lowest = std::min(lowest, d);
        highest = std::max(highest, d);
        sum_ms += static_cast<double>(d.count());
    }
    EXPECT_LT(lowest, 200ms);
    EXPECT_GT(highest, 9800ms);
    EXPECT_NEAR(sum_ms / kDraws, 5000.0, 250.0);
}

TEST(RetryPolicy, GivesUpAfterMaxAttempts) {
    auto p = policy();
    p.max_attempts = 3;
    std::mt19937_64 rng(1);
    EXPECT_TRUE(p.next_delay(1, 0ms, rng).has_value());
    EXPECT_TRUE(p.next_delay(2, 0ms, rng).has_value());
    EXPECT_FALSE(p.next_delay(3, 0ms, rng).has_value());
    EXPECT_FALSE(p.next_delay(4, 0ms, rng).has_value());
}

TEST(RetryPolicy, OneAttemptMeansNoRetry) {
    auto p = policy();
    p.max_attempts = 1;
    std::mt19937_64 rng(1);
    EXPECT_FALSE(p.next_delay(1, 0ms, rng).has_value());
}

TEST(RetryPolicy, GivesUpOnceTheRecordIsTooOld) {
    auto p = policy();
    p.max_age = 1min;
    std::mt19937_64 rng(1);
    EXPECT_TRUE(p.next_delay(1, 59s, rng).has_value());
    EXPECT_FALSE(p.next_delay(1, 1min, rng).has_value());
    EXPECT_FALSE(p.next_delay(1, 2min, rng).has_value());
}

TEST(RetryPolicy, NeverSchedulesPastMaxAge) {
    auto p = policy();
    p.max_age = 1min;
    std::mt19937_64 rng(3);
    for (int i = 0; i < kDraws; ++i) {
        const Duration age = 55s + Duration(i % 5000);
        const auto delay = p.next_delay(10, age, rng);
        ASSERT_TRUE(delay.has_value());
        ASSERT_LE(age + *delay, p.max_age);
    }
}

TEST(RetryPolicy, RetryAfterIsAFloorEvenAboveTheCap) {
    const auto p = policy();
    std::mt19937_64 rng(11);
    for (int i = 0; i < kDraws; ++i) {
        const auto delay = p.next_delay(1, 0ms, rng, 3s);
        ASSERT_TRUE(delay.has_value());
        ASSERT_EQ(*delay, 3s);  // ceiling(1) is 100 ms, so the floor always wins
    }
    EXPECT_EQ(*p.next_delay(1, 0ms, rng, 2min), 2min);  // above max_delay: the server knows best
}

TEST(RetryPolicy, RetryAfterBelowTheDrawKeepsTheJitter) {
    const auto p = policy();
    std::mt19937_64 rng(12);
    bool above_floor = false;
    for (int i = 0; i < kDraws; ++i) {
        const auto delay = p.next_delay(20, 0ms, rng, 1s);
        ASSERT_TRUE(delay.has_value());
        ASSERT_GE(*delay, 1s);
        ASSERT_LE(*delay, p.max_delay);
        above_floor = above_floor || *delay > 1s;
    }
    EXPECT_TRUE(above_floor);
}

TEST(RetryPolicy, RetryAfterPastTheDeadlineGivesUp) {
    auto p = policy();
    p.max_age = 1h;
    std::mt19937_64 rng(13);
    EXPECT_FALSE(p.next_delay(1, 50min, rng, 11min).has_value());
    EXPECT_EQ(p.next_delay(1, 50min, rng, 10min), 10min);
}

TEST(RetryPolicy, NegativeRetryAfterIsNoFloor) {
    const auto p = policy();
    std::mt19937_64 rng(14);
    const auto delay = p.next_delay(1, 0ms, rng, -5s);
    ASSERT_TRUE(delay.has_value());
    EXPECT_LE(*delay, p.ceiling(1));
}

TEST(RetryPolicy, SameSeedSameDelays) {
    const auto p = policy();
    std::mt19937_64 a(99);
    std::mt19937_64 b(99);
    for (int attempt = 1; attempt < 20; ++attempt)
        EXPECT_EQ(p.next_delay(attempt, 0ms, a), p.next_delay(attempt, 0ms, b));
}

TEST(RetryPolicy, ValidateRejectsUnusablePolicies) {
    EXPECT_NO_THROW(policy().validate());
    EXPECT_NO_THROW(RetryPolicy{}.validate());
    auto bad = policy();
    bad.initial = 0ms;
    EXPECT_THROW(bad.validate(), std::invalid_argument);
    bad = policy();
    bad.max_delay = 50ms;
    EXPECT_THROW(bad.validate(), std::invalid_argument);
    bad = policy();
    bad.multiplier = 0.5;
    EXPECT_THROW(bad.validate(), std::invalid_argument);
    bad = policy();
    bad.multiplier = std::numeric_limits<double>::quiet_NaN();
    EXPECT_THROW(bad.validate(), std::invalid_argument);
    bad = policy();
    bad.max_attempts = 0;
    EXPECT_THROW(bad.validate(), std::invalid_argument);
    bad = policy();
    bad.max_age = 0ms;
    EXPECT_THROW(bad.validate(), std::invalid_argument);
}
