// The runtime of a Kafka worker (router, delivery, updater, ...): what each of them needs and none of
// them should write again.
//
// One thread runs everything of the service's own: the consumer (records and rebalances), the
// producer's delivery reports (librdkafka raises an eventfd the io_context waits for: no poll thread
// in between), the service's hooks and coroutines, the commit timer. The admin listener has a thread of
// its own so probes are answered during a long restore.
//
// At-least-once: the service says which offsets are finished (take_commit); the worker commits them
// every commit_interval, finally and synchronously when partitions are revoked, after waiting (up to
// the grace period) for the service's work on them to finish. Back-pressure pauses the consumer; the
// records it had already fetched are dropped and read again from there when it resumes.
#pragma once

#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "relay/kafka/consumer.hpp"
#include "relay/kafka/embedded_cluster.hpp"
#include "relay/kafka/producer.hpp"
#include "relay/kafka/queue_watcher.hpp"
#include "relay/service/admin.hpp"
#include "relay/service/kafka_section.hpp"

namespace relay::service {

/// A changelog written to its input's partition numbers: it needs at least as many partitions.
struct CoPartitioned {
    std::string changelog;
    std::string input;
};

struct WorkerConfig {
    std::string name;  ///< metric prefix relay_<name>_ and log wording
    KafkaSection kafka;
    std::vector<std::string> topics;  ///< consumed by the group
    std::vector<kafka::TopicSpec> topic_specs;  ///< created or checked at start
    std::vector<CoPartitioned> co_partitioned;
    http::ListenerConfig admin;
    /// How long a revocation or a stop waits for the work in flight before committing what is done.
    std::chrono::milliseconds grace_period{25'000};
};

/// What a service supplies. Every hook runs on the worker's thread.
class WorkerHooks {
   public:
    virtual ~WorkerHooks() = default;
    /// A partition is added: restore its state (blocking is fine). Throwing stops the process without
    /// taking the partition.
    virtual void on_assigned(const kafka::TopicPartition& partition) = 0;
    /// A record of an owned partition, in offset order per partition.
    virtual void on_record(std::unique_ptr<kafka::Message> record) = 0;
    /// The partition is being taken away: start nothing new for it.
    virtual void on_revoking(const kafka::TopicPartition& /*partition*/) {}
    /// True while work of the partition is unfinished (the revocation waits for it, up to the grace).
    [[nodiscard]] virtual bool busy(const kafka::TopicPartition& partition) const = 0;
    /// The partition is gone: forget its state; the next offset to commit finally (none if `lost`).
    virtual std::optional<std::int64_t> on_revoked(const kafka::TopicPartition& partition, bool lost) = 0;
    /// The next offset to commit, if it moved.
    virtual std::optional<std::int64_t> take_commit(const kafka::TopicPartition& partition) = 0;
    /// Records taken and not finished, over every partition (back-pressure).
    [[nodiscard]] virtual std::size_t in_flight() const = 0;
    /// Consuming has begun (timers of the service's own start here).
    virtual void on_started() {}
    /// Every commit interval, after the commit (gauges).
    virtual void on_tick() {}
    /// Consuming has ended and every partition is released (cancel the service's timers).
    virtual void on_stopping() {}
};

/// relay_<name>_{consumer_lag,in_flight,partitions,ready,consumption_paused,restore_duration_seconds}
struct WorkerMetrics {
    WorkerMetrics(prometheus::Registry& registry, const std::string& name);
    prometheus::Gauge& consumer_lag;
    prometheus::Gauge& in_flight;
    prometheus::Gauge& partitions;
    prometheus::Gauge& ready;
    prometheus::Gauge& paused;
    prometheus::Histogram& restore_seconds;
};

/// Orders (topic, partition) keys; looks them up by views too, without building a string per record.
struct PartitionLess {
    using is_transparent = void;
    using View = std::pair<std::string_view, std::int32_t>;
    static View view(const std::pair<std::string, std::int32_t>& key) { return {key.first, key.second}; }
    static View view(const View& key) { return key; }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
        return view(a) < view(b);
    }
};

class Worker : private kafka::RebalanceListener {
   public:
    /// Starts the embedded broker (kafka.embedded), the producer, checks or creates the topics and
    /// opens the admin listener. Throws ConfigError for what is wrong with them.
    Worker(WorkerConfig config, std::shared_ptr<prometheus::Registry> registry);
    ~Worker() override;
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    /// Consumes until stop() or a failure; 0 after a clean stop, 1 after a failure.
    int run(WorkerHooks& hooks);
    /// Any thread: releases every partition (waiting for the work in flight, up to the grace period,
    /// and committing what is done), leaves the group, flushes the producer; run() then returns.
    void stop();
    /// Worker thread: something that must not be skipped could not be done (a produce failed). Stops
    /// without committing past it; a restart re-processes it.
    void fail(std::string_view what, std::string_view error);
    /// Worker thread: work finished; resumes a paused consumer once below the low mark.
    void progress();

    boost::asio::io_context& context() { return *ioc_; }
    kafka::Producer& producer() { return *producer_; }
    /// The Kafka section as used (the embedded broker's address filled in).
    [[nodiscard]] const KafkaSection& kafka() const { return config_.kafka; }
    [[nodiscard]] std::uint16_t admin_port() const { return admin_->port(); }
    [[nodiscard]] bool stopping() const { return stopping_.load(); }
    [[nodiscard]] bool failed() const { return failed_.load(); }
    /// host/pid: which instance decided (audit trails, rebalance diagnostics).
    [[nodiscard]] const std::string& instance() const { return instance_; }
    WorkerMetrics& metrics() { return metrics_; }
    prometheus::Registry& registry() { return *registry_; }

   private:
    // kafka::RebalanceListener, called inside the consumer's poll on the worker thread.
    void on_assigned(const std::vector<kafka::TopicPartition>& partitions) override;
    void on_revoked(const std::vector<kafka::TopicPartition>& partitions, bool lost) override;
    bool defer_revoke(const std::vector<kafka::TopicPartition>& partitions) override;

    void check_topics();
    /// Stops everything that serves on the io_context, then destroys it (pending frames and the
    /// Messages they hold go while the consumer still exists).
    void release_clients() noexcept;
    bool serve_consumer();
    void take_record(std::unique_ptr<kafka::Message> record);
    void pause();
    void schedule_tick();
    void commit_due();
    boost::asio::awaitable<void> revoke(std::vector<kafka::TopicPartition> partitions);
    boost::asio::awaitable<void> shut_down();
    boost::asio::awaitable<void> drain(const std::vector<kafka::TopicPartition>& partitions);
    void release(const std::vector<kafka::TopicPartition>& partitions, bool lost);
    [[nodiscard]] bool owns(std::string_view topic, std::int32_t partition) const;
    [[nodiscard]] bool consumed(std::string_view topic) const;

    WorkerConfig config_;
    std::shared_ptr<prometheus::Registry> registry_;
    WorkerMetrics metrics_;
    const std::string instance_;
    std::unique_ptr<kafka::EmbeddedCluster> embedded_;
    std::unique_ptr<AdminServer> admin_;
    std::unique_ptr<kafka::Producer> producer_;
    std::unique_ptr<kafka::GroupConsumer> consumer_;
    std::unique_ptr<kafka::QueueWatcher> consumer_watcher_;
    // Destroyed before the clients above (with the coroutine frames it still holds, and the Messages in
    // them, which librdkafka's handles must outlive), after their watchers stopped (see ~Worker).
    std::optional<boost::asio::io_context> ioc_;
    std::optional<boost::asio::steady_timer> tick_timer_;
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;

    WorkerHooks* hooks_ = nullptr;
    /// Owned partitions (topic, partition) and whether they are being revoked.
    std::map<std::pair<std::string, std::int32_t>, bool, PartitionLess> owned_;
    bool revoking_ = false;
    bool paused_ = false;
    /// While paused: the first record dropped per partition, read again from there on resume.
    std::map<std::pair<std::string, std::int32_t>, std::int64_t, PartitionLess> resume_at_;
    std::atomic<bool> stopping_{false};
    std::atomic<bool> failed_{false};
    std::atomic<bool> running_{false};
    bool shutting_down_ = false;
};

}  // namespace relay::service
