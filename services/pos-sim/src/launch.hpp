// The hub system's side of Ocean's Referral System Launch, simulated. The relay sends the clinician's
// browser to GET {path}?launch_context=TOKEN; the desk redeems the context with the relay
// (POST {relay_url}/hub/v1/launch/redeem, its bearer token), shows the referral's refs with Accept and
// Decline, records the choice and sends the browser (303) to the relay's completeUrl with
// `&outcome=accepted|declined`. Refs only: the redeemed patient data is never shown, logged or kept.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "relay/core/config.hpp"
#include "relay/core/secret.hpp"
#include "relay/http/async_client.hpp"
#include "relay/http/server.hpp"

namespace relay::pos_sim {

struct LaunchDeskConfig {
    std::string path =
        "/launch";  ///< the hub system's launch URL on the listener; decisions POST to {path}/decide
    std::string context_parameter = "launch_context";
    /// The relay's launch listener: redemptions go there, and a relative completeUrl is resolved against it.
    std::string relay_url;
    Secret token;  ///< the hub system's bearer token for redemptions
    std::chrono::milliseconds timeout{5'000};
};

/// Reads the `launch` section. Throws ConfigError naming the key.
LaunchDeskConfig read_launch_desk_config(ConfigReader::Node node);

/// What a redemption answered, refs only (the referral and patient data are not kept).
struct Redemption {
    std::string referral_ref;
    std::string site;
    std::string integration;
    std::string listing_ref;
    std::string external_service_id;
    std::string hub_system;
    std::string complete_url;
    bool patient_received = false;  ///< the answer carried patient data (an object, not null)
};

/// Reads the relay's 200 answer; nullopt unless it is a JSON object with a referralRef and a completeUrl.
std::optional<Redemption> parse_redemption(std::string_view body);
/// The `error.code` of the relay's refusal ("" when the body is not one).
std::string refusal_code(std::string_view body);

/// Where the browser goes after a decision: `complete_url` (absolute, or a path resolved against
/// `relay_url`'s origin) plus `outcome=...`; nullopt for anything else.
std::optional<std::string> completion_location(std::string_view relay_url,
                                               std::string_view complete_url,
                                               std::string_view outcome);

/// One launch as the hub system saw it.
struct LaunchRecord {
    std::string id;  ///< the desk's own, carried by the decision form
    std::string at;
    int redeem_status = 0;  ///< the relay's answer; 0 = not reachable; -1 = no context in the link
    std::string refusal;    ///< the relay's error code when it refused
    Redemption redemption;  ///< when redeemed
    std::string decision;   ///< "" | accepted | declined
    std::string decided_at;
};

/// The page with the referral's refs and the Accept / Decline form.
std::string decision_page(const LaunchRecord& record, std::string_view decide_path);
/// A plain error page showing `message`.
std::string error_page(std::string_view message);
/// The launch pages on pos-sim's listener. Thread-safe.
class LaunchDesk {
   public:
    LaunchDesk(LaunchDeskConfig config, boost::asio::any_io_executor executor);

    /// True for the desk's paths ({path} and {path}/decide).
    [[nodiscard]] bool handles(std::string_view path) const;
    /// Answers a request to one of the desk's paths.
    boost::asio::awaitable<http::Response> handle(http::Request& request);

    [[nodiscard]] std::vector<LaunchRecord> records() const;
    /// What `/launches` on the admin port shows: counts, then every launch (refs, statuses, decisions).
    [[nodiscard]] std::string records_json() const;

   private:
    boost::asio::awaitable<http::Response> open(const http::Request& request, std::string_view query);
    http::Response decide(const http::Request& request);
    std::size_t add(LaunchRecord record);

    LaunchDeskConfig config_;
    http::Url redeem_url_;
    std::string decide_path_;
    std::unique_ptr<http::AsyncClient> client_;
    mutable std::mutex mutex_;
    std::vector<LaunchRecord> records_;
};

}  // namespace relay::pos_sim
