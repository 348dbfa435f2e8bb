// Follows partitions of the router's changelog (relay.referrals.state.v1) after their restore: every
// `<ref>#bundle` record (a referral's latest inbound bundle, or a tombstone when the router forgot the
// referral) is handed to a sink as it arrives. Its own librdkafka consumer (assigned partitions, no group,
// nothing committed) polled by its own thread; the sink runs on that thread and must only hand off (post
// to the pipeline's io_context). Messages never leave this class: the sink gets copies. The keys are
// relay/contracts/changelog.hpp's.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "relay/kafka/producer.hpp"

struct rd_kafka_s;

namespace relay::updater {

struct BundleRecord {
    std::int32_t partition = 0;
    std::uint64_t generation = 0;  ///< as given to follow()
    std::string referral_ref;
    std::optional<std::string> bundle;  ///< nullopt: tombstone
    std::int64_t offset = -1;
    std::int64_t timestamp_ms = -1;
};

class BundleFollower {
   public:
    using Sink = std::function<void(BundleRecord)>;
    /// Throws ConfigError if librdkafka refuses a property.
    BundleFollower(const kafka::ClientConfig& client, std::string topic, Sink sink);
    ~BundleFollower();
    BundleFollower(const BundleFollower&) = delete;
    BundleFollower& operator=(const BundleFollower&) = delete;

    /// Starts following `partition` at `from_offset` (the offset after the restore's last record; 0 for
    /// an empty partition). Records carry `generation`. Thread-safe.
    void follow(std::int32_t partition, std::int64_t from_offset, std::uint64_t generation);
    /// Stops following it (records already handed to the sink may still arrive: check the generation).
    void unfollow(std::int32_t partition);

   private:
    void run();

    std::string topic_;
    Sink sink_;
    std::shared_ptr<const kafka::AtRest> at_rest_;
    rd_kafka_s* rk_ = nullptr;
    std::mutex mutex_;
    struct Followed {
        std::int64_t next = 0;
        std::uint64_t generation = 0;
    };
    std::map<std::int32_t, Followed> followed_;  ///< under mutex_
    bool changed_ = false;                       ///< under mutex_: reassign before the next poll
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

}  // namespace relay::updater
