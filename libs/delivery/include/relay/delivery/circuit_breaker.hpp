#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "relay/delivery/clock.hpp"

namespace relay::delivery {

enum class BreakerState {
    kClosed,    ///< requests flow; failures are counted
    kOpen,      ///< requests are refused until the open duration has passed
    kHalfOpen,  ///< a few probe requests test whether the destination has recovered
};

/// For the breaker-state metric and logs.
constexpr std::string_view to_string(BreakerState state) {
    switch (state) {
        case BreakerState::kClosed:
            return "closed";
        case BreakerState::kOpen:
            return "open";
        case BreakerState::kHalfOpen:
            return "half_open";
    }
    return "unknown";
}

struct CircuitBreakerConfig {
    /// Opens after this many failures in a row, however few calls there were.
    int consecutive_failures = 5;
    /// Opens when failures / calls in the window reach this fraction, in (0, 1]...
    double failure_rate_threshold = 0.5;
    /// ...provided the window holds at least this many calls, so three calls after a quiet night do
    /// not decide anything.
    int minimum_calls = 20;
    /// The sliding window for the failure rate. It is kept as kWindowSlots slots of window / kWindowSlots
    /// each, so calls age out one slot at a time and memory does not grow with the request rate.
    Duration window{std::chrono::seconds(60)};
    /// How long the breaker refuses requests before it lets probes through.
    Duration open_duration{std::chrono::seconds(30)};
    /// Requests let through in half-open before their results are in.
    int half_open_probes = 1;

    /// Throws std::invalid_argument naming the field when the configuration is unusable.
    void validate() const;
};

/// A circuit breaker for one destination, so a destination that is down costs one probe per open
/// period instead of a timeout per record, and a recovering destination is not flooded.
///
///   closed ──(consecutive failures, or failure rate over the window)──▶ open
///   open ──(open_duration passed, on the next allow())──▶ half-open
///   half-open ──(a probe succeeds)──▶ closed (counts reset)
///   half-open ──(a probe fails)──▶ open (for another open_duration)
///
/// Every allow() that returns true must be followed by exactly one record_success() or
/// record_failure() (a timeout is a failure); otherwise half-open would wait for probes that never
/// report. Results that arrive while open, from requests allowed before it opened, are ignored.
///
/// Not thread-safe: owned by one destination's dispatcher. Times must not go backwards.
class CircuitBreaker {
   public:
    static constexpr int kWindowSlots = 10;

    /// Validates the configuration (see CircuitBreakerConfig::validate).
    explicit CircuitBreaker(CircuitBreakerConfig config);

    /// Whether a request may be sent now. Moves open to half-open once the open duration has passed,
    /// and counts a probe when it returns true in half-open.
    bool allow(TimePoint now);

    void record_success(TimePoint now);
    void record_failure(TimePoint now);

    /// The state as of the last call; open turns into half-open only on allow().
    BreakerState state() const { return state_; }

    /// When the current or last open period ends.
    TimePoint open_until() const { return open_until_; }

    /// Calls and failures in the window ending at `now` (what the failure rate is computed from).
    struct WindowCounts {
        int calls = 0;
        int failures = 0;
    };
    WindowCounts window_counts(TimePoint now) const;

   private:
    struct Slot {
        std::int64_t epoch = -1;  ///< which window / kWindowSlots interval since the clock's epoch
        int calls = 0;
        int failures = 0;
    };

    void record_in_window(TimePoint now, bool failed);
    void open(TimePoint now);
    void close();
    std::int64_t epoch_of(TimePoint now) const;

    CircuitBreakerConfig config_;
    Clock::duration slot_width_;
    BreakerState state_ = BreakerState::kClosed;
    int consecutive_failures_ = 0;
    int probes_in_flight_ = 0;
    TimePoint open_until_{};
    std::array<Slot, kWindowSlots> slots_{};
};

}  // namespace relay::delivery
