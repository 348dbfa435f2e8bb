#include "relay/delivery/retry_policy.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace relay::delivery {

void RetryPolicy::validate() const {
    if (initial <= Duration::zero()) throw std::invalid_argument("retry policy: initial must be > 0");
    if (max_delay < initial) throw std::invalid_argument("retry policy: max_delay must be >= initial");
    if (!(multiplier >= 1.0) || !std::isfinite(multiplier)) {
        throw std::invalid_argument("retry policy: multiplier must be a finite number >= 1");
    }
    if (max_attempts < 1) throw std::invalid_argument("retry policy: max_attempts must be >= 1");
    if (max_age <= Duration::zero()) throw std::invalid_argument("retry policy: max_age must be > 0");
}

Duration RetryPolicy::ceiling(int attempts_made) const {
    const int exponent = std::max(attempts_made, 1) - 1;
    // In floating point, so a large exponent saturates at infinity instead of overflowing an integer; the
    // comparison with the cap happens before converting back.
    const double uncapped = static_cast<double>(initial.count()) * std::pow(multiplier, exponent);
    const auto cap = static_cast<double>(max_delay.count());
    if (!(uncapped < cap)) return max_delay;
    return Duration(static_cast<Duration::rep>(uncapped));
}

std::optional<Duration> RetryPolicy::next_delay(int attempts_made,
                                                Duration age,
                                                std::mt19937_64& rng,
                                                std::optional<Duration> retry_after) const {
    if (attempts_made >= max_attempts) return std::nullopt;
    if (age >= max_age) return std::nullopt;
    const Duration time_left = max_age - age;

    std::uniform_int_distribution<Duration::rep> draw(0, ceiling(attempts_made).count());
    Duration delay(draw(rng));
    if (retry_after) {
        const Duration floor = std::max(*retry_after, Duration::zero());
        if (floor > time_left) return std::nullopt;
        delay = std::max(delay, floor);
    }
    return std::min(delay, time_left);
}

}  // namespace relay::delivery
