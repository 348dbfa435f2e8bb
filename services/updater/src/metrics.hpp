// The updater's Prometheus metrics. Sites come from configuration, actions, outcomes and dead-letter
// reasons from fixed vocabularies: label sets stay bounded. No referral refs, no update ids.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace relay::updater {

class UpdaterMetrics {
   public:
    UpdaterMetrics(std::shared_ptr<prometheus::Registry> registry, const std::vector<std::string>& sites);

    struct Site {
        prometheus::Histogram* latency;  ///< Ocean's answer to $process-messages
        prometheus::Counter* attempts;
        prometheus::Counter* retries;  ///< attempts that failed in a retryable way
        prometheus::Counter* tokens_refreshed;
        prometheus::Counter* token_failures;
    };
    Site& site(const std::string& site) { return sites_.at(site); }

    /// outcome: sent | dead-lettered
    void update(const std::string& action, const std::string& outcome);
    /// reason: invalid-update | no-latest-bundle | unknown-site | rejected | retries-exhausted | build
    /// error codes ...
    void dead_letter(const std::string& reason);

    prometheus::Gauge& held() { return *held_; }
    prometheus::Gauge& oldest_held_seconds() { return *oldest_held_; }
    prometheus::Gauge& bundles() { return *bundles_; }
    prometheus::Gauge& bundle_follow_delay() { return *follow_delay_; }
    prometheus::Gauge& dlq_records() { return *dlq_records_; }

   private:
    std::shared_ptr<prometheus::Registry> registry_;
    std::map<std::string, Site> sites_;
    std::mutex mutex_;
    prometheus::Family<prometheus::Counter>* updates_;
    prometheus::Family<prometheus::Counter>* dlq_;
    prometheus::Gauge* held_;
    prometheus::Gauge* oldest_held_;
    prometheus::Gauge* bundles_;
    prometheus::Gauge* follow_delay_;
    prometheus::Gauge* dlq_records_;
};

}  // namespace relay::updater
