// The delivery process's configuration: Kafka, topics, admin listener, shutdown, and the destinations
// (config.hpp) in one strict YAML file.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "config.hpp"
#include "relay/core/config.hpp"
#include "relay/http/server.hpp"
#include "relay/kafka/admin.hpp"
#include "relay/kafka/producer.hpp"

namespace relay::delivery {

struct DeliveryTopics {
    std::string deliveries = "relay.deliveries.v1";
    /// A tier's topic is retry_prefix + tier label + retry_suffix: relay.deliveries.retry.10s.v1
    std::string retry_prefix = "relay.deliveries.retry.";
    std::string retry_suffix = ".v1";
    std::string dlq = "relay.deliveries.dlq.v1";
    std::string events = "relay.events.v1";
    std::string parked = "relay.deliveries.parked.v1";
    /// Where `received` updates go for destinations with ocean_received_task (the updater's input).
    std::string updates = "relay.updates.v1";
};

struct DeliveryKafka {
    bool embedded = false;  ///< librdkafka's mock cluster (quick start only: not durable)
    kafka::ClientConfig client;
    std::string group_id = "ocean-relay-delivery";
    /// The delay tiers' consumers form their own group (any member may forward any tier's record).
    std::string tier_group_id = "ocean-relay-delivery-tiers";
    bool create_topics = true;
    bool verify_topics = true;
    int partitions = 12;
    int replication_factor = 3;
    std::chrono::milliseconds produce_timeout{60'000};
    /// linger.ms: how long the producer gathers records into a batch (latency against throughput).
    std::chrono::milliseconds linger{2};
    /// Records being delivered or waiting behind their key at once (back-pressure on the consumer).
    std::size_t max_in_flight = 5'000;
    std::chrono::milliseconds commit_interval{1'000};
    std::chrono::milliseconds restore_timeout{120'000};
    std::chrono::milliseconds session_timeout{45'000};
    std::uint64_t message_max_bytes = 32ULL << 20;
};

struct DeliveryServiceConfig {
    std::string log_level = "info";
    http::ListenerConfig admin;
    DeliveryKafka kafka;
    DeliveryTopics topics;
    DeliveryConfig delivery;
    /// A destination whose waiting records would keep the next one waiting longer than this (judged
    /// from how fast it finishes requests, or because it finished none for this long) defers the next
    /// ones to the first delay tier instead of queueing them in memory: a slow or stalled destination
    /// cannot take the consumer's capacity from the others, while a fast one's backlog is never deferred.
    std::chrono::milliseconds destination_queue_wait{5'000};
    /// A hard cap on records waiting for one destination (0 in the file = kafka.max_in_flight).
    std::size_t destination_queue_limit = 5'000;
    std::chrono::milliseconds grace_period{25'000};

    /// relay.deliveries.retry.<label>.v1 for each tier, in tier order.
    [[nodiscard]] std::vector<std::string> tier_topics() const;
    [[nodiscard]] std::vector<kafka::TopicSpec> topic_specs() const;
};

/// "10s", "1m", "10m", "1h", "1500ms": a tier's label in its topic name.
std::string tier_label(Duration tier);

/// Parses and validates; throws ConfigError naming the key. Unknown keys are errors.
DeliveryServiceConfig load_service_config(ConfigReader& reader);
DeliveryServiceConfig load_service_config_file(const std::string& path);

}  // namespace relay::delivery
