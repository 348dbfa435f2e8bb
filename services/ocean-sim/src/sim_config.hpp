#pragma once

#include <optional>
#include <string>

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
};

/// Parses ocean-sim's YAML (environment overrides with the RELAY_SIM_ prefix); throws ConfigError
/// naming the key. Unknown keys are errors.
SimConfig load_sim_config(ConfigReader& reader);

}  // namespace relay::ocean_sim
