// Helpers for the router's broker tests: unique topic sets, a router configuration, producing inbound
// records as the ingress (or the updater) would, and talking to ocean-sim's API.
#pragma once

#include <boost/asio/io_context.hpp>
#include <future>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "generator.hpp"
#include "observations.hpp"
#include "ocean_api.hpp"
#include "referral_state.hpp"
#include "relay/http/client.hpp"
#include "relay/http/server.hpp"
#include "webhooks.hpp"

namespace relay::test {

/// ocean-sim playing Ocean on a thread of its own: its webhook sender (running `plan` to the end) and
/// Ocean's API for client relay-updater / updater-secret, wired so that every applied update comes
/// back as Ocean's echo.
class SimulatedOcean {
   public:
    explicit SimulatedOcean(const ocean_sim::WebhookPlan& plan);
    ~SimulatedOcean();
    SimulatedOcean(const SimulatedOcean&) = delete;
    SimulatedOcean& operator=(const SimulatedOcean&) = delete;

    /// Waits until every planned webhook was delivered or given up.
    void wait_sent();
    [[nodiscard]] std::uint16_t api_port() const;
    ocean_sim::ReferralState& state() { return state_; }
    ocean_sim::Observations& observations() { return observations_; }

   private:
    boost::asio::io_context ioc_;
    ocean_sim::Observations observations_;
    ocean_sim::ReferralState state_;
    ocean_sim::OceanApi api_;
    ocean_sim::WebhookSender sender_;
    http::Server api_server_;
    std::future<void> sent_;
    std::thread thread_;
};

struct RouterTopics {
    std::string prefix;
    std::string inbound, deliveries, events, state;
};

/// A fresh set of the router's four topics (a unique prefix + the default names).
RouterTopics router_topics(const std::string& stem);

/// Router YAML on the real broker: destinations intake (fhir-r4) and simple (hub-json), both routed from
/// site 1234 + External Service ID INTAKE; a unique consumer group unless `group` is given.
/// `extra` is appended as more top-level YAML.
std::string router_yaml(const RouterTopics& topics,
                        int partitions = 3,
                        const std::string& group = "",
                        int admin_port = 0,
                        const std::string& extra = "");

/// Produces one record (acks=all) and waits for the broker's acknowledgement: {partition, offset}.
std::pair<std::int32_t, std::int64_t> produce_record(
    const std::string& topic,
    const std::string& key,
    const std::string& value,
    const std::vector<std::pair<std::string, std::string>>& headers);

/// An Ocean add-service-request from ocean-sim's generator (v0.11).
ocean_sim::GeneratedReferral generated_bundle(std::uint64_t seed,
                                              const std::string& site,
                                              const std::string& listing_ref,
                                              const std::string& external_service_id);

/// Ocean's echo of generated_bundle(seed, ...) after the receiver's Task went to `task_status`: a later
/// notify-update-service-request about the same referral, carrying the Task.
ocean_sim::GeneratedReferral echo_bundle(std::uint64_t seed,
                                         const std::string& site,
                                         const std::string& listing_ref,
                                         const std::string& external_service_id,
                                         const std::string& task_status);

/// The ingress's headers for a generated bundle.
std::vector<std::pair<std::string, std::string>> inbound_headers(const ocean_sim::GeneratedReferral& bundle,
                                                                 const std::string& site);

/// A token from ocean-sim's API for client relay-updater / updater-secret.
std::string ocean_token(http::BlockingClient& ocean);
/// POSTs an update bundle to ocean-sim's $process-messages; the HTTP status.
int post_update(http::BlockingClient& ocean, const std::string& token, const std::string& bundle);
/// notify-update-process-request with a Task of `status` for `referral_ref`.
std::string task_update_bundle(const std::string& referral_ref, const std::string& status);

}  // namespace relay::test
