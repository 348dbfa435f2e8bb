// The fetcher's configuration: Kafka (a worker's section; encryption at rest is required for the topics
// it writes decrypted patient data to), topics, the admin listener, Ocean's Open API (host, timeouts and
// one set of credentials per site: siteNum, Site Key, Site Credential, Shared Encryption Key), the
// destinations of completed eForms, the retry policy, the duplicate memory and shutdown. One strict YAML
// file; services/fetcher/config/fetcher.example.yaml documents every key.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "relay/core/config.hpp"
#include "relay/core/secret.hpp"
#include "relay/delivery/retry_config.hpp"
#include "relay/delivery/retry_policy.hpp"
#include "relay/http/async_client.hpp"
#include "relay/http/oauth_client.hpp"
#include "relay/http/server.hpp"
#include "relay/openapi/config.hpp"
#include "relay/kafka/admin.hpp"
#include "relay/service/kafka_section.hpp"
#include "relay/transform/patient_engagement.hpp"
#include "open_api_requests.hpp"

namespace relay::fetcher {

struct FetcherTopics {
    std::string notifications = "ocean.notifications.v1";
    std::string deliveries = "relay.deliveries.v1";
    /// Where an Open eReferral referral goes, fetched and decrypted, for the router to route.
    std::string inbound = "ocean.inbound.v1";
    /// The router's document requests (relay/contracts/documents.hpp), consumed.
    std::string documents = "relay.documents.v1";
    /// The hub's Open API requests (relay/contracts/open_api_requests.hpp), consumed: messages and
    /// attachments on Open eReferral referrals, eForm links.
    std::string open_api_requests = "relay.openapi.requests.v1";
    std::string dlq = "ocean.notifications.dlq.v1";
    /// The fetcher's own record of the eForm sessions it delivered: key = site/patient ref/session id,
    /// written to the notification's partition number, read back on assignment, kept `remember_for`.
    std::string sessions = "relay.fetcher.sessions.v1";
    std::string events = "relay.events.v1";
};

using openapi::OpenApiConfig;
using openapi::OpenApiSite;

/// Where completed eForms go: a destination of the delivery service and the format rendered for it.
struct EformDestination {
    std::string id;
    enum class Format { kFhirR4, kHubJson } format = Format::kFhirR4;
};

struct FetcherConfig {
    std::string log_level = "info";
    http::ListenerConfig admin;
    service::KafkaSection kafka;
    FetcherTopics topics;
    OpenApiConfig ocean;
    std::vector<EformDestination> eform_destinations;
    /// The hub's Open API requests: the [P] choices of the wire format, and the delivery-service
    /// destinations an issued eForm link is delivered to (hub JSON; default: the hub-json eForm
    /// destinations).
    OpenApiRequestOptions requests;
    std::vector<std::string> link_destinations;
    transform::PatientEngagementFhirOptions fhir;
    /// Ocean answering 5xx / 429 / 401 / 403 / slowly or not at all: retried in memory, the partition's
    /// later notifications waiting behind (order per patient and referral), until the policy gives up.
    delivery::RetryPolicy retry;
    /// Notification types (exact, "prefix*" or "*") that name an Open eReferral referral to re-fetch.
    /// [P] Ocean does not publish them: by default every type but Patient Engagement's ("treat the type as
    /// opaque and always re-fetch the referral"); a type matched by none is dead-lettered unhandled-type.
    std::vector<std::string> referral_types{"*"};
    /// The event the router sees for a fetched referral [P] (its dedup tells versions apart by Ocean's
    /// modificationDate).
    std::string referral_event = "add-service-request";
    /// How long a delivered session (site, patient ref, session id) is remembered, so it is delivered
    /// once, across restarts and rebalances: the sessions topic's retention.
    std::chrono::milliseconds remember_for{std::chrono::hours(24 * 30)};
    std::chrono::milliseconds grace_period{25'000};

    [[nodiscard]] std::vector<kafka::TopicSpec> topic_specs() const;
    /// True when `type` (not a Patient Engagement one) names a referral to re-fetch.
    [[nodiscard]] bool is_referral_type(std::string_view type) const;
};

/// Parses and validates; throws ConfigError naming the key. Unknown keys are errors.
FetcherConfig load_config(ConfigReader& reader);
FetcherConfig load_config_file(const std::string& path);

}  // namespace relay::fetcher
