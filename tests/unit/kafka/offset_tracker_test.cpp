// The committable offset when records finish out of order: never past an unfinished record.
#include "relay/kafka/offset_tracker.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace relay::kafka {
namespace {

TEST(OffsetTracker, NothingToCommitUntilTheFirstRecordIsDone) {
    OffsetTracker t;
    t.add(10);
    t.add(11);
    t.done(11);
    EXPECT_FALSE(t.take_commit());
    EXPECT_EQ(t.oldest(), 10);
    t.done(10);
    EXPECT_EQ(t.take_commit(), 12);
    EXPECT_FALSE(t.take_commit());  // only when it moved
    EXPECT_EQ(t.in_flight(), 0U);
    EXPECT_FALSE(t.oldest());
}

TEST(OffsetTracker, PositionIsTheNextOffsetEvenAfterItWasTaken) {
    // A final commit on revoke sends the position: the asynchronous commit that took it may have failed.
    OffsetTracker t;
    EXPECT_FALSE(t.position());
    t.add(3);
    t.add(4);
    EXPECT_FALSE(t.position());
    t.done(3);
    EXPECT_EQ(t.take_commit(), 4);
    EXPECT_FALSE(t.take_commit());
    EXPECT_EQ(t.position(), 4);
    t.done(4);
    EXPECT_EQ(t.position(), 5);
}

TEST(OffsetTracker, GapsInOffsetsAndUnknownOrRepeatedOffsetsAreHarmless) {
    OffsetTracker t;
    t.add(5);
    t.add(9);  // compacted or transactional gap
    t.add(9);  // a re-read: ignored
    t.add(7);  // smaller: ignored
    t.done(42);
    t.done(9);
    t.done(9);
    EXPECT_FALSE(t.take_commit());
    t.done(5);
    EXPECT_EQ(t.take_commit(), 10);
}

TEST(OffsetTracker, RandomCompletionOrderNeverCommitsPastAnUnfinishedRecord) {
    std::mt19937 rng(7);
    for (int round = 0; round < 50; ++round) {
        OffsetTracker t;
        std::vector<std::int64_t> offsets;
        for (std::int64_t o = 100; o < 160; o += 1 + static_cast<std::int64_t>(rng() % 3)) {
            t.add(o);
            offsets.push_back(o);
        }
        std::vector<std::int64_t> order = offsets;
        std::shuffle(order.begin(), order.end(), rng);
        std::vector<bool> finished(offsets.size(), false);
        std::int64_t committed = -1;
        for (const auto o : order) {
            t.done(o);
            finished[std::find(offsets.begin(), offsets.end(), o) - offsets.begin()] = true;
            if (const auto c = t.take_commit()) {
                EXPECT_GT(*c, committed);
                committed = *c;
            }
            for (std::size_t i = 0; i < offsets.size(); ++i)
                if (offsets[i] < committed) {
                    EXPECT_TRUE(finished[i]) << "committed past unfinished " << offsets[i];
                }
        }
        EXPECT_EQ(committed, offsets.back() + 1);
    }
}

}  // namespace
}  // namespace relay::kafka
