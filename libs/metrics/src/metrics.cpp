#include "relay/metrics/metrics.hpp"

#include <prometheus/text_serializer.h>

namespace relay::metrics {

std::string serialize(const prometheus::Registry& registry) {
    prometheus::TextSerializer serializer;
    return serializer.Serialize(registry.Collect());
}

prometheus::Histogram::BucketBoundaries latency_buckets() {
    return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

prometheus::Histogram::BucketBoundaries size_buckets() {
    return {1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 33554432};
}

void register_build_info(prometheus::Registry& registry,
                         const std::string& service,
                         const std::string& version) {
    prometheus::BuildGauge()
        .Name("relay_build_info")
        .Help("Build information; always 1")
        .Register(registry)
        .Add({{"service", service}, {"version", version}})
        .Set(1);
}

}  // namespace relay::metrics
