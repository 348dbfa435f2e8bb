#pragma once

#include <chrono>

namespace relay::delivery {

/// Policies take the current time as an argument instead of reading a clock, so tests drive them with a
/// fake clock and the service can use one `now` for a whole decision.
using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

/// Retry delays, ages and Retry-After values: milliseconds are finer than any delay we schedule and keep
/// the arithmetic in integers.
using Duration = std::chrono::milliseconds;

}  // namespace relay::delivery
