// The at-least-once ledger: commits only contiguous finished work, and a changelog record waits for
// every earlier record's deliveries.
#include "ledger.hpp"

#include <gtest/gtest.h>

namespace relay::router {
namespace {

PendingState state_for(const std::string& ref) {
    return PendingState{{ChangelogRecord{ref, "state"}}};
}

TEST(PartitionLedger, CommitsOnlyContiguousFinishedOffsets) {
    PartitionLedger ledger;
    ledger.add(10, 1, std::nullopt);
    ledger.add(11, 1, std::nullopt);
    ledger.add(12, 1, std::nullopt);
    ledger.ack(12);
    ledger.ack(11);
    EXPECT_TRUE(ledger.take_ready_states().empty());
    EXPECT_EQ(ledger.take_commit(), std::nullopt) << "10 is not finished: nothing after it may be committed";
    ledger.ack(10);
    EXPECT_TRUE(ledger.take_ready_states().empty());  // no state records: done at once
    EXPECT_EQ(ledger.take_commit(), 13);
    EXPECT_EQ(ledger.in_flight(), 0U);
    EXPECT_EQ(ledger.take_commit(), std::nullopt) << "nothing new to commit";
}

TEST(PartitionLedger, AStateRecordWaitsForEveryEarlierRecordsDeliveries) {
    PartitionLedger ledger;
    ledger.add(1, 2, state_for("a"));
    ledger.add(2, 1, state_for("b"));
    ledger.ack(2);
    EXPECT_TRUE(ledger.take_ready_states().empty())
        << "b's state must not overtake a's unfinished deliveries";
    ledger.ack(1);
    EXPECT_TRUE(ledger.take_ready_states().empty()) << "a still waits for its second delivery";
    ledger.ack(1);
    const auto ready = ledger.take_ready_states();
    ASSERT_EQ(ready.size(), 2U);
    EXPECT_EQ(ready[0].first, 1);
    EXPECT_EQ(ready[0].second.records.at(0).key, "a");
    EXPECT_EQ(ready[1].first, 2);
    EXPECT_TRUE(ledger.take_ready_states().empty()) << "each state record is handed out once";
    EXPECT_EQ(ledger.take_commit(), std::nullopt) << "not committable before the state records are written";
    ledger.state_written(2);
    EXPECT_EQ(ledger.take_commit(), std::nullopt);
    ledger.state_written(1);
    EXPECT_EQ(ledger.take_commit(), 3);
}

TEST(PartitionLedger, RecordsWithNothingToProduceStillKeepOrder) {
    PartitionLedger ledger;
    ledger.add(5, 1, std::nullopt);
    ledger.add(6, 0, std::nullopt);
    EXPECT_TRUE(ledger.take_ready_states().empty());
    EXPECT_EQ(ledger.take_commit(), std::nullopt);
    ledger.ack(5);
    ledger.take_ready_states();
    EXPECT_EQ(ledger.take_commit(), 7);
}

TEST(PartitionLedger, OffsetsMustIncreaseAndUnknownAcksAreIgnored) {
    PartitionLedger ledger;
    ledger.add(3, 1, std::nullopt);
    EXPECT_THROW(ledger.add(3, 1, std::nullopt), std::logic_error);
    ledger.ack(99);
    ledger.state_written(99);
    EXPECT_EQ(ledger.in_flight(), 1U);
}

}  // namespace
}  // namespace relay::router
