#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <string_view>

namespace relay::ingress {

/// The ingress's Prometheus metrics. Labels are bounded: integration names come from configuration,
/// routes and reasons from fixed vocabularies, event codes only from the configured accepted list.
class IngressMetrics {
   public:
    explicit IngressMetrics(std::shared_ptr<prometheus::Registry> registry);

    void request(std::string_view integration, std::string_view route, int status, double seconds);
    void body_bytes(std::string_view integration, std::size_t bytes);
    void rejection(std::string_view integration, std::string_view reason);
    void published(std::string_view integration, std::string_view event);
    void ignored(std::string_view integration, std::string_view reason);
    void kafka_ack(bool ok, double seconds);
    void tokens_issued(std::string_view integration);

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
    prometheus::Gauge* in_flight_;
    prometheus::Gauge* ready_;
};

}  // namespace relay::ingress
