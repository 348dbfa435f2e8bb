#pragma once

#include <vector>

#include "relay/core/config.hpp"
#include "relay/http/fault_injection.hpp"

namespace relay::http {

/// Reads fault rules: a list of {kind: status|latency|timeout|reset|expired_token|down, path_prefix,
/// probability, status, delay, retry_after}. Throws ConfigError naming the key.
std::vector<FaultRule> read_fault_rules(std::vector<ConfigReader::Node> nodes);

}  // namespace relay::http
