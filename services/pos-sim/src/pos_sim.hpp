#pragma once

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "decisions.hpp"
#include "launch.hpp"
#include "relay/auth/authenticator.hpp"
#include "relay/auth/token.hpp"
#include "relay/core/config.hpp"
#include "relay/http/fault_injection.hpp"
#include "relay/http/server.hpp"

namespace relay::pos_sim {

/// One destination of the simulated point-of-service system, e.g. an EMR's referral inbox.
struct RouteConfig {
    std::string name;
    std::string path;        ///< deliveries are POSTed here
    std::string token_path;  ///< its own OAuth2 token endpoint, for auth scheme oauth2
    auth::AuthPolicy auth;
    std::vector<http::FaultRule> faults;
    std::chrono::milliseconds slow_accept{0};  ///< every accepted delivery takes this long
    /// Mutual TLS: refuse (403) callers without a client certificate from the listener's client CA.
    bool require_client_certificate = false;
};

struct PosSimConfig {
    std::string log_level = "info";
    http::ListenerConfig listener;
    http::ListenerConfig admin;
    std::optional<std::string> deliveries_file;
    std::optional<Secret> token_signing_key;
    std::uint64_t fault_seed = 1;
    std::vector<RouteConfig> routes;
    std::optional<DecisionConfig> decisions;  ///< decide on every new referral (unattended loop)
    std::optional<LaunchDeskConfig> launch;   ///< the Referral System Launch pages (a browser decides)
};

/// Parses pos-sim's YAML (environment overrides with the RELAY_POS_ prefix); throws ConfigError.
PosSimConfig load_pos_sim_config(ConfigReader& reader);

/// One delivery as the hub system saw it. The relay's delivery contract identifies it by the
/// `Idempotency-Key`, `X-Relay-Referral-Ref` and `X-Relay-Event` headers.
struct Delivery {
    std::string route;
    std::uint64_t sequence = 0;  ///< arrival order on the route, from 1
    std::string idempotency_key;
    std::string referral_ref;
    std::string event;
    std::string document_id;  ///< X-Relay-Document-Id: a referral document's id (empty otherwise)
    std::string documents_missing;  ///< X-Relay-Documents-Missing: documents an inline referral lacks
    std::string content_type;
    std::size_t bytes = 0;
    bool duplicate = false;  ///< the idempotency key was seen before on this route
    /// A FHIR Bundle's entry resource types, in order (e.g. Patient, QuestionnaireResponse); empty for
    /// anything else. Types only: what the hub system got, without its contents.
    std::vector<std::string> resources;
};

/// A hub's point-of-service system, simulated: authenticates and records every delivery, and
/// misbehaves on request (faults per route). Thread-safe.
class PosSim {
   public:
    /// `executor` runs the decision maker and the launch desk's redemptions, when they are configured.
    explicit PosSim(PosSimConfig config, std::optional<boost::asio::any_io_executor> executor = std::nullopt);
    ~PosSim();
    PosSim(const PosSim&) = delete;
    PosSim& operator=(const PosSim&) = delete;

    /// The handler for the delivery listener.
    [[nodiscard]] http::Handler handler();
    /// The handler for the admin listener: /metrics, /healthz, /deliveries, /decisions, /launches.
    [[nodiscard]] http::Handler admin_handler();

    [[nodiscard]] std::vector<Delivery> deliveries() const;
    /// Decisions sent so far (empty without a decisions section).
    [[nodiscard]] std::vector<DecisionMaker::Sent> decisions() const;
    /// What `/decisions` on the admin port shows: counts by action, then each decision and its answer.
    [[nodiscard]] std::string decisions_json() const;
    [[nodiscard]] std::string deliveries_json() const;
    /// What `/launches` on the admin port shows (see LaunchDesk::records_json); empty without a launch.
    [[nodiscard]] std::string launches_json() const;

    struct Route;

   private:
    boost::asio::awaitable<http::Response> accept(Route& route,
                                                  http::Request& request,
                                                  const http::RequestContext& context);

    PosSimConfig config_;
    std::unique_ptr<auth::TokenSigner> signer_;
    std::unique_ptr<DecisionMaker> decision_maker_;
    std::unique_ptr<LaunchDesk> launch_desk_;
    std::vector<std::unique_ptr<Route>> routes_;
    mutable std::mutex mutex_;
    std::optional<std::ofstream> file_;
    std::vector<Delivery> deliveries_;
    std::map<std::string, std::set<std::string>> seen_keys_;
    std::map<std::string, std::uint64_t> sequence_;
    std::uint64_t refused_ = 0;
};

}  // namespace relay::pos_sim
