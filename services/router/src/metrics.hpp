#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace relay::router {

/// The router's Prometheus metrics. Labels are bounded: events from Ocean's catalogue (others are
/// "other"), outcomes and formats from fixed vocabularies, destinations from configuration, warning
/// codes from the parser's vocabulary.
class RouterMetrics {
   public:
    RouterMetrics(std::shared_ptr<prometheus::Registry> registry,
                  const std::vector<std::string>& destinations);

    /// outcome: routed | duplicate | echo | stale | unrouted | invalid | ignored | unhandled-event |
    /// pushed
    void record(std::string_view event, std::string_view outcome);
    void parse_seconds(double seconds) { parse_->Observe(seconds); }
    void render_seconds(std::string_view format, double seconds);
    void delivery(const std::string& destination);
    void parse_warning(std::string_view code);
    /// reason: unhandled-event | invalid-bundle
    void dead_letter(std::string_view reason) {
        dead_letters_.Add({{"reason", std::string(reason)}}).Increment();
    }

    prometheus::Gauge& state_referrals() { return *state_referrals_; }
    prometheus::Counter& restored_referrals() { return *restored_; }
    prometheus::Counter& evicted_referrals() { return *evicted_; }
    prometheus::Registry& registry() { return *registry_; }

   private:
    std::shared_ptr<prometheus::Registry> registry_;
    prometheus::Family<prometheus::Counter>& records_;
    prometheus::Family<prometheus::Histogram>& render_;
    prometheus::Family<prometheus::Counter>& deliveries_;
    prometheus::Family<prometheus::Counter>& warnings_;
    prometheus::Family<prometheus::Counter>& dead_letters_;
    prometheus::Histogram* parse_;
    std::map<std::string, prometheus::Counter*, std::less<>> records_cache_;
    std::map<std::string, prometheus::Histogram*, std::less<>> render_cache_;
    std::map<std::string, prometheus::Counter*, std::less<>> delivery_cache_;
    prometheus::Gauge* state_referrals_;
    prometheus::Counter* restored_;
    prometheus::Counter* evicted_;
};

}  // namespace relay::router
