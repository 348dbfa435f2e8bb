#include "pos_sim.hpp"

#include <fmt/format.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <map>
#include <set>

#include "relay/auth/config.hpp"
#include "relay/core/log.hpp"
#include "relay/core/time.hpp"
#include "relay/http/fault_config.hpp"

namespace relay::pos_sim {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

namespace {

/// The entry resource types of a FHIR Bundle, in order; empty when the body is not one.
std::vector<std::string> bundle_resource_types(std::string_view body) {
    std::vector<std::string> out;
    boost::system::error_code ec;
    const boost::json::value root = boost::json::parse(body, ec);
    if (ec || !root.is_object()) return out;
    const auto& bundle = root.as_object();
    const auto* type = bundle.if_contains("resourceType");
    const auto* entries = bundle.if_contains("entry");
    if (type == nullptr || !type->is_string() || type->as_string() != "Bundle" || entries == nullptr ||
        !entries->is_array())
        return out;
    for (const auto& entry : entries->as_array()) {
        const auto* resource = entry.is_object() ? entry.as_object().if_contains("resource") : nullptr;
        const auto* name = resource != nullptr && resource->is_object()
                               ? resource->as_object().if_contains("resourceType")
                               : nullptr;
        if (name != nullptr && name->is_string()) out.emplace_back(name->as_string());
    }
    return out;
}

boost::json::array resource_array(const std::vector<std::string>& types) {
    boost::json::array out;
    for (const auto& t : types) out.emplace_back(t);
    return out;
}

}  // namespace

struct PosSim::Route {
    RouteConfig config;
    auth::Authenticator authenticator;
    http::FaultInjector faults;
    http::Handler wrapped;  ///< faults around the accepting handler

    Route(RouteConfig c, const auth::TokenSigner* signer, std::uint64_t seed)
        : config(std::move(c)),
          authenticator(config.auth, config.name, signer),
          faults(config.faults, seed) {}
};

PosSimConfig load_pos_sim_config(ConfigReader& reader) {
    PosSimConfig config;
    auto root = reader.root();
    config.log_level = root.choice("log_level", "info", {"debug", "info", "warn", "error"});
    auto listener = root.child("listener");
    config.listener.name = "deliveries";
    config.listener.address = listener.string("address", "127.0.0.1");
    config.listener.port = static_cast<std::uint16_t>(listener.integer("port", 8480, 0, 65535));
    config.listener.limits.body_limit = listener.bytes("max_body", 32ULL << 20, 1024, 256ULL << 20);
    if (listener.has("tls")) {
        auto tls = listener.child("tls");
        config.listener.tls =
            http::TlsFiles{tls.required_string("cert_file"), tls.required_string("key_file")};
        config.listener.tls->client_ca_file = tls.optional_string("client_ca_file");
        config.listener.tls->require_client_certificate = tls.boolean("require_client_certificate", false);
    }
    auto admin = root.child("admin");
    config.admin.name = "admin";
    config.admin.address = admin.string("address", "127.0.0.1");
    config.admin.port = static_cast<std::uint16_t>(admin.integer("port", 9480, 0, 65535));
    config.deliveries_file = root.optional_string("deliveries_file");
    config.token_signing_key = root.secret("token_signing_key");
    config.fault_seed = static_cast<std::uint64_t>(root.integer("fault_seed", 1, 0, INT64_MAX));
    std::set<std::string> paths;
    for (auto& node : root.list("routes")) {
        RouteConfig route;
        route.name = node.required_string("name");
        route.path = node.string("path", "/" + route.name);
        route.token_path = node.string("token_path", route.path + "/oauth2/token");
        route.auth = auth::read_policy(node.child("auth"));
        route.faults = http::read_fault_rules(node.list("faults"));
        route.slow_accept = node.duration("slow_accept", std::chrono::milliseconds(0));
        route.require_client_certificate = node.boolean("require_client_certificate", false);
        if (route.require_client_certificate &&
            !(config.listener.tls && config.listener.tls->client_ca_file)) {
            node.fail("require_client_certificate", "needs listener.tls.client_ca_file");
        }
        if (!paths.insert(route.path).second) node.fail("path", "is used twice");
        if (route.auth.scheme == auth::Scheme::kOAuth2 && !config.token_signing_key) {
            root.fail("token_signing_key", "is required when a route uses oauth2");
        }
        config.routes.push_back(std::move(route));
    }
    config.decisions = read_decision_config(root.child("decisions"));
    if (root.has("launch")) config.launch = read_launch_desk_config(root.child("launch"));
    if (config.routes.empty() && !config.launch)
        root.fail("routes", "configure at least one route (or a launch section)");
    if (config.launch &&
        (paths.contains(config.launch->path) || paths.contains(config.launch->path + "/decide")))
        root.child("launch").fail("path", "is a delivery route's path");
    reader.check_no_unknown_keys();
    return config;
}

PosSim::PosSim(PosSimConfig config, std::optional<asio::any_io_executor> executor)
    : config_(std::move(config)) {
    if (config_.decisions && executor)
        decision_maker_ = std::make_unique<DecisionMaker>(*executor, *config_.decisions);
    if (config_.launch && executor) launch_desk_ = std::make_unique<LaunchDesk>(*config_.launch, *executor);
    if (config_.token_signing_key)
        signer_ = std::make_unique<auth::TokenSigner>(*config_.token_signing_key, "pos-sim");
    if (config_.deliveries_file) {
        file_.emplace(*config_.deliveries_file, std::ios::app);
        if (!*file_) throw ConfigError("deliveries_file: cannot open '" + *config_.deliveries_file + "'");
    }
    std::uint64_t seed = config_.fault_seed;
    for (const auto& route_config : config_.routes) {
        auto route = std::make_unique<Route>(route_config, signer_.get(), seed++);
        Route* raw = route.get();
        raw->wrapped =
            raw->faults.wrap([this, raw](http::Request& request, const http::RequestContext& context) {
                return accept(*raw, request, context);
            });
        routes_.push_back(std::move(route));
    }
}

PosSim::~PosSim() = default;

http::Handler PosSim::handler() {
    return [this](http::Request& request,
                  const http::RequestContext& context) -> asio::awaitable<http::Response> {
        std::string_view target(request.target().data(), request.target().size());
        std::string_view query;
        if (const auto q = target.find('?'); q != std::string_view::npos) {
            query = target.substr(q + 1);
            target = target.substr(0, q);
        }
        if (launch_desk_ && launch_desk_->handles(target)) return launch_desk_->handle(request);
        for (auto& route : routes_) {
            if (target == route->config.path) {
                if (request.method() != bhttp::verb::post) break;
                return route->wrapped(request, context);
            }
            if (target == route->config.token_path && route->config.auth.scheme == auth::Scheme::kOAuth2) {
                auto issued = route->authenticator.issue_token(
                    std::string_view(request[bhttp::field::content_type].data(),
                                     request[bhttp::field::content_type].size()),
                    request.body(),
                    std::string_view(request[bhttp::field::authorization].data(),
                                     request[bhttp::field::authorization].size()),
                    query,
                    system_now());
                http::Response res{bhttp::status::ok, request.version()};
                res.set(bhttp::field::content_type, "application/json");
                res.set(bhttp::field::cache_control, "no-store");
                if (auto* token = std::get_if<auth::IssuedToken>(&issued)) {
                    res.body() = boost::json::serialize(
                        boost::json::object{{"access_token", token->access_token},
                                            {"token_type", "Bearer"},
                                            {"expires_in", token->expires_in.count()}});
                } else {
                    const auto& error = std::get<auth::TokenEndpointError>(issued);
                    res.result(static_cast<bhttp::status>(error.status));
                    res.body() = boost::json::serialize(boost::json::object{
                        {"error", error.error}, {"error_description", error.description}});
                }
                return
                    [](http::Response r) -> asio::awaitable<http::Response> { co_return r; }(std::move(res));
            }
        }
        http::Response res{bhttp::status::not_found, request.version()};
        res.set(bhttp::field::content_type, "application/json");
        res.body() = R"({"error":"not_found"})";
        return [](http::Response r) -> asio::awaitable<http::Response> { co_return r; }(std::move(res));
    };
}

asio::awaitable<http::Response> PosSim::accept(Route& route,
                                               http::Request& request,
                                               const http::RequestContext& context) {
    auto header = [&request](std::string_view name) {
        auto value = request[boost::core::string_view(name.data(), name.size())];
        return std::string_view(value.data(), value.size());
    };
    auth::AuthResult auth = route.authenticator.check(header, request.body(), system_now());
    if (auth.allowed() && route.config.require_client_certificate && !context.client_certificate_verified) {
        auth = auth::AuthResult{auth::AuthResult::Outcome::kForbidden, "client_certificate_required", {}, {}};
    }
    if (!auth.allowed()) {
        {
            std::lock_guard lock(mutex_);
            ++refused_;
        }
        http::Response res{auth.outcome == auth::AuthResult::Outcome::kForbidden
                               ? bhttp::status::forbidden
                               : bhttp::status::unauthorized,
                           request.version()};
        if (!auth.www_authenticate.empty()) res.set(bhttp::field::www_authenticate, auth.www_authenticate);
        res.set(bhttp::field::content_type, "application/json");
        res.body() = boost::json::serialize(boost::json::object{{"error", auth.reason}});
        co_return res;
    }
    if (route.config.slow_accept.count() > 0) {
        asio::steady_timer timer(co_await asio::this_coro::executor, route.config.slow_accept);
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    Delivery delivery;
    delivery.route = route.config.name;
    delivery.idempotency_key = header("idempotency-key");
    delivery.referral_ref = header("x-relay-referral-ref");
    delivery.event = header("x-relay-event");
    delivery.document_id = header("x-relay-document-id");
    delivery.documents_missing = header("x-relay-documents-missing");
    delivery.content_type = header("content-type");
    delivery.bytes = request.body().size();
    delivery.resources = bundle_resource_types(request.body());
    {
        std::lock_guard lock(mutex_);
        delivery.sequence = ++sequence_[route.config.name];
        if (!delivery.idempotency_key.empty()) {
            delivery.duplicate = !seen_keys_[route.config.name].insert(delivery.idempotency_key).second;
        }
        if (file_) {
            *file_ << boost::json::serialize(
                          boost::json::object{{"ts", format_rfc3339_millis(system_now())},
                                              {"route", delivery.route},
                                              {"sequence", delivery.sequence},
                                              {"idempotency_key", delivery.idempotency_key},
                                              {"referral_ref", delivery.referral_ref},
                                              {"event", delivery.event},
                                              {"bytes", delivery.bytes},
                                              {"resources", resource_array(delivery.resources)},
                                              {"duplicate", delivery.duplicate}})
                   << '\n';
            file_->flush();
        }
        deliveries_.push_back(delivery);
    }
    if (decision_maker_ && !delivery.duplicate && !delivery.referral_ref.empty()) {
        decision_maker_->on_delivery(delivery.route, delivery.referral_ref);
    }
    http::Response res{bhttp::status::ok, request.version()};
    res.set(bhttp::field::content_type, "application/json");
    res.body() = boost::json::serialize(
        boost::json::object{{"received", delivery.sequence}, {"duplicate", delivery.duplicate}});
    co_return res;
}

std::vector<DecisionMaker::Sent> PosSim::decisions() const {
    return decision_maker_ ? decision_maker_->sent() : std::vector<DecisionMaker::Sent>{};
}

std::vector<Delivery> PosSim::deliveries() const {
    std::lock_guard lock(mutex_);
    return deliveries_;
}

std::string PosSim::deliveries_json() const {
    std::lock_guard lock(mutex_);
    boost::json::object out;
    boost::json::object per_route;
    for (const auto& [route, n] : sequence_) per_route[route] = n;
    std::uint64_t duplicates = 0;
    for (const auto& d : deliveries_) duplicates += d.duplicate ? 1 : 0;
    out["deliveries"] = deliveries_.size();
    out["duplicates"] = duplicates;
    out["refused"] = refused_;
    out["by_route"] = std::move(per_route);
    // Per route: deliveries by X-Relay-Event, and how many carried each FHIR resource type.
    boost::json::object by_event;
    boost::json::object resources;
    std::map<std::string, std::map<std::string, std::uint64_t>> events_of, resources_of;
    for (const auto& d : deliveries_) {
        if (d.duplicate) continue;
        ++events_of[d.route][d.event];
        for (const auto& type : std::set<std::string>(d.resources.begin(), d.resources.end()))
            ++resources_of[d.route][type];
    }
    for (const auto& [route, counts] : events_of) {
        boost::json::object o;
        for (const auto& [event, n] : counts) o[event] = n;
        by_event[route] = std::move(o);
    }
    for (const auto& [route, counts] : resources_of) {
        boost::json::object o;
        for (const auto& [type, n] : counts) o[type] = n;
        resources[route] = std::move(o);
    }
    out["by_route_event"] = std::move(by_event);          // first deliveries (duplicates left out)
    out["bundles_with_resource"] = std::move(resources);  // first deliveries of a Bundle holding the type
    return boost::json::serialize(out);
}

std::string PosSim::launches_json() const {
    return launch_desk_ ? launch_desk_->records_json() : std::string();
}

std::string PosSim::decisions_json() const {
    boost::json::array list;
    std::map<std::string, std::uint64_t> by_action;
    std::uint64_t answered = 0;
    for (const auto& d : decisions()) {
        boost::json::object item{{"referral_ref", d.referral_ref},
                                 {"action", d.action},
                                 {"update_id", d.update_id},
                                 {"status", d.status},
                                 {"attempts", d.attempts},
                                 {"answered_at", d.answered_at}};
        if (d.action == "book") {
            item["confirmed"] = d.confirmed;
            item["appointment_start"] = d.appointment_start;
        }
        list.push_back(std::move(item));
        ++by_action[d.action];
        answered += d.status >= 200 && d.status < 300 ? 1 : 0;
    }
    boost::json::object counts;
    for (const auto& [action, n] : by_action) counts[action] = n;
    return boost::json::serialize(boost::json::object{{"decisions", list.size()},
                                                      {"accepted_by_hub_api", answered},
                                                      {"by_action", std::move(counts)},
                                                      {"items", std::move(list)}});
}

http::Handler PosSim::admin_handler() {
    return [this](http::Request& request, const http::RequestContext&) -> asio::awaitable<http::Response> {
        http::Response res{bhttp::status::ok, request.version()};
        const std::string_view target(request.target().data(), request.target().size());
        if (target == "/deliveries") {
            res.set(bhttp::field::content_type, "application/json");
            res.body() = deliveries_json();
        } else if (target == "/decisions") {
            res.set(bhttp::field::content_type, "application/json");
            res.body() = decisions_json();
        } else if (target == "/launches" && launch_desk_) {
            res.set(bhttp::field::content_type, "application/json");
            res.body() = launches_json();
        } else if (target == "/healthz") {
            res.set(bhttp::field::content_type, "application/json");
            res.body() = R"({"status":"ok"})";
        } else if (target == "/metrics") {
            std::string body = "# TYPE pos_sim_deliveries_total counter\n";
            for (const auto& route : routes_) {
                std::uint64_t n = 0;
                {
                    std::lock_guard lock(mutex_);
                    if (auto it = sequence_.find(route->config.name); it != sequence_.end()) n = it->second;
                }
                body += fmt::format("pos_sim_deliveries_total{{route=\"{}\"}} {}\n", route->config.name, n);
            }
            res.set(bhttp::field::content_type, "text/plain; version=0.0.4");
            res.body() = std::move(body);
        } else {
            res.result(bhttp::status::not_found);
            res.body() = R"({"error":"not_found"})";
        }
        co_return res;
    };
}

}  // namespace relay::pos_sim
