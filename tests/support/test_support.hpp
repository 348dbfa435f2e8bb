#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace relay::test {

/// Bytes of a file under tests/fixtures (e.g. "ocean-fhir-v0.11.1/ereferral_back_pain.bundle.json").
std::string read_fixture(const std::string& relative_path);
/// Every *.json file under tests/fixtures/ocean-fhir-v0.11.1, as {file name, bytes}.
std::vector<std::pair<std::string, std::string>> ocean_fixtures();

/// The real broker's bootstrap address, from the ctest fixture's state dir (or RELAY_TEST_KAFKA).
std::string kafka_bootstrap();
/// Runs tests/kafka/kafka-broker.sh <command> on the test broker (stop / start); true on success.
bool kafka_broker(const std::string& command);

struct ConsumedRecord {
    std::string topic;
    std::int32_t partition = -1;
    std::int64_t offset = -1;
    std::string key;
    std::string value;
    std::multimap<std::string, std::string> headers;

    [[nodiscard]] std::string header(const std::string& name) const;
};

/// An independent librdkafka consumer (no group: assigns every partition from the beginning) that
/// reads `topic` until `expected` records arrived or `timeout` passed.
std::vector<ConsumedRecord> consume_all(const std::string& bootstrap,
                                        const std::string& topic,
                                        std::size_t expected,
                                        std::chrono::milliseconds timeout);

/// Each partition's high watermark (the offset the next record will get), as the broker reports it now.
std::map<std::int32_t, std::int64_t> high_watermarks(const std::string& bootstrap, const std::string& topic);

/// A topic name no other test uses.
std::string unique_topic(const std::string& stem);

}  // namespace relay::test
