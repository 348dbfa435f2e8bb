#include "relay/kafka/admin.hpp"

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>

#include <array>
#include <charconv>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "relay/core/config.hpp"
#include "relay/core/log.hpp"

namespace relay::kafka {
namespace {

struct QueueDeleter {
    void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
};
struct EventDeleter {
    void operator()(rd_kafka_event_t* e) const { rd_kafka_event_destroy(e); }
};
using Queue = std::unique_ptr<rd_kafka_queue_t, QueueDeleter>;
using Event = std::unique_ptr<rd_kafka_event_t, EventDeleter>;

Event wait_for(rd_kafka_queue_t* queue, std::chrono::milliseconds timeout, const char* what) {
    Event event(rd_kafka_queue_poll(queue, static_cast<int>(timeout.count())));
    if (!event)
        throw ConfigError(
            fmt::format("kafka: {} timed out after {}ms (is the broker reachable?)", what, timeout.count()));
    if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        throw ConfigError(
            fmt::format("kafka: {} failed: {}", what, rd_kafka_event_error_string(event.get())));
    }
    return event;
}

void create_missing(rd_kafka_t* rk, const std::vector<TopicSpec>& topics, std::chrono::milliseconds timeout) {
    std::vector<rd_kafka_NewTopic_t*> new_topics;
    std::array<char, 512> error{};
    for (const auto& spec : topics) {
        rd_kafka_NewTopic_t* t = rd_kafka_NewTopic_new(
            spec.name.c_str(), spec.partitions, spec.replication_factor, error.data(), error.size());
        if (t == nullptr) {
            for (auto* n : new_topics) rd_kafka_NewTopic_destroy(n);
            throw ConfigError(fmt::format("kafka topic '{}': {}", spec.name, error.data()));
        }
        if (spec.max_message_bytes > 0) {
            rd_kafka_NewTopic_set_config(
                t, "max.message.bytes", std::to_string(spec.max_message_bytes).c_str());
        }
        for (const auto& [name, value] : spec.configs)
            rd_kafka_NewTopic_set_config(t, name.c_str(), value.c_str());
        new_topics.push_back(t);
    }
    Queue queue(rd_kafka_queue_new(rk));
    rd_kafka_AdminOptions_t* options = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(
        options, static_cast<int>(timeout.count()), error.data(), error.size());
    rd_kafka_CreateTopics(rk, new_topics.data(), new_topics.size(), options, queue.get());
    rd_kafka_AdminOptions_destroy(options);
    for (auto* n : new_topics) rd_kafka_NewTopic_destroy(n);

    Event event = wait_for(queue.get(), timeout + std::chrono::seconds(5), "creating topics");
    const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(event.get());
    std::size_t count = 0;
    const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(result, &count);
    for (std::size_t i = 0; i < count; ++i) {
        const auto err = rd_kafka_topic_result_error(results[i]);
        const char* name = rd_kafka_topic_result_name(results[i]);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            log::info("kafka topic created", {{"topic", name}});
        } else if (err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            throw ConfigError(fmt::format(
                "kafka topic '{}': cannot create: {}", name, rd_kafka_topic_result_error_string(results[i])));
        }
    }
}

using MetadataPtr = std::unique_ptr<const rd_kafka_metadata_t, void (*)(const rd_kafka_metadata_t*)>;

/// Cluster metadata in which every topic of `topics` is listed without error. A topic created a moment
/// ago (by us or by another process) can be listed with LEADER_NOT_AVAILABLE for a while: retry until
/// `timeout` before calling it missing.
MetadataPtr settled_metadata(rd_kafka_t* rk,
                             const std::vector<TopicSpec>& topics,
                             bool created,
                             std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const rd_kafka_metadata_t* raw = nullptr;
        const auto err = rd_kafka_metadata(rk, 1, nullptr, &raw, static_cast<int>(timeout.count()));
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            throw ConfigError(fmt::format("kafka: cannot read cluster metadata: {}", rd_kafka_err2str(err)));
        }
        MetadataPtr metadata(raw, rd_kafka_metadata_destroy);
        std::string missing;
        rd_kafka_resp_err_t why = RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
        for (const auto& spec : topics) {
            bool listed = false;
            for (int i = 0; i < metadata->topic_cnt; ++i) {
                if (spec.name != metadata->topics[i].topic) continue;
                listed = metadata->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR;
                if (!listed) why = metadata->topics[i].err;
            }
            if (!listed && missing.empty()) missing = spec.name;
        }
        if (missing.empty()) return metadata;
        // A topic nobody is creating will not appear: say so at once.
        const bool absent = why == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART && !created;
        if (absent || std::chrono::steady_clock::now() >= deadline) {
            if (why == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
                throw ConfigError(fmt::format(
                    "kafka topic '{}' does not exist (set kafka.create_topics: true or create it)", missing));
            throw ConfigError(
                fmt::format("kafka topic '{}' is not available: {}", missing, rd_kafka_err2name(why)));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
}

void verify(rd_kafka_t* rk,
            const std::vector<TopicSpec>& topics,
            bool created,
            std::chrono::milliseconds timeout) {
    const MetadataPtr metadata = settled_metadata(rk, topics, created, timeout);
    for (const auto& spec : topics) {
        int partitions = -1;
        for (int i = 0; i < metadata->topic_cnt; ++i) {
            if (spec.name == metadata->topics[i].topic) partitions = metadata->topics[i].partition_cnt;
        }
        if (partitions < spec.partitions) {
            log::warn(
                "kafka topic has fewer partitions than configured; not changing it (that would remap keys)",
                {{"topic", spec.name}, {"partitions", partitions}, {"configured", spec.partitions}});
        }
    }

    // max.message.bytes must hold the largest body we accept.
    std::vector<rd_kafka_ConfigResource_t*> resources;
    for (const auto& spec : topics) {
        if (spec.max_message_bytes > 0)
            resources.push_back(rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, spec.name.c_str()));
    }
    if (resources.empty()) return;
    Queue queue(rd_kafka_queue_new(rk));
    rd_kafka_DescribeConfigs(rk, resources.data(), resources.size(), nullptr, queue.get());
    for (auto* r : resources) rd_kafka_ConfigResource_destroy(r);
    Event event = wait_for(queue.get(), timeout, "describing topic configs");
    const rd_kafka_DescribeConfigs_result_t* result = rd_kafka_event_DescribeConfigs_result(event.get());
    std::size_t count = 0;
    const rd_kafka_ConfigResource_t** described = rd_kafka_DescribeConfigs_result_resources(result, &count);
    for (std::size_t i = 0; i < count; ++i) {
        const std::string name = rd_kafka_ConfigResource_name(described[i]);
        std::size_t entry_count = 0;
        const rd_kafka_ConfigEntry_t** entries = rd_kafka_ConfigResource_configs(described[i], &entry_count);
        for (std::size_t j = 0; j < entry_count; ++j) {
            if (std::string_view(rd_kafka_ConfigEntry_name(entries[j])) != "max.message.bytes") continue;
            const char* value = rd_kafka_ConfigEntry_value(entries[j]);
            std::uint64_t actual = 0;
            if (value != nullptr)
                std::from_chars(value, value + std::char_traits<char>::length(value), actual);
            for (const auto& spec : topics) {
                if (spec.name == name && actual < spec.max_message_bytes) {
                    throw ConfigError(
                        fmt::format("kafka topic '{}' has max.message.bytes={} but needs at least {} for the "
                                    "configured body limit",
                                    name,
                                    actual,
                                    spec.max_message_bytes));
                }
            }
        }
    }
}

}  // namespace

void ensure_topics(rd_kafka_s* rk,
                   const std::vector<TopicSpec>& topics,
                   bool create,
                   std::chrono::milliseconds timeout) {
    if (topics.empty()) return;
    if (create) create_missing(rk, topics, timeout);
    verify(rk, topics, create, timeout);
}

int partition_count(rd_kafka_t* rk, const std::string& topic, std::chrono::milliseconds timeout) {
    const rd_kafka_metadata_t* raw = nullptr;
    if (rd_kafka_metadata(rk, 1, nullptr, &raw, static_cast<int>(timeout.count())) !=
        RD_KAFKA_RESP_ERR_NO_ERROR)
        return -1;
    const MetadataPtr metadata(raw, rd_kafka_metadata_destroy);
    for (int i = 0; i < metadata->topic_cnt; ++i) {
        if (topic == metadata->topics[i].topic && metadata->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR)
            return metadata->topics[i].partition_cnt;
    }
    return -1;
}

std::optional<std::int64_t> topic_depth(rd_kafka_t* rk,
                                        const std::string& topic,
                                        std::chrono::milliseconds timeout) {
    const int partitions = partition_count(rk, topic, timeout);
    if (partitions < 0) return std::nullopt;
    std::int64_t depth = 0;
    for (int p = 0; p < partitions; ++p) {
        std::int64_t low = 0, high = 0;
        if (rd_kafka_query_watermark_offsets(
                rk, topic.c_str(), p, &low, &high, static_cast<int>(timeout.count())) !=
            RD_KAFKA_RESP_ERR_NO_ERROR)
            return std::nullopt;
        depth += high > low ? high - low : 0;
    }
    return depth;
}

}  // namespace relay::kafka
