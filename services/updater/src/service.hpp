// The updater process: relay.updates.v1 → Ocean's $process-messages, one FHIR message per hub
// update, in order per referral.
//
// For each update: its referral's latest inbound bundle (restored from the router's changelog
// relay.referrals.state.v1 when the updates partition is assigned — state partition p pairs with updates
// partition p — and followed while owned), the Ocean site (the update's, else the bundle's target
// listing's, else ocean.default_site), the message (message.hpp), the relay-pushed record on
// ocean.inbound.v1 (acknowledged before the call, so the router recognises Ocean's echo), then the call
// with the site's OAuth2 token (relay::outbound::DestinationSender).
//
// Outcomes: 2xx → `update-sent` on relay.events.v1. 5xx / 429 / timeouts / network / token endpoint
// failures → retried in memory with the retry policy (capped full-jitter backoff, Retry-After as a floor,
// 96 h by default), the referral's later updates waiting behind it while other referrals go on. Other
// 4xx, invalid updates, unknown sites, messages that cannot be built, a bundle that never came within
// service.bundle_wait, an exhausted policy → relay.updates.dlq.v1 (value unchanged, dlq-* headers) and
// `update-dead-lettered`. In-memory retries rather than the delivery service's delay tiers: updates are
// few (human decisions), Ocean is one destination, and a referral's order matters more than isolation;
// when service.max_held updates are in memory, consumption pauses (polling goes on, so the group keeps us).
//
// Threads: a worker of the service runtime (relay/service/worker.hpp). The caller of run() runs the
// worker's io_context: the consumer (records, and rebalances that restore bundles), the producer's
// acknowledgements, all state, the senders and their connections; the bundle follower's thread reads the
// changelog and posts to it; the admin listener has its own thread. Offsets are committed contiguously, only past updates whose
// outcome is durable (the event or the DLQ record acknowledged): at-least-once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "service_config.hpp"

namespace relay::updater {

/// The Ocean site whose token sends `update`: its own `site`, else the target listing's site number in
/// the referral's latest bundle, else `default_site` (may be empty: unknown).
std::string site_for(const hub::Update& update,
                     std::string_view latest_bundle,
                     const std::string& default_site);

class UpdaterService {
   public:
    /// Creates the embedded cluster (if configured), verifies / creates the topics and checks the
    /// partition counts, starts the admin server. Throws ConfigError on configuration mistakes.
    explicit UpdaterService(UpdaterServiceConfig config);
    ~UpdaterService();
    UpdaterService(const UpdaterService&) = delete;
    UpdaterService& operator=(const UpdaterService&) = delete;

    /// Consumes until stop(); then lets the calls in flight finish (within the grace period), commits
    /// and leaves the group. 0 on a clean stop, 1 after a failure (a produce that failed).
    int run();
    /// Thread-safe; also what SIGTERM does in main.
    void stop();

    [[nodiscard]] std::uint16_t admin_port() const;
    [[nodiscard]] const std::string& bootstrap_servers() const;

    struct Impl;

   private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace relay::updater
