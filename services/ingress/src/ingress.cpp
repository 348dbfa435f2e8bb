#include "ingress.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/verb.hpp>
#include <any>
#include <optional>
#include <stdexcept>

#include "hub_api.hpp"
#include "ingress_internal.hpp"
#include "relay/auth/basic.hpp"
#include "relay/auth/client_credentials.hpp"
#include "relay/core/encoding.hpp"
#include "relay/core/ids.hpp"
#include "relay/contracts/headers.hpp"
#include "relay/core/log.hpp"
#include "relay/core/time.hpp"
#include "relay/fhir/extract.hpp"
#include "relay/fhir/operation_outcome.hpp"
#include "relay/kafka/admin.hpp"
#include "relay/metrics/metrics.hpp"

namespace relay::ingress {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace header = contracts::header;
using Clock = std::chrono::steady_clock;
using namespace detail;

static_assert(http::kBodyPadding >= simdjson::SIMDJSON_PADDING, "request bodies must be padded for simdjson");

namespace {

constexpr std::string_view kFhirJson = "application/fhir+json";

http::Response outcome(bhttp::status status,
                       unsigned version,
                       std::string_view severity,
                       std::string_view code,
                       std::string_view diagnostics,
                       std::string_view expression = {}) {
    http::Response res{status, version};
    res.set(bhttp::field::content_type, kFhirJson);
    res.body() = fhir::operation_outcome(severity, code, diagnostics, expression);
    return res;
}

std::string json_error(std::string_view error, std::string_view message) {
    std::string out = "{\"error\":";
    append_json_string(out, error);
    out += ",\"message\":";
    append_json_string(out, message);
    out += '}';
    return out;
}

fhir::Extractor& thread_extractor(bool strict_json) {
    thread_local std::optional<fhir::Extractor> extractor;
    if (!extractor) extractor.emplace(strict_json);
    return *extractor;
}

std::string_view path_of(boost::core::string_view target) {
    std::string_view path(target.data(), target.size());
    if (const auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
    return path;
}

std::string_view query_of(boost::core::string_view target) {
    std::string_view t(target.data(), target.size());
    const auto q = t.find('?');
    return q == std::string_view::npos ? std::string_view() : t.substr(q + 1);
}

// The client as the failure limiter counts it. Behind trusted proxies, the rightmost X-Forwarded-For
// entry that is not one of them (the ones to its left are the client's to forge). IPv6 clients count
// per /64: one host commonly holds the whole prefix, and could spread its guesses over it.
std::string client_address(const http::Request& request,
                           const http::RequestContext& context,
                           const std::vector<std::pair<std::array<unsigned char, 16>, unsigned>>& trusted) {
    auto address = context.remote.address();
    if (!trusted.empty() && in_networks(address_bytes(address), trusted)) {
        // Every X-Forwarded-For field, in order (proxies may add a field of their own or append to one).
        std::string forwarded_all;
        for (auto [it, end] = request.equal_range("x-forwarded-for"); it != end; ++it) {
            if (!forwarded_all.empty()) forwarded_all += ',';
            forwarded_all.append(it->value().data(), it->value().size());
        }
        std::string_view forwarded = forwarded_all;
        while (!forwarded.empty()) {
            const auto comma = forwarded.rfind(',');
            std::string_view hop = comma == std::string_view::npos ? forwarded : forwarded.substr(comma + 1);
            forwarded = comma == std::string_view::npos ? std::string_view() : forwarded.substr(0, comma);
            while (!hop.empty() && (hop.front() == ' ' || hop.front() == '\t')) hop.remove_prefix(1);
            while (!hop.empty() && (hop.back() == ' ' || hop.back() == '\t')) hop.remove_suffix(1);
            // "[2001:db8::1]:4711" and "192.0.2.1:4711": some proxies add the client's port.
            if (!hop.empty() && hop.front() == '[') {
                hop = hop.substr(1, hop.find(']') == std::string_view::npos ? 0 : hop.find(']') - 1);
            } else if (std::count(hop.begin(), hop.end(), ':') == 1) {
                hop = hop.substr(0, hop.find(':'));
            }
            boost::system::error_code ec;
            const auto hop_address = boost::asio::ip::make_address(std::string(hop), ec);
            if (ec) break;  // unparsable: keep the last trusted hop's view
            address = hop_address;
            if (!in_networks(address_bytes(address), trusted)) break;
        }
    }
    auto bytes = address_bytes(address);
    const bool v4 = address.is_v4() || (address.is_v6() && address.to_v6().is_v4_mapped());
    if (!v4) std::fill(bytes.begin() + 8, bytes.end(), 0);
    return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// The small bodies of token requests: a form with a grant type, a client id and secret and a scope.
constexpr std::uint64_t kTokenBodyLimit = 64 * 1024;

// The answer of a token endpoint (RFC 6749 §5.1 / §5.2).
http::Response token_answer(const std::variant<auth::IssuedToken, auth::TokenEndpointError>& result,
                            unsigned version) {
    http::Response res;
    if (const auto* issued = std::get_if<auth::IssuedToken>(&result)) {
        std::string body = R"({"access_token":)";
        append_json_string(body, issued->access_token);
        body += R"(,"token_type":"Bearer","expires_in":)";
        body += std::to_string(issued->expires_in.count());
        if (!issued->scope.empty()) {
            body += R"(,"scope":)";
            append_json_string(body, issued->scope);
        }
        body += '}';
        res = json_response(bhttp::status::ok, version, std::move(body));
    } else {
        const auto& error = std::get<auth::TokenEndpointError>(result);
        std::string body = R"({"error":)";
        append_json_string(body, error.error);
        body += R"(,"error_description":)";
        append_json_string(body, error.description);
        body += '}';
        res = json_response(static_cast<bhttp::status>(error.status), version, std::move(body));
        if (error.status == 401) res.set(bhttp::field::www_authenticate, "Basic realm=\"ocean-relay\"");
    }
    // RFC 6749 §5.1: token responses must not be cached.
    res.set(bhttp::field::cache_control, "no-store");
    res.set(bhttp::field::pragma, "no-cache");
    return res;
}

// The hub API's error code for a protocol-level rejection of the server ("body_too_large" → ...).
std::string hub_server_code(int status, std::string_view code) {
    switch (status) {
        case 413:
            return "payload-too-large";
        case 431:
            return "headers-too-large";
        case 503:
            return "unavailable";
        case 500:
            return "internal-error";
        default:
            break;
    }
    std::string out(code);
    std::replace(out.begin(), out.end(), '_', '-');
    return out;
}

}  // namespace

Ingress::Ingress(IngressConfig config)
    : config_(std::move(config)), registry_(std::make_shared<prometheus::Registry>()) {
    log::set_level(config_.log_level);
    if (!fhir::cpu_supported()) {
        throw ConfigError(
            "this CPU lacks AVX2/BMI2, which this build's JSON extractor needs; rebuild with "
            "-DRELAY_ONDEMAND_ARCH=");
    }
    metrics_ = std::make_unique<IngressMetrics>(registry_);
    metrics::register_build_info(*registry_, "ingress", RELAY_VERSION);

    if (config_.kafka.embedded) {
        embedded_ = std::make_unique<kafka::EmbeddedCluster>(1);
        embedded_->create_topic(config_.kafka.inbound_topic, config_.kafka.partitions);
        for (const auto& spec : config_.hub_topic_specs()) embedded_->create_topic(spec.name, config_.kafka.partitions);
        for (const auto& spec : config_.notification_topic_specs()) {
            embedded_->create_topic(spec.name, config_.kafka.partitions);
        }
        config_.kafka.producer.client.bootstrap_servers = embedded_->bootstrap_servers();
        log::warn("using the embedded Kafka broker: in memory, NOT durable; for trying ocean-relay only",
                  {{"bootstrap_servers", embedded_->bootstrap_servers()}});
    }
    // Delivery reports are served on the I/O threads (librdkafka raises an eventfd): no thread between
    // the broker's acknowledgement and the request waiting for it.
    producer_ = std::make_unique<kafka::Producer>(config_.kafka.producer, ioc_.get_executor());
    if (!config_.kafka.embedded && config_.kafka.verify_topics) {
        std::vector<kafka::TopicSpec> specs{config_.inbound_topic_spec()};
        for (auto& spec : config_.hub_topic_specs()) specs.push_back(std::move(spec));
        for (auto& spec : config_.notification_topic_specs()) specs.push_back(std::move(spec));
        kafka::ensure_topics(
            producer_->handle(), specs, config_.kafka.create_topics, std::chrono::seconds(30));
    }
    kafka_ready_ = producer_->topics_available(config_.topics(), std::chrono::seconds(10));

    if (config_.token_signing_key) {
        signer_ = std::make_unique<auth::TokenSigner>(
            *config_.token_signing_key, config_.token_issuer, config_.token_leeway);
    }
    for (const auto& integration : config_.integrations) {
        auto authenticator =
            std::make_shared<auth::Authenticator>(integration.auth, integration.name, signer_.get());
        IntegrationMetrics* integration_metrics =
            &metrics_->add_integration(integration.name, integration.accepted_events);
        routes_.push_back(std::make_unique<Route>(
            Route{Route::Kind::kFhir, &integration, authenticator, integration_metrics}));
        routes_by_path_[integration.fhir_path] = routes_.back().get();
        // §9's proposed Request URL form, for admins who append the FHIR operation.
        routes_by_path_[integration.fhir_path + "/$process-message"] = routes_.back().get();
        if (integration.auth.scheme == auth::Scheme::kOAuth2) {
            routes_.push_back(std::make_unique<Route>(
                Route{Route::Kind::kToken, &integration, authenticator, integration_metrics}));
            routes_by_path_[integration.token_path] = routes_.back().get();
        }
        if (integration.open_api) {
            const OpenApiConfig& open_api = *integration.open_api;
            auto state = std::make_shared<OpenApiState>(open_api);
            routes_.push_back(std::make_unique<Route>(
                Route{Route::Kind::kOpenApi, &integration, nullptr, integration_metrics, std::move(state)}));
            routes_by_path_[open_api.path] = routes_.back().get();
        }
    }

    if (config_.hub_api) {
        std::vector<std::unique_ptr<HubSystem>> open;
        for (const auto& system : config_.hub_api->systems) {
            auto entry = std::make_unique<HubSystem>(HubSystem{
                &system,
                // "hub:" keeps hub systems' token audiences apart from Ocean integrations' names.
                std::make_unique<auth::Authenticator>(system.auth, "hub:" + system.name, signer_.get())});
            const bool admits_anyone =
                system.auth.scheme == auth::Scheme::kNone && !system.auth.signature_key;
            (admits_anyone ? open : hub_systems_).push_back(std::move(entry));
        }
        for (auto& entry : open) hub_systems_.push_back(std::move(entry));
    }

    auto error_body =
        [this](int status, std::string_view code, std::string_view message, std::string_view target) {
            std::string_view path = target.substr(0, target.find('?'));
            if (is_openapi_target(path)) {
                // The target may hold the webhook key (query or last segment): it is only matched here.
                return std::pair<std::string, std::string>("application/json", openapi_error_json(code, message));
            }
            if (is_hub_target(path)) {
                return std::pair<std::string, std::string>(
                    "application/json", hubapi::error_json(hub_server_code(status, code), message));
            }
            if (target.starts_with("/ocean/")) {
                return std::pair<std::string, std::string>(
                    std::string(kFhirJson),
                    fhir::operation_outcome("error", status == 413 ? "too-costly" : "invalid", message));
            }
            return std::pair<std::string, std::string>("application/json", json_error(code, message));
        };
    auto on_reject = [this](std::string_view reason) { metrics_->rejection("", reason); };
    failures_ = std::make_unique<auth::FailureLimiter>(config_.auth_failures);
    // One budget for every listener of the process: bodies in flight, wherever they arrive.
    body_budget_ = std::make_shared<http::BodyBudget>(config_.max_body_memory);
    for (const auto& listener : config_.listeners) {
        http::ServerHooks hooks{
            error_body,
            on_reject,
            [this](const http::Request& request, http::RequestContext& context) {
                return admit_public(request, context);
            },
            body_budget_};
        public_servers_.push_back(std::make_unique<http::Server>(
            ioc_,
            listener,
            [this](http::Request& request, const http::RequestContext& context) {
                return handle_public(request, context);
            },
            std::move(hooks)));
    }
    service::AdminProbes probes;
    probes.health = [this] {
        // Liveness ignores the broker (restarting every pod would not bring Kafka back), except for a
        // fatal producer error, which only a restart cures.
        if (producer_->fatal()) return service::ProbeResult{false, service::status_body("kafka_producer_fatal")};
        return service::ProbeResult{true, service::status_body("ok")};
    };
    probes.ready = [this] {
        const bool is_ready = ready();
        return service::ProbeResult{is_ready,
                                    fmt::format(R"({{"status":"{}","kafka":"{}","draining":{}}})",
                                                is_ready ? "ready" : "not_ready",
                                                kafka_ready_.load() ? "ok" : "unavailable",
                                                draining_.load() ? "true" : "false")};
    };
    probes.before_scrape = [this] { metrics_->body_memory(body_budget_->used(), body_budget_->capacity()); };
    admin_server_ = std::make_unique<service::AdminServer>(config_.admin, registry_, std::move(probes));
}

Ingress::~Ingress() {
    try {
        shutdown();
        wait();
        // Nothing serves on the I/O threads' io_context any more; it goes before the producer.
        producer_->stop_serving();
    } catch (const std::exception& e) {
        log::error("ingress teardown failed", {{"error", e.what()}});
    }
}

void Ingress::start() {
    work_.emplace(ioc_.get_executor());
    for (auto& server : public_servers_) server->start();
    const int threads = config_.threads > 0
                            ? config_.threads
                            : static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { ioc_.run(); });
    readiness_thread_ = std::thread([this] { readiness_loop(); });
    metrics_->ready().Set(kafka_ready_ ? 1 : 0);
    std::string ports;
    for (std::size_t i = 0; i < public_servers_.size(); ++i)
        ports += (i ? "," : "") + std::to_string(public_port(i));
    log::info("ingress started",
              {{"public_ports", ports},
               {"admin_port", static_cast<int>(admin_port())},
               {"integrations", static_cast<int>(config_.integrations.size())},
               {"topic", config_.kafka.inbound_topic},
               {"threads", threads}});
}

std::uint16_t Ingress::public_port(std::size_t listener) const {
    return public_servers_.at(listener)->port();
}
std::uint16_t Ingress::admin_port() const {
    return admin_server_->port();
}
std::string Ingress::kafka_bootstrap() const {
    return config_.kafka.producer.client.bootstrap_servers;
}
bool Ingress::ready() const {
    return kafka_ready_.load() && !draining_.load() && !producer_->fatal();
}

void Ingress::readiness_loop() {
    std::unique_lock lock(mutex_);
    while (!stopped_) {
        lock.unlock();
        const auto timeout =
            std::min<std::chrono::milliseconds>(config_.kafka.readiness_interval, std::chrono::seconds(2));
        const bool ok = producer_->topics_available(config_.topics(), timeout);
        if (ok != kafka_ready_.exchange(ok)) {
            if (ok) {
                log::info("kafka reachable and topics present: ready");
            } else {
                log::warn("kafka unreachable or topic missing: not ready",
                          {{"topic", config_.kafka.inbound_topic}});
            }
        }
        metrics_->ready().Set(ready() ? 1 : 0);
        lock.lock();
        wake_.wait_for(lock, config_.kafka.readiness_interval, [this] { return stopped_; });
    }
}

void Ingress::shutdown() {
    if (shutdown_started_.exchange(true)) return;
    if (!work_) {
        // Never started.
        std::lock_guard lock(mutex_);
        stopped_ = true;
        return;
    }
    asio::co_spawn(ioc_, shutdown_sequence(), asio::detached);
}

asio::awaitable<void> Ingress::shutdown_sequence() {
    log::info("shutting down: readiness off",
              {{"drain_delay_ms", static_cast<long long>(config_.drain_delay.count())}});
    draining_ = true;
    metrics_->ready().Set(0);
    asio::steady_timer timer(co_await asio::this_coro::executor);
    if (config_.drain_delay.count() > 0) {
        // Load balancers and Kubernetes endpoints notice the failing readiness before we stop listening.
        timer.expires_after(config_.drain_delay);
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    const auto deadline = Clock::now() + config_.grace_period;
    for (auto& server : public_servers_) {
        server->stop_accepting();
        server->drain();
    }
    auto busy = [this] {
        std::size_t n = 0;
        for (auto& server : public_servers_) n += server->active_requests();
        return n;
    };
    while (busy() > 0 && Clock::now() < deadline) {
        timer.expires_after(std::chrono::milliseconds(20));
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    const std::size_t unfinished = busy();
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    const bool flushed = producer_->flush(std::max(left, std::chrono::milliseconds(100)));
    drained_cleanly_ = unfinished == 0 && flushed;
    log::info("shutdown complete",
              {{"unfinished_requests", static_cast<long long>(unfinished)},
               {"producer_flushed", flushed ? "true" : "false"}});
    {
        std::lock_guard lock(mutex_);
        stopped_ = true;
    }
    wake_.notify_all();
    work_.reset();
    ioc_.stop();
}

bool Ingress::wait() {
    for (auto& t : threads_) {
        if (t.joinable()) t.join();
    }
    if (readiness_thread_.joinable()) readiness_thread_.join();
    admin_server_->stop();
    return drained_cleanly_.load();
}

int Ingress::run() {
    start();
    const bool clean = wait();
    return clean ? 0 : 1;
}

// -- admission: everything that can be judged from the request line and headers, before the body --

std::optional<std::chrono::seconds> Ingress::throttled(std::string_view address, std::string_view credential) {
    const auto now = std::chrono::steady_clock::now();
    const auto blocked = failures_->blocked(address, credential, now);
    for (const auto& ended : failures_->take_ended_episodes(now)) {
        log::info("authentication failures: block ended",
                  {{"scope", auth::FailureLimiter::to_string(ended.scope)},
                   {"key_tag", ended.tag},
                   {"failures", static_cast<long long>(ended.failures)},
                   {"refused", static_cast<long long>(ended.refused)},
                   {"blocked_seconds", static_cast<long long>(ended.blocked_for.count())},
                   {"evicted", ended.evicted ? "true" : "false"}});
    }
    if (!blocked) return std::nullopt;
    metrics_->throttled(auth::FailureLimiter::to_string(blocked->scope));
    return blocked->retry_after;
}

void Ingress::authentication_failed(std::string_view address, std::string_view credential, std::string_view where) {
    for (const auto& episode : failures_->record_failure(address, credential, std::chrono::steady_clock::now())) {
        metrics_->throttle_episode(auth::FailureLimiter::to_string(episode.scope));
        // Once per episode, not per attempt; the tag correlates start and end without naming the key.
        log::warn("authentication failures: blocking for one window",
                  {{"scope", auth::FailureLimiter::to_string(episode.scope)},
                   {"key_tag", episode.tag},
                   {"failures", static_cast<long long>(episode.failures)},
                   {"window_seconds", static_cast<long long>(config_.auth_failures.window.count())},
                   {"endpoint", where}});
    }
}

std::optional<http::Response> Ingress::admit_public(const http::Request& request, http::RequestContext& context) {
    const std::string_view target = path_of(request.target());
    const unsigned version = request.version();
    if (is_hub_target(target)) return admit_hub(request, context, target);
    const auto it = routes_by_path_.find(std::string(target));
    if (it == routes_by_path_.end()) {
        std::string_view key_segment;
        if (const Route* open_api = openapi_route_with_key(target, key_segment)) {
            return admit_openapi(request, context, *open_api, key_segment);
        }
        metrics_->request("", "unknown", 404, 0);
        metrics_->rejection("", "unknown_route");
        return outcome(bhttp::status::not_found, version, "error", "not-found", "no integration is configured at this path");
    }
    const Route& route = *it->second;
    if (route.kind == Route::Kind::kOpenApi) return admit_openapi(request, context, route, {});
    const char* route_name = route.kind == Route::Kind::kFhir ? "fhir" : "token";
    if (request.method() != bhttp::verb::post) {
        metrics_->request(route.integration->name, route_name, 405, 0);
        metrics_->rejection(route.integration->name, "method_not_allowed");
        auto res = route.kind == Route::Kind::kFhir
                       ? outcome(bhttp::status::method_not_allowed, version, "error", "not-supported", "only POST is allowed here")
                       : json_response(bhttp::status::method_not_allowed,
                                       version,
                                       json_error("invalid_request", "only POST is allowed here"));
        res.set(bhttp::field::allow, "POST");
        return res;
    }
    const auth::HeaderLookup header = header_lookup(request);
    Admitted admitted;
    admitted.route = &route;
    admitted.address = client_address(request, context, config_.trusted_proxies);

    if (route.kind == Route::Kind::kToken) {
        admitted.kind = Admitted::Kind::kToken;
        // The client id is usually in the body: the credential is judged once it is read (handle_token).
        if (const auto wait = throttled(admitted.address, {})) {
            metrics_->request(route.integration->name, route_name, 429, 0);
            metrics_->rejection(route.integration->name, "throttled");
            auto res = json_response(bhttp::status::too_many_requests,
                                     version,
                                     json_error("temporarily_unavailable", "too many failed authentications; retry later"));
            res.set(bhttp::field::retry_after, std::to_string(wait->count()));
            return res;
        }
        context.body_limit = kTokenBodyLimit;
        context.admitted = std::move(admitted);
        return std::nullopt;
    }

    const IntegrationConfig& integration = *route.integration;
    const std::string type = media_type(sv(request[bhttp::field::content_type]));
    if (type != kFhirJson && type != "application/json" && type != "application/json+fhir") {
        metrics_->fhir_request(*route.metrics, 415, 0);
        metrics_->rejection(integration.name, "unsupported_media_type");
        return outcome(bhttp::status::unsupported_media_type,
                       version,
                       "error",
                       "not-supported",
                       "Content-Type must be application/fhir+json or application/json");
    }
    admitted.credential = route.authenticator->claimed_credential(header);
    if (const auto wait = throttled(admitted.address, admitted.credential)) {
        metrics_->fhir_request(*route.metrics, 429, 0);
        metrics_->rejection(integration.name, "throttled");
        auto res = outcome(bhttp::status::too_many_requests,
                           version,
                           "error",
                           "throttled",
                           "too many failed authentications from this client or for these credentials; retry later");
        res.set(bhttp::field::retry_after, std::to_string(wait->count()));
        return res;
    }
    const auth::AuthResult result = route.authenticator->check_headers(header, system_now());
    if (!result.allowed()) {
        authentication_failed(admitted.address, admitted.credential, "fhir");
        metrics_->fhir_request(*route.metrics, result.outcome == auth::AuthResult::Outcome::kForbidden ? 403 : 401, 0);
        return refuse_fhir(result, integration, version);
    }
    admitted.kind = Admitted::Kind::kFhir;
    context.admitted = std::move(admitted);
    return std::nullopt;
}

const Ingress::Route* Ingress::openapi_route_with_key(std::string_view path, std::string_view& key_segment) const {
    const auto slash = path.rfind('/');
    if (slash == std::string_view::npos || slash == 0 || slash + 1 == path.size()) return nullptr;
    const auto it = routes_by_path_.find(std::string(path.substr(0, slash)));
    if (it == routes_by_path_.end() || it->second->kind != Route::Kind::kOpenApi) return nullptr;
    key_segment = path.substr(slash + 1);
    return it->second;
}

bool Ingress::is_openapi_target(std::string_view path) const {
    if (const auto it = routes_by_path_.find(std::string(path)); it != routes_by_path_.end()) {
        return it->second->kind == Route::Kind::kOpenApi;
    }
    std::string_view segment;
    return openapi_route_with_key(path, segment) != nullptr;
}

std::optional<http::Response> Ingress::admit_openapi(const http::Request& request,
                                                     http::RequestContext& context,
                                                     const Route& route,
                                                     std::string_view key_segment) {
    const IntegrationConfig& integration = *route.integration;
    const OpenApiConfig& open_api = *integration.open_api;
    const unsigned version = request.version();
    auto refuse = [&](bhttp::status status, std::string_view outcome, std::string_view error, std::string_view detail) {
        metrics_->notification(integration.name, "none", outcome);
        metrics_->request(integration.name, "openapi", static_cast<int>(status), 0);
        return openapi_error(status, version, error, detail);
    };
    if (request.method() != bhttp::verb::post) {
        auto res = refuse(bhttp::status::method_not_allowed, "invalid", "method_not_allowed", "only POST is allowed here");
        res.set(bhttp::field::allow, "POST");
        return res;
    }
    Admitted admitted;
    admitted.kind = Admitted::Kind::kOpenApi;
    admitted.route = &route;
    admitted.address = client_address(request, context, config_.trusted_proxies);
    // Cheap and first: a flood costs a map lookup, not a key comparison or a byte of body memory.
    if (const auto wait = route.openapi->limiter.take(admitted.address, Clock::now())) {
        auto res = refuse(bhttp::status::too_many_requests,
                          "rate_limited",
                          "rate_limited",
                          "too many requests from this client; retry later");
        res.set(bhttp::field::retry_after, std::to_string(wait->count()));
        return res;
    }
    // The key names no caller: failures count per address and against the integration's key.
    admitted.credential = "openapi:" + integration.name;
    if (const auto wait = throttled(admitted.address, admitted.credential)) {
        auto res = refuse(bhttp::status::too_many_requests,
                          "rate_limited",
                          "rate_limited",
                          "too many failed authentications from this client or for this webhook; retry later");
        res.set(bhttp::field::retry_after, std::to_string(wait->count()));
        return res;
    }
    // The key: the header, else the query parameter, else the last path segment.
    std::optional<std::string> presented;
    if (const auto header = sv(request[boost::core::string_view(open_api.key_header.data(), open_api.key_header.size())]);
        !header.empty()) {
        presented = std::string(header);
    } else if (auto parameter = openapi::query_parameter(query_of(request.target()), open_api.key_parameter)) {
        presented = std::move(parameter);
    } else if (!key_segment.empty()) {
        presented = form_url_decode(key_segment);
    }
    bool valid = false;
    if (presented) {
        // Every key is compared (keyed digests, constant time): neither which key matched nor how
        // close a guess came shows in the timing.
        for (const Secret& key : open_api.keys) valid = key.equals(*presented) || valid;
    }
    if (!valid) {
        authentication_failed(admitted.address, admitted.credential, "openapi");
        log::warn("request refused",
                  {{"integration", integration.name},
                   {"endpoint", "openapi"},
                   {"reason", presented ? "wrong_key" : "missing_key"}});
        return refuse(bhttp::status::unauthorized,
                      "unauthorized",
                      "unauthorized",
                      "a valid webhook key is required (query parameter, header or last path segment)");
    }
    const std::string type = media_type(sv(request[bhttp::field::content_type]));
    if (type != "application/json" && !(type.starts_with("application/") && type.ends_with("+json"))) {
        return refuse(bhttp::status::unsupported_media_type,
                      "invalid",
                      "unsupported_media_type",
                      "Content-Type must be application/json");
    }
    if (const auto length = context.content_length; length && *length > open_api.max_body_bytes) {
        return refuse(bhttp::status::payload_too_large,
                      "invalid",
                      "payload_too_large",
                      fmt::format("the request body exceeds the limit of {} bytes", open_api.max_body_bytes));
    }
    context.body_limit = open_api.max_body_bytes;
    context.admitted = std::move(admitted);
    return std::nullopt;
}

asio::awaitable<kafka::DeliveryResult> Ingress::publish(const std::string& topic,
                                                        const std::string& key,
                                                        std::string&& value,
                                                        std::vector<kafka::Header>&& headers) {
    const kafka::DeliveryResult delivery = co_await producer_->async_produce(
        topic, key, std::move(value), std::move(headers), config_.kafka.ack_timeout);
    metrics_->kafka_ack(delivery.ok, std::chrono::duration<double>(delivery.latency).count());
    co_return delivery;
}

http::Response Ingress::refuse_fhir(const auth::AuthResult& result, const IntegrationConfig& integration, unsigned version) {
    const bool forbidden = result.outcome == auth::AuthResult::Outcome::kForbidden;
    auto res = outcome(forbidden ? bhttp::status::forbidden : bhttp::status::unauthorized,
                       version,
                       "error",
                       forbidden ? "forbidden" : "login",
                       forbidden ? "the credentials are not valid for this integration"
                                 : "authentication is required and was missing or invalid");
    if (!result.www_authenticate.empty()) res.set(bhttp::field::www_authenticate, result.www_authenticate);
    metrics_->rejection(integration.name, result.reason);
    log::warn("request refused", {{"integration", integration.name}, {"reason", result.reason}});
    return res;
}

std::optional<http::Response> Ingress::admit_hub(const http::Request& request,
                                                 http::RequestContext& context,
                                                 std::string_view path) {
    const unsigned version = request.version();
    const HubApiConfig& hub_config = *config_.hub_api;
    auto refuse = [&](http::Response res, std::string_view label, std::string_view rejection) {
        metrics_->hub_rejection("unknown", rejection);
        metrics_->hub_request("unknown", label, res.result_int(), 0);
        return res;
    };
    const auto match = hubapi::match_route(request.method(), path.substr(hub_config.path_prefix.size()));
    if (match.status == hubapi::RouteMatch::Status::kNotFound) {
        return refuse(hub_error(bhttp::status::not_found, version, "not-found", "no hub API endpoint at this path"),
                      "unknown",
                      "unknown_route");
    }
    if (match.status == hubapi::RouteMatch::Status::kMethodNotAllowed) {
        auto res = hub_error(
            bhttp::status::method_not_allowed, version, "method-not-allowed", "this method is not allowed at this path");
        res.set(bhttp::field::allow, match.allow);
        return refuse(std::move(res), "unknown", "method_not_allowed");
    }
    const std::string label = hubapi::route_label(match.route);
    const auth::HeaderLookup header = header_lookup(request);
    Admitted admitted;
    admitted.hub_route = match.route;
    admitted.address = client_address(request, context, config_.trusted_proxies);
    // Only a Basic user names a credential before it is checked; tokens and keys count by address.
    if (const auto basic = auth::parse_basic(sv(request[bhttp::field::authorization]))) {
        admitted.credential = "hub-api/" + basic->user;
    }
    if (const auto wait = throttled(admitted.address, admitted.credential)) {
        auto res = hub_error(bhttp::status::too_many_requests,
                             version,
                             "too-many-requests",
                             "too many failed authentications from this client or for these credentials; retry later");
        res.set(bhttp::field::retry_after, std::to_string(wait->count()));
        return refuse(std::move(res), label, "throttled");
    }
    // Judged from Content-Length before anything else is read (a chunked body meets the same limit
    // as it arrives).
    if (const auto length = context.content_length;
        match.route.kind != hubapi::HubRoute::Kind::kToken && length && *length > hub_config.max_body_bytes) {
        return refuse(hub_error(bhttp::status::payload_too_large,
                                version,
                                "payload-too-large",
                                fmt::format("the request body exceeds the limit of {} bytes", hub_config.max_body_bytes)),
                      label,
                      "body_too_large");
    }
    if (match.route.kind == hubapi::HubRoute::Kind::kToken) {
        admitted.kind = Admitted::Kind::kHubToken;
        context.body_limit = kTokenBodyLimit;
        context.admitted = std::move(admitted);
        return std::nullopt;
    }

    bool forbidden = false;
    std::string challenge, reason;
    const auto now = system_now();
    for (const auto& candidate : hub_systems_) {
        const auth::AuthResult result = candidate->authenticator->check_headers(header, now);
        if (result.allowed()) {
            admitted.hub_candidates.push_back(candidate.get());
            continue;
        }
        if (result.outcome == auth::AuthResult::Outcome::kForbidden) forbidden = true;
        if (challenge.empty()) challenge = result.www_authenticate;
        if (reason.empty() || reason == "missing_credentials") reason = result.reason;
    }
    if (admitted.hub_candidates.empty()) {
        authentication_failed(admitted.address, admitted.credential, "hub");
        if (forbidden) {
            // A genuine token, issued for an Ocean integration or another audience.
            return refuse(hub_error(bhttp::status::forbidden, version, "forbidden", "the credentials are not valid for the hub API"),
                          label,
                          "token_wrong_audience");
        }
        auto res = hub_error(bhttp::status::unauthorized, version, "unauthorized", "authentication is required and was missing or invalid");
        res.set(bhttp::field::www_authenticate, challenge.empty() ? "Bearer realm=\"ocean-relay\"" : challenge);
        log::warn("hub request refused", {{"reason", reason}});
        return refuse(std::move(res), label, reason.empty() ? "unauthenticated" : reason);
    }
    admitted.kind = Admitted::Kind::kHub;
    context.body_limit = hub_config.max_body_bytes;
    context.admitted = std::move(admitted);
    return std::nullopt;
}

// -- handlers: the body has been read --

asio::awaitable<http::Response> Ingress::handle_public(http::Request& request, const http::RequestContext& context) {
    const auto* admitted = std::any_cast<Admitted>(&context.admitted);
    if (admitted == nullptr) {
        // Every request that reaches here passed admit_public, which always says what it admitted.
        throw std::logic_error("request handled without admission");
    }
    switch (admitted->kind) {
        case Admitted::Kind::kToken:
            co_return handle_token(request, *admitted);
        case Admitted::Kind::kFhir:
            co_return co_await handle_fhir(request, *admitted);
        case Admitted::Kind::kHubToken:
        case Admitted::Kind::kHub:
            co_return co_await handle_hub(request, *admitted);
        case Admitted::Kind::kOpenApi:
            co_return co_await handle_openapi(request, *admitted);
    }
    throw std::logic_error("unknown admission");
}

http::Response Ingress::handle_token(http::Request& request, const Admitted& admitted) {
    const auto started = Clock::now();
    const Route& route = *admitted.route;
    const IntegrationConfig& integration = *route.integration;
    const std::string credential = route.authenticator->claimed_token_credential(sv(request[bhttp::field::content_type]),
                                                                                 request.body(),
                                                                                 sv(request[bhttp::field::authorization]),
                                                                                 query_of(request.target()));
    if (const auto wait = throttled(admitted.address, credential)) {
        metrics_->request(integration.name, "token", 429, seconds_since(started));
        metrics_->rejection(integration.name, "throttled");
        auto res = json_response(bhttp::status::too_many_requests,
                                 request.version(),
                                 json_error("temporarily_unavailable", "too many failed authentications; retry later"));
        res.set(bhttp::field::retry_after, std::to_string(wait->count()));
        return res;
    }
    auto result = route.authenticator->issue_token(sv(request[bhttp::field::content_type]),
                                                   request.body(),
                                                   sv(request[bhttp::field::authorization]),
                                                   query_of(request.target()),
                                                   system_now());
    http::Response res = token_answer(result, request.version());
    if (auto* issued = std::get_if<auth::IssuedToken>(&result)) {
        metrics_->tokens_issued(integration.name);
        log::info("access token issued", {{"integration", integration.name}, {"client_id", issued->client_id}});
    } else {
        const auto& error = std::get<auth::TokenEndpointError>(result);
        if (error.error == "invalid_client") authentication_failed(admitted.address, credential, "token");
        metrics_->rejection(integration.name, "token_" + error.error);
        log::warn("token request refused", {{"integration", integration.name}, {"error", error.error}});
    }
    metrics_->request(integration.name, "token", res.result_int(), seconds_since(started));
    return res;
}

asio::awaitable<http::Response> Ingress::handle_fhir(http::Request& request, const Admitted& admitted) {
    const auto started = Clock::now();
    const Route& route = *admitted.route;
    const IntegrationConfig& integration = *route.integration;
    const unsigned version = request.version();
    const InFlight in_flight(metrics_->in_flight());

    auto finish = [&](http::Response res, std::string_view rejection = {}) {
        if (!rejection.empty()) metrics_->rejection(integration.name, rejection);
        metrics_->fhir_request(*route.metrics, res.result_int(), seconds_since(started));
        return res;
    };

    const auth::HeaderLookup header = header_lookup(request);
    const auth::AuthResult signature = route.authenticator->check_signature(header, request.body(), system_now());
    if (!signature.allowed()) {
        authentication_failed(admitted.address, admitted.credential, "fhir");
        co_return finish(refuse_fhir(signature, integration, version));
    }

    if (request.body().empty()) {
        co_return finish(outcome(bhttp::status::bad_request, version, "error", "required", "the request body is empty", "Bundle"),
                         "empty_body");
    }
    route.metrics->body_bytes->Observe(static_cast<double>(request.body().size()));

    std::string& body = request.body();
    auto extracted = thread_extractor(config_.strict_json)
                         .extract(simdjson::padded_string_view(body.data(), body.size(), body.capacity()));
    if (auto* error = std::get_if<fhir::ExtractError>(&extracted)) {
        log::warn("bundle refused",
                  {{"integration", integration.name},
                   {"reason", fhir::to_string(error->code)},
                   {"expression", error->expression}});
        co_return finish(outcome(bhttp::status::bad_request,
                                 version,
                                 "error",
                                 error->code == fhir::ExtractErrorCode::kInvalidJson ? "structure" : "invalid",
                                 error->message,
                                 error->expression),
                         fhir::to_string(error->code));
    }
    fhir::InboundFacts& facts = std::get<fhir::InboundFacts>(extracted);
    const std::string message_id = new_message_id();

    const auto contains = [](const std::vector<std::string>& list, const std::string& value) {
        return std::find(list.begin(), list.end(), value) != list.end();
    };
    if (contains(integration.ignored_events, facts.event_code)) {
        // Configured by an operator: acknowledged and not stored (Ocean retries every non-2xx for 96 hours).
        metrics_->ignored(integration.name, "event_ignored");
        log::info("bundle ignored: event configured as ignored",
                  {{"integration", integration.name}, {"message_id", message_id}, {"event", facts.event_code}});
        co_return finish(outcome(bhttp::status::ok,
                                 version,
                                 "information",
                                 "informational",
                                 "event code configured to be ignored by this integration; acknowledged and not stored"));
    }
    const bool handled = contains(integration.accepted_events, facts.event_code);
    if (facts.referral_ref.empty()) {
        co_return finish(outcome(bhttp::status::bad_request,
                                 version,
                                 "error",
                                 "required",
                                 "no referral reference found (MessageHeader ext-referral-identifier or "
                                 "ext-id-message-header, "
                                 "ServiceRequest.identifier id-ereferral-reference, or ServiceRequest.id)",
                                 "Bundle.entry[0].resource.extension"),
                         "no_referral_ref");
    }
    if (integration.enforce_site && !facts.site_number.empty() && facts.site_number != integration.site) {
        log::warn("bundle refused: another site",
                  {{"integration", integration.name}, {"message_id", message_id}, {"referral_ref", facts.referral_ref}});
        co_return finish(outcome(bhttp::status::forbidden,
                                 version,
                                 "error",
                                 "forbidden",
                                 "the bundle's target listing belongs to another Ocean site than this integration",
                                 "PractitionerRole.identifier"),
                         "site_mismatch");
    }
    // The router routes on this header: the authenticated integration's site, never the payload's
    // (unless the integration is allowed to receive for other sites).
    const std::string& site =
        integration.enforce_site || facts.site_number.empty() ? integration.site : facts.site_number;

    const auto incoming_trace = TraceParent::parse(sv(request["traceparent"]));
    const TraceParent trace = incoming_trace ? incoming_trace->child() : TraceParent::new_root();
    std::vector<kafka::Header> headers;
    headers.reserve(15);
    headers.push_back({std::string(header::kKind), "fhir"});
    headers.push_back({std::string(header::kIntegration), integration.name});
    headers.push_back({std::string(header::kSite), site});
    headers.push_back({std::string(header::kEvent), facts.event_code});
    headers.push_back({std::string(header::kReferralRef), facts.referral_ref});
    headers.push_back({std::string(header::kMessageId), message_id});
    headers.push_back({std::string(header::kReceivedAt), format_rfc3339_millis(system_now())});
    headers.push_back({std::string(header::kTraceparent), trace.to_string()});
    headers.push_back({std::string(header::kContentType), std::string(media_type(sv(request[bhttp::field::content_type])))});
    headers.push_back({std::string(header::kFhirDialect), fhir::to_string(facts.dialect)});
    if (!handled) headers.push_back({std::string(header::kEventHandled), "false"});
    if (!facts.listing_ref.empty()) headers.push_back({std::string(header::kListingRef), facts.listing_ref});
    if (!facts.external_service_id.empty()) headers.push_back({std::string(header::kExternalServiceId), facts.external_service_id});
    if (!facts.message_header_id.empty()) headers.push_back({std::string(header::kMessageHeaderId), facts.message_header_id});
    if (!facts.bundle_id.empty()) headers.push_back({std::string(header::kBundleId), facts.bundle_id});

    const std::size_t body_size = body.size();
    const kafka::DeliveryResult delivery =
        co_await publish(config_.kafka.inbound_topic, facts.referral_ref, std::move(body), std::move(headers));
    if (!delivery.ok) {
        // Not stored: Ocean's retry (or a signing sender's) may carry the same webhook-id again.
        route.authenticator->forget_signature(header);
        log::error("broker did not acknowledge; answering so that Ocean retries",
                   {{"integration", integration.name},
                    {"message_id", message_id},
                    {"referral_ref", facts.referral_ref},
                    {"error", delivery.error.message},
                    {"kind", to_string(delivery.error.kind)}});
        const NotStored failure = not_stored(delivery.error.kind);
        if (failure.status == bhttp::status::internal_server_error) {
            co_return finish(outcome(failure.status, version, "error", "exception", "the message could not be stored", ""),
                             failure.rejection);
        }
        auto res = outcome(failure.status, version, "error", "transient", "the message could not be stored in time; retry later");
        res.set(bhttp::field::retry_after, std::to_string(config_.kafka.retry_after.count()));
        co_return finish(std::move(res), failure.rejection);
    }
    // Unhandled codes share one label: a code is the payload's text, and labels must stay few.
    metrics_->published(*route.metrics, handled ? facts.event_code : std::string("unhandled"));
    log::info("bundle accepted",
              {{"integration", integration.name},
               {"message_id", message_id},
               {"referral_ref", facts.referral_ref},
               {"event", facts.event_code},
               {"event_handled", handled ? "true" : "false"},
               {"partition", delivery.partition},
               {"offset", static_cast<long long>(delivery.offset)},
               {"bytes", static_cast<long long>(body_size)},
               {"trace_id", trace.trace_id}});
    auto res = outcome(bhttp::status::ok,
                       version,
                       "information",
                       "informational",
                       fmt::format("accepted as message {}", message_id));
    res.set("X-Relay-Message-Id", message_id);
    co_return finish(std::move(res));
}

bool Ingress::is_hub_target(std::string_view path) const {
    if (!config_.hub_api) return false;
    const std::string& prefix = config_.hub_api->path_prefix;
    return path.starts_with(prefix) && (path.size() == prefix.size() || path[prefix.size()] == '/');
}

namespace {

// The failure limiter's key for a hub token request: the client id it names, from the form or a Basic
// header (hashed by the limiter, never logged).
std::string hub_token_credential(const http::Request& request) {
    const auto parsed = auth::parse_token_request(
        sv(request[bhttp::field::content_type]), request.body(), sv(request[bhttp::field::authorization]), query_of(request.target()));
    if (const auto* token_request = std::get_if<auth::TokenRequest>(&parsed)) return "hub-api/" + token_request->client_id;
    return {};
}

}  // namespace

http::Response Ingress::handle_hub_token(http::Request& request, const Admitted& admitted) {
    const std::string_view query = query_of(request.target());
    const std::string credential = hub_token_credential(request);
    if (const auto wait = throttled(admitted.address, credential)) {
        auto res = hub_error(bhttp::status::too_many_requests,
                             request.version(),
                             "too-many-requests",
                             "too many failed authentications from this client or for these credentials; retry later");
        res.set(bhttp::field::retry_after, std::to_string(wait->count()));
        return res;
    }
    // The shared endpoint of every oauth2 hub system: the system whose client the credentials name
    // issues the token (client ids are unique across hub systems), with itself as the audience.
    std::optional<std::variant<auth::IssuedToken, auth::TokenEndpointError>> answer;
    const HubSystem* issuer = nullptr;
    for (const auto& system : hub_systems_) {
        if (system->authenticator->scheme() != auth::Scheme::kOAuth2) continue;
        auto result = system->authenticator->issue_token(sv(request[bhttp::field::content_type]),
                                                         request.body(),
                                                         sv(request[bhttp::field::authorization]),
                                                         query,
                                                         system_now());
        if (std::holds_alternative<auth::IssuedToken>(result)) {
            answer = std::move(result);
            issuer = system.get();
            break;
        }
        // Keep the most telling refusal: a malformed request or a scope the client may not have says
        // more than "invalid_client", which every other system answers.
        if (!answer || std::get<auth::TokenEndpointError>(result).error != "invalid_client") {
            if (!answer || std::get<auth::TokenEndpointError>(*answer).error == "invalid_client") {
                answer = std::move(result);
            }
        }
    }
    if (!answer) {
        return hub_error(bhttp::status::not_found,
                         request.version(),
                         "not-found",
                         "no hub system uses oauth2: there is no token endpoint");
    }
    http::Response res = token_answer(*answer, request.version());
    if (issuer != nullptr) {
        const auto& issued = std::get<auth::IssuedToken>(*answer);
        metrics_->tokens_issued("hub:" + issuer->config->name);
        log::info("access token issued",
                  {{"hub_system", issuer->config->name}, {"client_id", issued.client_id}});
    } else {
        const auto& error = std::get<auth::TokenEndpointError>(*answer).error;
        if (error == "invalid_client") authentication_failed(admitted.address, credential, "hub-token");
        log::warn("hub token request refused", {{"error", error}});
    }
    return res;
}

}  // namespace relay::ingress
