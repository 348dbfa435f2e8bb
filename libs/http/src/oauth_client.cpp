#include "relay/http/oauth_client.hpp"

#include <fmt/format.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
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

void OAuthTokenClient::wake_waiters() {
    for (auto& timer : waiters_) {
        // Each waiter's timer lives on the waiter's executor: cancel it there.
        boost::asio::post(timer->get_executor(), [timer] { timer->cancel(); });
    }
    waiters_.clear();
}

boost::asio::awaitable<std::variant<std::string, Error>> OAuthTokenClient::token() {
    const auto executor = co_await boost::asio::this_coro::executor;
    for (;;) {
        std::shared_ptr<boost::asio::steady_timer> wait;
        std::uint64_t awaited_generation = 0;
        {
            std::lock_guard lock(mutex_);
            if (!token_.empty() && std::chrono::steady_clock::now() < refresh_at_) co_return token_;
            if (!fetching_) {
                fetching_ = true;
            } else {
                wait = std::make_shared<boost::asio::steady_timer>(executor);
                wait->expires_after(std::chrono::minutes(5));
                waiters_.push_back(wait);
                awaited_generation = fetch_generation_ + 1;
            }
        }
        if (!wait) {
            std::variant<std::string, Error> result = Error(ErrorKind::kRetryable, "token fetch failed");
            try {
                result = co_await fetch();
            } catch (const std::exception&) {
                // Reported as the generic error: the waiters must not wait for a fetch that never ends.
            }
            {
                std::lock_guard lock(mutex_);
                fetching_ = false;
                ++fetch_generation_;
                if (const auto* error = std::get_if<Error>(&result))
                    last_error_ = *error;
                else
                    last_error_.reset();
                wake_waiters();
            }
            co_return result;
        }
        co_await wait->async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
        std::lock_guard lock(mutex_);
        if (fetch_generation_ >= awaited_generation) {
            // The fetch this caller waited for has ended: share its outcome.
            if (!token_.empty() && std::chrono::steady_clock::now() < refresh_at_) co_return token_;
            if (last_error_) co_return *last_error_;
        }
        // Woken otherwise (a stuck fetch, or the token was invalidated meanwhile): try again.
        std::erase(waiters_, wait);
    }
}

boost::asio::awaitable<std::variant<std::string, Error>> OAuthTokenClient::fetch() {
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
