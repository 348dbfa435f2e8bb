// The ingress's fixed per-request costs outside JSON and I/O, one by one, as handle_fhir() pays them for an
// accepted bundle (services/ingress/src/ingress.cpp), so the load test's CPU-per-request can be apportioned.
//
//   BM_MetricsAccepted        every metric call of one accepted request: in-flight gauge up/down, body_bytes,
//                             kafka_ack, published, request (counter + histogram): 6 Family::Add label
//                             lookups
//   BM_MetricsRequest         IngressMetrics::request alone
//   BM_MetricsCachedChild     the same increments + observations through references resolved once (a lower
//   bound) BM_NewMessageId           relay::new_message_id() (one RAND_bytes) BM_TraceParentNewRoot
//   TraceParent::new_root() + to_string() (three RAND_bytes) BM_ReceivedAt
//   format_rfc3339_millis(system_now()) BM_OperationOutcome       the 200 response body BM_LogAccepted/info
//   the "bundle accepted" line at info level, written to /dev/null BM_LogAccepted/warn       the same call
//   with the level at warn (what run-load.sh configures)
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>

#include "metrics.hpp"
#include "relay/core/ids.hpp"
#include "relay/core/log.hpp"
#include "relay/core/time.hpp"
#include "relay/fhir/operation_outcome.hpp"
#include "relay/metrics/metrics.hpp"

namespace {

constexpr std::string_view kIntegration = "1234";
constexpr std::string_view kEvent = "add-service-request";

relay::ingress::IngressMetrics& shared_metrics() {
    static relay::ingress::IngressMetrics metrics(std::make_shared<prometheus::Registry>());
    return metrics;
}

// What the ingress does per accepted request: the integration's series were looked up at start-up.
void BM_MetricsAccepted(benchmark::State& state) {
    auto& metrics = shared_metrics();
    static relay::ingress::IntegrationMetrics& integration =
        metrics.add_integration(std::string(kIntegration), {std::string(kEvent)});
    const std::string event(kEvent);
    for (auto _ : state) {
        metrics.in_flight().Increment();
        integration.body_bytes->Observe(10240);
        metrics.kafka_ack(true, 0.0012);
        metrics.published(integration, event);
        metrics.fhir_request(integration, 200, 0.0019);
        metrics.in_flight().Decrement();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_MetricsAccepted)->ThreadRange(1, 2)->UseRealTime();

void BM_MetricsRequest(benchmark::State& state) {
    auto& metrics = shared_metrics();
    for (auto _ : state) metrics.request(kIntegration, "fhir", 200, 0.0019);
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_MetricsRequest);

void BM_MetricsCachedChild(benchmark::State& state) {
    prometheus::Registry registry;
    auto& counters = prometheus::BuildCounter().Name("c").Help("c").Register(registry);
    auto& histograms = prometheus::BuildHistogram().Name("h").Help("h").Register(registry);
    auto& gauge = prometheus::BuildGauge().Name("g").Help("g").Register(registry).Add({});
    auto& requests = counters.Add({{"integration", "1234"}, {"route", "fhir"}, {"code", "200"}});
    auto& published = counters.Add({{"integration", "1234"}, {"event", "add-service-request"}});
    auto& duration =
        histograms.Add({{"integration", "1234"}, {"route", "fhir"}}, relay::metrics::latency_buckets());
    auto& ack = histograms.Add({{"outcome", "ok"}}, relay::metrics::latency_buckets());
    auto& bytes = histograms.Add({{"integration", "1234"}, {"kind", "size"}}, relay::metrics::size_buckets());
    for (auto _ : state) {
        gauge.Increment();
        bytes.Observe(10240);
        ack.Observe(0.0012);
        published.Increment();
        requests.Increment();
        duration.Observe(0.0019);
        gauge.Decrement();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_MetricsCachedChild);

void BM_NewMessageId(benchmark::State& state) {
    for (auto _ : state) benchmark::DoNotOptimize(relay::new_message_id());
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_NewMessageId);

void BM_TraceParentNewRoot(benchmark::State& state) {
    for (auto _ : state) benchmark::DoNotOptimize(relay::TraceParent::new_root().to_string());
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_TraceParentNewRoot);

void BM_ReceivedAt(benchmark::State& state) {
    for (auto _ : state) benchmark::DoNotOptimize(relay::format_rfc3339_millis(relay::system_now()));
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_ReceivedAt);

void BM_OperationOutcome(benchmark::State& state) {
    const std::string id = relay::new_message_id();
    for (auto _ : state) {
        benchmark::DoNotOptimize(relay::fhir::operation_outcome(
            "information", "informational", fmt::format("accepted as message {}", id)));
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_OperationOutcome);

// log::write goes to fd 2: point it at /dev/null for the benchmark, then restore it.
void BM_LogAccepted(benchmark::State& state) {
    const bool info = state.range(0) != 0;
    relay::log::set_level(info ? relay::log::Level::kInfo : relay::log::Level::kWarn);
    const int saved = ::dup(STDERR_FILENO);
    const int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, STDERR_FILENO);
    const std::string message_id = relay::new_message_id();
    const std::string referral_ref = "71db1a5c-89ce-41d5-bc71-8466f6c2f182";
    const std::string trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    for (auto _ : state) {
        relay::log::info("bundle accepted",
                         {{"integration", kIntegration},
                          {"message_id", message_id},
                          {"referral_ref", referral_ref},
                          {"event", kEvent},
                          {"partition", 3},
                          {"offset", 123456LL},
                          {"bytes", 10240LL},
                          {"trace_id", trace_id}});
    }
    ::dup2(saved, STDERR_FILENO);
    ::close(saved);
    ::close(devnull);
    relay::log::set_level(relay::log::Level::kInfo);
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
    state.SetLabel(info ? "info (written)" : "warn (filtered)");
}
BENCHMARK(BM_LogAccepted)->Arg(1)->Arg(0);

}  // namespace
