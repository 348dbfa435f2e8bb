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
    ocean_sim::WebhookPlan plan;
    plan.target_url = fmt::format("http://127.0.0.1:{}/ocean/1234/fhir", relay.port());
    plan.count = 3;
    plan.concurrency = 1;
    plan.seed = 9;
    SimulatedOcean simulated(plan);
    simulated.wait_sent();
    auto& observations = simulated.observations();
    auto& state = simulated.state();
    ASSERT_EQ(observations.summary().delivered, 3U);
    const auto refs = consume_all(relay.ingress().kafka_bootstrap(), "ocean.inbound.v1", 3, 10s);
    ASSERT_EQ(refs.size(), 3U);
    const std::string referral_ref = refs[0].key;

    // The relay's updater (here by hand): token from Ocean, then an accept for that referral.
    http::BlockingClient ocean("127.0.0.1", simulated.api_port());
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
        if (resource.at("resourceType").as_string() == "Task" &&
            resource.at("status").as_string() == "accepted")
            ++accepted_tasks;
    }
    EXPECT_EQ(accepted_tasks, 1);
}

}  // namespace
}  // namespace relay::test
