#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "relay/auth/authenticator.hpp"
#include "relay/auth/failure_limiter.hpp"
#include "relay/core/config.hpp"
#include "relay/http/server.hpp"
#include "relay/kafka/admin.hpp"
#include "relay/kafka/producer.hpp"

namespace relay::ingress {

/// Ocean's Open API / Patient Engagement webhook of one integration (`integrations[].open_api`; absent =
/// no such endpoint): challenge echo and notifications `{ref, siteNum, type, ...}` → the notification topic.
struct OpenApiConfig {
    std::string path;  ///< default /ocean/{name}/openapi/webhook; the key may also be a last segment
    /// The webhook keys (one, or two while rotating): the caller presents one of them as the query
    /// parameter `key_parameter`, the header `key_header` or a last path segment.
    std::vector<Secret> keys;
    std::string key_parameter = "k";
    std::string key_header = "x-ocean-webhook-key";
    /// A notification (integration, type, ref, session id) acknowledged by the broker within this
    /// window is answered 200 again without a second record. 0 = no replay window.
    std::chrono::milliseconds replay_window{10 * 60 * 1000};
    std::size_t replay_memory = 100'000;  ///< notifications remembered at most; 0 = no replay window
    /// Requests per client address (token bucket), before authentication.
    double rate_per_minute = 60;
    double rate_burst = 10;
    std::size_t rate_max_tracked = 20'000;  ///< client addresses remembered at most
    std::uint64_t max_body_bytes = 64 * 1024;
    std::string topic = "ocean.notifications.v1";  ///< topics.prefix prepended
};

/// One Ocean integration (one Request URL in Ocean's "Register an Integration" form).
struct IntegrationConfig {
    std::string name;        ///< [a-z0-9-]: path segment, token audience, metric label
    std::string site;        ///< Ocean site number
    std::string fhir_path;   ///< POST target for FHIR message bundles
    std::string token_path;  ///< POST target of the OAuth2 token endpoint (scheme oauth2)
    auth::AuthPolicy auth;
    /// Event codes the relay handles. Others are stored all the same, marked `event-handled: false`;
    /// the router dead-letters what it does not handle (`unhandled-event`), to be replayed later.
    std::vector<std::string> accepted_events;
    /// Event codes acknowledged (200) and not stored at all. Empty by default: nothing Ocean sends is
    /// dropped unless an operator says so.
    std::vector<std::string> ignored_events;
    /// Refuse (403) bundles whose target listing names another site than `site`. Records always carry
    /// the integration's site, which is what the router routes on: one site's credentials cannot place a
    /// referral with another site. Off only for an integration that legitimately receives for several
    /// sites (its records then carry the bundle's site).
    bool enforce_site = true;
    std::optional<OpenApiConfig> open_api;
};

/// One hub system allowed to send updates through the hub API (`hub_api.systems[]`).
struct HubSystemConfig {
    std::string name;  ///< [a-z0-9-]: metric label, `hub-system` record header, token audience "hub:{name}"
    auth::AuthPolicy auth;
    /// Ocean site numbers this system may update; empty = any site. When set, an update must name
    /// its `site` and that site must be listed (else 403).
    std::vector<std::string> sites;
};

/// The hub-side REST API (`hub_api:`; absent = no hub API): hub decisions in, `relay.updates.v1` out
/// (the Open API requests to `relay.openapi.requests.v1`).
struct HubApiConfig {
    std::string path_prefix = "/hub/v1";
    std::string topic = "relay.updates.v1";  ///< topics.prefix is prepended
    /// Where Open API requests go (hub::is_open_api: messages and attachments over Ocean's Open API,
    /// eForm links), for the fetcher; topics.prefix is prepended. Empty: those routes answer 404.
    std::string open_api_topic = "relay.openapi.requests.v1";
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
    /// false: no start-up check of the topics (the all-in-one's embedded broker, whose topics it made).
    bool verify_topics = true;
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
    /// Memory all request bodies in flight may take together (`limits.max_body_memory`).
    std::uint64_t max_body_memory = http::BodyBudget::kDefaultBytes;
    /// Failed authentications tolerated per client address and per credential (`auth.failures`).
    auth::FailureLimits auth_failures;
    /// Load balancers and ingress controllers whose X-Forwarded-For names the client
    /// (`auth.failures.trusted_proxies`, CIDR ranges). Empty: the peer address is the client.
    std::vector<std::pair<std::array<unsigned char, 16>, unsigned>> trusted_proxies;
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
    /// The hub API's topics (updates, and Open API requests unless disabled), created and verified like
    /// the inbound topic; none without hub_api.
    [[nodiscard]] std::vector<kafka::TopicSpec> hub_topic_specs() const;
    /// The Open API notification topics (each once), created and verified like the inbound topic.
    [[nodiscard]] std::vector<kafka::TopicSpec> notification_topic_specs() const;
    /// Every topic the ingress produces to.
    [[nodiscard]] std::vector<std::string> topics() const;
};

/// The Ocean → receiver events the relay handles by default (ocean-api.md §3.5); others are stored and
/// marked, never dropped (Ocean retries every non-2xx for 96 hours, and never resends a 200).
std::vector<std::string> default_accepted_events();

/// An address as 16 bytes (IPv4 as IPv4-mapped IPv6), for prefix matching.
std::array<unsigned char, 16> address_bytes(const boost::asio::ip::address& address);
/// Whether `address` lies in one of `networks` (16-byte prefix, prefix length in bits).
bool in_networks(const std::array<unsigned char, 16>& address,
                 const std::vector<std::pair<std::array<unsigned char, 16>, unsigned>>& networks);

/// Parses and validates; throws ConfigError naming the key. Unknown keys are errors.
IngressConfig load_config(ConfigReader& reader);
IngressConfig load_config_file(const std::string& path);

}  // namespace relay::ingress
