#include "metrics.hpp"

#include "relay/metrics/metrics.hpp"

namespace relay::delivery_service {

namespace {

prometheus::Histogram::BucketBoundaries destination_latency_buckets() {
    // A hub system's answer: milliseconds on a LAN, seconds for a slow EMR, up to its timeout.
    return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

}  // namespace

DeliveryMetrics::DeliveryMetrics(std::shared_ptr<prometheus::Registry> registry,
                                 const std::vector<std::string>& destinations,
                                 const std::vector<std::string>& tiers)
    : registry_(std::move(registry)) {
    auto& r = *registry_;
    auto& outcomes = prometheus::BuildCounter()
                         .Name("relay_delivery_outcomes_total")
                         .Help("Records by destination and outcome (delivered, retry, deferred, dead-letter)")
                         .Register(r);
    auto& attempts = prometheus::BuildCounter()
                         .Name("relay_delivery_attempts_total")
                         .Help("HTTP requests sent to the destination (first attempts and retries)")
                         .Register(r);
    auto& latency = prometheus::BuildHistogram()
                        .Name("relay_delivery_request_duration_seconds")
                        .Help("Time from sending a delivery to the destination's answer")
                        .Register(r);
    auto& breaker = prometheus::BuildGauge()
                        .Name("relay_delivery_breaker_state")
                        .Help("Circuit breaker per destination: 0 closed, 1 half-open, 2 open")
                        .Register(r);
    auto& tokens = prometheus::BuildCounter()
                       .Name("relay_delivery_tokens_refreshed_total")
                       .Help("OAuth2 tokens fetched for the destination")
                       .Register(r);
    auto& in_flight = prometheus::BuildGauge()
                          .Name("relay_delivery_requests_in_flight")
                          .Help("Requests to the destination waiting for an answer")
                          .Register(r);
    auto& queued =
        prometheus::BuildGauge()
            .Name("relay_delivery_queued")
            .Help("Records in memory waiting for a request slot or for an earlier record of their key")
            .Register(r);
    auto& parked =
        prometheus::BuildGauge()
            .Name("relay_delivery_parked_keys")
            .Help("(destination, referral) keys whose head record is in a delay tier or being released")
            .Register(r);
    auto& oldest = prometheus::BuildGauge()
                       .Name("relay_delivery_oldest_undelivered_age_seconds")
                       .Help(
                           "Age of the oldest record of the destination not yet delivered (since its first "
                           "attempt), among those this process holds")
                       .Register(r);
    for (const auto& id : destinations) {
        const prometheus::Labels l{{"destination", id}};
        auto with = [&](const char* outcome) {
            return &outcomes.Add({{"destination", id}, {"outcome", outcome}});
        };
        destinations_.emplace(id,
                              Destination{with("delivered"),
                                          with("retry"),
                                          with("deferred"),
                                          with("dead-letter"),
                                          &attempts.Add(l),
                                          &latency.Add(l, destination_latency_buckets()),
                                          &breaker.Add(l),
                                          &tokens.Add(l),
                                          &in_flight.Add(l),
                                          &queued.Add(l),
                                          &parked.Add(l),
                                          &oldest.Add(l)});
    }
    auto& forwarded = prometheus::BuildCounter()
                          .Name("relay_delivery_tier_forwarded_total")
                          .Help("Records a delay tier handed back to the deliveries topic when due")
                          .Register(r);
    auto& waiting = prometheus::BuildGauge()
                        .Name("relay_delivery_tier_partitions_waiting")
                        .Help("Delay-tier partitions paused until their head record is due")
                        .Register(r);
    for (const auto& t : tiers) {
        tier_forwarded_[t] = &forwarded.Add({{"tier", t}});
        tier_waiting_[t] = &waiting.Add({{"tier", t}});
    }
    auto counter = [&](const char* name, const char* help) {
        return &prometheus::BuildCounter().Name(name).Help(help).Register(r).Add({});
    };
    stale_retries_ =
        counter("relay_delivery_stale_retries_total",
                "Retries that came back for a head already settled (a duplicate forward): dropped");
    unknown_destination_ = counter("relay_delivery_unknown_destination_total",
                                   "Records for a destination not in the configuration: dead-lettered");
    lost_parked_ = counter("relay_delivery_parked_records_lost_total",
                           "Parked records whose body was gone from the changelog (should stay 0)");
    metrics::register_build_info(r, "delivery", RELAY_VERSION);
}

}  // namespace relay::delivery_service
