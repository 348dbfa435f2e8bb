#include "bundle_follower.hpp"

#include <librdkafka/rdkafka.h>

#include "relay/contracts/changelog.hpp"
#include "relay/core/config.hpp"
#include "relay/core/log.hpp"
#include "relay/kafka/consumer.hpp"

namespace relay::updater {

namespace {

void set(rd_kafka_conf_t* conf, const std::string& name, const std::string& value) {
    char error[512] = {};
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), error, sizeof error) != RD_KAFKA_CONF_OK)
        throw ConfigError("kafka property " + name + ": " + error);
}

}  // namespace

BundleFollower::BundleFollower(const kafka::ClientConfig& client, std::string topic, Sink sink)
    : topic_(std::move(topic)), sink_(std::move(sink)), at_rest_(client.at_rest) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    try {
        set(conf, "bootstrap.servers", client.bootstrap_servers);
        set(conf, "client.id", client.client_id + "-bundles");
        for (const auto& [name, value] : client.properties) set(conf, name, value);
        // Assigned, never subscribed: the group id is only there because librdkafka's consumer wants
        // one; nothing is committed under it.
        set(conf, "group.id", "ocean-relay-updater-bundles");
        set(conf, "enable.auto.commit", "false");
        set(conf, "enable.auto.offset.store", "false");
        set(conf, "auto.offset.reset", "earliest");
        set(conf, "fetch.max.bytes", std::to_string(64 << 20));
        set(conf, "max.partition.fetch.bytes", std::to_string(64 << 20));
        set(conf, "receive.message.max.bytes", std::to_string(65 << 20));
        set(conf, "fetch.wait.max.ms", "100");
    } catch (...) {
        rd_kafka_conf_destroy(conf);
        throw;
    }
    char error[512] = {};
    rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
    if (rk_ == nullptr) {
        rd_kafka_conf_destroy(conf);
        throw ConfigError(std::string("kafka bundle follower: ") + error);
    }
    rd_kafka_poll_set_consumer(rk_);
    thread_ = std::thread([this] { run(); });
}

BundleFollower::~BundleFollower() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    rd_kafka_consumer_close(rk_);
    rd_kafka_destroy(rk_);
}

void BundleFollower::follow(std::int32_t partition, std::int64_t from_offset, std::uint64_t generation) {
    std::lock_guard lock(mutex_);
    followed_[partition] = Followed{from_offset, generation};
    changed_ = true;
}

void BundleFollower::unfollow(std::int32_t partition) {
    std::lock_guard lock(mutex_);
    followed_.erase(partition);
    changed_ = true;
}

void BundleFollower::run() {
    while (!stop_) {
        {
            std::lock_guard lock(mutex_);
            if (changed_) {
                // The whole assignment again, each partition at the offset after the last record seen.
                rd_kafka_topic_partition_list_t* list =
                    rd_kafka_topic_partition_list_new(static_cast<int>(followed_.size()));
                for (const auto& [partition, f] : followed_)
                    rd_kafka_topic_partition_list_add(list, topic_.c_str(), partition)->offset = f.next;
                const rd_kafka_resp_err_t err = rd_kafka_assign(rk_, list);
                rd_kafka_topic_partition_list_destroy(list);
                if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
                    log::error("bundle follower: assign failed", {{"error", rd_kafka_err2name(err)}});
                changed_ = false;
            }
        }
        rd_kafka_message_t* raw = rd_kafka_consumer_poll(rk_, 100);
        if (raw == nullptr) continue;
        if (raw->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            const rd_kafka_resp_err_t e = raw->err;
            rd_kafka_message_destroy(raw);
            if (e != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                log::warn("bundle follower: consumer error",
                          {{"topic", topic_}, {"error", rd_kafka_err2name(e)}});
            continue;
        }
        const kafka::Message m(raw, at_rest_.get());
        BundleRecord record;
        {
            std::lock_guard lock(mutex_);
            const auto it = followed_.find(m.partition());
            // Not followed any more, or a record from before a reassignment already seen.
            if (it == followed_.end() || m.offset() < it->second.next) continue;
            it->second.next = m.offset() + 1;
            record.generation = it->second.generation;
        }
        auto ref = contracts::changelog::bundle_key_ref(m.key());
        if (!ref) continue;  // the router's dedup state
        record.partition = m.partition();
        record.referral_ref = std::move(*ref);
        if (m.has_value()) record.bundle = std::string(m.value());
        record.offset = m.offset();
        record.timestamp_ms = m.timestamp_ms();
        sink_(std::move(record));
    }
}

}  // namespace relay::updater
