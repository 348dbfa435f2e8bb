#pragma once

#include <atomic>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "relay/core/error.hpp"
#include "relay/kafka/at_rest.hpp"

struct rd_kafka_s;

namespace relay::kafka {

/// librdkafka settings shared by every client of one cluster (bootstrap, security, extra properties).
struct ClientConfig {
    std::string bootstrap_servers;
    std::string client_id = "ocean-relay";
    /// Extra librdkafka properties (security.protocol, sasl.*, ssl.*, ...), applied last.
    std::vector<std::pair<std::string, std::string>> properties;
    /// Encryption at rest: producers seal the values of the topics it names, consumers open every
    /// sealed value they read. Null: nothing sealed, sealed values left as they are.
    std::shared_ptr<const AtRest> at_rest;
};

struct ProducerConfig {
    ClientConfig client;
    /// Small by default: the ingress's caller waits for the acknowledgement.
    std::chrono::milliseconds linger{1};
    /// librdkafka gives up on a message after this (message.timeout.ms); keep it near the ingress ack
    /// deadline so a message the ingress answered 503 for is not written long after.
    std::chrono::milliseconds delivery_timeout{10'000};
    /// message.max.bytes: must exceed the largest body plus headers.
    std::uint64_t message_max_bytes = 32ULL << 20;
    std::string compression = "lz4";
};

struct Header {
    std::string name;
    std::string value;
};

struct DeliveryResult {
    bool ok = false;
    Error error;  ///< when !ok
    std::int32_t partition = -1;
    std::int64_t offset = -1;
    std::chrono::steady_clock::duration latency{};
};

/// An idempotent producer (`enable.idempotence=true`, `acks=all`, `partitioner=murmur2_random`) whose
/// delivery reports complete Asio awaitables.
///
/// Delivery reports are served on `serve_on` when one is given (librdkafka's queue raises an eventfd that
/// the executor's io_context waits for: no thread in between), otherwise on a poll thread of the
/// producer's own. Each completion is posted to the executor of the coroutine that is waiting, so no
/// Asio handler ever runs inside a librdkafka call. Thread-safe: any number of coroutines on any
/// executors may produce concurrently.
class Producer {
   public:
    /// Throws ConfigError if librdkafka rejects a property (the message names it). With `serve_on`, its
    /// io_context must outlive the producer and keep running until the producer is destroyed.
    explicit Producer(const ProducerConfig& config, std::optional<boost::asio::any_io_executor> serve_on = {});
    ~Producer();
    Producer(const Producer&) = delete;
    Producer& operator=(const Producer&) = delete;

    using Completion = void(DeliveryResult);

    /// Hands `value` to librdkafka without copying it (it is kept alive until the broker's report) and
    /// completes with the broker's acknowledgement, or with kTimeout when `deadline` passes first.
    /// After a timeout the message may still be written: callers treat that as at-least-once. An empty
    /// `value` is written as null (a compaction tombstone).
    template <typename CompletionToken = boost::asio::use_awaitable_t<>>
    auto async_produce(std::string topic,
                       std::string key,
                       std::string value,
                       std::vector<Header> headers,
                       std::chrono::milliseconds deadline,
                       CompletionToken&& token = {}) {
        return async_produce_to(std::move(topic),
                                kAnyPartition,
                                std::move(key),
                                std::move(value),
                                std::move(headers),
                                deadline,
                                std::forward<CompletionToken>(token));
    }

    /// Lets the partitioner (murmur2 of the key) choose.
    static constexpr std::int32_t kAnyPartition = -1;

    /// As async_produce, to an explicit partition (a changelog co-partitioned with its input). As with
    /// async_produce, an empty `value` is written as a null value: a compaction tombstone.
    template <typename CompletionToken = boost::asio::use_awaitable_t<>>
    auto async_produce_to(std::string topic,
                          std::int32_t partition,
                          std::string key,
                          std::string value,
                          std::vector<Header> headers,
                          std::chrono::milliseconds deadline,
                          CompletionToken&& token = {}) {
        return boost::asio::async_initiate<CompletionToken, Completion>(
            [this](auto handler,
                   std::string t,
                   std::int32_t p,
                   std::string k,
                   std::string v,
                   std::vector<Header> h,
                   std::chrono::milliseconds d) {
                // The waiting handler's own executor (the coroutine's strand): completions are posted there.
                boost::asio::any_io_executor executor = boost::asio::get_associated_executor(handler);
                start_produce(boost::asio::any_completion_handler<Completion>(std::move(handler)),
                              std::move(executor),
                              std::move(t),
                              p,
                              std::move(k),
                              std::move(v),
                              std::move(h),
                              d);
            },
            token,
            std::move(topic),
            partition,
            std::move(key),
            std::move(value),
            std::move(headers),
            deadline);
    }

    /// Stops serving reports on the executor given at construction (call on its thread, or once it has
    /// stopped, and before its io_context is destroyed); the destructor serves what remains itself.
    void stop_serving();

    /// Waits until everything queued was acknowledged or failed; false if `timeout` passed first.
    bool flush(std::chrono::milliseconds timeout);

    /// True after librdkafka reported a fatal error (e.g. the idempotent producer's sequence was lost):
    /// the instance cannot produce again and the process should be restarted.
    [[nodiscard]] bool fatal() const { return fatal_.load(); }

    /// Messages handed to librdkafka and not yet reported.
    [[nodiscard]] std::int64_t in_flight() const { return in_flight_.load(); }

    /// True if the cluster answered a metadata request within `timeout` and lists every topic.
    /// Blocking: call it from a thread that may block (a readiness prober), not an I/O thread.
    bool topics_available(const std::vector<std::string>& topics, std::chrono::milliseconds timeout);

    /// The underlying handle, for admin operations on the same connection.
    rd_kafka_s* handle() { return rk_; }

   private:
    void start_produce(boost::asio::any_completion_handler<Completion> handler,
                       boost::asio::any_io_executor executor,
                       std::string topic,
                       std::int32_t partition,
                       std::string key,
                       std::string value,
                       std::vector<Header> headers,
                       std::chrono::milliseconds deadline);
    static void on_delivery(rd_kafka_s* rk, const void* message, void* opaque);

    rd_kafka_s* rk_ = nullptr;
    std::shared_ptr<const AtRest> at_rest_;
    std::atomic<bool> running_{true};
    std::atomic<bool> fatal_{false};
    std::atomic<std::int64_t> in_flight_{0};
    std::thread poll_thread_;
    std::unique_ptr<class QueueWatcher> watcher_;
};

}  // namespace relay::kafka
