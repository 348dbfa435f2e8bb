#pragma once

#include "relay/auth/authenticator.hpp"
#include "relay/auth/failure_limiter.hpp"
#include "relay/core/config.hpp"

namespace relay::auth {

/// Reads an authentication policy from configuration, the same keys wherever a caller is
/// authenticated (the ingress's integrations, the simulators' routes):
///   scheme: none | basic | bearer | api_key | oauth2
///   basic: username, password;  bearer: token;  api_key: header, key
///   oauth2: token_lifetime, clients: [{client_id, client_secret, scopes}]
///           (scopes: what the client may ask for; without them its tokens carry no scope)
///   signature: {key, tolerance, replay_memory}   (Standard Webhooks; a "whsec_" key is base64-decoded;
///              replay_memory: accepted webhook ids remembered to refuse replays, default 100000,
///              0 = replays within the tolerance are not refused)
/// Throws ConfigError naming the key.
AuthPolicy read_policy(ConfigReader::Node node);

/// Reads FailureLimiter limits (each key optional, defaults as in FailureLimits):
///   window: a whole number of seconds, 1s-24h ("60s", "2m");  max_per_address, max_per_credential:
///   0-1000000, 0 = that kind is not limited;  max_tracked: 1-10000000.
/// Throws ConfigError naming the key.
FailureLimits read_failure_limits(ConfigReader::Node node);

}  // namespace relay::auth
