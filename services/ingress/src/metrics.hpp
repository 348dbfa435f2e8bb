#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace relay::ingress {

/// Handles for one integration's hot-path series, looked up once at start-up: prometheus-cpp's
/// Family::Add hashes the labels and takes a lock on every call.
struct IntegrationMetrics {
    std::string name;
    prometheus::Counter* fhir_ok = nullptr;          // requests_total{route="fhir",code="200"}
    prometheus::Histogram* fhir_duration = nullptr;  // request_duration_seconds{route="fhir"}
    prometheus::Histogram* body_bytes = nullptr;
    std::unordered_map<std::string, prometheus::Counter*> published;  // by accepted event; read-only
};

/// The ingress's Prometheus metrics. Labels are bounded: integration names come from configuration,
/// routes and reasons from fixed vocabularies, event codes only from the configured accepted list.
class IngressMetrics {
   public:
    explicit IngressMetrics(std::shared_ptr<prometheus::Registry> registry);

    /// Creates the cached series of an integration; call at start-up for every integration.
    IntegrationMetrics& add_integration(const std::string& name,
                                        const std::vector<std::string>& accepted_events);

    void request(std::string_view integration, std::string_view route, int status, double seconds);
    /// The hot path of an answered FHIR request (cached series for 200).
    void fhir_request(IntegrationMetrics& integration, int status, double seconds);
    void published(IntegrationMetrics& integration, const std::string& event);
    void rejection(std::string_view integration, std::string_view reason);
    void published(std::string_view integration, std::string_view event);
    void ignored(std::string_view integration, std::string_view reason);
    void kafka_ack(bool ok, double seconds);
    void tokens_issued(std::string_view integration);

    /// Hub API: an answered request, by hub system ("unknown" before authentication), action (or
    /// "update", "token", "unknown") and status class ("2xx", "4xx", "5xx").
    void hub_request(std::string_view system, std::string_view action, int status, double seconds);
    /// Hub API: produce to broker acknowledgement (or failure) of one update.
    void hub_publish(std::string_view system, bool ok, double seconds);
    void hub_rejection(std::string_view system, std::string_view reason);
    /// Open API webhook: one answered request by integration, bounded type label (openapi::type_label)
    /// and outcome (accepted, duplicate, challenge, unauthorized, rate_limited, invalid, wrong_site,
    /// unavailable).
    void notification(std::string_view integration, std::string_view type, std::string_view outcome);
    /// A request answered 429 because its address or credential failed authentication too often.
    void throttled(std::string_view scope);
    /// A blocked episode started (once per episode, not per request).
    void throttle_episode(std::string_view scope);
    /// The request body memory in use and its budget, read at each scrape.
    void body_memory(std::uint64_t used, std::uint64_t capacity);

    prometheus::Gauge& in_flight() { return *in_flight_; }
    prometheus::Gauge& ready() { return *ready_; }
    prometheus::Registry& registry() { return *registry_; }

   private:
    std::shared_ptr<prometheus::Registry> registry_;
    prometheus::Family<prometheus::Counter>& requests_;
    prometheus::Family<prometheus::Histogram>& duration_;
    prometheus::Family<prometheus::Histogram>& body_bytes_;
    prometheus::Family<prometheus::Counter>& rejections_;
    prometheus::Family<prometheus::Counter>& published_;
    prometheus::Family<prometheus::Counter>& ignored_;
    prometheus::Family<prometheus::Histogram>& kafka_ack_;
    prometheus::Family<prometheus::Counter>& tokens_;
    prometheus::Family<prometheus::Counter>& hub_requests_;
    prometheus::Family<prometheus::Histogram>& hub_duration_;
    prometheus::Family<prometheus::Histogram>& hub_publish_;
    prometheus::Family<prometheus::Counter>& hub_rejections_;
    prometheus::Family<prometheus::Counter>& notifications_;
    prometheus::Gauge* in_flight_;
    prometheus::Family<prometheus::Counter>& throttled_;
    prometheus::Family<prometheus::Counter>& throttle_episodes_;
    prometheus::Gauge* body_memory_used_;
    prometheus::Gauge* body_memory_capacity_;
    prometheus::Gauge* ready_;
    std::deque<IntegrationMetrics> integrations_;  // stable addresses
};

}  // namespace relay::ingress
