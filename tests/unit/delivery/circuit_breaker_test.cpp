// circuit_breaker.hpp: closed → open → half-open → closed / open over a fake clock.
#include "relay/delivery/circuit_breaker.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace {

using namespace std::chrono_literals;
using relay::delivery::BreakerState;
using relay::delivery::CircuitBreaker;
using relay::delivery::CircuitBreakerConfig;
using relay::delivery::TimePoint;

const TimePoint kStart = TimePoint(1000h);

CircuitBreakerConfig config() {
    CircuitBreakerConfig c;
    c.consecutive_failures = 5;
    c.failure_rate_threshold = 0.5;
    c.minimum_calls = 10;
    c.window = 10s;
    c.open_duration = 30s;
    c.half_open_probes = 2;
    return c;
}

// One call through the breaker at `now`; returns whether it was allowed.
bool call(CircuitBreaker& breaker, TimePoint now, bool succeeds) {
    if (!breaker.allow(now)) return false;
    if (succeeds) {
        breaker.record_success(now);
    } else {
        breaker.record_failure(now);
    }
    return true;
}

CircuitBreaker opened_breaker() {
    CircuitBreaker breaker(config());
    for (int i = 0; i < 5; ++i) call(breaker, kStart, false);
    return breaker;
}

}  // namespace

TEST(CircuitBreaker, StateNamesForTheMetric) {
    EXPECT_EQ(to_string(BreakerState::kClosed), "closed");
    EXPECT_EQ(to_string(BreakerState::kOpen), "open");
    EXPECT_EQ(to_string(BreakerState::kHalfOpen), "half_open");
}

TEST(CircuitBreaker, OpensOnConsecutiveFailures) {
    CircuitBreaker breaker(config());
    for (int i = 0; i < 4; ++i) {
        EXPECT_TRUE(call(breaker, kStart, false));
        EXPECT_EQ(breaker.state(), BreakerState::kClosed);
    }
    EXPECT_TRUE(call(breaker, kStart, false));
    EXPECT_EQ(breaker.state(), BreakerState::kOpen);
    EXPECT_FALSE(breaker.allow(kStart + 1s));
    EXPECT_EQ(breaker.open_until(), kStart + 30s);
}

TEST(CircuitBreaker, ASuccessResetsTheConsecutiveCount) {
    auto c = config();
    c.minimum_calls = 1000;  // only the consecutive rule
    CircuitBreaker breaker(c);
    for (int round = 0; round < 10; ++round) {
        for (int i = 0; i < 4; ++i) call(breaker, kStart, false);
        call(breaker, kStart, true);
    }
    EXPECT_EQ(breaker.state(), BreakerState::kClosed);
}

TEST(CircuitBreaker, OpensOnFailureRateOnceThereAreEnoughCalls) {
    CircuitBreaker breaker(config());
    // Alternating fail / succeed never reaches 5 in a row; the rate is 50 % from the second call on.
    for (int i = 0; i < 9; ++i) {
        call(breaker, kStart + i * 100ms, i % 2 == 0);
        EXPECT_EQ(breaker.state(), BreakerState::kClosed) << "only " << i + 1 << " calls";
    }
    call(breaker, kStart + 900ms, false);  // 10 calls, 5 failures
    EXPECT_EQ(breaker.state(), BreakerState::kOpen);
}

TEST(CircuitBreaker, StaysClosedBelowTheThreshold) {
    CircuitBreaker breaker(config());
    for (int i = 0; i < 1000; ++i) call(breaker, kStart + i * 10ms, i % 3 != 0);  // 33 % failures
    EXPECT_EQ(breaker.state(), BreakerState::kClosed);
}

TEST(CircuitBreaker, OldFailuresLeaveTheWindow) {
    auto c = config();
    c.consecutive_failures = 1000;  // only the rate rule
    CircuitBreaker breaker(c);
    for (int i = 0; i < 9; ++i) call(breaker, kStart, false);
    EXPECT_EQ(breaker.window_counts(kStart).failures, 9);
    // Eleven seconds later the window (10 s) no longer holds them: one more failure is 1 of 1 call,
    // below the minimum number of calls.
    const TimePoint later = kStart + 11s;
    EXPECT_EQ(breaker.window_counts(later).calls, 0);
    call(breaker, later, false);
    EXPECT_EQ(breaker.state(), BreakerState::kClosed);
    EXPECT_EQ(breaker.window_counts(later).calls, 1);
}

TEST(CircuitBreaker, WindowSlidesOneSlotAtATime) {
    auto c = config();
    c.consecutive_failures = 1000;
    c.minimum_calls = 1000;
    CircuitBreaker breaker(c);
    for (int second = 0; second < 10; ++second) call(breaker, kStart + std::chrono::seconds(second), false);
    EXPECT_EQ(breaker.window_counts(kStart + 9s).calls, 10);
    EXPECT_EQ(breaker.window_counts(kStart + 10s).calls, 9);
    EXPECT_EQ(breaker.window_counts(kStart + 15s).calls, 4);
    EXPECT_EQ(breaker.window_counts(kStart + 19s).calls, 0);
}

TEST(CircuitBreaker, OpenBecomesHalfOpenAfterTheOpenDuration) {
    auto breaker = opened_breaker();
    EXPECT_FALSE(breaker.allow(kStart + 29999ms));
    EXPECT_EQ(breaker.state(), BreakerState::kOpen);
    EXPECT_TRUE(breaker.allow(kStart + 30s));
    EXPECT_EQ(breaker.state(), BreakerState::kHalfOpen);
}

TEST(CircuitBreaker, HalfOpenAllowsOnlyTheProbes) {
    auto breaker = opened_breaker();
    const TimePoint t = kStart + 30s;
    EXPECT_TRUE(breaker.allow(t));
    EXPECT_TRUE(breaker.allow(t));
    EXPECT_FALSE(breaker.allow(t));
    EXPECT_FALSE(breaker.allow(t + 1h));
    EXPECT_EQ(breaker.state(), BreakerState::kHalfOpen);
}

TEST(CircuitBreaker, ASuccessfulProbeClosesWithCleanCounts) {
    auto breaker = opened_breaker();
    const TimePoint t = kStart + 30s;
    ASSERT_TRUE(breaker.allow(t));
    breaker.record_success(t);
    EXPECT_EQ(breaker.state(), BreakerState::kClosed);
    EXPECT_EQ(breaker.window_counts(t).calls, 0);
    // The outage's failures are forgotten: it takes a fresh run of five to open again.
    for (int i = 0; i < 4; ++i) call(breaker, t, false);
    EXPECT_EQ(breaker.state(), BreakerState::kClosed);
    call(breaker, t, false);
    EXPECT_EQ(breaker.state(), BreakerState::kOpen);
}

TEST(CircuitBreaker, ClosingForgetsTheOutageEvenInsideTheWindow) {
    auto c = config();
    c.consecutive_failures = 1000;  // only the rate rule
    c.open_duration = 2s;           // shorter than the 10 s window, so the outage's failures are still in it
    CircuitBreaker breaker(c);
    for (int i = 0; i < 10; ++i) call(breaker, kStart, false);
    ASSERT_EQ(breaker.state(), BreakerState::kOpen);
    ASSERT_TRUE(call(breaker, kStart + 2s, true));
    ASSERT_EQ(breaker.state(), BreakerState::kClosed);
    call(breaker, kStart + 3s, false);
    EXPECT_EQ(breaker.state(), BreakerState::kClosed);
    EXPECT_EQ(breaker.window_counts(kStart + 3s).calls, 1);
}

TEST(CircuitBreaker, AFailedProbeReopensForAnotherPeriod) {
    auto breaker = opened_breaker();
    const TimePoint t = kStart + 30s;
    ASSERT_TRUE(breaker.allow(t));
    ASSERT_TRUE(breaker.allow(t));
    breaker.record_failure(t + 2s);
    EXPECT_EQ(breaker.state(), BreakerState::kOpen);
    EXPECT_EQ(breaker.open_until(), t + 32s);
    breaker.record_success(t + 3s);  // the other probe, answering late: ignored while open
    EXPECT_EQ(breaker.state(), BreakerState::kOpen);
    EXPECT_FALSE(breaker.allow(t + 31s));
    EXPECT_TRUE(breaker.allow(t + 32s));
    EXPECT_EQ(breaker.state(), BreakerState::kHalfOpen);
}

TEST(CircuitBreaker, ResultsArrivingWhileOpenAreIgnored) {
    auto breaker = opened_breaker();
    breaker.record_success(kStart + 1s);
    breaker.record_failure(kStart + 2s);
    EXPECT_EQ(breaker.state(), BreakerState::kOpen);
    EXPECT_EQ(breaker.open_until(), kStart + 30s);
}

TEST(CircuitBreaker, RejectsUnusableConfigurations) {
    EXPECT_NO_THROW(CircuitBreaker(CircuitBreakerConfig{}));
    auto bad = config();
    bad.consecutive_failures = 0;
    EXPECT_THROW(CircuitBreaker{bad}, std::invalid_argument);
    bad = config();
    bad.failure_rate_threshold = 0.0;
    EXPECT_THROW(CircuitBreaker{bad}, std::invalid_argument);
    bad = config();
    bad.failure_rate_threshold = 1.5;
    EXPECT_THROW(CircuitBreaker{bad}, std::invalid_argument);
    bad = config();
    bad.minimum_calls = 0;
    EXPECT_THROW(CircuitBreaker{bad}, std::invalid_argument);
    bad = config();
    bad.window = 0ms;
    EXPECT_THROW(CircuitBreaker{bad}, std::invalid_argument);
    bad = config();
    bad.open_duration = 0ms;
    EXPECT_THROW(CircuitBreaker{bad}, std::invalid_argument);
    bad = config();
    bad.half_open_probes = 0;
    EXPECT_THROW(CircuitBreaker{bad}, std::invalid_argument);
}
