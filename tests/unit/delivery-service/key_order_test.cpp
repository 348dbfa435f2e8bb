// The order per (destination, referral) without Kafka: what KeyOrder decides for a key, its I/O faked
// (acknowledgements and changelog reads are completed by the test, in the order it chooses).
#include "key_order.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace relay::delivery_service {
namespace {

using Head = KeyOrder::Head;

/// KeyOrder never reads a message (it carries them for the service's I/O): a non-null stand-in will do.
std::shared_ptr<kafka::Message> stand_in() {
    static int storage = 0;
    return {std::shared_ptr<void>(), reinterpret_cast<kafka::Message*>(&storage)};
}

KeyOrder::Record record(std::int64_t offset,
                        std::string key,
                        std::optional<std::string> park_token = std::nullopt) {
    return KeyOrder::Record{0, offset, std::move(key), std::move(park_token), stand_in()};
}

struct FakeIo : KeyOrder::Io {
    struct ParkedWrite {
        Head head;
        std::string behind;
        std::function<void(std::int64_t)> then;
    };
    struct ChangelogWrite {
        std::int32_t partition = 0;
        std::vector<KeyOrder::ChangelogRecord> records;
        std::function<void()> then;
    };
    struct Read {
        std::string key;
        ParkedRecord record;
        std::function<void(std::shared_ptr<kafka::Message>)> then;
    };

    std::vector<Head> sent;
    std::vector<ParkedWrite> parked;
    std::vector<ChangelogWrite> changelog;
    std::vector<Read> reads;
    int done = 0;
    int stale = 0;
    int lost = 0;

    void start_send(Head head) override { sent.push_back(std::move(head)); }
    void write_parked(const Head& head,
                      const std::string& behind,
                      std::function<void(std::int64_t)> then) override {
        parked.push_back({head, behind, std::move(then)});
    }
    void write_changelog(std::int32_t partition,
                         std::vector<KeyOrder::ChangelogRecord> records,
                         std::function<void()> then) override {
        changelog.push_back({partition, std::move(records), std::move(then)});
    }
    void read_parked(std::int32_t /*partition*/,
                     const std::string& key,
                     const ParkedRecord& record,
                     std::function<void(std::shared_ptr<kafka::Message>)> then) override {
        reads.push_back({key, record, std::move(then)});
    }
    void record_done() override { ++done; }
    void stale_retry() override { ++stale; }
    void parked_record_lost() override { ++lost; }
};

std::vector<std::string> tokens(const std::vector<Head>& heads) {
    std::vector<std::string> out;
    for (const auto& h : heads) out.push_back(h.key + "@" + h.token);
    return out;
}

TEST(DeliveryKeyOrder, RecordsOfOneKeyGoOneAtATimeInOrderOtherKeysDoNotWait) {
    FakeIo io;
    KeyOrder order(io);
    order.assign(0, {});
    order.arrive(record(0, "emr|a"));
    order.arrive(record(1, "emr|a"));
    order.arrive(record(2, "emr|b"));
    // emr|a's second record waits behind its first; emr|b goes at once.
    EXPECT_EQ(tokens(io.sent), (std::vector<std::string>{"emr|a@0:0", "emr|b@0:2"}));
    EXPECT_EQ(order.in_flight(), 3U);
    EXPECT_TRUE(order.busy(0));

    order.head_settled(io.sent[1]);  // emr|b delivered: nothing before it is done, nothing to commit
    EXPECT_EQ(io.done, 1);
    EXPECT_EQ(order.take_commit(0), std::nullopt);

    order.head_settled(io.sent[0]);  // emr|a's first delivered: its second goes
    EXPECT_EQ(tokens(io.sent), (std::vector<std::string>{"emr|a@0:0", "emr|b@0:2", "emr|a@0:1"}));
    EXPECT_EQ(io.sent[2].main_offset, 1);
    EXPECT_EQ(order.take_commit(0), 1);

    order.head_settled(io.sent[2]);
    EXPECT_EQ(order.take_commit(0), 3);
    EXPECT_EQ(order.in_flight(), 0U);
    EXPECT_FALSE(order.busy(0));
    EXPECT_TRUE(io.changelog.empty());  // nothing was parked: the changelog is never written
}

TEST(DeliveryKeyOrder, ARecordBehindAHeadInATierIsParkedAndReleasedAfterIt) {
    FakeIo io;
    KeyOrder order(io);
    order.assign(0, {});
    order.arrive(record(0, "emr|a"));
    ASSERT_EQ(io.sent.size(), 1U);

    // The head goes to a delay tier: the changelog names it as the key's head, then its offset is done.
    order.head_in_tier(io.sent[0]);
    ASSERT_EQ(io.changelog.size(), 1U);
    ASSERT_EQ(io.changelog[0].records.size(), 1U);
    EXPECT_EQ(io.changelog[0].records[0].key, "emr|a");
    EXPECT_EQ(io.changelog[0].records[0].value, encode_head("0:0", HeadLocation::kTier));
    EXPECT_EQ(io.done, 0);
    io.changelog[0].then();
    EXPECT_EQ(order.take_commit(0), 1);

    // A later record is parked behind it (not sent), and done once the changelog has it.
    order.arrive(record(1, "emr|a"));
    EXPECT_EQ(io.sent.size(), 1U);
    ASSERT_EQ(io.parked.size(), 1U);
    EXPECT_EQ(io.parked[0].behind, "0:0");
    EXPECT_EQ(io.parked[0].head.token, "0:1");
    io.parked[0].then(40);
    EXPECT_EQ(order.take_commit(0), 2);

    // The tier hands the head back: it is sent again (the only key state that lets it through).
    order.arrive(record(2, "emr|a", "0:0"));
    ASSERT_EQ(io.sent.size(), 2U);
    EXPECT_EQ(io.sent[1].token, "0:0");
    EXPECT_EQ(io.sent[1].main_offset, 2);

    // Delivered: the parked record becomes the head, released from the changelog.
    order.head_settled(io.sent[1]);
    ASSERT_EQ(io.changelog.size(), 2U);
    ASSERT_EQ(io.changelog[1].records.size(), 1U);
    EXPECT_EQ(io.changelog[1].records[0].value, encode_head("0:1", HeadLocation::kParked));
    io.changelog[1].then();
    ASSERT_EQ(io.reads.size(), 1U);
    EXPECT_EQ(io.reads[0].key, "emr|a");
    EXPECT_EQ(io.reads[0].record.token, "0:1");
    EXPECT_EQ(io.reads[0].record.offset, 40);

    // A record arriving meanwhile waits behind the released one.
    order.arrive(record(3, "emr|a"));
    EXPECT_EQ(io.sent.size(), 2U);
    io.reads[0].then(stand_in());
    ASSERT_EQ(io.sent.size(), 3U);
    EXPECT_TRUE(io.sent[2].from_parked);
    EXPECT_EQ(io.sent[2].main_offset, std::nullopt);

    // Delivered too: the key's head and the parked record are cleared, then the waiting record goes.
    order.head_settled(io.sent[2]);
    ASSERT_EQ(io.changelog.size(), 3U);
    ASSERT_EQ(io.changelog[2].records.size(), 2U);
    EXPECT_EQ(io.changelog[2].records[0].key, "emr|a");
    EXPECT_EQ(io.changelog[2].records[0].value, "");
    EXPECT_EQ(io.changelog[2].records[1].key, parked_record_key("emr|a", "0:1"));
    EXPECT_EQ(io.changelog[2].records[1].value, "");
    EXPECT_EQ(io.sent.size(), 3U);
    io.changelog[2].then();
    EXPECT_EQ(tokens(io.sent),
              (std::vector<std::string>{"emr|a@0:0", "emr|a@0:0", "emr|a@0:1", "emr|a@0:3"}));
    EXPECT_EQ(io.lost, 0);
    EXPECT_EQ(io.stale, 0);
}

TEST(DeliveryKeyOrder, ReReadsOfKnownRecordsAndStaleRetriesAreDroppedAndCountedDone) {
    FakeIo io;
    KeyOrder order(io);
    std::map<std::string, ParkedKey> restored;
    ParkedKey parked;
    parked.head_token = "0:5";
    parked.location = HeadLocation::kTier;
    parked.waiting.push_back({"0:7", 12});
    restored.emplace("emr|a", parked);
    order.assign(0, std::move(restored));
    EXPECT_TRUE(io.reads.empty());  // its head is in a tier: nothing to release
    EXPECT_FALSE(order.busy(0));

    order.arrive(record(5, "emr|a"));  // the head's first appearance, read again
    order.arrive(record(7, "emr|a"));  // the parked record's
    EXPECT_EQ(io.done, 2);
    order.arrive(record(9, "emr|a", "0:4"));  // a retry of an earlier head
    EXPECT_EQ(io.stale, 1);
    EXPECT_EQ(io.done, 3);
    EXPECT_TRUE(io.sent.empty());
    EXPECT_TRUE(io.parked.empty());
    EXPECT_EQ(order.take_commit(0), 10);
    EXPECT_EQ(order.in_flight(), 0U);

    // A new record still waits behind the head in its tier: parked.
    order.arrive(record(10, "emr|a"));
    ASSERT_EQ(io.parked.size(), 1U);
    EXPECT_EQ(io.parked[0].behind, "0:5");
    EXPECT_TRUE(io.sent.empty());
}

TEST(DeliveryKeyOrder, ARevokedPartitionsHeadsAreForgotten) {
    FakeIo io;
    KeyOrder order(io);
    order.assign(0, {});
    order.arrive(record(0, "emr|a"));
    order.arrive(record(1, "emr|a"));
    ASSERT_EQ(io.sent.size(), 1U);
    const Head head = io.sent[0];

    order.drain(0);
    EXPECT_TRUE(order.busy(0));  // the head in flight finishes first
    EXPECT_EQ(order.revoke(0), std::nullopt);
    EXPECT_EQ(order.in_flight(), 0U);
    EXPECT_FALSE(order.current(head));

    // Its outcome after the revoke changes nothing; the partition assigned again starts afresh.
    order.assign(0, {});
    EXPECT_FALSE(order.current(head));
    order.head_settled(head);
    EXPECT_TRUE(io.changelog.empty());
    EXPECT_EQ(io.sent.size(), 1U);
    EXPECT_EQ(io.done, 0);
}

TEST(DeliveryKeyOrder, AReleaseWhileDrainingIsLeftToTheNextOwner) {
    FakeIo io;
    KeyOrder order(io);
    std::map<std::string, ParkedKey> restored;
    ParkedKey parked;
    parked.head_token = "0:5";
    parked.location = HeadLocation::kParked;  // it was being sent when the last owner stopped
    parked.head_offset = 30;
    restored.emplace("emr|a", parked);
    order.assign(0, std::move(restored));
    ASSERT_EQ(io.reads.size(), 1U);
    EXPECT_EQ(io.reads[0].record.token, "0:5");
    EXPECT_EQ(io.reads[0].record.offset, 30);
    EXPECT_TRUE(order.busy(0));

    order.drain(0);
    io.reads[0].then(stand_in());
    EXPECT_TRUE(io.sent.empty());
    EXPECT_FALSE(order.busy(0));  // the revocation need not wait for it
}

TEST(DeliveryKeyOrder, AParkedRecordGoneFromTheChangelogIsCountedAndTheKeyMovesOn) {
    FakeIo io;
    KeyOrder order(io);
    std::map<std::string, ParkedKey> restored;
    ParkedKey parked;
    parked.head_token = "0:5";
    parked.location = HeadLocation::kParked;
    parked.head_offset = 30;
    restored.emplace("emr|a", parked);
    order.assign(0, std::move(restored));
    order.arrive(record(8, "emr|a"));  // waits behind the head being released
    ASSERT_EQ(io.reads.size(), 1U);

    io.reads[0].then(nullptr);
    EXPECT_EQ(io.lost, 1);
    ASSERT_EQ(io.changelog.size(), 1U);  // the key's head and its parked record are cleared
    ASSERT_EQ(io.changelog[0].records.size(), 2U);
    EXPECT_EQ(io.changelog[0].records[1].key, parked_record_key("emr|a", "0:5"));
    io.changelog[0].then();
    EXPECT_EQ(tokens(io.sent), (std::vector<std::string>{"emr|a@0:8"}));
}

}  // namespace
}  // namespace relay::delivery_service
