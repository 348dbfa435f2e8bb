#pragma once

#include <optional>
#include <string>

#include "api_faults.hpp"
#include "ocean_api.hpp"
#include "open_api_webhook.hpp"
#include "relay/core/config.hpp"
#include "relay/http/server.hpp"
#include "webhooks.hpp"

namespace relay::ocean_sim {

struct SimConfig {
    std::string log_level = "info";
    http::ListenerConfig admin;
    std::optional<std::string> observations_file;
    bool exit_when_done = true;
    WebhookPlan webhooks;
    /// Ocean's Open API / Patient Engagement webhook (challenge, then notifications), when configured.
    std::optional<OpenApiWebhookPlan> open_api;
    /// Ocean's API ($process-messages, token, documents, Open API referral GET), when configured.
    std::optional<OceanApiConfig> api;
    http::ListenerConfig api_listener;
    std::vector<ApiFaultRule> api_faults;     ///< relay::http's fault rules, each optionally for one method
    std::optional<std::string> updates_file;  ///< JSON lines: every update received and how it was applied
    std::uint64_t fault_seed = 1;
};

/// Parses ocean-sim's YAML (environment overrides with the RELAY_SIM_ prefix); throws ConfigError
/// naming the key. Unknown keys are errors.
SimConfig load_sim_config(ConfigReader& reader);

}  // namespace relay::ocean_sim
