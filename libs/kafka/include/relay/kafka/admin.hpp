#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

struct rd_kafka_s;

namespace relay::kafka {

struct TopicSpec {
    std::string name;
    int partitions = 12;
    int replication_factor = 3;
    /// Topic max.message.bytes; 0 leaves the broker default.
    std::uint64_t max_message_bytes = 0;
    /// Extra topic configs (retention.ms, min.insync.replicas, cleanup.policy, ...).
    std::vector<std::pair<std::string, std::string>> configs;
};

/// Creates missing topics (when `create` is set) and verifies existing ones: a topic that is missing,
/// or whose max.message.bytes is below the spec, is a start-up error (ConfigError naming the topic and
/// the setting). Fewer partitions than configured is logged, not changed: adding partitions remaps keys.
void ensure_topics(rd_kafka_s* rk,
                   const std::vector<TopicSpec>& topics,
                   bool create,
                   std::chrono::milliseconds timeout);

/// The partition count of `topic` from the cluster's metadata; -1 if the topic is unknown.
int partition_count(rd_kafka_s* rk, const std::string& topic, std::chrono::milliseconds timeout);

/// The records `topic` holds now: the sum over its partitions of high - low watermark (a dead-letter
/// topic's depth). nullopt if the topic is unknown or a partition's watermarks could not be read within
/// `timeout` each. Blocking: call it off the data path (e.g. on a metrics scrape).
std::optional<std::int64_t> topic_depth(rd_kafka_s* rk,
                                        const std::string& topic,
                                        std::chrono::milliseconds timeout);

}  // namespace relay::kafka
