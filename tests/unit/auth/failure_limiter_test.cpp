// FailureLimiter: failed authentications counted per address and per credential, blocks, episodes.
#include "relay/auth/failure_limiter.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using relay::auth::FailureLimiter;
using relay::auth::FailureLimits;
using Scope = relay::auth::FailureLimiter::Scope;

namespace {

const relay::auth::SteadyTime kStart{std::chrono::hours(1000)};

FailureLimits limits(std::uint32_t per_address, std::uint32_t per_credential, std::size_t tracked = 1000) {
    return FailureLimits{60s, per_address, per_credential, tracked};
}

bool is_hex8(const std::string& tag) {
    return tag.size() == 8 && tag.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

TEST(FailureLimiter, AnAddressIsBlockedAtTheThresholdForOneWindow) {
    FailureLimiter limiter(limits(3, 100));
    for (int i = 0; i < 2; ++i) {
        EXPECT_FALSE(limiter.blocked("10.0.0.1", "", kStart + std::chrono::seconds(i)));
        EXPECT_TRUE(limiter.record_failure("10.0.0.1", "", kStart + std::chrono::seconds(i)).empty());
    }
    EXPECT_FALSE(limiter.blocked("10.0.0.1", "", kStart + 2s));
    const auto started = limiter.record_failure("10.0.0.1", "", kStart + 10s);
    ASSERT_EQ(started.size(), 1U);
    EXPECT_EQ(started[0].scope, Scope::kAddress);
    EXPECT_EQ(started[0].failures, 3U);
    EXPECT_TRUE(is_hex8(started[0].tag)) << started[0].tag;

    const auto blocked = limiter.blocked("10.0.0.1", "", kStart + 10s);
    ASSERT_TRUE(blocked);
    EXPECT_EQ(blocked->scope, Scope::kAddress);
    EXPECT_EQ(blocked->retry_after, 60s);
    EXPECT_EQ(limiter.blocked("10.0.0.1", "", kStart + 69500ms)->retry_after, 1s);
    // Another address is not affected.
    EXPECT_FALSE(limiter.blocked("10.0.0.2", "", kStart + 10s));
    // The block ends one window after the threshold was reached.
    EXPECT_FALSE(limiter.blocked("10.0.0.1", "", kStart + 70s));
}

TEST(FailureLimiter, FailuresOutsideTheWindowDoNotAddUp) {
    FailureLimiter limiter(limits(3, 100));
    limiter.record_failure("10.0.0.1", "", kStart);
    limiter.record_failure("10.0.0.1", "", kStart + 30s);
    // The window started with the first failure: at +60s the count starts again.
    EXPECT_TRUE(limiter.record_failure("10.0.0.1", "", kStart + 60s).empty());
    EXPECT_TRUE(limiter.record_failure("10.0.0.1", "", kStart + 61s).empty());
    EXPECT_FALSE(limiter.blocked("10.0.0.1", "", kStart + 61s));
    EXPECT_EQ(limiter.record_failure("10.0.0.1", "", kStart + 62s).size(), 1U);
    EXPECT_TRUE(limiter.blocked("10.0.0.1", "", kStart + 62s));
}

TEST(FailureLimiter, ACredentialIsBlockedWhateverTheAddress) {
    FailureLimiter limiter(limits(100, 5));
    for (int i = 0; i < 4; ++i) {
        EXPECT_TRUE(limiter.record_failure("10.0.0." + std::to_string(i), "site/ocean", kStart).empty());
    }
    const auto started = limiter.record_failure("10.0.0.99", "site/ocean", kStart);
    ASSERT_EQ(started.size(), 1U);
    EXPECT_EQ(started[0].scope, Scope::kCredential);
    EXPECT_EQ(started[0].failures, 5U);

    const auto blocked = limiter.blocked("192.168.1.1", "site/ocean", kStart + 1s);
    ASSERT_TRUE(blocked);
    EXPECT_EQ(blocked->scope, Scope::kCredential);
    EXPECT_EQ(blocked->retry_after, 59s);
    // The addresses are not blocked by the credential's count, and other credentials are not either.
    EXPECT_FALSE(limiter.blocked("10.0.0.1", "", kStart + 1s));
    EXPECT_FALSE(limiter.blocked("10.0.0.1", "site/other", kStart + 1s));
}

TEST(FailureLimiter, AnAddressIsBlockedWhateverTheCredential) {
    FailureLimiter limiter(limits(3, 100));
    limiter.record_failure("10.0.0.1", "site/a", kStart);
    limiter.record_failure("10.0.0.1", "site/b", kStart);
    const auto started = limiter.record_failure("10.0.0.1", "site/c", kStart);
    ASSERT_EQ(started.size(), 1U);
    EXPECT_EQ(started[0].scope, Scope::kAddress);
    const auto blocked = limiter.blocked("10.0.0.1", "site/d", kStart);
    ASSERT_TRUE(blocked);
    EXPECT_EQ(blocked->scope, Scope::kAddress);
    EXPECT_FALSE(limiter.blocked("10.0.0.2", "site/a", kStart));
}

TEST(FailureLimiter, BothKindsCanStartAnEpisodeWithOneFailureAndTheLongerWaitIsReported) {
    FailureLimiter limiter(limits(2, 2));
    limiter.record_failure("10.0.0.1", "site/x", kStart);
    const auto started = limiter.record_failure("10.0.0.1", "site/x", kStart + 5s);
    ASSERT_EQ(started.size(), 2U);
    EXPECT_EQ(started[0].scope, Scope::kAddress);
    EXPECT_EQ(started[1].scope, Scope::kCredential);
    EXPECT_NE(started[0].tag, started[1].tag);
    // The same text as an address and as a credential are different keys.
    FailureLimiter other(limits(1, 1));
    const auto same_text = other.record_failure("x", "x", kStart);
    ASSERT_EQ(same_text.size(), 2U);
    EXPECT_NE(same_text[0].tag, same_text[1].tag);
}

TEST(FailureLimiter, AnEpisodeStartsOnceAndEndsOnce) {
    FailureLimiter limiter(limits(2, 100));
    limiter.record_failure("10.0.0.1", "", kStart);
    const auto started = limiter.record_failure("10.0.0.1", "", kStart);
    ASSERT_EQ(started.size(), 1U);
    // Failures during the block (a request that raced the block) start nothing new.
    EXPECT_TRUE(limiter.record_failure("10.0.0.1", "", kStart + 1s).empty());
    EXPECT_TRUE(limiter.blocked("10.0.0.1", "", kStart + 2s));
    EXPECT_TRUE(limiter.blocked("10.0.0.1", "", kStart + 3s));
    EXPECT_TRUE(limiter.take_ended_episodes(kStart + 59s).empty());

    const auto ended = limiter.take_ended_episodes(kStart + 61s);
    ASSERT_EQ(ended.size(), 1U);
    EXPECT_EQ(ended[0].scope, Scope::kAddress);
    EXPECT_EQ(ended[0].tag, started[0].tag);
    EXPECT_EQ(ended[0].failures, 3U);
    EXPECT_EQ(ended[0].refused, 2U);
    EXPECT_EQ(ended[0].blocked_for, 60s);
    EXPECT_FALSE(ended[0].evicted);
    EXPECT_TRUE(limiter.take_ended_episodes(kStart + 62s).empty());
    EXPECT_EQ(limiter.tracked(), 0U);

    // A new episode for the same key has the same tag.
    limiter.record_failure("10.0.0.1", "", kStart + 100s);
    const auto again = limiter.record_failure("10.0.0.1", "", kStart + 100s);
    ASSERT_EQ(again.size(), 1U);
    EXPECT_EQ(again[0].tag, started[0].tag);
}

TEST(FailureLimiter, TagsDoNotRepeatTheKeyAndDifferPerInstance) {
    FailureLimiter a(limits(1, 1));
    FailureLimiter b(limits(1, 1));
    const auto from_a = a.record_failure("10.0.0.1", "", kStart);
    const auto from_b = b.record_failure("10.0.0.1", "", kStart);
    ASSERT_EQ(from_a.size(), 1U);
    ASSERT_EQ(from_b.size(), 1U);
    EXPECT_EQ(from_a[0].tag.find("10.0"), std::string::npos);
    EXPECT_NE(from_a[0].tag, from_b[0].tag);  // keyed per instance (1 in 2^32 to collide)
}

TEST(FailureLimiter, SuccessIsNotRecordedSoCountsAreNotReset) {
    // There is no record_success: the count of an address keeps growing across its successes.
    FailureLimiter limiter(limits(3, 100));
    limiter.record_failure("10.0.0.1", "site/a", kStart);
    limiter.record_failure("10.0.0.1", "site/a", kStart + 1s);
    EXPECT_FALSE(limiter.blocked("10.0.0.1", "site/b", kStart + 2s));  // a success with site/b here
    EXPECT_EQ(limiter.record_failure("10.0.0.1", "site/a", kStart + 3s).size(), 1U);
}

TEST(FailureLimiter, EmptyKeysAndZeroLimitsAreNotTracked) {
    FailureLimiter limiter(limits(0, 2));
    for (int i = 0; i < 10; ++i) limiter.record_failure("10.0.0.1", "", kStart);
    EXPECT_EQ(limiter.tracked(), 0U);
    EXPECT_FALSE(limiter.blocked("10.0.0.1", "", kStart));
    limiter.record_failure("10.0.0.1", "site/a", kStart);
    EXPECT_EQ(limiter.tracked(), 1U);
}

TEST(FailureLimiter, MemoryIsBoundedUnderAHundredThousandAddresses) {
    FailureLimiter limiter(FailureLimits{60s, 30, 100, 20000});
    for (int i = 0; i < 100'000; ++i) {
        const std::string address =
            "2001:db8::" + std::to_string(i / 65536) + ":" + std::to_string(i % 65536);
        limiter.record_failure(address, "", kStart + std::chrono::milliseconds(i / 10));
        ASSERT_LE(limiter.tracked(), 20000U) << i;
    }
    EXPECT_EQ(limiter.tracked(), 20000U);
    // Once their windows pass, they are all gone.
    EXPECT_TRUE(limiter.take_ended_episodes(kStart + 80s).empty());
    EXPECT_EQ(limiter.tracked(), 0U);
}

TEST(FailureLimiter, FloodingWithFreshAddressesDoesNotUnblockACredential) {
    FailureLimiter limiter(FailureLimits{60s, 30, 5, 1000});
    for (int i = 0; i < 5; ++i) limiter.record_failure("", "site/ocean", kStart);
    ASSERT_TRUE(limiter.blocked("", "site/ocean", kStart));
    for (int i = 0; i < 100'000; ++i) {
        const std::string address = "10." + std::to_string(i / 65536) + "." + std::to_string(i % 65536);
        limiter.record_failure(address, "", kStart + 1s);
    }
    EXPECT_LE(limiter.tracked(), 1000U);
    EXPECT_TRUE(limiter.blocked("", "site/ocean", kStart + 2s));
}

TEST(FailureLimiter, WhenEveryTrackedKeyIsBlockedTheBlockEndingFirstIsEvicted) {
    FailureLimiter limiter(FailureLimits{60s, 1, 1, 2});
    limiter.record_failure("10.0.0.1", "", kStart);
    limiter.record_failure("10.0.0.2", "", kStart + 1s);
    limiter.record_failure("10.0.0.3", "", kStart + 2s);
    EXPECT_EQ(limiter.tracked(), 2U);
    EXPECT_FALSE(limiter.blocked("10.0.0.1", "", kStart + 3s));
    EXPECT_TRUE(limiter.blocked("10.0.0.2", "", kStart + 3s));
    EXPECT_TRUE(limiter.blocked("10.0.0.3", "", kStart + 3s));
    const auto ended = limiter.take_ended_episodes(kStart + 3s);
    ASSERT_EQ(ended.size(), 1U);
    EXPECT_TRUE(ended[0].evicted);
    EXPECT_EQ(ended[0].blocked_for, 2s);
}

TEST(FailureLimiter, InvalidLimitsAreRejected) {
    EXPECT_THROW(FailureLimiter(FailureLimits{0s, 1, 1, 10}), std::invalid_argument);
    EXPECT_THROW(FailureLimiter(FailureLimits{60s, 1, 1, 0}), std::invalid_argument);
}

TEST(FailureLimiter, ScopeNamesAreStable) {
    EXPECT_STREQ(FailureLimiter::to_string(Scope::kAddress), "address");
    EXPECT_STREQ(FailureLimiter::to_string(Scope::kCredential), "credential");
}

TEST(FailureLimiter, ConcurrentFailuresAreAllCountedAndStartOneEpisode) {
    constexpr int kThreads = 8;
    constexpr int kPerThread = 500;
    FailureLimiter limiter(FailureLimits{60s, kThreads * kPerThread, 1'000'000, 100'000});
    std::atomic<int> episodes{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&limiter, &episodes, t] {
            for (int i = 0; i < kPerThread; ++i) {
                // One shared address, and one address per thread and failure.
                const std::string own = "10." + std::to_string(t) + "." + std::to_string(i);
                episodes += static_cast<int>(limiter.record_failure("shared", own, kStart).size());
                limiter.blocked(own, "", kStart);
            }
        });
    }
    for (auto& thread : threads) thread.join();
    // The shared address reached its maximum exactly once, with the last failure.
    EXPECT_EQ(episodes.load(), 1);
    EXPECT_TRUE(limiter.blocked("shared", "", kStart));
    EXPECT_EQ(limiter.tracked(), static_cast<std::size_t>(kThreads * kPerThread + 1));
}
