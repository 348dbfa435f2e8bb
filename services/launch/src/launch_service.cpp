#include "launch_service.hpp"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <optional>
#include <variant>

#include "launch_context.hpp"
#include "launch_request.hpp"
#include "pages.hpp"
#include "relay/auth/authenticator.hpp"
#include "relay/auth/failure_limiter.hpp"
#include "relay/core/encoding.hpp"
#include "relay/core/log.hpp"
#include "relay/delivery/token_bucket.hpp"
#include "relay/http/async_client.hpp"
#include "relay/http/server.hpp"
#include "relay/ocean/rsa.hpp"
#include "relay/openapi/client.hpp"
#include "relay/openapi/referral.hpp"
#include "relay/service/admin.hpp"

namespace relay::launch {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace json = boost::json;

namespace {

constexpr std::string_view kRedeemPath = "/hub/v1/launch/redeem";
constexpr std::string_view kCookiePrefix = "relay_launch_";
constexpr std::size_t kMaxRedeemBody = 4096;

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

std::string_view query_of(std::string_view target) {
    const auto question = target.find('?');
    return question == std::string_view::npos ? std::string_view() : target.substr(question + 1);
}

/// `/ocean/{integration}/launch[/{page}]` → {integration, page}; page "" for the launch itself.
std::optional<std::pair<std::string_view, std::string_view>> split_launch_path(std::string_view path) {
    constexpr std::string_view kPrefix = "/ocean/";
    if (!path.starts_with(kPrefix)) return std::nullopt;
    path.remove_prefix(kPrefix.size());
    const auto slash = path.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    const std::string_view integration = path.substr(0, slash);
    std::string_view rest = path.substr(slash);
    if (rest == "/launch") return std::pair(integration, std::string_view());
    if (rest.starts_with("/launch/")) return std::pair(integration, rest.substr(8));
    return std::nullopt;
}

/// The value of cookie `name` in the request's Cookie header(s); "" when absent.
std::string cookie_value(const http::Request& request, std::string_view name) {
    const auto [first, last] = request.equal_range(bhttp::field::cookie);
    for (auto field = first; field != last; ++field) {
        std::string_view rest(field->value().data(), field->value().size());
        while (!rest.empty()) {
            const auto semicolon = rest.find(';');
            std::string_view pair = rest.substr(0, semicolon);
            rest = semicolon == std::string_view::npos ? std::string_view() : rest.substr(semicolon + 1);
            while (pair.starts_with(' ')) pair.remove_prefix(1);
            const auto eq = pair.find('=');
            if (eq != std::string_view::npos && pair.substr(0, eq) == name) return std::string(pair.substr(eq + 1));
        }
    }
    return {};
}

std::string json_error(std::string_view code, std::string_view message) {
    std::string out = "{\"error\":{\"code\":";
    append_json_string(out, code);
    out += ",\"message\":";
    append_json_string(out, message);
    out += "}}";
    return out;
}

/// Whether the browser says this navigation loads into a frame (Sec-Fetch-Dest: iframe or frame).
bool is_framed_navigation(const http::Request& request) {
    const auto it = request.find("Sec-Fetch-Dest");
    if (it == request.end()) return false;
    const std::string_view dest(it->value().data(), it->value().size());
    return dest == "iframe" || dest == "frame";
}

/// The URL a browser is sent to: the hub system's launch URL with the context appended.
std::string hub_launch_url(const Target& target, std::string_view token) {
    std::string url = target.launch_url_text;
    url += url.find('?') == std::string::npos ? '?' : '&';
    url += target.context_parameter;
    url += '=';
    url += token;  // base64url and '.': nothing to escape
    return url;
}

std::string string_or_empty(const json::object& object, std::string_view name) {
    const auto* value = object.if_contains(name);
    if (value == nullptr || !value->is_string()) return {};
    return std::string(value->get_string());
}

struct Metrics {
    explicit Metrics(prometheus::Registry& registry)
        : launches(prometheus::BuildCounter()
                       .Name("relay_launch_launches_total")
                       .Help("Launches from Ocean, by integration and outcome (handed-off or the refusal's reason)")
                       .Register(registry)),
          redemptions(prometheus::BuildCounter()
                          .Name("relay_launch_redemptions_total")
                          .Help("Launch contexts redeemed by hub systems, by outcome (redeemed or the refusal's reason)")
                          .Register(registry)),
          redemption_seconds(prometheus::BuildHistogram()
                                 .Name("relay_launch_redemption_duration_seconds")
                                 .Help("From a redemption's request to its answer (the referral fetched from Ocean)")
                                 .Register(registry)
                                 .Add({}, prometheus::Histogram::BucketBoundaries{0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                                                  1, 2.5, 5, 10})),
          completions(prometheus::BuildCounter()
                          .Name("relay_launch_completions_total")
                          .Help("Completion pages shown, by integration and outcome")
                          .Register(registry)) {}

    prometheus::Family<prometheus::Counter>& launches;
    prometheus::Family<prometheus::Counter>& redemptions;
    prometheus::Histogram& redemption_seconds;
    prometheus::Family<prometheus::Counter>& completions;
};

}  // namespace

struct LaunchService::Impl {
    explicit Impl(LaunchConfig c)
        : config(std::move(c)),
          signer(config.signing_key),
          redeemed(config.max_redeemed),
          failures(config.failures),
          registry(std::make_shared<prometheus::Registry>()),
          metrics(*registry) {
        ocean = std::make_unique<openapi::OpenApiClient>(ioc.get_executor(), config.ocean);
        http::ClientOptions health_options;
        health_options.connect_timeout = config.health_timeout;
        health_options.request_timeout = config.health_timeout;
        health_options.response_body_limit = 64 * 1024;
        health = std::make_unique<http::AsyncClient>(ioc.get_executor(), health_options);
        for (const auto& hub : config.hub_systems)
            authenticators.emplace(hub.id, auth::Authenticator(hub.auth, "launch/" + hub.id, nullptr));
        const auto now = delivery::Clock::now();
        for (const auto& integration : config.integrations)
            buckets.emplace(integration.id,
                            delivery::TokenBucket(integration.rate_limit.per_second, integration.rate_limit.burst, now));

        http::ServerHooks hooks;
        hooks.error_body = [](int, std::string_view code, std::string_view message, std::string_view) {
            return std::pair<std::string, std::string>("application/json", json_error(code, message));
        };
        hooks.admission = [this](const http::Request& request, http::RequestContext& context) {
            return admit(request, context);
        };
        server = std::make_unique<http::Server>(
            ioc,
            config.listener,
            [this](http::Request& request, const http::RequestContext& context) { return handle(request, context); },
            std::move(hooks));
        server->start();
        service::AdminProbes probes;
        probes.health = [] { return service::ProbeResult{true, service::status_body("ok")}; };
        probes.ready = [] { return service::ProbeResult{true, service::status_body("ready")}; };
        admin = std::make_unique<service::AdminServer>(config.admin, registry, std::move(probes));
    }

    // -- admission: before any body is read --

    /// Who a redemption comes from: the hub system whose credentials it carries.
    struct AdmittedHub {
        std::string id;
    };

    std::optional<http::Response> admit(const http::Request& request, http::RequestContext& context) {
        const std::string_view target(request.target().data(), request.target().size());
        const std::string_view path = path_of(target);
        if (path != kRedeemPath) {
            // The pages are GETs; a body is never read.
            if (context.content_length.value_or(0) > 0 || request.count(bhttp::field::transfer_encoding) > 0)
                return json_answer(request, bhttp::status::payload_too_large, "body-not-allowed",
                                   "launch pages take no body");
            return std::nullopt;
        }
        if (request.method() != bhttp::verb::post) {
            auto res = json_answer(request, bhttp::status::method_not_allowed, "method-not-allowed", "use POST");
            res.set(bhttp::field::allow, "POST");
            return res;
        }
        const std::string address = context.remote.address().to_string();
        const auto now_steady = std::chrono::steady_clock::now();
        if (const auto blocked = failures.blocked(address, "", now_steady)) {
            auto res = json_answer(request, bhttp::status::too_many_requests, "too-many-failures",
                                   "too many failed attempts from this address; try again later");
            res.set(bhttp::field::retry_after, std::to_string(blocked->retry_after.count()));
            return res;
        }
        const auto header = [&request](std::string_view name) -> std::string_view {
            const auto it = request.find(name);
            return it == request.end() ? std::string_view() : std::string_view(it->value().data(), it->value().size());
        };
        const auto now = std::chrono::system_clock::now();
        std::string www_authenticate;
        for (const auto& [id, authenticator] : authenticators) {
            const auth::AuthResult result = authenticator.check_headers(header, now);
            if (result.allowed()) {
                context.admitted = AdmittedHub{id};
                context.body_limit = kMaxRedeemBody;
                return std::nullopt;
            }
            if (www_authenticate.empty()) www_authenticate = result.www_authenticate;
        }
        count_failure(address, "redeem-unauthenticated");
        metrics.redemptions.Add({{"outcome", "unauthenticated"}}).Increment();
        auto res = json_answer(request, bhttp::status::unauthorized, "unauthenticated",
                               "credentials of a hub system are required");
        if (!www_authenticate.empty()) res.set(bhttp::field::www_authenticate, www_authenticate);
        return res;
    }

    void count_failure(const std::string& address, std::string_view where) {
        for (const auto& episode : failures.record_failure(address, "", std::chrono::steady_clock::now())) {
            log::warn("launch: refusals from one address, blocking it for one window",
                      {{"scope", auth::FailureLimiter::to_string(episode.scope)}, {"where", where}});
        }
    }

    // -- routing --

    asio::awaitable<http::Response> handle(http::Request& request, const http::RequestContext& context) {
        const std::string_view target(request.target().data(), request.target().size());
        const std::string_view path = path_of(target);
        if (path == kRedeemPath) co_return co_await redeem(request, context);
        const auto launch_path = split_launch_path(path);
        if (!launch_path) co_return page(request, bhttp::status::not_found, nullptr, refusal_page(nullptr, "no-such-integration"));
        const Integration* integration = config.find_integration(launch_path->first);
        if (integration == nullptr)
            co_return page(request, bhttp::status::not_found, nullptr, refusal_page(nullptr, "no-such-integration"));
        if (request.method() != bhttp::verb::get && request.method() != bhttp::verb::head) {
            auto res = page(request, bhttp::status::method_not_allowed, integration, refusal_page(integration, "method"));
            res.set(bhttp::field::allow, "GET, HEAD");
            co_return res;
        }
        http::Response res;
        if (launch_path->second.empty()) {
            res = co_await launch(request, context, *integration);
        } else if (launch_path->second == "complete") {
            res = complete(request, context, *integration);
        } else if (launch_path->second == "logo" && !integration->branding.logo.empty()) {
            res = logo(request, *integration);
        } else {
            res = page(request, bhttp::status::not_found, integration, refusal_page(integration, "no-such-integration"));
        }
        if (request.method() == bhttp::verb::head) res.body().clear();
        co_return res;
    }

    // -- the launch --

    asio::awaitable<http::Response> launch(const http::Request& request,
                                           const http::RequestContext& context,
                                           const Integration& integration) {
        const std::string address = context.remote.address().to_string();
        if (failures.blocked(address, "", std::chrono::steady_clock::now()))
            co_return refuse(request, integration, bhttp::status::too_many_requests, "too-many-requests", "");
        if (!buckets.at(integration.id).try_acquire(delivery::Clock::now()))
            co_return refuse(request, integration, bhttp::status::too_many_requests, "too-many-requests", "");

        const std::string_view target(request.target().data(), request.target().size());
        ParsedLaunch parsed = parse_launch_query(query_of(target), integration.parameters, integration.require_launch_token);
        if (auto* reason = std::get_if<std::string>(&parsed))
            co_return refuse(request, integration, bhttp::status::bad_request, *reason, address);
        const LaunchParameters parameters = std::move(std::get<LaunchParameters>(parsed));
        if (parameters.site != integration.site)
            co_return refuse(request, integration, bhttp::status::forbidden, "site-mismatch", address);
        // A browser does not apply the page's frame-ancestors to a 303 on the way: in redirect mode a
        // framed launch would follow the redirect inside the frame and hand off there. Browsers say
        // where a navigation lands (Fetch Metadata); one bound for a frame is refused before it spends.
        if (integration.mode == Integration::Mode::kRedirect && is_framed_navigation(request))
            co_return refuse(request, integration, bhttp::status::forbidden, "framing-refused", "");

        // The referral is confirmed with Ocean before anything is shown: a link cannot name a referral
        // the site does not hold, or send the clinician somewhere its listing does not go.
        const openapi::OpenApiSite& site = *config.ocean.find(integration.site);
        const std::string referral_target = "/svc/v1/referrals/" + parameters.referral_ref;
        openapi::FetchResult fetched = co_await ocean->get(site, referral_target);
        if (auto* failure = std::get_if<openapi::FetchFailure>(&fetched)) {
            if (failure->status == 404)
                co_return refuse(request, integration, bhttp::status::not_found, "referral-not-found", address);
            const bool timeout = failure->kind == ErrorKind::kTimeout;
            co_return refuse(request, integration, timeout ? bhttp::status::gateway_timeout : bhttp::status::bad_gateway,
                             timeout ? "ocean-timeout" : "ocean-unavailable", "");
        }
        boost::system::error_code ec;
        const json::value referral = json::parse(std::get<std::string>(fetched), ec);
        if (ec || !referral.is_object())
            co_return refuse(request, integration, bhttp::status::bad_gateway, "ocean-unavailable", "");
        const std::string listing_ref = string_or_empty(referral.get_object(), "referralTargetRef");
        const std::string service_id = string_or_empty(referral.get_object(), "externalServiceId");
        if ((!parameters.listing_ref.empty() && parameters.listing_ref != listing_ref) ||
            (!parameters.external_service_id.empty() && parameters.external_service_id != service_id))
            co_return refuse(request, integration, bhttp::status::conflict, "referral-mismatch", address);

        const Target* chosen = nullptr;
        for (const auto& t : integration.targets) {
            if (t.listing_ref && *t.listing_ref != listing_ref) continue;
            if (t.external_service_id && *t.external_service_id != service_id) continue;
            chosen = &t;
            break;
        }
        if (chosen == nullptr) co_return refuse(request, integration, bhttp::status::not_found, "no-target", "");
        if (chosen->health_url) {
            const bool up = co_await hub_is_up(*chosen->health_url);
            if (!up) co_return refuse(request, integration, bhttp::status::service_unavailable, "hub-unreachable", "");
        }

        const std::string browser_nonce = random_token_id();
        LaunchContext launch_context;
        launch_context.id = random_token_id();
        launch_context.integration = integration.id;
        launch_context.site = integration.site;
        launch_context.referral_ref = parameters.referral_ref;
        launch_context.listing_ref = listing_ref;
        launch_context.external_service_id = service_id;
        launch_context.hub_system = chosen->hub_system;
        launch_context.browser_binding = browser_binding_of(browser_nonce);
        launch_context.issued_at = unix_now();
        launch_context.expires_at = launch_context.issued_at + config.context_ttl.count();
        const std::string token = signer.sign(launch_context);
        const std::string destination = hub_launch_url(*chosen, token);

        http::Response res;
        if (integration.mode == Integration::Mode::kRedirect) {
            res = http::Response{bhttp::status::see_other, request.version()};
            res.set(bhttp::field::location, destination);
            security_headers(res, &integration);
        } else {
            res = page(request, bhttp::status::ok, &integration, handoff_page(integration, destination));
        }
        res.set(bhttp::field::set_cookie, launch_cookie(integration, launch_context.id, browser_nonce));
        metrics.launches.Add({{"integration", integration.id}, {"outcome", "handed-off"}}).Increment();
        log::info("launch handed off",
                  {{"integration", integration.id},
                   {"referral_ref", parameters.referral_ref},
                   {"hub_system", chosen->hub_system},
                   {"mode", integration.mode == Integration::Mode::kIframe ? "iframe" : "redirect"}});
        co_return res;
    }

    asio::awaitable<bool> hub_is_up(const http::Url& url) {
        http::ClientRequest probe{bhttp::verb::get, url.target, 11};
        http::ClientResult result = co_await health->send(url, std::move(probe));
        co_return result.ok() && result.response->result_int() >= 200 && result.response->result_int() < 300;
    }

    /// The cookie that ties the completion page to the browser the launch was opened in; never readable
    /// by script. In iframe mode it is third-party (Ocean's page frames ours): SameSite=None, and
    /// Partitioned, so a browser that blocks third-party cookies still keeps it, in Ocean's partition,
    /// which is where the completion page is shown too.
    std::string launch_cookie(const Integration& integration, const std::string& context_id, const std::string& nonce) {
        std::string cookie = std::string(kCookiePrefix) + context_id + "=" + nonce + "; Path=/ocean/" + integration.id +
                             "/launch; Max-Age=" + std::to_string(config.completion_window.count()) +
                             "; HttpOnly; Secure; SameSite=";
        cookie += integration.mode == Integration::Mode::kIframe ? "None; Partitioned" : "Lax";
        return cookie;
    }

    /// A refusal page; `address` non-empty counts it against the client's address (a link that names no
    /// referral of the site, a malformed or forged one: what a prober sends).
    http::Response refuse(const http::Request& request,
                          const Integration& integration,
                          bhttp::status status,
                          std::string_view reason,
                          const std::string& address) {
        if (!address.empty()) count_failure(address, "launch");
        metrics.launches.Add({{"integration", integration.id}, {"outcome", std::string(reason)}}).Increment();
        log::info("launch refused", {{"integration", integration.id}, {"reason", reason}, {"status", static_cast<int>(status)}});
        auto res = page(request, status, &integration, refusal_page(&integration, reason));
        if (status == bhttp::status::too_many_requests || status == bhttp::status::service_unavailable)
            res.set(bhttp::field::retry_after, "60");
        return res;
    }

    // -- the completion page --

    http::Response complete(const http::Request& request,
                            const http::RequestContext& context,
                            const Integration& integration) {
        const std::string_view query = query_of(std::string_view(request.target().data(), request.target().size()));
        const auto token = single_query_value(query, "launch_context");
        const auto outcome = single_query_value(query, "outcome");
        const auto shown = [&](bhttp::status status, std::string_view reason) {
            metrics.completions.Add({{"integration", integration.id}, {"outcome", std::string(reason)}}).Increment();
            return page(request, status, &integration, refusal_page(&integration, reason));
        };
        if (!token || !outcome || (*outcome != "accepted" && *outcome != "declined" && *outcome != "cancelled"))
            return shown(bhttp::status::bad_request, "malformed-parameters");
        auto verified = signer.verify(*token);
        if (auto* refusal = std::get_if<ContextRefusal>(&verified)) {
            count_failure(context.remote.address().to_string(), "complete");
            return shown(bhttp::status::bad_request, to_string(*refusal));
        }
        const LaunchContext& launch_context = std::get<LaunchContext>(verified);
        if (launch_context.integration != integration.id) return shown(bhttp::status::bad_request, "malformed-context");
        if (unix_now() > launch_context.issued_at + config.completion_window.count())
            return shown(bhttp::status::gone, "context-expired");
        const std::string cookie = cookie_value(request, std::string(kCookiePrefix) + launch_context.id);
        if (cookie.empty() || !constant_time_equals(browser_binding_of(cookie), launch_context.browser_binding))
            return shown(bhttp::status::forbidden, "other-browser");
        metrics.completions.Add({{"integration", integration.id}, {"outcome", *outcome}}).Increment();
        log::info("launch completed",
                  {{"integration", integration.id}, {"referral_ref", launch_context.referral_ref}, {"outcome", *outcome}});
        return page(request, bhttp::status::ok, &integration, outcome_page(integration, *outcome));
    }

    http::Response logo(const http::Request& request, const Integration& integration) {
        http::Response res{bhttp::status::ok, request.version()};
        res.set(bhttp::field::content_type, integration.branding.logo_content_type);
        res.set(bhttp::field::cache_control, "public, max-age=3600");
        res.set("X-Content-Type-Options", "nosniff");
        // An SVG logo is an image here, never a document that runs script.
        res.set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox");
        res.set("Cross-Origin-Resource-Policy", "same-origin");
        res.body() = integration.branding.logo;
        return res;
    }

    // -- redemption by the hub system --

    asio::awaitable<http::Response> redeem(const http::Request& request, const http::RequestContext& context) {
        const auto started = std::chrono::steady_clock::now();
        const auto* admitted = std::any_cast<AdmittedHub>(&context.admitted);
        if (admitted == nullptr) co_return json_answer(request, bhttp::status::unauthorized, "unauthenticated", "credentials of a hub system are required");
        http::Response res = co_await redeem_for(request, context, admitted->id);
        metrics.redemption_seconds.Observe(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
        co_return res;
    }

    http::Response redemption_refused(const http::Request& request,
                                      std::string_view hub_system,
                                      bhttp::status status,
                                      std::string_view code,
                                      std::string_view message) {
        metrics.redemptions.Add({{"outcome", std::string(code)}}).Increment();
        log::info("launch redemption refused", {{"hub_system", hub_system}, {"reason", code}, {"status", static_cast<int>(status)}});
        return json_answer(request, status, code, message);
    }

    asio::awaitable<http::Response> redeem_for(const http::Request& request,
                                               const http::RequestContext& context,
                                               const std::string& hub_system) {
        const auto content_type = request[bhttp::field::content_type];
        if (!content_type.starts_with("application/json"))
            co_return redemption_refused(request, hub_system, bhttp::status::unsupported_media_type, "unsupported-media-type",
                                         "send application/json");
        boost::system::error_code ec;
        const json::value body = json::parse(std::string_view(request.body().data(), request.body().size()), ec);
        const json::value* token = (!ec && body.is_object()) ? body.get_object().if_contains("launchContext") : nullptr;
        if (token == nullptr || !token->is_string())
            co_return redemption_refused(request, hub_system, bhttp::status::bad_request, "malformed-request",
                                         "send {\"launchContext\": \"...\"}");
        auto verified = signer.verify(std::string_view(token->get_string()));
        if (auto* refusal = std::get_if<ContextRefusal>(&verified)) {
            count_failure(context.remote.address().to_string(), "redeem");
            const bool forged = *refusal == ContextRefusal::kForged;
            co_return redemption_refused(request, hub_system, forged ? bhttp::status::forbidden : bhttp::status::bad_request,
                                         to_string(*refusal),
                                         forged ? "the launch context was not issued by this service"
                                                : "the launch context is not well-formed");
        }
        const LaunchContext launch_context = std::move(std::get<LaunchContext>(verified));
        if (launch_context.hub_system != hub_system)
            co_return redemption_refused(request, hub_system, bhttp::status::forbidden, "context-not-for-this-hub-system",
                                         "the launch context was issued for another hub system");
        const Integration* integration = config.find_integration(launch_context.integration);
        if (integration == nullptr || integration->site != launch_context.site)
            co_return redemption_refused(request, hub_system, bhttp::status::forbidden, "context-not-for-this-hub-system",
                                         "the launch context names an integration this service does not serve");
        const std::int64_t now = unix_now();
        if (now > launch_context.expires_at)
            co_return redemption_refused(request, hub_system, bhttp::status::gone, "context-expired",
                                         "the launch context has expired; the clinician launches again from Ocean");
        switch (redeemed.redeem(launch_context.id, launch_context.expires_at, now)) {
            case RedemptionMemory::Outcome::kAlreadyRedeemed:
                co_return redemption_refused(request, hub_system, bhttp::status::gone, "context-already-redeemed",
                                             "the launch context was redeemed before");
            case RedemptionMemory::Outcome::kFull: {
                auto res = redemption_refused(request, hub_system, bhttp::status::service_unavailable, "busy",
                                              "too many launch contexts in use; try again shortly");
                res.set(bhttp::field::retry_after, "5");
                co_return res;
            }
            case RedemptionMemory::Outcome::kFirst:
                break;
        }

        // The referral's details are fetched and decrypted now, for this answer only: nothing rests here.
        const openapi::OpenApiSite& site = *config.ocean.find(integration->site);
        const std::string referral_target = "/svc/v1/referrals/" + launch_context.referral_ref;
        openapi::FetchResult fetched = co_await ocean->get(site, referral_target);
        if (auto* failure = std::get_if<openapi::FetchFailure>(&fetched)) {
            if (failure->status == 404)
                co_return redemption_refused(request, hub_system, bhttp::status::not_found, "referral-not-found",
                                             "Ocean no longer has this referral for the site");
            redeemed.forget(launch_context.id);  // not used up: the hub system may try again while it is valid
            const bool timeout = failure->kind == ErrorKind::kTimeout;
            co_return redemption_refused(request, hub_system,
                                         timeout ? bhttp::status::gateway_timeout : bhttp::status::bad_gateway,
                                         timeout ? "ocean-timeout" : "ocean-unavailable",
                                         "Ocean could not be asked for the referral; try again");
        }
        std::optional<openapi::OpenedReferral> opened = co_await open(site, std::get<std::string>(fetched));
        if (!opened) {
            redeemed.forget(launch_context.id);
            co_return redemption_refused(request, hub_system, bhttp::status::bad_gateway, "referral-unreadable",
                                         "the referral could not be decrypted with the site's keys");
        }

        json::object answer;
        answer["referralRef"] = launch_context.referral_ref;
        answer["site"] = launch_context.site;
        answer["integration"] = launch_context.integration;
        answer["listingRef"] = launch_context.listing_ref;
        answer["externalServiceId"] = launch_context.external_service_id;
        answer["hubSystem"] = launch_context.hub_system;
        answer["completeUrl"] = config.public_url + "/ocean/" + launch_context.integration +
                                "/launch/complete?launch_context=" + std::string(token->get_string());
        answer["expiresAt"] = launch_context.expires_at;
        answer["referral"] = json::parse(opened->referral_json, ec);
        if (opened->patient_json.empty()) {
            answer["patient"] = nullptr;
        } else {
            answer["patient"] = json::parse(opened->patient_json, ec);
        }
        if (ec)
            co_return redemption_refused(request, hub_system, bhttp::status::bad_gateway, "referral-unreadable",
                                         "the referral could not be read");
        http::Response res{bhttp::status::ok, request.version()};
        res.set(bhttp::field::content_type, "application/json");
        res.set(bhttp::field::cache_control, "no-store");
        res.body() = json::serialize(answer);
        metrics.redemptions.Add({{"outcome", "redeemed"}}).Increment();
        log::info("launch context redeemed",
                  {{"integration", launch_context.integration},
                   {"hub_system", hub_system},
                   {"referral_ref", launch_context.referral_ref}});
        co_return res;
    }

    /// The Referral JSON opened with the site's SEK or, when its one-time key is only RSA-wrapped, the
    /// site's private key (fetched once per site and kept; fetched again if it no longer opens one).
    asio::awaitable<std::optional<openapi::OpenedReferral>> open(const openapi::OpenApiSite& site, const std::string& body) {
        openapi::OpenReferralResult opened = openapi::open_referral(site.sek.reveal(), body);
        for (int round = 0; round < 2; ++round) {
            const auto* reason = std::get_if<std::string>(&opened);
            if (reason == nullptr) break;
            const bool needs = *reason == openapi::kNeedsSitePrivateKey;
            const bool stale = round == 1 && *reason == "decrypt-failed";
            if (!needs && !stale) break;
            if (stale) site_keys.erase(site.site);
            auto cached = site_keys.find(site.site);
            if (cached == site_keys.end()) {
                const std::string key_target = "/svc/v1/site/privateKey";
                openapi::FetchResult key_document = co_await ocean->get_sek_encrypted(site, key_target);
                if (!std::holds_alternative<std::string>(key_document)) co_return std::nullopt;
                auto keys = ocean::parse_site_private_keys(std::get<std::string>(key_document));
                if (!std::holds_alternative<ocean::SitePrivateKeys>(keys)) co_return std::nullopt;
                cached = site_keys.emplace(site.site, std::move(std::get<ocean::SitePrivateKeys>(keys))).first;
            }
            opened = openapi::open_referral(site.sek.reveal(), body, &cached->second);
        }
        if (auto* referral = std::get_if<openapi::OpenedReferral>(&opened)) co_return std::move(*referral);
        co_return std::nullopt;
    }

    // -- answers --

    /// Headers of every page: no caching, no referrer (the URL may carry a context), no sniffing, and
    /// framing only where the mode allows it.
    static void security_headers(http::Response& res, const Integration* integration) {
        res.set(bhttp::field::cache_control, "no-store");
        res.set("Referrer-Policy", "no-referrer");
        res.set("X-Content-Type-Options", "nosniff");
        res.set("Content-Security-Policy", page_security_policy(integration));
        if (integration == nullptr || integration->mode == Integration::Mode::kRedirect)
            res.set(bhttp::field::x_frame_options, "DENY");
    }

    static http::Response page(const http::Request& request,
                               bhttp::status status,
                               const Integration* integration,
                               const PageContent& content) {
        http::Response res{status, request.version()};
        res.set(bhttp::field::content_type, "text/html; charset=utf-8");
        security_headers(res, integration);
        res.body() = render_page(integration, content);
        return res;
    }

    static http::Response json_answer(const http::Request& request,
                                      bhttp::status status,
                                      std::string_view code,
                                      std::string_view message) {
        http::Response res{status, request.version()};
        res.set(bhttp::field::content_type, "application/json");
        res.set(bhttp::field::cache_control, "no-store");
        res.body() = json_error(code, message);
        return res;
    }

    LaunchConfig config;
    ContextSigner signer;
    RedemptionMemory redeemed;
    auth::FailureLimiter failures;
    std::shared_ptr<prometheus::Registry> registry;
    Metrics metrics;
    asio::io_context ioc{1};
    std::unique_ptr<openapi::OpenApiClient> ocean;
    std::unique_ptr<http::AsyncClient> health;
    std::map<std::string, auth::Authenticator, std::less<>> authenticators;
    std::map<std::string, delivery::TokenBucket, std::less<>> buckets;
    std::map<std::string, ocean::SitePrivateKeys, std::less<>> site_keys;
    std::unique_ptr<http::Server> server;
    std::unique_ptr<service::AdminServer> admin;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work{ioc.get_executor()};
};

LaunchService::LaunchService(LaunchConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {
    log::info("launch service listening",
              {{"port", static_cast<int>(port())},
               {"admin_port", static_cast<int>(admin_port())},
               {"integrations", static_cast<int>(impl_->config.integrations.size())}});
}

LaunchService::~LaunchService() = default;

int LaunchService::run() {
    impl_->ioc.run();
    impl_->admin->stop();
    return 0;
}

void LaunchService::stop() {
    asio::post(impl_->ioc, [impl = impl_.get()] {
        impl->server->stop_accepting();
        impl->server->drain();
        impl->work.reset();
    });
}

std::uint16_t LaunchService::port() const { return impl_->server->port(); }
std::uint16_t LaunchService::admin_port() const { return impl_->admin->port(); }

}  // namespace relay::launch
