#include "relay/delivery/token_bucket.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace relay::delivery {

namespace {

// Refill is floating point; without slack, waiting exactly time_until_available() could leave the bucket
// at 0.9999999 of a token and the caller would spin.
constexpr double kWholeToken = 1.0 - 1e-9;

}  // namespace

TokenBucket::TokenBucket(double rate_per_second, double burst, TimePoint now)
    : rate_(rate_per_second), burst_(burst), tokens_(burst), refilled_at_(now) {
    if (!(rate_ > 0.0) || !std::isfinite(rate_)) {
        throw std::invalid_argument("token bucket: rate must be a finite number > 0");
    }
    if (!(burst_ >= 1.0) || !std::isfinite(burst_)) {
        throw std::invalid_argument("token bucket: burst must be a finite number >= 1");
    }
}

double TokenBucket::tokens_at(TimePoint now) const {
    if (now <= refilled_at_) return tokens_;
    const double elapsed = std::chrono::duration<double>(now - refilled_at_).count();
    return std::min(burst_, tokens_ + elapsed * rate_);
}

bool TokenBucket::try_acquire(TimePoint now) {
    if (now < paused_until_) return false;
    const double available = tokens_at(now);
    tokens_ = available;
    refilled_at_ = std::max(refilled_at_, now);
    if (available < kWholeToken) return false;
    tokens_ = std::max(0.0, available - 1.0);
    return true;
}

Clock::duration TokenBucket::time_until_available(TimePoint now) const {
    if (now < paused_until_) return paused_until_ - now;
    const double missing = 1.0 - tokens_at(now);
    if (missing <= 1.0 - kWholeToken) return Clock::duration::zero();
    // From the later of now and the last refill: tokens do not accrue before refilled_at_.
    const auto wait = std::chrono::ceil<Clock::duration>(std::chrono::duration<double>(missing / rate_));
    const TimePoint ready = std::max(now, refilled_at_) + wait;
    return ready - now;
}

void TokenBucket::pause_until(TimePoint until) {
    // refilled_at_ is never before paused_until_, so this also keeps a longer pause that is in force.
    if (until <= refilled_at_) return;
    paused_until_ = until;
    tokens_ = 1.0;
    refilled_at_ = until;
}

}  // namespace relay::delivery
