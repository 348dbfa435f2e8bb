// One destination's dispatcher: its rate limit, its circuit breaker and its retry policy around the
// sender, deciding for each record whether it was delivered, must be retried (and when), or goes to
// the dead-letter topic. The Kafka side (tiers, ordering, commits) builds on these decisions.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "config.hpp"
#include "relay/delivery/circuit_breaker.hpp"
#include "relay/delivery/token_bucket.hpp"
#include "relay/outbound/sender.hpp"

namespace relay::delivery_service {

enum class Decision {
    kDelivered,
    kRetry,       ///< try again after `retry_in` (a delay tier's topic in the service)
    kDeadLetter,  ///< permanent failure, or the retry policy is exhausted
};
const char* to_string(Decision decision);

struct DispatchResult {
    Decision decision = Decision::kRetry;
    std::optional<AttemptResult> attempt;  ///< empty when the breaker was open: nothing was sent
    std::optional<Duration> retry_in;      ///< with kRetry
    std::string reason;                    ///< fixed text, no PHI: for the DLQ header and the event
};

/// Not thread-safe: one dispatcher per destination, used from one strand.
class DestinationDispatcher {
   public:
    /// `seed` makes the jitter reproducible in tests; the service seeds from random_device.
    DestinationDispatcher(boost::asio::any_io_executor executor,
                          DestinationSettings settings,
                          std::uint64_t seed);

    /// Sends `delivery` (its `attempt` = the attempt number, from 1) unless the breaker is open,
    /// waiting for the rate limit first. `age` = time since the record's first attempt.
    boost::asio::awaitable<DispatchResult> dispatch(OutboundDelivery delivery, Duration age);

    [[nodiscard]] BreakerState breaker_state() const { return breaker_.state(); }
    /// Requests in flight now, and the most there ever were (never above max_concurrency).
    [[nodiscard]] int in_flight() const { return in_flight_; }
    [[nodiscard]] int peak_in_flight() const { return peak_in_flight_; }
    [[nodiscard]] const TokenBucket* rate_limit() const { return bucket_ ? &*bucket_ : nullptr; }
    [[nodiscard]] const DestinationSender& sender() const { return sender_; }

   private:
    /// Waits for one of the destination's max_concurrency slots (FIFO).
    boost::asio::awaitable<void> acquire_slot();
    void release_slot();

    DestinationSettings settings_;
    DestinationSender sender_;
    CircuitBreaker breaker_;
    std::optional<TokenBucket> bucket_;
    std::mt19937_64 rng_;
    int in_flight_ = 0;
    int peak_in_flight_ = 0;
    std::deque<std::shared_ptr<boost::asio::steady_timer>> slot_waiters_;
};

}  // namespace relay::delivery_service
