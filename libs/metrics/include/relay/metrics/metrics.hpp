#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

namespace relay::metrics {

using RegistryPtr = std::shared_ptr<prometheus::Registry>;

/// The Prometheus text exposition (format 0.0.4) of everything in the registry.
std::string serialize(const prometheus::Registry& registry);

/// Content-Type of `serialize`'s output.
inline constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

/// Buckets for request and broker-ack latencies, in seconds: from 0.5 ms to 30 s around the ingress SLO
/// (Ocean waits a few seconds at most).
prometheus::Histogram::BucketBoundaries latency_buckets();
/// Buckets for body sizes, in bytes: 1 KiB to 32 MiB by powers of 4.
prometheus::Histogram::BucketBoundaries size_buckets();

/// Registers relay_build_info{service,version} = 1.
void register_build_info(prometheus::Registry& registry,
                         const std::string& service,
                         const std::string& version);

}  // namespace relay::metrics
