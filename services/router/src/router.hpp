// The router process: ocean.inbound.v1 → canonical referral → dedup / echo suppression → routing →
// one rendered record per destination on relay.deliveries.v1, an outcome on relay.events.v1, and the
// referral's state on the compacted relay.referrals.state.v1.
//
// Threads: a worker of the service runtime (relay/service/worker.hpp). The caller of run() runs the
// worker's io_context: the consumer (records, and rebalances that restore state from the changelog), the
// producer's acknowledgements, all state and the offset ledgers; the admin listener has its own thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "config.hpp"

namespace relay::router {

class Router {
   public:
    /// Creates the embedded cluster (if configured), verifies / creates the topics, starts the admin
    /// server. Throws ConfigError on configuration mistakes.
    explicit Router(RouterConfig config);
    ~Router();
    Router(const Router&) = delete;
    Router& operator=(const Router&) = delete;

    /// Consumes until stop(); then finishes the records in flight (within the grace period), commits
    /// and leaves the group. 0 on a clean stop, 1 if a produce failed (nothing after it was committed:
    /// a restart re-processes it).
    int run();
    /// Thread-safe; also what SIGTERM does in main.
    void stop();

    [[nodiscard]] std::uint16_t admin_port() const;
    [[nodiscard]] const std::string& bootstrap_servers() const;

    struct Impl;

   private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace relay::router
