// A `retry:` section read the same way by every service that retries (delivery per destination, the
// updater, the fetcher): initial, max_delay, multiplier, max_attempts, max_age, each defaulting to the
// caller's policy. Mistakes name the key: `retry.max_delay: must be at least retry.initial (5s)`.
#pragma once

#include "relay/core/config.hpp"
#include "relay/delivery/retry_policy.hpp"

namespace relay::delivery {

/// Reads `retry` (its keys absent → `defaults`' values); throws ConfigError naming the key.
RetryPolicy read_retry_policy(ConfigReader::Node& retry, const RetryPolicy& defaults);

}  // namespace relay::delivery
