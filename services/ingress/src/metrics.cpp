#include "metrics.hpp"

#include <string>

#include "relay/metrics/metrics.hpp"

namespace relay::ingress {

IngressMetrics::IngressMetrics(std::shared_ptr<prometheus::Registry> registry)
    : registry_(std::move(registry)),
      requests_(prometheus::BuildCounter()
                    .Name("relay_ingress_requests_total")
                    .Help("HTTP requests answered, by integration, route and status code")
                    .Register(*registry_)),
      duration_(prometheus::BuildHistogram()
                    .Name("relay_ingress_request_duration_seconds")
                    .Help("Time from a complete request to its response, broker acknowledgement included")
                    .Register(*registry_)),
      body_bytes_(prometheus::BuildHistogram()
                      .Name("relay_ingress_request_body_bytes")
                      .Help("Size of accepted request bodies")
                      .Register(*registry_)),
      rejections_(prometheus::BuildCounter()
                      .Name("relay_ingress_rejections_total")
                      .Help("Requests refused, by integration and reason")
                      .Register(*registry_)),
      published_(prometheus::BuildCounter()
                     .Name("relay_ingress_published_total")
                     .Help("Messages acknowledged by Kafka, by integration and event code")
                     .Register(*registry_)),
      ignored_(prometheus::BuildCounter()
                   .Name("relay_ingress_ignored_total")
                   .Help("Well-formed messages acknowledged with 200 but not published, by reason")
                   .Register(*registry_)),
      kafka_ack_(prometheus::BuildHistogram()
                     .Name("relay_ingress_kafka_ack_duration_seconds")
                     .Help("Time from produce to the broker's acknowledgement (or failure)")
                     .Register(*registry_)),
      tokens_(prometheus::BuildCounter()
                  .Name("relay_ingress_tokens_issued_total")
                  .Help("OAuth2 access tokens issued, by integration")
                  .Register(*registry_)),
      hub_requests_(prometheus::BuildCounter()
                        .Name("relay_ingress_hub_requests_total")
                        .Help("Hub API requests answered, by hub system, action and status class")
                        .Register(*registry_)),
      hub_duration_(prometheus::BuildHistogram()
                        .Name("relay_ingress_hub_request_duration_seconds")
                        .Help("Hub API: time from a complete request to its response, by hub system")
                        .Register(*registry_)),
      hub_publish_(prometheus::BuildHistogram()
                       .Name("relay_ingress_hub_publish_duration_seconds")
                       .Help("Hub API: produce to broker acknowledgement of an update, by system and outcome")
                       .Register(*registry_)),
      hub_rejections_(prometheus::BuildCounter()
                          .Name("relay_ingress_hub_rejections_total")
                          .Help("Hub API requests refused, by hub system and reason")
                          .Register(*registry_)),
      notifications_(prometheus::BuildCounter()
                         .Name("relay_ingress_notifications_total")
                         .Help("Open API webhook requests answered, by integration, notification type "
                               "(known types by name, others 'other', 'none' before or without one) and outcome")
                         .Register(*registry_)),
      in_flight_(&prometheus::BuildGauge()
                      .Name("relay_ingress_inflight_requests")
                      .Help("Requests being handled now")
                      .Register(*registry_)
                      .Add({})),
      throttled_(prometheus::BuildCounter()
                     .Name("relay_ingress_auth_throttled_total")
                     .Help("Requests answered 429 because their client address or credential failed "
                           "authentication too often, by scope (address, credential)")
                     .Register(*registry_)),
      throttle_episodes_(prometheus::BuildCounter()
                             .Name("relay_ingress_auth_throttle_episodes_total")
                             .Help("Addresses or credentials blocked after repeated failed authentications")
                             .Register(*registry_)),
      body_memory_used_(&prometheus::BuildGauge()
                             .Name("relay_ingress_body_memory_bytes")
                             .Help("Memory charged to request bodies in flight (limits.max_body_memory)")
                             .Register(*registry_)
                             .Add({})),
      body_memory_capacity_(&prometheus::BuildGauge()
                                 .Name("relay_ingress_body_memory_limit_bytes")
                                 .Help("The budget of request body memory; past it requests get 503")
                                 .Register(*registry_)
                                 .Add({})),
      ready_(&prometheus::BuildGauge()
                  .Name("relay_ingress_ready")
                  .Help("1 when the broker is reachable and the topics exist, 0 otherwise or while draining")
                  .Register(*registry_)
                  .Add({})) {}

IntegrationMetrics& IngressMetrics::add_integration(const std::string& name,
                                                    const std::vector<std::string>& accepted_events) {
    IntegrationMetrics& m = integrations_.emplace_back();
    m.name = name;
    m.fhir_ok = &requests_.Add({{"integration", name}, {"route", "fhir"}, {"code", "200"}});
    m.fhir_duration = &duration_.Add({{"integration", name}, {"route", "fhir"}}, metrics::latency_buckets());
    m.body_bytes = &body_bytes_.Add({{"integration", name}}, metrics::size_buckets());
    for (const auto& event : accepted_events) {
        m.published[event] = &published_.Add({{"integration", name}, {"event", event}});
    }
    return m;
}

void IngressMetrics::fhir_request(IntegrationMetrics& integration, int status, double seconds) {
    if (status == 200) {
        integration.fhir_ok->Increment();
    } else {
        requests_
            .Add({{"integration", integration.name}, {"route", "fhir"}, {"code", std::to_string(status)}})
            .Increment();
    }
    integration.fhir_duration->Observe(seconds);
}

void IngressMetrics::published(IntegrationMetrics& integration, const std::string& event) {
    if (auto it = integration.published.find(event); it != integration.published.end()) {
        it->second->Increment();
        return;
    }
    published(integration.name, event);
}

void IngressMetrics::request(std::string_view integration,
                             std::string_view route,
                             int status,
                             double seconds) {
    requests_
        .Add({{"integration", std::string(integration)},
              {"route", std::string(route)},
              {"code", std::to_string(status)}})
        .Increment();
    duration_
        .Add({{"integration", std::string(integration)}, {"route", std::string(route)}},
             metrics::latency_buckets())
        .Observe(seconds);
}

void IngressMetrics::rejection(std::string_view integration, std::string_view reason) {
    rejections_.Add({{"integration", std::string(integration)}, {"reason", std::string(reason)}}).Increment();
}

void IngressMetrics::published(std::string_view integration, std::string_view event) {
    published_.Add({{"integration", std::string(integration)}, {"event", std::string(event)}}).Increment();
}

void IngressMetrics::ignored(std::string_view integration, std::string_view reason) {
    ignored_.Add({{"integration", std::string(integration)}, {"reason", std::string(reason)}}).Increment();
}

void IngressMetrics::kafka_ack(bool ok, double seconds) {
    kafka_ack_.Add({{"outcome", ok ? "ok" : "failed"}}, metrics::latency_buckets()).Observe(seconds);
}

void IngressMetrics::hub_request(std::string_view system,
                                 std::string_view action,
                                 int status,
                                 double seconds) {
    const std::string status_class = std::to_string(status / 100) + "xx";
    hub_requests_
        .Add({{"system", std::string(system)}, {"action", std::string(action)}, {"class", status_class}})
        .Increment();
    hub_duration_.Add({{"system", std::string(system)}}, metrics::latency_buckets()).Observe(seconds);
}

void IngressMetrics::hub_publish(std::string_view system, bool ok, double seconds) {
    hub_publish_
        .Add({{"system", std::string(system)}, {"outcome", ok ? "ok" : "failed"}}, metrics::latency_buckets())
        .Observe(seconds);
}

void IngressMetrics::throttled(std::string_view scope) {
    throttled_.Add({{"scope", std::string(scope)}}).Increment();
}

void IngressMetrics::throttle_episode(std::string_view scope) {
    throttle_episodes_.Add({{"scope", std::string(scope)}}).Increment();
}

void IngressMetrics::body_memory(std::uint64_t used, std::uint64_t capacity) {
    body_memory_used_->Set(static_cast<double>(used));
    body_memory_capacity_->Set(static_cast<double>(capacity));
}

void IngressMetrics::hub_rejection(std::string_view system, std::string_view reason) {
    hub_rejections_.Add({{"system", std::string(system)}, {"reason", std::string(reason)}}).Increment();
}

void IngressMetrics::notification(std::string_view integration, std::string_view type, std::string_view outcome) {
    notifications_
        .Add({{"integration", std::string(integration)}, {"type", std::string(type)}, {"outcome", std::string(outcome)}})
        .Increment();
}

void IngressMetrics::tokens_issued(std::string_view integration) {
    tokens_.Add({{"integration", std::string(integration)}}).Increment();
}

}  // namespace relay::ingress
