#include "relay/service/worker.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "relay/core/config.hpp"
#include "relay/core/log.hpp"
#include "relay/kafka/admin.hpp"

namespace relay::service {
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

/// Records handed to the service per turn before other handlers get theirs.
constexpr int kRecordsPerTurn = 256;

std::string host_and_pid() {
    std::array<char, 256> host{};
    if (::gethostname(host.data(), host.size() - 1) != 0) host[0] = '\0';
    return fmt::format("{}/{}", host.data(), ::getpid());
}

prometheus::Gauge& gauge(prometheus::Registry& registry, const std::string& name, const std::string& help) {
    return prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add({});
}

}  // namespace

WorkerMetrics::WorkerMetrics(prometheus::Registry& registry, const std::string& name)
    : consumer_lag(gauge(registry, "relay_" + name + "_consumer_lag", "Records of the owned partitions not yet read")),
      in_flight(gauge(registry, "relay_" + name + "_in_flight", "Records read and not yet finished")),
      partitions(gauge(registry, "relay_" + name + "_partitions", "Partitions this instance owns")),
      ready(gauge(registry, "relay_" + name + "_ready", "1 while consuming")),
      paused(gauge(registry,
                   "relay_" + name + "_consumption_paused",
                   "1 while consumption is paused (too many records in flight)")),
      restore_seconds(prometheus::BuildHistogram()
                          .Name("relay_" + name + "_restore_duration_seconds")
                          .Help("Time to restore one partition's state when it is assigned")
                          .Register(registry)
                          .Add({}, prometheus::Histogram::BucketBoundaries{0.01, 0.1, 0.5, 1, 5, 15, 60, 300})) {}

Worker::Worker(WorkerConfig config, std::shared_ptr<prometheus::Registry> registry)
    : config_(std::move(config)),
      registry_(std::move(registry)),
      metrics_(*registry_, config_.name),
      instance_(host_and_pid()) {
    try {
        if (config_.kafka.embedded) {
            embedded_ = std::make_unique<kafka::EmbeddedCluster>(1);
            for (const auto& spec : config_.topic_specs) embedded_->create_topic(spec.name, spec.partitions);
            config_.kafka.client.bootstrap_servers = embedded_->bootstrap_servers();
            log::warn("using the embedded Kafka broker: in memory, NOT durable; for trying ocean-relay only",
                      {{"bootstrap_servers", embedded_->bootstrap_servers()}});
        }
        ioc_.emplace(1);
        kafka::ProducerConfig producer_config;
        producer_config.client = config_.kafka.client;
        producer_config.linger = config_.kafka.linger;
        producer_config.delivery_timeout = config_.kafka.produce_timeout;
        producer_config.message_max_bytes = config_.kafka.message_max_bytes;
        producer_ = std::make_unique<kafka::Producer>(producer_config, ioc_->get_executor());
        if (!config_.kafka.embedded && config_.kafka.verify_topics) check_topics();

        AdminProbes probes;
        probes.health = [this] {
            const bool fatal = producer_->fatal();
            if (failed_ || fatal) return ProbeResult{false, status_body(fatal ? "kafka_producer_fatal" : "failed")};
            return ProbeResult{true, status_body("ok")};
        };
        probes.ready = [this] {
            const bool ready = running_ && !failed_ && !stopping_;
            return ProbeResult{ready, status_body(ready ? "ready" : "not_ready")};
        };
        admin_ = std::make_unique<AdminServer>(config_.admin, registry_, std::move(probes));
    } catch (...) {
        // No destructor runs for a constructor that throws: the clients must not outlive the io_context.
        release_clients();
        throw;
    }
}

Worker::~Worker() {
    release_clients();
}

void Worker::release_clients() noexcept {
    // Nothing may serve on the io_context once it is gone; the clients outlive every Message.
    if (consumer_watcher_) consumer_watcher_->stop();
    if (producer_) producer_->stop_serving();
    if (admin_) admin_->stop();
    tick_timer_.reset();
    work_.reset();
    ioc_.reset();
}

void Worker::check_topics() {
    kafka::ensure_topics(producer_->handle(), config_.topic_specs, config_.kafka.create_topics, 30s);
    for (const auto& pair : config_.co_partitioned) {
        const int input = kafka::partition_count(producer_->handle(), pair.input, 10s);
        const int changelog = kafka::partition_count(producer_->handle(), pair.changelog, 10s);
        if (input > 0 && changelog >= 0 && changelog < input)
            throw ConfigError(fmt::format(
                "kafka topic '{}' has {} partitions but '{}' has {}: it is written to its input's partition "
                "numbers, so it needs at least as many partitions as '{}'",
                pair.changelog,
                changelog,
                pair.input,
                input,
                pair.input));
    }
}

int Worker::run(WorkerHooks& hooks) {
    hooks_ = &hooks;
    kafka::ConsumerConfig consumer_config;
    consumer_config.client = config_.kafka.client;
    consumer_config.group_id = config_.kafka.group_id;
    consumer_config.topics = config_.topics;
    consumer_config.session_timeout = config_.kafka.session_timeout;
    consumer_config.max_fetch_bytes = config_.kafka.message_max_bytes;
    consumer_config.fetch_wait = config_.kafka.fetch_wait;
    consumer_ = std::make_unique<kafka::GroupConsumer>(consumer_config, static_cast<kafka::RebalanceListener&>(*this));
    consumer_watcher_ = consumer_->watch(ioc_->get_executor(), [this] { return serve_consumer(); });
    tick_timer_.emplace(*ioc_);
    asio::post(*ioc_, [this] {
        if (stopping_) return;
        hooks_->on_started();
        schedule_tick();
        running_ = true;
        metrics_.ready.Set(1);
    });
    log::info(config_.name + " consuming",
              {{"topics", fmt::format("{}", fmt::join(config_.topics, ","))},
               {"group", config_.kafka.group_id},
               {"admin_port", static_cast<int>(admin_->port())}});
    work_.emplace(ioc_->get_executor());
    ioc_->run();
    hooks_ = nullptr;
    return failed_ ? 1 : 0;
}

void Worker::stop() {
    if (stopping_.exchange(true)) return;
    // From any thread, hooks included: the shut-down runs on the worker's thread once the current
    // handler returns (first thing, if run() has not begun). co_spawn alone may start it inline.
    asio::post(*ioc_, [this] { asio::co_spawn(*ioc_, shut_down(), asio::detached); });
}

void Worker::fail(std::string_view what, std::string_view error) {
    if (!failed_.exchange(true))
        log::error("stopping without committing past an unfinished record (a restart re-processes it)",
                   {{"what", std::string(what)}, {"error", std::string(error)}});
    stop();
}

// -- consuming --------------------------------------------------------------------------------------

bool Worker::serve_consumer() {
    for (int n = 0; n < kRecordsPerTurn; ++n) {
        std::unique_ptr<kafka::Message> record;
        try {
            record = consumer_->poll(0ms);
        } catch (const std::exception& e) {
            // A partition's state could not be restored, or the consumer failed: stop rather than go
            // on without it; the group gives the partitions to a healthy instance.
            fail("consumer", e.what());
            return false;
        }
        if (!record) return false;
        take_record(std::move(record));
    }
    return true;
}

void Worker::take_record(std::unique_ptr<kafka::Message> record) {
    const auto it = owned_.find(std::pair<std::string_view, std::int32_t>(record->topic(), record->partition()));
    // Stopping, or a partition being revoked: not started, so not committed; its next owner reads it.
    if (stopping_ || it == owned_.end() || it->second) return;
    if (paused_) {
        // Fetched before the pause: read again from here when consumption resumes.
        resume_at_.try_emplace({std::string(record->topic()), record->partition()}, record->offset());
        return;
    }
    hooks_->on_record(std::move(record));
    if (hooks_->in_flight() >= config_.kafka.max_in_flight) pause();
}

void Worker::pause() {
    if (paused_) return;
    paused_ = true;
    consumer_->pause(consumer_->assignment());
    metrics_.paused.Set(1);
    log::debug("consumption paused: too many records in flight",
               {{"in_flight", static_cast<long long>(hooks_->in_flight())}});
}

void Worker::progress() {
    if (!paused_ || stopping_ || hooks_ == nullptr) return;
    const std::size_t cap = config_.kafka.max_in_flight;
    if (hooks_->in_flight() + std::max<std::size_t>(1, cap / 10) > cap) return;
    for (const auto& [where, offset] : resume_at_)
        if (owns(where.first, where.second)) consumer_->seek({where.first, where.second, offset});
    resume_at_.clear();
    consumer_->resume(consumer_->assignment());
    paused_ = false;
    metrics_.paused.Set(0);
    log::debug("consumption resumed", {{"in_flight", static_cast<long long>(hooks_->in_flight())}});
}

void Worker::schedule_tick() {
    tick_timer_->expires_after(config_.kafka.commit_interval);
    tick_timer_->async_wait([this](boost::system::error_code ec) {
        if (ec || shutting_down_) return;
        commit_due();
        progress();
        schedule_tick();
    });
}

void Worker::commit_due() {
    std::vector<kafka::TopicPartition> offsets;
    for (const auto& [where, revoking] : owned_)
        if (const auto next = hooks_->take_commit({where.first, where.second}))
            offsets.push_back({where.first, where.second, *next});
    if (!offsets.empty()) consumer_->commit(offsets, /*async=*/true);
    metrics_.consumer_lag.Set(static_cast<double>(consumer_->lag()));
    metrics_.in_flight.Set(static_cast<double>(hooks_->in_flight()));
    hooks_->on_tick();
}

bool Worker::owns(std::string_view topic, std::int32_t partition) const {
    return owned_.find(std::pair<std::string_view, std::int32_t>(topic, partition)) != owned_.end();
}

bool Worker::consumed(std::string_view topic) const {
    return std::find(config_.topics.begin(), config_.topics.end(), topic) != config_.topics.end();
}

// -- rebalancing ------------------------------------------------------------------------------------

void Worker::on_assigned(const std::vector<kafka::TopicPartition>& partitions) {
    for (const auto& tp : partitions) {
        if (!consumed(tp.topic)) continue;
        const auto start = Clock::now();
        hooks_->on_assigned(tp);
        metrics_.restore_seconds.Observe(std::chrono::duration<double>(Clock::now() - start).count());
        owned_[{tp.topic, tp.partition}] = false;
    }
    metrics_.partitions.Set(static_cast<double>(owned_.size()));
    // Added while paused: librdkafka fetches them until told otherwise.
    if (paused_) consumer_->pause(partitions);
}

bool Worker::defer_revoke(const std::vector<kafka::TopicPartition>& partitions) {
    if (shutting_down_) return false;
    for (const auto& tp : partitions) {
        const auto it = owned_.find(std::pair<std::string_view, std::int32_t>(tp.topic, tp.partition));
        if (it == owned_.end()) continue;
        it->second = true;
        hooks_->on_revoking(tp);
    }
    revoking_ = true;
    // After the callback has returned and the consumer holds the revocation (co_spawn alone may start
    // the coroutine inline, before that).
    asio::post(*ioc_, [this, partitions] { asio::co_spawn(*ioc_, revoke(partitions), asio::detached); });
    return true;
}

void Worker::on_revoked(const std::vector<kafka::TopicPartition>& partitions, bool lost) {
    release(partitions, lost);
}

asio::awaitable<void> Worker::revoke(std::vector<kafka::TopicPartition> partitions) {
    co_await drain(partitions);
    release(partitions, /*lost=*/false);
    consumer_->finish_revoke();
    revoking_ = false;
}

asio::awaitable<void> Worker::drain(const std::vector<kafka::TopicPartition>& partitions) {
    const auto deadline = Clock::now() + config_.grace_period;
    asio::steady_timer wait(*ioc_);
    while (!failed_ && Clock::now() < deadline) {
        bool busy = false;
        for (const auto& tp : partitions) busy = busy || (owns(tp.topic, tp.partition) && hooks_->busy(tp));
        if (!busy) co_return;
        wait.expires_after(5ms);
        co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
    }
}

void Worker::release(const std::vector<kafka::TopicPartition>& partitions, bool lost) {
    std::vector<kafka::TopicPartition> final_offsets;
    std::size_t released = 0;
    for (const auto& tp : partitions) {
        const auto it = owned_.find(std::pair<std::string_view, std::int32_t>(tp.topic, tp.partition));
        if (it == owned_.end()) continue;
        owned_.erase(it);
        if (const auto at = resume_at_.find(PartitionLess::View(tp.topic, tp.partition)); at != resume_at_.end())
            resume_at_.erase(at);
        ++released;
        // After a failure nothing past the failed record may be committed; the service's position
        // never passes it, so what it reports is still safe.
        const auto next = hooks_->on_revoked(tp, lost);
        if (next && !lost) final_offsets.push_back({tp.topic, tp.partition, *next});
    }
    if (!final_offsets.empty()) consumer_->commit(final_offsets, /*async=*/false);
    metrics_.partitions.Set(static_cast<double>(owned_.size()));
    metrics_.in_flight.Set(static_cast<double>(hooks_->in_flight()));
    if (released > 0)
        log::info("partitions revoked", {{"count", static_cast<long long>(released)}, {"lost", lost}});
}

// -- stopping ---------------------------------------------------------------------------------------

asio::awaitable<void> Worker::shut_down() {
    running_ = false;
    metrics_.ready.Set(0);
    log::info(config_.name + " stopping: finishing the work in flight and leaving the group");
    if (consumer_) {
        // A revocation under way finishes first (it holds the group's rebalance).
        asio::steady_timer wait(*ioc_);
        while (revoking_) {
            wait.expires_after(5ms);
            co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        shutting_down_ = true;
        std::vector<kafka::TopicPartition> owned;
        for (auto& [where, revoking] : owned_) {
            revoking = true;
            owned.push_back({where.first, where.second});
            hooks_->on_revoking(owned.back());
        }
        co_await drain(owned);
        release(owned, /*lost=*/false);
        consumer_->close();  // leaves the group; nothing is owned any more, so nothing more is committed
        consumer_watcher_->stop();
        hooks_->on_stopping();
    }
    shutting_down_ = true;
    if (tick_timer_) tick_timer_->cancel();
    producer_->flush(5s);
    producer_->stop_serving();
    work_.reset();
    ioc_->stop();
}

}  // namespace relay::service
