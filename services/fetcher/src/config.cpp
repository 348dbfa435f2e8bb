#include "config.hpp"

#include "relay/delivery/retry_config.hpp"

#include <fmt/format.h>

#include <set>
#include <stdexcept>

namespace relay::fetcher {

using service::read_topic;

std::vector<kafka::TopicSpec> FetcherConfig::topic_specs() const {
    kafka::TopicSpec sessions = kafka.topic(topics.sessions);
    sessions.configs = {{"cleanup.policy", "delete"}, {"retention.ms", std::to_string(remember_for.count())}};
    return {kafka.topic(topics.notifications), kafka.topic(topics.documents), kafka.topic(topics.open_api_requests),
            kafka.topic(topics.deliveries),    kafka.topic(topics.inbound),   kafka.topic(topics.dlq),
            kafka.topic(topics.events),        std::move(sessions)};
}

bool FetcherConfig::is_referral_type(std::string_view type) const {
    for (const std::string& pattern : referral_types) {
        if (pattern.ends_with('*') ? type.starts_with(std::string_view(pattern).substr(0, pattern.size() - 1))
                                   : type == pattern)
            return true;
    }
    return false;
}

FetcherConfig load_config(ConfigReader& reader) {
    FetcherConfig config;
    auto root = reader.root();
    auto service_node = root.child("service");
    config.log_level = service_node.choice("log_level", "info", {"debug", "info", "warn", "error"});
    auto admin = root.child("admin");
    config.admin = service::read_admin_listener(admin, 9096);
    auto kafka_node = root.child("kafka");
    config.kafka = service::read_kafka_section(
        kafka_node,
        {.client_id = "ocean-relay-fetcher", .group_id = "ocean-relay-fetcher", .linger = std::chrono::milliseconds(2), .max_in_flight = 2'000});

    auto topics = root.child("topics");
    const std::string prefix = topics.string("prefix", "");
    config.topics.notifications = read_topic(topics, prefix, "notifications", config.topics.notifications);
    config.topics.deliveries = read_topic(topics, prefix, "deliveries", config.topics.deliveries);
    config.topics.inbound = read_topic(topics, prefix, "inbound", config.topics.inbound);
    config.topics.documents = read_topic(topics, prefix, "documents", config.topics.documents);
    config.topics.open_api_requests =
        read_topic(topics, prefix, "open_api_requests", config.topics.open_api_requests);
    config.topics.dlq = read_topic(topics, prefix, "dlq", config.topics.dlq);
    config.topics.sessions = read_topic(topics, prefix, "sessions", config.topics.sessions);
    config.topics.events = read_topic(topics, prefix, "events", config.topics.events);

    // Decrypted patient data never rests in clear: what the fetcher writes it to must be sealed.
    const bool clear_allowed = kafka_node.boolean("allow_clear_at_rest", false);
    for (const std::string* topic : {&config.topics.deliveries, &config.topics.inbound}) {
        if (clear_allowed) break;
        if (config.kafka.client.at_rest == nullptr || !config.kafka.client.at_rest->seals(*topic))
            kafka_node.fail("at_rest",
                            fmt::format("must seal '{}': the fetcher writes decrypted patient data there (set "
                                        "kafka.at_rest keys and topics, or kafka.allow_clear_at_rest: true for a "
                                        "throwaway trial)",
                                        *topic));
    }

    config.ocean = openapi::read_config(root.child("ocean"));

    auto referrals = root.child("open_ereferral");
    config.referral_types = referrals.string_list("types", config.referral_types);
    for (const auto& t : config.referral_types)
        if (t.empty() || t.size() > 128) referrals.fail("types", "entries are 1-128 characters");
    config.referral_event = referrals.string("event", config.referral_event);
    if (config.referral_event.empty()) referrals.fail("event", "must not be empty");

    auto eforms = root.child("eforms");
    std::set<std::string> ids;
    for (auto& d : eforms.list("destinations")) {
        EformDestination destination;
        destination.id = d.required_string("id");
        if (destination.id.empty() || destination.id.size() > 64 ||
            destination.id.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos)
            d.fail("id", "must be 1-64 characters of [a-z0-9-] (a destination of the delivery service)");
        if (!ids.insert(destination.id).second) d.fail("id", fmt::format("'{}' is listed twice", destination.id));
        destination.format = d.choice("format", "fhir-r4", {"fhir-r4", "hub-json"}) == "hub-json"
                                 ? EformDestination::Format::kHubJson
                                 : EformDestination::Format::kFhirR4;
        config.eform_destinations.push_back(std::move(destination));
    }
    auto fhir = eforms.child("fhir");
    config.fhir.questionnaire_base = fhir.string("questionnaire_base", config.fhir.questionnaire_base);
    config.fhir.identifier_base = fhir.string("identifier_base", config.fhir.identifier_base);
    config.fhir.include_hidden_items = fhir.boolean("include_hidden_items", false);
    config.remember_for = eforms.duration("remember_for", config.remember_for, std::chrono::minutes(1));

    auto requests = root.child("open_api_requests");
    config.requests.encrypt_messages = requests.boolean("encrypt_messages", config.requests.encrypt_messages);
    config.requests.form_links_path = requests.string("form_links_path", config.requests.form_links_path);
    config.requests.attachment_key_headers =
        requests.boolean("attachment_key_headers", config.requests.attachment_key_headers);
    config.requests.encrypt_file_names = requests.boolean("encrypt_file_names", config.requests.encrypt_file_names);
    if (!config.requests.form_links_path.starts_with("/svc/") ||
        config.requests.form_links_path.find("{ref}") == std::string::npos ||
        config.requests.form_links_path.find_first_of("?# ") != std::string::npos)
        requests.fail("form_links_path", "must be a path under /svc/ containing {ref} (the patient ref)");
    std::vector<std::string> hub_json_destinations;
    for (const auto& d : config.eform_destinations)
        if (d.format == EformDestination::Format::kHubJson) hub_json_destinations.push_back(d.id);
    config.link_destinations = requests.string_list("link_destinations", hub_json_destinations);
    for (const auto& id : config.link_destinations)
        if (id.empty() || id.size() > 64 || id.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos)
            requests.fail("link_destinations", "entries are destinations of the delivery service: 1-64 of [a-z0-9-]");

    auto documents = root.child("documents");
    config.ocean.documents_client.response_body_limit = documents.bytes("max_bytes", 20ULL << 20, 1024, 1ULL << 30);
    if (config.kafka.message_max_bytes < config.ocean.documents_client.response_body_limit + (1ULL << 20))
        documents.fail("max_bytes", "must be at least 1 MiB below kafka.message_max_bytes (a document is one record)");

    auto retry = root.child("retry");
    delivery::RetryPolicy retry_defaults;  // 2 s doubling up to 5 min, for a day
    retry_defaults.initial = std::chrono::seconds(2);
    retry_defaults.max_delay = std::chrono::minutes(5);
    retry_defaults.max_attempts = 1'000'000;
    retry_defaults.max_age = std::chrono::hours(24);
    config.retry = delivery::read_retry_policy(retry, retry_defaults);

    auto shutdown = root.child("shutdown");
    config.grace_period = shutdown.duration("grace_period", config.grace_period, std::chrono::milliseconds(100));
    if (config.grace_period <= config.ocean.client.request_timeout + config.ocean.client.connect_timeout)
        shutdown.fail("grace_period",
                      "must be longer than ocean.timeout + ocean.connect_timeout (a fetch in flight must "
                      "finish before its partition is given up)");
    reader.check_no_unknown_keys();
    return config;
}

FetcherConfig load_config_file(const std::string& path) {
    auto reader = ConfigReader::from_file(path, "RELAY");
    return load_config(reader);
}

}  // namespace relay::fetcher
