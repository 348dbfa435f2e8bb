// The delivery service's configuration: every hub destination with its URL, auth, TLS, limits and
// retry policy (issue 5). Destinations come from here, so their ids are bounded metric labels.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "relay/core/config.hpp"
#include "relay/delivery/circuit_breaker.hpp"
#include "relay/delivery/clock.hpp"
#include "relay/delivery/retry_policy.hpp"
#include "relay/delivery/tiers.hpp"
#include "relay/delivery/token_bucket.hpp"
#include "relay/outbound/sender.hpp"

namespace relay::delivery_service {

// The policies (retry, breaker, rate limit, tiers) are libs/delivery's, in relay::delivery.
using delivery::BreakerState;
using delivery::CircuitBreaker;
using delivery::CircuitBreakerConfig;
using delivery::Clock;
using delivery::DelayTiers;
using delivery::Duration;
using delivery::RetryPolicy;
using delivery::TokenBucket;

// The HTTP hop itself lives in relay::outbound (shared with the updater).
using outbound::AttemptResult;
using outbound::DestinationAuth;
using outbound::DestinationConfig;
using outbound::DestinationSender;
using outbound::OutboundDelivery;
using outbound::response_excerpt;

using RateLimit = delivery::RateLimitConfig;

/// One hub system endpoint and how to treat it.
struct DestinationSettings {
    DestinationConfig sender;  ///< id, URL, method, headers, auth, TLS, deadlines
    int max_concurrency = 8;   ///< requests in flight at once
    std::optional<RateLimit> rate_limit;
    CircuitBreakerConfig breaker;
    RetryPolicy retry;
    /// Acknowledge receipt to Ocean: when a new referral (add-service-request) is delivered here, a
    /// `received` update (Task status received; the referral stays New) goes to the updates topic for
    /// the updater to send (issue 6). Off by default: many hubs answer with their decision directly.
    bool ocean_received_task = false;
};

struct DeliveryConfig {
    std::vector<Duration> retry_tiers;  ///< delay-tier topics, increasing
    std::vector<DestinationSettings> destinations;

    [[nodiscard]] const DestinationSettings* find(std::string_view id) const;
};

/// Reads the `retry_tiers` and `destinations` sections; throws ConfigError naming the key (a bad URL,
/// an auth scheme without its credentials, a retry policy or breaker that cannot work, ...).
DeliveryConfig read_delivery_config(ConfigReader::Node root);

}  // namespace relay::delivery_service
