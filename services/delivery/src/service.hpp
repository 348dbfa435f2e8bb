// The delivery process: relay.deliveries.v1 → each hub destination, in order per (destination,
// referral), with retries through delay-tier topics, dead letters, and an outcome per record on
// relay.events.v1.
//
// Threads: a worker of the service runtime (relay/service/worker.hpp). The caller of run() runs the
// worker's io_context: the deliveries consumer (records, and rebalances that restore parked keys), the
// producer's acknowledgements, all key state (key_order.hpp), the dispatchers and their HTTP connections;
// the delay tiers have their own consumer thread (TierForwarder); parked records are read back from the
// changelog on a fetch thread; the admin listener has its own thread.
//
// At-least-once: an offset is committed only when its record's outcome is durable — delivered (and
// its event acknowledged), handed to a delay tier and the key's head written to the changelog, parked
// in the changelog, or dead-lettered with a broker acknowledgement.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "service_config.hpp"

namespace relay::delivery_service {

class DeliveryService {
   public:
    /// Creates the embedded cluster (if configured), verifies / creates the topics, starts the admin
    /// server. Throws ConfigError on configuration mistakes.
    explicit DeliveryService(DeliveryServiceConfig config);
    ~DeliveryService();
    DeliveryService(const DeliveryService&) = delete;
    DeliveryService& operator=(const DeliveryService&) = delete;

    /// Consumes until stop(); then finishes the deliveries in flight (within the grace period),
    /// commits and leaves the group. 0 on a clean stop, 1 if a produce failed.
    int run();
    /// Thread-safe; also what SIGTERM does in main.
    void stop();

    [[nodiscard]] std::uint16_t admin_port() const;
    [[nodiscard]] const std::string& bootstrap_servers() const;

    struct Impl;

   private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace relay::delivery_service
