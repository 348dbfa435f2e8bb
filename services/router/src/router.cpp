#include "router.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <functional>
#include <map>

#include "ledger.hpp"
#include "metrics.hpp"
#include "relay/contracts/changelog.hpp"
#include "relay/contracts/documents.hpp"
#include "relay/contracts/headers.hpp"
#include "relay/contracts/notifications.hpp"
#include "relay/core/encoding.hpp"
#include "relay/core/log.hpp"
#include "relay/core/time.hpp"
#include "relay/service/worker.hpp"
#include "relay/kafka/admin.hpp"
#include "relay/kafka/consumer.hpp"
#include "relay/kafka/embedded_cluster.hpp"
#include "relay/kafka/producer.hpp"
#include "relay/metrics/metrics.hpp"
#include "relay/transform/referral.hpp"
#include "relay/transform/open_api_record.hpp"
#include "relay/transform/open_api_referral.hpp"
#include "relay/transform/render.hpp"
#include "state.hpp"

namespace relay::router {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

namespace header = contracts::header;
namespace changelog = contracts::changelog;

namespace {

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

struct Router::Impl : service::WorkerHooks {
    explicit Impl(RouterConfig c)
        : config(std::move(c)),
          registry(std::make_shared<prometheus::Registry>()),
          worker(worker_config(config), registry),
          metrics(registry, destination_ids(config)),
          routing(config.destinations, config.routes) {}

    static std::vector<std::string> destination_ids(const RouterConfig& c) {
        std::vector<std::string> ids;
        for (const auto& d : c.destinations) ids.push_back(d.id);
        return ids;
    }

    static service::WorkerConfig worker_config(const RouterConfig& c) {
        service::WorkerConfig w;
        w.name = "router";
        w.kafka = c.kafka;
        w.topics = {c.topics.inbound};
        w.topic_specs = c.topic_specs();
        // The changelog is written to the inbound record's partition number.
        w.co_partitioned = {{c.topics.state, c.topics.inbound}};
        w.admin = c.admin;
        w.grace_period = c.grace_period;
        return w;
    }

    struct Slot {
        explicit Slot(DedupPolicy policy, std::uint64_t gen) : store(policy), generation(gen) {}
        PartitionStore store;
        PartitionLedger ledger;
        std::uint64_t generation;
    };

    RouterConfig config;
    std::shared_ptr<prometheus::Registry> registry;
    // Before the state below: destroyed after it (the consumer must outlive every record it returned).
    service::Worker worker;
    RouterMetrics metrics;
    RoutingTable routing;
    std::optional<asio::steady_timer> sweep_timer;

    // Worker-thread state.
    transform::ReferralParser parser;
    transform::OpenApiReferralParser open_api_parser;
    std::map<std::int32_t, Slot> partitions;
    std::uint64_t next_generation = 1;
    std::size_t unfinished = 0;  ///< over every partition: records not yet through phase 2

    // -- producing: every record's acknowledgement is awaited on the worker's thread --

    asio::awaitable<void> produce_then(Outgoing out,
                                       std::int32_t partition,
                                       std::function<void(const kafka::DeliveryResult&)> done) {
        const kafka::DeliveryResult result = co_await worker.producer().async_produce_to(std::move(out.topic),
                                                                                         partition,
                                                                                         std::move(out.key),
                                                                                         std::move(out.value),
                                                                                         std::move(out.headers),
                                                                                         config.kafka.produce_timeout);
        done(result);
    }

    void produce(Outgoing out, std::int32_t partition, std::function<void(const kafka::DeliveryResult&)> done) {
        asio::co_spawn(worker.context(), produce_then(std::move(out), partition, std::move(done)), asio::detached);
    }

    void fail(std::string_view what, const Error& error) {
        worker.fail(fmt::format("produce of a {} record", what), error.message);
    }

    Slot* slot_of(std::int32_t partition, std::uint64_t generation) {
        const auto it = partitions.find(partition);
        return it == partitions.end() || it->second.generation != generation ? nullptr : &it->second;
    }

    void pump(std::int32_t partition) {
        const auto it = partitions.find(partition);
        if (it == partitions.end()) return;
        Slot& slot = it->second;
        std::vector<std::pair<std::int64_t, PendingState>> ready;
        finished(slot, [&] { ready = slot.ledger.take_ready_states(); });
        for (auto& [offset, pending] : ready) {
            auto remaining = std::make_shared<std::size_t>(pending.records.size());
            for (auto& record : pending.records) {
                Outgoing out{config.topics.state, std::move(record.key), std::move(record.value), {}};
                produce(std::move(out),
                        partition,
                        [this, partition, gen = slot.generation, offset = offset, remaining](
                            const kafka::DeliveryResult& r) {
                            if (!r.ok) return fail("state", r.error);
                            if (--*remaining > 0) return;
                            if (Slot* s = slot_of(partition, gen)) finished(*s, [&] { s->ledger.state_written(offset); });
                        });
            }
        }
    }

    /// Runs a ledger step and keeps the count of unfinished records (back-pressure) in step with it.
    template <typename Step>
    void finished(Slot& slot, Step step) {
        const std::size_t before = slot.ledger.unfinished();
        step();
        unfinished -= before - slot.ledger.unfinished();
        worker.progress();
    }

    // Idle referrals leave memory and the changelog (a tombstone for the state and the bundle). Not
    // tied to an inbound offset: a tombstone lost in a crash only leaves a state to be swept again.
    void sweep_idle() {
        const std::int64_t now = epoch_seconds();
        for (auto& [partition, slot] : partitions) {
            for (auto& ref : slot.store.evict_idle(now)) {
                metrics.evicted_referrals().Increment();
                for (std::string key : {ref, changelog::bundle_key(ref)}) {
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
            {"router", worker.instance()},
            {"source",
             json::object{{"topic", m.topic()}, {"partition", m.partition()}, {"offset", m.offset()}}}};
    }

    Outgoing event_record(const json::object& body,
                          std::string_view outcome,
                          const std::string& referral_ref,
                          const std::string& traceparent) {
        std::vector<kafka::Header> headers{{std::string(header::kOutcome), std::string(outcome)},
                                           {std::string(header::kReferralRef), referral_ref}};
        if (!traceparent.empty()) headers.push_back({std::string(header::kTraceparent), traceparent});
        return Outgoing{config.topics.events, referral_ref, json::serialize(body), std::move(headers)};
    }

    [[nodiscard]] bool handles(std::string_view event) const {
        return contains(config.handled_events, event);
    }

    /// The inbound record for the inbound DLQ: key, value and every header as they came (a replay
    /// removes only the `dlq-*` ones), plus why, when and where from. `excerpt` is codes only, no PHI.
    Outgoing dead_letter(const kafka::Message& m, std::string_view reason, std::string excerpt = {}) {
        std::vector<kafka::Header> headers = m.headers();
        headers.push_back({std::string(header::kDlqReason), std::string(reason)});
        headers.push_back({std::string(header::kDlqAt), format_rfc3339_millis(system_now())});
        headers.push_back(
            {std::string(header::kDlqSource), fmt::format("{}/{}/{}", m.topic(), m.partition(), m.offset())});
        if (!excerpt.empty()) headers.push_back({std::string(header::kDlqExcerpt), std::move(excerpt)});
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
        if (it == partitions.end()) return;  // the worker only hands over records of owned partitions
        Slot& slot = it->second;
        const std::int64_t now = epoch_seconds();
        const std::string traceparent = header_or(m, header::kTraceparent);
        std::string event = header_or(m, header::kEvent);
        std::string referral_ref = header_or(m, header::kReferralRef, m.key());
        std::string site = header_or(m, header::kSite);
        std::vector<Outgoing> outgoing;
        std::optional<PendingState> state;

        if (header_or(m, header::kKind) == kPushedKind) {
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
            transform::ParseResult parsed = parse_record(m, site);
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
        ++unfinished;
        for (auto& out : outgoing) {
            produce(std::move(out),
                    kafka::Producer::kAnyPartition,
                    [this, partition, gen = slot.generation, offset](const kafka::DeliveryResult& r) {
                        if (!r.ok) return fail("delivery or event", r.error);
                        Slot* s = slot_of(partition, gen);
                        if (s == nullptr) return;
                        s->ledger.ack(offset);
                        pump(partition);
                    });
        }
        if (outgoing.empty()) pump(partition);
    }

    /// The documents `referral` points to by URL, as the fetcher's requests list them: ids and Ocean's
    /// URLs only.
    static json::array document_refs(const transform::Referral& referral) {
        json::array documents;
        for (const auto& a : referral.attachments) {
            if (a.url.empty()) continue;
            documents.push_back(json::object{{"id", a.id}, {"url", a.url}, {"content_type", a.content_type}});
        }
        return documents;
    }

    /// The fetcher's request for the documents `referral` points to, for destination `d` (nothing when
    /// it points to none by URL).
    std::optional<Outgoing> document_request(const transform::Referral& referral,
                                             const Destination& d,
                                             const std::string& site,
                                             const std::string& traceparent) const {
        json::array documents = document_refs(referral);
        if (documents.empty()) return std::nullopt;
        const std::string& ref = referral.referral_ref;
        json::object body{{"site", site},
                          {"referral_ref", ref},
                          {"destination", d.id},
                          {"event", referral.event},
                          {"documents", std::move(documents)}};
        std::vector<kafka::Header> headers{
            {std::string(header::kKind), std::string(contracts::documents::kDocumentRequestKind)},
            {std::string(header::kSite), site},
            {std::string(header::kReferralRef), ref},
            {std::string(header::kDestination), d.id}};
        if (!traceparent.empty()) headers.push_back({std::string(header::kTraceparent), traceparent});
        return Outgoing{config.topics.documents, ref, json::serialize(body), std::move(headers)};
    }

    /// An Ocean FHIR bundle, or an Open eReferral referral the fetcher fetched (kind open-api-referral:
    /// the Referral JSON and its decrypted patient data, for the authenticated site).
    transform::ParseResult parse_record(const kafka::Message& m, const std::string& site) {
        if (!from_open_api(m)) return parser.parse(m.value());
        const auto record = transform::unpack_open_api_record(m.value());
        if (!record) {
            transform::ParseResult result;
            result.error = transform::ParseError{
                "not-an-open-api-record", "$", "the value is not the fetcher's {referral, patient} object"};
            return result;
        }
        return open_api_parser.parse(record->referral_json, record->patient_json, site);
    }

    static bool from_open_api(const kafka::Message& m) {
        return m.header(header::kKind) == std::optional<std::string_view>(contracts::kOpenApiReferralKind);
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
        const std::string header_site = header_or(m, header::kSite);
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
            const bool open_api = from_open_api(m);
            for (const Destination* d : targets) {
                // "ocean-fhir" is the bundle as Ocean sent it; a referral that came through the Open API
                // has none, so those destinations get the normalised FHIR R4 bundle.
                const transform::Format format =
                    open_api && d->format == transform::Format::kOceanFhir ? transform::Format::kFhirR4 : d->format;
                auto cached = rendered.find(format);
                if (cached == rendered.end()) {
                    const auto render_start = Clock::now();
                    cached = rendered.emplace(format, transform::render(format, referral, m.value())).first;
                    metrics.render_seconds(transform::to_string(format), seconds_since(render_start));
                }
                const std::string delivery_key = hex_encode(Sha256().field(key).field(d->id).finish());
                std::vector<kafka::Header> headers{
                    {std::string(header::kDestination), d->id},
                    {std::string(header::kFormat), transform::to_string(format)},
                    {std::string(header::kContentType), transform::content_type(format)},
                    {std::string(header::kIdempotencyKey), delivery_key},
                    {std::string(header::kReferralRef), ref},
                    {std::string(header::kEvent), referral.event},
                    {std::string(header::kSite), site},
                    {std::string(header::kAttempt), "0"},
                    {std::string(header::kSource),
                     fmt::format("{}/{}/{}", m.topic(), m.partition(), m.offset())}};
                if (verdict == Verdict::kStale) headers.push_back({std::string(header::kStale), "true"});
                if (!traceparent.empty()) headers.push_back({std::string(header::kTraceparent), traceparent});
                // An Open eReferral referral's attachments too: the fetcher gets them over the Open API.
                const bool wants_documents = d->documents && verdict == Verdict::kDeliver;
                json::array inline_documents;
                if (wants_documents && d->inline_documents) inline_documents = document_refs(referral);
                if (!inline_documents.empty()) {
                    // The delivery waits on the documents topic for the fetcher to embed them.
                    headers.push_back({std::string(header::kKind), std::string(contracts::documents::kDocumentInlineKind)});
                    headers.push_back({std::string(contracts::documents::kDocumentsHeader), json::serialize(inline_documents)});
                    outgoing.push_back(Outgoing{config.topics.documents, ref, cached->second, std::move(headers)});
                } else {
                    outgoing.push_back(Outgoing{
                        config.topics.deliveries, d->id + "|" + ref, cached->second, std::move(headers)});
                }
                if (wants_documents && !d->inline_documents)
                    if (auto request = document_request(referral, *d, site, traceparent)) outgoing.push_back(std::move(*request));
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
            // Only an Ocean FHIR bundle is a latest bundle: the updater builds FHIR messages from it.
            if (verdict != Verdict::kStale && !from_open_api(m))
                state->records.push_back({changelog::bundle_key(ref), std::string(m.value())});
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
            worker.kafka().client,
            config.topics.state,
            partition,
            [&](const kafka::Message& record) {
                const std::string_view key = record.key();
                if (key.ends_with(changelog::kBundleKeySuffix) || key.empty()) return;
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
        metrics.restored_referrals().Increment(static_cast<double>(restored));
        log::info("partition state restored",
                  {{"partition", partition},
                   {"referrals", static_cast<long long>(store.size())},
                   {"seconds", seconds_since(start)}});
        return store;
    }

    // -- the worker's hooks --

    void on_assigned(const kafka::TopicPartition& tp) override {
        PartitionStore store = restore(tp.partition);
        auto [it, inserted] = partitions.try_emplace(tp.partition, config.dedup, next_generation++);
        if (!inserted) it->second = Slot(config.dedup, next_generation++);
        it->second.store = std::move(store);
    }

    void on_record(std::unique_ptr<kafka::Message> record) override { process(*record); }

    [[nodiscard]] bool busy(const kafka::TopicPartition& tp) const override {
        const auto it = partitions.find(tp.partition);
        return it != partitions.end() && it->second.ledger.unfinished() > 0;
    }

    std::optional<std::int64_t> on_revoked(const kafka::TopicPartition& tp, bool /*lost*/) override {
        const auto it = partitions.find(tp.partition);
        if (it == partitions.end()) return std::nullopt;
        auto commit = it->second.ledger.take_commit();
        // The asynchronous commit that took the last offset may have failed: the final, synchronous
        // commit always sends the partition's position.
        if (!commit && it->second.ledger.committed() >= 0) commit = it->second.ledger.committed();
        unfinished -= it->second.ledger.unfinished();  // whatever is left is abandoned
        partitions.erase(it);
        return commit;
    }

    std::optional<std::int64_t> take_commit(const kafka::TopicPartition& tp) override {
        const auto it = partitions.find(tp.partition);
        return it == partitions.end() ? std::nullopt : it->second.ledger.take_commit();
    }

    [[nodiscard]] std::size_t in_flight() const override { return unfinished; }

    void on_started() override {
        sweep_timer.emplace(worker.context());
        schedule_sweep();
    }

    void on_tick() override {
        std::size_t referrals = 0;
        for (const auto& [partition, slot] : partitions) referrals += slot.store.size();
        metrics.state_referrals().Set(static_cast<double>(referrals));
    }

    void on_stopping() override {
        if (sweep_timer) sweep_timer->cancel();
    }
};

Router::Router(RouterConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}

Router::~Router() = default;

int Router::run() {
    return impl_->worker.run(*impl_);
}

void Router::stop() {
    impl_->worker.stop();
}

std::uint16_t Router::admin_port() const {
    return impl_->worker.admin_port();
}

const std::string& Router::bootstrap_servers() const {
    return impl_->worker.kafka().client.bootstrap_servers;
}

}  // namespace relay::router
