// The `kafka:` section every service reads the same way (same keys, same defaults, same RELAY_KAFKA_*
// environment overrides), and the `admin:` listener.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "relay/core/config.hpp"
#include "relay/http/server.hpp"
#include "relay/kafka/admin.hpp"
#include "relay/kafka/producer.hpp"

namespace relay::service {

/// What every process that talks to Kafka reads, the ingress included.
struct KafkaClientSection {
    bool embedded = false;  ///< librdkafka's mock cluster (quick start only: not durable)
    kafka::ClientConfig client;
    bool create_topics = true;
    int partitions = 12;
    int replication_factor = 3;
    /// linger.ms: how long the producer gathers records into a batch (latency against throughput).
    std::chrono::milliseconds linger{2};
};

/// A worker's section: the client's keys and those of a consumer group member.
struct KafkaSection : KafkaClientSection {
    std::string group_id;
    /// false: skip the start-up check of the topics (a cluster without the admin API).
    bool verify_topics = true;
    /// A produce not acknowledged within this ends the process (a restart re-processes: at-least-once).
    std::chrono::milliseconds produce_timeout{60'000};
    /// Records read and not yet finished at once; above it the consumer pauses (back-pressure).
    std::size_t max_in_flight = 2'000;
    std::chrono::milliseconds commit_interval{1'000};
    std::chrono::milliseconds restore_timeout{120'000};
    std::chrono::milliseconds session_timeout{45'000};
    std::uint64_t message_max_bytes = 32ULL << 20;
    /// How long the broker may hold a fetch that found nothing (fetch.wait.max.ms). A real broker answers
    /// as soon as a record arrives; the embedded one waits this long every time, so it gets 10 ms.
    std::chrono::milliseconds fetch_wait{500};

    /// A topic's specification with this section's partitions, replication and record size.
    [[nodiscard]] kafka::TopicSpec topic(const std::string& name) const;
};

/// What differs between services: their names in the group and on the broker, and their pace.
struct KafkaDefaults {
    std::string client_id;
    std::string group_id;
    std::chrono::milliseconds linger{2};
    std::size_t max_in_flight = 2'000;
};

/// `kafka.at_rest`: keys ([{id, key: secret}]), seal_with (default: the first key's id), topics (exact
/// names, "prefix*" or "*"; default "*"). Throws ConfigError naming the key.
std::shared_ptr<const kafka::AtRest> read_at_rest(ConfigReader::Node& node);

/// Reads the client's keys (embedded, bootstrap_servers, client_id, properties, linger, create_topics,
/// partitions, replication_factor); a process reads its own extra keys from the same node afterwards.
KafkaClientSection read_kafka_client_section(ConfigReader::Node& node,
                                             const std::string& client_id,
                                             std::chrono::milliseconds linger);

/// Reads a worker's section: the client's keys and the group member's.
KafkaSection read_kafka_section(ConfigReader::Node& node, const KafkaDefaults& defaults);

/// `prefix` + the key's value (or `fallback`), checked to be a valid topic name.
std::string read_topic(ConfigReader::Node& node,
                       const std::string& prefix,
                       std::string_view key,
                       std::string fallback);

/// A public listener's bounds, the same keys wherever one is configured: max_body, max_header,
/// idle_timeout, header_timeout, body_timeout, write_timeout, max_connections, read_buffer (absent →
/// `defaults`' values). Throws ConfigError naming the key.
http::Limits read_http_limits(ConfigReader::Node& node, const http::Limits& defaults = {});

/// The `admin:` listener (metrics, health, readiness) on `default_port`.
http::ListenerConfig read_admin_listener(ConfigReader::Node& node, std::uint16_t default_port);

}  // namespace relay::service
