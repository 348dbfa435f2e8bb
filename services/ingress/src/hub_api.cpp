#include "hub_api.hpp"

#include <array>
#include <boost/json.hpp>
#include <cctype>

#include "relay/core/encoding.hpp"

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
        if (const auto* v = o.if_contains("referral_ref");
            v != nullptr && !(v->is_string() && v->as_string() == route.referral_ref)) {
            error.fields.push_back(conflict("referral_ref"));
        }
        const char* action = hub::to_string(route.action);
        if (const auto* v = o.if_contains("action");
            v != nullptr && !(v->is_string() && v->as_string() == action)) {
            error.fields.push_back(conflict("action"));
        }
        o["referral_ref"] = route.referral_ref;
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
    out += R"(,"referral_ref":)";
    append_json_string(out, update.referral_ref);
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
