#include "openapi.hpp"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <boost/asio/awaitable.hpp>
#include <cctype>
#include <cmath>

#include "ingress_internal.hpp"
#include "relay/contracts/headers.hpp"
#include "relay/contracts/notifications.hpp"
#include "relay/core/encoding.hpp"
#include "relay/core/ids.hpp"
#include "relay/core/log.hpp"
#include "relay/core/time.hpp"
#include "relay/kafka/producer.hpp"

namespace relay::ingress::openapi {

namespace {

bool is_ref_char(unsigned char c) {
    return std::isalnum(c) != 0 || c == '.' || c == '_' || c == ':' || c == '-';
}

bool is_type_char(unsigned char c) {
    return std::isalnum(c) != 0 || c == '.' || c == '_' || c == '-';
}

template <typename Pred>
bool all_of_bounded(std::string_view s, std::size_t max, Pred pred) {
    return !s.empty() && s.size() <= max && std::all_of(s.begin(), s.end(), [&](char c) {
        return pred(static_cast<unsigned char>(c));
    });
}

BodyError invalid(std::string detail) {
    return BodyError{"invalid_notification", std::move(detail)};
}

constexpr std::string_view kRefRule = "ref is required: 1-64 characters of A-Z a-z 0-9 . _ : -";
constexpr std::string_view kSiteRule = "siteNum is required: an Ocean site number (1-16 digits), as a string or a number";
constexpr std::string_view kTypeRule = "type is required: 1-128 characters of A-Z a-z 0-9 . _ -";
constexpr std::string_view kSessionRule =
    "customProperties.oceanSessionId must be 1-64 characters of A-Z a-z 0-9 . _ : - when present";

// The members of one object the relay reads: each at most once (a second copy is how a body says one
// thing to the relay and another to a later reader).
template <std::size_t N>
std::optional<std::string_view> duplicate_member(simdjson::dom::object object,
                                                 const std::array<std::string_view, N>& names,
                                                 std::array<simdjson::dom::element, N>& found,
                                                 std::array<bool, N>& present) {
    for (const auto field : object) {
        for (std::size_t i = 0; i < N; ++i) {
            if (field.key != names[i]) continue;
            if (present[i]) return names[i];
            present[i] = true;
            found[i] = field.value;
        }
    }
    return std::nullopt;
}

}  // namespace

std::variant<Challenge, Notification, BodyError> parse_body(std::string_view body, std::size_t capacity) {
    if (body.empty()) return BodyError{"invalid_json", "the request body is empty"};
    thread_local simdjson::dom::parser parser;
    simdjson::dom::element root;
    const bool padded = capacity >= body.size() + simdjson::SIMDJSON_PADDING;
    if (parser.parse(body.data(), body.size(), !padded).get(root) != simdjson::SUCCESS) {
        return BodyError{"invalid_json", "the body is not valid JSON (UTF-8)"};
    }
    simdjson::dom::object object;
    if (root.get_object().get(object) != simdjson::SUCCESS) {
        return BodyError{"invalid_json", "the body must be a JSON object"};
    }
    constexpr std::array<std::string_view, 5> kNames = {"challenge", "ref", "siteNum", "type", "customProperties"};
    std::array<simdjson::dom::element, 5> member{};
    std::array<bool, 5> present{};
    if (const auto twice = duplicate_member(object, kNames, member, present)) {
        return invalid(std::string(*twice) + " is given twice");
    }

    if (present[0]) {
        std::string_view value;
        if (member[0].get_string().get(value) != simdjson::SUCCESS ||
            !all_of_bounded(value, kMaxChallenge, [](unsigned char c) { return c >= 0x20 && c < 0x7f; })) {
            return BodyError{"invalid_challenge", "challenge must be a string of 1-256 printable ASCII characters"};
        }
        return Challenge{std::string(value)};
    }

    Notification notification;
    std::string_view text;
    if (!present[1] || member[1].get_string().get(text) != simdjson::SUCCESS ||
        !all_of_bounded(text, kMaxRef, is_ref_char)) {
        return invalid(std::string(kRefRule));
    }
    notification.ref = text;

    if (!present[2]) return invalid(std::string(kSiteRule));
    if (member[2].is_string()) {
        if (member[2].get_string().get(text) != simdjson::SUCCESS) return invalid(std::string(kSiteRule));
        notification.site = text;
    } else if (member[2].is_uint64()) {
        // A JSON integer; a fraction or an exponent is not a site number.
        notification.site = std::to_string(member[2].get_uint64().value_unsafe());
    } else {
        return invalid(std::string(kSiteRule));
    }
    if (!all_of_bounded(notification.site, kMaxSite, [](unsigned char c) { return std::isdigit(c) != 0; })) {
        return invalid(std::string(kSiteRule));
    }

    if (!present[3] || member[3].get_string().get(text) != simdjson::SUCCESS ||
        !all_of_bounded(text, kMaxType, is_type_char)) {
        return invalid(std::string(kTypeRule));
    }
    notification.type = text;

    if (present[4] && !member[4].is_null()) {
        simdjson::dom::object properties;
        if (member[4].get_object().get(properties) != simdjson::SUCCESS) {
            return invalid("customProperties must be an object when present");
        }
        constexpr std::array<std::string_view, 1> kSession = {"oceanSessionId"};
        std::array<simdjson::dom::element, 1> session{};
        std::array<bool, 1> has_session{};
        if (duplicate_member(properties, kSession, session, has_session)) {
            return invalid("customProperties.oceanSessionId is given twice");
        }
        if (has_session[0] && !session[0].is_null()) {
            if (session[0].get_string().get(text) != simdjson::SUCCESS ||
                !all_of_bounded(text, kMaxSessionId, is_ref_char)) {
                return invalid(std::string(kSessionRule));
            }
            notification.session_id = text;
        }
    }
    return notification;
}

std::string_view type_label(std::string_view type) {
    static constexpr std::array<std::string_view, 7> kKnown = {
        contracts::notification::kPatientNoteAdded,
        contracts::notification::kPatientFormsCompleted,
        // Ocean's eReferral types are not public (ocean-api.md §4.2): the names it is expected to use.
        "notify-referral-new",
        "notify-referral-updated",
        "notify-referral-cancelled",
        "notify-referral-forwarded",
        "notify-referral-message",
    };
    for (const auto known : kKnown) {
        if (type.size() == known.size() &&
            std::equal(type.begin(), type.end(), known.begin(), [](char a, char b) {
                return std::tolower(static_cast<unsigned char>(a)) == b;
            })) {
            return known;
        }
    }
    return "other";
}

std::optional<std::string> query_parameter(std::string_view query, std::string_view name) {
    auto values = query_values(query, name);
    if (values.empty()) return std::nullopt;
    return std::move(values.front());
}

std::string replay_key(std::string_view integration,
                       std::string_view type,
                       std::string_view ref,
                       std::string_view session_id) {
    // None of the parts can hold a newline (names, refs and types are checked before).
    std::string key;
    key.reserve(integration.size() + type.size() + ref.size() + session_id.size() + 3);
    key.append(integration).append(1, '\n');
    for (const char c : type) key += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    key.append(1, '\n').append(ref).append(1, '\n').append(session_id);
    return key;
}

// -- RateLimiter --

RateLimiter::RateLimiter(double per_minute, double burst, std::size_t max_tracked)
    : per_second_(per_minute / 60.0), burst_(burst), max_tracked_(std::max<std::size_t>(1, max_tracked)) {}

std::optional<std::chrono::seconds> RateLimiter::take(const std::string& address, SteadyTime now) {
    std::lock_guard lock(mutex_);
    auto it = buckets_.find(address);
    if (it == buckets_.end()) {
        if (buckets_.size() >= max_tracked_) {
            buckets_.erase(recent_.back());
            recent_.pop_back();
        }
        recent_.push_front(address);
        it = buckets_.emplace(address, Bucket{burst_, now, recent_.begin()}).first;
    } else {
        const double elapsed = std::chrono::duration<double>(now - it->second.updated).count();
        if (elapsed > 0) {
            it->second.tokens = std::min(burst_, it->second.tokens + elapsed * per_second_);
            it->second.updated = now;
        }
        recent_.splice(recent_.begin(), recent_, it->second.position);
    }
    Bucket& bucket = it->second;
    if (bucket.tokens >= 1.0) {
        bucket.tokens -= 1.0;
        return std::nullopt;
    }
    const double wait = std::ceil((1.0 - bucket.tokens) / per_second_);
    return std::chrono::seconds(std::max<long long>(1, static_cast<long long>(wait)));
}

std::size_t RateLimiter::tracked() const {
    std::lock_guard lock(mutex_);
    return buckets_.size();
}

// -- NotificationMemory --

NotificationMemory::NotificationMemory(std::chrono::milliseconds window, std::size_t capacity)
    : window_(window), capacity_(capacity) {}

void NotificationMemory::prune(SteadyTime now) {
    while (!order_.empty() && order_.front().at + window_ <= now) {
        index_.erase(order_.front().digest);
        order_.pop_front();
    }
}

bool NotificationMemory::seen(std::string_view key, SteadyTime now) {
    if (!enabled()) return false;
    std::lock_guard lock(mutex_);
    prune(now);
    return index_.contains(sha256(key).substr(0, 16));
}

void NotificationMemory::remember(std::string_view key, SteadyTime now) {
    if (!enabled()) return;
    std::string digest = sha256(key).substr(0, 16);
    std::lock_guard lock(mutex_);
    prune(now);
    if (const auto it = index_.find(digest); it != index_.end()) {
        order_.erase(it->second);
        index_.erase(it);
    }
    while (order_.size() >= capacity_) {
        index_.erase(order_.front().digest);
        order_.pop_front();
    }
    order_.push_back(Entry{digest, now});
    index_.emplace(std::move(digest), std::prev(order_.end()));
}

std::size_t NotificationMemory::size() const {
    std::lock_guard lock(mutex_);
    return order_.size();
}

}  // namespace relay::ingress::openapi

// ---------------------------------------------------------------------------------------------------
// The ingress's handler of an Open API webhook request whose headers admit_openapi (ingress.cpp)
// admitted (method, rate limit, key, media type, body limit) and whose body has been read.

namespace relay::ingress {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace header = contracts::header;
namespace notification = contracts::notification;
using namespace detail;

asio::awaitable<http::Response> Ingress::handle_openapi(http::Request& request, const Admitted& admitted) {
    const auto started = std::chrono::steady_clock::now();
    const Route& route = *admitted.route;
    const IntegrationConfig& integration = *route.integration;
    OpenApiState& state = *route.openapi;
    const unsigned version = request.version();
    const InFlight in_flight(metrics_->in_flight());
    std::string_view type_label = "none";
    auto finish = [&](http::Response res, std::string_view outcome) {
        metrics_->notification(integration.name, type_label, outcome);
        metrics_->request(integration.name, "openapi", res.result_int(), seconds_since(started));
        return res;
    };

    std::string& body = request.body();
    auto parsed = openapi::parse_body(body, body.capacity());
    if (const auto* error = std::get_if<openapi::BodyError>(&parsed)) {
        log::warn("open api request refused", {{"integration", integration.name}, {"reason", error->error}});
        co_return finish(openapi_error(bhttp::status::bad_request, version, error->error, error->detail), "invalid");
    }
    if (const auto* challenge = std::get_if<openapi::Challenge>(&parsed)) {
        // Ocean's validation of the webhook URL: echoing the value is the protocol. Nothing is stored.
        std::string answer = R"({"challenge":)";
        append_json_string(answer, challenge->value);
        answer += '}';
        log::info("open api challenge answered", {{"integration", integration.name}});
        co_return finish(json_response(bhttp::status::ok, version, std::move(answer)), "challenge");
    }
    const openapi::Notification& envelope = std::get<openapi::Notification>(parsed);
    type_label = openapi::type_label(envelope.type);
    if (envelope.site != integration.site) {
        log::warn("notification refused: another site",
                  {{"integration", integration.name}, {"ocean_ref", envelope.ref}, {"type", envelope.type}});
        co_return finish(openapi_error(bhttp::status::forbidden,
                                       version,
                                       "wrong_site",
                                       "siteNum is not this integration's Ocean site"),
                         "wrong_site");
    }

    const std::string replay = openapi::replay_key(integration.name, envelope.type, envelope.ref, envelope.session_id);
    if (state.memory.seen(replay, std::chrono::steady_clock::now())) {
        log::info("notification already stored within the replay window: acknowledged again",
                  {{"integration", integration.name},
                   {"ocean_ref", envelope.ref},
                   {"type", envelope.type},
                   {"ocean_session_id", envelope.session_id}});
        co_return finish(json_response(bhttp::status::ok, version, R"({"status":"duplicate"})"), "duplicate");
    }

    const auto incoming_trace = TraceParent::parse(sv(request["traceparent"]));
    const TraceParent trace = incoming_trace ? incoming_trace->child() : TraceParent::new_root();
    std::vector<kafka::Header> headers;
    headers.reserve(10);
    headers.push_back({std::string(header::kKind), std::string(notification::kKind)});
    headers.push_back({std::string(header::kSite), integration.site});
    headers.push_back({std::string(header::kIntegration), integration.name});
    headers.push_back({std::string(header::kReceivedAt), format_rfc3339_millis(system_now())});
    headers.push_back({std::string(header::kTraceparent), trace.to_string()});
    headers.push_back({std::string(header::kContentType), media_type(sv(request[bhttp::field::content_type]))});
    headers.push_back({std::string(notification::kTypeHeader), envelope.type});
    headers.push_back({std::string(notification::kRefHeader), envelope.ref});
    if (!envelope.session_id.empty()) {
        headers.push_back({std::string(notification::kSessionIdHeader), envelope.session_id});
    }

    const std::string key = notification::notification_key(integration.site, envelope.ref);
    const std::size_t body_size = body.size();
    const kafka::DeliveryResult delivery =
        co_await publish(state.config->topic, key, std::move(body), std::move(headers));
    if (!delivery.ok) {
        // Not remembered: Ocean's retry of it is a new notification.
        log::error("broker did not acknowledge a notification; answering so that Ocean retries",
                   {{"integration", integration.name},
                    {"ocean_ref", envelope.ref},
                    {"type", envelope.type},
                    {"error", delivery.error.message},
                    {"kind", to_string(delivery.error.kind)}});
        const NotStored failure = not_stored(delivery.error.kind);
        if (failure.status == bhttp::status::internal_server_error) {
            co_return finish(
                openapi_error(failure.status, version, "internal_error", "the notification could not be stored"),
                "unavailable");
        }
        auto res = openapi_error(
            failure.status, version, "unavailable", "the notification could not be stored in time; retry later");
        res.set(bhttp::field::retry_after, std::to_string(config_.kafka.retry_after.count()));
        co_return finish(std::move(res), "unavailable");
    }
    state.memory.remember(replay, std::chrono::steady_clock::now());
    log::info("notification accepted",
              {{"integration", integration.name},
               {"ocean_ref", envelope.ref},
               {"type", envelope.type},
               {"ocean_session_id", envelope.session_id},
               {"partition", delivery.partition},
               {"offset", static_cast<long long>(delivery.offset)},
               {"bytes", static_cast<long long>(body_size)},
               {"trace_id", trace.trace_id}});
    co_return finish(json_response(bhttp::status::ok, version, R"({"status":"accepted"})"), "accepted");
}

}  // namespace relay::ingress
