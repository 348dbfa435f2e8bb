// The sections that shape how a service calls one remote party, read the same way wherever they appear:
// `retry:` (delivery per destination, the updater, the fetcher: initial, max_delay, multiplier,
// max_attempts, max_age), `breaker:` (consecutive_failures, failure_rate, minimum_calls, window,
// open_for, half_open_probes) and `rate_limit:` (per_second, burst), each defaulting to the caller's
// values. Mistakes name the key: `retry.max_delay: must be at least retry.initial (5s)`.
#pragma once

#include <optional>

#include "relay/core/config.hpp"
#include "relay/delivery/circuit_breaker.hpp"
#include "relay/delivery/retry_policy.hpp"
#include "relay/delivery/token_bucket.hpp"

namespace relay::delivery {

/// Reads `retry` (its keys absent → `defaults`' values); throws ConfigError naming the key.
RetryPolicy read_retry_policy(ConfigReader::Node& retry, const RetryPolicy& defaults);

/// Reads `breaker` under `parent` (keys absent → `defaults`' values) and validates it; throws
/// ConfigError naming the key.
CircuitBreakerConfig read_breaker(ConfigReader::Node& parent, const CircuitBreakerConfig& defaults);

/// Reads `rate_limit` under `parent`: nullopt when absent; `burst` defaults to max(1, per_second).
std::optional<RateLimitConfig> read_rate_limit(ConfigReader::Node& parent, double default_per_second);

}  // namespace relay::delivery
