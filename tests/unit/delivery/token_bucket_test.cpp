// token_bucket.hpp: refill math, burst, waiting times and Retry-After pauses over a fake clock.
#include "relay/delivery/token_bucket.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <stdexcept>

namespace {

using namespace std::chrono_literals;
using relay::delivery::Clock;
using relay::delivery::TimePoint;
using relay::delivery::TokenBucket;

const TimePoint kStart = TimePoint(1000h);

// Takes every token available at `now`; bounded so a broken bucket fails the test instead of hanging it.
int drain(TokenBucket& bucket, TimePoint now) {
    int granted = 0;
    while (granted < 10'000 && bucket.try_acquire(now)) ++granted;
    return granted;
}

}  // namespace

TEST(TokenBucket, StartsFullAndGrantsTheBurstAtOnce) {
    TokenBucket bucket(10.0, 5.0, kStart);
    EXPECT_EQ(drain(bucket, kStart), 5);
    EXPECT_FALSE(bucket.try_acquire(kStart));
}

TEST(TokenBucket, RefillsAtTheRate) {
    TokenBucket bucket(10.0, 5.0, kStart);
    drain(bucket, kStart);
    EXPECT_FALSE(bucket.try_acquire(kStart + 99ms));
    EXPECT_TRUE(bucket.try_acquire(kStart + 100ms));
    EXPECT_FALSE(bucket.try_acquire(kStart + 100ms));
    EXPECT_EQ(drain(bucket, kStart + 400ms), 3);
}

TEST(TokenBucket, NeverHoldsMoreThanTheBurst) {
    TokenBucket bucket(10.0, 5.0, kStart);
    drain(bucket, kStart);
    EXPECT_EQ(drain(bucket, kStart + 1h), 5);
}

TEST(TokenBucket, FractionalRatesAccumulate) {
    TokenBucket bucket(0.5, 1.0, kStart);  // one request every two seconds
    EXPECT_TRUE(bucket.try_acquire(kStart));
    EXPECT_FALSE(bucket.try_acquire(kStart + 1s));
    EXPECT_FALSE(bucket.try_acquire(kStart + 1999ms));
    EXPECT_TRUE(bucket.try_acquire(kStart + 2s));
}

TEST(TokenBucket, GrantsTheRateOverALongRun) {
    // Polling every millisecond for 10 s at 7/s with burst 3: 3 up front plus 70 refilled.
    TokenBucket bucket(7.0, 3.0, kStart);
    int granted = 0;
    for (auto t = kStart; t <= kStart + 10s; t += 1ms) granted += bucket.try_acquire(t) ? 1 : 0;
    EXPECT_EQ(granted, 73);
}

TEST(TokenBucket, TimeUntilAvailableIsExactlyWhenTheNextTokenArrives) {
    for (double rate : {1.0, 3.0, 7.0, 1000.0, 0.1}) {
        TokenBucket bucket(rate, 2.0, kStart);
        TimePoint now = kStart;
        for (int i = 0; i < 50; ++i) {
            drain(bucket, now);
            const auto wait = bucket.time_until_available(now);
            ASSERT_GT(wait, Clock::duration::zero()) << rate;
            ASSERT_FALSE(bucket.try_acquire(now + wait / 2)) << rate;
            now += wait;
            ASSERT_EQ(bucket.time_until_available(now), Clock::duration::zero()) << rate;
            ASSERT_TRUE(bucket.try_acquire(now)) << rate << " after " << i;
        }
    }
}

TEST(TokenBucket, PauseRefusesEverythingUntilItEnds) {
    TokenBucket bucket(100.0, 10.0, kStart);
    bucket.pause_until(kStart + 30s);
    EXPECT_FALSE(bucket.try_acquire(kStart));
    EXPECT_FALSE(bucket.try_acquire(kStart + 29999ms));
    EXPECT_EQ(bucket.time_until_available(kStart + 10s), 20s);
    EXPECT_TRUE(bucket.try_acquire(kStart + 30s));
}

TEST(TokenBucket, AfterAPauseOneRequestThenTheRate) {
    TokenBucket bucket(10.0, 10.0, kStart);
    bucket.pause_until(kStart + 5s);
    EXPECT_EQ(drain(bucket, kStart + 5s), 1);
    EXPECT_EQ(bucket.time_until_available(kStart + 5s), 100ms);
    EXPECT_EQ(drain(bucket, kStart + 5s + 300ms), 3);
}

TEST(TokenBucket, APauseNeverShortensALongerOne) {
    TokenBucket bucket(10.0, 10.0, kStart);
    bucket.pause_until(kStart + 60s);
    bucket.pause_until(kStart + 10s);
    EXPECT_FALSE(bucket.try_acquire(kStart + 30s));
    EXPECT_EQ(bucket.paused_until(), kStart + 60s);
    EXPECT_TRUE(bucket.try_acquire(kStart + 60s));
}

TEST(TokenBucket, APauseInThePastChangesNothing) {
    TokenBucket bucket(10.0, 3.0, kStart);
    EXPECT_TRUE(bucket.try_acquire(kStart + 1s));
    bucket.pause_until(kStart);
    EXPECT_EQ(drain(bucket, kStart + 1s), 2);
}

TEST(TokenBucket, TimeGoingBackwardsAddsNothing) {
    TokenBucket bucket(10.0, 1.0, kStart + 10s);
    EXPECT_TRUE(bucket.try_acquire(kStart + 10s));
    EXPECT_FALSE(bucket.try_acquire(kStart));
    EXPECT_FALSE(bucket.try_acquire(kStart + 10s + 50ms));
    EXPECT_TRUE(bucket.try_acquire(kStart + 10s + 100ms));
}

TEST(TokenBucket, RejectsUnusableParameters) {
    EXPECT_THROW(TokenBucket(0.0, 1.0, kStart), std::invalid_argument);
    EXPECT_THROW(TokenBucket(-1.0, 1.0, kStart), std::invalid_argument);
    EXPECT_THROW(TokenBucket(1.0, 0.5, kStart), std::invalid_argument);
    EXPECT_THROW(TokenBucket(std::numeric_limits<double>::infinity(), 1.0, kStart), std::invalid_argument);
}
