#include "service_config.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace relay::delivery_service {

using service::read_topic;

std::string tier_label(Duration tier) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(tier).count();
    if (ms % 3'600'000 == 0) return fmt::format("{}h", ms / 3'600'000);
    if (ms % 60'000 == 0) return fmt::format("{}m", ms / 60'000);
    if (ms % 1'000 == 0) return fmt::format("{}s", ms / 1'000);
    return fmt::format("{}ms", ms);
}

std::vector<std::string> DeliveryServiceConfig::tier_topics() const {
    std::vector<std::string> out;
    for (const auto tier : delivery.retry_tiers)
        out.push_back(topics.retry_prefix + tier_label(tier) + topics.retry_suffix);
    return out;
}

std::vector<kafka::TopicSpec> DeliveryServiceConfig::topic_specs() const {
    auto spec = [this](const std::string& name) { return kafka.topic(name); };
    // The router owns the deliveries topic's settings; it is listed so a delivery started first waits.
    kafka::TopicSpec deliveries = spec(topics.deliveries);
    deliveries.max_message_bytes = 0;
    std::vector<kafka::TopicSpec> specs{std::move(deliveries), spec(topics.dlq), spec(topics.events)};
    for (const auto& t : tier_topics()) specs.push_back(spec(t));
    // Parked records stay until they leave; tombstones go after a day.
    kafka::TopicSpec parked = spec(topics.parked);
    parked.configs = {{"cleanup.policy", "compact"}, {"delete.retention.ms", "86400000"}};
    specs.push_back(std::move(parked));
    // The updates topic belongs to the ingress and the updater; listed (so a delivery started first
    // waits for it) only when a destination acknowledges receipt through it.
    const bool acknowledges = std::any_of(delivery.destinations.begin(),
                                          delivery.destinations.end(),
                                          [](const auto& d) { return d.ocean_received_task; });
    if (acknowledges) {
        kafka::TopicSpec updates = spec(topics.updates);
        updates.max_message_bytes = 0;  // a received update is tiny; the ingress sizes this topic
        specs.push_back(std::move(updates));
    }
    return specs;
}

DeliveryServiceConfig load_service_config(ConfigReader& reader) {
    DeliveryServiceConfig config;
    auto root = reader.root();

    auto service = root.child("service");
    config.log_level = service.choice("log_level", "info", {"debug", "info", "warn", "error"});
    config.destination_queue_wait = service.duration(
        "destination_queue_wait", config.destination_queue_wait, std::chrono::milliseconds(10));
    const auto queue_limit =
        static_cast<std::size_t>(service.integer("destination_queue_limit", 0, 0, 1'000'000));

    auto admin = root.child("admin");
    config.admin = service::read_admin_listener(admin, 9094);

    auto kafka_node = root.child("kafka");
    config.kafka = service::read_kafka_section(
        kafka_node,
        {.client_id = "ocean-relay-delivery", .group_id = "ocean-relay-delivery", .linger = std::chrono::milliseconds(2), .max_in_flight = 5'000});
    const auto& kafka = config.kafka;
    config.tier_group_id = kafka_node.string("tier_group_id", config.tier_group_id);
    config.destination_queue_limit = queue_limit == 0 ? kafka.max_in_flight : queue_limit;
    if (kafka.group_id == config.tier_group_id)
        kafka_node.fail("tier_group_id",
                        "must differ from group_id (the tiers are consumed by their own group)");

    auto topics = root.child("topics");
    const std::string prefix = topics.string("prefix", "");
    config.topics.deliveries = read_topic(topics, prefix, "deliveries", config.topics.deliveries);
    config.topics.retry_prefix = prefix + topics.string("retry_prefix", config.topics.retry_prefix);
    config.topics.retry_suffix = topics.string("retry_suffix", config.topics.retry_suffix);
    config.topics.dlq = read_topic(topics, prefix, "dlq", config.topics.dlq);
    config.topics.events = read_topic(topics, prefix, "events", config.topics.events);
    config.topics.parked = read_topic(topics, prefix, "parked", config.topics.parked);
    config.topics.updates = read_topic(topics, prefix, "updates", config.topics.updates);

    config.delivery = read_delivery_config(root);
    for (const auto& t : config.tier_topics())
        if (!is_valid_topic_name(t))
            topics.fail("retry_prefix", fmt::format("makes '{}', not a valid topic name", t));

    auto shutdown = root.child("shutdown");
    config.grace_period =
        shutdown.duration("grace_period", config.grace_period, std::chrono::milliseconds(100));
    reader.check_no_unknown_keys();
    return config;
}

DeliveryServiceConfig load_service_config_file(const std::string& path) {
    auto reader = ConfigReader::from_file(path, "RELAY");
    return load_service_config(reader);
}

}  // namespace relay::delivery_service
