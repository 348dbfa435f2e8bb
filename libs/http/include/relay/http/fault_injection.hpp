#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "relay/http/server.hpp"

namespace relay::http {

/// One way for a simulated peer to misbehave, on the routes whose target starts with `path_prefix`.
struct FaultRule {
    enum class Kind {
        kStatus,        ///< answer `status` (with Retry-After when set) instead of handling
        kLatency,       ///< wait `delay`, then handle normally
        kTimeout,       ///< wait `delay`, then reset the connection without answering
        kReset,         ///< reset the connection at once
        kExpiredToken,  ///< answer 401 invalid_token, as for an expired bearer token
        kDown,          ///< answer `status` (503 by default) to everything for `delay` from the first request
    };
    Kind kind = Kind::kStatus;
    std::string path_prefix;  ///< "" = every route
    double probability = 1.0;
    int status = 503;
    std::chrono::milliseconds delay{0};
    std::chrono::seconds retry_after{0};
};

const char* to_string(FaultRule::Kind kind);

/// Wraps a handler with fault injection, deterministic for a given seed. Rules are tried in order;
/// the first that matches the target and wins its draw applies. Thread-safe.
class FaultInjector {
   public:
    FaultInjector(std::vector<FaultRule> rules, std::uint64_t seed);

    [[nodiscard]] Handler wrap(Handler inner);
    /// How often each kind was injected.
    [[nodiscard]] std::map<std::string, std::uint64_t> injected() const;

   private:
    const FaultRule* draw(std::string_view target);

    std::vector<FaultRule> rules_;
    std::mutex mutex_;
    std::mt19937_64 rng_;
    std::map<std::size_t, std::chrono::steady_clock::time_point> down_until_;
    mutable std::mutex counts_mutex_;
    std::map<std::string, std::uint64_t> injected_;
};

}  // namespace relay::http
