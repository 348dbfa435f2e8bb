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
#include "relay/service/kafka_section.hpp"

namespace relay::delivery_service {

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

struct DeliveryServiceConfig {
    std::string log_level = "info";
    http::ListenerConfig admin;
    service::KafkaSection kafka;
    /// The delay tiers' consumers form their own group (any member may forward any tier's record).
    std::string tier_group_id = "ocean-relay-delivery-tiers";
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

}  // namespace relay::delivery_service
