// The router against the real broker: ocean-sim → ingress → ocean.inbound → router → deliveries and
// events. Duplicates are dropped, resends delivered, Ocean's echo of a pushed update recognised, and a
// nonsense bundle reported without stopping the partition.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "commands.hpp"
#include "ingress_harness.hpp"
#include "ocean_api.hpp"
#include "referral_state.hpp"
#include "relay/kafka/admin.hpp"
#include "relay/kafka/producer.hpp"
#include "relay/fhir/events.hpp"
#include "router.hpp"
#include "relay/transform/open_api_record.hpp"
#include "router_test_util.hpp"
#include "state.hpp"
#include "test_support.hpp"
#include "webhooks.hpp"

namespace relay::test {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

/// A router in a thread of this process, on the real broker.
class RunningRouter {
   public:
    explicit RunningRouter(const std::string& yaml) {
        auto reader = ConfigReader::from_string(yaml, "RELAY_TEST_UNUSED");
        router_ = std::make_unique<router::Router>(router::load_config(reader));
        thread_ = std::thread([this] { exit_code_ = router_->run(); });
    }
    ~RunningRouter() {
        router_->stop();
        thread_.join();
    }
    [[nodiscard]] int exit_code() const { return exit_code_; }

   private:
    std::unique_ptr<router::Router> router_;
    std::thread thread_;
    int exit_code_ = -1;
};

std::map<std::string, int> count_by(const std::vector<ConsumedRecord>& records, const std::string& header) {
    std::map<std::string, int> out;
    for (const auto& r : records) ++out[r.header(header)];
    return out;
}

/// An ingress for site 1234 (no auth) publishing to the router's inbound topic on the real broker.
std::string ingress_yaml(const RouterTopics& topics) {
    return fmt::format(R"(
service: {{log_level: warn, threads: 1}}
listeners: [{{address: 127.0.0.1, port: 0}}]
admin: {{address: 127.0.0.1, port: 0}}
kafka: {{bootstrap_servers: "{}", partitions: 3, replication_factor: 1}}
topics: {{inbound: "{}"}}
integrations: [{{site: "1234"}}]
)",
                       kafka_bootstrap(),
                       topics.inbound);
}

TEST(RouterKafka, OceanSimThroughIngressAndRouterDropsDuplicatesAndDeliversResends) {
    const RouterTopics topics = router_topics("sim");
    RunningIngress ingress(ingress_yaml(topics));
    RunningRouter router(router_yaml(topics));

    ocean_sim::WebhookPlan plan;
    plan.target_url = fmt::format("http://127.0.0.1:{}/ocean/1234/fhir", ingress.port());
    plan.count = 40;
    plan.concurrency = 4;
    plan.seed = 7;
    plan.base.site_number = "1234";
    plan.base.listing_ref = "sim_listing_1";
    plan.base.external_service_id = "INTAKE";
    plan.v0_10_share = 0.4;
    plan.duplicate_share = 0.3;
    plan.resend_new_share = 0.2;
    plan.resend_update_share = 0.2;
    ocean_sim::Observations observations;
    {
        asio::io_context ioc;
        ocean_sim::WebhookSender sender(ioc.get_executor(), plan, observations);
        auto done = asio::co_spawn(sender.executor(), sender.run(), asio::use_future);
        ioc.run();
        done.get();
    }
    const auto summary = observations.summary();
    ASSERT_EQ(summary.gave_up, 0U);
    const auto variants = summary.delivered_by_variant;
    const auto get = [&](const char* v) {
        const auto it = variants.find(v);
        return it == variants.end() ? 0 : static_cast<int>(it->second);
    };
    ASSERT_GT(get("duplicate"), 0);
    ASSERT_GT(get("resend_new") + get("resend_update"), 0);

    const auto events = consume_all(kafka_bootstrap(), topics.events, summary.delivered, 60s);
    ASSERT_EQ(events.size(), summary.delivered);
    const auto outcomes = count_by(events, "outcome");
    const int routed = get("original") + get("resend_new") + get("resend_update");
    EXPECT_EQ(outcomes.count("routed") ? outcomes.at("routed") : 0, routed);
    EXPECT_EQ(outcomes.count("duplicate") ? outcomes.at("duplicate") : 0, get("duplicate"));

    // Two destinations on the route: each routed message once per destination, with a key that a
    // redelivery would repeat and that differs between destinations and messages.
    const auto deliveries = consume_all(kafka_bootstrap(), topics.deliveries, 2 * routed, 60s);
    ASSERT_EQ(deliveries.size(), static_cast<std::size_t>(2 * routed));
    const auto by_destination = count_by(deliveries, "destination");
    EXPECT_EQ(by_destination.at("intake"), routed);
    EXPECT_EQ(by_destination.at("simple"), routed);
    std::set<std::string> keys;
    for (const auto& d : deliveries) {
        EXPECT_TRUE(keys.insert(d.header("idempotency-key")).second);
        EXPECT_EQ(d.key, d.header("destination") + "|" + d.header("referral-ref"));
        EXPECT_FALSE(d.header("traceparent").empty());
        if (d.header("destination") == "intake") {
            EXPECT_EQ(d.header("content-type"), "application/fhir+json");
            const auto bundle = boost::json::parse(d.value);
            EXPECT_EQ(bundle.at("resourceType").as_string(), "Bundle");
        } else {
            const auto hub = boost::json::parse(d.value);
            EXPECT_TRUE(hub.is_object());
        }
    }
    // Everything the router produced is in the changelog, co-partitioned with the inbound topic.
    const auto state = consume_all(kafka_bootstrap(), topics.state, 2 * routed, 30s);
    EXPECT_EQ(state.size(), static_cast<std::size_t>(2 * routed));
}

TEST(RouterKafka, OceansEchoOfAPushedUpdateIsNotDeliveredButAnUnpushedChangeIs) {
    const RouterTopics topics = router_topics("echo");
    RunningIngress ingress(ingress_yaml(topics));
    RunningRouter router(router_yaml(topics));

    ocean_sim::WebhookPlan plan;
    plan.target_url = fmt::format("http://127.0.0.1:{}/ocean/1234/fhir", ingress.port());
    plan.count = 1;
    plan.seed = 11;
    plan.base.site_number = "1234";
    plan.base.listing_ref = "sim_listing_1";
    plan.base.external_service_id = "INTAKE";
    SimulatedOcean simulated(plan);
    simulated.wait_sent();
    ASSERT_EQ(consume_all(kafka_bootstrap(), topics.events, 1, 30s).size(), 1U);
    const std::string ref = consume_all(kafka_bootstrap(), topics.events, 1, 5s).at(0).key;

    // The updater's part (issue 6 builds it): record what it pushes, then push it to Ocean.
    router::PushedUpdate pushed;
    pushed.referral_ref = ref;
    transform::Task accepted;
    accepted.status = "accepted";
    pushed.tasks.push_back(accepted);
    produce_record(
        topics.inbound, ref, router::encode_pushed(pushed), {{"kind", std::string(router::kPushedKind)}});
    http::BlockingClient ocean("127.0.0.1", simulated.api_port());
    const std::string token = ocean_token(ocean);
    ASSERT_EQ(post_update(ocean, token, task_update_bundle(ref, "accepted")), 200);
    // Ocean's echo comes back through the ingress and is recognised.
    auto events = consume_all(kafka_bootstrap(), topics.events, 2, 30s);
    ASSERT_EQ(events.size(), 2U);
    EXPECT_EQ(events[1].header("outcome"), "echo");
    EXPECT_EQ(events[1].key, ref);

    // A decline made in Ocean without our updater (nothing pushed) is a real change: delivered.
    ASSERT_EQ(post_update(ocean, token, task_update_bundle(ref, "rejected")), 200);
    events = consume_all(kafka_bootstrap(), topics.events, 3, 30s);
    ASSERT_EQ(events.size(), 3U);
    EXPECT_EQ(events[2].header("outcome"), "routed");
    const auto deliveries = consume_all(kafka_bootstrap(), topics.deliveries, 4, 30s);
    EXPECT_EQ(deliveries.size(), 4U) << "the original and the decline, to both destinations; not the echo";
}

TEST(RouterKafka, NonsenseFhirIsReportedAndTheNextRecordStillFlows) {
    const RouterTopics topics = router_topics("invalid");
    RunningRouter router(router_yaml(topics, /*partitions=*/1));
    produce_record(
        topics.inbound,
        "ref-x",
        R"({"resourceType":"Bundle","type":"message","entry":[{"resource":{"resourceType":"Patient"}}]})",
        {{"event", "add-service-request"}, {"referral-ref", "ref-x"}, {"site", "1234"}});
    produce_record(topics.inbound, "ref-y", R"([1,2,3])", {{"referral-ref", "ref-y"}});
    const auto bundle = generated_bundle(3, "1234", "sim_listing_1", "INTAKE");
    produce_record(topics.inbound, bundle.referral_ref, bundle.body, inbound_headers(bundle, "1234"));
    const auto events = consume_all(kafka_bootstrap(), topics.events, 3, 30s);
    ASSERT_EQ(events.size(), 3U);
    EXPECT_EQ(events[0].header("outcome"), "invalid");
    const auto first = boost::json::parse(events[0].value);
    EXPECT_FALSE(first.at("error").at("code").as_string().empty());
    EXPECT_FALSE(first.at("error").at("expression").as_string().empty());
    EXPECT_EQ(events[1].header("outcome"), "invalid");
    EXPECT_EQ(events[2].header("outcome"), "routed");
    EXPECT_EQ(consume_all(kafka_bootstrap(), topics.deliveries, 2, 30s).size(), 2U);
}

TEST(RouterKafka, AnOpenEreferralReferralFromTheFetcherIsRoutedLikeAFhirOneWithoutALatestBundle) {
    const RouterTopics topics = router_topics("openapi");
    RunningRouter router(router_yaml(topics, /*partitions=*/1));
    const std::string referral = R"({"referralRef":"oa-ref-1","referralTargetRef":"sim_listing_1",)"
                                 R"("externalServiceId":"INTAKE","status":"NEW","modificationDate":"2026-12-07T10:00:00.000Z",)"
                                 R"("referrer":{"firstName":"Dana","surname":"Referrer"}})";
    const std::string patient = R"({"firstName":"Robin","surname":"Openapifamily","birthDate":"1980-02-03","sex":"F"})";
    const auto packed = transform::pack_open_api_record(referral, patient);
    ASSERT_TRUE(packed.has_value());
    const std::vector<std::pair<std::string, std::string>> headers{{"kind", "open-api-referral"},
                                                                   {"event", "add-service-request"},
                                                                   {"referral-ref", "oa-ref-1"},
                                                                   {"site", "1234"}};
    produce_record(topics.inbound, "oa-ref-1", *packed, headers);
    produce_record(topics.inbound, "oa-ref-1", *packed, headers);  // fetched twice: the same version
    const auto events = consume_all(kafka_bootstrap(), topics.events, 2, 30s);
    ASSERT_EQ(events.size(), 2U);
    EXPECT_EQ(events[0].header("outcome"), "routed") << events[0].value;
    EXPECT_EQ(events[1].header("outcome"), "duplicate") << events[1].value;
    const auto deliveries = consume_all(kafka_bootstrap(), topics.deliveries, 2, 30s);
    ASSERT_EQ(deliveries.size(), 2U);  // intake (fhir-r4) and simple (hub-json)
    for (const auto& d : deliveries) {
        EXPECT_EQ(d.header("referral-ref"), "oa-ref-1");
        EXPECT_NE(d.value.find("Openapifamily"), std::string::npos) << d.header("destination");
    }
    // The state, but no `#bundle`: only an Ocean FHIR bundle is what the updater answers from.
    const auto changelog = consume_all(kafka_bootstrap(), topics.state, 1, 30s);
    ASSERT_GE(changelog.size(), 1U);
    for (const auto& c : changelog) EXPECT_EQ(c.key.find("#bundle"), std::string::npos) << c.key;
}

TEST(RouterKafka, ADestinationThatWantsDocumentsGetsADocumentRequestForTheFetcher) {
    const RouterTopics topics = router_topics("documents");
    std::string yaml = router_yaml(topics, /*partitions=*/1);
    const std::string intake = "  - {id: intake, format: fhir-r4}";
    ASSERT_NE(yaml.find(intake), std::string::npos);
    yaml.replace(yaml.find(intake), intake.size(), "  - {id: intake, format: fhir-r4, documents: separate}");
    RunningRouter router(yaml);
    const auto bundle = generated_bundle(21, "1234", "sim_listing_1", "INTAKE");
    produce_record(topics.inbound, bundle.referral_ref, bundle.body, inbound_headers(bundle, "1234"));
    produce_record(topics.inbound, bundle.referral_ref, bundle.body, inbound_headers(bundle, "1234"));  // a resend
    ASSERT_EQ(consume_all(kafka_bootstrap(), topics.events, 2, 30s).size(), 2U);
    const auto requests = consume_all(kafka_bootstrap(), topics.prefix + "relay.documents.v1", 1, 30s);
    ASSERT_EQ(requests.size(), 1U) << "one request for the one destination that wants documents, none for the resend";
    EXPECT_EQ(requests[0].key, bundle.referral_ref);
    EXPECT_EQ(requests[0].header("kind"), "document-request");
    EXPECT_EQ(requests[0].header("destination"), "intake");
    const auto body = boost::json::parse(requests[0].value).as_object();
    EXPECT_EQ(body.at("site").as_string(), "1234");
    EXPECT_EQ(body.at("referral_ref").as_string(), bundle.referral_ref);
    ASSERT_FALSE(body.at("documents").as_array().empty());
    for (const auto& d : body.at("documents").as_array()) {
        EXPECT_FALSE(d.at("id").as_string().empty());
        EXPECT_NE(std::string(d.at("url").as_string()).find("/svc/fhir/v1/"), std::string::npos);
    }
}

TEST(RouterKafka, AnInlineDestinationsDeliveryWaitsSealedForItsDocuments) {
    const RouterTopics topics = router_topics("inline");
    std::string yaml = router_yaml(topics, /*partitions=*/1);
    const std::string intake = "  - {id: intake, format: fhir-r4}";
    yaml.replace(yaml.find(intake), intake.size(), "  - {id: intake, format: fhir-r4, documents: inline}");
    const std::string kafka_end = "  session_timeout: 6s\n";
    ASSERT_NE(yaml.find(kafka_end), std::string::npos);
    yaml.insert(yaml.find(kafka_end) + kafka_end.size(),
                "  at_rest: {keys: [{id: k1, key: {value: \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"}}], topics: [\"" +
                    topics.prefix + "relay.documents.v1\"]}\n");
    RunningRouter router(yaml);
    const auto bundle = generated_bundle(22, "1234", "sim_listing_1", "INTAKE");
    produce_record(topics.inbound, bundle.referral_ref, bundle.body, inbound_headers(bundle, "1234"));
    ASSERT_EQ(consume_all(kafka_bootstrap(), topics.events, 1, 30s).size(), 1U);
    // `simple` gets its delivery at once; `intake`'s waits on the documents topic, sealed, for the fetcher.
    const auto deliveries = consume_all(kafka_bootstrap(), topics.deliveries, 1, 10s);
    ASSERT_EQ(deliveries.size(), 1U);
    EXPECT_EQ(deliveries[0].header("destination"), "simple");
    const auto waiting = consume_all(kafka_bootstrap(), topics.prefix + "relay.documents.v1", 1, 30s);
    ASSERT_EQ(waiting.size(), 1U);
    const auto& w = waiting[0];
    EXPECT_EQ(w.key, bundle.referral_ref);
    EXPECT_EQ(w.header("kind"), "document-inline");
    EXPECT_EQ(w.header("destination"), "intake");
    EXPECT_EQ(w.header("format"), "fhir-r4");
    EXPECT_FALSE(w.header("idempotency-key").empty()) << "the delivery's own headers travel with it";
    EXPECT_EQ(w.header("relay-at-rest"), "k1") << "the rendered referral rests sealed";
    const auto documents = boost::json::parse(w.header("documents")).as_array();
    ASSERT_FALSE(documents.empty());
    for (const auto& d : documents)
        EXPECT_NE(std::string(d.at("url").as_string()).find("/svc/fhir/v1/"), std::string::npos);
    EXPECT_EQ(consume_all(kafka_bootstrap(), topics.deliveries, 2, 2s).size(), 1U) << "intake's is not written twice";
}

TEST(RouterKafka, UnroutedReferralsAreReportedNotDelivered) {
    const RouterTopics topics = router_topics("unrouted");
    RunningRouter router(router_yaml(topics, /*partitions=*/1));
    const auto bundle = generated_bundle(4, "7777", "other_listing", "");
    produce_record(topics.inbound, bundle.referral_ref, bundle.body, inbound_headers(bundle, "7777"));
    const auto events = consume_all(kafka_bootstrap(), topics.events, 1, 30s);
    ASSERT_EQ(events.size(), 1U);
    EXPECT_EQ(events[0].header("outcome"), "unrouted");
    const auto body = boost::json::parse(events[0].value);
    EXPECT_EQ(body.at("listing_ref").as_string(), "other_listing");
    EXPECT_TRUE(consume_all(kafka_bootstrap(), topics.deliveries, 1, 3s).empty());
}

TEST(RouterKafka, IdleReferralsAreForgottenWithChangelogTombstones) {
    const RouterTopics topics = router_topics("evict");
    RunningRouter router(
        router_yaml(topics, 1, "", 0, "dedup: {window: 1s, retention: 2s, sweep_interval: 200ms}"));
    const auto bundle = generated_bundle(5, "1234", "sim_listing_1", "INTAKE");
    produce_record(topics.inbound, bundle.referral_ref, bundle.body, inbound_headers(bundle, "1234"));
    ASSERT_EQ(consume_all(kafka_bootstrap(), topics.events, 1, 30s).size(), 1U);
    // State and bundle, then after the retention a tombstone (null value) for each key.
    const auto changelog = consume_all(kafka_bootstrap(), topics.state, 4, 30s);
    ASSERT_EQ(changelog.size(), 4U);
    std::map<std::string, std::string> last;
    for (const auto& record : changelog) last[record.key] = record.value;
    EXPECT_EQ(last.size(), 2U);
    EXPECT_TRUE(last.at(bundle.referral_ref).empty());
    EXPECT_TRUE(last.at(bundle.referral_ref + "#bundle").empty());
    EXPECT_FALSE(changelog[0].value.empty());
}

TEST(RouterKafka, AChangelogWithFewerPartitionsThanTheInboundTopicIsRefusedAtStartUp) {
    const RouterTopics topics = router_topics("copartition");
    {
        kafka::ProducerConfig config;
        config.client.bootstrap_servers = kafka_bootstrap();
        kafka::Producer admin(config);
        kafka::TopicSpec inbound;
        inbound.name = topics.inbound;
        inbound.partitions = 3;
        inbound.replication_factor = 1;
        kafka::ensure_topics(admin.handle(), {inbound}, true, 30s);
    }
    auto reader = ConfigReader::from_string(router_yaml(topics, /*partitions=*/1), "RELAY_TEST_UNUSED");
    try {
        router::Router router(router::load_config(reader));
        FAIL() << "the router started with a changelog of 1 partition for an inbound topic of 3";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("has 1 partitions but"), std::string::npos) << e.what();
    }
}

// -- the authenticated site, unhandled events, stale versions ------------------------------------

/// A record's headers as a multimap, for comparing with a consumed record's.
std::multimap<std::string, std::string> header_map(
    const std::vector<std::pair<std::string, std::string>>& in) {
    return {in.begin(), in.end()};
}

TEST(RouterKafka, TheAuthenticatedSiteHeaderDecidesTheRouteNotThePayload) {
    const RouterTopics topics = router_topics("site");
    RunningRouter router(router_yaml(topics, /*partitions=*/1));
    // Site 1234's integration sent a bundle whose listing names site 7777: routed for 1234, flagged.
    const auto foreign_payload = generated_bundle(21, "7777", "sim_listing_1", "INTAKE");
    produce_record(topics.inbound,
                   foreign_payload.referral_ref,
                   foreign_payload.body,
                   inbound_headers(foreign_payload, "1234"));
    // Site 7777's credentials cannot inject a referral for site 1234: routed for 7777 (no route there).
    const auto injected = generated_bundle(22, "1234", "sim_listing_1", "INTAKE");
    produce_record(topics.inbound, injected.referral_ref, injected.body, inbound_headers(injected, "7777"));
    // A record written before the ingress set the header: the payload's site, as before.
    const auto old_record = generated_bundle(23, "1234", "sim_listing_1", "INTAKE");
    auto without_site = inbound_headers(old_record, "");
    std::erase_if(without_site, [](const auto& h) { return h.first == "site"; });
    produce_record(topics.inbound, old_record.referral_ref, old_record.body, without_site);

    const auto events = consume_all(kafka_bootstrap(), topics.events, 3, 30s);
    ASSERT_EQ(events.size(), 3U);
    const auto first = boost::json::parse(events[0].value).as_object();
    EXPECT_EQ(events[0].header("outcome"), "routed");
    EXPECT_EQ(first.at("site").as_string(), "1234");
    ASSERT_TRUE(first.contains("warnings"));
    bool flagged = false;
    for (const auto& w : first.at("warnings").as_array())
        flagged = flagged || w.at("code").as_string() == "site-mismatch";
    EXPECT_TRUE(flagged) << first;

    const auto second = boost::json::parse(events[1].value).as_object();
    EXPECT_EQ(events[1].header("outcome"), "unrouted");
    EXPECT_EQ(second.at("site").as_string(), "7777");
    EXPECT_NE(boost::json::serialize(second.at("warnings")).find("site-mismatch"), std::string::npos);

    const auto third = boost::json::parse(events[2].value).as_object();
    EXPECT_EQ(events[2].header("outcome"), "routed");
    EXPECT_EQ(third.at("site").as_string(), "1234");
    EXPECT_FALSE(third.contains("warnings") &&
                 boost::json::serialize(third.at("warnings")).find("site-mismatch") != std::string::npos);

    const auto deliveries = consume_all(kafka_bootstrap(), topics.deliveries, 5, 5s);
    ASSERT_EQ(deliveries.size(), 4U) << "the first and the third record, to both destinations";
    for (const auto& d : deliveries) {
        EXPECT_EQ(d.header("site"), "1234");
        EXPECT_NE(d.header("referral-ref"), injected.referral_ref);
    }
    // The dedup key is the routing site's: the same bundle under another site's header is another message.
    const std::string key_1234 = first.at("idempotency_key").as_string().c_str();
    produce_record(topics.inbound,
                   foreign_payload.referral_ref,
                   foreign_payload.body,
                   inbound_headers(foreign_payload, "1234"));
    const auto again = consume_all(kafka_bootstrap(), topics.events, 4, 30s);
    ASSERT_EQ(again.size(), 4U);
    EXPECT_EQ(again[3].header("outcome"), "duplicate");
    EXPECT_EQ(boost::json::parse(again[3].value).at("idempotency_key").as_string(), key_1234);
}

TEST(RouterKafka, AnUnhandledEventIsDeadLetteredAndRoutedOnceHandledAndReplayed) {
    const RouterTopics topics = router_topics("unhandled");
    const std::string dlq = topics.prefix + "relay.inbound.dlq.v1";
    ocean_sim::ReferralSpec spec;
    spec.seed = 31;
    spec.site_number = "1234";
    spec.listing_ref = "sim_listing_1";
    spec.external_service_id = "INTAKE";
    spec.request_url = "https://relay.example/ocean/1234/fhir";
    spec.event = "notify-update-appointment";
    const auto bundle = ocean_sim::generate(spec);
    auto headers = inbound_headers(bundle, "1234");
    headers.emplace_back("integration", "site-1234");
    headers.emplace_back("received-at", "2026-11-24T15:00:00.000Z");
    headers.emplace_back("event-handled", "false");
    std::int64_t inbound_offset = -1;
    {
        RunningRouter router(router_yaml(topics, /*partitions=*/1));
        inbound_offset = produce_record(topics.inbound, bundle.referral_ref, bundle.body, headers).second;
        // A bundle no router can read is kept too.
        produce_record(topics.inbound,
                       "ref-broken",
                       R"({"resourceType":"Bundle","type":"message"})",
                       {{"kind", "fhir"},
                        {"event", "add-service-request"},
                        {"referral-ref", "ref-broken"},
                        {"site", "1234"}});
        const auto events = consume_all(kafka_bootstrap(), topics.events, 2, 30s);
        ASSERT_EQ(events.size(), 2U);
        EXPECT_EQ(events[0].header("outcome"), "unhandled-event");
        EXPECT_EQ(events[0].key, bundle.referral_ref);
        const auto body = boost::json::parse(events[0].value).as_object();
        EXPECT_EQ(body.at("event").as_string(), "notify-update-appointment");
        EXPECT_EQ(body.at("dlq_topic").as_string(), dlq);
        EXPECT_EQ(events[1].header("outcome"), "invalid");

        const auto dead = consume_all(kafka_bootstrap(), dlq, 2, 30s);
        ASSERT_EQ(dead.size(), 2U);
        EXPECT_EQ(dead[0].key, bundle.referral_ref);
        EXPECT_EQ(dead[0].value, bundle.body) << "byte for byte";
        auto expected = header_map(headers);
        for (const auto& [name, value] : dead[0].headers) {
            if (!name.starts_with("dlq-")) continue;
            expected.emplace(name, value);
        }
        EXPECT_EQ(dead[0].headers, expected) << "every original header, plus the dlq-* ones";
        EXPECT_EQ(dead[0].header("dlq-reason"), "unhandled-event");
        EXPECT_EQ(dead[0].header("dlq-source"), fmt::format("{}/0/{}", topics.inbound, inbound_offset));
        EXPECT_TRUE(relayctl::parse_rfc3339(dead[0].header("dlq-at")).has_value())
            << dead[0].header("dlq-at");
        EXPECT_EQ(dead[1].header("dlq-reason"), "invalid-bundle");
        EXPECT_FALSE(dead[1].header("dlq-excerpt").empty());

        EXPECT_TRUE(consume_all(kafka_bootstrap(), topics.deliveries, 1, 2s).empty());
        EXPECT_TRUE(consume_all(kafka_bootstrap(), topics.state, 1, 2s).empty())
            << "a dead letter does not touch the referral's state";

        // relayctl sees them as inbound records.
        relayctl::ListOptions list;
        list.kafka.bootstrap_servers = kafka_bootstrap();
        list.kafka.dlq_topic = dlq;
        list.filter.events = {"notify-update-appointment"};
        list.format = relayctl::ListFormat::kJson;
        std::ostringstream out, err;
        ASSERT_EQ(relayctl::list_dlq(list, out, err), 0) << err.str();
        const auto row = boost::json::parse(out.str()).as_object();
        EXPECT_EQ(row.at("referral_ref").as_string(), bundle.referral_ref);
        EXPECT_EQ(row.at("reason").as_string(), "unhandled-event");
        EXPECT_EQ(row.at("site").as_string(), "1234");
    }

    // A later router version handles the event: the operator replays the dead letter into the inbound
    // topic (`relayctl --inbound dlq replay --event notify-update-appointment`).
    auto defaults = fhir::default_handled_events();
    std::string handled = "handled_events: [notify-update-appointment";
    for (const auto& e : defaults) handled += ", " + e;
    handled += "]\nignored_events: [notify-update-status]";
    RunningRouter router(router_yaml(topics, /*partitions=*/1, "", 0, handled));
    relayctl::ReplayOptions replay;
    replay.kafka.bootstrap_servers = kafka_bootstrap();
    replay.kafka.dlq_topic = dlq;
    replay.kafka.deliveries_topic = topics.inbound;
    replay.kafka.events_topic = topics.events;
    replay.filter.events = {"notify-update-appointment"};
    replay.yes = true;
    std::ostringstream out, err;
    ASSERT_EQ(relayctl::replay_dlq(replay, out, err), 0) << err.str();

    const auto inbound = consume_all(kafka_bootstrap(), topics.inbound, 3, 30s);
    ASSERT_EQ(inbound.size(), 3U);
    const auto& replayed = inbound[2];
    EXPECT_EQ(replayed.key, bundle.referral_ref);
    EXPECT_EQ(replayed.value, bundle.body);
    for (const auto& [name, value] : header_map(headers))
        EXPECT_EQ(replayed.header(name), value) << name << ": every original header is kept";
    for (const auto& [name, value] : replayed.headers) EXPECT_FALSE(name.starts_with("dlq-")) << name;
    EXPECT_EQ(replayed.headers.count("attempt"), 0U) << "an inbound record has no delivery attempt";
    EXPECT_EQ(replayed.header("replayed-from"), dlq + "/0/0");

    const auto events = consume_all(kafka_bootstrap(), topics.events, 4, 30s);
    ASSERT_EQ(events.size(), 4U) << "unhandled-event, invalid, replayed, routed";
    int routed = 0;
    for (const auto& e : events) routed += e.header("outcome") == "routed" ? 1 : 0;
    EXPECT_EQ(routed, 1);
    const auto deliveries = consume_all(kafka_bootstrap(), topics.deliveries, 3, 10s);
    ASSERT_EQ(deliveries.size(), 2U) << "delivered once, to each of the route's two destinations";
    for (const auto& d : deliveries) {
        EXPECT_EQ(d.header("event"), "notify-update-appointment");
        EXPECT_EQ(d.header("referral-ref"), bundle.referral_ref);
    }

    // An event configured as ignored is dropped on purpose: an `ignored` event, no dead letter.
    spec.event = "notify-update-status";
    spec.message_sequence = 1;
    const auto ignored = ocean_sim::generate(spec);
    produce_record(topics.inbound, ignored.referral_ref, ignored.body, inbound_headers(ignored, "1234"));
    const auto after = consume_all(kafka_bootstrap(), topics.events, 5, 30s);
    ASSERT_EQ(after.size(), 5U);
    EXPECT_EQ(after[4].header("outcome"), "ignored");
    EXPECT_EQ(consume_all(kafka_bootstrap(), dlq, 3, 3s).size(), 2U);
    EXPECT_EQ(consume_all(kafka_bootstrap(), topics.deliveries, 3, 3s).size(), 2U);
}

/// Three destinations for site 1234 + INTAKE; `archive` also takes stale versions.
std::string stale_yaml(const RouterTopics& topics) {
    std::string yaml = router_yaml(topics, /*partitions=*/1);
    yaml.erase(yaml.find("destinations:"));
    return yaml + R"(
destinations:
  - {id: intake, format: fhir-r4}
  - {id: simple, format: hub-json}
  - {id: archive, format: ocean-fhir, stale: deliver}
routes:
  - {site: "1234", external_service_id: INTAKE, destinations: [intake, simple, archive]}
)";
}

TEST(RouterKafka, AnOlderVersionArrivingLastNeverReplacesTheNewestAndIsDeliveredOnlyWhereAsked) {
    const RouterTopics topics = router_topics("stale");
    RunningRouter router(stale_yaml(topics));
    ocean_sim::ReferralSpec spec;
    spec.seed = 41;
    spec.site_number = "1234";
    spec.listing_ref = "sim_listing_1";
    spec.external_service_id = "INTAKE";
    spec.request_url = "https://relay.example/ocean/1234/fhir";
    const auto created = ocean_sim::generate(spec);         // Ocean's clock: T
    const auto spec_1 = ocean_sim::resend_as_update(spec);  // T + 1 h
    const auto update_1 = ocean_sim::generate(spec_1);
    const auto update_2 = ocean_sim::generate(ocean_sim::resend_as_update(spec_1));  // T + 2 h
    ASSERT_LT(*router::parse_fhir_instant_ms(update_1.timestamp),
              *router::parse_fhir_instant_ms(update_2.timestamp));
    // The first update reaches us last (Ocean retried it for hours, or resent it after an incident).
    for (const auto* b : {&created, &update_2, &update_1})
        produce_record(topics.inbound, b->referral_ref, b->body, inbound_headers(*b, "1234"));

    const auto events = consume_all(kafka_bootstrap(), topics.events, 3, 30s);
    ASSERT_EQ(events.size(), 3U);
    EXPECT_EQ(events[0].header("outcome"), "routed");
    EXPECT_EQ(events[1].header("outcome"), "routed");
    EXPECT_EQ(events[2].header("outcome"), "stale");
    const auto stale_event = boost::json::parse(events[2].value).as_object();
    ASSERT_TRUE(stale_event.contains("destinations"));
    EXPECT_EQ(boost::json::serialize(stale_event.at("destinations")), R"(["archive"])");

    const auto deliveries = consume_all(kafka_bootstrap(), topics.deliveries, 8, 10s);
    ASSERT_EQ(deliveries.size(), 7U) << "two versions to three destinations, the stale one to archive only";
    int stale = 0;
    for (const auto& d : deliveries) {
        if (d.header("stale") != "true") continue;
        ++stale;
        EXPECT_EQ(d.header("destination"), "archive");
        EXPECT_EQ(d.value, update_1.body);
    }
    EXPECT_EQ(stale, 1);

    // The changelog: state + bundle for the two versions taken in, only the state (its seen key) for the
    // stale one. The latest bundle, what the updater echoes to Ocean, is the newest version.
    const auto changelog = consume_all(kafka_bootstrap(), topics.state, 6, 10s);
    ASSERT_EQ(changelog.size(), 5U);
    std::map<std::string, std::string> last;
    for (const auto& record : changelog) last[record.key] = record.value;
    EXPECT_EQ(last.at(created.referral_ref + "#bundle"), update_2.body);
    const auto state = router::decode_state(last.at(created.referral_ref));
    ASSERT_TRUE(state);
    EXPECT_EQ(state->ocean_ms, *router::parse_fhir_instant_ms(update_2.timestamp));
    EXPECT_EQ(state->seen.size(), 3U);
}

}  // namespace
}  // namespace relay::test
