#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "relay/core/error.hpp"
#include "relay/core/secret.hpp"
#include "relay/http/async_client.hpp"

namespace relay::http {

/// How the client presents its credentials to the token endpoint. Ocean itself posts them as form
/// fields; Ocean's own token endpoint also takes a Basic header.
enum class ClientAuthStyle { kFormFields, kBasicHeader };

struct OAuthClientConfig {
    Url token_url;
    std::string client_id;
    Secret client_secret;
    std::string scope;  ///< optional
    ClientAuthStyle style = ClientAuthStyle::kFormFields;
    /// Refresh this long before the token expires.
    std::chrono::seconds refresh_margin{60};
};

/// An OAuth2 client-credentials client (RFC 6749 §4.4) that caches its access token until shortly
/// before it expires. Callers that get a 401 with a token call invalidate() and fetch once more.
///
/// One fetch at a time: callers that need a token while another caller is fetching one wait for that
/// fetch and share its result (token or error) instead of each hitting the token endpoint — after an
/// expiry, a burst of requests would otherwise become a burst of token requests. Callers may be on any
/// executor.
class OAuthTokenClient {
   public:
    OAuthTokenClient(AsyncClient& http, OAuthClientConfig config);

    /// A valid access token, from the cache or the token endpoint; an error value otherwise
    /// (401/400 from the endpoint → permanent; 5xx, network → retryable; deadline → timeout).
    boost::asio::awaitable<std::variant<std::string, Error>> token();
    /// Forget the cached token (after a 401 from the resource server).
    void invalidate();
    /// Tokens fetched from the endpoint so far.
    [[nodiscard]] int fetches() const;

   private:
    boost::asio::awaitable<std::variant<std::string, Error>> fetch();
    /// Under mutex_: wakes every caller waiting for the fetch that just ended.
    void wake_waiters();

    AsyncClient& http_;
    OAuthClientConfig config_;
    mutable std::mutex mutex_;
    std::string token_;
    std::chrono::steady_clock::time_point refresh_at_{};
    int fetches_ = 0;
    bool fetching_ = false;
    std::uint64_t fetch_generation_ = 0;  ///< fetches ended so far (a waiter's fetch is the next one)
    std::optional<Error> last_error_;     ///< the error of the last fetch, shared with its waiters
    std::vector<std::shared_ptr<boost::asio::steady_timer>> waiters_;
};

}  // namespace relay::http
