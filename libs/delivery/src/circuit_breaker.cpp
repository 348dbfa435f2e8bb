#include "relay/delivery/circuit_breaker.hpp"

#include <stdexcept>

namespace relay::delivery {

void CircuitBreakerConfig::validate() const {
    if (consecutive_failures < 1)
        throw std::invalid_argument("circuit breaker: consecutive_failures must be >= 1");
    if (!(failure_rate_threshold > 0.0 && failure_rate_threshold <= 1.0)) {
        throw std::invalid_argument("circuit breaker: failure_rate_threshold must be in (0, 1]");
    }
    if (minimum_calls < 1) throw std::invalid_argument("circuit breaker: minimum_calls must be >= 1");
    if (window < Duration(CircuitBreaker::kWindowSlots)) {
        throw std::invalid_argument("circuit breaker: window must be at least 10 ms");
    }
    if (open_duration <= Duration::zero())
        throw std::invalid_argument("circuit breaker: open_duration must be > 0");
    if (half_open_probes < 1) throw std::invalid_argument("circuit breaker: half_open_probes must be >= 1");
}

CircuitBreaker::CircuitBreaker(CircuitBreakerConfig config)
    : config_(config),
      slot_width_(std::chrono::duration_cast<Clock::duration>(config.window) / kWindowSlots) {
    config_.validate();
}

std::int64_t CircuitBreaker::epoch_of(TimePoint now) const {
    return static_cast<std::int64_t>(now.time_since_epoch() / slot_width_);
}

bool CircuitBreaker::allow(TimePoint now) {
    if (state_ == BreakerState::kOpen) {
        if (now < open_until_) return false;
        state_ = BreakerState::kHalfOpen;
        probes_in_flight_ = 0;
    }
    if (state_ == BreakerState::kHalfOpen) {
        if (probes_in_flight_ >= config_.half_open_probes) return false;
        ++probes_in_flight_;
    }
    return true;
}

void CircuitBreaker::record_success(TimePoint now) {
    switch (state_) {
        case BreakerState::kClosed:
            consecutive_failures_ = 0;
            record_in_window(now, false);
            return;
        case BreakerState::kHalfOpen:
            close();
            return;
        case BreakerState::kOpen:
            return;
    }
}

void CircuitBreaker::record_failure(TimePoint now) {
    switch (state_) {
        case BreakerState::kClosed: {
            ++consecutive_failures_;
            record_in_window(now, true);
            if (consecutive_failures_ >= config_.consecutive_failures) {
                open(now);
                return;
            }
            const auto counts = window_counts(now);
            if (counts.calls >= config_.minimum_calls &&
                counts.failures >= config_.failure_rate_threshold * counts.calls) {
                open(now);
            }
            return;
        }
        case BreakerState::kHalfOpen:
            open(now);
            return;
        case BreakerState::kOpen:
            return;
    }
}

CircuitBreaker::WindowCounts CircuitBreaker::window_counts(TimePoint now) const {
    // The window is the current slot and the kWindowSlots - 1 before it.
    const std::int64_t current = epoch_of(now);
    WindowCounts counts;
    for (const auto& slot : slots_) {
        if (slot.epoch > current - kWindowSlots && slot.epoch <= current) {
            counts.calls += slot.calls;
            counts.failures += slot.failures;
        }
    }
    return counts;
}

void CircuitBreaker::record_in_window(TimePoint now, bool failed) {
    const std::int64_t epoch = epoch_of(now);
    auto index = epoch % kWindowSlots;
    if (index < 0) index += kWindowSlots;
    Slot& slot = slots_[static_cast<std::size_t>(index)];
    if (slot.epoch != epoch) slot = Slot{epoch, 0, 0};
    ++slot.calls;
    if (failed) ++slot.failures;
}

void CircuitBreaker::open(TimePoint now) {
    state_ = BreakerState::kOpen;
    open_until_ = now + config_.open_duration;
    probes_in_flight_ = 0;
}

void CircuitBreaker::close() {
    state_ = BreakerState::kClosed;
    consecutive_failures_ = 0;
    probes_in_flight_ = 0;
    // The failures that opened the breaker describe the outage that is over; keeping them would reopen
    // the breaker on the first failure after recovery.
    slots_.fill(Slot{});
}

}  // namespace relay::delivery
