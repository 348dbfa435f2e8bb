#pragma once

#include <chrono>
#include <string>

namespace relay {

using SystemTime = std::chrono::system_clock::time_point;

inline SystemTime system_now() {
    return std::chrono::system_clock::now();
}

/// "2026-11-24T15:17:05.123Z"
std::string format_rfc3339_millis(SystemTime t);

/// Unix epoch seconds.
long long unix_seconds(SystemTime t);

}  // namespace relay
