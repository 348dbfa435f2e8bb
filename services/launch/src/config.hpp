// The launch service's configuration: its listener (browsers and hub systems), the admin listener,
// Ocean's Open API (the same `ocean` section as the fetcher's), the key that signs launch contexts and
// their lifetimes, the hub systems that redeem them, and per Ocean integration: the site it is bound to,
// redirect or iframe, the origins allowed to frame it, the names of Ocean's launch parameters ([P]: Ocean
// does not publish them), the branding of its pages, and the hub system's launch URL per listing or
// External Service ID. One strict YAML file; services/launch/config/launch.example.yaml documents every key.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "relay/auth/authenticator.hpp"
#include "relay/core/config.hpp"
#include "relay/core/secret.hpp"
#include "relay/delivery/token_bucket.hpp"
#include "relay/auth/failure_limiter.hpp"
#include "relay/http/async_client.hpp"
#include "relay/http/server.hpp"
#include "relay/openapi/config.hpp"

namespace relay::launch {

/// The names of Ocean's launch query parameters ([P], configurable per integration).
struct ParameterNames {
    std::string referral_ref = "referralRef";
    std::string site = "siteNum";
    std::string listing_ref = "listingRef";
    std::string external_service_id = "externalServiceId";
    std::string launch_token = "launch";
};

/// What the Ocean admin sets for the launch's header and footer (ocean-api.md §6).
struct Branding {
    std::string company_name;
    std::string application_name;
    std::string category;
    /// "Referral Form For Associated Listings": the form's name, shown on the hand-off page.
    std::string referral_form;
    /// "Confirmation Message (Override)": shown after the hub system accepted the referral.
    std::optional<std::string> confirmation_message;
    /// The logo's bytes and media type, read at start (served by the relay: no external assets).
    std::string logo;
    std::string logo_content_type;
};

/// Where a referral is handed off: the first target whose keys all match the referral wins; a target
/// with neither key matches every referral of the integration.
struct Target {
    std::optional<std::string> listing_ref;          ///< the referral's referralTargetRef
    std::optional<std::string> external_service_id;  ///< the referral's externalServiceId
    std::string hub_system;                          ///< the HubSystem that may redeem its contexts
    http::Url launch_url;                            ///< the hub system's launch page
    std::string launch_url_text;
    std::string context_parameter = "launch_context";
    /// When set, the hub system is asked (GET, 2xx = up) before the browser is sent there; when it does
    /// not answer, the page says so instead of sending the clinician to an error.
    std::optional<http::Url> health_url;
};

struct Integration {
    std::string id;    ///< the path segment: /ocean/{id}/launch
    std::string site;  ///< the Ocean site it is bound to
    enum class Mode { kRedirect, kIframe } mode = Mode::kRedirect;
    /// Iframe mode: the origins allowed to frame the pages (Content-Security-Policy frame-ancestors).
    std::vector<std::string> frame_ancestors;
    ParameterNames parameters;
    bool require_launch_token = false;
    /// Iframe mode: the hand-off page continues to the hub system by itself after this long.
    std::chrono::seconds handoff_delay{1};
    Branding branding;
    std::vector<Target> targets;
    /// Launches answered per second (each costs a call to Ocean with the site's credentials); beyond, 429.
    delivery::RateLimitConfig rate_limit{20, 40};
};

/// A hub system that redeems launch contexts, authenticated as the ingress authenticates callers.
struct HubSystem {
    std::string id;
    auth::AuthPolicy auth;
};

struct LaunchConfig {
    std::string log_level = "info";
    http::ListenerConfig listener;
    http::ListenerConfig admin;
    /// The relay's public base URL ("https://relay.hub.example"); when set, the completion URL given
    /// to hub systems is absolute, else a path on the launch listener.
    std::string public_url;
    openapi::OpenApiConfig ocean;
    Secret signing_key;
    std::chrono::seconds context_ttl{60};
    std::chrono::seconds completion_window{std::chrono::minutes(30)};
    /// Contexts remembered as redeemed (each until it expires); past it, redemptions are refused 503.
    std::size_t max_redeemed = 100'000;
    /// Timeout of a hub system's health check.
    std::chrono::milliseconds health_timeout{2'000};
    std::vector<HubSystem> hub_systems;
    std::vector<Integration> integrations;
    /// Per client address: failed redemptions (credentials) and refused launches (a link that names no
    /// referral of the site, a forged or expired context) count; an address that reaches the limit is
    /// answered 429 for a window.
    auth::FailureLimits failures;

    [[nodiscard]] const Integration* find_integration(std::string_view id) const;
    [[nodiscard]] const HubSystem* find_hub_system(std::string_view id) const;
};

/// True for a loopback listen address (127.0.0.0/8, ::1, localhost): the only place TLS may be off.
bool is_loopback_address(std::string_view address);

/// Parses and validates; throws ConfigError naming the key. Unknown keys are errors.
LaunchConfig load_config(ConfigReader& reader);
LaunchConfig load_config_file(const std::string& path);

}  // namespace relay::launch
