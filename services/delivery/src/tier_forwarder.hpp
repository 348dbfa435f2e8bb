// The delay tiers' consumer: holds each tier partition's head record until its due time, then hands it
// back to the deliveries topic (same key, so the same partition and the same owner, who decides).
//
// Waiting pauses only the partition whose head is not due: other partitions, tiers and destinations
// go on. A tier offset is committed only after its record was acknowledged on the deliveries topic; a
// crash in between forwards it twice, and the owner drops the second copy (its park-token no longer
// names the key's head).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "relay/kafka/consumer.hpp"
#include "relay/kafka/offset_tracker.hpp"
#include "relay/kafka/producer.hpp"

namespace relay::delivery_service {

class DeliveryMetrics;

struct TierForwarderConfig {
    kafka::ClientConfig client;
    std::string group_id;
    std::vector<std::string> tier_topics;
    std::vector<std::string> tier_labels;  ///< for metrics, parallel to tier_topics
    std::string deliveries_topic;
    std::chrono::milliseconds produce_timeout{60'000};
    std::chrono::milliseconds commit_interval{1'000};
    std::chrono::milliseconds session_timeout{45'000};
    std::chrono::milliseconds grace_period{25'000};
    std::uint64_t max_fetch_bytes = 32ULL << 20;
};

class TierForwarder : public kafka::RebalanceListener {
   public:
    /// `on_fatal` is called (from the forwarder's thread) when a forward could not be acknowledged:
    /// the process must stop without committing past it.
    TierForwarder(TierForwarderConfig config,
                  kafka::Producer& producer,
                  DeliveryMetrics& metrics,
                  std::function<void(const std::string&)> on_fatal);
    ~TierForwarder();
    TierForwarder(const TierForwarder&) = delete;
    TierForwarder& operator=(const TierForwarder&) = delete;

    /// Starts the forwarder's thread (it joins its group).
    void start();
    /// Stops: finishes forwards in flight (within the grace period), commits, leaves the group.
    void stop();

   private:
    using Partition = std::pair<std::string, std::int32_t>;
    struct Held {
        std::unique_ptr<kafka::Message> record;
        std::int64_t due_ms = 0;
    };

    void run();
    void forward(std::unique_ptr<kafka::Message> record);
    void commit(bool sync);
    void drain(std::chrono::steady_clock::time_point deadline);
    void on_assigned(const std::vector<kafka::TopicPartition>& partitions) override;
    void on_revoked(const std::vector<kafka::TopicPartition>& partitions, bool lost) override;
    const std::string& label(const std::string& topic) const;

    TierForwarderConfig config_;
    kafka::Producer& producer_;
    DeliveryMetrics& metrics_;
    std::function<void(const std::string&)> on_fatal_;
    std::unique_ptr<kafka::GroupConsumer> consumer_;
    std::thread thread_;
    std::atomic<bool> stopping_{false};

    // Owned by the forwarder's thread; acknowledgements arrive through `acks_` (drained on that thread).
    std::map<Partition, Held> held_;
    std::map<Partition, kafka::OffsetTracker> trackers_;
    std::map<Partition, std::int64_t> next_offset_;  ///< below it = already forwarded or held (a re-fetch)
    struct Ack {
        Partition partition;
        std::int64_t offset;
        bool ok;
        std::string error;
    };
    std::mutex acks_mutex_;
    std::vector<Ack> acks_;
    std::atomic<std::int64_t> forwards_in_flight_{0};
    void take_acks();
};

}  // namespace relay::delivery_service
