#include "relay/outbound/sender.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>

#include "relay/core/encoding.hpp"
#include "relay/core/time.hpp"

namespace relay::outbound {

namespace bhttp = boost::beast::http;
namespace json = boost::json;

namespace {

constexpr std::size_t kFieldLimit = 80;

std::string clipped(std::string_view s) {
    std::string out(s.substr(0, kFieldLimit));
    for (char& c : out)
        if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    return out;
}

}  // namespace

std::string response_excerpt(int status, std::string_view content_type, std::string_view body) {
    std::string out = fmt::format("HTTP {}", status);
    if (!content_type.empty()) out += fmt::format("; {}", clipped(content_type));
    if (body.empty()) return out;
    boost::system::error_code ec;
    const json::value parsed = json::parse(body, ec);
    const json::object* object = ec ? nullptr : parsed.if_object();
    if (object == nullptr) return out + fmt::format("; {} bytes", body.size());
    // Only fields that name an error class, never free text such as `message` or `diagnostics`.
    for (const char* key : {"error", "code", "title", "type"}) {
        if (const auto* v = object->if_contains(key); v != nullptr && v->is_string())
            out += fmt::format("; {}={}", key, clipped(v->as_string()));
    }
    if (const auto* issues = object->if_contains("issue"); issues != nullptr && issues->is_array()) {
        std::string codes;
        for (const auto& issue : issues->as_array()) {
            const auto* code = issue.is_object() ? issue.as_object().if_contains("code") : nullptr;
            if (code == nullptr || !code->is_string()) continue;
            if (!codes.empty()) codes += ",";
            codes += clipped(code->as_string());
        }
        if (!codes.empty()) out += "; issue=" + codes;
    }
    return out;
}

DestinationSender::DestinationSender(boost::asio::any_io_executor executor, DestinationConfig config)
    : config_(std::move(config)), client_(std::make_unique<http::AsyncClient>(executor, config_.client)) {
    if (config_.auth.scheme == DestinationAuth::Scheme::kOAuth2) {
        // The token endpoint gets its own pool: a slow destination must not hold up token refreshes.
        token_client_ = std::make_unique<http::AsyncClient>(executor, config_.client);
        tokens_ = std::make_unique<http::OAuthTokenClient>(*token_client_, *config_.auth.oauth);
    }
}

DestinationSender::~DestinationSender() = default;

int DestinationSender::tokens_fetched() const {
    return tokens_ ? tokens_->fetches() : 0;
}

boost::asio::awaitable<AttemptResult> DestinationSender::attempt(OutboundDelivery delivery) {
    // The body is moved into the request; a copy is kept only when a 401 may make us send it again.
    std::string retry_body = tokens_ ? delivery.body : std::string();
    AttemptResult result = co_await exchange(delivery, delivery.body);
    // One retry after a 401 with an OAuth token: the token may have been revoked or rotated early.
    if (result.status == 401 && tokens_) {
        tokens_->invalidate();
        AttemptResult again = co_await exchange(delivery, retry_body);
        again.token_refreshed = true;
        // Refused again with a token fetched a moment ago: the identity provider's nodes may not agree
        // yet, or the hub is mid-rotation. Retried with backoff (bounded by the policy, then the DLQ),
        // not dead-lettered at once.
        if (again.status == 401)
            again.outcome = Outcome{false, ErrorKind::kRetryable, "unauthorized after token refresh"};
        co_return again;
    }
    co_return result;
}

boost::asio::awaitable<AttemptResult> DestinationSender::exchange(const OutboundDelivery& delivery,
                                                                  std::string& body) {
    AttemptResult result;
    const auto started = std::chrono::steady_clock::now();
    http::ClientRequest request{config_.method, config_.url.target, 11};
    request.set(bhttp::field::content_type, delivery.content_type);
    request.set("Idempotency-Key", delivery.idempotency_key);
    request.set("X-Relay-Referral-Ref", delivery.referral_ref);
    request.set("X-Relay-Event", delivery.event);
    request.set("X-Relay-Attempt", std::to_string(delivery.attempt));
    if (!delivery.document_id.empty()) request.set("X-Relay-Document-Id", delivery.document_id);
    if (!delivery.documents_missing.empty()) request.set("X-Relay-Documents-Missing", delivery.documents_missing);
    if (!delivery.traceparent.empty()) request.set("traceparent", delivery.traceparent);
    for (const auto& [name, value] : config_.headers) request.set(name, value);
    switch (config_.auth.scheme) {
        case DestinationAuth::Scheme::kNone:
            break;
        case DestinationAuth::Scheme::kBasic:
            request.set(bhttp::field::authorization,
                        "Basic " + base64_encode(config_.auth.username + ":" +
                                                 std::string(config_.auth.secret->reveal())));
            break;
        case DestinationAuth::Scheme::kBearer:
            request.set(bhttp::field::authorization, "Bearer " + std::string(config_.auth.secret->reveal()));
            break;
        case DestinationAuth::Scheme::kOAuth2: {
            auto token = co_await tokens_->token();
            if (const auto* error = std::get_if<Error>(&token)) {
                // No token, no request: the token endpoint's failure is this attempt's outcome.
                result.outcome = Outcome{false, error->kind, "token endpoint failed"};
                result.token_failed = true;
                result.excerpt = clipped(error->message);
                result.latency = std::chrono::steady_clock::now() - started;
                co_return result;
            }
            request.set(bhttp::field::authorization, "Bearer " + std::get<std::string>(token));
            break;
        }
    }
    request.body() = std::move(body);

    http::ClientResult sent = co_await client_->send(config_.url, std::move(request));
    result.latency = std::chrono::steady_clock::now() - started;
    if (!sent.ok()) {
        // The client already sorted transport failures (refused / reset / DNS / TLS handshake →
        // retryable, deadline → timeout, an oversized response → permanent).
        result.outcome = Outcome{false, sent.error.kind, "transport error"};
        result.excerpt = clipped(sent.error.message);
        co_return result;
    }
    const auto& response = *sent.response;
    result.status = response.result_int();
    result.outcome = delivery::classify_status(result.status);
    if (const auto it = response.find(bhttp::field::retry_after); it != response.end())
        result.retry_after = delivery::parse_retry_after(it->value(), std::chrono::system_clock::now());
    const auto content_type = response.find(bhttp::field::content_type);
    result.excerpt = response_excerpt(
        result.status,
        content_type == response.end() ? std::string_view() : std::string_view(content_type->value()),
        response.body());
    if ((result.status < 200 || result.status > 299) && config_.keep_error_body > 0 &&
        response.body().size() <= config_.keep_error_body) {
        result.error_body = response.body();
        if (content_type != response.end()) result.error_content_type = std::string(content_type->value());
    }
    co_return result;
}

}  // namespace relay::outbound
