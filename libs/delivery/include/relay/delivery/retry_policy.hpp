#pragma once

#include <optional>
#include <random>

#include "relay/delivery/clock.hpp"

namespace relay::delivery {

/// Capped exponential backoff with full jitter, bounded by a number of attempts and by the age of the
/// record. Full jitter (a uniform draw between zero and the ceiling) spreads the retries of many records
/// that failed together, so a recovering destination is not hit by synchronised waves.
///
/// A value type: copyable, no state between calls, safe to share between threads as long as each thread
/// passes its own random engine.
struct RetryPolicy {
    Duration initial{std::chrono::seconds(1)};  ///< ceiling of the first retry's delay
    Duration max_delay{std::chrono::hours(1)};  ///< no delay ceiling exceeds this
    double multiplier = 2.0;                    ///< ceiling growth per attempt; >= 1
    int max_attempts = 10;                      ///< attempts in total, the first one included
    Duration max_age{std::chrono::hours(24)};   ///< no attempt is scheduled later than this after the first

    /// Throws std::invalid_argument naming the field when the policy is unusable. Configuration mistakes
    /// surface at start-up, not as a record silently dead-lettered later.
    void validate() const;

    /// The largest delay the draw after `attempts_made` attempts may return: min(max_delay,
    /// initial * multiplier^(attempts_made - 1)). Non-decreasing in `attempts_made`; attempts_made < 1 is
    /// treated as 1.
    Duration ceiling(int attempts_made) const;

    /// The delay before the next attempt, or nullopt when the record must stop retrying (dead letter).
    ///
    /// `attempts_made` counts the attempts already made (1 after the first failure); `age` is the time
    /// since the first attempt. The delay is drawn uniformly from [0, ceiling(attempts_made)].
    ///
    /// `retry_after` is the server's Retry-After: the delay is at least that long, even above max_delay,
    /// because retrying earlier is only answered with another 429 / 503.
    ///
    /// The result never takes the record past `max_age`: a jittered delay is shortened to the time left,
    /// so the last attempt lands on the deadline. A Retry-After that ends past the deadline yields nullopt,
    /// because the server has told us no attempt can succeed before then.
    std::optional<Duration> next_delay(int attempts_made,
                                       Duration age,
                                       std::mt19937_64& rng,
                                       std::optional<Duration> retry_after = std::nullopt) const;
};

}  // namespace relay::delivery
