// Order per (destination, referral): the in-memory part (parking.hpp is the durable part).
//
// A key's steps are serialised: while its head is being sent, parked or moved to a delay tier, the key is
// busy and later records wait in its inbox (in memory; their offsets are not committed). While the head
// waits in a tier, later records are parked behind it in the changelog; when the head has its final
// outcome, the next parked record is released (read back from the changelog) and sent. Records the
// changelog already knows (re-read after a restart or a rebalance) and tier retries that are no longer
// the key's head are dropped.
//
// KeyOrder owns the key state of every owned partition and the offsets still in flight, and decides
// what happens next to a key; the I/O (sending, producing, reading the changelog) is the service's,
// through Io. Everything runs on the pipeline thread.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "parking.hpp"
#include "relay/kafka/consumer.hpp"
#include "relay/kafka/offset_tracker.hpp"

namespace relay::delivery_service {

class KeyOrder {
   public:
    /// A record of the deliveries topic, as far as its order is concerned.
    struct Record {
        std::int32_t partition = 0;
        std::int64_t offset = 0;
        std::string key;
        std::optional<std::string> park_token;    ///< a retry handed back by a delay tier
        std::shared_ptr<kafka::Message> message;  ///< carried along for the I/O; not read here
    };

    /// The record a key is sending now.
    struct Head {
        std::int32_t partition = 0;
        std::uint64_t generation = 0;
        std::string key;
        std::string token;
        std::shared_ptr<kafka::Message> record;
        std::optional<std::int64_t> main_offset;  ///< its deliveries-topic offset, when it came from there
        bool from_parked = false;                 ///< released from the changelog (K#token)
    };

    /// One (destination, referral) key of an owned partition.
    struct KeyState {
        std::optional<ParkedKey> parked;  ///< as in the changelog
        bool head_returned = false;       ///< parked head came back from its tier and is being sent
        bool busy = false;
        /// Busy only because its next parked record was not released: the partition is being handed
        /// over, and the next owner releases it from the changelog.
        bool release_deferred = false;
        std::deque<Record> inbox;
        std::int64_t since_ms = 0;  ///< when the key stopped being idle (for the oldest-age gauge)
    };

    /// A record for the parked changelog, on the head's partition number.
    struct ChangelogRecord {
        std::string key;
        std::string value;  ///< empty = tombstone
    };

    /// The service's side: the I/O and the counters. `then` callbacks run on the pipeline thread.
    class Io {
       public:
        virtual ~Io() = default;
        /// Sends the key's head; its outcome comes back as head_in_tier() or head_settled().
        virtual void start_send(Head head) = 0;
        /// Writes the head's record to the changelog as K#token, with its `parked` event (behind
        /// `behind`); `then` gets the record's changelog offset once both are acknowledged.
        virtual void write_parked(const Head& head,
                                  const std::string& behind,
                                  std::function<void(std::int64_t)> then) = 0;
        /// Writes `records` (never empty) in order; `then` once all are acknowledged.
        virtual void write_changelog(std::int32_t partition,
                                     std::vector<ChangelogRecord> records,
                                     std::function<void()> then) = 0;
        /// Reads the parked record K#token back from the changelog; `then` gets it, or null when it is
        /// gone (not found, or another record at its offset).
        virtual void read_parked(std::int32_t partition,
                                 const std::string& key,
                                 const ParkedRecord& record,
                                 std::function<void(std::shared_ptr<kafka::Message>)> then) = 0;
        /// A record of the deliveries topic is done.
        virtual void record_done() = 0;
        /// A tier retry that was not the key's head any more, dropped.
        virtual void stale_retry() = 0;
        /// A parked record gone from the changelog: it cannot be delivered.
        virtual void parked_record_lost() = 0;
    };

    explicit KeyOrder(Io& io) : io_(io) {}

    // -- partitions --

    /// The partition is ours, with the keys its changelog restored: heads that were being released
    /// are released again.
    void assign(std::int32_t partition, std::map<std::string, ParkedKey> keys);
    /// Being revoked: what is in flight finishes, nothing new starts (it stays uncommitted).
    void drain(std::int32_t partition);
    /// True while one of the partition's keys has a step in flight.
    [[nodiscard]] bool busy(std::int32_t partition) const;
    /// Forgets the partition (its records in flight are abandoned); the offset to commit finally.
    std::optional<std::int64_t> revoke(std::int32_t partition);
    /// The partition's next offset to commit, if it moved.
    std::optional<std::int64_t> take_commit(std::int32_t partition);
    /// Records read and not yet done, over every partition.
    [[nodiscard]] std::size_t in_flight() const { return in_flight_; }

    // -- records and heads --

    /// A record of an owned partition (others are ignored): sent, parked or dropped when its key is free.
    void arrive(Record record);
    /// False once the head's partition was revoked (or assigned again): the next owner sends it again.
    [[nodiscard]] bool current(const Head& head) const { return partition_of(head) != nullptr; }
    /// The head is in a delay tier (the tier has it): the changelog names it as the key's head there,
    /// then the key takes its next record.
    void head_in_tier(Head head);
    /// The head has its final outcome (recorded): the key's next parked record is released, or the key
    /// takes its next record.
    void head_settled(Head head);

    /// Calls `f(key, state)` for every key of every owned partition (the gauges).
    template <typename F>
    void for_each_key(F&& f) const {
        for (const auto& [id, p] : partitions_)
            for (const auto& [key, ks] : p.keys) f(key, ks);
    }

   private:
    struct Partition {
        kafka::OffsetTracker tracker;
        std::unordered_map<std::string, KeyState> keys;
        std::uint64_t generation = 0;
        bool draining = false;
        /// Every record the changelog named when the partition was restored (heads and parked records).
        /// Their first appearances may be read again (committed offsets lag), possibly after the record
        /// was released and delivered and the key cleared: recognised here, they are not sent twice.
        std::unordered_set<std::string> restored_tokens;
    };

    Partition* partition_of(const Head& h);
    [[nodiscard]] const Partition* partition_of(const Head& h) const;
    void done(Partition& p, std::optional<std::int64_t> offset);
    /// Takes the key's next waiting record, if the key is free.
    void drive(std::int32_t partition_id, const std::string& key);
    /// The key's head waits in a tier: `r` is written to the changelog behind it.
    void park(std::int32_t partition_id,
              std::uint64_t generation,
              const std::string& key,
              std::string token,
              const std::string& behind,
              Record r);
    /// Reads a parked record back from the changelog and sends it as the key's head.
    void release(std::int32_t partition_id,
                 std::uint64_t generation,
                 const std::string& key,
                 const ParkedRecord& record);
    void release_or_defer(Partition& p, const Head& h, const ParkedRecord& next);
    void write(std::int32_t partition, std::vector<ChangelogRecord> records, std::function<void()> then);

    Io& io_;
    std::map<std::int32_t, Partition> partitions_;
    std::uint64_t next_generation_ = 1;
    std::size_t in_flight_ = 0;  ///< records read and not yet done
};

}  // namespace relay::delivery_service
