#include "relay/http/oauth_client.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>

#include "relay/core/encoding.hpp"

namespace relay::http {

namespace bhttp = boost::beast::http;

namespace {

// application/x-www-form-urlencoded component encoding (RFC 6749 appendix B).
std::string form_encode(std::string_view s) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
            out += c;
        } else if (c == ' ') {
            out += '+';
        } else {
            out += '%';
            out += kHex[u >> 4];
            out += kHex[u & 0xf];
        }
    }
    return out;
}

}  // namespace

OAuthTokenClient::OAuthTokenClient(AsyncClient& http, OAuthClientConfig config)
    : http_(http), config_(std::move(config)) {}

void OAuthTokenClient::invalidate() {
    std::lock_guard lock(mutex_);
    token_.clear();
}

int OAuthTokenClient::fetches() const {
    std::lock_guard lock(mutex_);
    return fetches_;
}

boost::asio::awaitable<std::variant<std::string, Error>> OAuthTokenClient::token() {
    {
        std::lock_guard lock(mutex_);
        if (!token_.empty() && std::chrono::steady_clock::now() < refresh_at_) co_return token_;
    }
    ClientRequest request{bhttp::verb::post, "/", 11};
    request.set(bhttp::field::content_type, "application/x-www-form-urlencoded");
    request.set(bhttp::field::accept, "application/json");
    std::string body = "grant_type=client_credentials";
    if (config_.style == ClientAuthStyle::kFormFields) {
        body += "&client_id=" + form_encode(config_.client_id);
        body += "&client_secret=" + form_encode(config_.client_secret.reveal());
    } else {
        request.set(bhttp::field::authorization,
                    "Basic " + base64_encode(form_encode(config_.client_id) + ":" +
                                             form_encode(config_.client_secret.reveal())));
    }
    if (!config_.scope.empty()) body += "&scope=" + form_encode(config_.scope);
    request.body() = std::move(body);

    ClientResult result = co_await http_.send(config_.token_url, std::move(request));
    if (!result.ok()) co_return result.error;
    const auto& response = *result.response;
    const int status = response.result_int();
    if (status != 200) {
        // Never echo the endpoint's body: it may repeat what we sent.
        const ErrorKind kind = status >= 500 || status == 429 ? ErrorKind::kRetryable : ErrorKind::kPermanent;
        co_return Error(kind, fmt::format("token endpoint answered {}", status));
    }
    boost::system::error_code ec;
    const auto parsed = boost::json::parse(response.body(), ec);
    const auto* object = parsed.if_object();
    const auto* access_token = object ? object->if_contains("access_token") : nullptr;
    if (ec || access_token == nullptr || !access_token->is_string()) {
        co_return Error(ErrorKind::kPermanent, "token endpoint answer has no access_token");
    }
    std::chrono::seconds lifetime{3600};
    if (const auto* expires_in = object->if_contains("expires_in");
        expires_in != nullptr && expires_in->is_int64()) {
        lifetime = std::chrono::seconds(expires_in->get_int64());
    }
    std::lock_guard lock(mutex_);
    token_ = std::string(access_token->get_string());
    refresh_at_ =
        std::chrono::steady_clock::now() + std::max(lifetime - config_.refresh_margin, lifetime / 2);
    ++fetches_;
    co_return token_;
}

}  // namespace relay::http
