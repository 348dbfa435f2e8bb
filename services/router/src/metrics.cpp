#include "metrics.hpp"

#include <array>

#include "relay/contracts/pushed.hpp"
#include "relay/metrics/metrics.hpp"

namespace relay::router {

namespace {

constexpr std::array<std::string_view, 9> kEvents = {"add-service-request",
                                                     "notify-update-service-request",
                                                     "revoke-service-request",
                                                     "notify-data-correction",
                                                     "send-communication",
                                                     "send-communication-from-requester",
                                                     "send-communication-from-provider",
                                                     contracts::kPushedKind,
                                                     "unknown"};

std::string_view bounded_event(std::string_view event) {
    for (const auto e : kEvents)
        if (e == event) return e;
    return "other";
}

prometheus::Histogram::BucketBoundaries cpu_buckets() {
    // Parse and render of one bundle: ~10 µs for a small one, milliseconds for megabytes of attachments.
    return {0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25};
}

}  // namespace

RouterMetrics::RouterMetrics(std::shared_ptr<prometheus::Registry> registry,
                             const std::vector<std::string>& destinations)
    : registry_(std::move(registry)),
      records_(
          prometheus::BuildCounter()
              .Name("relay_router_records_total")
              .Help("Inbound records by Ocean event and outcome (routed, duplicate, echo, stale, unrouted, "
                    "invalid, ignored, unhandled-event, pushed)")
              .Register(*registry_)),
      render_(prometheus::BuildHistogram()
                  .Name("relay_router_render_duration_seconds")
                  .Help("Time to render one referral in one destination format")
                  .Register(*registry_)),
      deliveries_(prometheus::BuildCounter()
                      .Name("relay_router_deliveries_total")
                      .Help("Delivery records produced, by destination")
                      .Register(*registry_)),
      warnings_(prometheus::BuildCounter()
                    .Name("relay_router_parse_warnings_total")
                    .Help("Unexpected but tolerated bundle shapes, by warning code")
                    .Register(*registry_)),
      dead_letters_(prometheus::BuildCounter()
                        .Name("relay_router_dead_letters_total")
                        .Help("Inbound records produced to the inbound DLQ, by reason (unhandled-event, "
                              "invalid-bundle)")
                        .Register(*registry_)) {
    parse_ = &prometheus::BuildHistogram()
                  .Name("relay_router_parse_duration_seconds")
                  .Help("Time to parse one inbound bundle into the canonical referral")
                  .Register(*registry_)
                  .Add({}, cpu_buckets());
    for (const auto& d : destinations) delivery_cache_[d] = &deliveries_.Add({{"destination", d}});
    auto gauge = [this](const char* name, const char* help) {
        return &prometheus::BuildGauge().Name(name).Help(help).Register(*registry_).Add({});
    };
    state_referrals_ = gauge("relay_router_state_referrals", "Referrals held in the dedup / echo state");
    restored_ = &prometheus::BuildCounter()
                     .Name("relay_router_restored_referrals_total")
                     .Help("Referral states restored from the changelog")
                     .Register(*registry_)
                     .Add({});
    evicted_ = &prometheus::BuildCounter()
                    .Name("relay_router_evicted_referrals_total")
                    .Help("Referral states forgotten after dedup.retention without a message")
                    .Register(*registry_)
                    .Add({});
}

void RouterMetrics::record(std::string_view event, std::string_view outcome) {
    std::string key;
    key.reserve(event.size() + outcome.size() + 1);
    key.append(bounded_event(event)).append("|").append(outcome);
    auto it = records_cache_.find(key);
    if (it == records_cache_.end()) {
        auto* counter =
            &records_.Add({{"event", std::string(bounded_event(event))}, {"outcome", std::string(outcome)}});
        it = records_cache_.emplace(std::move(key), counter).first;
    }
    it->second->Increment();
}

void RouterMetrics::render_seconds(std::string_view format, double seconds) {
    auto it = render_cache_.find(format);
    if (it == render_cache_.end())
        it = render_cache_
                 .emplace(std::string(format), &render_.Add({{"format", std::string(format)}}, cpu_buckets()))
                 .first;
    it->second->Observe(seconds);
}

void RouterMetrics::delivery(const std::string& destination) {
    const auto it = delivery_cache_.find(destination);
    if (it != delivery_cache_.end()) it->second->Increment();
}

void RouterMetrics::parse_warning(std::string_view code) {
    warnings_.Add({{"code", std::string(code)}}).Increment();
}

}  // namespace relay::router
