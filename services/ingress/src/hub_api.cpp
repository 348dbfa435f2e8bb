#include "hub_api.hpp"

#include <array>
#include <boost/asio/awaitable.hpp>
#include <boost/json.hpp>
#include <cctype>
#include <optional>

#include "ingress_internal.hpp"
#include "relay/core/encoding.hpp"
#include "relay/core/ids.hpp"
#include "relay/contracts/headers.hpp"
#include "relay/core/log.hpp"
#include "relay/core/time.hpp"
#include "relay/kafka/producer.hpp"

namespace relay::ingress::hubapi {

namespace json = boost::json;
namespace bhttp = boost::beast::http;

namespace {

constexpr std::size_t kMaxKey = 128;

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Percent-decodes one path segment; nullopt on a broken escape or a decoded '/'.
std::optional<std::string> decode_segment(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') {
            out += s[i];
            continue;
        }
        if (i + 2 >= s.size()) return std::nullopt;
        const int hi = hex_value(s[i + 1]);
        const int lo = hex_value(s[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        const char c = static_cast<char>(hi * 16 + lo);
        if (c == '/' || c == '\0') return std::nullopt;
        out += c;
        i += 2;
    }
    return out;
}

std::vector<std::string_view> split(std::string_view path) {
    std::vector<std::string_view> parts;
    if (path.empty() || path.front() != '/') return parts;
    path.remove_prefix(1);
    while (true) {
        const auto slash = path.find('/');
        parts.push_back(path.substr(0, slash));
        if (slash == std::string_view::npos) break;
        path.remove_prefix(slash + 1);
    }
    return parts;
}

struct Verb {
    const char* segment;
    hub::Action action;
};
constexpr std::array<Verb, 9> kReferralVerbs = {{
    {"accept", hub::Action::kAccept},
    {"decline", hub::Action::kDecline},
    {"complete", hub::Action::kComplete},
    {"reopen", hub::Action::kReopen},
    {"forward", hub::Action::kForward},
    {"switch-type", hub::Action::kSwitchType},
    {"booking-instructions", hub::Action::kBookingInstructions},
    {"messages", hub::Action::kMessage},
    {"received", hub::Action::kReceived},
}};

RouteMatch found(HubRoute route) {
    RouteMatch m;
    m.status = RouteMatch::Status::kFound;
    m.route = std::move(route);
    return m;
}

RouteMatch not_allowed(std::string allow) {
    RouteMatch m;
    m.status = RouteMatch::Status::kMethodNotAllowed;
    m.allow = std::move(allow);
    return m;
}

bool is_key(std::string_view s) {
    if (s.empty() || s.size() > kMaxKey) return false;
    for (const char c : s) {
        const bool ok =
            std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.' || c == ':' || c == '-';
        if (!ok) return false;
    }
    return true;
}

hub::FieldError conflict(std::string field) {
    return {std::move(field), "conflict", "contradicts the request path"};
}

}  // namespace

RouteMatch match_route(bhttp::verb method, std::string_view path) {
    const auto parts = split(path);
    for (const auto& part : parts) {
        if (part.empty()) return {};
    }
    const bool post = method == bhttp::verb::post;
    if (parts.size() == 1 && parts[0] == "updates") {
        if (!post) return not_allowed("POST");
        HubRoute route;
        route.full_request = true;
        return found(std::move(route));
    }
    if (parts.size() == 2 && parts[0] == "oauth2" && parts[1] == "token") {
        if (!post) return not_allowed("POST");
        HubRoute route;
        route.kind = HubRoute::Kind::kToken;
        return found(std::move(route));
    }
    if (parts.size() == 3 && parts[0] == "patients" && parts[2] == "form-links") {
        auto patient = decode_segment(parts[1]);
        if (!patient) return {};
        if (!post) return not_allowed("POST");
        HubRoute route;
        route.action = hub::Action::kEformLink;
        route.patient_ref = std::move(*patient);
        return found(std::move(route));
    }
    if (parts.size() == 4 && parts[0] == "open-api" && parts[1] == "referrals" &&
        (parts[3] == "messages" || parts[3] == "attachments")) {
        auto ref = decode_segment(parts[2]);
        if (!ref) return {};
        if (!post) return not_allowed("POST");
        HubRoute route;
        route.action = parts[3] == "messages" ? hub::Action::kOpenApiMessage : hub::Action::kOpenApiAttachment;
        route.referral_ref = std::move(*ref);
        return found(std::move(route));
    }
    if (parts.size() < 3 || parts.size() > 5 || parts[0] != "referrals") return {};
    auto ref = decode_segment(parts[1]);
    if (!ref) return {};
    HubRoute route;
    route.referral_ref = std::move(*ref);
    if (parts.size() == 3) {
        if (parts[2] == "appointments") {
            if (!post) return not_allowed("POST");
            route.action = hub::Action::kBook;
            return found(std::move(route));
        }
        for (const auto& verb : kReferralVerbs) {
            if (parts[2] == verb.segment) {
                if (!post) return not_allowed("POST");
                route.action = verb.action;
                return found(std::move(route));
            }
        }
        return {};
    }
    if (parts[2] != "appointments") return {};
    auto id = decode_segment(parts[3]);
    if (!id) return {};
    route.appointment_id = std::move(*id);
    if (parts.size() == 4) {
        if (method == bhttp::verb::put) {
            route.action = hub::Action::kChangeBooking;
            return found(std::move(route));
        }
        if (method == bhttp::verb::delete_) {
            route.action = hub::Action::kCancelBooking;
            return found(std::move(route));
        }
        return not_allowed("PUT, DELETE");
    }
    if (parts.size() == 5 && parts[4] == "cancel") {
        if (!post) return not_allowed("POST");
        route.action = hub::Action::kCancelBooking;
        return found(std::move(route));
    }
    return {};
}

std::string route_label(const HubRoute& route) {
    if (route.kind == HubRoute::Kind::kToken) return "token";
    if (route.full_request) return "update";
    return hub::to_string(route.action);
}

std::variant<BuiltUpdate, BuildError> build_update(const HubRoute& route,
                                                   std::string_view body,
                                                   std::string_view idempotency_key,
                                                   std::string (*new_id)()) {
    BuildError error;
    const bool blank = body.find_first_not_of(" \t\r\n") == std::string_view::npos;
    json::value root;
    if (blank) {
        root = json::object();
    } else {
        boost::system::error_code ec;
        root = json::parse(body, ec);
        if (ec) {
            error.message = "the body is not valid JSON";
            error.fields.push_back({"$", "json", "is not valid JSON (UTF-8)"});
            return error;
        }
    }
    if (!root.is_object()) {
        error.message = "the body must be a JSON object";
        error.fields.push_back({"$", "type", "must be a JSON object"});
        return error;
    }
    json::object& o = root.as_object();

    if (!route.full_request) {
        // A form link's path names a patient; every other route's a referral.
        const bool patient = route.action == hub::Action::kEformLink;
        const char* subject_key = patient ? "patient_ref" : "referral_ref";
        const std::string& subject = patient ? route.patient_ref : route.referral_ref;
        if (const auto* v = o.if_contains(subject_key);
            v != nullptr && !(v->is_string() && v->as_string() == subject)) {
            error.fields.push_back(conflict(subject_key));
        }
        const char* action = hub::to_string(route.action);
        if (const auto* v = o.if_contains("action");
            v != nullptr && !(v->is_string() && v->as_string() == action)) {
            error.fields.push_back(conflict("action"));
        }
        o[subject_key] = subject;
        o["action"] = action;
        if (!route.appointment_id.empty()) {
            json::value* appointment = o.if_contains("appointment");
            if (appointment == nullptr) {
                json::object a;
                a["id"] = route.appointment_id;
                o["appointment"] = std::move(a);
            } else if (appointment->is_object()) {
                json::object& a = appointment->as_object();
                if (const auto* id = a.if_contains("id");
                    id != nullptr && !(id->is_string() && id->as_string() == route.appointment_id)) {
                    error.fields.push_back(conflict("appointment.id"));
                }
                a["id"] = route.appointment_id;
            }  // else: parse_update names appointment's wrong type
        }
    }

    bool generated = false;
    if (!idempotency_key.empty()) {
        if (!is_key(idempotency_key)) {
            error.fields.push_back({"Idempotency-Key", "format", "must be 1..128 of [A-Za-z0-9_.:-]"});
        } else if (const auto* v = o.if_contains("update_id"); v != nullptr) {
            if (!(v->is_string() && v->as_string() == idempotency_key)) {
                error.fields.push_back({"update_id", "conflict", "differs from the Idempotency-Key header"});
            }
        } else {
            o["update_id"] = idempotency_key;
        }
    } else if (!o.contains("update_id")) {
        o["update_id"] = new_id();
        generated = true;
    }
    if (!error.fields.empty()) {
        error.message = "the request contradicts itself";
        return error;
    }

    auto parsed = hub::parse_update(json::serialize(root));
    if (!parsed.ok()) {
        error.message = "the update request is not valid";
        error.fields = std::move(parsed.errors);
        return error;
    }
    BuiltUpdate built;
    built.update = std::move(*parsed.update);
    built.value = hub::to_json(built.update);
    built.generated_update_id = generated;
    return built;
}

std::string error_json(std::string_view code,
                       std::string_view message,
                       const std::vector<hub::FieldError>& fields) {
    std::string out = R"({"error":{"code":)";
    append_json_string(out, code);
    out += R"(,"message":)";
    append_json_string(out, message);
    out += R"(,"fields":[)";
    bool first = true;
    for (const auto& f : fields) {
        if (!first) out += ',';
        first = false;
        out += R"({"field":)";
        append_json_string(out, f.field);
        out += R"(,"code":)";
        append_json_string(out, f.code);
        out += R"(,"message":)";
        append_json_string(out, f.message);
        out += '}';
    }
    out += "]}}";
    return out;
}

std::string queued_json(const hub::Update& update, int partition, long long offset) {
    std::string out = R"({"update_id":)";
    append_json_string(out, update.update_id);
    out += update.action == hub::Action::kEformLink ? R"(,"patient_ref":)" : R"(,"referral_ref":)";
    append_json_string(out, update.subject_ref());
    out += R"(,"action":)";
    append_json_string(out, hub::to_string(update.action));
    out += R"(,"status":"queued","partition":)";
    out += std::to_string(partition);
    out += R"(,"offset":)";
    out += std::to_string(offset);
    out += '}';
    return out;
}

}  // namespace relay::ingress::hubapi

// ---------------------------------------------------------------------------------------------------
// The ingress's handler of a hub API request whose headers admit_hub (ingress.cpp) admitted and whose
// body has been read: which hub system signed it, the update it asks for, whether that system may
// update the site, and the record published to the updates topic.

namespace relay::ingress {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace header = contracts::header;
using namespace detail;

namespace {

/// A hub request refused after admission: the answer, and the reason the rejections metric counts.
struct HubRefusal {
    http::Response response;
    std::string rejection;
};

/// The hub system that sent the request: the first candidate (its header credentials passed admission)
/// whose signature, where it requires one, passes. nullptr when none does, with the first failure's
/// reason in `reason`.
const Ingress::HubSystem* signed_caller(const std::vector<const Ingress::HubSystem*>& candidates,
                                        const auth::HeaderLookup& header,
                                        const std::string& body,
                                        std::string& reason) {
    const auto now = system_now();
    for (const Ingress::HubSystem* candidate : candidates) {
        const auth::AuthResult result = candidate->authenticator->check_signature(header, body, now);
        if (result.allowed()) return candidate;
        if (reason.empty()) reason = result.reason;
    }
    return nullptr;
}

/// The update the request asks for: a JSON body (or none) merged with the path and Idempotency-Key by
/// hubapi::build_update. Else the 415 or the validation errors.
std::variant<hubapi::BuiltUpdate, HubRefusal> read_update(const http::Request& request,
                                                          const hubapi::HubRoute& route,
                                                          const std::string& system_name) {
    const unsigned version = request.version();
    const std::string& body = request.body();
    const std::string type = media_type(sv(request[bhttp::field::content_type]));
    const bool blank = body.find_first_not_of(" \t\r\n") == std::string::npos;
    const bool json_type =
        type == "application/json" || (type.starts_with("application/") && type.ends_with("+json"));
    if ((!blank || !type.empty()) && !json_type) {
        return HubRefusal{hub_error(bhttp::status::unsupported_media_type,
                                    version,
                                    "unsupported-media-type",
                                    "Content-Type must be application/json"),
                          "unsupported_media_type"};
    }

    auto built_or_error = hubapi::build_update(route, body, sv(request["idempotency-key"]), &new_message_id);
    if (auto* error = std::get_if<hubapi::BuildError>(&built_or_error)) {
        log::warn("hub update refused",
                  {{"hub_system", system_name},
                   {"action", hubapi::route_label(route)},
                   // From the path, not yet validated: logged only when it looks like a ref (a caller's
                   // text could be anything, patient data included).
                   {"referral_ref", hub::is_ref(route.referral_ref) ? route.referral_ref : "(invalid)"},
                   {"errors", static_cast<long long>(error->fields.size())},
                   {"first_field", error->fields.empty() ? std::string() : error->fields.front().field}});
        return HubRefusal{hub_error(static_cast<bhttp::status>(error->status),
                                    version,
                                    error->code,
                                    error->message,
                                    error->fields),
                          "invalid_update"};
    }
    return std::move(std::get<hubapi::BuiltUpdate>(built_or_error));
}

/// A hub system limited to sites may update only referrals of those sites: the refusal if `update`
/// names none or another.
std::optional<HubRefusal> site_refusal(const hub::Update& update,
                                       const HubSystemConfig& system,
                                       unsigned version) {
    const auto& sites = system.sites;
    if (sites.empty()) return std::nullopt;
    if (update.site.empty()) {
        return HubRefusal{
            hub_error(bhttp::status::bad_request,
                      version,
                      "invalid-update",
                      "this hub system may update only its own sites: the update must name its site",
                      {{"site", "required", "is required for a hub system limited to sites"}}),
            "site_required"};
    }
    if (std::find(sites.begin(), sites.end(), update.site) == sites.end()) {
        log::warn("hub update refused: site not allowed",
                  {{"hub_system", system.name}, {"referral_ref", update.subject_ref()}});
        return HubRefusal{hub_error(bhttp::status::forbidden,
                                    version,
                                    "forbidden",
                                    "this hub system may not update referrals of that Ocean site"),
                          "site_not_allowed"};
    }
    return std::nullopt;
}

/// The headers of the update's record on the updates topic.
std::vector<kafka::Header> record_headers(const http::Request& request,
                                          const std::string& system_name,
                                          const hub::Update& update) {
    std::vector<kafka::Header> headers;
    headers.reserve(6);
    headers.push_back({std::string(header::kContentType), "application/json"});
    headers.push_back({std::string(header::kHubSystem), system_name});
    headers.push_back({std::string(header::kUpdateId), update.update_id});
    headers.push_back({std::string(header::kAction), hub::to_string(update.action)});
    headers.push_back({std::string(header::kReceivedAt), format_rfc3339_millis(system_now())});
    if (const auto incoming = TraceParent::parse(sv(request["traceparent"]))) {
        headers.push_back({std::string(header::kTraceparent), incoming->child().to_string()});
    }
    return headers;
}

/// The answer when the broker did not store the update (detail::not_stored decides 500 or 503).
HubRefusal not_stored_refusal(ErrorKind kind, unsigned version, std::chrono::seconds retry_after) {
    const NotStored failure = not_stored(kind);
    if (failure.status == bhttp::status::internal_server_error) {
        return HubRefusal{hub_error(failure.status, version, "internal-error", "the update could not be stored"),
                          std::string(failure.rejection)};
    }
    auto res = hub_error(failure.status,
                         version,
                         "unavailable",
                         "the update could not be stored in time; retry later with the same update_id");
    res.set(bhttp::field::retry_after, std::to_string(retry_after.count()));
    return HubRefusal{std::move(res), std::string(failure.rejection)};
}

}  // namespace

asio::awaitable<http::Response> Ingress::handle_hub(http::Request& request, const Admitted& admitted) {
    const auto started = std::chrono::steady_clock::now();
    const unsigned version = request.version();
    const HubApiConfig& hub_config = *config_.hub_api;
    const InFlight in_flight(metrics_->in_flight());
    std::string system_name = "unknown";
    std::string action_label = hubapi::route_label(admitted.hub_route);
    auto finish = [&](http::Response res, std::string_view rejection = {}) {
        if (!rejection.empty()) metrics_->hub_rejection(system_name, rejection);
        metrics_->hub_request(system_name, action_label, res.result_int(), seconds_since(started));
        return res;
    };
    if (admitted.kind == Admitted::Kind::kHubToken) {
        auto res = handle_hub_token(request, admitted);
        const bool issued = res.result() == bhttp::status::ok;
        co_return finish(std::move(res), issued ? std::string_view() : std::string_view("token_refused"));
    }

    const auth::HeaderLookup header = header_lookup(request);
    std::string reason;
    const HubSystem* system = signed_caller(admitted.hub_candidates, header, request.body(), reason);
    if (system == nullptr) {
        authentication_failed(admitted.address, admitted.credential, "hub");
        auto res = hub_error(bhttp::status::unauthorized,
                             version,
                             "unauthorized",
                             "authentication is required and was missing or invalid");
        res.set(bhttp::field::www_authenticate, "Bearer realm=\"ocean-relay\"");
        log::warn("hub request refused", {{"reason", reason}});
        co_return finish(std::move(res), reason.empty() ? "unauthenticated" : reason);
    }
    system_name = system->config->name;

    auto read = read_update(request, admitted.hub_route, system_name);
    if (auto* refusal = std::get_if<HubRefusal>(&read)) {
        co_return finish(std::move(refusal->response), refusal->rejection);
    }
    hubapi::BuiltUpdate& built = std::get<hubapi::BuiltUpdate>(read);
    const hub::Update& update = built.update;
    action_label = hub::to_string(update.action);
    if (auto refusal = site_refusal(update, *system->config, version)) {
        co_return finish(std::move(refusal->response), refusal->rejection);
    }

    // Open API requests go to the fetcher's topic; FHIR updates to the updater's.
    const bool open_api = hub::is_open_api(update.action);
    if (open_api && hub_config.open_api_topic.empty()) {
        co_return finish(hub_error(bhttp::status::not_found,
                                   version,
                                   "not-enabled",
                                   "Open API requests are not enabled on this relay (hub_api.open_api_topic)"),
                         "open_api_disabled");
    }
    const std::string& topic = open_api ? hub_config.open_api_topic : hub_config.topic;
    std::vector<kafka::Header> headers = record_headers(request, system_name, update);
    std::string value = std::move(built.value);
    std::string key = update.subject_ref();
    const kafka::DeliveryResult delivery =
        co_await publish(topic, std::move(key), std::move(value), std::move(headers));
    const double ack_seconds = std::chrono::duration<double>(delivery.latency).count();
    metrics_->hub_publish(system_name, delivery.ok, ack_seconds);
    if (!delivery.ok) {
        // Not stored: the hub system's retry may carry the same webhook-id again.
        system->authenticator->forget_signature(header);
        log::error("broker did not acknowledge a hub update",
                   {{"hub_system", system_name},
                    {"update_id", update.update_id},
                    {"referral_ref", update.subject_ref()},
                    {"error", delivery.error.message},
                    {"kind", to_string(delivery.error.kind)}});
        HubRefusal refusal = not_stored_refusal(delivery.error.kind, version, config_.kafka.retry_after);
        co_return finish(std::move(refusal.response), refusal.rejection);
    }
    log::info("hub update queued",
              {{"hub_system", system_name},
               {"update_id", update.update_id},
               {"referral_ref", update.subject_ref()},
               {"action", action_label},
               {"partition", delivery.partition},
               {"offset", static_cast<long long>(delivery.offset)}});
    auto res = json_response(
        bhttp::status::accepted, version, hubapi::queued_json(update, delivery.partition, delivery.offset));
    co_return finish(std::move(res));
}

}  // namespace relay::ingress
