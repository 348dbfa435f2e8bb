#include "relay/delivery/retry_config.hpp"

#include <chrono>

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

}  // namespace relay::delivery
