#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "relay/auth/authenticator.hpp"
#include "relay/core/config.hpp"
#include "relay/http/server.hpp"
#include "relay/kafka/admin.hpp"
#include "relay/kafka/producer.hpp"

namespace relay::ingress {

/// One Ocean integration (one Request URL in Ocean's "Register an Integration" form).
struct IntegrationConfig {
    std::string name;        ///< [a-z0-9-]: path segment, token audience, metric label
    std::string site;        ///< Ocean site number
    std::string fhir_path;   ///< POST target for FHIR message bundles
    std::string token_path;  ///< POST target of the OAuth2 token endpoint (scheme oauth2)
    auth::AuthPolicy auth;
    std::vector<std::string> accepted_events;
    /// Refuse (403) bundles whose target listing belongs to another site than `site`.
    bool enforce_site = false;
};

/// One hub system allowed to send updates through the hub API (`hub_api.systems[]`).
struct HubSystemConfig {
    std::string name;  ///< [a-z0-9-]: metric label, `hub-system` record header, token audience "hub:{name}"
    auth::AuthPolicy auth;
    /// Ocean site numbers this system may update; empty = any site. When set, an update must name
    /// its `site` and that site must be listed (else 403).
    std::vector<std::string> sites;
};

/// The hub-side REST API (`hub_api:`; absent = no hub API): hub decisions in, `relay.updates.v1` out.
struct HubApiConfig {
    std::string path_prefix = "/hub/v1";
    std::string topic = "relay.updates.v1";  ///< topics.prefix is prepended
    std::uint64_t max_body_bytes = 8ULL << 20;
    std::vector<HubSystemConfig> systems;

    [[nodiscard]] std::string token_path() const { return path_prefix + "/oauth2/token"; }
};

struct KafkaSettings {
    bool embedded = false;
    kafka::ProducerConfig producer;
    std::chrono::milliseconds ack_timeout{5'000};
    std::chrono::seconds retry_after{10};
    bool create_topics = true;
    int partitions = 12;
    int replication_factor = 3;
    std::vector<std::pair<std::string, std::string>> topic_configs;
    std::string inbound_topic = "ocean.inbound.v1";
    std::chrono::milliseconds readiness_interval{5'000};
};

struct IngressConfig {
    std::string log_level = "info";
    int threads = 0;  ///< 0 = one per core
    std::vector<http::ListenerConfig> listeners;
    http::ListenerConfig admin;
    KafkaSettings kafka;
    std::optional<Secret> token_signing_key;
    std::string token_issuer = "ocean-relay";
    std::chrono::seconds token_leeway{30};
    bool strict_json = true;
    std::chrono::milliseconds drain_delay{0};
    std::chrono::milliseconds grace_period{25'000};
    std::vector<IntegrationConfig> integrations;
    std::optional<HubApiConfig> hub_api;

    [[nodiscard]] kafka::TopicSpec inbound_topic_spec() const;
    /// The hub API's updates topic, created and verified like the inbound topic (hub_api set).
    [[nodiscard]] kafka::TopicSpec updates_topic_spec() const;
    /// Every topic the ingress produces to.
    [[nodiscard]] std::vector<std::string> topics() const;
};

/// The Ocean → receiver events published by default (ocean-api.md §3.5); others are acknowledged and
/// counted as ignored, because Ocean retries every non-2xx for 96 hours.
std::vector<std::string> default_accepted_events();

/// Parses and validates; throws ConfigError naming the key. Unknown keys are errors.
IngressConfig load_config(ConfigReader& reader);
IngressConfig load_config_file(const std::string& path);

}  // namespace relay::ingress
