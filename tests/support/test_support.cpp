#include "test_support.hpp"

#include <librdkafka/rdkafka.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace relay::test {

std::string read_fixture(const std::string& relative_path) {
    const std::string path = std::string(RELAY_FIXTURES_DIR) + "/" + relative_path;
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read fixture " + path);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

std::vector<std::pair<std::string, std::string>> ocean_fixtures() {
    std::vector<std::pair<std::string, std::string>> fixtures;
    const std::filesystem::path dir = std::filesystem::path(RELAY_FIXTURES_DIR) / "ocean-fhir-v0.11.1";
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.path().extension() != ".json") continue;
        fixtures.emplace_back(entry.path().filename().string(),
                              read_fixture("ocean-fhir-v0.11.1/" + entry.path().filename().string()));
    }
    std::sort(fixtures.begin(), fixtures.end());
    return fixtures;
}

std::string kafka_bootstrap() {
    if (const char* env = std::getenv("RELAY_TEST_KAFKA"); env != nullptr && *env != '\0') return env;
    std::ifstream in(std::string(RELAY_KAFKA_STATE) + "/bootstrap");
    std::string bootstrap;
    std::getline(in, bootstrap);
    if (bootstrap.empty()) {
        throw std::runtime_error(
            "no test broker: run through ctest (fixture 'kafka') or set RELAY_TEST_KAFKA");
    }
    return bootstrap;
}

bool kafka_broker(const std::string& command) {
    const std::string cmd = std::string("'") + RELAY_SOURCE_DIR + "/tests/kafka/kafka-broker.sh' " + command +
                            " '" + RELAY_KAFKA_STATE + "' >/dev/null";
    return std::system(cmd.c_str()) == 0;
}

std::string ConsumedRecord::header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
}

std::vector<ConsumedRecord> consume_all(const std::string& bootstrap,
                                        const std::string& topic,
                                        std::size_t expected,
                                        std::chrono::milliseconds timeout) {
    std::array<char, 512> error{};
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), error.data(), error.size());
    const std::string group = "relay-test-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand());
    rd_kafka_conf_set(conf, "group.id", group.c_str(), error.data(), error.size());
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", error.data(), error.size());
    // Were a start offset ever out of range, reading on from the end would skip records silently.
    rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", error.data(), error.size());
    rd_kafka_conf_set(conf, "fetch.max.bytes", "67108864", error.data(), error.size());
    rd_kafka_conf_set(conf, "max.partition.fetch.bytes", "67108864", error.data(), error.size());
    rd_kafka_conf_set(conf, "receive.message.max.bytes", "100000000", error.data(), error.size());
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error.data(), error.size());
    if (rk == nullptr) throw std::runtime_error(error.data());

    const rd_kafka_metadata_t* metadata = nullptr;
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
    if (rd_kafka_metadata(rk, 0, rkt, &metadata, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_topic_destroy(rkt);
        rd_kafka_destroy(rk);
        throw std::runtime_error("metadata request failed for " + topic);
    }
    rd_kafka_topic_partition_list_t* partitions = rd_kafka_topic_partition_list_new(8);
    for (int t = 0; t < metadata->topic_cnt; ++t) {
        for (int p = 0; p < metadata->topics[t].partition_cnt; ++p) {
            rd_kafka_topic_partition_list_add(partitions, topic.c_str(), metadata->topics[t].partitions[p].id)
                ->offset = RD_KAFKA_OFFSET_BEGINNING;
        }
    }
    rd_kafka_metadata_destroy(metadata);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_assign(rk, partitions);
    rd_kafka_topic_partition_list_destroy(partitions);

    std::vector<ConsumedRecord> records;
    int reported_errors = 0;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (records.size() < expected && std::chrono::steady_clock::now() < deadline) {
        rd_kafka_message_t* msg = rd_kafka_consumer_poll(rk, 100);
        if (msg == nullptr) continue;
        if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            ConsumedRecord record;
            record.topic = topic;
            record.partition = msg->partition;
            record.offset = msg->offset;
            if (msg->key != nullptr) record.key.assign(static_cast<const char*>(msg->key), msg->key_len);
            if (msg->payload != nullptr)
                record.value.assign(static_cast<const char*>(msg->payload), msg->len);
            rd_kafka_headers_t* headers = nullptr;
            if (rd_kafka_message_headers(msg, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
                const char* name = nullptr;
                const void* value = nullptr;
                size_t size = 0;
                for (size_t i = 0;
                     rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
                     ++i) {
                    record.headers.emplace(name, std::string(static_cast<const char*>(value), size));
                }
            }
            records.push_back(std::move(record));
        } else if (reported_errors++ < 20) {
            // A consumer error here is the first thing to know when a count comes out short.
            std::fprintf(stderr, "consume_all(%s): partition %d: %s\n", topic.c_str(), msg->partition,
                         rd_kafka_err2str(msg->err));
        }
        rd_kafka_message_destroy(msg);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return records;
}

std::map<std::int32_t, std::int64_t> high_watermarks(const std::string& bootstrap, const std::string& topic) {
    std::array<char, 512> error{};
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), error.data(), error.size());
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error.data(), error.size());
    if (rk == nullptr) throw std::runtime_error(error.data());
    std::map<std::int32_t, std::int64_t> result;
    const rd_kafka_metadata_t* metadata = nullptr;
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
    if (rd_kafka_metadata(rk, 0, rkt, &metadata, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (int t = 0; t < metadata->topic_cnt; ++t) {
            for (int p = 0; p < metadata->topics[t].partition_cnt; ++p) {
                const std::int32_t partition = metadata->topics[t].partitions[p].id;
                std::int64_t low = -1, high = -1;
                if (rd_kafka_query_watermark_offsets(rk, topic.c_str(), partition, &low, &high, 10000) ==
                    RD_KAFKA_RESP_ERR_NO_ERROR) {
                    result[partition] = high;
                }
            }
        }
        rd_kafka_metadata_destroy(metadata);
    }
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return result;
}

std::string unique_topic(const std::string& stem) {
    static std::atomic<int> counter{0};
    return stem + "." + std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1));
}

}  // namespace relay::test
