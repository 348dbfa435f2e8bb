#include "fetcher.hpp"

#include <fmt/format.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <unordered_set>
#include <variant>

#include "relay/contracts/documents.hpp"
#include "relay/contracts/headers.hpp"
#include "relay/contracts/notifications.hpp"
#include "relay/contracts/open_api_requests.hpp"
#include "relay/hub/update.hpp"
#include "relay/core/encoding.hpp"
#include "relay/core/log.hpp"
#include "relay/core/time.hpp"
#include "relay/http/oauth_client.hpp"
#include "relay/kafka/offset_tracker.hpp"
#include "relay/openapi/client.hpp"
#include "relay/openapi/referral.hpp"
#include "relay/service/worker.hpp"
#include "relay/transform/open_api_record.hpp"
#include "relay/transform/embed.hpp"
#include "relay/transform/patient_engagement.hpp"

namespace relay::fetcher {

using openapi::DocumentResult;
using openapi::FetchedDocument;
using openapi::FetchFailure;
using openapi::FetchResult;
using openapi::OpenApiClient;
using openapi::OpenedReferral;
using openapi::OpenReferralResult;
using openapi::kNeedsSitePrivateKey;
using openapi::open_attachment;
using openapi::open_referral;

namespace asio = boost::asio;
namespace header = contracts::header;
namespace notification = contracts::notification;
using SteadyClock = std::chrono::steady_clock;

namespace {

std::string header_or(const kafka::Message& m, std::string_view name, std::string fallback = {}) {
    if (const auto v = m.header(name)) return std::string(*v);
    return fallback;
}

/// Refs and session ids go into URLs: only the characters the ingress lets through.
bool is_safe_ref(std::string_view ref) {
    return !ref.empty() && ref.size() <= 64 &&
           ref.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") ==
               std::string_view::npos;
}

bool is_patient_engagement(std::string_view type) {
    return type == notification::kPatientNoteAdded || type == notification::kPatientFormsCompleted;
}

/// A bounded label for Ocean's opaque type.
std::string type_label(std::string_view type) {
    if (is_patient_engagement(type)) return std::string(type);
    if (type.starts_with("notify-referral")) return "referral";
    return "other";
}

struct Metrics {
    explicit Metrics(prometheus::Registry& registry)
        : notifications(prometheus::BuildCounter()
                            .Name("relay_fetcher_notifications_total")
                            .Help("Notifications finished, by type (bounded) and outcome")
                            .Register(registry)),
          calls(prometheus::BuildCounter()
                    .Name("relay_fetcher_ocean_calls_total")
                    .Help("Calls to Ocean's Open API, by endpoint and result (ok or a fixed reason)")
                    .Register(registry)),
          call_seconds(prometheus::BuildHistogram()
                           .Name("relay_fetcher_ocean_call_duration_seconds")
                           .Help("Duration of a call to Ocean's Open API, decryption included")
                           .Register(registry)),
          deliveries(prometheus::BuildCounter()
                         .Name("relay_fetcher_deliveries_total")
                         .Help("Deliveries written for the delivery service, by destination")
                         .Register(registry)),
          requests(prometheus::BuildCounter()
                       .Name("relay_fetcher_requests_total")
                       .Help("The hub's Open API requests finished, by action and outcome")
                       .Register(registry)),
          held(prometheus::BuildCounter()
                   .Name("relay_fetcher_ocean_calls_held_total")
                   .Help("Calls to Ocean held back before they were made, by site and reason (breaker, rate_limit)")
                   .Register(registry)),
          breaker_open(prometheus::BuildGauge()
                           .Name("relay_fetcher_ocean_breaker_open")
                           .Help("1 while a site's circuit breaker toward Ocean is open or half-open")
                           .Register(registry)) {}

    void notification(std::string_view type, std::string_view outcome) {
        notifications.Add({{"type", type_label(type)}, {"outcome", std::string(outcome)}}).Increment();
    }
    void call(std::string_view endpoint, std::string_view result, double seconds) {
        calls.Add({{"endpoint", std::string(endpoint)}, {"result", std::string(result)}}).Increment();
        call_seconds
            .Add({{"endpoint", std::string(endpoint)}},
                 prometheus::Histogram::BucketBoundaries{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30})
            .Observe(seconds);
    }

    prometheus::Family<prometheus::Counter>& notifications;
    prometheus::Family<prometheus::Counter>& calls;
    prometheus::Family<prometheus::Histogram>& call_seconds;
    prometheus::Family<prometheus::Counter>& deliveries;
    prometheus::Family<prometheus::Counter>& requests;
    prometheus::Family<prometheus::Counter>& held;
    prometheus::Family<prometheus::Gauge>& breaker_open;

    void request(std::string_view action, std::string_view outcome) {
        requests.Add({{"action", std::string(action)}, {"outcome", std::string(outcome)}}).Increment();
    }
};

}  // namespace

/// The key prefix of a sent request's marker on the sessions topic: `request/<site>/<update id>`.
constexpr std::string_view kSentRequestPrefix = "request/";

/// (topic, partition): the fetcher consumes notifications and document requests.
using PartitionKey = std::pair<std::string, std::int32_t>;

struct FetcherService::Impl : service::WorkerHooks {
    explicit Impl(FetcherConfig c)
        : config(std::move(c)),
          registry(std::make_shared<prometheus::Registry>()),
          worker(worker_config(config), registry),
          metrics(*registry),
          rng(std::random_device{}()) {}

    static service::WorkerConfig worker_config(const FetcherConfig& c) {
        service::WorkerConfig w;
        w.name = "fetcher";
        w.kafka = c.kafka;
        w.topics = {c.topics.notifications, c.topics.documents, c.topics.open_api_requests};
        w.topic_specs = c.topic_specs();
        // A notification partition's delivered sessions are on the sessions partition of that number.
        // A request partition's sent requests are there too, under keys of their own (kSentRequestPrefix).
        w.co_partitioned = {{c.topics.sessions, c.topics.notifications}, {c.topics.sessions, c.topics.open_api_requests}};
        w.admin = c.admin;
        w.grace_period = c.grace_period;
        return w;
    }

    /// One owned partition: its notifications in offset order, one being handled at a time.
    struct Partition {
        kafka::OffsetTracker tracker;
        std::deque<std::shared_ptr<kafka::Message>> queue;
        std::uint64_t generation = 0;
        bool running = false;   ///< a drain() coroutine is active
        bool draining = false;  ///< being revoked: take nothing new, abandon at the next step
        std::set<asio::steady_timer*> timers;
        /// Notification partitions: the eForm sessions delivered (restored on assignment).
        std::unordered_set<std::string> sessions;
    };

    /// Why a notification goes to the dead-letter topic.
    struct DeadLetter {
        std::string reason;
        int status = 0;
        int attempts = 0;
    };
    /// The partition was revoked or the process stops: left to the next owner, not committed.
    struct Abandon {};
    using Fetched = std::variant<std::string, DeadLetter, Abandon>;

    FetcherConfig config;
    std::shared_ptr<prometheus::Registry> registry;
    // Before the partitions and coroutine frames that hold Messages: the consumer outlives them.
    service::Worker worker;
    Metrics metrics;
    std::mt19937_64 rng;
    std::unique_ptr<OpenApiClient> client;
    /// Per site with an OAuth2 client: its cached token (the documents' bearer).
    std::map<std::string, std::unique_ptr<http::OAuthTokenClient>, std::less<>> tokens;
    /// Per site: its RSA private keys, fetched the first time a referral's one-time key is only RSA-wrapped.
    std::map<std::string, ocean::SitePrivateKeys, std::less<>> site_keys;
    std::map<PartitionKey, Partition> partitions;
    std::uint64_t next_generation = 1;

    /// Per Ocean site, what every call to it passes first: the circuit breaker (Ocean failing costs one
    /// probe per open period, not a timeout per notification) and the optional rate limit.
    struct SiteGate {
        delivery::CircuitBreaker breaker;
        std::optional<delivery::TokenBucket> bucket;
    };
    std::map<std::string, SiteGate, std::less<>> gates;

    // -- WorkerHooks --

    /// The HTTP clients, on the worker's io_context, before anything is consumed.
    void start() {
        client = std::make_unique<OpenApiClient>(worker.context().get_executor(), config.ocean);
        for (const auto& site : config.ocean.sites) {
            SiteGate gate{delivery::CircuitBreaker(config.ocean.breaker), std::nullopt};
            if (config.ocean.rate_limit)
                gate.bucket.emplace(config.ocean.rate_limit->per_second, config.ocean.rate_limit->burst, SteadyClock::now());
            gates.emplace(site.site, std::move(gate));
        }
        for (const auto& site : config.ocean.sites)
            if (site.oauth) tokens.emplace(site.site, std::make_unique<http::OAuthTokenClient>(client->http(), *site.oauth));
    }

    void on_assigned(const kafka::TopicPartition& tp) override {
        Partition& p = partitions[PartitionKey{tp.topic, tp.partition}];
        p = Partition{};
        p.generation = next_generation++;
        const bool requests = tp.topic == config.topics.open_api_requests;
        if (tp.topic != config.topics.notifications && !requests) return;
        // Blocking is fine here: the worker takes the partition once this returns. Each partition keeps
        // only its own kind of marker: eForm sessions, or the hub's requests already sent.
        kafka::read_partition_to_end(
            worker.kafka().client,
            config.topics.sessions,
            tp.partition,
            [&p, requests](const kafka::Message& m) {
                if (m.key().starts_with(kSentRequestPrefix) == requests) p.sessions.emplace(m.key());
            },
            worker.kafka().restore_timeout);
    }

    void on_record(std::unique_ptr<kafka::Message> record) override {
        const auto it = partitions.find(PartitionKey{std::string(record->topic()), record->partition()});
        if (it == partitions.end() || it->second.draining) return;
        Partition& p = it->second;
        p.tracker.add(record->offset());
        p.queue.push_back(std::shared_ptr<kafka::Message>(std::move(record)));
        if (!p.running) {
            p.running = true;
            asio::co_spawn(worker.context(), drain(it->first, p.generation), on_coroutine_end());
        }
    }

    void on_revoking(const kafka::TopicPartition& tp) override {
        const auto it = partitions.find(PartitionKey{tp.topic, tp.partition});
        if (it == partitions.end()) return;
        it->second.draining = true;
        for (asio::steady_timer* t : it->second.timers) t->cancel();
    }

    [[nodiscard]] bool busy(const kafka::TopicPartition& tp) const override {
        const auto it = partitions.find(PartitionKey{tp.topic, tp.partition});
        return it != partitions.end() && it->second.running;
    }

    std::optional<std::int64_t> on_revoked(const kafka::TopicPartition& tp, bool lost) override {
        const auto it = partitions.find(PartitionKey{tp.topic, tp.partition});
        if (it == partitions.end()) return std::nullopt;
        for (asio::steady_timer* t : it->second.timers) t->cancel();
        auto position = it->second.tracker.position();
        partitions.erase(it);
        if (lost) return std::nullopt;
        return position;
    }

    std::optional<std::int64_t> take_commit(const kafka::TopicPartition& tp) override {
        const auto it = partitions.find(PartitionKey{tp.topic, tp.partition});
        if (it == partitions.end()) return std::nullopt;
        return it->second.tracker.take_commit();
    }

    [[nodiscard]] std::size_t in_flight() const override {
        std::size_t total = 0;
        for (const auto& [id, p] : partitions) total += p.tracker.in_flight();
        return total;
    }

    void on_stopping() override {
        for (auto& [id, p] : partitions)
            for (asio::steady_timer* t : p.timers) t->cancel();
    }

    // -- the partition's queue --

    Partition* partition_of(PartitionKey id, std::uint64_t generation) {
        const auto it = partitions.find(id);
        if (it == partitions.end() || it->second.generation != generation) return nullptr;
        return &it->second;
    }

    std::function<void(std::exception_ptr)> on_coroutine_end() {
        return [this](std::exception_ptr error) {
            if (!error) return;
            try {
                std::rethrow_exception(error);
            } catch (const std::exception& e) {
                log::error("fetcher pipeline failed", {{"error", e.what()}});
            } catch (...) {
                log::error("fetcher pipeline failed", {{"error", "unknown exception"}});
            }
            worker.fail("a pipeline step failed", "see the log lines before");
        };
    }

    asio::awaitable<void> drain(PartitionKey id, std::uint64_t generation) {
        for (;;) {
            Partition* p = partition_of(id, generation);
            if (p == nullptr) co_return;
            if (p->draining || p->queue.empty() || worker.stopping() || worker.failed()) {
                p->running = false;
                co_return;
            }
            std::shared_ptr<kafka::Message> record = p->queue.front();
            p->queue.pop_front();
            const bool finished = co_await handle(id, generation, record);
            p = partition_of(id, generation);
            if (p == nullptr) co_return;
            if (!finished) {
                p->running = false;
                co_return;
            }
            p->tracker.done(record->offset());
            worker.progress();
        }
    }

    /// Waits `delay` unless the partition is revoked or the process stops; false then.
    asio::awaitable<bool> wait(PartitionKey id, std::uint64_t generation, delivery::Duration delay) {
        Partition* p = partition_of(id, generation);
        if (p == nullptr || p->draining) co_return false;
        asio::steady_timer timer(worker.context(), delay);
        p->timers.insert(&timer);
        boost::system::error_code ec;
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        p = partition_of(id, generation);
        if (p == nullptr) co_return false;
        p->timers.erase(&timer);
        co_return !p->draining && !worker.stopping();
    }

    // -- one notification --

    /// True when the notification has its durable outcome (delivered, dead-lettered, a duplicate);
    /// false when it is left to the partition's next owner.
    asio::awaitable<bool> handle(PartitionKey id, std::uint64_t generation, std::shared_ptr<kafka::Message> record) {
        if (record->topic() == config.topics.documents) {
            if (header_or(*record, header::kKind) == contracts::documents::kDocumentInlineKind)
                co_return co_await fetch_inline(id, generation, record);
            co_return co_await fetch_documents(id, generation, record);
        }
        if (record->topic() == config.topics.open_api_requests) co_return co_await send_request(id, generation, record);
        const std::string type = header_or(*record, notification::kTypeHeader);
        const std::string ref = header_or(*record, notification::kRefHeader);
        const std::string site_number = header_or(*record, header::kSite);
        const std::string session = header_or(*record, notification::kSessionIdHeader);

        // Named, not temporaries in the co_await expression (GCC 12 destroys those twice).
        DeadLetter refused;
        const OpenApiSite* site = config.ocean.find(site_number);
        if (type.empty() || !is_safe_ref(ref) || site_number.empty())
            refused.reason = "malformed-notification";
        else if (site == nullptr)
            refused.reason = "unknown-site";
        else if (!is_patient_engagement(type) && !config.is_referral_type(type))
            refused.reason = "unhandled-type";
        else if (is_patient_engagement(type) && !is_safe_ref(session))
            refused.reason = "missing-session-id";
        else if (!site->open_api)
            refused.reason = "no-open-api-credentials";
        if (!refused.reason.empty()) co_return co_await dead_letter(record, type, refused);
        if (!is_patient_engagement(type)) co_return co_await fetch_referral(id, generation, record, type, *site, ref);

        const std::string session_key = site_number + "/" + ref + "/" + session;
        if (Partition* p = partition_of(id, generation); p != nullptr && p->sessions.contains(session_key)) {
            metrics.notification(type, "duplicate");
            log::info("eForm session already delivered; not again",
                      {{"site", site_number}, {"ocean_ref", ref}, {"session_id", session}});
            co_return true;
        }

        const std::string patient_target = "/svc/v1/patients/" + ref;
        const std::string_view patient_endpoint = "patient";
        const std::optional<ocean::HeaderLayout> patient_layout = ocean::HeaderLayout::kSharedIv;
        Fetched patient = co_await fetch(id, generation, *site, patient_target, patient_layout, patient_endpoint);
        if (std::holds_alternative<Abandon>(patient)) co_return false;
        if (auto* dead = std::get_if<DeadLetter>(&patient)) co_return co_await dead_letter(record, type, *dead);

        const std::string note_target = "/svc/v1/patients/" + ref + "/notes?oceanSessionId=" + session;
        const std::string_view note_endpoint = "note";
        const std::optional<ocean::HeaderLayout> note_layout = ocean::HeaderLayout::kSeparateKeyIv;
        Fetched note = co_await fetch(id, generation, *site, note_target, note_layout, note_endpoint);
        if (std::holds_alternative<Abandon>(note)) co_return false;
        if (auto* dead = std::get_if<DeadLetter>(&note)) co_return co_await dead_letter(record, type, *dead);

        transform::PatientEngagementContext context;
        context.site_number = site_number;
        context.patient_ref = ref;
        context.session_id = session;
        context.authored = header_or(*record, header::kReceivedAt);
        transform::PatientEngagementResult parsed =
            transform::parse_patient_engagement(std::get<std::string>(patient), std::get<std::string>(note), context);
        if (!parsed.engagement) {
            DeadLetter unparseable{"unparseable-result", 200, 0};
            co_return co_await dead_letter(record, type, unparseable);
        }
        co_return co_await deliver(id, generation, record, type, *parsed.engagement, session_key);
    }

    /// Waits until `site`'s breaker and rate limit let one call through; false when the partition is
    /// revoked or the process stops meanwhile. A true answer must be followed by settle().
    asio::awaitable<bool> admit(PartitionKey id, std::uint64_t generation, const std::string& site) {
        for (;;) {
            SiteGate& gate = gates.at(site);
            const auto now = SteadyClock::now();
            delivery::Duration hold{};
            std::string_view reason;
            if (gate.bucket) {
                hold = std::chrono::duration_cast<delivery::Duration>(gate.bucket->time_until_available(now));
                reason = "rate_limit";
            }
            if (hold.count() <= 0 && !gate.breaker.allow(now)) {
                hold = std::max(std::chrono::duration_cast<delivery::Duration>(gate.breaker.open_until() - now),
                                delivery::Duration(std::chrono::milliseconds(50)));
                reason = "breaker";
            }
            if (hold.count() <= 0) {
                if (gate.bucket) gate.bucket->try_acquire(now);
                co_return true;
            }
            metrics.held.Add({{"site", site}, {"reason", std::string(reason)}}).Increment();
            if (!co_await wait(id, generation, hold)) co_return false;
        }
    }

    /// What a call came to, for `site`'s breaker (Ocean failing: 5xx, 429, no answer) and rate limit
    /// (a Retry-After pauses the site's calls).
    void settle(const std::string& site, const FetchFailure* failure) {
        SiteGate& gate = gates.at(site);
        const auto now = SteadyClock::now();
        const bool was_open = gate.breaker.state() != delivery::BreakerState::kClosed;
        const bool ocean_failing =
            failure != nullptr && (failure->status == 0 || failure->status == 429 || failure->status >= 500);
        if (ocean_failing)
            gate.breaker.record_failure(now);
        else
            gate.breaker.record_success(now);
        if (failure != nullptr && failure->retry_after && gate.bucket) gate.bucket->pause_until(now + *failure->retry_after);
        const bool open = gate.breaker.state() != delivery::BreakerState::kClosed;
        metrics.breaker_open.Add({{"site", site}}).Set(open ? 1 : 0);
        if (open && !was_open)
            log::warn("Ocean keeps failing for this site: its calls are held while the breaker is open",
                      {{"site", site}, {"open_for_ms", static_cast<long long>(config.ocean.breaker.open_duration.count())}});
        else if (!open && was_open)
            log::info("Ocean answers this site again: breaker closed", {{"site", site}});
    }

    /// GET with the retry policy: the body (decrypted in `layout` when given), a dead letter, or
    /// abandon (revoked, stopping).
    asio::awaitable<Fetched> fetch(PartitionKey id,
                                   std::uint64_t generation,
                                   const OpenApiSite& site,
                                   const std::string& target,
                                   std::optional<ocean::HeaderLayout> layout,
                                   std::string_view endpoint,
                                   bool sek_encrypted = false,
                                   const OpenApiCall* post = nullptr) {
        int made = 0;
        const auto first = SteadyClock::now();
        for (;;) {
            if (!co_await admit(id, generation, site.site)) co_return Abandon{};
            const auto start = SteadyClock::now();
            FetchResult result;
            if (post != nullptr)
                result = co_await client->post(site, *post);
            else if (layout)
                result = co_await client->get_decrypted(site, target, *layout);
            else if (sek_encrypted)
                result = co_await client->get_sek_encrypted(site, target);
            else
                result = co_await client->get(site, target);
            ++made;
            const double seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
            settle(site.site, std::get_if<FetchFailure>(&result));
            if (auto* body = std::get_if<std::string>(&result)) {
                metrics.call(endpoint, "ok", seconds);
                if (made > 1)
                    log::info("Ocean answered again", {{"site", site.site}, {"endpoint", endpoint}, {"attempts", made}});
                co_return std::move(*body);
            }
            FetchFailure& failure = std::get<FetchFailure>(result);
            metrics.call(endpoint, failure.reason, seconds);
            if (partition_of(id, generation) == nullptr) co_return Abandon{};
            if (failure.kind == ErrorKind::kPermanent)
                co_return DeadLetter{failure.reason, failure.status, made};
            const auto age = std::chrono::duration_cast<delivery::Duration>(SteadyClock::now() - first);
            const auto delay = config.retry.next_delay(made, age, rng, failure.retry_after);
            if (!delay) co_return DeadLetter{failure.reason, failure.status, made};
            // Once per episode, then quiet: a minute of Ocean answering 500 is one line, not hundreds.
            if (made == 1)
                log::warn("Ocean's Open API failed; retrying",
                          {{"site", site.site}, {"endpoint", endpoint}, {"reason", failure.reason}, {"status", failure.status}});
            if (!co_await wait(id, generation, *delay)) co_return Abandon{};
        }
    }

    using Opened = std::variant<OpenedReferral, DeadLetter, Abandon>;

    /// A Referral JSON opened with the site's SEK or, when its one-time key is only RSA-wrapped, the site's
    /// private key (cached; fetched again once if it no longer opens the referral, in case the site rotated
    /// it).
    asio::awaitable<Opened> open_with_site_keys(PartitionKey id,
                                                std::uint64_t generation,
                                                const OpenApiSite& site,
                                                std::string body,
                                                bool need_one_time_key) {
        OpenReferralResult opened = open_referral(site.sek.reveal(), body, nullptr, need_one_time_key);
        bool used_cached_key = false;
        for (int round = 0; round < 2; ++round) {
            const auto* reason = std::get_if<std::string>(&opened);
            const bool needs = reason != nullptr && *reason == kNeedsSitePrivateKey;
            const bool stale = round == 1 && reason != nullptr && *reason == "decrypt-failed" && used_cached_key;
            if (!needs && !stale) break;
            if (stale) site_keys.erase(site.site);
            auto cached = site_keys.find(site.site);
            used_cached_key = cached != site_keys.end();
            if (!used_cached_key) {
                const std::string key_target = "/svc/v1/site/privateKey";
                const std::optional<ocean::HeaderLayout> none;
                const std::string_view key_endpoint = "site-private-key";
                Fetched key_document = co_await fetch(id, generation, site, key_target, none, key_endpoint, true);
                if (std::holds_alternative<Abandon>(key_document)) co_return Abandon{};
                if (auto* dead = std::get_if<DeadLetter>(&key_document)) co_return std::move(*dead);
                auto keys = ocean::parse_site_private_keys(std::get<std::string>(key_document));
                if (std::holds_alternative<Error>(keys)) co_return DeadLetter{"site-private-key-unusable", 200, 0};
                cached = site_keys.emplace(site.site, std::move(std::get<ocean::SitePrivateKeys>(keys))).first;
            }
            opened = open_referral(site.sek.reveal(), body, &cached->second, need_one_time_key);
        }
        if (auto* reason = std::get_if<std::string>(&opened)) co_return DeadLetter{*reason, 200, 0};
        co_return std::move(std::get<OpenedReferral>(opened));
    }

    /// An Open eReferral referral: fetched, opened with the site's SEK, written to the inbound topic for
    /// the router (which deduplicates, routes and renders it like a FHIR referral), then the event.
    asio::awaitable<bool> fetch_referral(PartitionKey id,
                                         std::uint64_t generation,
                                         std::shared_ptr<kafka::Message> record,
                                         std::string type,
                                         const OpenApiSite& site,
                                         std::string ref) {
        const std::string target = "/svc/v1/referrals/" + ref;
        const std::optional<ocean::HeaderLayout> plain;
        const std::string_view endpoint = "referral";
        Fetched fetched = co_await fetch(id, generation, site, target, plain, endpoint);
        if (std::holds_alternative<Abandon>(fetched)) co_return false;
        if (auto* dead = std::get_if<DeadLetter>(&fetched)) co_return co_await dead_letter(record, type, *dead);

        Opened opened = co_await open_with_site_keys(id, generation, site, std::get<std::string>(fetched), false);
        if (std::holds_alternative<Abandon>(opened)) co_return false;
        if (auto* dead = std::get_if<DeadLetter>(&opened)) co_return co_await dead_letter(record, type, *dead);
        const auto& o = std::get<OpenedReferral>(opened);
        std::optional<std::string> packed = transform::pack_open_api_record(o.referral_json, o.patient_json);
        if (!packed) {
            DeadLetter refused{"referral-not-json", 200, 0};
            co_return co_await dead_letter(record, type, refused);
        }

        const std::string traceparent = header_or(*record, header::kTraceparent);
        std::vector<kafka::Header> headers{
            {std::string(header::kKind), std::string(contracts::kOpenApiReferralKind)},
            {std::string(header::kSite), site.site},
            {std::string(header::kReferralRef), ref},
            {std::string(header::kEvent), config.referral_event},
            {std::string(header::kContentType), "application/json"},
            {std::string(header::kReceivedAt), header_or(*record, header::kReceivedAt)},
            {std::string(header::kIntegration), header_or(*record, header::kIntegration)},
            {std::string(notification::kTypeHeader), type}};
        if (!traceparent.empty()) headers.push_back({std::string(header::kTraceparent), traceparent});
        std::string topic = config.topics.inbound;
        std::string key = ref;
        const kafka::DeliveryResult ack = co_await worker.producer().async_produce(
            std::move(topic), std::move(key), std::move(*packed), std::move(headers), config.kafka.produce_timeout,
            asio::use_awaitable);
        if (!ack.ok) {
            worker.fail("produce a fetched referral", ack.error.message);
            co_return false;
        }
        if (partition_of(id, generation) == nullptr) co_return false;
        boost::json::object event{{"outcome", "referral-fetched"},
                                  {"site", site.site},
                                  {"ocean_ref", ref},
                                  {"type", type},
                                  {"at", format_rfc3339_millis(system_now())}};
        if (!co_await produce_event(std::move(event), ref, traceparent)) co_return false;
        metrics.notification(type, "fetched");
        log::info("Open eReferral referral fetched for the router", {{"site", site.site}, {"referral_ref", ref}});
        co_return true;
    }

    // -- the hub's Open API requests --

    /// The site a request is sent for: its own `site`, else the only site with Open API credentials.
    const OpenApiSite* request_site(const hub::Update& update) const {
        if (!update.site.empty()) return config.ocean.find(update.site);
        const OpenApiSite* only = nullptr;
        for (const auto& s : config.ocean.sites) {
            if (!s.open_api) continue;
            if (only != nullptr) return nullptr;  // ambiguous: the request must name its site
            only = &s;
        }
        return only;
    }

    /// POSTs `call` with the retry policy: Ocean's created ref, a dead letter, or abandon.
    asio::awaitable<Fetched> post_for_ref(PartitionKey id,
                                          std::uint64_t generation,
                                          const OpenApiSite& site,
                                          const OpenApiCall& call,
                                          std::string_view endpoint) {
        const std::optional<ocean::HeaderLayout> plain;
        Fetched answer = co_await fetch(id, generation, site, call.target, plain, endpoint, false, &call);
        if (auto* body = std::get_if<std::string>(&answer)) {
            auto ref = parse_created_ref(*body);
            if (!ref) co_return DeadLetter{"ocean-answer-unreadable", 200, 0};
            co_return std::move(*ref);
        }
        co_return std::move(answer);
    }

    /// A hub's Open API request (relay/contracts/open_api_requests.hpp): an attachment uploaded, a message
    /// posted (after its attachment), or an eForm link asked for; then the event.
    asio::awaitable<bool> send_request(PartitionKey id, std::uint64_t generation, std::shared_ptr<kafka::Message> record) {
        const std::string type = "hub-request";
        const hub::ParseUpdateResult parsed = hub::parse_update(record->value());
        DeadLetter refused;
        const OpenApiSite* site = parsed.ok() ? request_site(*parsed.update) : nullptr;
        if (!parsed.ok() || !hub::is_open_api(parsed.update->action))
            refused.reason = "invalid-request";
        else if (site == nullptr)
            refused.reason = "unknown-site";
        else if (!site->open_api)
            refused.reason = "no-open-api-credentials";
        if (!refused.reason.empty()) co_return co_await dead_letter(record, type, refused);
        const hub::Update& update = *parsed.update;
        // A request is sent once per update id: a hub's retry of a request already stored (its first
        // answer lost), or a restart before the commit, finds the marker and sends nothing again.
        const std::string sent_key = std::string(kSentRequestPrefix) + site->site + "/" + update.update_id;
        if (Partition* p = partition_of(id, generation); p != nullptr && p->sessions.contains(sent_key)) {
            metrics.request(hub::to_string(update.action), "already-sent");
            log::info("Open API request already sent; not again",
                      {{"site", site->site}, {"update_id", update.update_id}, {"action", hub::to_string(update.action)}});
            co_return true;
        }
        if (update.action == hub::Action::kEformLink)
            co_return co_await request_form_link(id, generation, record, update, *site, sent_key);

        boost::json::array attachment_refs;
        std::vector<std::string> file_refs;
        if (update.attachment) {
            // Encrypted once, before the first attempt: every retry sends the same bytes.
            auto call = attachment_call(site->sek.reveal(), update.referral_ref, *update.attachment, config.requests);
            if (std::holds_alternative<Error>(call)) {
                DeadLetter bad{"attachment-unencryptable", 0, 0};
                co_return co_await dead_letter(record, type, bad);
            }
            const std::string_view endpoint = "attachment";
            Fetched answer = co_await post_for_ref(id, generation, *site, std::get<OpenApiCall>(call), endpoint);
            if (std::holds_alternative<Abandon>(answer)) co_return false;
            if (auto* dead = std::get_if<DeadLetter>(&answer)) co_return co_await dead_letter(record, type, *dead);
            file_refs.push_back(std::get<std::string>(answer));
            attachment_refs.emplace_back(file_refs.back());
        }
        std::string message_ref;
        if (update.action == hub::Action::kOpenApiMessage) {
            auto call = message_call(site->sek.reveal(), update, file_refs, config.requests);
            if (std::holds_alternative<Error>(call)) {
                DeadLetter bad{"message-unencryptable", 0, 0};
                co_return co_await dead_letter(record, type, bad);
            }
            const std::string_view endpoint = "message";
            Fetched answer = co_await post_for_ref(id, generation, *site, std::get<OpenApiCall>(call), endpoint);
            if (std::holds_alternative<Abandon>(answer)) co_return false;
            if (auto* dead = std::get_if<DeadLetter>(&answer)) co_return co_await dead_letter(record, type, *dead);
            message_ref = std::get<std::string>(answer);
        }
        if (!co_await remember(id, generation, record->partition(), sent_key)) co_return false;
        const std::string action = hub::to_string(update.action);
        boost::json::object event{{"outcome", "open-api-request-sent"},
                                  {"site", site->site},
                                  {"ocean_ref", update.referral_ref},
                                  {"update_id", update.update_id},
                                  {"action", action},
                                  {"attachment_refs", std::move(attachment_refs)},
                                  {"at", format_rfc3339_millis(system_now())}};
        if (!message_ref.empty()) event["message_ref"] = message_ref;
        const std::string traceparent = header_or(*record, header::kTraceparent);
        if (!co_await produce_event(std::move(event), update.referral_ref, traceparent)) co_return false;
        metrics.request(action, "sent");
        log::info("Open API request sent to Ocean",
                  {{"site", site->site}, {"referral_ref", update.referral_ref}, {"update_id", update.update_id},
                   {"action", action}, {"message_ref", message_ref}});
        co_return true;
    }

    /// An eForm link asked of Ocean, delivered to the link destinations (hub JSON), then the event (the
    /// session id, never the link: it opens the patient's forms).
    asio::awaitable<bool> request_form_link(PartitionKey id,
                                            std::uint64_t generation,
                                            std::shared_ptr<kafka::Message> record,
                                            const hub::Update& update,
                                            const OpenApiSite& site,
                                            std::string sent_key) {
        const std::string type = "hub-request";
        const OpenApiCall call = form_link_call(update, config.requests);
        const std::optional<ocean::HeaderLayout> plain;
        const std::string_view endpoint = "form-link";
        Fetched answer = co_await fetch(id, generation, site, call.target, plain, endpoint, false, &call);
        if (std::holds_alternative<Abandon>(answer)) co_return false;
        if (auto* dead = std::get_if<DeadLetter>(&answer)) co_return co_await dead_letter(record, type, *dead);
        const std::optional<FormLink> link = parse_form_link(std::get<std::string>(answer));
        if (!link) {
            DeadLetter unreadable{"ocean-answer-unreadable", 200, 0};
            co_return co_await dead_letter(record, type, unreadable);
        }
        const std::string value = form_link_delivery(update, site.site, *link);
        const std::string traceparent = header_or(*record, header::kTraceparent);
        boost::json::array destinations;
        for (const std::string& destination : config.link_destinations) {
            std::vector<kafka::Header> headers{
                {std::string(header::kDestination), destination},
                {std::string(header::kFormat), "hub-json"},
                {std::string(header::kContentType), "application/json"},
                {std::string(header::kIdempotencyKey), hex_encode(Sha256().field(update.update_id).field(destination).finish())},
                {std::string(header::kReferralRef), update.patient_ref},
                {std::string(header::kEvent), std::string(contracts::open_api_requests::kEformLinkEvent)},
                {std::string(header::kSite), site.site},
                {std::string(header::kAttempt), "0"},
                {std::string(header::kSource), fmt::format("{}/{}/{}", record->topic(), record->partition(), record->offset())}};
            if (!traceparent.empty()) headers.push_back({std::string(header::kTraceparent), traceparent});
            std::string topic = config.topics.deliveries;
            std::string key = destination + "|" + site.site + "/" + update.patient_ref;
            std::string body = value;
            const kafka::DeliveryResult ack = co_await worker.producer().async_produce(
                std::move(topic), std::move(key), std::move(body), std::move(headers), config.kafka.produce_timeout,
                asio::use_awaitable);
            if (!ack.ok) {
                worker.fail("produce an eForm link delivery", ack.error.message);
                co_return false;
            }
            metrics.deliveries.Add({{"destination", destination}}).Increment();
            destinations.emplace_back(destination);
        }
        if (!co_await remember(id, generation, record->partition(), sent_key)) co_return false;
        boost::json::object event{{"outcome", "eform-link-issued"},
                                  {"site", site.site},
                                  {"ocean_ref", update.patient_ref},
                                  {"update_id", update.update_id},
                                  {"session_id", link->session_id},
                                  {"destinations", std::move(destinations)},
                                  {"at", format_rfc3339_millis(system_now())}};
        if (!co_await produce_event(std::move(event), update.patient_ref, traceparent)) co_return false;
        metrics.request("eform_link", "sent");
        log::info("eForm link issued by Ocean",
                  {{"site", site.site}, {"patient_ref", update.patient_ref}, {"update_id", update.update_id},
                   {"session_id", link->session_id}, {"destinations", config.link_destinations.size()}});
        co_return true;
    }

    // -- the documents of FHIR referrals --

    struct DocumentRequest {
        std::string site, referral_ref, destination, event;
        struct Document {
            std::string id, url;
        };
        std::vector<Document> documents;
    };

    static std::optional<DocumentRequest> parse_document_request(std::string_view value) {
        boost::system::error_code ec;
        const boost::json::value root = boost::json::parse(value, ec);
        if (ec || !root.is_object()) return std::nullopt;
        const auto& o = root.as_object();
        auto text = [](const boost::json::object& obj, std::string_view key) -> std::optional<std::string> {
            const auto* v = obj.if_contains(key);
            if (v == nullptr || !v->is_string()) return std::nullopt;
            return std::string(v->as_string());
        };
        DocumentRequest request;
        auto site = text(o, "site");
        auto ref = text(o, "referral_ref");
        auto destination = text(o, "destination");
        const auto* documents = o.if_contains("documents");
        if (!site || !ref || !destination || documents == nullptr || !documents->is_array()) return std::nullopt;
        request.site = std::move(*site);
        request.referral_ref = std::move(*ref);
        request.destination = std::move(*destination);
        request.event = text(o, "event").value_or("");
        for (const auto& d : documents->as_array()) {
            if (!d.is_object()) return std::nullopt;
            auto id = text(d.as_object(), "id");
            auto url = text(d.as_object(), "url");
            if (!id || !url) return std::nullopt;
            request.documents.push_back({std::move(*id), std::move(*url)});
        }
        return request;
    }

    /// Only Ocean's own FHIR API, on the configured host: a document URL comes from a bundle, and a
    /// bundle must not make the relay send its bearer token anywhere else.
    std::optional<http::Url> document_url(const std::string& url) const {
        const std::string prefix = config.ocean.base_url + "/svc/fhir/v1/";
        if (!url.starts_with(prefix) || url.find("..") != std::string::npos) return std::nullopt;
        auto parsed = http::Url::parse(url);
        if (!parsed || parsed->host != config.ocean.base.host || parsed->port != config.ocean.base.port ||
            parsed->tls != config.ocean.base.tls)
            return std::nullopt;
        return parsed;
    }

    using FetchedDoc = std::variant<FetchedDocument, DeadLetter, Abandon>;

    /// Where a document is fetched from: Ocean's FHIR API (document_url: the configured host only, with
    /// the site's OAuth2 bearer), or, for a URL naming an Open eReferral attachment
    /// (`…/svc/v1/referrals/{ref}/attachments/{fileRef}`), the Open API: the fetcher asks its own
    /// configured host for the request's referral and the document's id with the site's credentials,
    /// whatever host the URL names, so the URL cannot send them anywhere.
    struct DocumentSource {
        bool open_api = false;
        http::Url url;       ///< FHIR API
        std::string target;  ///< Open API
    };
    std::optional<DocumentSource> document_source(const std::string& url,
                                                  const std::string& referral_ref,
                                                  const std::string& document_id) const {
        const auto at = url.find("/svc/v1/referrals/");
        if (at != std::string::npos && url.find("/attachments/", at) != std::string::npos) {
            if (!is_safe_ref(referral_ref) || !is_safe_ref(document_id)) return std::nullopt;
            DocumentSource source;
            source.open_api = true;
            source.target = "/svc/v1/referrals/" + referral_ref + "/attachments/" + document_id;
            return source;
        }
        auto fhir = document_url(url);
        if (!fhir) return std::nullopt;
        DocumentSource source;
        source.url = std::move(*fhir);
        return source;
    }

    using Key = std::variant<std::string, DeadLetter, Abandon>;

    /// An Open eReferral referral's one-time key (its attachments are encrypted under it): the referral
    /// fetched again and opened.
    asio::awaitable<Key> referral_key(PartitionKey id, std::uint64_t generation, const OpenApiSite& site, std::string ref) {
        const std::string target = "/svc/v1/referrals/" + ref;
        const std::optional<ocean::HeaderLayout> plain;
        const std::string_view endpoint = "referral";
        Fetched fetched = co_await fetch(id, generation, site, target, plain, endpoint);
        if (std::holds_alternative<Abandon>(fetched)) co_return Abandon{};
        if (auto* dead = std::get_if<DeadLetter>(&fetched)) co_return std::move(*dead);
        Opened opened = co_await open_with_site_keys(id, generation, site, std::move(std::get<std::string>(fetched)), true);
        if (std::holds_alternative<Abandon>(opened)) co_return Abandon{};
        if (auto* dead = std::get_if<DeadLetter>(&opened)) co_return std::move(*dead);
        std::string key = std::move(std::get<OpenedReferral>(opened).one_time_key);
        if (key.empty()) co_return DeadLetter{"no-one-time-key", 200, 0};
        co_return key;
    }

    /// One document from its source; `one_time_key` caches the referral's key across its attachments.
    asio::awaitable<FetchedDoc> fetch_from(PartitionKey id,
                                           std::uint64_t generation,
                                           const OpenApiSite& site,
                                           const std::string& referral_ref,
                                           const DocumentSource& source,
                                           std::string& one_time_key) {
        if (!source.open_api) {
            if (!site.oauth) co_return DeadLetter{"no-oauth-client", 0, 0};
            http::OAuthTokenClient& token_client = *tokens.at(site.site);
            co_return co_await fetch_document(id, generation, token_client, source.url, site.site);
        }
        if (!site.open_api) co_return DeadLetter{"no-open-api-credentials", 0, 0};
        if (one_time_key.empty()) {
            Key key = co_await referral_key(id, generation, site, referral_ref);
            if (std::holds_alternative<Abandon>(key)) co_return Abandon{};
            if (auto* dead = std::get_if<DeadLetter>(&key)) co_return std::move(*dead);
            one_time_key = std::move(std::get<std::string>(key));
        }
        const std::optional<ocean::HeaderLayout> plain;
        const std::string_view endpoint = "attachment";
        Fetched answer = co_await fetch(id, generation, site, source.target, plain, endpoint);
        if (std::holds_alternative<Abandon>(answer)) co_return Abandon{};
        if (auto* dead = std::get_if<DeadLetter>(&answer)) co_return std::move(*dead);
        auto opened = open_attachment(one_time_key, std::get<std::string>(answer));
        if (!opened) co_return DeadLetter{"attachment-unreadable", 200, 0};
        co_return FetchedDocument{std::move(opened->bytes), std::move(opened->content_type)};
    }

    /// One document with the site's bearer token and the retry policy (a 401 refreshes the token).
    asio::awaitable<FetchedDoc> fetch_document(PartitionKey id,
                                               std::uint64_t generation,
                                               http::OAuthTokenClient& token_client,
                                               const http::Url& url,
                                               const std::string& site) {
        int made = 0;
        const auto first = SteadyClock::now();
        const std::string_view endpoint = "document";
        for (;;) {
            if (!co_await admit(id, generation, site)) co_return Abandon{};
            const auto start = SteadyClock::now();
            std::optional<FetchFailure> failed;
            std::variant<std::string, Error> token = co_await token_client.token();
            if (auto* error = std::get_if<Error>(&token)) {
                failed = FetchFailure{error->kind, "ocean-token-failed", 0, std::nullopt};
            } else {
                DocumentResult result = co_await client->get_document(url, std::get<std::string>(token));
                if (auto* document = std::get_if<FetchedDocument>(&result)) {
                    settle(site, nullptr);
                    metrics.call(endpoint, "ok", std::chrono::duration<double>(SteadyClock::now() - start).count());
                    co_return std::move(*document);
                }
                failed = std::get<FetchFailure>(result);
                if (failed->status == 401) token_client.invalidate();
            }
            settle(site, &*failed);
            ++made;
            metrics.call(endpoint, failed->reason, std::chrono::duration<double>(SteadyClock::now() - start).count());
            if (partition_of(id, generation) == nullptr) co_return Abandon{};
            if (failed->kind == ErrorKind::kPermanent) co_return DeadLetter{failed->reason, failed->status, made};
            const auto age = std::chrono::duration_cast<delivery::Duration>(SteadyClock::now() - first);
            const auto delay = config.retry.next_delay(made, age, rng, failed->retry_after);
            if (!delay) co_return DeadLetter{failed->reason, failed->status, made};
            if (made == 1)
                log::warn("Ocean's FHIR API failed for a document; retrying",
                          {{"site", site}, {"reason", failed->reason}, {"status", failed->status}});
            if (!co_await wait(id, generation, *delay)) co_return Abandon{};
        }
    }

    /// The documents of an inline request ([{"id", "url", "content_type"}]); nullopt when malformed.
    static std::optional<std::vector<DocumentRequest::Document>> parse_document_refs(std::string_view text) {
        boost::system::error_code ec;
        const boost::json::value v = boost::json::parse(text, ec);
        if (ec || !v.is_array()) return std::nullopt;
        std::vector<DocumentRequest::Document> out;
        for (const auto& item : v.as_array()) {
            const auto* o = item.if_object();
            const auto* id = o ? o->if_contains("id") : nullptr;
            const auto* url = o ? o->if_contains("url") : nullptr;
            if (id == nullptr || url == nullptr || !id->is_string() || !url->is_string()) return std::nullopt;
            out.push_back({std::string(id->as_string()), std::string(url->as_string())});
        }
        return out;
    }

    /// A referral's delivery waiting for its documents (documents: inline): each fetched with the site's
    /// token, embedded in the payload, then the delivery written with the router's own headers. A document
    /// that cannot be had (refused, gone, too large for one record, no token) is left out and counted: the
    /// referral itself is always delivered.
    asio::awaitable<bool> fetch_inline(PartitionKey id, std::uint64_t generation, std::shared_ptr<kafka::Message> record) {
        const std::string type(contracts::documents::kDocumentInlineKind);
        const std::string site_number = header_or(*record, header::kSite);
        const std::string ref = header_or(*record, header::kReferralRef);
        const std::string destination = header_or(*record, header::kDestination);
        const auto format = transform::parse_format(header_or(*record, header::kFormat));
        if (ref.empty() || destination.empty() || !format) {
            DeadLetter malformed{"malformed-document-request", 0, 0};
            co_return co_await dead_letter(record, type, malformed);
        }
        const auto refs = parse_document_refs(header_or(*record, contracts::documents::kDocumentsHeader));
        const OpenApiSite* site = config.ocean.find(site_number);
        std::size_t missing = 0;
        std::vector<transform::DocumentContent> fetched;
        std::string why;  // the first reason a document is missing
        auto left_out = [&missing, &why](std::string reason) {
            ++missing;
            if (why.empty()) why = std::move(reason);
        };
        // One record holds the payload and every document, base64 in JSON (4/3), under the record limit.
        const std::size_t room = config.kafka.message_max_bytes > record->value().size() + (256U << 10)
                                     ? config.kafka.message_max_bytes - record->value().size() - (256U << 10)
                                     : 0;
        std::size_t used = 0;
        if (!refs) {
            left_out("malformed-document-list");
        } else if (site == nullptr) {
            for (std::size_t i = 0; i < refs->size(); ++i) left_out("unknown-site");
        } else {
            std::string one_time_key;
            for (const auto& d : *refs) {
                const auto source = document_source(d.url, ref, d.id);
                if (!source) {
                    left_out("document-url-refused");
                    continue;
                }
                FetchedDoc got = co_await fetch_from(id, generation, *site, ref, *source, one_time_key);
                if (std::holds_alternative<Abandon>(got)) co_return false;
                if (auto* dead = std::get_if<DeadLetter>(&got)) {
                    left_out(dead->reason);
                    continue;
                }
                auto& document = std::get<FetchedDocument>(got);
                const std::size_t cost = (document.bytes.size() + 2) / 3 * 4;
                if (used + cost > room) {
                    left_out("too-large-to-inline");
                    continue;
                }
                used += cost;
                fetched.push_back({d.url, std::move(document.bytes), std::move(document.content_type)});
            }
        }
        const auto embedded = transform::embed_documents(*format, record->value(), fetched);
        std::string body = embedded ? embedded->payload : std::string(record->value());
        const std::size_t inlined = embedded ? embedded->embedded : 0;
        if (!embedded && !fetched.empty()) left_out("payload-not-embeddable");

        std::vector<kafka::Header> headers;
        for (auto& h : record->headers()) {
            if (h.name == header::kKind || h.name == contracts::documents::kDocumentsHeader) continue;
            headers.push_back(std::move(h));
        }
        headers.push_back({std::string(contracts::documents::kDocumentsInlinedHeader), std::to_string(inlined)});
        if (missing > 0)
            headers.push_back({std::string(contracts::documents::kDocumentsMissingHeader), std::to_string(missing)});
        std::string topic = config.topics.deliveries;
        std::string key = destination + "|" + ref;
        const kafka::DeliveryResult ack = co_await worker.producer().async_produce(
            std::move(topic), std::move(key), std::move(body), std::move(headers), config.kafka.produce_timeout,
            asio::use_awaitable);
        if (!ack.ok) {
            worker.fail("produce a delivery with its documents", ack.error.message);
            co_return false;
        }
        metrics.deliveries.Add({{"destination", destination}}).Increment();
        if (partition_of(id, generation) == nullptr) co_return false;
        if (missing > 0)
            log::warn("referral delivered without some of its documents",
                      {{"site", site_number}, {"referral_ref", ref}, {"destination", destination},
                       {"missing", static_cast<long long>(missing)}, {"reason", why}});
        boost::json::object event{{"outcome", "documents-inlined"},
                                  {"site", site_number},
                                  {"referral_ref", ref},
                                  {"destination", destination},
                                  {"documents", inlined},
                                  {"missing", missing},
                                  {"at", format_rfc3339_millis(system_now())}};
        if (missing > 0) event["reason"] = why;
        const std::string traceparent = header_or(*record, header::kTraceparent);
        if (!co_await produce_event(std::move(event), ref, traceparent)) co_return false;
        metrics.notification(type, missing > 0 ? "delivered-incomplete" : "delivered");
        co_return true;
    }

    /// Each document of the request fetched and written as a delivery after the referral's (same key).
    asio::awaitable<bool> fetch_documents(PartitionKey id, std::uint64_t generation, std::shared_ptr<kafka::Message> record) {
        const std::string type(contracts::documents::kDocumentRequestKind);
        std::optional<DocumentRequest> request = parse_document_request(record->value());
        DeadLetter refused;
        const OpenApiSite* site = request ? config.ocean.find(request->site) : nullptr;
        if (!request)
            refused.reason = "malformed-document-request";
        else if (site == nullptr)
            refused.reason = "unknown-site";
        std::vector<DocumentSource> sources;
        if (refused.reason.empty()) {
            for (const auto& d : request->documents) {
                auto source = document_source(d.url, request->referral_ref, d.id);
                if (!source) {
                    refused.reason = "document-url-refused";
                    break;
                }
                if (!source->open_api && !site->oauth) refused.reason = "no-oauth-client";
                if (source->open_api && !site->open_api) refused.reason = "no-open-api-credentials";
                sources.push_back(std::move(*source));
            }
        }
        if (!refused.reason.empty()) co_return co_await dead_letter(record, type, refused);

        const std::string traceparent = header_or(*record, header::kTraceparent);
        std::string one_time_key;
        for (std::size_t i = 0; i < request->documents.size(); ++i) {
            const auto& d = request->documents[i];
            FetchedDoc fetched = co_await fetch_from(id, generation, *site, request->referral_ref, sources[i], one_time_key);
            if (std::holds_alternative<Abandon>(fetched)) co_return false;
            if (auto* dead = std::get_if<DeadLetter>(&fetched)) co_return co_await dead_letter(record, type, *dead);
            FetchedDocument& document = std::get<FetchedDocument>(fetched);
            std::vector<kafka::Header> headers{
                {std::string(header::kDestination), request->destination},
                {std::string(header::kContentType), document.content_type},
                {std::string(header::kIdempotencyKey),
                 hex_encode(Sha256().field(request->site).field(request->referral_ref).field(d.id).field(request->destination).finish())},
                {std::string(header::kReferralRef), request->referral_ref},
                {std::string(header::kEvent), std::string(contracts::documents::kDocumentEvent)},
                {std::string(header::kSite), request->site},
                {std::string(header::kAttempt), "0"},
                {std::string(contracts::documents::kDocumentIdHeader), d.id},
                {std::string(header::kSource), fmt::format("{}/{}/{}", record->topic(), record->partition(), record->offset())}};
            if (!traceparent.empty()) headers.push_back({std::string(header::kTraceparent), traceparent});
            std::string topic = config.topics.deliveries;
            std::string key = request->destination + "|" + request->referral_ref;
            const kafka::DeliveryResult ack = co_await worker.producer().async_produce(
                std::move(topic), std::move(key), std::move(document.bytes), std::move(headers),
                config.kafka.produce_timeout, asio::use_awaitable);
            if (!ack.ok) {
                worker.fail("produce a document delivery", ack.error.message);
                co_return false;
            }
            metrics.deliveries.Add({{"destination", request->destination}}).Increment();
        }
        if (partition_of(id, generation) == nullptr) co_return false;
        boost::json::object event{{"outcome", "documents-delivered"},
                                  {"site", request->site},
                                  {"referral_ref", request->referral_ref},
                                  {"destination", request->destination},
                                  {"documents", request->documents.size()},
                                  {"at", format_rfc3339_millis(system_now())}};
        if (!co_await produce_event(std::move(event), request->referral_ref, traceparent)) co_return false;
        metrics.notification(type, "delivered");
        co_return true;
    }

    /// One delivery per eForm destination, each acknowledged, then the event; the session remembered.
    asio::awaitable<bool> deliver(PartitionKey id,
                                  std::uint64_t generation,
                                  std::shared_ptr<kafka::Message> record,
                                  std::string type,
                                  const transform::PatientEngagement& engagement,
                                  std::string session_key) {
        const std::string site_number = engagement.site_number;
        const std::string traceparent = header_or(*record, header::kTraceparent);
        const std::string ref = header_or(*record, notification::kRefHeader);
        boost::json::array destinations;
        std::optional<std::string> fhir, hub;
        for (const EformDestination& d : config.eform_destinations) {
            const bool is_fhir = d.format == EformDestination::Format::kFhirR4;
            if (is_fhir && !fhir) fhir = transform::render_patient_engagement_fhir_r4(engagement, config.fhir);
            if (!is_fhir && !hub) hub = transform::render_patient_engagement_hub_json(engagement);
            std::string body = is_fhir ? *fhir : *hub;
            std::vector<kafka::Header> headers{
                {std::string(header::kDestination), d.id},
                {std::string(header::kFormat), is_fhir ? "fhir-r4" : "hub-json"},
                {std::string(header::kContentType), is_fhir ? "application/fhir+json" : "application/json"},
                {std::string(header::kIdempotencyKey), hex_encode(Sha256().field(session_key).field(d.id).finish())},
                {std::string(header::kReferralRef), ref},
                {std::string(header::kEvent), type},
                {std::string(header::kSite), site_number},
                {std::string(header::kAttempt), "0"},
                {std::string(header::kSource), fmt::format("{}/{}/{}", record->topic(), record->partition(), record->offset())}};
            if (!traceparent.empty()) headers.push_back({std::string(header::kTraceparent), traceparent});
            std::string topic = config.topics.deliveries;
            std::string key = d.id + "|" + site_number + "/" + ref;
            const kafka::DeliveryResult ack = co_await worker.producer().async_produce(
                std::move(topic), std::move(key), std::move(body), std::move(headers), config.kafka.produce_timeout,
                asio::use_awaitable);
            if (!ack.ok) {
                worker.fail("produce a delivery", ack.error.message);
                co_return false;
            }
            metrics.deliveries.Add({{"destination", d.id}}).Increment();
            destinations.emplace_back(d.id);
        }
        // The session is remembered durably before the notification counts as done: a restart or the
        // next owner of the partition will not deliver it again.
        if (!co_await remember(id, generation, record->partition(), session_key)) co_return false;
        boost::json::object event{{"outcome", "eform-delivered"},
                                  {"site", site_number},
                                  {"ocean_ref", ref},
                                  {"session_id", engagement.session_id},
                                  {"type", type},
                                  {"forms", engagement.forms.size()},
                                  {"destinations", std::move(destinations)},
                                  {"at", format_rfc3339_millis(system_now())}};
        if (!co_await produce_event(std::move(event), ref, traceparent)) co_return false;
        metrics.notification(type, "delivered");
        log::info("eForm results delivered",
                  {{"site", site_number}, {"ocean_ref", ref}, {"session_id", engagement.session_id},
                   {"destinations", config.eform_destinations.size()}});
        co_return true;
    }

    /// A marker on the sessions topic at `partition` (the record's own partition number), acknowledged,
    /// then in the partition's memory: what is done stays done across restarts and rebalances.
    asio::awaitable<bool> remember(PartitionKey id, std::uint64_t generation, std::int32_t partition, std::string key) {
        std::string sessions_topic = config.topics.sessions;
        std::string marker_key = key;
        std::string marker = format_rfc3339_millis(system_now());
        std::vector<kafka::Header> no_headers;
        const kafka::DeliveryResult marked = co_await worker.producer().async_produce_to(
            std::move(sessions_topic), partition, std::move(marker_key), std::move(marker), std::move(no_headers),
            config.kafka.produce_timeout, asio::use_awaitable);
        if (!marked.ok) {
            worker.fail("produce a marker", marked.error.message);
            co_return false;
        }
        Partition* p = partition_of(id, generation);
        if (p == nullptr) co_return false;
        p->sessions.insert(std::move(key));
        co_return true;
    }

    asio::awaitable<bool> produce_event(boost::json::object event, std::string ref, std::string traceparent) {
        const std::string outcome(event.at("outcome").as_string());
        std::vector<kafka::Header> headers{{std::string(header::kOutcome), outcome},
                                           {std::string(header::kReferralRef), ref}};
        if (!traceparent.empty()) headers.push_back({std::string(header::kTraceparent), std::move(traceparent)});
        std::string topic = config.topics.events;
        std::string value = boost::json::serialize(event);
        const kafka::DeliveryResult ack = co_await worker.producer().async_produce(
            std::move(topic), std::move(ref), std::move(value), std::move(headers), config.kafka.produce_timeout,
            asio::use_awaitable);
        if (!ack.ok) {
            worker.fail("produce an event", ack.error.message);
            co_return false;
        }
        co_return true;
    }

    /// The notification as it came, with dlq-* headers, then the event.
    asio::awaitable<bool> dead_letter(std::shared_ptr<kafka::Message> record, std::string type, DeadLetter dead) {
        std::vector<kafka::Header> headers = record->headers();
        headers.push_back({std::string(header::kDlqReason), dead.reason});
        headers.push_back({std::string(header::kDlqAt), format_rfc3339_millis(system_now())});
        headers.push_back({std::string(header::kDlqSource),
                           fmt::format("{}/{}/{}", record->topic(), record->partition(), record->offset())});
        if (dead.status != 0) headers.push_back({std::string(header::kDlqStatus), std::to_string(dead.status)});
        if (dead.attempts != 0) headers.push_back({std::string(header::kDlqAttempts), std::to_string(dead.attempts)});
        std::string topic = config.topics.dlq;
        std::string key(record->key());
        std::string value(record->value());
        const kafka::DeliveryResult ack = co_await worker.producer().async_produce(
            std::move(topic), std::move(key), std::move(value), std::move(headers), config.kafka.produce_timeout,
            asio::use_awaitable);
        if (!ack.ok) {
            worker.fail("produce a dead letter", ack.error.message);
            co_return false;
        }
        // A hub request carries no notification headers: its key is its referral (or patient) ref.
        const bool hub_request = record->topic() == config.topics.open_api_requests;
        const std::string ref = hub_request ? std::string(record->key()) : header_or(*record, notification::kRefHeader);
        const std::string site = header_or(*record, header::kSite);
        log::warn(hub_request ? "Open API request dead-lettered" : "notification dead-lettered",
                  {{"site", site}, {"ocean_ref", ref}, {"reason", dead.reason}, {"status", dead.status},
                   {"offset", static_cast<long long>(record->offset())}});
        if (hub_request) metrics.request(header_or(*record, header::kAction, "unknown"), "dead-lettered");
        boost::json::object event{{"outcome", hub_request ? "request-dead-lettered" : "notification-dead-lettered"},
                                  {"site", site},
                                  {"ocean_ref", ref},
                                  {"type", type},
                                  {"reason", dead.reason},
                                  {"at", format_rfc3339_millis(system_now())}};
        const std::string traceparent = header_or(*record, header::kTraceparent);
        if (!co_await produce_event(std::move(event), ref, traceparent)) co_return false;
        metrics.notification(type, "dead-lettered");
        co_return true;
    }
};

FetcherService::FetcherService(FetcherConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {
    impl_->start();
}
FetcherService::~FetcherService() = default;

int FetcherService::run() {
    return impl_->worker.run(*impl_);
}
void FetcherService::stop() {
    impl_->worker.stop();
}
std::uint16_t FetcherService::admin_port() const {
    return impl_->worker.admin_port();
}
const std::string& FetcherService::bootstrap_servers() const {
    return impl_->worker.kafka().client.bootstrap_servers;
}

}  // namespace relay::fetcher
