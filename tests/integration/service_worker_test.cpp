// libs/service's Worker on the real broker, with a tiny service of the test's own (TestService) over it:
// records in offset order per partition and their offsets committed; back-pressure (pause, the fetched
// records dropped and read again on resume); the deferred revocation that waits for busy() up to the
// grace period; stop() and fail(); the consumer's and the producer's eventfds under load.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "process_util.hpp"
#include "relay/kafka/offset_tracker.hpp"
#include "relay/service/worker.hpp"
#include "test_support.hpp"

namespace relay::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace asio = boost::asio;

constexpr const char* kName = "svctest";  // metrics relay_svctest_*

std::string metric_name(const std::string& what) {
    return fmt::format("relay_{}_{}", kName, what);
}

std::string unique_group(const std::string& stem) {
    static std::atomic<int> counter{0};
    return fmt::format("svc-test-{}-{}-{}", stem, ::getpid(), counter.fetch_add(1));
}

/// Produces `count` records to each of `partitions` partitions of `topic` (values "<partition>:<i>"
/// from `first`), idempotently and in order, and waits for every acknowledgement.
void produce(const std::string& topic, int partitions, int count, int first = 0) {
    std::array<char, 512> error{};
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", kafka_bootstrap().c_str(), error.data(), error.size());
    rd_kafka_conf_set(conf, "enable.idempotence", "true", error.data(), error.size());
    rd_kafka_conf_set(conf, "linger.ms", "5", error.data(), error.size());
    rd_kafka_conf_set(conf, "message.timeout.ms", "30000", error.data(), error.size());
    static std::atomic<int> failures{0};
    failures = 0;
    rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void*) {
        if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) failures.fetch_add(1);
    });
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error.data(), error.size());
    ASSERT_NE(rk, nullptr) << error.data();
    for (int i = first; i < first + count; ++i) {
        for (int p = 0; p < partitions; ++p) {
            std::string value = fmt::format("{}:{}", p, i);
            for (;;) {
                const rd_kafka_resp_err_t err =
                    rd_kafka_producev(rk,
                                      RD_KAFKA_V_TOPIC(topic.c_str()),
                                      RD_KAFKA_V_PARTITION(p),
                                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                      RD_KAFKA_V_VALUE(value.data(), value.size()),
                                      RD_KAFKA_V_END);
                if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                    rd_kafka_poll(rk, 10);
                    continue;
                }
                ASSERT_EQ(err, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(err);
                break;
            }
        }
        rd_kafka_poll(rk, 0);
    }
    const rd_kafka_resp_err_t flushed = rd_kafka_flush(rk, 60'000);
    rd_kafka_destroy(rk);
    ASSERT_EQ(flushed, RD_KAFKA_RESP_ERR_NO_ERROR) << "not every record was acknowledged";
    ASSERT_EQ(failures.load(), 0) << "records failed to be produced";
}

/// The group's committed offsets on `topic` (next offset to read; RD_KAFKA_OFFSET_INVALID if none), as a
/// restarted member would find them.
std::map<std::int32_t, std::int64_t> committed_offsets(const std::string& group,
                                                       const std::string& topic,
                                                       int partitions) {
    std::array<char, 512> error{};
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", kafka_bootstrap().c_str(), error.data(), error.size());
    rd_kafka_conf_set(conf, "group.id", group.c_str(), error.data(), error.size());
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", error.data(), error.size());
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error.data(), error.size());
    if (rk == nullptr) throw std::runtime_error(error.data());
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; ++p) rd_kafka_topic_partition_list_add(list, topic.c_str(), p);
    const rd_kafka_resp_err_t err = rd_kafka_committed(rk, list, 15'000);
    std::map<std::int32_t, std::int64_t> out;
    for (int i = 0; i < list->cnt; ++i) out[list->elems[i].partition] = list->elems[i].offset;
    rd_kafka_topic_partition_list_destroy(list);
    rd_kafka_destroy(rk);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) throw std::runtime_error(rd_kafka_err2str(err));
    return out;
}

std::string show(const std::map<std::int32_t, std::int64_t>& offsets) {
    std::string out;
    for (const auto& [p, o] : offsets) out += fmt::format("{}:{} ", p, o);
    return out;
}

std::map<std::int32_t, std::int64_t> every_partition(int partitions, std::int64_t offset) {
    std::map<std::int32_t, std::int64_t> out;
    for (int p = 0; p < partitions; ++p) out[p] = offset;
    return out;
}

/// `from`, `from + 1`, ..., `to - 1`.
std::vector<std::int64_t> offsets(std::int64_t from, std::int64_t to) {
    std::vector<std::int64_t> out;
    for (std::int64_t o = from; o < to; ++o) out.push_back(o);
    return out;
}

/// Polls `predicate` until it holds or `limit` passes.
bool eventually(const std::function<bool()>& predicate, std::chrono::milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
        if (predicate()) return true;
        std::this_thread::sleep_for(20ms);
    }
    return predicate();
}

service::WorkerConfig worker_config(const std::string& topic, const std::string& group, int partitions) {
    service::WorkerConfig w;
    w.name = kName;
    w.kafka.client.bootstrap_servers = kafka_bootstrap();
    w.kafka.client.client_id = "service-worker-test";
    // Rebalances are noticed within half a second rather than librdkafka's default of three.
    w.kafka.client.properties = {{"heartbeat.interval.ms", "500"}};
    w.kafka.group_id = group;
    w.kafka.partitions = partitions;
    w.kafka.replication_factor = 1;
    w.kafka.linger = 1ms;
    w.kafka.commit_interval = 100ms;
    w.kafka.session_timeout = 10s;
    w.kafka.produce_timeout = 30s;
    w.topics = {topic};
    w.topic_specs = {w.kafka.topic(topic)};
    w.admin.name = "admin";
    w.admin.address = "127.0.0.1";
    w.admin.port = 0;
    w.grace_period = 2s;
    return w;
}

/// What a hook saw, in order, with when.
struct Event {
    std::string what;  ///< started, assigned, refused, revoking, revoked, lost, stopping
    std::int32_t partition = -1;
    Clock::time_point at;
};

/// A service over a Worker: it records what it is handed and finishes each record at once (`kFinish`),
/// when the test releases it (`kHold`), or when the copy it produces through the worker's producer is
/// acknowledged (`kForward`).
class TestService : public service::WorkerHooks {
   public:
    enum class Mode { kFinish, kHold, kForward };

    explicit TestService(service::WorkerConfig config, Mode mode = Mode::kFinish, std::string forward_to = "")
        : mode_(mode),
          forward_to_(std::move(forward_to)),
          registry_(std::make_shared<prometheus::Registry>()),
          worker_(std::move(config), registry_) {}

    service::Worker& worker() { return worker_; }
    int admin_port() { return worker_.admin_port(); }

    // -- test thread --

    /// busy() answers true for every owned partition, whatever is in flight.
    void keep_busy(bool busy) { keep_busy_ = busy; }
    /// The record at this offset (of any partition) calls Worker::fail() and is never finished.
    void fail_at(std::int64_t offset) { fail_at_ = offset; }
    /// on_assigned throws (a state that could not be restored).
    void refuse_assignments() { refuse_assignments_ = true; }

    /// Finishes every held record on the worker's thread, then tells the worker (resumes a pause).
    void release_held() {
        asio::post(worker_.context(), [this] {
            {
                std::lock_guard lock(mutex_);
                for (const auto& [p, o] : held_) finish(p, o);
                held_.clear();
            }
            worker_.progress();
        });
    }

    std::map<std::int32_t, std::vector<std::int64_t>> received() const {
        std::lock_guard lock(mutex_);
        return received_;
    }
    std::size_t received_count() const {
        std::lock_guard lock(mutex_);
        return received_count_;
    }
    std::size_t held_count() const {
        std::lock_guard lock(mutex_);
        return held_.size();
    }
    std::size_t max_in_flight_seen() const {
        std::lock_guard lock(mutex_);
        return max_in_flight_seen_;
    }
    std::set<std::int32_t> owned() const {
        std::lock_guard lock(mutex_);
        return owned_;
    }
    std::vector<Event> events() const {
        std::lock_guard lock(mutex_);
        return events_;
    }
    std::size_t delivered() const {
        std::lock_guard lock(mutex_);
        return delivered_;
    }
    std::size_t delivery_failures() const {
        std::lock_guard lock(mutex_);
        return delivery_failures_;
    }
    /// Hooks called on another thread than run()'s, or on_record for a partition not owned.
    int misplaced_calls() const { return misplaced_.load(); }

    // -- the worker's hooks (its thread) --

    /// Worker::run() on this thread.
    int run() {
        run_thread_ = std::this_thread::get_id();
        return worker_.run(*this);
    }

    void on_started() override {
        if (std::this_thread::get_id() != run_thread_) misplaced_.fetch_add(1);
        log_event("started", -1);
    }

    void on_assigned(const kafka::TopicPartition& tp) override {
        if (refuse_assignments_) {
            log_event("refused", tp.partition);
            throw std::runtime_error("cannot restore the partition's state");
        }
        std::lock_guard lock(mutex_);
        trackers_[tp.partition] = kafka::OffsetTracker{};
        owned_.insert(tp.partition);
        events_.push_back({"assigned", tp.partition, Clock::now()});
    }

    void on_record(std::unique_ptr<kafka::Message> record) override {
        const std::int32_t p = record->partition();
        const std::int64_t o = record->offset();
        bool fail = false;
        {
            std::lock_guard lock(mutex_);
            if (std::this_thread::get_id() != run_thread_ || !owned_.contains(p)) misplaced_.fetch_add(1);
            received_[p].push_back(o);
            ++received_count_;
            trackers_[p].add(o);
            ++in_flight_;
            max_in_flight_seen_ = std::max(max_in_flight_seen_, in_flight_);
            if (fail_at_ && *fail_at_ == o) {
                fail = true;
            } else if (mode_ == Mode::kHold) {
                held_.emplace_back(p, o);
            } else if (mode_ == Mode::kFinish) {
                finish(p, o);
            }
        }
        if (fail) {
            worker_.fail("test record", fmt::format("offset {} of partition {}", o, p));
            return;
        }
        if (mode_ == Mode::kForward) {
            worker_.producer().async_produce_to(
                forward_to_,
                p,
                std::string(record->key()),
                std::string(record->value()),
                {},
                30s,
                asio::bind_executor(worker_.context(), [this, p, o](kafka::DeliveryResult result) {
                    {
                        std::lock_guard lock(mutex_);
                        ++(result.ok ? delivered_ : delivery_failures_);
                        finish(p, o);
                    }
                    worker_.progress();
                }));
        }
    }

    void on_revoking(const kafka::TopicPartition& tp) override { log_event("revoking", tp.partition); }

    [[nodiscard]] bool busy(const kafka::TopicPartition& tp) const override {
        std::lock_guard lock(mutex_);
        const auto it = trackers_.find(tp.partition);
        return keep_busy_.load() || (it != trackers_.end() && it->second.in_flight() > 0);
    }

    std::optional<std::int64_t> on_revoked(const kafka::TopicPartition& tp, bool lost) override {
        std::lock_guard lock(mutex_);
        events_.push_back({lost ? "lost" : "revoked", tp.partition, Clock::now()});
        owned_.erase(tp.partition);
        const auto it = trackers_.find(tp.partition);
        if (it == trackers_.end()) return std::nullopt;
        const auto position = it->second.position();
        in_flight_ -= it->second.in_flight();  // abandoned: the next owner reads them again
        std::erase_if(held_, [&](const auto& h) { return h.first == tp.partition; });
        trackers_.erase(it);
        return position;
    }

    std::optional<std::int64_t> take_commit(const kafka::TopicPartition& tp) override {
        std::lock_guard lock(mutex_);
        const auto it = trackers_.find(tp.partition);
        return it == trackers_.end() ? std::nullopt : it->second.take_commit();
    }

    [[nodiscard]] std::size_t in_flight() const override {
        std::lock_guard lock(mutex_);
        return in_flight_;
    }

    void on_stopping() override { log_event("stopping", -1); }

   private:
    void log_event(const char* what, std::int32_t partition) {
        std::lock_guard lock(mutex_);
        events_.push_back({what, partition, Clock::now()});
    }

    /// Under the lock.
    void finish(std::int32_t p, std::int64_t o) {
        const auto it = trackers_.find(p);
        if (it == trackers_.end()) return;  // revoked meanwhile
        const std::size_t before = it->second.in_flight();
        it->second.done(o);
        in_flight_ -= before - it->second.in_flight();
    }

    const Mode mode_;
    const std::string forward_to_;
    std::atomic<bool> keep_busy_{false};
    std::optional<std::int64_t> fail_at_;
    bool refuse_assignments_ = false;
    std::atomic<std::thread::id> run_thread_;
    std::atomic<int> misplaced_{0};

    mutable std::mutex mutex_;
    std::map<std::int32_t, kafka::OffsetTracker> trackers_;
    std::deque<std::pair<std::int32_t, std::int64_t>> held_;
    std::size_t in_flight_ = 0;
    std::size_t max_in_flight_seen_ = 0;
    std::map<std::int32_t, std::vector<std::int64_t>> received_;
    std::size_t received_count_ = 0;
    std::set<std::int32_t> owned_;
    std::vector<Event> events_;
    std::size_t delivered_ = 0;
    std::size_t delivery_failures_ = 0;

    std::shared_ptr<prometheus::Registry> registry_;
    service::Worker worker_;
};

/// Worker::run() on a thread of its own; stopped and joined when it goes out of scope.
class Running {
   public:
    explicit Running(TestService& service)
        : service_(service), result_(std::async(std::launch::async, [&service] { return service.run(); })) {}
    ~Running() {
        if (result_.valid()) {
            service_.worker().stop();
            result_.wait();
        }
    }
    Running(const Running&) = delete;
    Running& operator=(const Running&) = delete;

    /// run()'s exit code once it returned within `limit`; nullopt if it did not.
    std::optional<int> wait(std::chrono::milliseconds limit) {
        if (result_.wait_for(limit) != std::future_status::ready) return std::nullopt;
        return result_.get();
    }
    [[nodiscard]] bool returned() const { return result_.wait_for(0ms) == std::future_status::ready; }

   private:
    TestService& service_;
    std::future<int> result_;
};

std::optional<double> gauge(TestService& service, const std::string& what) {
    return metric(service.admin_port(), metric_name(what));
}

bool gauge_becomes(TestService& service,
                   const std::string& what,
                   double value,
                   std::chrono::milliseconds limit) {
    return eventually([&] { return gauge(service, what) == value; }, limit);
}

/// Releases what `service` holds, again and again, until it received `total` records (or 45 s passed):
/// after each release it waits for the records that fill it up to `cap` again (or the last of them).
/// The number of releases.
int release_until(TestService& service, std::size_t total, std::size_t cap) {
    int rounds = 0;
    const auto deadline = Clock::now() + 45s;
    while (service.received_count() < total && Clock::now() < deadline) {
        const std::size_t before = service.received_count();
        service.release_held();
        ++rounds;
        eventually(
            [&] {
                const std::size_t n = service.received_count();
                return n > before && (service.held_count() >= cap || n == total);
            },
            5s);
    }
    service.release_held();
    return rounds;
}

std::string describe(const std::vector<Event>& events) {
    std::string out;
    for (const auto& e : events)
        out += e.partition < 0 ? e.what + " " : fmt::format("{}({}) ", e.what, e.partition);
    return out;
}

// ---------------------------------------------------------------------------------------------------------

TEST(ServiceWorker, RecordsArriveInOffsetOrderAndTheirOffsetsAreCommitted) {
    const std::string topic = unique_topic("svc.order");
    const std::string group = unique_group("order");
    constexpr int kPartitions = 3;
    auto config = worker_config(topic, group, kPartitions);
    config.grace_period = 10s;
    TestService service(config);  // creates the topic
    produce(topic, kPartitions, 30);
    ASSERT_FALSE(HasFatalFailure());

    Running running(service);
    ASSERT_TRUE(eventually([&] { return service.received_count() >= 3 * 30; }, 30s))
        << service.received_count();
    produce(topic, kPartitions, 20, 30);  // and more while it consumes
    ASSERT_FALSE(HasFatalFailure());
    ASSERT_TRUE(eventually([&] { return service.received_count() >= 3 * 50; }, 30s))
        << service.received_count();

    const auto received = service.received();
    ASSERT_EQ(received.size(), 3U);
    for (const auto& [p, seen] : received) EXPECT_EQ(seen, offsets(0, 50)) << "partition " << p;
    EXPECT_EQ(service.misplaced_calls(), 0) << "on_record on run()'s thread, for owned partitions only";

    // Committed every commit_interval while running (not only when stopping).
    std::map<std::int32_t, std::int64_t> committed;
    EXPECT_TRUE(eventually(
        [&] {
            committed = committed_offsets(group, topic, kPartitions);
            return committed == every_partition(kPartitions, 50);
        },
        15s))
        << show(committed);

    // The gauges and probes while consuming.
    EXPECT_TRUE(gauge_becomes(service, "partitions", 3, 5s)) << gauge(service, "partitions").value_or(-1);
    EXPECT_EQ(gauge(service, "ready"), 1);
    EXPECT_EQ(gauge(service, "consumption_paused"), 0);
    EXPECT_TRUE(gauge_becomes(service, "consumer_lag", 0, 5s));
    EXPECT_EQ(admin_get(service.admin_port(), "/readyz"),
              (std::pair<int, std::string>{200, R"({"status":"ready"})"}));
    EXPECT_EQ(admin_get(service.admin_port(), "/healthz"),
              (std::pair<int, std::string>{200, R"({"status":"ok"})"}));

    // A clean stop, without waiting for a grace period nothing needs.
    const auto stop_at = Clock::now();
    service.worker().stop();
    const auto code = running.wait(20s);
    ASSERT_TRUE(code.has_value()) << "run() did not return after stop()";
    EXPECT_EQ(*code, 0);
    EXPECT_LT(Clock::now() - stop_at, 8s) << "nothing was busy: no reason to wait out the 10 s grace";
    EXPECT_TRUE(service.worker().stopping());
    EXPECT_FALSE(service.worker().failed());

    // started, the three assignments before any record, and at the end every revocation then stopping.
    const auto events = service.events();
    ASSERT_GE(events.size(), 8U) << describe(events);
    EXPECT_EQ(events.front().what, "started") << describe(events);
    EXPECT_EQ(events.back().what, "stopping") << describe(events);
    std::set<std::int32_t> revoked;
    for (auto it = events.rbegin() + 1; it != events.rend() && it->what == "revoked"; ++it)
        revoked.insert(it->partition);
    EXPECT_EQ(revoked, (std::set<std::int32_t>{0, 1, 2}))
        << "on_stopping after the final on_revoked: " << describe(events);
    EXPECT_EQ(
        std::count_if(events.begin(), events.end(), [](const Event& e) { return e.what == "stopping"; }), 1);
    EXPECT_TRUE(service.owned().empty());

    // Stopped, not failed: alive but not ready (the admin listener lives as long as the Worker).
    EXPECT_EQ(admin_get(service.admin_port(), "/readyz").first, 503);
    EXPECT_EQ(admin_get(service.admin_port(), "/healthz").first, 200);
    EXPECT_EQ(gauge(service, "ready"), 0);
    EXPECT_EQ(gauge(service, "partitions"), 0);
    EXPECT_EQ(committed_offsets(group, topic, kPartitions), every_partition(kPartitions, 50));
}

TEST(ServiceWorker, BackPressurePausesAndResumesWithoutLosingOrReorderingARecord) {
    const std::string topic = unique_topic("svc.pause");
    const std::string group = unique_group("pause");
    constexpr int kPartitions = 2;
    constexpr int kPerPartition = 40;
    constexpr std::size_t kMaxInFlight = 5;
    auto config = worker_config(topic, group, kPartitions);
    config.kafka.max_in_flight = kMaxInFlight;
    TestService service(config, TestService::Mode::kHold);
    produce(topic, kPartitions, kPerPartition);
    ASSERT_FALSE(HasFatalFailure());

    Running running(service);
    // Five records are handed over and held; the consumer pauses and the rest of what it had fetched
    // (80 records are waiting) is dropped.
    ASSERT_TRUE(eventually([&] { return service.held_count() >= kMaxInFlight; }, 30s))
        << service.held_count();
    EXPECT_TRUE(gauge_becomes(service, "consumption_paused", 1, 5s))
        << gauge(service, "consumption_paused").value_or(-1);
    std::this_thread::sleep_for(500ms);
    EXPECT_EQ(service.received_count(), kMaxInFlight) << "nothing more is handed over while paused";
    EXPECT_EQ(gauge(service, "consumption_paused"), 1) << "the periodic tick does not resume while full";

    // Release what is held, again and again: each release resumes, five more come and it pauses again.
    const int rounds = release_until(service, kPartitions * kPerPartition, kMaxInFlight);
    EXPECT_GE(rounds, kPartitions * kPerPartition / static_cast<int>(kMaxInFlight) - 1);
    EXPECT_LE(service.max_in_flight_seen(), kMaxInFlight) << "the cap is never passed: it pauses at once";

    const auto received = service.received();
    ASSERT_EQ(received.size(), 2U);
    for (const auto& [p, seen] : received)
        EXPECT_EQ(seen, offsets(0, kPerPartition)) << "partition " << p << ": every record once, in order";
    EXPECT_EQ(service.received_count(), static_cast<std::size_t>(kPartitions * kPerPartition));

    // All finished: consuming again and everything committed.
    EXPECT_TRUE(gauge_becomes(service, "consumption_paused", 0, 5s));
    std::map<std::int32_t, std::int64_t> committed;
    EXPECT_TRUE(eventually(
        [&] {
            committed = committed_offsets(group, topic, kPartitions);
            return committed == every_partition(kPartitions, kPerPartition);
        },
        15s))
        << show(committed);
    service.worker().stop();
    EXPECT_EQ(running.wait(20s), 0);
}

TEST(ServiceWorker, PartitionsAssignedWhilePausedWaitForTheResume) {
    const std::string topic = unique_topic("svc.pause.assign");
    const std::string group = unique_group("pause-assign");
    constexpr int kPartitions = 4;
    constexpr int kPerPartition = 12;
    constexpr std::size_t kMaxInFlight = 4;
    auto config = worker_config(topic, group, kPartitions);
    config.grace_period = 1s;
    // The first member holds everything it gets and never commits: its partitions come to the second
    // member from offset 0.
    TestService first(config, TestService::Mode::kHold);
    produce(topic, kPartitions, kPerPartition);
    ASSERT_FALSE(HasFatalFailure());
    Running first_running(first);
    ASSERT_TRUE(
        eventually([&] { return first.owned().size() == kPartitions && first.received_count() > 0; }, 30s));

    // The second member takes half of them, fills up to its cap and pauses.
    auto second_config = config;
    second_config.kafka.max_in_flight = kMaxInFlight;
    TestService second(second_config, TestService::Mode::kHold);
    Running second_running(second);
    ASSERT_TRUE(
        eventually([&] { return second.owned().size() == 2 && second.held_count() >= kMaxInFlight; }, 30s))
        << describe(second.events());
    ASSERT_TRUE(gauge_becomes(second, "consumption_paused", 1, 5s));

    // The first leaves: its two partitions are added to the paused member, which takes nothing from them.
    first.worker().stop();
    ASSERT_EQ(first_running.wait(20s), 0);
    ASSERT_TRUE(eventually([&] { return second.owned().size() == kPartitions; }, 30s))
        << describe(second.events());
    std::this_thread::sleep_for(1s);
    EXPECT_EQ(second.received_count(), kMaxInFlight) << "records handed over while paused";
    EXPECT_EQ(gauge(second, "consumption_paused"), 1);

    // Released: every partition, old and new, from 0 to the end, once and in order.
    release_until(second, kPartitions * kPerPartition, kMaxInFlight);
    EXPECT_LE(second.max_in_flight_seen(), kMaxInFlight);
    const auto received = second.received();
    ASSERT_EQ(received.size(), static_cast<std::size_t>(kPartitions));
    for (const auto& [p, seen] : received)
        EXPECT_EQ(seen, offsets(0, kPerPartition)) << "partition " << p << ": every record once, in order";
    second.worker().stop();
    EXPECT_EQ(second_running.wait(20s), 0);
}

TEST(ServiceWorker, ARevocationWaitsForBusyUpToTheGracePeriodThenCommits) {
    const std::string topic = unique_topic("svc.revoke");
    const std::string group = unique_group("revoke");
    constexpr int kPartitions = 4;
    auto config = worker_config(topic, group, kPartitions);
    config.grace_period = 2s;
    // No periodic commit: what the new owner starts from is the revocation's final, synchronous commit.
    config.kafka.commit_interval = 1h;
    TestService first(config);
    produce(topic, kPartitions, 10);
    ASSERT_FALSE(HasFatalFailure());
    Running first_running(first);
    ASSERT_TRUE(eventually([&] { return first.received_count() >= 40; }, 30s)) << first.received_count();
    ASSERT_EQ(first.owned().size(), 4U);
    EXPECT_EQ(committed_offsets(group, topic, kPartitions),
              every_partition(kPartitions, RD_KAFKA_OFFSET_INVALID))
        << "nothing committed before the revocation (commit_interval 1h)";

    // The first member's work never finishes: its revocation waits out the grace period.
    first.keep_busy(true);
    TestService second(config);
    Running second_running(second);
    ASSERT_TRUE(eventually([&] { return first.owned().size() == 2 && second.owned().size() == 2; }, 40s))
        << "first owns " << first.owned().size() << ", second " << second.owned().size()
        << "; first: " << describe(first.events()) << "; second: " << describe(second.events());
    EXPECT_TRUE(gauge_becomes(first, "partitions", 2, 5s)) << gauge(first, "partitions").value_or(-1);
    EXPECT_TRUE(gauge_becomes(second, "partitions", 2, 5s)) << gauge(second, "partitions").value_or(-1);

    // Each revoked partition: on_revoking, then the wait, then on_revoked ~grace later (not much more).
    const auto events = first.events();
    std::map<std::int32_t, Clock::time_point> revoking, revoked;
    for (const auto& e : events) {
        if (e.what == "revoking") revoking[e.partition] = e.at;
        if (e.what == "revoked") revoked[e.partition] = e.at;
        EXPECT_NE(e.what, "lost") << describe(events);
    }
    ASSERT_EQ(revoked.size(), 2U) << describe(events);
    Clock::time_point last_revoked{};
    for (const auto& [p, at] : revoked) {
        ASSERT_TRUE(revoking.contains(p)) << describe(events);
        const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(at - revoking[p]);
        EXPECT_GE(waited, 1900ms) << "partition " << p << " was given up before the grace period";
        EXPECT_LE(waited, 3500ms) << "partition " << p << " waited much longer than the grace period";
        last_revoked = std::max(last_revoked, at);
    }
    // The second member got them only once the first had let them go.
    std::set<std::int32_t> second_assigned;
    for (const auto& e : second.events()) {
        if (e.what != "assigned") continue;
        second_assigned.insert(e.partition);
        EXPECT_GE(e.at, last_revoked) << "partition " << e.partition << " assigned before it was released";
    }
    std::set<std::int32_t> moved;
    for (const auto& [p, at] : revoked) moved.insert(p);
    EXPECT_EQ(second_assigned, moved);
    EXPECT_EQ(second.owned(), moved);

    // The final commit of the revoked partitions: the second member reads none of the first ten again.
    const auto committed = committed_offsets(group, topic, kPartitions);
    for (const auto p : moved) EXPECT_EQ(committed.at(p), 10) << "partition " << p;
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(second.received_count(), 0U) << "records the first member finished were read again";

    // New records go to whichever member owns their partition, from where the first left off.
    first.keep_busy(false);
    produce(topic, kPartitions, 5, 10);
    ASSERT_FALSE(HasFatalFailure());
    ASSERT_TRUE(eventually([&] { return first.received_count() + second.received_count() >= 40 + 20; }, 30s))
        << first.received_count() << " + " << second.received_count();
    const auto by_second = second.received();
    for (const auto p : moved)
        EXPECT_EQ(by_second.count(p) ? by_second.at(p) : std::vector<std::int64_t>{}, offsets(10, 15)) << p;
    const auto by_first = first.received();
    for (const auto p : first.owned()) EXPECT_EQ(by_first.at(p), offsets(0, 15)) << p;

    second.worker().stop();
    EXPECT_EQ(second_running.wait(20s), 0);
    first.worker().stop();
    EXPECT_EQ(first_running.wait(20s), 0);
}

TEST(ServiceWorker, StopWaitsForBusyUpToTheGracePeriodThenCommitsAndLeaves) {
    const std::string topic = unique_topic("svc.stop");
    const std::string group = unique_group("stop");
    constexpr int kPartitions = 2;
    auto config = worker_config(topic, group, kPartitions);
    config.grace_period = 2s;
    config.kafka.commit_interval = 1h;  // only the final commit
    TestService service(config);
    produce(topic, kPartitions, 10);
    ASSERT_FALSE(HasFatalFailure());
    Running running(service);
    ASSERT_TRUE(eventually([&] { return service.received_count() >= 20; }, 30s)) << service.received_count();
    ASSERT_EQ(admin_get(service.admin_port(), "/readyz").first, 200);

    service.keep_busy(true);
    const auto stop_at = Clock::now();
    service.worker().stop();
    service.worker().stop();  // twice: the same stop
    // While it waits for the work in flight, probes are answered: not ready, still healthy.
    std::this_thread::sleep_for(500ms);
    EXPECT_FALSE(running.returned()) << "it did not wait for busy()";
    EXPECT_EQ(admin_get(service.admin_port(), "/readyz"),
              (std::pair<int, std::string>{503, R"({"status":"not_ready"})"}));
    EXPECT_EQ(admin_get(service.admin_port(), "/healthz").first, 200);

    const auto code = running.wait(config.grace_period + 5s);
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - stop_at);
    ASSERT_TRUE(code.has_value()) << "run() did not return within grace + 5 s";
    EXPECT_EQ(*code, 0) << "a stop after the grace period ran out is still a clean stop";
    EXPECT_GE(took, 1900ms) << "stopped before the grace period although busy";
    EXPECT_LE(took, config.grace_period + 4s);

    const auto events = service.events();
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back().what, "stopping") << describe(events);
    std::map<std::int32_t, Clock::time_point> revoking, revoked;
    for (const auto& e : events) {
        if (e.what == "revoking") revoking[e.partition] = e.at;
        if (e.what == "revoked") revoked[e.partition] = e.at;
    }
    ASSERT_EQ(revoked.size(), 2U) << describe(events);
    for (const auto& [p, at] : revoked) {
        EXPECT_GE(at - revoking.at(p), 1900ms) << describe(events);
        EXPECT_LE(at, events.back().at);
    }
    EXPECT_EQ(committed_offsets(group, topic, kPartitions), every_partition(kPartitions, 10))
        << "what was finished is committed on the way out";

    // Once stopped, stop() again is harmless.
    service.worker().stop();
}

TEST(ServiceWorker, FailStopsWithExitCode1WithoutCommittingPastTheFailedRecord) {
    const std::string topic = unique_topic("svc.fail");
    const std::string group = unique_group("fail");
    auto config = worker_config(topic, group, 1);
    config.grace_period = 10s;
    TestService service(config);
    service.fail_at(4);
    produce(topic, 1, 10);
    ASSERT_FALSE(HasFatalFailure());
    EXPECT_EQ(admin_get(service.admin_port(), "/healthz").first, 200);
    Running running(service);
    const auto code = running.wait(30s);
    ASSERT_TRUE(code.has_value()) << "fail() did not end run()";
    EXPECT_EQ(*code, 1);
    EXPECT_TRUE(service.worker().failed());

    const auto received = service.received();
    ASSERT_EQ(received.size(), 1U);
    EXPECT_EQ(received.at(0), offsets(0, 5)) << "nothing is started after the failure";
    EXPECT_EQ(committed_offsets(group, topic, 1).at(0), 4)
        << "the failed record is read again after a restart";
    EXPECT_EQ(admin_get(service.admin_port(), "/healthz"),
              (std::pair<int, std::string>{503, R"({"status":"failed"})"}));
    EXPECT_EQ(admin_get(service.admin_port(), "/readyz").first, 503);
    const auto events = service.events();
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back().what, "stopping") << describe(events);
}

TEST(ServiceWorker, AnAssignmentThatCannotBeRestoredStopsWithExitCode1) {
    const std::string topic = unique_topic("svc.refuse");
    const std::string group = unique_group("refuse");
    auto config = worker_config(topic, group, 2);
    TestService service(config);
    service.refuse_assignments();
    produce(topic, 2, 5);
    ASSERT_FALSE(HasFatalFailure());
    Running running(service);
    const auto code = running.wait(30s);
    ASSERT_TRUE(code.has_value()) << "a throwing on_assigned did not end run(): "
                                  << describe(service.events());
    EXPECT_EQ(*code, 1);
    EXPECT_EQ(service.received_count(), 0U) << "records of a partition that was not taken";
    EXPECT_TRUE(service.owned().empty());
    EXPECT_EQ(gauge(service, "partitions"), 0);
    EXPECT_EQ(admin_get(service.admin_port(), "/healthz"),
              (std::pair<int, std::string>{503, R"({"status":"failed"})"}));
    const auto events = service.events();
    EXPECT_GE(std::count_if(events.begin(), events.end(), [](const Event& e) { return e.what == "refused"; }),
              1)
        << "on_assigned was never called: " << describe(events);
    EXPECT_EQ(std::count_if(events.begin(), events.end(), [](const Event& e) { return e.what == "revoked"; }),
              0)
        << "a partition never taken is not revoked: " << describe(events);
}

TEST(ServiceWorker, StopBeforeRunMakesRunReturnAtOnce) {
    const std::string topic = unique_topic("svc.early");
    const std::string group = unique_group("early");
    TestService service(worker_config(topic, group, 1));
    service.worker().stop();
    const auto start = Clock::now();
    Running running(service);
    const auto code = running.wait(15s);
    ASSERT_TRUE(code.has_value()) << "run() after stop() did not return";
    EXPECT_EQ(*code, 0);
    EXPECT_LT(Clock::now() - start, 10s);
    const auto events = service.events();
    for (const auto& e : events) EXPECT_NE(e.what, "assigned") << describe(events);
    EXPECT_EQ(admin_get(service.admin_port(), "/readyz").first, 503);
}

TEST(ServiceWorker, ManyRecordsThroughTheConsumersAndTheProducersEventfds) {
    const std::string topic = unique_topic("svc.load");
    const std::string out = unique_topic("svc.load.out");
    const std::string group = unique_group("load");
    constexpr int kPartitions = 4;
    constexpr int kPerPartition = 5'000;
    constexpr std::size_t kTotal = kPartitions * kPerPartition;
    auto config = worker_config(topic, group, kPartitions);
    config.topic_specs.push_back(config.kafka.topic(out));
    config.kafka.max_in_flight = 1'000;  // some back-pressure on the way
    config.kafka.linger = 2ms;
    TestService service(config, TestService::Mode::kForward, out);
    Running running(service);
    ASSERT_TRUE(eventually([&] { return service.owned().size() == kPartitions; }, 30s));
    produce(topic, kPartitions, kPerPartition);  // while it consumes
    ASSERT_FALSE(HasFatalFailure());

    ASSERT_TRUE(eventually([&] { return service.delivered() + service.delivery_failures() >= kTotal; }, 90s))
        << service.received_count() << " received, " << service.delivered() << " delivered";
    EXPECT_EQ(service.delivery_failures(), 0U);
    EXPECT_EQ(service.received_count(), kTotal);
    EXPECT_LE(service.max_in_flight_seen(), 1'000U);
    for (const auto& [p, seen] : service.received())
        EXPECT_TRUE(seen == offsets(0, kPerPartition))
            << "partition " << p << ": " << seen.size() << " records, not 0.." << kPerPartition - 1
            << " in order";
    EXPECT_EQ(service.misplaced_calls(), 0);
    std::map<std::int32_t, std::int64_t> committed;
    EXPECT_TRUE(eventually(
        [&] {
            committed = committed_offsets(group, topic, kPartitions);
            return committed == every_partition(kPartitions, kPerPartition);
        },
        15s))
        << show(committed);
    service.worker().stop();
    EXPECT_EQ(running.wait(20s), 0);

    // What it produced is on the broker, each record once, in its input's partition.
    const auto copies = consume_all(kafka_bootstrap(), out, kTotal, 60s);
    EXPECT_EQ(copies.size(), kTotal);
    std::set<std::string> values;
    for (const auto& r : copies) {
        values.insert(r.value);
        EXPECT_EQ(r.value.substr(0, r.value.find(':')), std::to_string(r.partition)) << r.value;
    }
    EXPECT_EQ(values.size(), kTotal) << "a record was produced twice";
}

}  // namespace
}  // namespace relay::test
