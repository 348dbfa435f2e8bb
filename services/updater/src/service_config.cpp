#include "service_config.hpp"

#include "relay/delivery/retry_config.hpp"

#include <fmt/format.h>

#include <set>
#include <stdexcept>

namespace relay::updater {

namespace {

using service::read_topic;

OceanConfig read_ocean(ConfigReader::Node node) {
    OceanConfig ocean;
    std::string base = node.required_string("base_url");
    while (base.ends_with('/')) base.pop_back();
    const auto base_url = http::Url::parse(base);
    if (!base_url || base_url->target != "/")
        node.fail("base_url", "must be an absolute http:// or https:// URL without a path (Ocean's host)");
    ocean.base_url = base;
    const auto endpoint = http::Url::parse(base + "/svc/fhir/v1/$process-messages");
    if (!endpoint) node.fail("base_url", "does not make a valid $process-messages URL");

    http::ClientOptions client;
    client.request_timeout =
        node.duration("timeout", std::chrono::seconds(15), std::chrono::milliseconds(100));
    client.connect_timeout =
        node.duration("connect_timeout", std::chrono::seconds(5), std::chrono::milliseconds(100));
    auto tls = node.child("tls");
    if (const auto ca = tls.optional_string("ca_file")) client.ca_file = *ca;
    const auto refresh_margin = std::chrono::duration_cast<std::chrono::seconds>(
        node.duration("refresh_margin", std::chrono::seconds(60)));

    std::set<std::string> seen;
    for (auto& site_node : node.list("sites")) {
        OceanSite site;
        site.site = site_node.required_string("site");
        if (site.site.empty() || site.site.size() > 64 ||
            site.site.find_first_not_of(
                "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_.-") != std::string::npos)
            site_node.fail("site", "must be 1-64 characters of letters, digits, '_', '.', '-'");
        if (!seen.insert(site.site).second)
            site_node.fail("site", fmt::format("'{}' is defined twice", site.site));
        const std::string token_text = site_node.string("token_url", base + "/svc/oauth2/token");
        const auto token_url = http::Url::parse(token_text);
        if (!token_url) site_node.fail("token_url", "must be an absolute http:// or https:// URL");
        http::OAuthClientConfig oauth{
            *token_url, site_node.required_string("client_id"), site_node.required_secret("client_secret")};
        oauth.style = site_node.choice("token_auth", "basic", {"basic", "form"}) == "form"
                          ? http::ClientAuthStyle::kFormFields
                          : http::ClientAuthStyle::kBasicHeader;
        oauth.refresh_margin = refresh_margin;
        site.sender.id = "ocean-" + site.site;
        site.sender.url = *endpoint;
        site.sender.auth.scheme = outbound::DestinationAuth::Scheme::kOAuth2;
        site.sender.auth.oauth = std::move(oauth);
        site.sender.client = client;
        ocean.sites.push_back(std::move(site));
    }
    if (ocean.sites.empty()) node.fail("sites", "needs at least one Ocean site with its OAuth2 client");
    ocean.default_site = node.string("default_site", "");
    if (!ocean.default_site.empty() && ocean.find(ocean.default_site) == nullptr)
        node.fail("default_site", "must be one of the sites");
    return ocean;
}

}  // namespace

const OceanSite* OceanConfig::find(std::string_view site) const {
    for (const auto& s : sites)
        if (s.site == site) return &s;
    return nullptr;
}

std::vector<kafka::TopicSpec> UpdaterServiceConfig::topic_specs() const {
    auto spec = [this](const std::string& name) { return kafka.topic(name); };
    // The updates, state and inbound topics belong to the ingress and the router: listed (settings 0)
    // so an updater started first waits for them or creates them plainly; the DLQ and events are ours.
    std::vector<kafka::TopicSpec> specs;
    for (const auto& name : {topics.updates, topics.inbound}) {
        kafka::TopicSpec s = spec(name);
        s.max_message_bytes = 0;
        specs.push_back(std::move(s));
    }
    kafka::TopicSpec state = spec(topics.state);
    state.max_message_bytes = 0;
    state.configs = {{"cleanup.policy", "compact"}};
    specs.push_back(std::move(state));
    specs.push_back(spec(topics.dlq));
    specs.push_back(spec(topics.events));
    // One small record per update sent, read back whole on assignment: kept `sent_memory`.
    kafka::TopicSpec sent_markers = spec(topics.sent);
    sent_markers.max_message_bytes = 0;
    sent_markers.configs = {{"cleanup.policy", "delete"},
                            {"retention.ms", std::to_string(sent_memory.count())}};
    specs.push_back(std::move(sent_markers));
    return specs;
}

UpdaterServiceConfig load_service_config(ConfigReader& reader) {
    UpdaterServiceConfig config;
    auto root = reader.root();

    auto service = root.child("service");
    config.log_level = service.choice("log_level", "info", {"debug", "info", "warn", "error"});
    config.bundle_wait = service.duration("bundle_wait", config.bundle_wait, std::chrono::milliseconds(0));
    config.max_held = static_cast<std::size_t>(service.integer("max_held", 10'000, 1, 10'000'000));
    config.sent_memory = service.duration("sent_memory", config.sent_memory, std::chrono::minutes(1));
    config.dlq_depth_interval =
        service.duration("dlq_depth_interval", config.dlq_depth_interval, std::chrono::milliseconds(100));
    config.max_operation_outcome = static_cast<std::size_t>(
        service.bytes("max_operation_outcome", config.max_operation_outcome, 0, 512 * 1024));

    auto admin = root.child("admin");
    config.admin = service::read_admin_listener(admin, 9095);

    auto kafka_node = root.child("kafka");
    config.kafka = service::read_kafka_section(
        kafka_node,
        {.client_id = "ocean-relay-updater", .group_id = "ocean-relay-updater", .linger = std::chrono::milliseconds(2), .max_in_flight = 10'000});

    auto topics = root.child("topics");
    const std::string prefix = topics.string("prefix", "");
    config.topics.updates = read_topic(topics, prefix, "updates", config.topics.updates);
    config.topics.dlq = read_topic(topics, prefix, "dlq", config.topics.dlq);
    config.topics.state = read_topic(topics, prefix, "state", config.topics.state);
    config.topics.inbound = read_topic(topics, prefix, "inbound", config.topics.inbound);
    config.topics.events = read_topic(topics, prefix, "events", config.topics.events);
    config.topics.sent = read_topic(topics, prefix, "sent", config.topics.sent);

    config.ocean = read_ocean(root.child("ocean"));
    for (auto& site : config.ocean.sites) site.sender.keep_error_body = config.max_operation_outcome;

    auto retry = root.child("retry");
    // Ocean retries its own webhooks for 96 h; so do we, 5 s doubling up to 10 min.
    delivery::RetryPolicy retry_defaults;
    retry_defaults.initial = std::chrono::seconds(5);
    retry_defaults.max_delay = std::chrono::minutes(10);
    retry_defaults.max_attempts = 1'000'000;
    retry_defaults.max_age = std::chrono::hours(96);
    config.retry = delivery::read_retry_policy(retry, retry_defaults);

    auto message = root.child("message");
    auto& m = config.message;
    m.sender_reference = message.string("sender_reference", m.sender_reference);
    m.author_reference = message.string("author_reference", m.author_reference);
    m.source_name = message.string("source_name", m.source_name);
    m.source_endpoint = message.string("source_endpoint", m.source_endpoint);
    m.ocean_host = message.string("ocean_host", config.ocean.base_url);
    m.header_profile = message.string("header_profile", m.header_profile);
    m.first_task_event = message.string("first_task_event", m.first_task_event);
    m.message_event = message.choice(
        "message_event", m.message_event, {"send-communication-from-provider", "send-communication"});

    auto shutdown = root.child("shutdown");
    config.grace_period =
        shutdown.duration("grace_period", config.grace_period, std::chrono::milliseconds(100));
    // A call to Ocean still running when a revoked partition is given up could land after the next
    // owner's calls for the same referral (out of order): the grace must outlast one attempt.
    if (!config.ocean.sites.empty()) {
        const auto& client = config.ocean.sites.front().sender.client;
        if (config.grace_period <= client.request_timeout + client.connect_timeout)
            shutdown.fail(
                "grace_period",
                "must be longer than ocean.timeout + ocean.connect_timeout (a call to Ocean in flight "
                "must finish before its partition is given up)");
    }
    reader.check_no_unknown_keys();
    return config;
}

UpdaterServiceConfig load_service_config_file(const std::string& path) {
    auto reader = ConfigReader::from_file(path, "RELAY");
    return load_service_config(reader);
}

}  // namespace relay::updater
