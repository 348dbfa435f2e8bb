// A consumer-group member for at-least-once processing, and a changelog reader for state restore.
//
// GroupConsumer uses the cooperative-sticky assignor, never auto-commits and never auto-stores offsets:
// the caller commits exactly the offsets whose outcome is durable. Rebalance callbacks run on the
// thread that calls poll() (librdkafka's contract), before partitions are added and before they are
// taken away, so a caller can restore state first and commit last.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "relay/kafka/producer.hpp"
#include "relay/kafka/queue_watcher.hpp"

struct rd_kafka_message_s;

namespace relay::kafka {

struct TopicPartition {
    std::string topic;
    std::int32_t partition = 0;
    std::int64_t offset = -1;  ///< for commits: the next offset to read
    bool operator==(const TopicPartition&) const = default;
};

/// One consumed record; owns librdkafka's message (freed on destruction). Views into it stay valid
/// while the Message lives.
class Message {
   public:
    /// Takes ownership. A value sealed at rest (AtRest::kHeader) is opened with `at_rest` when given:
    /// value() is then the plaintext and the header is hidden from header() and headers(), so a copy
    /// written elsewhere is sealed again by its producer as that topic says. A value that cannot be
    /// opened (no keys, an unknown key id, a failed authentication) stays as it came, header included,
    /// so it is dead-lettered intact rather than lost; the failure is logged (topic, partition, offset,
    /// key id: no content) and at_rest_error() says why.
    explicit Message(rd_kafka_message_s* message, const AtRest* at_rest = nullptr);
    ~Message();
    Message(const Message&) = delete;
    Message& operator=(const Message&) = delete;

    [[nodiscard]] std::string_view topic() const;
    [[nodiscard]] std::int32_t partition() const;
    [[nodiscard]] std::int64_t offset() const;
    [[nodiscard]] std::string_view key() const;
    [[nodiscard]] std::string_view value() const;
    /// Null key / null value (a compaction tombstone).
    [[nodiscard]] bool has_value() const;
    /// The last header with that name.
    [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const;
    /// Every header, in order (copies: for forwarding a record with its headers).
    [[nodiscard]] std::vector<Header> headers() const;
    /// CreateTime / LogAppendTime in milliseconds since the epoch, -1 if none.
    [[nodiscard]] std::int64_t timestamp_ms() const;
    /// Why a sealed value was left sealed; nullopt when it was opened or was not sealed.
    [[nodiscard]] const std::optional<Error>& at_rest_error() const { return at_rest_error_; }

   private:
    void open_sealed(const AtRest* at_rest);

    rd_kafka_message_s* message_;
    std::optional<std::string> opened_;  ///< the plaintext of a sealed value
    std::optional<Error> at_rest_error_;
};

/// Told about partitions as they come and go. Called on the poll() thread.
class RebalanceListener {
   public:
    virtual ~RebalanceListener() = default;
    /// Before the partitions are added: restore their state here. Throwing ends the process's
    /// membership (the exception propagates out of poll()).
    virtual void on_assigned(const std::vector<TopicPartition>& partitions) = 0;
    /// Before the partitions are taken away: finish or abandon their work and commit what is done.
    /// `lost` = the group already gave them to another member (session timeout): do not commit.
    virtual void on_revoked(const std::vector<TopicPartition>& partitions, bool lost) = 0;
    /// Asked first when partitions are to be taken away (not lost, not while closing). True keeps them
    /// assigned until GroupConsumer::finish_revoke(), and on_revoked is not called for them: for a
    /// caller on an event loop that also serves this consumer, which cannot wait inside the callback
    /// for its work to finish. The group waits meanwhile (up to max.poll.interval).
    virtual bool defer_revoke(const std::vector<TopicPartition>& /*partitions*/) { return false; }
};

struct ConsumerConfig {
    ClientConfig client;
    std::string group_id;
    std::vector<std::string> topics;
    std::chrono::milliseconds session_timeout{45'000};
    std::chrono::milliseconds max_poll_interval{300'000};
    /// Where a group without a committed offset starts: "earliest" loses nothing.
    std::string auto_offset_reset = "earliest";
    /// The largest record (receive.message.max.bytes is set above it; a broker always returns at least
    /// one record batch, however large, so the fetch sizes below need not exceed it).
    std::uint64_t max_fetch_bytes = 64ULL << 20;
    /// fetch.max.bytes per fetch response and max.partition.fetch.bytes (a quarter of it): small, since a
    /// record the service still holds keeps the memory of its whole fetch alive.
    std::uint64_t fetch_bytes = 4ULL << 20;
    /// fetch.wait.max.ms: how long a broker may hold a fetch that found nothing new. A real broker answers
    /// as soon as a record arrives; librdkafka's in-memory cluster waits the whole time.
    std::chrono::milliseconds fetch_wait{500};
    /// queued.max.messages.kbytes: what librdkafka prefetches ahead of the service.
    std::uint64_t prefetch_kbytes = 8ULL << 10;
};

class GroupConsumer {
   public:
    /// Subscribes at once; throws ConfigError if librdkafka refuses a property.
    GroupConsumer(const ConsumerConfig& config, RebalanceListener& listener);
    ~GroupConsumer();
    GroupConsumer(const GroupConsumer&) = delete;
    GroupConsumer& operator=(const GroupConsumer&) = delete;

    /// The next record, or nullptr on timeout. Runs rebalance callbacks; an exception a listener threw
    /// there is rethrown here (its partitions were not taken). Consumer errors that librdkafka recovers
    /// from by itself are logged and skipped; a fatal one throws.
    std::unique_ptr<Message> poll(std::chrono::milliseconds timeout);

    /// Commits these offsets (next offset to read). Thread-safe. Synchronous unless `async`.
    /// Returns false (and logs) if a synchronous commit failed.
    bool commit(const std::vector<TopicPartition>& offsets, bool async);

    /// Leaves the group cleanly: revokes every partition through the listener (which commits).
    /// Call on the poll() thread.
    void close();

    /// Stops fetching these partitions (owned ones) until resume(); other partitions go on. Records of
    /// them already fetched may still be returned by poll(): a caller that pauses to hold a record back
    /// drops those and seek()s before resuming. Call on the poll() thread.
    void pause(const std::vector<TopicPartition>& partitions);
    void resume(const std::vector<TopicPartition>& partitions);
    /// The next poll() of `where.partition` returns `where.offset` (an owned partition; paused or not).
    void seek(const TopicPartition& where);

    /// Gives up the partitions whose revocation defer_revoke() held back. Call on the poll() thread.
    void finish_revoke();

    /// Serves this consumer on `executor` from now on: `serve` is called there whenever records or
    /// events are waiting, and calls poll() with a zero timeout until it returns nullptr (or stops early
    /// and returns true). Rebalance callbacks then run on that executor's thread.
    std::unique_ptr<QueueWatcher> watch(boost::asio::any_io_executor executor, std::function<bool()> serve);

    /// The partitions this member owns now.
    [[nodiscard]] std::vector<TopicPartition> assignment() const;

    /// Committed-offset lag per owned partition (high watermark - position), from librdkafka's cache.
    [[nodiscard]] std::int64_t lag() const;

   private:
    friend struct ConsumerCallbacks;
    void handle_rebalance(int err, void* partitions);

    rd_kafka_s* rk_ = nullptr;
    std::shared_ptr<const AtRest> at_rest_;
    RebalanceListener& listener_;
    std::exception_ptr pending_error_;  ///< thrown by the listener inside a rebalance callback
    void* deferred_revoke_ = nullptr;   ///< the partition list held back by defer_revoke()
    bool closing_ = false;
    bool closed_ = false;
};

/// Reads `topic`/`partition` from its beginning to its current end (a compacted changelog), calling
/// `each` for every record in order. Blocking; throws std::runtime_error if the end is not reached
/// within `timeout`.
void read_partition_to_end(const ClientConfig& client,
                           const std::string& topic,
                           std::int32_t partition,
                           const std::function<void(const Message&)>& each,
                           std::chrono::milliseconds timeout);

/// Reads single records by offset (a parked record, back from a compacted changelog). Keeps one
/// consumer connection for its lifetime, because librdkafka's handle cannot be destroyed while a
/// Message it returned is alive: destroy every Message it returned before the reader.
/// Not thread-safe: use it from one thread (it blocks).
class RecordReader {
   public:
    /// Throws ConfigError if librdkafka refuses a property.
    explicit RecordReader(const ClientConfig& client);
    ~RecordReader();
    RecordReader(const RecordReader&) = delete;
    RecordReader& operator=(const RecordReader&) = delete;

    /// The record at `offset` of `topic`/`partition`; when that offset is gone (compacted away) the
    /// next record, which the caller recognises by its offset; nullptr when there is nothing at or after
    /// it. Throws std::runtime_error if the broker does not answer within `timeout`.
    std::unique_ptr<Message> read(const std::string& topic,
                                  std::int32_t partition,
                                  std::int64_t offset,
                                  std::chrono::milliseconds timeout);

   private:
    rd_kafka_s* rk_ = nullptr;
    std::shared_ptr<const AtRest> at_rest_;
};

}  // namespace relay::kafka
