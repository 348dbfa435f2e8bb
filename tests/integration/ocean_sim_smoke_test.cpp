// ocean-sim → ingress (real Kafka) → an independent consumer: every acknowledged webhook exactly once.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <map>

#include "ingress_harness.hpp"
#include "test_support.hpp"
#include "webhooks.hpp"

namespace relay::test {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

ocean_sim::Observations::Summary run_sender(ocean_sim::WebhookPlan plan,
                                            ocean_sim::Observations& observations) {
    asio::io_context ioc;
    ocean_sim::WebhookSender sender(ioc.get_executor(), std::move(plan), observations);
    auto done = asio::co_spawn(sender.executor(), sender.run(), asio::use_future);
    ioc.run();
    done.get();
    return observations.summary();
}

TEST(OceanSimSmoke, EveryAcknowledgedWebhookIsInKafkaExactlyOnce) {
    const std::string topic = unique_topic("ocean.inbound.sim");
    RunningIngress running(fmt::format(R"(
service: {{log_level: warn, threads: 2}}
listeners: [{{address: 127.0.0.1, port: 0}}]
admin: {{address: 127.0.0.1, port: 0}}
kafka: {{bootstrap_servers: "{}", partitions: 3, replication_factor: 1}}
topics: {{inbound: "{}"}}
auth: {{token_signing_key: {{value: "0123456789abcdef0123456789abcdef-sim-smoke"}}}}
integrations:
  - site: "1234"
    auth: {{scheme: oauth2, token_lifetime: 5m, clients: [{{client_id: ocean-site-1234, client_secret: {{value: "sim-secret"}}}}]}}
)",
                                       kafka_bootstrap(),
                                       topic));

    ocean_sim::WebhookPlan plan;
    plan.target_url = fmt::format("http://127.0.0.1:{}/ocean/1234/fhir", running.port());
    plan.auth.scheme = "oauth2";
    plan.auth.oauth = http::OAuthClientConfig{
        *http::Url::parse(fmt::format("http://127.0.0.1:{}/ocean/1234/oauth2/token", running.port())),
        "ocean-site-1234",
        Secret::from_value("sim-secret")};
    plan.count = 200;
    plan.concurrency = 8;
    plan.seed = 42;
    plan.base.site_number = "1234";
    plan.base.listing_ref = "sim_listing_1";
    plan.base.external_service_id = "INTAKE";
    plan.v0_10_share = 0.3;
    plan.duplicate_share = 0.1;
    plan.resend_new_share = 0.05;
    plan.resend_update_share = 0.05;
    plan.retry.time_scale = 0.0001;

    ocean_sim::Observations observations;
    const auto summary = run_sender(plan, observations);
    EXPECT_EQ(summary.gave_up, 0U);
    EXPECT_GE(summary.delivered, 200U);
    EXPECT_GT(summary.delivered_by_variant.count("duplicate"), 0U) << "the plan's duplicates were sent";
    EXPECT_GT(summary.delivered_by_variant.count("resend_new"), 0U);
    EXPECT_GT(summary.delivered_by_variant.count("resend_update"), 0U);
    EXPECT_EQ(summary.statuses.count(401), 0U) << "the OAuth token was fetched and accepted";

    const auto ids = observations.delivered_message_ids();
    const auto records = consume_all(kafka_bootstrap(), topic, ids.size(), 60s);
    std::map<std::string, int> seen;
    std::map<std::string, int> dialects;
    for (const auto& record : records) {
        ++seen[record.header("message-id")];
        ++dialects[record.header("fhir-dialect")];
        EXPECT_EQ(record.header("site"), "1234");
        EXPECT_EQ(record.header("listing-ref"), "sim_listing_1");
        EXPECT_EQ(record.header("external-service-id"), "INTAKE");
    }
    EXPECT_EQ(records.size(), ids.size());
    for (const auto& id : ids) EXPECT_EQ(seen[id], 1) << id;
    EXPECT_GT(dialects["0.10"], 0);
    EXPECT_GT(dialects["0.11"], 0);
}

TEST(OceanSimSmoke, RefusedWebhooksAreRetriedOnOceansScheduleThenGivenUp) {
    // A wrong API key gets 401 every time: Ocean retries on its schedule for 96 hours, then stops.
    const std::string topic = unique_topic("ocean.inbound.sim.retry");
    RunningIngress running(fmt::format(R"(
service: {{log_level: error, threads: 1}}
listeners: [{{address: 127.0.0.1, port: 0}}]
admin: {{address: 127.0.0.1, port: 0}}
kafka: {{bootstrap_servers: "{}", partitions: 1, replication_factor: 1}}
topics: {{inbound: "{}"}}
# Ocean's retry schedule is the subject here: the ingress's guess limiter (which would answer 429 after
# 30 failures from this address) is off, so that every attempt is judged on its credentials.
auth: {{failures: {{max_per_address: 0, max_per_credential: 0}}}}
integrations:
  - site: "1234"
    auth: {{scheme: api_key, key: {{value: "right-key"}}}}
)",
                                       kafka_bootstrap(),
                                       topic));
    ocean_sim::WebhookPlan plan;
    plan.target_url = fmt::format("http://127.0.0.1:{}/ocean/1234/fhir", running.port());
    plan.auth.scheme = "api_key";
    plan.auth.key = Secret::from_value("wrong-key");
    plan.count = 2;
    plan.concurrency = 2;
    plan.retry.time_scale = 0.00001;  // Ocean's 96 hours in about 3.5 s
    ocean_sim::Observations observations;
    const auto summary = run_sender(plan, observations);
    EXPECT_EQ(summary.delivered, 0U);
    EXPECT_EQ(summary.gave_up, 2U);
    // The first attempt, 4 retries in the first hour, then one every hour up to 96 h: 1 + 4 + 96.
    EXPECT_EQ(summary.statuses.at(401), 2U * 101U);
}

}  // namespace
}  // namespace relay::test
