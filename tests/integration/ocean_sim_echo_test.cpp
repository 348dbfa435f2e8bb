// The simulated Ocean applies an accept sent to its $process-messages and echoes it back to the relay
// as notify-update-service-request, as Ocean does (ocean-api.md §3.5, §8 "Echo / loops").
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <thread>

#include "ingress_harness.hpp"
#include "ocean_api.hpp"
#include "referral_state.hpp"
#include "router_test_util.hpp"
#include "test_support.hpp"
#include "webhooks.hpp"

namespace relay::test {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

TEST(OceanSimEcho, AnAppliedAcceptComesBackAsNotifyUpdateServiceRequest) {
    RunningIngress relay(R"(
service: {log_level: error, threads: 1}
listeners: [{address: 127.0.0.1, port: 0}]
admin: {address: 127.0.0.1, port: 0}
kafka: {embedded: true, partitions: 1}
integrations: [{site: "1234"}]
)");
    asio::io_context ioc;
    ocean_sim::Observations observations;
    ocean_sim::ReferralState state;
    ocean_sim::OceanApiConfig api_config;
    api_config.clients.push_back({"relay-updater", Secret::from_value("updater-secret")});
    api_config.signing_key = Secret::from_value("ocean-sim-signing-key-0123456789abcdef");
    ocean_sim::OceanApi api(api_config, state);

    ocean_sim::WebhookPlan plan;
    plan.target_url = fmt::format("http://127.0.0.1:{}/ocean/1234/fhir", relay.port());
    plan.count = 3;
    plan.concurrency = 1;
    plan.seed = 9;
    ocean_sim::WebhookSender sender(ioc.get_executor(), plan, observations);
    sender.record_into(&state);
    api.on_applied([&sender](const ocean_sim::AppliedUpdate& applied) {
        if (applied.echo_update)
            asio::co_spawn(sender.executor(), sender.echo(applied.referral_ref), asio::detached);
    });
    http::ListenerConfig listener;
    listener.address = "127.0.0.1";
    listener.port = 0;
    http::Server api_server(ioc, listener, api.handler());
    api_server.start();
    auto sent = asio::co_spawn(sender.executor(), sender.run(), asio::use_future);
    std::thread thread([&] { ioc.run(); });
    sent.wait();
    ASSERT_EQ(observations.summary().delivered, 3U);
    const auto refs = consume_all(relay.ingress().kafka_bootstrap(), "ocean.inbound.v1", 3, 10s);
    ASSERT_EQ(refs.size(), 3U);
    const std::string referral_ref = refs[0].key;

    // The relay's updater (here by hand): token from Ocean, then an accept for that referral.
    http::BlockingClient ocean("127.0.0.1", api_server.port());
    ASSERT_EQ(post_update(ocean, ocean_token(ocean), task_update_bundle(referral_ref, "accepted")), 200);
    EXPECT_EQ(state.find(referral_ref)->folder, ocean_sim::Folder::kPendingBooking);

    // The echo arrives at the relay like any other Ocean webhook.
    const auto records = consume_all(relay.ingress().kafka_bootstrap(), "ocean.inbound.v1", 4, 10s);
    ASSERT_EQ(records.size(), 4U);
    EXPECT_EQ(records.back().key, referral_ref);
    EXPECT_EQ(records.back().header("event"), "notify-update-service-request");
    EXPECT_EQ(observations.summary().delivered_by_variant.at("echo"), 1U);
    // ... and reflects the change: the Task Ocean now holds for the referral has the accepted status.
    const auto echoed = boost::json::parse(records.back().value);
    int accepted_tasks = 0;
    for (const auto& entry : echoed.at("entry").as_array()) {
        const auto& resource = entry.at("resource").as_object();
        if (resource.at("resourceType").as_string() == "Task" && resource.at("status").as_string() == "accepted")
            ++accepted_tasks;
    }
    EXPECT_EQ(accepted_tasks, 1);

    api_server.stop_accepting();
    ioc.stop();
    thread.join();
}

}  // namespace
}  // namespace relay::test
