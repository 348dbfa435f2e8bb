#include "config.hpp"

#include <gtest/gtest.h>

#include "relay/fhir/events.hpp"

namespace relay::router {
namespace {

RouterConfig load(
    const std::string& yaml,
    EnvLookup env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; }) {
    auto reader = ConfigReader::from_string(yaml, "RELAY", std::move(env));
    return load_config(reader);
}

std::string error_of(const std::string& yaml) {
    try {
        load(yaml);
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "accepted";
}

TEST(RouterConfig, DefaultsAndAFullExample) {
    const auto config = load(R"(
kafka: {bootstrap_servers: "broker:9092", group_id: hub-router, partitions: 6}
topics: {prefix: "acme."}
dedup: {window: 120h, max_keys_per_referral: 64, suppress_echo: false}
destinations:
  - {id: intake, format: fhir-r4}
  - {id: simple, format: hub-json}
routes:
  - {site: "1234", external_service_id: MSK, destinations: [intake, simple]}
)");
    EXPECT_EQ(config.kafka.client.bootstrap_servers, "broker:9092");
    EXPECT_EQ(config.kafka.group_id, "hub-router");
    EXPECT_EQ(config.topics.inbound, "acme.ocean.inbound.v1");
    EXPECT_EQ(config.topics.state, "acme.relay.referrals.state.v1");
    EXPECT_EQ(config.dedup.window, std::chrono::hours(120));
    EXPECT_EQ(config.dedup.max_keys, 64U);
    EXPECT_FALSE(config.dedup.suppress_echo);
    ASSERT_EQ(config.destinations.size(), 2U);
    EXPECT_EQ(config.destinations[1].format, transform::Format::kHubJson);
    const auto specs = config.topic_specs();
    ASSERT_EQ(specs.size(), 5U);
    EXPECT_EQ(specs[3].name, "acme.relay.referrals.state.v1");
    EXPECT_EQ(specs[3].partitions, 6) << "the changelog is co-partitioned with the inbound topic";
    EXPECT_EQ(specs[3].configs.at(0), (std::pair<std::string, std::string>{"cleanup.policy", "compact"}));
}

TEST(RouterConfig, EnvironmentOverridesAKey) {
    const auto config =
        load("kafka: {bootstrap_servers: a:1}\n", [](const std::string& name) -> std::optional<std::string> {
            if (name == "RELAY_KAFKA_BOOTSTRAP_SERVERS") return "b:2";
            return std::nullopt;
        });
    EXPECT_EQ(config.kafka.client.bootstrap_servers, "b:2");
}

TEST(RouterConfig, MistakesNameTheKey) {
    EXPECT_NE(error_of("destinations: [{id: Bad_Id}]").find("destinations[0].id"), std::string::npos);
    EXPECT_NE(error_of("destinations: [{id: a, format: xml}]").find("format"), std::string::npos);
    EXPECT_NE(error_of("routes: [{site: '1', destinations: [missing]}]").find("'missing'"),
              std::string::npos);
    EXPECT_NE(error_of("kafka: {bootstrap_servers: a:1}\nrouter: {}").find("router"), std::string::npos)
        << "unknown keys are errors";
    EXPECT_NE(error_of("topics: {inbound: 'bad topic'}").find("topics.inbound"), std::string::npos);
}

}  // namespace
}  // namespace relay::router

namespace relay::router {
namespace {

TEST(RouterConfig, TheExampleConfigurationIsValid) {
    auto reader = ConfigReader::from_file(
        std::string(RELAY_SOURCE_DIR) + "/services/router/config/router.example.yaml", "RELAY_TEST_UNUSED");
    const auto config = load_config(reader);
    EXPECT_EQ(config.destinations.size(), 3U);
    EXPECT_EQ(config.routes.size(), 3U);
    const RoutingTable table(config.destinations, config.routes);
    ASSERT_EQ(table.resolve("1234", "MSK", "x").size(), 2U);
    EXPECT_EQ(table.resolve("1234", "MSK", "x")[0]->id, "msk-clinic-emr");
    EXPECT_TRUE(config.destinations[0].documents);   // central-intake: documents: separate
    EXPECT_FALSE(config.destinations[1].documents);  // the default: none
    EXPECT_EQ(config.topics.documents, "relay.documents.v1");
}

TEST(RouterConfig, DocumentsAreNoneOrSeparateAndTheirTopicOnlyWhenWanted) {
    EXPECT_NE(error_of("destinations: [{id: a, documents: inline}]\nroutes: [{site: \"1\", destinations: [a]}]")
                  .find("destinations[0].documents"),
              std::string::npos);
    auto has_documents_topic = [](const RouterConfig& c) {
        for (const auto& spec : c.topic_specs())
            if (spec.name == c.topics.documents) return true;
        return false;
    };
    EXPECT_FALSE(has_documents_topic(load("destinations: [{id: a}]\nroutes: [{site: \"1\", destinations: [a]}]")));
    const auto wanted = load("topics: {documents: docs.v1}\ndestinations: [{id: a, documents: separate}]\n"
                             "routes: [{site: \"1\", destinations: [a]}]");
    EXPECT_EQ(wanted.topics.documents, "docs.v1");
    EXPECT_TRUE(has_documents_topic(wanted));
}

TEST(RouterConfig, InlineDocumentsNeedASealedDocumentsTopicAndAFormatWithAPlace) {
    const std::string sealed =
        "kafka: {at_rest: {keys: [{id: k, key: {value: \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"}}], "
        "topics: [\"relay.documents.v1\"]}}\n";
    const auto config = load(sealed + "destinations: [{id: a, format: hub-json, documents: inline}, {id: b, documents: separate}]\n"
                                      "routes: [{site: \"1\", destinations: [a, b]}]");
    EXPECT_TRUE(config.destinations[0].documents);
    EXPECT_TRUE(config.destinations[0].inline_documents);
    EXPECT_TRUE(config.destinations[1].documents);
    EXPECT_FALSE(config.destinations[1].inline_documents);
    // The rendered referral would wait in clear; open-api has no place for the bytes.
    EXPECT_NE(error_of("destinations: [{id: a, documents: inline}]\nroutes: [{site: \"1\", destinations: [a]}]").find("kafka.at_rest"),
              std::string::npos);
    EXPECT_NE(error_of(sealed + "destinations: [{id: a, format: open-api, documents: inline}]\nroutes: [{site: \"1\", destinations: [a]}]")
                  .find("destinations[0].documents"),
              std::string::npos);
}

}  // namespace
}  // namespace relay::router

namespace relay::router {
namespace {

TEST(RouterConfig, RetentionMustCoverTheDedupWindow) {
    EXPECT_NE(error_of("dedup: {window: 100h, retention: 50h}").find("dedup.retention"), std::string::npos);
    EXPECT_EQ(error_of("dedup: {window: 100h, retention: 200h, sweep_interval: 1m}"), "accepted");
}

}  // namespace
}  // namespace relay::router

namespace relay::router {
namespace {

TEST(RouterConfig, HandledAndIgnoredEventsAndTheInboundDeadLetterTopic) {
    const auto defaults = load("topics: {prefix: 'acme.'}\n");
    EXPECT_EQ(defaults.handled_events, fhir::default_handled_events());
    EXPECT_TRUE(defaults.ignored_events.empty());
    EXPECT_EQ(defaults.topics.inbound_dlq, "acme.relay.inbound.dlq.v1");
    const auto specs = defaults.topic_specs();
    ASSERT_EQ(specs.size(), 5U);
    EXPECT_EQ(specs[4].name, "acme.relay.inbound.dlq.v1") << "created / verified at start like the others";
    EXPECT_EQ(specs[4].max_message_bytes, defaults.kafka.message_max_bytes)
        << "any inbound record the router can read fits";

    const auto configured = load(R"(
topics: {inbound_dlq: ocean.dead.v1}
handled_events: [add-service-request, notify-update-appointment]
ignored_events: [notify-update-status]
)");
    EXPECT_EQ(configured.topics.inbound_dlq, "ocean.dead.v1");
    EXPECT_EQ(configured.handled_events,
              (std::vector<std::string>{"add-service-request", "notify-update-appointment"}));
    EXPECT_EQ(configured.ignored_events, std::vector<std::string>{"notify-update-status"});

    EXPECT_NE(error_of("handled_events: [a]\nignored_events: [a]").find("ignored_events"), std::string::npos)
        << "an event is handled or ignored, not both";
    EXPECT_NE(error_of("topics: {inbound_dlq: relay.events.v1}").find("topics.inbound_dlq"),
              std::string::npos);
}

TEST(RouterConfig, StaleVersionsAreDroppedUnlessADestinationAsksForThem) {
    const auto config = load(R"(
destinations:
  - {id: intake}
  - {id: archive, format: ocean-fhir, stale: deliver}
  - {id: emr, stale: drop}
)");
    ASSERT_EQ(config.destinations.size(), 3U);
    EXPECT_FALSE(config.destinations[0].deliver_stale) << "the safe default";
    EXPECT_TRUE(config.destinations[1].deliver_stale);
    EXPECT_FALSE(config.destinations[2].deliver_stale);
    EXPECT_NE(error_of("destinations: [{id: a, stale: sometimes}]").find("destinations[0].stale"),
              std::string::npos);
}

}  // namespace
}  // namespace relay::router
