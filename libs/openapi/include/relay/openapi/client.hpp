// One call to Ocean's Open API: a GET with the site's credentials in Ocean's headers
// (siteNum, siteKey, siteCredential; ocean-api.md §4.1), its answer sorted into retryable / permanent /
// timeout, and the body decrypted with the site's SEK (ocean-api.md §5.2, §7): the one-time key from the
// `oneTimeKey` header (under `oneTimeKeyIv`, or `iv` in the shared layout), the body under the `iv`
// header, in base64 or Ocean's signed-byte array.
//
// Failures carry fixed phrases and the status only: never the response body (it is patient data) or the
// credentials.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "relay/delivery/clock.hpp"
#include "relay/http/async_client.hpp"
#include "relay/ocean/crypto.hpp"
#include "relay/openapi/config.hpp"

namespace relay::openapi {

/// One call to Ocean's Open API, before the site's credentials are added.
struct OpenApiCall {
    std::string target;  ///< path under Ocean's base URL
    std::string content_type;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
};

struct FetchFailure {
    ErrorKind kind = ErrorKind::kPermanent;
    /// A fixed phrase for logs, DLQ headers and metric labels ("ocean-server-error", "decrypt-failed").
    std::string reason;
    int status = 0;  ///< Ocean's HTTP status; 0 when there was no answer
    std::optional<delivery::Duration> retry_after;
};

/// What a GET came to: the body (decrypted by get_decrypted; patient data: never log it) or why not.
using FetchResult = std::variant<std::string, FetchFailure>;

/// How an Open API status is treated. Beyond the delivery rules (5xx, 408, 425, 429 retryable), 401 and
/// 403 are retried too: Ocean answers them while a site's credentials are being rotated, and a
/// notification whose data cannot be fetched yet must not be given up before the retry policy says so.
/// 404 and the other 4xx are permanent (the ref names nothing Ocean will give us).
FetchFailure classify_open_api_status(int status);

/// A document as Ocean served it ($letter, $binary): bytes and media type. Patient data: never log it.
struct FetchedDocument {
    std::string bytes;
    std::string content_type;
};
using DocumentResult = std::variant<FetchedDocument, FetchFailure>;

class OpenApiClient {
   public:
    OpenApiClient(boost::asio::any_io_executor executor, const OpenApiConfig& config);

    /// GET `target` (path and query under the base URL) for `site`: the body of a 2xx answer as it came
    /// (a JSON document whose encrypted members the caller opens, as the Referral JSON's).
    boost::asio::awaitable<FetchResult> get(const OpenApiSite& site, const std::string& target);

    /// GET `target` for `site`, then decrypt the whole body in `layout` (the Patient Engagement GETs).
    boost::asio::awaitable<FetchResult> get_decrypted(const OpenApiSite& site,
                                                      const std::string& target,
                                                      ocean::HeaderLayout layout);

    /// GET `target` whose body is encrypted under the SEK itself with the `iv` header (the site's
    /// private key document, GET /svc/v1/site/privateKey): the plaintext.
    boost::asio::awaitable<FetchResult> get_sek_encrypted(const OpenApiSite& site, const std::string& target);

    /// POST `call` for `site`: the body of a 2xx answer. A write: the retry
    /// policy may repeat it after a timeout whose request Ocean did take (the Open API has no idempotency
    /// key), so a hub's message can reach Ocean twice, never zero times.
    boost::asio::awaitable<FetchResult> post(const OpenApiSite& site, const OpenApiCall& call);

    /// GET a FHIR API document URL with an OAuth2 bearer token (the response bounded by
    /// documents_client.response_body_limit).
    boost::asio::awaitable<DocumentResult> get_document(const http::Url& url, const std::string& bearer);

    /// The HTTP client token requests go through.
    http::AsyncClient& http() { return client_; }

   private:
    /// The exchange and the status check; the response of a 2xx answer, else why not.
    /// `call` null: a GET of `target`; else that POST.
    boost::asio::awaitable<std::variant<http::ClientResponse, FetchFailure>> exchange(const OpenApiSite& site,
                                                                                      const std::string& target,
                                                                                      const OpenApiCall* call = nullptr);

    const OpenApiConfig& config_;
    http::AsyncClient client_;
    http::AsyncClient documents_;
};

}  // namespace relay::openapi
