#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "relay/core/config.hpp"
#include "relay/http/server.hpp"
#include "relay/kafka/admin.hpp"
#include "relay/kafka/consumer.hpp"
#include "relay/kafka/producer.hpp"
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
};

struct RouterKafka {
    bool embedded = false;  ///< librdkafka's mock cluster (quick start only: not durable)
    kafka::ClientConfig client;
    std::string group_id = "ocean-relay-router";
    bool create_topics = true;
    /// false: skip the start-up check of the topics (a cluster without the admin API, such as the
    /// ingress's embedded broker in the quick start, which creates topics on first use).
    bool verify_topics = true;
    int partitions = 12;
    int replication_factor = 3;
    /// A produce not acknowledged within this ends the process (restart re-processes: at-least-once).
    std::chrono::milliseconds produce_timeout{60'000};
    /// linger.ms: how long the producer gathers records into a batch (latency against throughput).
    std::chrono::milliseconds linger{5};
    /// Inbound records being processed at once (back-pressure on the consumer).
    std::size_t max_in_flight = 2'000;
    std::chrono::milliseconds commit_interval{1'000};
    std::chrono::milliseconds restore_timeout{120'000};
    std::chrono::milliseconds session_timeout{45'000};
    std::uint64_t message_max_bytes = 32ULL << 20;
};

struct RouterConfig {
    std::string log_level = "info";
    http::ListenerConfig admin;
    RouterKafka kafka;
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
