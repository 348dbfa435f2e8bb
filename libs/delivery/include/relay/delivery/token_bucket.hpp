#pragma once

#include "relay/delivery/clock.hpp"

namespace relay::delivery {

/// A rate limit for one destination: `rate` requests per second on average, at most `burst` at once.
/// The bucket starts full and refills continuously; each request takes one token.
///
/// Not thread-safe: one bucket belongs to one destination's dispatcher, which serialises its calls.
/// Times passed in must not go backwards; if they do, no tokens are added for the negative interval.
/// A token bucket's shape, as configured: `per_second` requests on average, bursts of `burst`.
struct RateLimitConfig {
    double per_second = 0;
    double burst = 1;
};

class TokenBucket {
   public:
    /// Throws std::invalid_argument unless rate > 0 and burst >= 1 (a bucket that can never hold a whole
    /// token would never grant a request).
    TokenBucket(double rate_per_second, double burst, TimePoint now);

    /// Takes a token if one is available at `now`.
    bool try_acquire(TimePoint now);

    /// How long from `now` until try_acquire would succeed; zero when it would succeed now.
    Clock::duration time_until_available(TimePoint now) const;

    /// Grants nothing before `until`: the destination answered 429 / 503 with Retry-After. The bucket is
    /// drained to a single token at `until`, because a destination that just shed load should get one
    /// request, not a full burst, when it comes back. A pause never shortens an earlier, longer one.
    void pause_until(TimePoint until);

    TimePoint paused_until() const { return paused_until_; }
    double rate() const { return rate_; }
    double burst() const { return burst_; }

   private:
    double tokens_at(TimePoint now) const;

    double rate_;
    double burst_;
    double tokens_;
    TimePoint refilled_at_;
    TimePoint paused_until_{};
};

}  // namespace relay::delivery
