// The delivery service's Prometheus metrics. Destinations come from configuration and outcomes from a
// fixed vocabulary, so label sets stay bounded.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace relay::delivery_service {

class DeliveryMetrics {
   public:
    DeliveryMetrics(std::shared_ptr<prometheus::Registry> registry,
                    const std::vector<std::string>& destinations,
                    const std::vector<std::string>& tiers);

    /// Per destination, every series created up front (a dashboard sees zeros, not gaps).
    struct Destination {
        /// outcome: delivered | retry | deferred | dead-letter
        prometheus::Counter* delivered;
        prometheus::Counter* retried;
        prometheus::Counter* deferred;
        prometheus::Counter* dead_lettered;
        prometheus::Counter* attempts;
        prometheus::Histogram* latency;
        prometheus::Gauge* breaker;  ///< 0 closed, 1 half-open, 2 open
        prometheus::Counter* tokens_refreshed;
        prometheus::Gauge* in_flight;
        prometheus::Gauge* queued;  ///< waiting for a request slot or behind their key in memory
        prometheus::Gauge* parked;  ///< keys whose head waits in a delay tier or is being released
        prometheus::Gauge* oldest_undelivered_seconds;
    };
    Destination& destination(const std::string& id) { return destinations_.at(id); }
    [[nodiscard]] bool has_destination(const std::string& id) const { return destinations_.contains(id); }

    /// Records forwarded back from a tier, and records held waiting for their due time.
    prometheus::Counter& tier_forwarded(const std::string& tier) { return *tier_forwarded_.at(tier); }
    prometheus::Gauge& tier_waiting(const std::string& tier) { return *tier_waiting_.at(tier); }

    prometheus::Counter& stale_retries() { return *stale_retries_; }
    prometheus::Counter& unknown_destination() { return *unknown_destination_; }
    prometheus::Counter& lost_parked() { return *lost_parked_; }

   private:
    std::shared_ptr<prometheus::Registry> registry_;
    std::map<std::string, Destination> destinations_;
    std::map<std::string, prometheus::Counter*> tier_forwarded_;
    std::map<std::string, prometheus::Gauge*> tier_waiting_;
    prometheus::Counter* stale_retries_;
    prometheus::Counter* unknown_destination_;
    prometheus::Counter* lost_parked_;
};

}  // namespace relay::delivery_service
