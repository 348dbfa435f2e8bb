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
#include <thread>

#include "ingress_harness.hpp"
#include "ocean_api.hpp"
#include "referral_state.hpp"
#include "relay/kafka/admin.hpp"
#include "relay/kafka/producer.hpp"
#include "router.hpp"
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

}  // namespace
}  // namespace relay::test
