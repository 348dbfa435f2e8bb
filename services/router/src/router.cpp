#include "router.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "ledger.hpp"
#include "metrics.hpp"
#include "relay/core/encoding.hpp"
#include "relay/core/log.hpp"
#include "relay/core/time.hpp"
#include "relay/http/server.hpp"
#include "relay/kafka/admin.hpp"
#include "relay/kafka/consumer.hpp"
#include "relay/kafka/embedded_cluster.hpp"
#include "relay/kafka/producer.hpp"
#include "relay/metrics/metrics.hpp"
#include "relay/transform/referral.hpp"
#include "relay/transform/render.hpp"
#include "state.hpp"

namespace relay::router {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

namespace {

/// The changelog key of a referral's latest bundle (beside its state, under the plain referral ref).
constexpr std::string_view kBundleKeySuffix = "#bundle";

std::int64_t epoch_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string header_or(const kafka::Message& m, std::string_view name, std::string_view fallback = {}) {
    const auto value = m.header(name);
    return std::string(value ? *value : fallback);
}

bool contains(const std::vector<std::string>& list, std::string_view item) {
    return std::find(list.begin(), list.end(), item) != list.end();
}

struct Outgoing {
    std::string topic;
    std::string key;
    std::string value;
    std::vector<kafka::Header> headers;
};

}  // namespace

// -- the pipeline: everything below runs on the pipeline thread -----------------------------------

struct Router::Impl : kafka::RebalanceListener {
    explicit Impl(RouterConfig c)
        : config(std::move(c)),
          registry(std::make_shared<prometheus::Registry>()),
          metrics(registry, destination_ids(config)),
          routing(config.destinations, config.routes) {}

    static std::vector<std::string> destination_ids(const RouterConfig& c) {
        std::vector<std::string> ids;
        for (const auto& d : c.destinations) ids.push_back(d.id);
        return ids;
    }

    struct Slot {
        explicit Slot(DedupPolicy policy, std::uint64_t gen) : store(policy), generation(gen) {}
        PartitionStore store;
        PartitionLedger ledger;
        std::uint64_t generation;
    };

    RouterConfig config;
    std::shared_ptr<prometheus::Registry> registry;
    RouterMetrics metrics;
    RoutingTable routing;
    std::unique_ptr<kafka::EmbeddedCluster> embedded;
    std::unique_ptr<kafka::Producer> producer;
    std::unique_ptr<kafka::GroupConsumer> consumer;

    asio::io_context pipeline_ioc{1};
    asio::io_context admin_ioc{1};
    std::unique_ptr<http::Server> admin;
    std::thread pipeline_thread;
    std::thread admin_thread;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> pipeline_work;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> admin_work;
    std::optional<asio::steady_timer> commit_timer;
    std::optional<asio::steady_timer> sweep_timer;

    // Pipeline-thread state.
    transform::ReferralParser parser;
    std::map<std::int32_t, Slot> partitions;
    std::uint64_t next_generation = 1;
    /// host/pid: which router decided (for the audit trail and rebalance diagnostics).
    const std::string instance = instance_name();

    static std::string instance_name() {
        std::array<char, 256> host{};
        if (::gethostname(host.data(), host.size() - 1) != 0) host[0] = '\0';
        return fmt::format("{}/{}", host.data(), ::getpid());
    }

    // Shared between threads.
    std::atomic<std::int64_t> in_flight{0};  // posted to the pipeline, not yet committable
    std::atomic<bool> stopping{false};
    std::atomic<bool> failed{false};
    std::atomic<bool> running{false};

    // -- start-up --

    void start() {
        if (config.kafka.embedded) {
            embedded = std::make_unique<kafka::EmbeddedCluster>(1);
            for (const auto& spec : config.topic_specs()) embedded->create_topic(spec.name, spec.partitions);
            config.kafka.client.bootstrap_servers = embedded->bootstrap_servers();
            log::warn("using the embedded Kafka broker: in memory, NOT durable; for trying ocean-relay only",
                      {{"bootstrap_servers", embedded->bootstrap_servers()}});
        }
        kafka::ProducerConfig producer_config;
        producer_config.client = config.kafka.client;
        producer_config.linger = config.kafka.linger;
        producer_config.delivery_timeout = config.kafka.produce_timeout;
        producer_config.message_max_bytes = config.kafka.message_max_bytes;
        producer = std::make_unique<kafka::Producer>(producer_config);
        if (!config.kafka.embedded && config.kafka.verify_topics) {
            kafka::ensure_topics(producer->handle(),
                                 config.topic_specs(),
                                 config.kafka.create_topics,
                                 std::chrono::seconds(30));
            // The changelog is written to the inbound record's partition number: it needs at least as
            // many partitions, or a record of a high partition could never have its state written.
            const int inbound =
                kafka::partition_count(producer->handle(), config.topics.inbound, std::chrono::seconds(10));
            const int state =
                kafka::partition_count(producer->handle(), config.topics.state, std::chrono::seconds(10));
            if (inbound > 0 && state >= 0 && state < inbound)
                throw ConfigError(
                    fmt::format("kafka topic '{}' has {} partitions but '{}' has {}: the state changelog "
                                "must have at least as "
                                "many partitions as the inbound topic (it is co-partitioned)",
                                config.topics.state,
                                state,
                                config.topics.inbound,
                                inbound));
        }

        admin = std::make_unique<http::Server>(
            admin_ioc, config.admin, [this](http::Request& request, const http::RequestContext&) {
                return handle_admin(request);
            });
        admin->start();
        admin_work.emplace(admin_ioc.get_executor());
        admin_thread = std::thread([this] { admin_ioc.run(); });
        pipeline_work.emplace(pipeline_ioc.get_executor());
        pipeline_thread = std::thread([this] { pipeline_ioc.run(); });
    }

    asio::awaitable<http::Response> handle_admin(http::Request& request) {
        http::Response res{bhttp::status::ok, request.version()};
        const std::string target(request.target());
        if (target == "/metrics") {
            res.set(bhttp::field::content_type, metrics::kContentType);
            res.body() = metrics::serialize(*registry);
        } else if (target == "/healthz") {
            res.set(bhttp::field::content_type, "application/json");
            res.result(failed ? bhttp::status::service_unavailable : bhttp::status::ok);
            res.body() = failed ? R"({"status":"failed"})" : R"({"status":"ok"})";
        } else if (target == "/readyz") {
            const bool ready = running && !failed && !stopping;
            res.set(bhttp::field::content_type, "application/json");
            res.result(ready ? bhttp::status::ok : bhttp::status::service_unavailable);
            res.body() = ready ? R"({"status":"ready"})" : R"({"status":"not_ready"})";
        } else {
            res.result(bhttp::status::not_found);
            res.set(bhttp::field::content_type, "application/json");
            res.body() = R"({"error":"not_found"})";
        }
        co_return res;
    }

    // -- running on the pipeline thread --

    template <typename F>
    auto on_pipeline(F&& f) -> decltype(f()) {
        using R = decltype(f());
        std::packaged_task<R()> task(std::forward<F>(f));
        auto result = task.get_future();
        asio::post(pipeline_ioc, [&task] { task(); });
        return result.get();
    }

    void fail(std::string_view what, const Error& error) {
        if (!failed.exchange(true))
            log::error("produce failed: stopping without committing past it (a restart re-processes it)",
                       {{"what", std::string(what)}, {"error", error.message}});
        stopping = true;
    }

    void produce(Outgoing out,
                 std::int32_t partition,
                 std::function<void(const kafka::DeliveryResult&)> done) {
        producer->async_produce_to(
            std::move(out.topic),
            partition,
            std::move(out.key),
            std::move(out.value),
            std::move(out.headers),
            config.kafka.produce_timeout,
            asio::bind_executor(pipeline_ioc,
                                [done = std::move(done)](kafka::DeliveryResult r) { done(r); }));
    }

    void pump(std::int32_t partition) {
        const auto it = partitions.find(partition);
        if (it == partitions.end()) return;
        Slot& slot = it->second;
        for (auto& [offset, pending] : slot.ledger.take_ready_states()) {
            auto remaining = std::make_shared<std::size_t>(pending.records.size());
            for (auto& record : pending.records) {
                Outgoing out{config.topics.state, std::move(record.key), std::move(record.value), {}};
                produce(std::move(out),
                        partition,
                        [this, partition, gen = slot.generation, offset = offset, remaining](
                            const kafka::DeliveryResult& r) {
                            if (!r.ok) return fail("state", r.error);
                            if (--*remaining > 0) return;
                            const auto s = partitions.find(partition);
                            if (s == partitions.end() || s->second.generation != gen) return;
                            s->second.ledger.state_written(offset);
                        });
            }
        }
    }

    void commit_due() {
        std::vector<kafka::TopicPartition> offsets;
        std::int64_t pending = 0;
        std::size_t referrals = 0;
        for (auto& [partition, slot] : partitions) {
            const std::size_t before = slot.ledger.in_flight();
            if (const auto next = slot.ledger.take_commit())
                offsets.push_back({config.topics.inbound, partition, *next});
            in_flight -= static_cast<std::int64_t>(before - slot.ledger.in_flight());
            pending += static_cast<std::int64_t>(slot.ledger.in_flight());
            referrals += slot.store.size();
        }
        metrics.in_flight().Set(static_cast<double>(pending));
        metrics.state_referrals().Set(static_cast<double>(referrals));
        if (!offsets.empty() && consumer) consumer->commit(offsets, /*async=*/true);
    }

    void schedule_commit() {
        commit_timer->expires_after(config.kafka.commit_interval);
        commit_timer->async_wait([this](boost::system::error_code ec) {
            if (ec) return;
            commit_due();
            schedule_commit();
        });
    }

    // Idle referrals leave memory and the changelog (a tombstone for the state and the bundle). Not
    // tied to an inbound offset: a tombstone lost in a crash only leaves a state to be swept again.
    void sweep_idle() {
        const std::int64_t now = epoch_seconds();
        for (auto& [partition, slot] : partitions) {
            for (auto& ref : slot.store.evict_idle(now)) {
                metrics.evicted_referrals().Increment();
                for (std::string key : {ref, ref + std::string(kBundleKeySuffix)}) {
                    produce(
                        Outgoing{config.topics.state, std::move(key), std::string(), {}},
                        partition,
                        [this](const kafka::DeliveryResult& r) {
                            if (!r.ok)
                                log::warn("changelog tombstone not written", {{"error", r.error.message}});
                        });
                }
            }
        }
    }

    void schedule_sweep() {
        sweep_timer->expires_after(config.sweep_interval);
        sweep_timer->async_wait([this](boost::system::error_code ec) {
            if (ec) return;
            sweep_idle();
            schedule_sweep();
        });
    }

    json::object event_base(std::string_view outcome,
                            const kafka::Message& m,
                            const std::string& referral_ref,
                            const std::string& event,
                            const std::string& site) {
        return json::object{
            {"outcome", outcome},
            {"referral_ref", referral_ref},
            {"event", event},
            {"site", site},
            {"at", format_rfc3339_millis(system_now())},
            {"router", instance},
            {"source",
             json::object{{"topic", m.topic()}, {"partition", m.partition()}, {"offset", m.offset()}}}};
    }

    Outgoing event_record(const json::object& body,
                          std::string_view outcome,
                          const std::string& referral_ref,
                          const std::string& traceparent) {
        std::vector<kafka::Header> headers{{"outcome", std::string(outcome)}, {"referral-ref", referral_ref}};
        if (!traceparent.empty()) headers.push_back({"traceparent", traceparent});
        return Outgoing{config.topics.events, referral_ref, json::serialize(body), std::move(headers)};
    }

    [[nodiscard]] bool handles(std::string_view event) const {
        return contains(config.handled_events, event);
    }

    /// The inbound record for the inbound DLQ: key, value and every header as they came (a replay
    /// removes only the `dlq-*` ones), plus why, when and where from. `excerpt` is codes only, no PHI.
    Outgoing dead_letter(const kafka::Message& m, std::string_view reason, std::string excerpt = {}) {
        std::vector<kafka::Header> headers = m.headers();
        headers.push_back({"dlq-reason", std::string(reason)});
        headers.push_back({"dlq-at", format_rfc3339_millis(system_now())});
        headers.push_back({"dlq-source", fmt::format("{}/{}/{}", m.topic(), m.partition(), m.offset())});
        if (!excerpt.empty()) headers.push_back({"dlq-excerpt", std::move(excerpt)});
        metrics.dead_letter(reason);
        return Outgoing{
            config.topics.inbound_dlq, std::string(m.key()), std::string(m.value()), std::move(headers)};
    }

    /// An event code the router does not route: ignored on purpose (configured), or dead-lettered so a
    /// router that handles it can take it in after a replay. Neither touches the referral's state.
    void not_handled(const kafka::Message& m,
                     const std::string& event,
                     const std::string& referral_ref,
                     const std::string& site,
                     const std::string& traceparent,
                     std::vector<Outgoing>& outgoing) {
        const bool ignored = contains(config.ignored_events, event);
        const std::string outcome = ignored ? "ignored" : "unhandled-event";
        auto body = event_base(outcome, m, referral_ref, event, site);
        if (!ignored) {
            body["dlq_topic"] = config.topics.inbound_dlq;
            outgoing.push_back(dead_letter(m, "unhandled-event"));
        }
        outgoing.push_back(event_record(body, outcome, referral_ref, traceparent));
        metrics.record(event, outcome);
        log::debug("inbound record not routed: event not handled",
                   {{"outcome", outcome},
                    {"referral_ref", referral_ref},
                    {"event", event},
                    {"partition", m.partition()},
                    {"offset", static_cast<long long>(m.offset())}});
    }

    void process(const kafka::Message& m) {
        const auto it = partitions.find(m.partition());
        if (it == partitions.end() || stopping) {
            --in_flight;  // not ours any more (revoked) or shutting down: another owner re-reads it
            return;
        }
        Slot& slot = it->second;
        const std::int64_t now = epoch_seconds();
        const std::string traceparent = header_or(m, "traceparent");
        std::string event = header_or(m, "event");
        std::string referral_ref = header_or(m, "referral-ref", m.key());
        std::string site = header_or(m, "site");
        std::vector<Outgoing> outgoing;
        std::optional<PendingState> state;

        if (header_or(m, "kind") == kPushedKind) {
            std::string why;
            if (auto pushed = decode_pushed(m.value(), &why)) {
                slot.store.record_pushed(*pushed, now);
                state.emplace();
                state->records.push_back(
                    {pushed->referral_ref, encode_state(*slot.store.find(pushed->referral_ref))});
                metrics.record(kPushedKind, "pushed");
            } else {
                auto body = event_base("invalid", m, referral_ref, std::string(kPushedKind), site);
                body["error"] = json::object{{"code", "invalid-pushed-update"}, {"message", why}};
                outgoing.push_back(event_record(body, "invalid", referral_ref, traceparent));
                metrics.record(kPushedKind, "invalid");
            }
        } else if (const std::string& claimed = event; !claimed.empty() && !handles(claimed)) {
            // The ingress's `event` header is the bundle's own code: an event this router does not
            // route needs no parse (it may not even be a referral).
            not_handled(m, claimed, referral_ref, site, traceparent, outgoing);
        } else {
            const auto parse_start = Clock::now();
            transform::ParseResult parsed = parser.parse(m.value());
            metrics.parse_seconds(seconds_since(parse_start));
            json::array warnings;
            for (const auto& w : parsed.warnings) {
                metrics.parse_warning(w.code);
                warnings.push_back(
                    json::object{{"code", w.code}, {"expression", w.expression}, {"message", w.message}});
            }
            if (!parsed.referral) {
                const auto& error = *parsed.error;
                auto body = event_base("invalid", m, referral_ref, event, site);
                body["error"] = json::object{
                    {"code", error.code}, {"expression", error.expression}, {"message", error.message}};
                outgoing.push_back(event_record(body, "invalid", referral_ref, traceparent));
                // Nothing Ocean sent is lost: the record as it came, for inspection and replay.
                outgoing.push_back(
                    dead_letter(m, "invalid-bundle", fmt::format("{} at {}", error.code, error.expression)));
                metrics.record(event.empty() ? "unknown" : event, "invalid");
                log::warn("inbound record is not a usable referral",
                          {{"partition", m.partition()},
                           {"offset", static_cast<long long>(m.offset())},
                           {"referral_ref", referral_ref},
                           {"code", error.code},
                           {"expression", error.expression}});
            } else if (!handles(parsed.referral->event)) {
                not_handled(m, parsed.referral->event, referral_ref, site, traceparent, outgoing);
            } else {
                route(m, slot, *parsed.referral, std::move(warnings), traceparent, now, outgoing, state);
            }
        }

        const std::int64_t offset = m.offset();
        const std::int32_t partition = m.partition();
        slot.ledger.add(offset, outgoing.size(), std::move(state));
        for (auto& out : outgoing) {
            produce(std::move(out),
                    kafka::Producer::kAnyPartition,
                    [this, partition, gen = slot.generation, offset](const kafka::DeliveryResult& r) {
                        if (!r.ok) return fail("delivery or event", r.error);
                        const auto s = partitions.find(partition);
                        if (s == partitions.end() || s->second.generation != gen) return;
                        s->second.ledger.ack(offset);
                        pump(partition);
                    });
        }
        if (outgoing.empty()) pump(partition);
    }

    void route(const kafka::Message& m,
               Slot& slot,
               const transform::Referral& referral,
               json::array warnings,
               const std::string& traceparent,
               std::int64_t now,
               std::vector<Outgoing>& outgoing,
               std::optional<PendingState>& state) {
        // The ingress writes the authenticated integration's site into the `site` header: that, not the
        // payload's target listing, says whose referral this is, so one site's credentials cannot route
        // a referral to another site's destinations. The payload's site only serves older records.
        const std::string header_site = header_or(m, "site");
        const std::string& payload_site = referral.target.site_number;
        const std::string& site = header_site.empty() ? payload_site : header_site;
        if (!header_site.empty() && header_site != payload_site) {
            metrics.parse_warning("site-mismatch");
            const std::string named =
                payload_site.empty() ? std::string("no site") : fmt::format("site '{}'", payload_site);
            warnings.push_back(json::object{
                {"code", "site-mismatch"},
                {"expression", "PractitionerRole.identifier(id-site-number)"},
                {"message",
                 fmt::format("the target listing names {}, the authenticated integration is site '{}': "
                             "routed for site '{}'",
                             named,
                             header_site,
                             header_site)}});
        }
        const std::string key = idempotency_key(referral, site);
        const Verdict verdict = slot.store.take(referral, key, now);
        const std::string& ref = referral.referral_ref;
        std::string outcome = verdict == Verdict::kDeliver ? "routed" : to_string(verdict);
        json::array destinations;

        if (verdict == Verdict::kDeliver || verdict == Verdict::kStale) {
            auto targets =
                routing.resolve(site, referral.target.external_service_id, referral.target.listing_ref);
            if (targets.empty() && verdict == Verdict::kDeliver) outcome = "unrouted";
            // A stale version goes only where a destination asked for them, marked as such.
            if (verdict == Verdict::kStale)
                std::erase_if(targets, [](const Destination* d) { return !d->deliver_stale; });
            std::map<transform::Format, std::string> rendered;
            for (const Destination* d : targets) {
                auto cached = rendered.find(d->format);
                if (cached == rendered.end()) {
                    const auto render_start = Clock::now();
                    cached =
                        rendered.emplace(d->format, transform::render(d->format, referral, m.value())).first;
                    metrics.render_seconds(transform::to_string(d->format), seconds_since(render_start));
                }
                const std::string delivery_key = hex_encode(Sha256().field(key).field(d->id).finish());
                std::vector<kafka::Header> headers{
                    {"destination", d->id},
                    {"format", transform::to_string(d->format)},
                    {"content-type", transform::content_type(d->format)},
                    {"idempotency-key", delivery_key},
                    {"referral-ref", ref},
                    {"event", referral.event},
                    {"site", site},
                    {"attempt", "0"},
                    {"source", fmt::format("{}/{}/{}", m.topic(), m.partition(), m.offset())}};
                if (verdict == Verdict::kStale) headers.push_back({"stale", "true"});
                if (!traceparent.empty()) headers.push_back({"traceparent", traceparent});
                outgoing.push_back(Outgoing{
                    config.topics.deliveries, d->id + "|" + ref, cached->second, std::move(headers)});
                metrics.delivery(d->id);
                destinations.emplace_back(d->id);
            }
        }
        metrics.record(referral.event, outcome);

        auto body = event_base(outcome, m, ref, referral.event, site);
        body["idempotency_key"] = key;
        if (!destinations.empty()) body["destinations"] = std::move(destinations);
        if (!referral.target.listing_ref.empty()) body["listing_ref"] = referral.target.listing_ref;
        if (!referral.target.external_service_id.empty())
            body["external_service_id"] = referral.target.external_service_id;
        if (!warnings.empty()) body["warnings"] = std::move(warnings);
        outgoing.push_back(event_record(body, outcome, ref, traceparent));

        if (verdict != Verdict::kDuplicate) {
            // The bundle was taken in: its state and the latest bundle go to the changelog. A stale one
            // only adds its key to the state: the latest bundle (what the updater echoes back to Ocean)
            // stays the newer one.
            state.emplace();
            state->records.push_back({ref, encode_state(*slot.store.find(ref))});
            if (verdict != Verdict::kStale)
                state->records.push_back({ref + std::string(kBundleKeySuffix), std::string(m.value())});
        }
        // Every outcome is on relay.events.v1; the log only repeats it at debug level, as a burst of
        // Ocean resends would otherwise be a burst of log lines.
        if (verdict != Verdict::kDeliver || outcome == "unrouted")
            log::debug("inbound record not delivered",
                       {{"outcome", outcome},
                        {"referral_ref", ref},
                        {"event", referral.event},
                        {"partition", m.partition()},
                        {"offset", static_cast<long long>(m.offset())}});
    }

    // -- rebalance, on the consumer thread --

    PartitionStore restore(std::int32_t partition) {
        const auto start = Clock::now();
        PartitionStore store(config.dedup);
        std::size_t restored = 0;
        kafka::read_partition_to_end(
            config.kafka.client,
            config.topics.state,
            partition,
            [&](const kafka::Message& record) {
                const std::string_view key = record.key();
                if (key.ends_with(kBundleKeySuffix) || key.empty()) return;
                if (!record.has_value()) {
                    store.erase(key);
                    return;
                }
                if (auto s = decode_state(record.value())) {
                    store.restore(std::string(key), std::move(*s));
                    ++restored;
                } else {
                    log::warn(
                        "changelog record not understood; skipped",
                        {{"partition", partition}, {"offset", static_cast<long long>(record.offset())}});
                }
            },
            config.kafka.restore_timeout);
        metrics.restore_seconds().Observe(seconds_since(start));
        metrics.restored_referrals().Increment(static_cast<double>(restored));
        log::info("partition state restored",
                  {{"partition", partition},
                   {"referrals", static_cast<long long>(store.size())},
                   {"seconds", seconds_since(start)}});
        return store;
    }

    void on_assigned(const std::vector<kafka::TopicPartition>& assigned) override {
        for (const auto& tp : assigned) {
            if (tp.topic != config.topics.inbound) continue;
            PartitionStore store = restore(tp.partition);
            on_pipeline([&] {
                auto [it, inserted] = partitions.try_emplace(tp.partition, config.dedup, next_generation++);
                if (!inserted) it->second = Slot(config.dedup, next_generation++);
                it->second.store = std::move(store);
                metrics.partitions().Set(static_cast<double>(partitions.size()));
                return 0;
            });
        }
    }

    void on_revoked(const std::vector<kafka::TopicPartition>& revoked, bool lost) override {
        const auto deadline = Clock::now() + config.grace_period;
        std::vector<kafka::TopicPartition> final_offsets;
        for (const auto& tp : revoked) {
            if (tp.topic != config.topics.inbound) continue;
            // Let the records in flight finish, so what is done gets committed (unless the group
            // already moved the partition on, or a produce failed and nothing more will finish).
            while (!lost && !failed && Clock::now() < deadline) {
                const std::size_t pending = on_pipeline([&] {
                    const auto it = partitions.find(tp.partition);
                    return it == partitions.end() ? std::size_t{0} : it->second.ledger.in_flight();
                });
                if (pending == 0) break;
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
            }
            const auto next = on_pipeline([&]() -> std::optional<std::int64_t> {
                const auto it = partitions.find(tp.partition);
                if (it == partitions.end()) return std::nullopt;
                const std::size_t before = it->second.ledger.in_flight();
                auto commit = it->second.ledger.take_commit();
                // The asynchronous commit that took the last offset may have failed: the final,
                // synchronous commit always sends the partition's position.
                if (!commit && it->second.ledger.committed() >= 0) commit = it->second.ledger.committed();
                in_flight -= static_cast<std::int64_t>(before);  // whatever is left is abandoned
                partitions.erase(it);
                metrics.partitions().Set(static_cast<double>(partitions.size()));
                return commit;
            });
            if (next && !lost) final_offsets.push_back({config.topics.inbound, tp.partition, *next});
        }
        if (!final_offsets.empty() && consumer) consumer->commit(final_offsets, /*async=*/false);
        log::info("partitions revoked", {{"count", static_cast<long long>(revoked.size())}, {"lost", lost}});
    }

    // -- the consumer loop --

    int run() {
        kafka::ConsumerConfig consumer_config;
        consumer_config.client = config.kafka.client;
        consumer_config.group_id = config.kafka.group_id;
        consumer_config.topics = {config.topics.inbound};
        consumer_config.session_timeout = config.kafka.session_timeout;
        consumer_config.max_fetch_bytes = config.kafka.message_max_bytes;
        consumer = std::make_unique<kafka::GroupConsumer>(consumer_config, *this);
        on_pipeline([this] {
            commit_timer.emplace(pipeline_ioc);
            schedule_commit();
            sweep_timer.emplace(pipeline_ioc);
            schedule_sweep();
            return 0;
        });
        running = true;
        metrics.ready().Set(1);
        log::info("router consuming",
                  {{"topic", config.topics.inbound},
                   {"group", config.kafka.group_id},
                   {"admin_port", static_cast<int>(admin->port())}});
        auto last_lag = Clock::now();
        while (!stopping) {
            if (in_flight.load() >= static_cast<std::int64_t>(config.kafka.max_in_flight)) {
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
                continue;
            }
            std::unique_ptr<kafka::Message> message;
            try {
                message = consumer->poll(std::chrono::milliseconds(100));
            } catch (const std::exception& e) {
                // A partition's state could not be restored (or the consumer failed): stop rather
                // than process without it; the group gives the partitions to a healthy instance.
                log::error("consumer failed: stopping", {{"error", e.what()}});
                failed = true;
                stopping = true;
                break;
            }
            if (Clock::now() - last_lag > std::chrono::seconds(1)) {
                metrics.consumer_lag().Set(static_cast<double>(consumer->lag()));
                last_lag = Clock::now();
            }
            if (!message) continue;
            ++in_flight;
            asio::post(pipeline_ioc,
                       [this, m = std::shared_ptr<kafka::Message>(std::move(message))] { process(*m); });
        }
        running = false;
        metrics.ready().Set(0);
        log::info("router stopping: finishing the records in flight and leaving the group");
        consumer->close();  // revokes everything through on_revoked, which commits what is done
        on_pipeline([this] {
            commit_timer->cancel();
            sweep_timer->cancel();
            return 0;
        });
        producer->flush(std::chrono::seconds(5));
        return failed ? 1 : 0;
    }

    void shutdown() {
        if (admin) {
            admin->stop_accepting();
        }
        pipeline_work.reset();
        admin_work.reset();
        pipeline_ioc.stop();
        admin_ioc.stop();
        if (pipeline_thread.joinable()) pipeline_thread.join();
        if (admin_thread.joinable()) admin_thread.join();
    }
};

Router::Router(RouterConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {
    try {
        impl_->start();
    } catch (...) {
        impl_->shutdown();  // threads already started must be joined before the exception leaves
        throw;
    }
}

Router::~Router() {
    impl_->stopping = true;
    impl_->consumer.reset();
    impl_->shutdown();
}

int Router::run() {
    return impl_->run();
}

void Router::stop() {
    impl_->stopping = true;
}

std::uint16_t Router::admin_port() const {
    return impl_->admin->port();
}

const std::string& Router::bootstrap_servers() const {
    return impl_->config.kafka.client.bootstrap_servers;
}

}  // namespace relay::router
