#include "relay/kafka/consumer.hpp"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <variant>

#include "client_config.hpp"
#include "relay/core/config.hpp"
#include "relay/core/log.hpp"

namespace relay::kafka {

namespace {

std::vector<TopicPartition> to_vector(const rd_kafka_topic_partition_list_t* list) {
    std::vector<TopicPartition> out;
    if (list == nullptr) return out;
    out.reserve(static_cast<std::size_t>(list->cnt));
    for (int i = 0; i < list->cnt; ++i)
        out.push_back({list->elems[i].topic, list->elems[i].partition, list->elems[i].offset});
    return out;
}

struct PartitionList {
    rd_kafka_topic_partition_list_t* list;
    explicit PartitionList(const std::vector<TopicPartition>& partitions)
        : list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size()))) {
        for (const auto& tp : partitions)
            rd_kafka_topic_partition_list_add(list, tp.topic.c_str(), tp.partition)->offset = tp.offset;
    }
    ~PartitionList() { rd_kafka_topic_partition_list_destroy(list); }
    PartitionList(const PartitionList&) = delete;
    PartitionList& operator=(const PartitionList&) = delete;
};

void log_rebalance_error(const char* what, rd_kafka_error_t* error) {
    if (error == nullptr) return;
    log::error("kafka rebalance step failed", {{"step", what}, {"error", rd_kafka_error_string(error)}});
    rd_kafka_error_destroy(error);
}

}  // namespace

// -- Message --------------------------------------------------------------------------------------

Message::Message(rd_kafka_message_s* message, const AtRest* at_rest) : message_(message) {
    open_sealed(at_rest);
}

void Message::open_sealed(const AtRest* at_rest) {
    const std::optional<std::string_view> key_id = header(AtRest::kHeader);
    if (!key_id || message_->payload == nullptr) return;
    if (at_rest == nullptr) {
        at_rest_error_ = Error(ErrorKind::kPermanent, "a value sealed at rest, and no kafka.at_rest keys to open it");
    } else {
        auto opened = at_rest->open(*key_id, value());
        if (auto* error = std::get_if<Error>(&opened)) {
            at_rest_error_ = std::move(*error);
        } else {
            opened_ = std::move(std::get<std::string>(opened));
            return;
        }
    }
    log::error("kafka: a record sealed at rest could not be opened; it is passed on sealed",
               {{"topic", std::string(topic())},
                {"partition", std::to_string(partition())},
                {"offset", std::to_string(offset())},
                {"error", at_rest_error_->message}});
}
Message::~Message() {
    rd_kafka_message_destroy(message_);
}
std::string_view Message::topic() const {
    return rd_kafka_topic_name(message_->rkt);
}
std::int32_t Message::partition() const {
    return message_->partition;
}
std::int64_t Message::offset() const {
    return message_->offset;
}
std::string_view Message::key() const {
    if (message_->key == nullptr) return {};
    return {static_cast<const char*>(message_->key), message_->key_len};
}
std::string_view Message::value() const {
    if (opened_) return *opened_;
    if (message_->payload == nullptr) return {};
    return {static_cast<const char*>(message_->payload), message_->len};
}
bool Message::has_value() const {
    return message_->payload != nullptr;
}
std::optional<std::string_view> Message::header(std::string_view name) const {
    if (opened_ && name == AtRest::kHeader) return std::nullopt;
    rd_kafka_headers_t* headers = nullptr;
    if (rd_kafka_message_headers(message_, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR) return std::nullopt;
    const std::string n(name);
    const void* value = nullptr;
    std::size_t size = 0;
    if (rd_kafka_header_get_last(headers, n.c_str(), &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return std::nullopt;
    if (value == nullptr) return std::string_view();
    return std::string_view(static_cast<const char*>(value), size);
}
std::vector<Header> Message::headers() const {
    std::vector<Header> out;
    rd_kafka_headers_t* headers = nullptr;
    if (rd_kafka_message_headers(message_, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR) return out;
    const char* name = nullptr;
    const void* value = nullptr;
    std::size_t size = 0;
    for (std::size_t i = 0;
         rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
        if (opened_ && AtRest::kHeader == name) continue;
        out.push_back(
            {name, value == nullptr ? std::string() : std::string(static_cast<const char*>(value), size)});
    }
    return out;
}
std::int64_t Message::timestamp_ms() const {
    rd_kafka_timestamp_type_t type;
    return rd_kafka_message_timestamp(message_, &type);
}

// -- GroupConsumer --------------------------------------------------------------------------------

struct ConsumerCallbacks {
    static void rebalance(rd_kafka_t* /*rk*/,
                          rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* partitions,
                          void* opaque) {
        static_cast<GroupConsumer*>(opaque)->handle_rebalance(static_cast<int>(err), partitions);
    }
};

GroupConsumer::GroupConsumer(const ConsumerConfig& config, RebalanceListener& listener)
    : at_rest_(config.client.at_rest), listener_(listener) {
    if (config.group_id.empty()) throw ConfigError("kafka consumer: group id is required");
    rd_kafka_conf_t* conf = detail::make_conf(config.client);
    try {
        detail::set(conf, "group.id", config.group_id);
        detail::set(conf, "partition.assignment.strategy", "cooperative-sticky");
        detail::set(conf, "enable.auto.commit", "false");
        detail::set(conf, "enable.auto.offset.store", "false");
        detail::set(conf, "auto.offset.reset", config.auto_offset_reset);
        detail::set(conf, "session.timeout.ms", std::to_string(config.session_timeout.count()));
        detail::set(conf, "max.poll.interval.ms", std::to_string(config.max_poll_interval.count()));
        const std::uint64_t fetch = std::min(config.fetch_bytes, config.max_fetch_bytes);
        detail::set(conf, "fetch.max.bytes", std::to_string(fetch));
        detail::set(conf, "max.partition.fetch.bytes", std::to_string(std::max<std::uint64_t>(fetch / 4, 64 << 10)));
        detail::set(conf, "queued.max.messages.kbytes", std::to_string(config.prefetch_kbytes));
        detail::set(conf, "fetch.wait.max.ms", std::to_string(config.fetch_wait.count()));
        detail::set(conf, "receive.message.max.bytes", std::to_string(config.max_fetch_bytes + (1 << 20)));
    } catch (...) {
        rd_kafka_conf_destroy(conf);
        throw;
    }
    rd_kafka_conf_set_rebalance_cb(conf, &ConsumerCallbacks::rebalance);
    rd_kafka_conf_set_opaque(conf, this);
    char error[512] = {};
    rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
    if (rk_ == nullptr) {
        rd_kafka_conf_destroy(conf);
        throw ConfigError(std::string("kafka consumer: ") + error);
    }
    rd_kafka_poll_set_consumer(rk_);
    rd_kafka_topic_partition_list_t* topics =
        rd_kafka_topic_partition_list_new(static_cast<int>(config.topics.size()));
    for (const auto& t : config.topics)
        rd_kafka_topic_partition_list_add(topics, t.c_str(), RD_KAFKA_PARTITION_UA);
    const rd_kafka_resp_err_t err = rd_kafka_subscribe(rk_, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_destroy(rk_);
        throw ConfigError(std::string("kafka consumer: subscribe failed: ") + rd_kafka_err2str(err));
    }
}

GroupConsumer::~GroupConsumer() {
    if (!closed_) {
        // Without close() the group would wait a session timeout before reassigning our partitions.
        try {
            close();
        } catch (...) {
        }
    }
    if (deferred_revoke_ != nullptr)
        rd_kafka_topic_partition_list_destroy(static_cast<rd_kafka_topic_partition_list_t*>(deferred_revoke_));
    rd_kafka_destroy(rk_);
}

void GroupConsumer::handle_rebalance(int err, void* partitions) {
    auto* list = static_cast<rd_kafka_topic_partition_list_t*>(partitions);
    const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk_), "COOPERATIVE") == 0;
    const auto parts = to_vector(list);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        // An exception must not unwind through librdkafka's C frames: keep it for poll() to rethrow,
        // and do not take partitions whose state could not be restored.
        try {
            if (!parts.empty()) listener_.on_assigned(parts);
        } catch (...) {
            pending_error_ = std::current_exception();
            return;
        }
        if (cooperative)
            log_rebalance_error("incremental assign", rd_kafka_incremental_assign(rk_, list));
        else
            rd_kafka_assign(rk_, list);
    } else {
        const bool lost = rd_kafka_assignment_lost(rk_) != 0;
        if (!lost && !closing_ && deferred_revoke_ == nullptr && !parts.empty()) {
            bool deferred = false;
            try {
                deferred = listener_.defer_revoke(parts);
            } catch (...) {
                pending_error_ = std::current_exception();
            }
            if (deferred) {
                deferred_revoke_ = rd_kafka_topic_partition_list_copy(list);
                return;
            }
        }
        try {
            if (!parts.empty()) listener_.on_revoked(parts, lost);
        } catch (...) {
            pending_error_ = std::current_exception();
        }
        if (cooperative)
            log_rebalance_error("incremental unassign", rd_kafka_incremental_unassign(rk_, list));
        else
            rd_kafka_assign(rk_, nullptr);
    }
}

std::unique_ptr<Message> GroupConsumer::poll(std::chrono::milliseconds timeout) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, static_cast<int>(timeout.count()));
    if (pending_error_) {
        if (m != nullptr) rd_kafka_message_destroy(m);
        std::rethrow_exception(std::exchange(pending_error_, nullptr));
    }
    if (m == nullptr) return nullptr;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        const rd_kafka_resp_err_t err = m->err;
        rd_kafka_message_destroy(m);
        if (err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return nullptr;
        char reason[512] = {};
        if (err == RD_KAFKA_RESP_ERR__FATAL &&
            rd_kafka_fatal_error(rk_, reason, sizeof reason) != RD_KAFKA_RESP_ERR_NO_ERROR)
            throw std::runtime_error(std::string("kafka consumer fatal error: ") + reason);
        log::warn("kafka consumer error", {{"error", rd_kafka_err2name(err)}});
        return nullptr;
    }
    return std::make_unique<Message>(m, at_rest_.get());
}

bool GroupConsumer::commit(const std::vector<TopicPartition>& offsets, bool async) {
    if (offsets.empty()) return true;
    PartitionList list(offsets);
    const rd_kafka_resp_err_t err = rd_kafka_commit(rk_, list.list, async ? 1 : 0);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
        log::warn("kafka commit failed", {{"error", rd_kafka_err2name(err)}});
        return false;
    }
    return true;
}

void GroupConsumer::finish_revoke() {
    auto* list = static_cast<rd_kafka_topic_partition_list_t*>(std::exchange(deferred_revoke_, nullptr));
    if (list == nullptr) return;
    if (std::strcmp(rd_kafka_rebalance_protocol(rk_), "COOPERATIVE") == 0)
        log_rebalance_error("incremental unassign", rd_kafka_incremental_unassign(rk_, list));
    else
        rd_kafka_assign(rk_, nullptr);
    rd_kafka_topic_partition_list_destroy(list);
}

std::unique_ptr<QueueWatcher> GroupConsumer::watch(boost::asio::any_io_executor executor,
                                                   std::function<bool()> serve) {
    auto watcher = std::make_unique<QueueWatcher>(std::move(executor), rd_kafka_queue_get_consumer(rk_), std::move(serve));
    watcher->start();
    return watcher;
}

void GroupConsumer::close() {
    if (closed_) return;
    closed_ = true;
    closing_ = true;
    finish_revoke();  // a revocation still held back: its owner gave up waiting
    const rd_kafka_resp_err_t err = rd_kafka_consumer_close(rk_);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        log::warn("kafka consumer close failed", {{"error", rd_kafka_err2name(err)}});
}

void GroupConsumer::pause(const std::vector<TopicPartition>& partitions) {
    if (partitions.empty()) return;
    PartitionList list(partitions);
    if (const rd_kafka_resp_err_t err = rd_kafka_pause_partitions(rk_, list.list);
        err != RD_KAFKA_RESP_ERR_NO_ERROR)
        log::warn("kafka pause failed", {{"error", rd_kafka_err2name(err)}});
}

void GroupConsumer::resume(const std::vector<TopicPartition>& partitions) {
    if (partitions.empty()) return;
    PartitionList list(partitions);
    if (const rd_kafka_resp_err_t err = rd_kafka_resume_partitions(rk_, list.list);
        err != RD_KAFKA_RESP_ERR_NO_ERROR)
        log::warn("kafka resume failed", {{"error", rd_kafka_err2name(err)}});
}

void GroupConsumer::seek(const TopicPartition& where) {
    PartitionList list({where});
    if (rd_kafka_error_t* error = rd_kafka_seek_partitions(rk_, list.list, 5'000); error != nullptr) {
        log::warn("kafka seek failed", {{"topic", where.topic}, {"error", rd_kafka_error_string(error)}});
        rd_kafka_error_destroy(error);
    }
}

std::vector<TopicPartition> GroupConsumer::assignment() const {
    rd_kafka_topic_partition_list_t* list = nullptr;
    if (rd_kafka_assignment(rk_, &list) != RD_KAFKA_RESP_ERR_NO_ERROR) return {};
    auto out = to_vector(list);
    rd_kafka_topic_partition_list_destroy(list);
    return out;
}

std::int64_t GroupConsumer::lag() const {
    rd_kafka_topic_partition_list_t* list = nullptr;
    if (rd_kafka_assignment(rk_, &list) != RD_KAFKA_RESP_ERR_NO_ERROR) return 0;
    rd_kafka_position(rk_, list);
    std::int64_t total = 0;
    for (int i = 0; i < list->cnt; ++i) {
        std::int64_t low = 0, high = 0;
        if (rd_kafka_get_watermark_offsets(
                rk_, list->elems[i].topic, list->elems[i].partition, &low, &high) !=
            RD_KAFKA_RESP_ERR_NO_ERROR)
            continue;
        const std::int64_t position = list->elems[i].offset >= 0 ? list->elems[i].offset : low;
        if (high > position) total += high - position;
    }
    rd_kafka_topic_partition_list_destroy(list);
    return total;
}

// -- changelog restore ----------------------------------------------------------------------------

void read_partition_to_end(const ClientConfig& client,
                           const std::string& topic,
                           std::int32_t partition,
                           const std::function<void(const Message&)>& each,
                           std::chrono::milliseconds timeout) {
    rd_kafka_conf_t* conf = detail::make_conf(client);
    try {
        // Assigned, never subscribed: the group id is only there because librdkafka's consumer
        // wants one; nothing is committed under it.
        detail::set(conf, "group.id", "ocean-relay-changelog-restore");
        detail::set(conf, "enable.partition.eof", "true");
        detail::set(conf, "enable.auto.commit", "false");
        detail::set(conf, "fetch.max.bytes", std::to_string(64 << 20));
        detail::set(conf, "max.partition.fetch.bytes", std::to_string(64 << 20));
        detail::set(conf, "receive.message.max.bytes", std::to_string(65 << 20));
    } catch (...) {
        rd_kafka_conf_destroy(conf);
        throw;
    }
    char error[512] = {};
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
    if (rk == nullptr) {
        rd_kafka_conf_destroy(conf);
        throw ConfigError(std::string("kafka restore consumer: ") + error);
    }
    struct Closer {
        rd_kafka_t* rk;
        ~Closer() {
            rd_kafka_consumer_close(rk);
            rd_kafka_destroy(rk);
        }
    } closer{rk};

    // A topic created a moment ago may not have a leader yet: retry until the deadline.
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::int64_t low = 0, high = 0;
    for (;;) {
        const rd_kafka_resp_err_t err =
            rd_kafka_query_watermark_offsets(rk, topic.c_str(), partition, &low, &high, 5'000);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
        // No such topic or partition: nothing was ever written, so there is nothing to restore.
        if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION ||
            err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) {
            log::warn("restore: the changelog partition does not exist; starting empty",
                      {{"topic", topic}, {"partition", partition}});
            return;
        }
        if (std::chrono::steady_clock::now() >= deadline)
            throw std::runtime_error("restore: cannot read the end of " + topic + ": " +
                                     rd_kafka_err2name(err));
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    if (high <= low) return;

    PartitionList list({{topic, partition, RD_KAFKA_OFFSET_BEGINNING}});
    rd_kafka_assign(rk, list.list);
    while (std::chrono::steady_clock::now() < deadline) {
        rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
        if (m == nullptr) continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            const std::int64_t at = m->offset;
            rd_kafka_message_destroy(m);
            if (at >= high) return;
            continue;
        }
        if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            const rd_kafka_resp_err_t e = m->err;
            rd_kafka_message_destroy(m);
            log::warn("restore: consumer error", {{"topic", topic}, {"error", rd_kafka_err2name(e)}});
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            continue;
        }
        const Message message(m, client.at_rest.get());
        each(message);
        if (message.offset() + 1 >= high) return;
    }
    throw std::runtime_error("restore: did not reach the end of " + topic + " in time");
}

RecordReader::RecordReader(const ClientConfig& client) : at_rest_(client.at_rest) {
    rd_kafka_conf_t* conf = detail::make_conf(client);
    try {
        detail::set(conf, "group.id", "ocean-relay-record-reader");  // assigned, never committed
        detail::set(conf, "enable.partition.eof", "true");
        detail::set(conf, "enable.auto.commit", "false");
        detail::set(conf, "auto.offset.reset", "error");
        // One record is wanted, not a prefetch of megabytes to decompress and drop. A broker still
        // returns the first record batch whole when it is larger than these limits.
        detail::set(conf, "fetch.max.bytes", std::to_string(1 << 20));
        detail::set(conf, "max.partition.fetch.bytes", std::to_string(1 << 20));
        detail::set(conf, "queued.min.messages", "1");
        detail::set(conf, "queued.max.messages.kbytes", "1024");
        detail::set(conf, "receive.message.max.bytes", std::to_string((64 << 20) + (1 << 20)));
    } catch (...) {
        rd_kafka_conf_destroy(conf);
        throw;
    }
    char error[512] = {};
    rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
    if (rk_ == nullptr) {
        rd_kafka_conf_destroy(conf);
        throw ConfigError(std::string("kafka record reader: ") + error);
    }
}

RecordReader::~RecordReader() {
    rd_kafka_assign(rk_, nullptr);
    rd_kafka_consumer_close(rk_);
    rd_kafka_destroy(rk_);
}

std::unique_ptr<Message> RecordReader::read(const std::string& topic,
                                            std::int32_t partition,
                                            std::int64_t offset,
                                            std::chrono::milliseconds timeout) {
    // Unassigning first drops whatever an earlier read prefetched, so nothing stale is returned.
    rd_kafka_assign(rk_, nullptr);
    PartitionList list({{topic, partition, offset}});
    rd_kafka_assign(rk_, list.list);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, 100);
        if (m == nullptr) continue;
        const rd_kafka_resp_err_t err = m->err;
        const bool ours =
            m->rkt != nullptr && topic == rd_kafka_topic_name(m->rkt) && m->partition == partition;
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR && ours && m->offset >= offset)
            return std::make_unique<Message>(m, at_rest_.get());
        rd_kafka_message_destroy(m);
        if (!ours) continue;
        // Nothing at or after the offset, or the offset is gone: there is no such record.
        if (err == RD_KAFKA_RESP_ERR__PARTITION_EOF || err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE ||
            err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET)
            return nullptr;
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
            log::warn("record reader: consumer error", {{"topic", topic}, {"error", rd_kafka_err2name(err)}});
    }
    throw std::runtime_error("record reader: no answer for " + topic + " in time");
}

}  // namespace relay::kafka
