// The updater process's configuration (issue 6): Kafka, topics, admin listener, Ocean (base URL and one
// OAuth2 client per Ocean site), the retry policy, the message options and shutdown, in one strict YAML
// file (unknown keys are errors). services/updater/config/updater.example.yaml documents every key.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "message.hpp"
#include "relay/core/config.hpp"
#include "relay/delivery/retry_policy.hpp"
#include "relay/http/server.hpp"
#include "relay/kafka/admin.hpp"
#include "relay/kafka/producer.hpp"
#include "relay/service/kafka_section.hpp"
#include "relay/outbound/sender.hpp"

namespace relay::updater {

struct UpdaterTopics {
    std::string updates = "relay.updates.v1";
    std::string dlq = "relay.updates.dlq.v1";
    /// The router's compacted changelog: `<ref>#bundle` = the referral's latest inbound bundle.
    std::string state = "relay.referrals.state.v1";
    /// Where the relay-pushed record goes (the router reads it there, ahead of Ocean's echo).
    std::string inbound = "ocean.inbound.v1";
    std::string events = "relay.events.v1";
    /// The updater's own record of what Ocean took: key = update id, written to the update's partition
    /// number; read back on assignment, so updates re-read after a restart are not sent twice.
    std::string sent = "relay.updates.sent.v1";
};

/// One Ocean site's OAuth2 client (ocean-api.md §3.7.1: credentials are per site).
struct OceanSite {
    std::string site;  ///< Ocean's site number
    /// The sender's configuration for this site: $process-messages URL, OAuth2 with the site's client.
    outbound::DestinationConfig sender;
};

struct OceanConfig {
    std::string base_url;  ///< e.g. https://ocean.cognisantmd.com (no trailing slash)
    std::vector<OceanSite> sites;
    std::string default_site;  ///< empty: an update without a site of its own or its bundle's is DLQ'd
    [[nodiscard]] const OceanSite* find(std::string_view site) const;
};

struct UpdaterServiceConfig {
    std::string log_level = "info";
    http::ListenerConfig admin;
    service::KafkaSection kafka;
    UpdaterTopics topics;
    OceanConfig ocean;
    MessageOptions message;
    /// Retries of 5xx / 429 / timeouts / network failures, in memory, per referral in order. Ocean retries
    /// its own webhooks for 96 h; so do we by default.
    delivery::RetryPolicy retry;
    /// How long an update waits for its referral's latest bundle to appear in the router's changelog
    /// (the router may be behind) before it is dead-lettered `no-latest-bundle`.
    std::chrono::milliseconds bundle_wait{120'000};
    /// Updates held in memory (waiting behind their referral's head, retrying, or being sent) above which
    /// consumption pauses until some finish.
    std::size_t max_held = 10'000;
    /// How long the sent markers are kept (the sent topic's retention.ms): an update re-read within this
    /// long after it was sent is recognised and not sent again.
    std::chrono::milliseconds sent_memory{std::chrono::hours(24 * 7)};
    /// How often the DLQ's depth (relay_updater_dlq_records) is read from the broker.
    std::chrono::milliseconds dlq_depth_interval{15'000};
    /// Ocean's response body is kept for the DLQ's dlq-operation-outcome header up to this size.
    std::size_t max_operation_outcome = 16 * 1024;
    std::chrono::milliseconds grace_period{25'000};

    [[nodiscard]] std::vector<kafka::TopicSpec> topic_specs() const;
};

/// Parses and validates; throws ConfigError naming the key. Unknown keys are errors.
UpdaterServiceConfig load_service_config(ConfigReader& reader);
UpdaterServiceConfig load_service_config_file(const std::string& path);

}  // namespace relay::updater
