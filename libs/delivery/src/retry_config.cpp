#include "relay/delivery/retry_config.hpp"

#include <algorithm>
#include <chrono>
#include <stdexcept>

namespace relay::delivery {

namespace {

Duration read_duration(ConfigReader::Node& node, std::string_view key, Duration fallback) {
    return std::chrono::duration_cast<Duration>(
        node.duration(key, std::chrono::duration_cast<std::chrono::milliseconds>(fallback), std::chrono::milliseconds(1)));
}

}  // namespace

RetryPolicy read_retry_policy(ConfigReader::Node& retry, const RetryPolicy& defaults) {
    RetryPolicy r;
    r.initial = read_duration(retry, "initial", defaults.initial);
    r.max_delay = read_duration(retry, "max_delay", defaults.max_delay);
    r.multiplier = retry.number("multiplier", defaults.multiplier, 1, 100);
    r.max_attempts = static_cast<int>(retry.integer("max_attempts", defaults.max_attempts, 1, 1'000'000'000));
    r.max_age = read_duration(retry, "max_age", defaults.max_age);
    if (r.max_delay < r.initial) retry.fail("max_delay", "must be at least retry.initial");
    return r;
}

CircuitBreakerConfig read_breaker(ConfigReader::Node& parent, const CircuitBreakerConfig& defaults) {
    auto breaker = parent.child("breaker");
    CircuitBreakerConfig b;
    b.consecutive_failures =
        static_cast<int>(breaker.integer("consecutive_failures", defaults.consecutive_failures, 1, 1'000'000));
    b.failure_rate_threshold = breaker.number("failure_rate", defaults.failure_rate_threshold, 0.01, 1);
    b.minimum_calls = static_cast<int>(breaker.integer("minimum_calls", defaults.minimum_calls, 1, 1'000'000));
    b.window = std::chrono::duration_cast<Duration>(breaker.duration(
        "window", std::chrono::duration_cast<std::chrono::milliseconds>(defaults.window), std::chrono::seconds(1)));
    b.open_duration = std::chrono::duration_cast<Duration>(
        breaker.duration("open_for",
                         std::chrono::duration_cast<std::chrono::milliseconds>(defaults.open_duration),
                         std::chrono::milliseconds(100)));
    b.half_open_probes = static_cast<int>(breaker.integer("half_open_probes", defaults.half_open_probes, 1, 1'000));
    try {
        b.validate();
    } catch (const std::invalid_argument& e) {
        parent.fail("breaker", e.what());
    }
    return b;
}

std::optional<RateLimitConfig> read_rate_limit(ConfigReader::Node& parent, double default_per_second) {
    if (!parent.has("rate_limit")) return std::nullopt;
    auto rate = parent.child("rate_limit");
    RateLimitConfig limit;
    limit.per_second = rate.number("per_second", default_per_second, 0.001, 1e6);
    limit.burst = rate.number("burst", std::max(1.0, limit.per_second), 1, 1e6);
    return limit;
}

}  // namespace relay::delivery
