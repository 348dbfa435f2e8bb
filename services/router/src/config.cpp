#include "config.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "relay/fhir/events.hpp"
#include "relay/kafka/at_rest.hpp"
#include "relay/transform/embed.hpp"

namespace relay::router {
using service::read_topic;

std::vector<kafka::TopicSpec> RouterConfig::topic_specs() const {
    auto spec = [this](const std::string& name) { return kafka.topic(name); };
    // The ingress owns the inbound topic's record size (its body limit); the router only reads it.
    kafka::TopicSpec inbound = spec(topics.inbound);
    inbound.max_message_bytes = 0;
    std::vector<kafka::TopicSpec> specs{std::move(inbound), spec(topics.deliveries), spec(topics.events)};
    kafka::TopicSpec state = spec(topics.state);
    // The changelog keeps the last record per referral forever; tombstones go after a day.
    state.configs = {{"cleanup.policy", "compact"}, {"delete.retention.ms", "86400000"}};
    specs.push_back(std::move(state));
    // The inbound DLQ holds inbound records byte for byte (plus a few headers): its record size is the
    // router's own message_max_bytes, the largest inbound record it fetches.
    specs.push_back(spec(topics.inbound_dlq));
    if (std::any_of(destinations.begin(), destinations.end(), [](const Destination& d) { return d.documents; }))
        specs.push_back(spec(topics.documents));
    return specs;
}

RouterConfig load_config(ConfigReader& reader) {
    RouterConfig config;
    auto root = reader.root();

    auto service = root.child("service");
    config.log_level = service.choice("log_level", "info", {"debug", "info", "warn", "error"});

    auto admin = root.child("admin");
    config.admin = service::read_admin_listener(admin, 9091);

    auto kafka_node = root.child("kafka");
    config.kafka = service::read_kafka_section(
        kafka_node, {.client_id = "ocean-relay-router", .group_id = "ocean-relay-router", .linger = std::chrono::milliseconds(5), .max_in_flight = 2'000});

    auto topics = root.child("topics");
    const std::string prefix = topics.string("prefix", "");
    config.topics.inbound = read_topic(topics, prefix, "inbound", config.topics.inbound);
    config.topics.deliveries = read_topic(topics, prefix, "deliveries", config.topics.deliveries);
    config.topics.events = read_topic(topics, prefix, "events", config.topics.events);
    config.topics.state = read_topic(topics, prefix, "state", config.topics.state);
    config.topics.inbound_dlq = read_topic(topics, prefix, "inbound_dlq", config.topics.inbound_dlq);
    config.topics.documents = read_topic(topics, prefix, "documents", config.topics.documents);
    for (const auto* other :
         {&config.topics.inbound, &config.topics.deliveries, &config.topics.events, &config.topics.state}) {
        if (*other == config.topics.inbound_dlq)
            topics.fail("inbound_dlq", "must be a topic of its own, not '" + *other + "'");
    }

    config.handled_events = root.string_list("handled_events", fhir::default_handled_events());
    config.ignored_events = root.string_list("ignored_events", {});
    for (const auto& e : config.handled_events)
        if (e.empty()) root.fail("handled_events", "an event code must not be empty");
    for (const auto& e : config.ignored_events) {
        if (e.empty()) root.fail("ignored_events", "an event code must not be empty");
        if (std::find(config.handled_events.begin(), config.handled_events.end(), e) !=
            config.handled_events.end())
            root.fail("ignored_events", "'" + e + "' is also in handled_events: handle it or ignore it");
    }

    auto dedup = root.child("dedup");
    config.dedup.window = std::chrono::duration_cast<std::chrono::seconds>(
        dedup.duration("window", config.dedup.window, std::chrono::seconds(1)));
    config.dedup.max_keys = static_cast<std::size_t>(dedup.integer("max_keys_per_referral", 256, 1, 100'000));
    config.dedup.suppress_echo = dedup.boolean("suppress_echo", true);
    config.dedup.retention = std::chrono::duration_cast<std::chrono::seconds>(
        dedup.duration("retention", config.dedup.retention, std::chrono::seconds(1)));
    if (config.dedup.retention < config.dedup.window)
        dedup.fail("retention",
                   "must be at least dedup.window, or duplicates inside the window would be delivered");
    config.sweep_interval =
        dedup.duration("sweep_interval", config.sweep_interval, std::chrono::milliseconds(100));

    for (auto& node : root.list("destinations")) {
        Destination d;
        d.id = node.required_string("id");
        if (!is_valid_name(d.id)) node.fail("id", "must be 1-63 characters of a-z, 0-9 and '-'");
        const std::string format =
            node.choice("format", "fhir-r4", {"ocean-fhir", "fhir-r4", "open-api", "hub-json"});
        d.format = *transform::parse_format(format);
        d.deliver_stale = node.choice("stale", "drop", {"drop", "deliver"}) == "deliver";
        const std::string documents = node.choice("documents", "none", {"none", "separate", "inline"});
        d.documents = documents != "none";
        d.inline_documents = documents == "inline";
        if (d.inline_documents && !transform::can_embed_documents(d.format))
            node.fail("documents", "inline needs a format with a place for the bytes: fhir-r4, ocean-fhir or hub-json");
        // An inline delivery waits on the documents topic with the rendered referral in it.
        if (d.inline_documents && (config.kafka.client.at_rest == nullptr ||
                                   !config.kafka.client.at_rest->seals(config.topics.documents)))
            node.fail("documents",
                      "inline keeps the rendered referral on topics.documents until its documents are fetched: "
                      "kafka.at_rest must seal that topic");
        config.destinations.push_back(std::move(d));
    }
    for (auto& node : root.list("routes")) {
        Route r;
        r.site = node.string("site", "");
        r.external_service_id = node.string("external_service_id", "");
        r.listing_ref = node.string("listing_ref", "");
        r.destinations = node.string_list("destinations", {});
        config.routes.push_back(std::move(r));
    }
    // Validates the table now, so a bad route is a start-up error naming it.
    RoutingTable check(config.destinations, config.routes);

    auto shutdown = root.child("shutdown");
    config.grace_period =
        shutdown.duration("grace_period", config.grace_period, std::chrono::milliseconds(100));
    reader.check_no_unknown_keys();
    return config;
}

RouterConfig load_config_file(const std::string& path) {
    auto reader = ConfigReader::from_file(path, "RELAY");
    return load_config(reader);
}

}  // namespace relay::router
