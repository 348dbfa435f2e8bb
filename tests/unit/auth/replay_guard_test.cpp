// ReplayGuard: the memory of accepted webhook ids that refuses replays within the tolerance.
#include "relay/auth/replay_guard.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using relay::auth::ReplayGuard;
using Verdict = relay::auth::ReplayGuard::Verdict;

namespace {

const relay::SystemTime kNow{std::chrono::seconds(1'700'000'000)};

}  // namespace

TEST(ReplayGuard, TheSameIdIsRefusedUntilItExpires) {
    ReplayGuard guard(10);
    EXPECT_EQ(guard.remember("site", "msg_1", kNow + 300s, kNow), Verdict::kFirstSeen);
    EXPECT_EQ(guard.remember("site", "msg_1", kNow + 300s, kNow), Verdict::kReplayed);
    EXPECT_EQ(guard.remember("site", "msg_1", kNow + 600s, kNow + 299s), Verdict::kReplayed);
    // Still refused at the expiry instant: a timestamp exactly `tolerance` old is still accepted.
    EXPECT_EQ(guard.remember("site", "msg_1", kNow + 600s, kNow + 300s), Verdict::kReplayed);
    EXPECT_EQ(guard.size(), 1U);
}

TEST(ReplayGuard, ExpiryAllowsTheIdAgain) {
    ReplayGuard guard(10);
    EXPECT_EQ(guard.remember("site", "msg_1", kNow + 300s, kNow), Verdict::kFirstSeen);
    EXPECT_EQ(guard.remember("site", "msg_1", kNow + 601s, kNow + 301s), Verdict::kFirstSeen);
    EXPECT_EQ(guard.remember("site", "msg_1", kNow + 601s, kNow + 302s), Verdict::kReplayed);
    EXPECT_EQ(guard.size(), 1U);
}

TEST(ReplayGuard, DifferentIdsAndAudiencesAreIndependent) {
    ReplayGuard guard(10);
    EXPECT_EQ(guard.remember("site", "msg_1", kNow + 300s, kNow), Verdict::kFirstSeen);
    EXPECT_EQ(guard.remember("site", "msg_2", kNow + 300s, kNow), Verdict::kFirstSeen);
    EXPECT_EQ(guard.remember("other", "msg_1", kNow + 300s, kNow), Verdict::kFirstSeen);
    // The audience and the id are not simply concatenated.
    EXPECT_EQ(guard.remember("sit", "emsg_1", kNow + 300s, kNow), Verdict::kFirstSeen);
    EXPECT_EQ(guard.remember("site", "MSG_1", kNow + 300s, kNow), Verdict::kFirstSeen);
    EXPECT_EQ(guard.size(), 5U);
}

TEST(ReplayGuard, MalformedIdsAreRefusedAndNotRemembered) {
    ReplayGuard guard(10);
    for (const std::string& id : {std::string(),
                                  std::string(257, 'a'),
                                  std::string("msg\n1"),
                                  std::string("msg\r1"),
                                  std::string("msg\t1"),
                                  std::string("msg\0" "1", 5),
                                  std::string("msg\x7f")}) {
        EXPECT_FALSE(ReplayGuard::is_valid_id(id)) << id.size();
        EXPECT_EQ(guard.remember("site", id, kNow + 300s, kNow), Verdict::kMalformedId) << id.size();
    }
    EXPECT_EQ(guard.size(), 0U);
    EXPECT_TRUE(ReplayGuard::is_valid_id(std::string(256, 'a')));
    EXPECT_TRUE(ReplayGuard::is_valid_id("msg_p5jXN8AQM9LWM0D4loKWxJek"));
    EXPECT_TRUE(ReplayGuard::is_valid_id("caf\xc3\xa9 id"));
    EXPECT_EQ(guard.remember("site", std::string(256, 'a'), kNow + 300s, kNow), Verdict::kFirstSeen);
}

TEST(ReplayGuard, MemoryIsBoundedAndTheEntryClosestToExpiryIsEvicted) {
    ReplayGuard guard(3);
    EXPECT_EQ(guard.max_entries(), 3U);
    EXPECT_EQ(guard.remember("site", "late", kNow + 300s, kNow), Verdict::kFirstSeen);
    EXPECT_EQ(guard.remember("site", "early", kNow + 100s, kNow), Verdict::kFirstSeen);
    EXPECT_EQ(guard.remember("site", "middle", kNow + 200s, kNow), Verdict::kFirstSeen);
    EXPECT_EQ(guard.remember("site", "fourth", kNow + 250s, kNow), Verdict::kFirstSeen);
    EXPECT_EQ(guard.size(), 3U);
    EXPECT_EQ(guard.evictions(), 1U);
    EXPECT_EQ(guard.remember("site", "late", kNow + 300s, kNow), Verdict::kReplayed);
    EXPECT_EQ(guard.remember("site", "middle", kNow + 200s, kNow), Verdict::kReplayed);
    EXPECT_EQ(guard.remember("site", "fourth", kNow + 250s, kNow), Verdict::kReplayed);
    EXPECT_EQ(guard.remember("site", "early", kNow + 100s, kNow), Verdict::kFirstSeen);  // evicted
    EXPECT_EQ(guard.size(), 3U);

    // Many distinct ids never take more than the bound.
    ReplayGuard bounded(1000);
    for (int i = 0; i < 20000; ++i) {
        bounded.remember("site", "msg_" + std::to_string(i), kNow + 300s, kNow);
        ASSERT_LE(bounded.size(), 1000U);
    }
    EXPECT_EQ(bounded.evictions(), 19000U);
}

TEST(ReplayGuard, ExpiredEntriesArePrunedBeforeAnythingIsEvicted) {
    ReplayGuard guard(2);
    guard.remember("site", "a", kNow + 10s, kNow);
    guard.remember("site", "b", kNow + 300s, kNow);
    EXPECT_EQ(guard.remember("site", "c", kNow + 311s, kNow + 11s), Verdict::kFirstSeen);
    EXPECT_EQ(guard.evictions(), 0U);
    EXPECT_EQ(guard.remember("site", "b", kNow + 300s, kNow + 12s), Verdict::kReplayed);
    EXPECT_EQ(guard.size(), 2U);
}

TEST(ReplayGuard, AlreadyExpiredRequestsAreNotRemembered) {
    ReplayGuard guard(2);
    EXPECT_EQ(guard.remember("site", "old", kNow - 1s, kNow), Verdict::kFirstSeen);
    EXPECT_EQ(guard.size(), 0U);
}

TEST(ReplayGuard, ForgetAllowsARetryWithTheSameId) {
    ReplayGuard guard(10);
    guard.remember("site", "msg_1", kNow + 300s, kNow);
    guard.forget("other", "msg_1");
    EXPECT_EQ(guard.remember("site", "msg_1", kNow + 300s, kNow), Verdict::kReplayed);
    guard.forget("site", "msg_1");
    EXPECT_EQ(guard.size(), 0U);
    EXPECT_EQ(guard.remember("site", "msg_1", kNow + 300s, kNow + 5s), Verdict::kFirstSeen);
    guard.forget("site", std::string(300, 'x'));  // malformed: nothing to forget, no error
}

TEST(ReplayGuard, ZeroEntriesIsRejected) {
    EXPECT_THROW(ReplayGuard(0), std::invalid_argument);
}

TEST(ReplayGuard, ConcurrentCallersRecordEachIdExactlyOnce) {
    ReplayGuard guard(100'000);
    constexpr int kThreads = 8;
    constexpr int kIds = 2000;
    std::atomic<int> first_seen{0};
    std::atomic<int> replayed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&] {
            // Every thread offers every id: exactly one of them may see it first.
            for (int i = 0; i < kIds; ++i) {
                const Verdict verdict = guard.remember("site", "msg_" + std::to_string(i), kNow + 300s, kNow);
                (verdict == Verdict::kFirstSeen ? first_seen : replayed).fetch_add(1);
            }
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(first_seen.load(), kIds);
    EXPECT_EQ(replayed.load(), kIds * (kThreads - 1));
    EXPECT_EQ(guard.size(), static_cast<std::size_t>(kIds));
}

TEST(ReplayGuard, ConcurrentCallersStayWithinTheBound) {
    ReplayGuard guard(500);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&guard, t] {
            for (int i = 0; i < 5000; ++i) {
                const auto now = kNow + std::chrono::seconds(i / 100);
                guard.remember("site", std::to_string(t) + "-" + std::to_string(i), now + 30s, now);
                guard.forget("site", std::to_string(t) + "-" + std::to_string(i - 7));
            }
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_LE(guard.size(), 500U);
}
