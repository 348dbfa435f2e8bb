#include "relay/kafka/producer.hpp"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <array>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <mutex>
#include <optional>
#include <variant>

#include "client_config.hpp"
#include "relay/core/config.hpp"
#include "relay/core/log.hpp"
#include "relay/kafka/queue_watcher.hpp"

namespace relay::kafka {
namespace asio = boost::asio;

namespace {

ErrorKind classify(rd_kafka_resp_err_t err) {
    switch (err) {
        case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
        case RD_KAFKA_RESP_ERR__TIMED_OUT:
        case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
            return ErrorKind::kTimeout;
        case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
        case RD_KAFKA_RESP_ERR_INVALID_RECORD:
        case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
        case RD_KAFKA_RESP_ERR__INVALID_ARG:
            return ErrorKind::kPermanent;
        case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
        case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
        case RD_KAFKA_RESP_ERR__DESTROY:
            return ErrorKind::kCancelled;
        default:
            return ErrorKind::kRetryable;
    }
}

}  // namespace

// One produce call: owns the value until librdkafka's report, and completes the waiting handler exactly
// once, from whichever comes first of the report (poll thread) and the deadline timer (Asio thread).
struct DeliveryState : std::enable_shared_from_this<DeliveryState> {
    std::string value;
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
    std::mutex mutex;
    std::optional<asio::any_completion_handler<Producer::Completion>> handler;
    asio::any_io_executor executor;
    std::optional<asio::steady_timer> timer;

    void complete(DeliveryResult result) {
        std::optional<asio::any_completion_handler<Producer::Completion>> taken;
        {
            std::lock_guard lock(mutex);
            if (!handler) return;
            taken.swap(handler);
        }
        result.latency = std::chrono::steady_clock::now() - started;
        asio::post(executor,
                   [self = shared_from_this(), h = std::move(*taken), result = std::move(result)]() mutable {
                       if (self->timer) self->timer->cancel();
                       std::move(h)(std::move(result));
                   });
    }
};

Producer::Producer(const ProducerConfig& config, std::optional<asio::any_io_executor> serve_on)
    : at_rest_(config.client.at_rest) {
    rd_kafka_conf_t* conf = detail::make_conf(config.client);
    try {
        // Set after the extra properties, so durability cannot be configured away by accident.
        detail::set(conf, "enable.idempotence", "true");
        detail::set(conf, "acks", "all");
        detail::set(conf, "partitioner", "murmur2_random");
        detail::set(conf, "linger.ms", std::to_string(config.linger.count()));
        detail::set(conf, "message.timeout.ms", std::to_string(config.delivery_timeout.count()));
        detail::set(conf, "message.max.bytes", std::to_string(config.message_max_bytes));
        detail::set(conf, "compression.type", config.compression);
        detail::set(conf, "queue.buffering.max.kbytes", "1048576");
    } catch (...) {
        rd_kafka_conf_destroy(conf);
        throw;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque) {
        on_delivery(rk, msg, opaque);
    });
    rd_kafka_conf_set_opaque(conf, this);
    rd_kafka_conf_set_error_cb(conf, [](rd_kafka_t* rk, int err, const char* reason, void* opaque) {
        // Broker connection errors are reported here; they are transient unless fatal.
        if (err == RD_KAFKA_RESP_ERR__FATAL) {
            std::array<char, 512> detail{};
            const auto cause = rd_kafka_fatal_error(rk, detail.data(), detail.size());
            static_cast<Producer*>(opaque)->fatal_.store(true);
            log::error("kafka producer hit a fatal error; it cannot produce any more",
                       {{"error", rd_kafka_err2name(cause)}, {"reason", detail.data()}});
            return;
        }
        log::warn("kafka client error",
                  {{"error", rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err))}, {"reason", reason}});
    });
    rd_kafka_conf_set_log_cb(conf, [](const rd_kafka_t*, int level, const char* facility, const char* buf) {
        if (level <= 4) log::warn("librdkafka", {{"facility", facility}, {"message", buf}});
    });

    std::array<char, 512> error{};
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error.data(), error.size());
    if (rk_ == nullptr) {
        rd_kafka_conf_destroy(conf);
        throw ConfigError(std::string("kafka producer: ") + error.data());
    }
    if (serve_on) {
        watcher_ = std::make_unique<QueueWatcher>(*serve_on, rd_kafka_queue_get_main(rk_), [this] {
            // Bounded, so a burst of reports does not hold the thread from other handlers.
            for (int round = 0; round < 64; ++round)
                if (rd_kafka_poll(rk_, 0) == 0) return false;
            return true;
        });
        watcher_->start();
        return;
    }
    poll_thread_ = std::thread([this] {
        while (running_.load()) rd_kafka_poll(rk_, 100);
    });
}

Producer::~Producer() {
    // The watcher's queue reference goes before the handle; reports still due are served below.
    if (watcher_) watcher_->stop();
    // Report everything still queued as cancelled so no caller waits forever, then stop polling.
    rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    for (int i = 0; i < 50 && in_flight_.load() > 0; ++i) rd_kafka_poll(rk_, 10);
    running_.store(false);
    if (poll_thread_.joinable()) poll_thread_.join();
    rd_kafka_poll(rk_, 0);
    rd_kafka_destroy(rk_);
}

void Producer::start_produce(asio::any_completion_handler<Completion> handler,
                             asio::any_io_executor executor,
                             std::string topic,
                             std::int32_t partition,
                             std::string key,
                             std::string value,
                             std::vector<Header> headers,
                             std::chrono::milliseconds deadline) {
    auto state = std::make_shared<DeliveryState>();
    state->value = std::move(value);
    state->executor = std::move(executor);
    state->handler.emplace(std::move(handler));
    state->timer.emplace(state->executor, deadline);
    state->timer->async_wait([weak = std::weak_ptr<DeliveryState>(state)](boost::system::error_code ec) {
        if (ec) return;
        if (auto s = weak.lock()) {
            s->complete(
                DeliveryResult{false, Error(ErrorKind::kTimeout, "broker did not acknowledge in time")});
        }
    });

    // Sealed here, on the caller's thread, so no service writes a protected topic in clear by mistake. A
    // value that already carries the header (a sealed record copied as it was read) keeps its sealing.
    if (at_rest_ != nullptr && !state->value.empty() && at_rest_->seals(topic) &&
        std::none_of(headers.begin(), headers.end(), [](const Header& h) { return h.name == AtRest::kHeader; })) {
        auto sealed = at_rest_->seal(state->value);
        if (auto* error = std::get_if<Error>(&sealed)) {
            state->complete(DeliveryResult{false, std::move(*error)});
            return;
        }
        state->value = std::move(std::get<std::string>(sealed));
        headers.push_back({std::string(AtRest::kHeader), at_rest_->seal_key_id()});
    }

    rd_kafka_headers_t* kafka_headers = rd_kafka_headers_new(headers.size());
    for (const auto& h : headers) {
        rd_kafka_header_add(kafka_headers,
                            h.name.data(),
                            static_cast<ssize_t>(h.name.size()),
                            h.value.data(),
                            static_cast<ssize_t>(h.value.size()));
    }
    auto* opaque = new std::shared_ptr<DeliveryState>(state);
    in_flight_.fetch_add(1);
    const rd_kafka_resp_err_t err =
        rd_kafka_producev(rk_,
                          RD_KAFKA_V_TOPIC(topic.c_str()),
                          RD_KAFKA_V_PARTITION(partition < 0 ? RD_KAFKA_PARTITION_UA : partition),
                          RD_KAFKA_V_KEY(key.data(), key.size()),
                          // Empty = null: the tombstone a compacted topic needs to forget a key.
                          RD_KAFKA_V_VALUE(state->value.empty() ? nullptr : state->value.data(), state->value.size()),
                          RD_KAFKA_V_MSGFLAGS(0),
                          RD_KAFKA_V_HEADERS(kafka_headers),
                          RD_KAFKA_V_OPAQUE(opaque),
                          RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        // Not enqueued: librdkafka did not take the headers or the opaque.
        in_flight_.fetch_sub(1);
        rd_kafka_headers_destroy(kafka_headers);
        delete opaque;
        state->complete(DeliveryResult{false, Error(classify(err), rd_kafka_err2name(err))});
    }
}

void Producer::on_delivery(rd_kafka_s* rk, const void* message, void* /*opaque*/) {
    const auto* msg = static_cast<const rd_kafka_message_t*>(message);
    auto* holder = static_cast<std::shared_ptr<DeliveryState>*>(msg->_private);
    auto* self = static_cast<Producer*>(rd_kafka_opaque(rk));
    DeliveryResult result;
    if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        result.ok = true;
        result.partition = msg->partition;
        result.offset = msg->offset;
    } else {
        result.error = Error(classify(msg->err), rd_kafka_err2name(msg->err));
    }
    (*holder)->complete(std::move(result));
    delete holder;
    self->in_flight_.fetch_sub(1);
}

void Producer::stop_serving() {
    if (watcher_) watcher_->stop();
}

bool Producer::flush(std::chrono::milliseconds timeout) {
    return rd_kafka_flush(rk_, static_cast<int>(timeout.count())) == RD_KAFKA_RESP_ERR_NO_ERROR;
}

bool Producer::topics_available(const std::vector<std::string>& topics, std::chrono::milliseconds timeout) {
    const rd_kafka_metadata_t* metadata = nullptr;
    if (rd_kafka_metadata(rk_, 1, nullptr, &metadata, static_cast<int>(timeout.count())) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
        return false;
    }
    bool all = metadata->broker_cnt > 0;
    for (const auto& name : topics) {
        bool found = false;
        for (int i = 0; i < metadata->topic_cnt; ++i) {
            const auto& t = metadata->topics[i];
            if (name == t.topic && t.err == RD_KAFKA_RESP_ERR_NO_ERROR && t.partition_cnt > 0) found = true;
        }
        all = all && found;
    }
    rd_kafka_metadata_destroy(metadata);
    return all;
}

}  // namespace relay::kafka
