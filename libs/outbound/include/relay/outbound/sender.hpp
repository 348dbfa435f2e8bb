// One outbound HTTP attempt: the exchange with the destination's auth (none, Basic, static Bearer or
// OAuth2 client credentials with a cached token refreshed one fetch at a time and one retry after a
// 401), the relay's delivery headers, and the outcome sorted into delivered / retryable / permanent /
// timeout. Retries, ordering and dead letters are the caller's business; this is the hop itself.
// Shared by the delivery service (hub systems, issue 5) and the updater (Ocean's $process-messages,
// issue 6).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "relay/core/secret.hpp"
#include "relay/delivery/classify.hpp"
#include "relay/http/async_client.hpp"
#include "relay/http/oauth_client.hpp"

namespace relay::outbound {

using delivery::Duration;
using delivery::Outcome;

struct DestinationAuth {
    enum class Scheme { kNone, kBasic, kBearer, kOAuth2 };
    Scheme scheme = Scheme::kNone;
    std::string username;          ///< basic
    std::optional<Secret> secret;  ///< basic password or static bearer token
    std::optional<http::OAuthClientConfig> oauth;
};

struct DestinationConfig {
    std::string id;
    http::Url url;
    boost::beast::http::verb method = boost::beast::http::verb::post;
    std::vector<std::pair<std::string, std::string>> headers;  ///< extra headers, e.g. a tenant id
    DestinationAuth auth;
    /// Deadline, TLS verification and CA file, client certificate (mTLS), pool size.
    http::ClientOptions client;
    /// A non-2xx response body up to this size is kept whole in AttemptResult::error_body (0: never).
    /// For callers that must keep the peer's answer (Ocean's OperationOutcome in a dead letter); it
    /// may repeat patient data, so it is never logged.
    std::size_t keep_error_body = 0;
};

/// What is sent (the record from relay.deliveries.v1).
struct OutboundDelivery {
    std::string body;
    std::string content_type;
    std::string idempotency_key;  ///< stable across retries and replays
    std::string referral_ref;
    std::string event;
    std::string traceparent;
    int attempt = 1;
    /// A referral document's DocumentReference id (X-Relay-Document-Id); empty for everything else.
    std::string document_id;
    /// A referral with its documents inside (documents: inline) that lacks some of them: how many
    /// (X-Relay-Documents-Missing); empty for everything else.
    std::string documents_missing;
};

struct AttemptResult {
    Outcome outcome;
    int status = 0;  ///< 0 when there was no response
    /// The destination's Retry-After (429 / 503), as a duration.
    std::optional<Duration> retry_after;
    std::chrono::steady_clock::duration latency{};
    /// For DLQ headers and logs: the status, the content type and, for a JSON error body, its short
    /// `error` / `code` / `title` fields or an OperationOutcome's issue codes — never the body itself
    /// (a hub's error text may repeat patient data).
    std::string excerpt;
    bool token_refreshed = false;  ///< a 401 made us fetch a new OAuth token and try once more
    /// The token endpoint failed: no request was sent (the outcome is the token endpoint's).
    bool token_failed = false;
    /// The whole body of a non-2xx response of at most DestinationConfig::keep_error_body bytes, and
    /// its content type (empty otherwise).
    std::string error_body;
    std::string error_content_type;
};

/// Sends deliveries to one destination. Safe to use from several coroutines at once (connections
/// are pooled per origin; the OAuth token is shared and refreshed one fetch at a time).
class DestinationSender {
   public:
    DestinationSender(boost::asio::any_io_executor executor, DestinationConfig config);
    ~DestinationSender();
    DestinationSender(const DestinationSender&) = delete;
    DestinationSender& operator=(const DestinationSender&) = delete;

    /// By value: the coroutine outlives its caller's expression (a reference would dangle).
    boost::asio::awaitable<AttemptResult> attempt(OutboundDelivery delivery);

    [[nodiscard]] const DestinationConfig& config() const { return config_; }
    /// OAuth tokens fetched so far (0 without OAuth).
    [[nodiscard]] int tokens_fetched() const;

   private:
    /// Sends `delivery` with `body` (moved out of; the caller's frame owns it across the await).
    boost::asio::awaitable<AttemptResult> exchange(const OutboundDelivery& delivery, std::string& body);

    DestinationConfig config_;
    std::unique_ptr<http::AsyncClient> client_;
    std::unique_ptr<http::AsyncClient> token_client_;
    std::unique_ptr<http::OAuthTokenClient> tokens_;
};

/// The PHI-free excerpt of a response (see AttemptResult::excerpt).
std::string response_excerpt(int status, std::string_view content_type, std::string_view body);

}  // namespace relay::outbound
