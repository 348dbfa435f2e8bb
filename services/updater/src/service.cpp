#include "service.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <variant>

#include "bundle_follower.hpp"
#include "metrics.hpp"
#include "pushed.hpp"
#include "relay/contracts/changelog.hpp"
#include "relay/contracts/headers.hpp"
#include "relay/contracts/pushed.hpp"
#include "relay/core/log.hpp"
#include "relay/core/time.hpp"
#include "relay/service/worker.hpp"
#include "relay/kafka/admin.hpp"
#include "relay/kafka/consumer.hpp"
#include "relay/kafka/embedded_cluster.hpp"
#include "relay/kafka/offset_tracker.hpp"
#include "relay/kafka/producer.hpp"
#include "relay/metrics/metrics.hpp"
#include "relay/outbound/sender.hpp"
#include "relay/transform/referral.hpp"

namespace relay::updater {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace json = boost::json;
using SteadyClock = std::chrono::steady_clock;
namespace header = contracts::header;
namespace changelog = contracts::changelog;

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

void set_header(std::vector<kafka::Header>& headers, std::string_view name, std::string value) {
    std::erase_if(headers, [&](const kafka::Header& h) { return h.name == name; });
    headers.push_back({std::string(name), std::move(value)});
}

/// Ocean's answer when it is an OperationOutcome (JSON object with that resourceType), else empty.
std::string operation_outcome_of(const std::string& body) {
    if (body.empty()) return {};
    boost::system::error_code ec;
    const json::value parsed = json::parse(body, ec);
    if (ec || !parsed.is_object()) return {};
    const auto* type = parsed.as_object().if_contains("resourceType");
    if (type == nullptr || !type->is_string() || type->as_string() != "OperationOutcome") return {};
    return body;
}

}  // namespace

/// The Ocean site whose token an update is sent with: the update's own, else the latest bundle's target
/// listing's site number, else `default_site`.
std::string site_for(const hub::Update& update,
                     std::string_view latest_bundle,
                     const std::string& default_site) {
    if (!update.site.empty()) return update.site;
    transform::ReferralParser parser;
    const transform::ParseResult parsed = parser.parse(latest_bundle);
    if (parsed.referral && !parsed.referral->target.site_number.empty())
        return parsed.referral->target.site_number;
    return default_site;
}

/// Why a `received` acknowledgement must not be sent (nullptr: send it). Ocean files a referral whose
/// receiver Task is requested / received under New (§3.6): acknowledging receipt after a decision would
/// move it back. The acknowledgement (queued by the delivery service when the hub got the referral) can
/// reach us after the hub's decision, which the hub may post before it answers the delivery.
const char* received_superseded(std::string_view latest_bundle, bool decided_here) {
    if (decided_here) return "a decision for this referral was sent already";
    transform::ReferralParser parser;
    const transform::ParseResult parsed = parser.parse(latest_bundle);
    if (!parsed.referral) return nullptr;
    for (const auto& task : parsed.referral->tasks) {
        if (task.status != "requested" && task.status != "received" && task.status != "draft" &&
            !task.status.empty())
            return "Ocean shows a later status";
    }
    return nullptr;
}

struct UpdaterService::Impl : service::WorkerHooks {
    explicit Impl(UpdaterServiceConfig c)
        : config(std::move(c)),
          registry(std::make_shared<prometheus::Registry>()),
          worker(worker_config(config), registry),
          metrics(registry, site_ids(config)),
          rng(std::random_device{}()) {}

    static service::WorkerConfig worker_config(const UpdaterServiceConfig& c) {
        service::WorkerConfig w;
        w.name = "updater";
        w.kafka = c.kafka;
        // Updates held in memory (waiting behind their referral, for a retry or for the bundle).
        w.kafka.max_in_flight = c.max_held;
        w.topics = {c.topics.updates};
        w.topic_specs = c.topic_specs();
        w.co_partitioned = {{c.topics.state, c.topics.updates}};
        w.admin = c.admin;
        w.grace_period = c.grace_period;
        return w;
    }

    static std::vector<std::string> site_ids(const UpdaterServiceConfig& c) {
        std::vector<std::string> ids;
        for (const auto& s : c.ocean.sites) ids.push_back(s.site);
        return ids;
    }

    /// An update read and parsed, waiting behind its referral's head or being its head.
    struct Held {
        std::shared_ptr<kafka::Message> record;
        hub::Update update;
        std::int64_t read_ms = 0;
    };

    /// One referral of an owned partition: its head is being processed (`busy`), later ones wait.
    struct KeyState {
        std::deque<Held> queue;
        bool busy = false;
        bool in_call = false;  ///< producing or calling Ocean: a revoke waits for it
        std::int64_t head_read_ms = 0;
    };

    struct Partition {
        kafka::OffsetTracker tracker;
        std::unordered_map<std::string, KeyState> keys;
        /// referral ref → its latest inbound bundle (restored, then followed).
        std::unordered_map<std::string, std::string> bundles;
        std::uint64_t generation = 0;
        bool draining = false;
        std::size_t in_call = 0;
        std::set<asio::steady_timer*> timers;  ///< heads waiting (retry or bundle): cancelled on revoke
        /// Referrals a decision (any update but `received`) was sent for by this process: a `received`
        /// read after one is dropped even before Ocean's echo shows it in the bundle. Cleared when it
        /// grows past kMaxDecided (the bundle check then still covers every echoed decision).
        std::unordered_set<std::string> decided;
        /// Update ids Ocean took (the sent markers of this partition, restored on assignment): one read
        /// again — after a restart, behind a referral whose retries held the committed offset back — is
        /// not sent twice.
        std::unordered_set<std::string> sent_ids;
    };
    static constexpr std::size_t kMaxDecided = 200'000;

    /// The update a referral is processing now (a coroutine's own copy).
    struct Head {
        std::int32_t partition = 0;
        std::uint64_t generation = 0;
        std::string key;
        Held held;
    };

    /// Why an update goes to the DLQ: a reason code, Ocean's status (0: no answer), the PHI-free
    /// excerpt, the site, Ocean's OperationOutcome (bounded; empty if none) and the attempts made.
    struct DeadLetter {
        std::string reason;
        int status = 0;
        std::string excerpt;
        std::string site;
        std::string operation_outcome;
        int attempts = 0;
    };

    struct Site {
        std::unique_ptr<outbound::DestinationSender> sender;
        UpdaterMetrics::Site* metrics = nullptr;
        int tokens_seen = 0;
    };

    // What became of the head, step by step (see process()).

    /// The update's message for Ocean, ready to send: the site it goes to and the relay-pushed record
    /// that goes first.
    struct Ready {
        std::string site;
        Site* target = nullptr;
        BuiltMessage message;
        std::string pushed;
    };
    /// A `received` acknowledgement that would undo a decision: not sent, for this reason.
    struct Skip {
        std::string why;
    };
    /// The partition was revoked (or the process fails or stops): the head is left to the next owner.
    struct Abandon {};
    /// Ocean took the message.
    struct Delivered {
        outbound::AttemptResult result;
    };
    /// The attempt failed and may be retried: its delay is over.
    struct Again {};
    using Resolved = std::variant<Ready, Skip, DeadLetter, Abandon>;
    using Attempted = std::variant<Delivered, Again, DeadLetter, Abandon>;

    /// The attempts made for the head, and when the first was.
    struct Tries {
        int made = 0;
        std::int64_t first_ms = 0;
    };

    UpdaterServiceConfig config;
    std::shared_ptr<prometheus::Registry> registry;
    // Before the key state and coroutine frames that hold Messages: destroyed after them, since the
    // consumer must outlive every record it returned.
    service::Worker worker;
    UpdaterMetrics metrics;
    std::mt19937_64 rng;
    std::unique_ptr<BundleFollower> follower;

    // Worker-thread state.
    std::map<std::string, Site, std::less<>> sites;
    std::map<std::int32_t, Partition> partitions;
    std::uint64_t next_generation = 1;
    std::size_t held = 0;  ///< updates read and not yet done

    // -- start-up --

    void start() {
        if (!worker.kafka().embedded && worker.kafka().verify_topics) check_partitions();
        for (const auto& s : config.ocean.sites) {
            Site site;
            site.sender = std::make_unique<outbound::DestinationSender>(worker.context().get_executor(), s.sender);
            site.metrics = &metrics.site(s.site);
            sites.emplace(s.site, std::move(site));
        }
        follower = std::make_unique<BundleFollower>(
            worker.kafka().client, config.topics.state, [this](BundleRecord record) {
                asio::post(worker.context(),
                           [this, record = std::move(record)]() mutable { on_bundle(std::move(record)); });
            });
        start_depth_reader();
    }

    /// An updates partition p pairs with state partition p: the router writes a referral's bundle to
    /// its inbound partition's number, and updates are keyed by the same referral ref, so the updates
    /// and inbound topics must have as many partitions (and the changelog at least as many: a check of
    /// the worker's).
    void check_partitions() {
        auto count = [this](const std::string& topic) {
            return kafka::partition_count(worker.producer().handle(), topic, std::chrono::seconds(10));
        };
        const int updates = count(config.topics.updates);
        const int inbound = count(config.topics.inbound);
        if (updates > 0 && inbound > 0 && updates != inbound)
            throw ConfigError(fmt::format(
                "kafka topic '{}' has {} partitions but '{}' has {}: the updater finds a referral's latest "
                "bundle in the state partition of the same number, so they must be equal",
                config.topics.updates,
                updates,
                config.topics.inbound,
                inbound));
    }

    // The DLQ's depth, read from the broker every dlq_depth_interval on a thread of its own: a broker outage
    // slows that thread, never a scrape (the admin thread also answers the liveness probe) or the data path.
    std::thread depth_thread;
    std::mutex depth_mutex;
    std::condition_variable depth_wake;
    bool depth_stop = false;

    void start_depth_reader() {
        depth_thread = std::thread([this] {
            std::unique_lock lock(depth_mutex);
            while (!depth_stop) {
                lock.unlock();
                if (const auto depth =
                        kafka::topic_depth(worker.producer().handle(), config.topics.dlq, std::chrono::seconds(2)))
                    metrics.dlq_records().Set(static_cast<double>(*depth));
                lock.lock();
                depth_wake.wait_for(lock, config.dlq_depth_interval, [this] { return depth_stop; });
            }
        });
    }
    void stop_depth_reader() {
        {
            std::lock_guard lock(depth_mutex);
            depth_stop = true;
        }
        depth_wake.notify_all();
        if (depth_thread.joinable()) depth_thread.join();
    }

    void fail(std::string_view what) { worker.fail(what, "see the log lines before"); }

    // -- bundles --

    void on_bundle(BundleRecord record) {
        const auto it = partitions.find(record.partition);
        if (it == partitions.end() || it->second.generation != record.generation) return;
        auto& bundles = it->second.bundles;
        if (record.bundle)
            bundles[record.referral_ref] = std::move(*record.bundle);
        else
            bundles.erase(record.referral_ref);
        if (record.timestamp_ms > 0)
            metrics.bundle_follow_delay().Set(
                static_cast<double>(std::max<std::int64_t>(0, epoch_ms() - record.timestamp_ms)) / 1000.0);
    }

    // -- arrival and per-referral order --

    Partition* partition_of(std::int32_t id, std::uint64_t generation) {
        const auto it = partitions.find(id);
        if (it == partitions.end() || it->second.generation != generation) return nullptr;
        return &it->second;
    }

    void done(Partition& p, std::int64_t offset) {
        p.tracker.done(offset);
        --held;
        worker.progress();
    }

    void arrive(std::shared_ptr<kafka::Message> m) {
        const auto it = partitions.find(m->partition());
        // The worker only hands over records of owned partitions that are not being revoked.
        if (it == partitions.end() || it->second.draining) return;
        Partition& p = it->second;
        ++held;
        p.tracker.add(m->offset());
        hub::ParseUpdateResult parsed = hub::parse_update(m->value());
        if (!parsed.ok()) {
            std::string why = parsed.error_text();
            const std::int32_t partition = m->partition();
            asio::co_spawn(worker.context(),
                           dead_letter_invalid(partition, p.generation, std::move(m), std::move(why)),
                           on_coroutine_end("dead-letter"));
            return;
        }
        if (p.sent_ids.contains(parsed.update->update_id)) {
            // Ocean took it already (re-read after a restart, or a hub system sent it twice after the
            // first was sent): the same message again would only repeat a notification.
            metrics.update(hub::to_string(parsed.update->action), "already-sent");
            log::debug(
                "update already sent; not sent again",
                {{"referral_ref", parsed.update->referral_ref}, {"update_id", parsed.update->update_id}});
            done(p, m->offset());
            return;
        }
        // The update's own referral ref orders it (the record key should be the same; a hub system
        // producing directly might key it otherwise, so the value wins).
        std::string key = parsed.update->referral_ref;
        KeyState& ks = p.keys[key];
        ks.queue.push_back(Held{std::move(m), std::move(*parsed.update), epoch_ms()});
        drive(it->first, key);
    }

    void drive(std::int32_t partition_id, const std::string& key) {
        const auto pit = partitions.find(partition_id);
        if (pit == partitions.end() || pit->second.draining) return;
        Partition& p = pit->second;
        const auto kit = p.keys.find(key);
        if (kit == p.keys.end()) return;
        KeyState& ks = kit->second;
        if (ks.busy) return;
        if (ks.queue.empty()) {
            p.keys.erase(kit);
            return;
        }
        ks.busy = true;
        Head h{partition_id, p.generation, key, std::move(ks.queue.front())};
        ks.queue.pop_front();
        ks.head_read_ms = h.held.read_ms;
        asio::co_spawn(worker.context(), process(std::move(h)), on_coroutine_end("process"));
    }

    /// A coroutine of the pipeline that ends by an exception leaves its referral busy and its offset
    /// uncommitted for good: the process fails (not ready, exits non-zero) rather than stall silently.
    std::function<void(std::exception_ptr)> on_coroutine_end(const char* what) {
        return [this, what](std::exception_ptr error) {
            if (!error) return;
            try {
                std::rethrow_exception(error);
            } catch (const std::exception& e) {
                log::error("updater pipeline failed", {{"step", what}, {"error", e.what()}});
            } catch (...) {
                log::error("updater pipeline failed", {{"step", what}, {"error", "unknown exception"}});
            }
            fail("a pipeline step failed");
        };
    }

    /// The head has its durable outcome: commit it and take the referral's next update.
    void finish(const Head& h) {
        Partition* p = partition_of(h.partition, h.generation);
        if (p == nullptr) return;
        KeyState& ks = p->keys[h.key];
        ks.busy = false;
        set_in_call(*p, ks, false);
        done(*p, h.held.record->offset());
        drive(h.partition, h.key);
    }

    void set_in_call(Partition& p, KeyState& ks, bool value) {
        if (ks.in_call == value) return;
        ks.in_call = value;
        if (value)
            ++p.in_call;
        else
            --p.in_call;
    }

    /// Waits `delay` unless the partition is revoked meanwhile; false when the head must be abandoned.
    asio::awaitable<bool> wait(std::int32_t partition_id,
                               std::uint64_t generation,
                               SteadyClock::duration delay) {
        Partition* p = partition_of(partition_id, generation);
        if (p == nullptr || p->draining) co_return false;
        asio::steady_timer timer(worker.context(), delay);
        p->timers.insert(&timer);
        boost::system::error_code ec;
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        p = partition_of(partition_id, generation);
        if (p == nullptr) co_return false;
        p->timers.erase(&timer);
        co_return !p->draining && !worker.stopping();
    }

    // -- one update --

    /// Resolves the update over its referral's latest bundle and sends it to Ocean, again after each
    /// retryable failure (resolved anew: the bundle may have changed meanwhile). It ends sent, skipped,
    /// dead-lettered, or left to the partition's next owner.
    asio::awaitable<void> process(Head h) {
        Tries tries;
        DeadLetter dead;
        for (;;) {
            Resolved resolved = co_await resolve(h, tries.made);
            if (std::holds_alternative<Abandon>(resolved)) co_return;
            if (auto* skip = std::get_if<Skip>(&resolved)) {
                co_await skipped(std::move(h), std::move(skip->why));
                co_return;
            }
            if (auto* d = std::get_if<DeadLetter>(&resolved)) {
                dead = std::move(*d);
                break;
            }
            Ready& ready = std::get<Ready>(resolved);
            Attempted attempted = co_await attempt(h, ready, tries);
            if (std::holds_alternative<Abandon>(attempted)) co_return;
            if (auto* delivered = std::get_if<Delivered>(&attempted)) {
                co_await sent(std::move(h), ready.site, delivered->result, tries.made, ready.message.event);
                co_return;
            }
            if (auto* d = std::get_if<DeadLetter>(&attempted)) {
                dead = std::move(*d);
                break;
            }
            // Again.
        }
        co_await dead_letter(std::move(h), std::move(dead));
    }

    /// The message for the update over its referral's latest bundle (waited for up to bundle_wait), or
    /// why there is none.
    asio::awaitable<Resolved> resolve(const Head& h, int attempts) {
        const hub::Update& update = h.held.update;
        // Open API requests belong on their own topic (the fetcher sends them): never waited for here.
        if (hub::is_open_api(update.action)) co_return DeadLetter{"open-api-request", 0, {}, {}, {}, attempts};
        std::string bundle;  // a copy: it may be replaced during the call
        bool decided = false;
        for (;;) {
            Partition* p = partition_of(h.partition, h.generation);
            if (p == nullptr || p->draining) co_return Abandon{};  // revoked: the next owner reads it again
            if (const auto it = p->bundles.find(update.referral_ref); it != p->bundles.end()) {
                bundle = it->second;
                decided = p->decided.contains(update.referral_ref);
                break;
            }
            // The router may not have taken the referral in yet (or forgot it): wait a while.
            if (epoch_ms() - h.held.read_ms >= config.bundle_wait.count())
                co_return DeadLetter{"no-latest-bundle", 0, {}, {}, {}, attempts};
            const SteadyClock::duration poll = std::chrono::milliseconds(200);
            const bool go_on = co_await wait(h.partition, h.generation, poll);
            if (!go_on) co_return Abandon{};
        }
        if (update.action == hub::Action::kReceived) {
            if (const char* why = received_superseded(bundle, decided)) co_return Skip{why};
        }
        const std::string site = site_for(update, bundle, config.ocean.default_site);
        const auto site_it = sites.find(site);
        if (site_it == sites.end()) co_return DeadLetter{"unknown-site", 0, {}, site, {}, attempts};
        if (!update.site.empty()) {
            // A hub system limited to some sites names one of them; it must be the referral's own, or
            // that site's credentials would change another site's referral.
            const std::string listed = site_for(hub::Update{}, bundle, std::string());
            if (!listed.empty() && listed != update.site)
                co_return DeadLetter{"site-mismatch",
                                     0,
                                     "the update names another site than its referral's",
                                     site,
                                     {},
                                     attempts};
        }
        BuildResult built = build_update_message(update, bundle, config.message);
        if (!built.ok())
            co_return DeadLetter{
                "build-failed", 0, built.error->code + ": " + built.error->message, site, {}, attempts};
        std::string why;
        std::optional<std::string> pushed = pushed_update_json(built.message->bundle, &why);
        if (!pushed) co_return DeadLetter{"build-failed", 0, "pushed: " + why, site, {}, attempts};
        co_return Ready{site, &site_it->second, std::move(*built.message), std::move(*pushed)};
    }

    /// One attempt: the relay-pushed record, acknowledged, then the message to Ocean. A failure that may
    /// be retried waits out its delay first (Again).
    asio::awaitable<Attempted> attempt(const Head& h, Ready& ready, Tries& tries) {
        const hub::Update& update = h.held.update;
        Partition* p = partition_of(h.partition, h.generation);
        if (p == nullptr) co_return Abandon{};

        // The relay-pushed record first, acknowledged, so the router knows Ocean's echo as ours.
        set_in_call(*p, p->keys[h.key], true);
        std::vector<kafka::Header> pushed_headers{
            {std::string(header::kKind), std::string(contracts::kPushedKind)},
            {std::string(header::kReferralRef), update.referral_ref},
            {std::string(header::kUpdateId), update.update_id},
            {std::string(header::kSite), ready.site}};
        if (const auto tp = h.held.record->header(header::kTraceparent))
            pushed_headers.push_back({std::string(header::kTraceparent), std::string(*tp)});
        std::string pushed_topic = config.topics.inbound;
        std::string pushed_key = update.referral_ref;
        const kafka::DeliveryResult pushed_ack =
            co_await worker.producer().async_produce(std::move(pushed_topic),
                                                     std::move(pushed_key),
                                                     std::move(ready.pushed),
                                                     std::move(pushed_headers),
                                                     config.kafka.produce_timeout,
                                                     asio::use_awaitable);
        if (!pushed_ack.ok) {
            fail("produce relay-pushed: " + pushed_ack.error.message);
            co_return Abandon{};
        }
        if (partition_of(h.partition, h.generation) == nullptr) co_return Abandon{};

        Site& target = *ready.target;
        outbound::OutboundDelivery delivery;
        delivery.body = std::move(ready.message.bundle);
        delivery.content_type = "application/fhir+json";
        delivery.idempotency_key = update.update_id;
        delivery.referral_ref = update.referral_ref;
        delivery.event = ready.message.event;
        delivery.traceparent = header_or(*h.held.record, header::kTraceparent);
        delivery.attempt = tries.made + 1;
        if (tries.first_ms == 0) tries.first_ms = epoch_ms();
        const outbound::AttemptResult result = co_await target.sender->attempt(std::move(delivery));
        ++tries.made;
        target.metrics->attempts->Increment();
        target.metrics->latency->Observe(std::chrono::duration<double>(result.latency).count());
        if (result.token_failed) target.metrics->token_failures->Increment();
        // Revoked without waiting (lost): the next owner sends it again.
        p = partition_of(h.partition, h.generation);
        if (p == nullptr) co_return Abandon{};

        if (result.outcome.delivered) co_return Delivered{result};
        const bool retryable = result.token_failed || result.outcome.kind != ErrorKind::kPermanent;
        if (!retryable)
            co_return DeadLetter{"rejected",
                                 result.status,
                                 result.excerpt,
                                 ready.site,
                                 operation_outcome_of(result.error_body),
                                 tries.made};
        target.metrics->retries->Increment();
        const delivery::Duration age{
            std::chrono::milliseconds(std::max<std::int64_t>(0, epoch_ms() - tries.first_ms))};
        const auto delay = config.retry.next_delay(tries.made, age, rng, result.retry_after);
        if (!delay)
            co_return DeadLetter{"retries-exhausted",
                                 result.status,
                                 result.excerpt,
                                 ready.site,
                                 operation_outcome_of(result.error_body),
                                 tries.made};
        set_in_call(*p, p->keys[h.key], false);
        log::info("update will be retried",
                  {{"referral_ref", update.referral_ref},
                   {"update_id", update.update_id},
                   {"site", ready.site},
                   {"attempt", tries.made},
                   {"status", result.status},
                   {"reason", std::string(result.outcome.reason)},
                   {"excerpt", result.excerpt},
                   {"retry_in_ms",
                    static_cast<long long>(
                        std::chrono::duration_cast<std::chrono::milliseconds>(*delay).count())}});
        const bool go_on = co_await wait(h.partition, h.generation, *delay);
        if (!go_on) co_return Abandon{};
        co_return Again{};
    }

    /// Produces `value` and waits for the acknowledgement; false (and the process fails) if it failed.
    asio::awaitable<bool> produce(std::string topic,
                                  std::string key,
                                  std::string value,
                                  std::vector<kafka::Header> headers) {
        const std::string what = topic;
        const kafka::DeliveryResult ack = co_await worker.producer().async_produce(std::move(topic),
                                                                           std::move(key),
                                                                           std::move(value),
                                                                           std::move(headers),
                                                                           config.kafka.produce_timeout,
                                                                           asio::use_awaitable);
        if (!ack.ok) fail(fmt::format("produce to {}: {}", what, ack.error.message));
        co_return ack.ok;
    }

    std::vector<kafka::Header> event_headers(const kafka::Message& m,
                                             std::string_view outcome,
                                             const std::string& ref) {
        std::vector<kafka::Header> headers{{std::string(header::kOutcome), std::string(outcome)},
                                           {std::string(header::kReferralRef), ref}};
        if (const auto id = m.header(header::kUpdateId))
            headers.push_back({std::string(header::kUpdateId), std::string(*id)});
        if (const auto tp = m.header(header::kTraceparent))
            headers.push_back({std::string(header::kTraceparent), std::string(*tp)});
        return headers;
    }

    asio::awaitable<void> sent(
        Head h, std::string site, outbound::AttemptResult result, int attempts, std::string event) {
        const hub::Update& update = h.held.update;
        const std::string action = hub::to_string(update.action);
        json::object body{{"outcome", "update-sent"},
                          {"referral_ref", update.referral_ref},
                          {"update_id", update.update_id},
                          {"action", action},
                          {"event", event},
                          {"site", site},
                          {"status", result.status},
                          {"latency_ms", std::chrono::duration<double, std::milli>(result.latency).count()},
                          {"attempts", attempts},
                          {"since_read_ms", std::max<std::int64_t>(0, epoch_ms() - h.held.read_ms)},
                          {"at", format_rfc3339_millis(system_now())},
                          {"updater", worker.instance()}};
        std::string events_topic = config.topics.events;
        std::string key = update.referral_ref;
        std::string value = json::serialize(body);
        std::vector<kafka::Header> headers =
            event_headers(*h.held.record, "update-sent", update.referral_ref);
        const bool ok =
            co_await produce(std::move(events_topic), std::move(key), std::move(value), std::move(headers));
        if (!ok) co_return;
        // The sent marker, on the update's partition number (read back by whoever owns it next).
        std::string marker_topic = config.topics.sent;
        std::string marker_key = update.update_id;
        std::string marker_value = json::serialize(
            json::object{{"at", format_rfc3339_millis(system_now())}, {"offset", h.held.record->offset()}});
        std::vector<kafka::Header> marker_headers{{std::string(header::kReferralRef), update.referral_ref},
                                                  {std::string(header::kAction), action}};
        const kafka::DeliveryResult marked = co_await worker.producer().async_produce_to(std::move(marker_topic),
                                                                                 h.partition,
                                                                                 std::move(marker_key),
                                                                                 std::move(marker_value),
                                                                                 std::move(marker_headers),
                                                                                 config.kafka.produce_timeout,
                                                                                 asio::use_awaitable);
        if (!marked.ok) {
            fail(fmt::format("produce to {}: {}", config.topics.sent, marked.error.message));
            co_return;
        }
        if (Partition* p = partition_of(h.partition, h.generation)) p->sent_ids.insert(update.update_id);
        metrics.update(action, "sent");
        if (Partition* p = partition_of(h.partition, h.generation);
            p && update.action != hub::Action::kReceived) {
            if (p->decided.size() >= kMaxDecided) p->decided.clear();
            p->decided.insert(update.referral_ref);
        }
        log::info("update sent to Ocean",
                  {{"referral_ref", update.referral_ref},
                   {"update_id", update.update_id},
                   {"action", action},
                   {"site", site},
                   {"status", result.status},
                   {"attempts", attempts}});
        finish(h);
    }

    /// A `received` acknowledgement that would undo a decision: not sent; an update-skipped event says so.
    asio::awaitable<void> skipped(Head h, std::string why) {
        const hub::Update& update = h.held.update;
        const std::string action = hub::to_string(update.action);
        json::object body{{"outcome", "update-skipped"},
                          {"referral_ref", update.referral_ref},
                          {"update_id", update.update_id},
                          {"action", action},
                          {"reason", why},
                          {"at", format_rfc3339_millis(system_now())},
                          {"updater", worker.instance()}};
        std::string events_topic = config.topics.events;
        std::string key = update.referral_ref;
        std::string value = json::serialize(body);
        std::vector<kafka::Header> headers =
            event_headers(*h.held.record, "update-skipped", update.referral_ref);
        const bool ok =
            co_await produce(std::move(events_topic), std::move(key), std::move(value), std::move(headers));
        if (!ok) co_return;
        metrics.update(action, "skipped");
        log::info("received acknowledgement not sent",
                  {{"referral_ref", update.referral_ref}, {"update_id", update.update_id}, {"reason", why}});
        finish(h);
    }

    /// The DLQ record (value unchanged, dlq-* headers) and the update-dead-lettered event, both
    /// acknowledged, then the update is done.
    asio::awaitable<void> dead_letter(Head h, DeadLetter d) {
        if (Partition* p = partition_of(h.partition, h.generation)) set_in_call(*p, p->keys[h.key], true);
        const hub::Update& update = h.held.update;
        std::string action = hub::to_string(update.action);
        std::string ref = update.referral_ref;
        std::string update_id = update.update_id;
        const bool ok = co_await write_dead_letter(
            h.held.record, std::move(ref), std::move(d), std::move(update_id), action);
        if (!ok) co_return;
        metrics.update(action, "dead-lettered");
        finish(h);
    }

    asio::awaitable<void> dead_letter_invalid(std::int32_t partition,
                                              std::uint64_t generation,
                                              std::shared_ptr<kafka::Message> m,
                                              std::string why) {
        std::string ref(m->key());
        DeadLetter d{"invalid-update", 0, std::move(why), {}, {}, 0};
        std::string update_id = header_or(*m, header::kUpdateId);
        std::string action = header_or(*m, header::kAction);
        const bool ok = co_await write_dead_letter(
            m, std::move(ref), std::move(d), std::move(update_id), std::move(action));
        if (!ok) co_return;
        if (Partition* p = partition_of(partition, generation)) done(*p, m->offset());
    }

    asio::awaitable<bool> write_dead_letter(std::shared_ptr<kafka::Message> m,
                                            std::string ref,
                                            DeadLetter d,
                                            std::string update_id,
                                            std::string action) {
        const std::string& reason = d.reason;
        const int status = d.status;
        const std::string& excerpt = d.excerpt;
        const std::string& site = d.site;
        const int attempts = d.attempts;
        std::vector<kafka::Header> headers = m->headers();
        set_header(headers, header::kDlqReason, reason);
        set_header(headers, header::kDlqStatus, std::to_string(status));
        set_header(headers, header::kDlqExcerpt, excerpt);
        set_header(headers, header::kDlqAt, format_rfc3339_millis(system_now()));
        set_header(headers, header::kDlqAttempts, std::to_string(attempts));
        if (!site.empty()) set_header(headers, header::kDlqSite, site);
        if (!d.operation_outcome.empty())
            set_header(headers, header::kDlqOperationOutcome, d.operation_outcome);
        std::string dlq_topic = config.topics.dlq;
        std::string dlq_key = ref;
        std::string value(m->value());
        const bool written =
            co_await produce(std::move(dlq_topic), std::move(dlq_key), std::move(value), std::move(headers));
        if (!written) co_return false;
        metrics.dead_letter(reason);
        log::warn("update dead-lettered",
                  {{"referral_ref", ref},
                   {"update_id", update_id},
                   {"action", action},
                   {"site", site},
                   {"reason", reason},
                   {"status", status},
                   {"excerpt", excerpt},
                   {"attempts", attempts}});
        json::object body{{"outcome", "update-dead-lettered"},
                          {"referral_ref", ref},
                          {"update_id", update_id},
                          {"action", action},
                          {"site", site},
                          {"reason", reason},
                          {"status", status},
                          {"excerpt", excerpt},
                          {"attempts", attempts},
                          {"at", format_rfc3339_millis(system_now())},
                          {"updater", worker.instance()}};
        std::string events_topic = config.topics.events;
        std::string key = ref;
        std::string event_value = json::serialize(body);
        std::vector<kafka::Header> event_hdrs = event_headers(*m, "update-dead-lettered", ref);
        const bool ok = co_await produce(
            std::move(events_topic), std::move(key), std::move(event_value), std::move(event_hdrs));
        co_return ok;
    }

    // -- periodic: commits and gauges --

    void update_gauges() {
        const std::int64_t now = epoch_ms();
        std::int64_t oldest = 0;
        double bundles = 0;
        for (auto& [id, p] : partitions) {
            bundles += static_cast<double>(p.bundles.size());
            for (auto& [key, ks] : p.keys) {
                if (ks.busy && (oldest == 0 || ks.head_read_ms < oldest)) oldest = ks.head_read_ms;
                for (const auto& q : ks.queue)
                    if (oldest == 0 || q.read_ms < oldest) oldest = q.read_ms;
            }
        }
        metrics.held().Set(static_cast<double>(held));
        metrics.oldest_held_seconds().Set(oldest == 0 ? 0.0 : static_cast<double>(now - oldest) / 1000.0);
        metrics.bundles().Set(bundles);
        for (auto& [id, site] : sites) {
            const int tokens = site.sender->tokens_fetched();
            if (tokens > site.tokens_seen)
                site.metrics->tokens_refreshed->Increment(tokens - site.tokens_seen);
            site.tokens_seen = tokens;
        }
    }

    // -- the worker's hooks --

    void on_assigned(const kafka::TopicPartition& tp) override {
        const auto start_time = SteadyClock::now();
        std::unordered_map<std::string, std::string> bundles;
        std::int64_t next = 0;
        kafka::read_partition_to_end(
            worker.kafka().client,
            config.topics.state,
            tp.partition,
            [&](const kafka::Message& record) {
                next = record.offset() + 1;
                auto ref = changelog::bundle_key_ref(record.key());
                if (!ref) return;
                if (record.has_value())
                    bundles[*ref] = std::string(record.value());
                else
                    bundles.erase(*ref);
            },
            config.kafka.restore_timeout);
        // What Ocean took from this partition's updates (within sent_memory), and which referrals had
        // a decision sent (the received guard).
        std::unordered_set<std::string> sent_ids, decided;
        kafka::read_partition_to_end(
            worker.kafka().client,
            config.topics.sent,
            tp.partition,
            [&](const kafka::Message& record) {
                if (record.key().empty()) return;
                sent_ids.insert(std::string(record.key()));
                const auto ref = record.header(header::kReferralRef);
                const auto action = record.header(header::kAction);
                if (ref && action && *action != "received") decided.insert(std::string(*ref));
            },
            config.kafka.restore_timeout);
        log::info("latest bundles restored",
                  {{"partition", tp.partition},
                   {"referrals", static_cast<long long>(bundles.size())},
                   {"sent_markers", static_cast<long long>(sent_ids.size())},
                   {"seconds", std::chrono::duration<double>(SteadyClock::now() - start_time).count()}});
        Partition& p = partitions[tp.partition];
        p = Partition{};
        p.generation = next_generation++;
        p.bundles = std::move(bundles);
        p.sent_ids = std::move(sent_ids);
        p.decided = std::move(decided);
        follower->follow(tp.partition, next, p.generation);
    }

    void on_record(std::unique_ptr<kafka::Message> record) override { arrive(std::move(record)); }

    void on_revoking(const kafka::TopicPartition& tp) override {
        follower->unfollow(tp.partition);
        const auto it = partitions.find(tp.partition);
        if (it == partitions.end()) return;
        it->second.draining = true;
        // Heads waiting for a retry or a bundle are abandoned now (the next owner reads them again).
        for (auto* timer : it->second.timers) timer->cancel();
    }

    /// Calls to Ocean in flight finish, so what Ocean took is committed (not sent twice).
    [[nodiscard]] bool busy(const kafka::TopicPartition& tp) const override {
        const auto it = partitions.find(tp.partition);
        return it != partitions.end() && it->second.in_call > 0;
    }

    std::optional<std::int64_t> on_revoked(const kafka::TopicPartition& tp, bool /*lost*/) override {
        follower->unfollow(tp.partition);
        const auto it = partitions.find(tp.partition);
        if (it == partitions.end()) return std::nullopt;
        auto commit = it->second.tracker.position();
        held -= it->second.tracker.in_flight();  // abandoned
        for (auto* timer : it->second.timers) timer->cancel();
        partitions.erase(it);
        return commit;
    }

    std::optional<std::int64_t> take_commit(const kafka::TopicPartition& tp) override {
        const auto it = partitions.find(tp.partition);
        return it == partitions.end() ? std::nullopt : it->second.tracker.take_commit();
    }

    [[nodiscard]] std::size_t in_flight() const override { return held; }

    void on_started() override {
        log::info("updating Ocean", {{"sites", static_cast<long long>(sites.size())}});
    }

    void on_tick() override { update_gauges(); }

    void shutdown() {
        stop_depth_reader();
        // The follower's thread posts to the worker's io_context: it goes first.
        follower.reset();
    }
};

UpdaterService::UpdaterService(UpdaterServiceConfig config)
    : impl_(std::make_unique<Impl>(std::move(config))) {
    try {
        impl_->start();
    } catch (...) {
        impl_->shutdown();
        throw;
    }
}

UpdaterService::~UpdaterService() {
    impl_->shutdown();
}

int UpdaterService::run() {
    return impl_->worker.run(*impl_);
}

void UpdaterService::stop() {
    impl_->worker.stop();
}

std::uint16_t UpdaterService::admin_port() const {
    return impl_->worker.admin_port();
}

const std::string& UpdaterService::bootstrap_servers() const {
    return impl_->worker.kafka().client.bootstrap_servers;
}

}  // namespace relay::updater
