#include "service.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <array>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <future>
#include <map>
#include <random>
#include <thread>

#include "dispatcher.hpp"
#include "key_order.hpp"
#include "metrics.hpp"
#include "parking.hpp"
#include "relay/contracts/documents.hpp"
#include "relay/contracts/headers.hpp"
#include "relay/core/encoding.hpp"
#include "relay/core/log.hpp"
#include "relay/core/time.hpp"
#include "relay/delivery/tiers.hpp"
#include "relay/service/worker.hpp"
#include "relay/hub/update.hpp"
#include "relay/kafka/admin.hpp"
#include "relay/kafka/consumer.hpp"
#include "relay/kafka/embedded_cluster.hpp"
#include "relay/kafka/producer.hpp"
#include "relay/metrics/metrics.hpp"
#include "tier_forwarder.hpp"

namespace relay::delivery_service {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace json = boost::json;
using SteadyClock = std::chrono::steady_clock;
namespace header = contracts::header;

namespace {

std::int64_t epoch_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string header_or(const kafka::Message& m, std::string_view name, std::string_view fallback = {}) {
    const auto value = m.header(name);
    return std::string(value ? *value : fallback);
}

std::int64_t header_int(const kafka::Message& m, std::string_view name, std::int64_t fallback) {
    const auto text = m.header(name);
    std::int64_t value = 0;
    if (!text || std::from_chars(text->data(), text->data() + text->size(), value).ec != std::errc{})
        return fallback;
    return value;
}

void set_header(std::vector<kafka::Header>& headers, std::string_view name, std::string value) {
    std::erase_if(headers, [&](const kafka::Header& h) { return h.name == name; });
    headers.push_back({std::string(name), std::move(value)});
}

void drop_header(std::vector<kafka::Header>& headers, std::string_view name) {
    std::erase_if(headers, [&](const kafka::Header& h) { return h.name == name; });
}

std::string destination_of(std::string_view key) {
    return std::string(key.substr(0, key.find('|')));
}

struct Outgoing {
    std::string topic;
    std::int32_t partition = kafka::Producer::kAnyPartition;
    std::string key;
    std::string value;  ///< empty = tombstone
    std::vector<kafka::Header> headers;
};

}  // namespace

struct DeliveryService::Impl : service::WorkerHooks, KeyOrder::Io {
    explicit Impl(DeliveryServiceConfig c)
        : config(std::move(c)),
          tiers(config.delivery.retry_tiers),
          tier_topics(config.tier_topics()),
          registry(std::make_shared<prometheus::Registry>()),
          worker(worker_config(config), registry),
          metrics(registry, destination_ids(config), tier_labels(config)) {}

    static service::WorkerConfig worker_config(const DeliveryServiceConfig& c) {
        service::WorkerConfig w;
        w.name = "delivery";
        w.kafka = c.kafka;
        w.topics = {c.topics.deliveries};
        w.topic_specs = c.topic_specs();
        // Parked records are written to their deliveries partition's number.
        w.co_partitioned = {{c.topics.parked, c.topics.deliveries}};
        w.admin = c.admin;
        w.grace_period = c.grace_period;
        return w;
    }

    static std::vector<std::string> destination_ids(const DeliveryServiceConfig& c) {
        std::vector<std::string> ids;
        for (const auto& d : c.delivery.destinations) ids.push_back(d.sender.id);
        return ids;
    }
    static std::vector<std::string> tier_labels(const DeliveryServiceConfig& c) {
        std::vector<std::string> labels;
        for (const auto t : c.delivery.retry_tiers) labels.push_back(tier_label(t));
        return labels;
    }

    /// One destination: its dispatcher and how many records are started on it and not finished.
    struct Destination {
        std::unique_ptr<DestinationDispatcher> dispatcher;
        DeliveryMetrics::Destination* metrics = nullptr;
        std::size_t started = 0;
        int max_concurrency = 1;
        bool ocean_received_task = false;
        /// How fast the destination works through its queue: the mean time between two finished
        /// dispatches (seconds; 0 until there is one), and when the last one finished (or the queue
        /// started after being empty).
        double seconds_per_dispatch = 0;
        SteadyClock::time_point last_progress{};

        /// True when the records already waiting would keep the next one waiting longer than `limit`
        /// (or more than `max_waiting` wait): a slow or stalled destination, whose records then wait in
        /// a tier rather than in the consumer's shared capacity. A fast destination's backlog drains
        /// in moments and is never deferred.
        [[nodiscard]] bool overloaded(std::size_t waiting,
                                      std::size_t max_waiting,
                                      std::chrono::milliseconds limit,
                                      SteadyClock::time_point now) const {
            if (waiting >= max_waiting) return true;
            if (waiting < static_cast<std::size_t>(max_concurrency)) return false;
            const double limit_s = std::chrono::duration<double>(limit).count();
            if (std::chrono::duration<double>(now - last_progress).count() > limit_s) return true;  // stalled
            return static_cast<double>(waiting) * seconds_per_dispatch > limit_s;
        }
        void dispatched(SteadyClock::time_point now) {
            const double interval = std::chrono::duration<double>(now - last_progress).count();
            seconds_per_dispatch =
                seconds_per_dispatch == 0 ? interval : 0.8 * seconds_per_dispatch + 0.2 * interval;
            last_progress = now;
        }
        int tokens_seen = 0;
    };

    using Head = KeyOrder::Head;

    DeliveryServiceConfig config;
    DelayTiers tiers;
    std::vector<std::string> tier_topics;
    std::shared_ptr<prometheus::Registry> registry;
    // Before the key state and coroutine frames that hold Messages: destroyed after them, since the
    // consumer must outlive every record it returned.
    service::Worker worker;
    DeliveryMetrics metrics;
    std::unique_ptr<kafka::RecordReader> reader;  ///< used on the fetch thread only
    std::unique_ptr<TierForwarder> forwarder;

    /// Parked records are read back by a blocking reader on a thread of their own.
    asio::io_context fetch_ioc{1};
    std::thread fetch_thread;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> fetch_work;

    // Worker-thread state.
    std::map<std::string, Destination, std::less<>> destinations;
    KeyOrder keys{*this};

    void start() {
        std::random_device seed;
        for (auto& d : config.delivery.destinations) {
            Destination dest;
            dest.metrics = &metrics.destination(d.sender.id);
            dest.max_concurrency = d.max_concurrency;
            dest.ocean_received_task = d.ocean_received_task;
            const std::string id = d.sender.id;
            dest.dispatcher = std::make_unique<DestinationDispatcher>(
                worker.context().get_executor(), d, (static_cast<std::uint64_t>(seed()) << 32) | seed());
            destinations.emplace(id, std::move(dest));
        }
        fetch_work.emplace(fetch_ioc.get_executor());
        fetch_thread = std::thread([this] { fetch_ioc.run(); });
    }

    void fail(std::string_view what) { worker.fail(what, "see the log lines before"); }

    // -- producing; completions run on the pipeline thread --

    /// Produces every record (in order: records for one partition keep their order), then calls `then`
    /// with each acknowledgement's offset once all are acknowledged. A failed produce stops the process.
    void produce_all(std::vector<Outgoing> records, std::function<void(std::vector<std::int64_t>)> then) {
        if (records.empty()) {
            then({});
            return;
        }
        struct Batch {
            std::size_t remaining;
            std::vector<std::int64_t> offsets;
            std::function<void(std::vector<std::int64_t>)> then;
            bool failed = false;
        };
        auto batch = std::make_shared<Batch>(
            Batch{records.size(), std::vector<std::int64_t>(records.size(), -1), std::move(then)});
        for (std::size_t i = 0; i < records.size(); ++i) {
            auto& r = records[i];
            const std::string topic = r.topic;
            worker.producer().async_produce_to(
                std::move(r.topic),
                r.partition,
                std::move(r.key),
                std::move(r.value),
                std::move(r.headers),
                config.kafka.produce_timeout,
                asio::bind_executor(worker.context(), [this, batch, i, topic](kafka::DeliveryResult result) {
                    if (!result.ok) {
                        if (!batch->failed)
                            fail(fmt::format("produce to {}: {}", topic, result.error.message));
                        batch->failed = true;
                        return;
                    }
                    batch->offsets[i] = result.offset;
                    if (--batch->remaining == 0 && !batch->failed) batch->then(std::move(batch->offsets));
                }));
        }
    }

    Outgoing event(std::string_view outcome, const Head& h, json::object body) {
        const kafka::Message& m = *h.record;
        body["outcome"] = outcome;
        body["destination"] = destination_of(h.key);
        body["referral_ref"] = header_or(m, header::kReferralRef);
        body["event"] = header_or(m, header::kEvent);
        body["idempotency_key"] = header_or(m, header::kIdempotencyKey);
        body["at"] = format_rfc3339_millis(system_now());
        body["delivery"] = worker.instance();
        std::string ref = header_or(m, header::kReferralRef);
        std::vector<kafka::Header> headers{{std::string(header::kOutcome), std::string(outcome)},
                                           {std::string(header::kReferralRef), ref}};
        if (const auto tp = m.header(header::kTraceparent))
            headers.push_back({std::string(header::kTraceparent), std::string(*tp)});
        return Outgoing{config.topics.events,
                        kafka::Producer::kAnyPartition,
                        std::move(ref),
                        json::serialize(body),
                        std::move(headers)};
    }

    /// The `received` update for a new referral just delivered to `destination` (ocean_received_task):
    /// its id is derived from (destination, referral), so a re-delivery or a resent referral gives the
    /// same update — the same message to Ocean. The updater sends it only while Ocean holds no later
    /// status from the receiver.
    Outgoing received_update(const Head& h, const std::string& destination) {
        const kafka::Message& m = *h.record;
        std::string ref = header_or(m, header::kReferralRef);
        // The hub's own update format, written by its own serializer (what the updater parses).
        hub::Update update;
        update.update_id = "received-" + hex_encode(sha256(destination + "|" + ref)).substr(0, 32);
        update.referral_ref = ref;
        update.action = hub::Action::kReceived;
        update.site = header_or(m, header::kSite);
        std::vector<kafka::Header> headers{
            {std::string(header::kContentType), "application/json"},
            {std::string(header::kHubSystem), "delivery:" + destination},
            {std::string(header::kUpdateId), update.update_id},
            {std::string(header::kAction), "received"},
            {std::string(header::kReceivedAt), format_rfc3339_millis(system_now())}};
        if (const auto tp = m.header(header::kTraceparent))
            headers.push_back({std::string(header::kTraceparent), std::string(*tp)});
        return Outgoing{config.topics.updates,
                        kafka::Producer::kAnyPartition,
                        std::move(ref),
                        hub::to_json(update),
                        std::move(headers)};
    }

    Outgoing changelog(std::int32_t partition,
                       std::string key,
                       std::string value,
                       std::vector<kafka::Header> headers = {}) {
        return Outgoing{
            config.topics.parked, partition, std::move(key), std::move(value), std::move(headers)};
    }

    // -- the key order's I/O (KeyOrder::Io) --

    void start_send(Head h) override { asio::co_spawn(worker.context(), send(std::move(h)), asio::detached); }

    void write_parked(const Head& h,
                      const std::string& behind,
                      std::function<void(std::int64_t)> then) override {
        std::vector<Outgoing> writes;
        writes.push_back(changelog(h.partition,
                                   parked_record_key(h.key, h.token),
                                   std::string(h.record->value()),
                                   h.record->headers()));
        writes.push_back(event("parked", h, json::object{{"behind", behind}}));
        produce_all(std::move(writes),
                    [then = std::move(then)](std::vector<std::int64_t> offsets) { then(offsets[0]); });
    }

    void write_changelog(std::int32_t partition,
                         std::vector<KeyOrder::ChangelogRecord> records,
                         std::function<void()> then) override {
        std::vector<Outgoing> writes;
        for (auto& r : records) writes.push_back(changelog(partition, std::move(r.key), std::move(r.value)));
        produce_all(std::move(writes), [then = std::move(then)](std::vector<std::int64_t>) { then(); });
    }

    /// Reads on the fetch thread; `then` runs on the pipeline thread.
    void read_parked(std::int32_t partition,
                     const std::string& key,
                     const ParkedRecord& record,
                     std::function<void(std::shared_ptr<kafka::Message>)> then) override {
        asio::post(fetch_ioc, [this, partition, key, record, then = std::move(then)]() mutable {
            std::shared_ptr<kafka::Message> m;
            try {
                if (!reader) reader = std::make_unique<kafka::RecordReader>(worker.kafka().client);
                m = reader->read(
                    config.topics.parked, partition, record.offset, config.kafka.restore_timeout);
            } catch (const std::exception& e) {
                log::error("parked record could not be read back", {{"error", e.what()}});
                fail("reading a parked record");
                return;
            }
            log::debug("parked record read back", {{"token", record.token}, {"found", m != nullptr}});
            if (m && (m->offset() != record.offset || m->key() != parked_record_key(key, record.token)))
                m.reset();  // another record at its offset: it is gone
            asio::post(worker.context(),
                       [then = std::move(then), m = std::move(m)]() mutable { then(std::move(m)); });
        });
    }

    void record_done() override { worker.progress(); }
    void stale_retry() override { metrics.stale_retries().Increment(); }
    void parked_record_lost() override { metrics.lost_parked().Increment(); }

    asio::awaitable<void> send(Head h) {
        const kafka::Message& m = *h.record;
        const std::string destination = header_or(m, header::kDestination, destination_of(h.key));
        const int made = static_cast<int>(header_int(m, header::kAttempt, 0));
        const std::int64_t first_ms = header_int(m, header::kFirstAttemptAt, epoch_ms());
        const auto dit = destinations.find(destination);
        if (dit == destinations.end()) {
            metrics.unknown_destination().Increment();
            log::error("delivery record for a destination not in the configuration: dead-lettered",
                       {{"destination", destination}, {"referral_ref", header_or(m, header::kReferralRef)}});
            dead_letter(std::move(h), "unknown destination", 0, "", made, first_ms);
            co_return;
        }
        if (m.at_rest_error()) {
            // Sealed at rest and not opened (this process lacks kafka.at_rest's keys, or the key is
            // retired): sending the ciphertext would be acknowledged as the referral. Dead-lettered
            // sealed, to be replayed once the keys are configured.
            log::error("delivery record sealed at rest and not opened: dead-lettered",
                       {{"destination", destination}, {"referral_ref", header_or(m, header::kReferralRef)}});
            dead_letter(std::move(h), "sealed at rest", 0, "", made, first_ms);
            co_return;
        }
        Destination& dest = dit->second;
        DispatchResult result;
        const auto now = SteadyClock::now();
        const std::size_t waiting = dest.started - static_cast<std::size_t>(dest.dispatcher->in_flight());
        if (dest.started == 0) dest.last_progress = now;  // the queue starts now
        if (dest.overloaded(waiting, config.destination_queue_limit, config.destination_queue_wait, now)) {
            // The records already waiting for this destination would keep this one waiting too long:
            // defer to the first tier, without an attempt, rather than hold the consumer's capacity for
            // everyone else.
            result.decision = Decision::kRetry;
            result.retry_in = tiers.tiers().front();
            result.reason = "destination busy";
        } else {
            OutboundDelivery delivery;
            delivery.body = std::string(m.value());
            delivery.content_type = header_or(m, header::kContentType, "application/octet-stream");
            delivery.idempotency_key = header_or(m, header::kIdempotencyKey);
            delivery.referral_ref = header_or(m, header::kReferralRef);
            delivery.event = header_or(m, header::kEvent);
            delivery.traceparent = header_or(m, header::kTraceparent);
            delivery.document_id = header_or(m, contracts::documents::kDocumentIdHeader);
            delivery.documents_missing = header_or(m, contracts::documents::kDocumentsMissingHeader);
            delivery.attempt = made + 1;
            ++dest.started;
            const Duration age{std::chrono::milliseconds(std::max<std::int64_t>(0, epoch_ms() - first_ms))};
            result = co_await dest.dispatcher->dispatch(std::move(delivery), age);
            --dest.started;
            dest.dispatched(SteadyClock::now());
        }
        if (!keys.current(h)) co_return;  // revoked meanwhile: the new owner sends it again

        const int made_now = made + (result.attempt ? 1 : 0);
        if (result.attempt) {
            dest.metrics->attempts->Increment();
            dest.metrics->latency->Observe(std::chrono::duration<double>(result.attempt->latency).count());
        }
        switch (result.decision) {
            case Decision::kDelivered: {
                dest.metrics->delivered->Increment();
                json::object body{
                    {"attempt", made_now},
                    {"status", result.attempt->status},
                    {"latency_ms",
                     std::chrono::duration<double, std::milli>(result.attempt->latency).count()},
                    {"since_first_attempt_ms", std::max<std::int64_t>(0, epoch_ms() - first_ms)}};
                std::vector<Outgoing> writes;
                writes.push_back(event("delivered", h, std::move(body)));
                if (dest.ocean_received_task && header_or(m, header::kEvent) == "add-service-request")
                    writes.push_back(received_update(h, destination));
                settle(std::move(h), std::move(writes));
                break;
            }
            case Decision::kRetry:
                (result.attempt ? dest.metrics->retried : dest.metrics->deferred)->Increment();
                to_tier(std::move(h), result, made_now, first_ms);
                break;
            case Decision::kDeadLetter:
                dest.metrics->dead_lettered->Increment();
                dead_letter(std::move(h),
                            result.reason,
                            result.attempt ? result.attempt->status : 0,
                            result.attempt ? result.attempt->excerpt : "",
                            made_now,
                            first_ms);
                break;
        }
    }

    /// The head is on its way again later: to the tier for `result.retry_in`, and the key's head in the
    /// changelog says so (after the tier has it: the other order could lose the record).
    void to_tier(Head h, const DispatchResult& result, int made, std::int64_t first_ms) {
        const Duration delay = result.retry_in.value_or(tiers.tiers().front());
        const std::size_t tier = tiers.index_for(delay);
        const std::int64_t delay_ms = std::chrono::duration_cast<std::chrono::milliseconds>(delay).count();
        const std::int64_t due = epoch_ms() + delay_ms;
        std::vector<kafka::Header> headers = h.record->headers();
        set_header(headers, header::kAttempt, std::to_string(made));
        set_header(headers, header::kParkToken, h.token);
        set_header(headers, header::kDue, std::to_string(due));
        set_header(headers, header::kFirstAttemptAt, std::to_string(first_ms));
        set_header(headers, header::kLastStatus, std::to_string(result.attempt ? result.attempt->status : 0));
        set_header(headers, header::kLastReason, result.reason);
        std::vector<Outgoing> writes;
        writes.push_back(Outgoing{tier_topics[tier],
                                  kafka::Producer::kAnyPartition,
                                  h.key,
                                  std::string(h.record->value()),
                                  std::move(headers)});
        writes.push_back(
            event("retry-scheduled",
                  h,
                  json::object{{"attempt", made},
                               {"status", result.attempt ? result.attempt->status : 0},
                               {"reason", result.reason},
                               {"excerpt", result.attempt ? result.attempt->excerpt : std::string()},
                               {"retry_in_ms", delay_ms},
                               {"due_at", format_rfc3339_millis(SystemTime(std::chrono::milliseconds(due)))},
                               {"tier", tier_label(tiers.tiers()[tier])}}));
        log::info("delivery will be retried",
                  {{"destination", destination_of(h.key)},
                   {"referral_ref", header_or(*h.record, header::kReferralRef)},
                   {"attempt", made},
                   {"status", result.attempt ? result.attempt->status : 0},
                   {"reason", result.reason},
                   {"retry_in_ms", static_cast<long long>(delay_ms)}});
        produce_all(std::move(writes), [this, h = std::move(h)](std::vector<std::int64_t>) mutable {
            keys.head_in_tier(std::move(h));
        });
    }

    void dead_letter(Head h,
                     const std::string& reason,
                     int status,
                     const std::string& excerpt,
                     int made,
                     std::int64_t first_ms) {
        std::vector<kafka::Header> headers = h.record->headers();
        set_header(headers, header::kAttempt, std::to_string(made));
        set_header(headers, header::kFirstAttemptAt, std::to_string(first_ms));
        drop_header(headers, header::kParkToken);
        drop_header(headers, header::kDue);
        set_header(headers, header::kDlqReason, reason);
        set_header(headers, header::kDlqStatus, std::to_string(status));
        set_header(headers, header::kDlqExcerpt, excerpt);
        set_header(headers, header::kDlqAt, format_rfc3339_millis(system_now()));
        log::warn("delivery dead-lettered",
                  {{"destination", destination_of(h.key)},
                   {"referral_ref", header_or(*h.record, header::kReferralRef)},
                   {"reason", reason},
                   {"status", status},
                   {"attempts", made}});
        std::vector<Outgoing> writes;
        writes.push_back(Outgoing{config.topics.dlq,
                                  kafka::Producer::kAnyPartition,
                                  h.key,
                                  std::string(h.record->value()),
                                  std::move(headers)});
        writes.push_back(event(
            "dead-lettered",
            h,
            json::object{{"attempt", made}, {"status", status}, {"reason", reason}, {"excerpt", excerpt}}));
        settle(std::move(h), std::move(writes));
    }

    /// The head has its final outcome (`writes` record it): the key's next parked record is released,
    /// or the key is clear.
    void settle(Head h, std::vector<Outgoing> writes) {
        produce_all(std::move(writes), [this, h = std::move(h)](std::vector<std::int64_t>) mutable {
            keys.head_settled(std::move(h));
        });
    }

    // -- periodic: commits and gauges --

    void update_gauges() {
        struct Totals {
            double queued = 0, parked = 0;
            std::int64_t oldest_ms = 0;
        };
        std::map<std::string, Totals, std::less<>> totals;
        const std::int64_t now = epoch_ms();
        keys.for_each_key([&](const std::string& key, const KeyOrder::KeyState& ks) {
            auto& t = totals[destination_of(key)];
            t.queued += static_cast<double>(ks.inbox.size());
            if (ks.parked) t.parked += 1;
            if (t.oldest_ms == 0 || ks.since_ms < t.oldest_ms) t.oldest_ms = ks.since_ms;
        });
        for (auto& [id, dest] : destinations) {
            auto& m = *dest.metrics;
            const auto t = totals.find(id);
            const Totals zero;
            const Totals& v = t == totals.end() ? zero : t->second;
            const int in_flight_now = dest.dispatcher->in_flight();
            m.in_flight->Set(in_flight_now);
            m.queued->Set(v.queued + static_cast<double>(dest.started) - in_flight_now);
            m.parked->Set(v.parked);
            m.oldest_undelivered_seconds->Set(
                v.oldest_ms == 0 ? 0.0 : static_cast<double>(now - v.oldest_ms) / 1000.0);
            switch (dest.dispatcher->breaker_state()) {
                case BreakerState::kClosed:
                    m.breaker->Set(0);
                    break;
                case BreakerState::kHalfOpen:
                    m.breaker->Set(1);
                    break;
                case BreakerState::kOpen:
                    m.breaker->Set(2);
                    break;
            }
            const int tokens = dest.dispatcher->sender().tokens_fetched();
            if (tokens > dest.tokens_seen) m.tokens_refreshed->Increment(tokens - dest.tokens_seen);
            dest.tokens_seen = tokens;
        }
    }

    // -- rebalance, on the consumer thread --

    std::map<std::string, ParkedKey> restore(std::int32_t partition) {
        ParkingRestore restore;
        kafka::read_partition_to_end(
            worker.kafka().client,
            config.topics.parked,
            partition,
            [&](const kafka::Message& record) {
                restore.add(
                    record.key(),
                    record.has_value() ? std::optional<std::string_view>(record.value()) : std::nullopt,
                    record.offset());
            },
            config.kafka.restore_timeout);
        auto keys = restore.finish();
        if (restore.anomalies() > 0)
            log::error("parked changelog had records that could not be used",
                       {{"partition", partition}, {"count", restore.anomalies()}});
        log::info("parked keys restored",
                  {{"partition", partition}, {"keys", static_cast<long long>(keys.size())}});
        return keys;
    }

    // -- the worker's hooks --

    void on_assigned(const kafka::TopicPartition& tp) override {
        keys.assign(tp.partition, restore(tp.partition));
    }

    void on_record(std::unique_ptr<kafka::Message> record) override {
        std::shared_ptr<kafka::Message> m = std::move(record);
        KeyOrder::Record r{m->partition(), m->offset(), std::string(m->key()), std::nullopt, m};
        if (const auto token = m->header(header::kParkToken)) r.park_token = std::string(*token);
        keys.arrive(std::move(r));
    }

    void on_revoking(const kafka::TopicPartition& tp) override { keys.drain(tp.partition); }

    [[nodiscard]] bool busy(const kafka::TopicPartition& tp) const override {
        return keys.busy(tp.partition);
    }

    std::optional<std::int64_t> on_revoked(const kafka::TopicPartition& tp, bool /*lost*/) override {
        return keys.revoke(tp.partition);
    }

    std::optional<std::int64_t> take_commit(const kafka::TopicPartition& tp) override {
        return keys.take_commit(tp.partition);
    }

    [[nodiscard]] std::size_t in_flight() const override { return keys.in_flight(); }

    void on_started() override {
        TierForwarderConfig tier_config;
        tier_config.client = worker.kafka().client;
        tier_config.group_id = config.tier_group_id;
        tier_config.tier_topics = tier_topics;
        tier_config.tier_labels = tier_labels(config);
        tier_config.deliveries_topic = config.topics.deliveries;
        tier_config.produce_timeout = config.kafka.produce_timeout;
        tier_config.commit_interval = config.kafka.commit_interval;
        tier_config.session_timeout = config.kafka.session_timeout;
        tier_config.grace_period = config.grace_period;
        tier_config.max_fetch_bytes = config.kafka.message_max_bytes;
        forwarder = std::make_unique<TierForwarder>(
            std::move(tier_config), worker.producer(), metrics, [this](const std::string& why) {
                worker.fail("forwarding a delay tier", why);
            });
        forwarder->start();
        log::info("delivering", {{"destinations", static_cast<long long>(destinations.size())}});
    }

    void on_tick() override { update_gauges(); }

    void on_stopping() override {
        if (forwarder) forwarder->stop();
    }

    void shutdown() {
        if (forwarder) forwarder->stop();
        fetch_work.reset();
        fetch_ioc.stop();
        if (fetch_thread.joinable()) fetch_thread.join();
    }
};

DeliveryService::DeliveryService(DeliveryServiceConfig config)
    : impl_(std::make_unique<Impl>(std::move(config))) {
    impl_->start();
}

DeliveryService::~DeliveryService() {
    impl_->shutdown();
    // The members go in reverse order: key state and coroutine frames (holding Messages) before the
    // worker's consumer that returned them.
}

int DeliveryService::run() {
    return impl_->worker.run(*impl_);
}

void DeliveryService::stop() {
    impl_->worker.stop();
}

std::uint16_t DeliveryService::admin_port() const {
    return impl_->worker.admin_port();
}

const std::string& DeliveryService::bootstrap_servers() const {
    return impl_->worker.kafka().client.bootstrap_servers;
}

}  // namespace relay::delivery_service
