#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "relay/core/config.hpp"
#include "relay/http/server.hpp"
#include "relay/kafka/admin.hpp"
#include "relay/service/kafka_section.hpp"
#include "routing.hpp"
#include "state.hpp"

namespace relay::router {

struct RouterTopics {
    std::string inbound = "ocean.inbound.v1";
    std::string deliveries = "relay.deliveries.v1";
    std::string events = "relay.events.v1";
    std::string state = "relay.referrals.state.v1";
    /// What Ocean sent that the router does not route (an event it does not handle, a bundle it cannot
    /// read): the inbound record as it was, for relayctl to replay once a router handles it.
    std::string inbound_dlq = "relay.inbound.dlq.v1";
    /// Document requests for the fetcher (relay/contracts/documents.hpp), when a destination wants them.
    std::string documents = "relay.documents.v1";
};

struct RouterConfig {
    std::string log_level = "info";
    http::ListenerConfig admin;
    service::KafkaSection kafka;
    RouterTopics topics;
    DedupPolicy dedup;
    std::vector<Destination> destinations;
    std::vector<Route> routes;
    /// Event codes routed; any other (not ignored) goes to the inbound DLQ as `unhandled-event`.
    std::vector<std::string> handled_events;
    /// Event codes dropped on purpose (an `ignored` event, committed): nothing to deliver, nothing kept.
    std::vector<std::string> ignored_events;
    std::chrono::milliseconds grace_period{25'000};
    /// How often idle referrals are looked for (dedup.retention).
    std::chrono::milliseconds sweep_interval{600'000};

    [[nodiscard]] std::vector<kafka::TopicSpec> topic_specs() const;
};

/// Parses and validates; throws ConfigError naming the key. Unknown keys are errors.
RouterConfig load_config(ConfigReader& reader);
RouterConfig load_config_file(const std::string& path);

}  // namespace relay::router
