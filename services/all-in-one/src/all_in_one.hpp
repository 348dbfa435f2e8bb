// ocean-relay, all in one process: every role (ingress, router, delivery, updater) from one
// configuration file with a section per role, on the embedded broker or a real one. The roles are the
// same classes the separate services run, each on a thread of its own; nothing is shared between them
// but the broker.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "relay/service/main.hpp"

namespace relay::all_in_one {

/// The roles, in the order they start (and the reverse of the order they stop in).
inline constexpr const char* kRoles[] = {"updater", "delivery", "router", "ingress"};

/// Reads `path`: top-level `log_level`, `kafka` (keys every role's `kafka:` section takes unless it sets
/// them itself) and one section per role, each what that service's own file would hold (a missing
/// section: the role does not run). Environment variables RELAY_<ROLE>_<KEY> override a role's keys.
/// Throws ConfigError naming the key.
service::LoadedConfig load(const std::string& path);

}  // namespace relay::all_in_one
