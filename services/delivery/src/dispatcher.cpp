#include "dispatcher.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace relay::delivery_service {

namespace asio = boost::asio;

const char* to_string(Decision decision) {
    switch (decision) {
        case Decision::kDelivered:
            return "delivered";
        case Decision::kRetry:
            return "retry";
        case Decision::kDeadLetter:
            return "dead-letter";
    }
    return "unknown";
}

DestinationDispatcher::DestinationDispatcher(asio::any_io_executor executor,
                                             DestinationSettings settings,
                                             std::uint64_t seed)
    : settings_(std::move(settings)),
      sender_(executor, settings_.sender),
      breaker_(settings_.breaker),
      rng_(seed) {
    if (settings_.rate_limit)
        bucket_.emplace(settings_.rate_limit->per_second, settings_.rate_limit->burst, Clock::now());
}

asio::awaitable<void> DestinationDispatcher::acquire_slot() {
    while (in_flight_ >= settings_.max_concurrency) {
        auto wait = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor);
        wait->expires_at(asio::steady_timer::time_point::max());
        slot_waiters_.push_back(wait);
        co_await wait->async_wait(asio::as_tuple(asio::use_awaitable));
    }
    ++in_flight_;
    peak_in_flight_ = std::max(peak_in_flight_, in_flight_);
}

void DestinationDispatcher::release_slot() {
    --in_flight_;
    if (!slot_waiters_.empty()) {
        slot_waiters_.front()->cancel();
        slot_waiters_.pop_front();
    }
}

asio::awaitable<DispatchResult> DestinationDispatcher::dispatch(OutboundDelivery delivery, Duration age) {
    DispatchResult result;
    const int attempt_number = delivery.attempt;
    if (!breaker_.allow(Clock::now())) {
        // The destination is known to be down: no request, try again when the breaker may let one
        // through (and not sooner than the policy's own delay). This does not count as an attempt.
        const auto until_half_open =
            std::chrono::duration_cast<Duration>(breaker_.open_until() - Clock::now());
        const auto policy = settings_.retry.next_delay(std::max(1, attempt_number - 1), age, rng_);
        result.reason = "circuit open";
        if (!policy) {
            result.decision = Decision::kDeadLetter;
            result.reason = "retries exhausted while the circuit was open";
            co_return result;
        }
        result.decision = Decision::kRetry;
        result.retry_in = std::max(*policy, std::max(until_half_open, Duration(0)));
        co_return result;
    }
    co_await acquire_slot();
    if (bucket_) {
        asio::steady_timer wait(co_await asio::this_coro::executor);
        while (!bucket_->try_acquire(Clock::now())) {
            wait.expires_after(bucket_->time_until_available(Clock::now()));
            co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
        }
    }

    AttemptResult attempt;
    try {
        attempt = co_await sender_.attempt(std::move(delivery));
    } catch (...) {
        release_slot();  // a slot must never leak, or the destination would stall for good
        throw;
    }
    release_slot();
    const auto now = Clock::now();
    // A destination that answers (even 4xx) is up: only server errors, throttling, timeouts and
    // transport failures count against the breaker.
    if (attempt.outcome.delivered || attempt.outcome.kind == ErrorKind::kPermanent)
        breaker_.record_success(now);
    else
        breaker_.record_failure(now);
    if (attempt.retry_after && bucket_) bucket_->pause_until(now + *attempt.retry_after);

    result.reason = std::string(attempt.outcome.reason);
    if (attempt.outcome.delivered) {
        result.decision = Decision::kDelivered;
    } else if (attempt.outcome.kind == ErrorKind::kPermanent) {
        result.decision = Decision::kDeadLetter;
    } else if (const auto delay =
                   settings_.retry.next_delay(attempt_number, age, rng_, attempt.retry_after)) {
        result.decision = Decision::kRetry;
        result.retry_in = *delay;
    } else {
        result.decision = Decision::kDeadLetter;
        result.reason = "retries exhausted: " + result.reason;
    }
    result.attempt = std::move(attempt);
    co_return result;
}

}  // namespace relay::delivery_service
