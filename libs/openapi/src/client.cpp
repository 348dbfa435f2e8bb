#include "relay/openapi/client.hpp"

#include <boost/beast/http.hpp>
#include <chrono>

#include "relay/core/encoding.hpp"
#include "relay/delivery/classify.hpp"

namespace relay::openapi {

namespace bhttp = boost::beast::http;

FetchFailure classify_open_api_status(int status) {
    FetchFailure failure;
    failure.status = status;
    if (status == 401 || status == 403) {
        failure.kind = ErrorKind::kRetryable;
        failure.reason = "ocean-unauthorized";
    } else if (status == 404) {
        failure.kind = ErrorKind::kPermanent;
        failure.reason = "ocean-not-found";
    } else if (status == 429) {
        failure.kind = ErrorKind::kRetryable;
        failure.reason = "ocean-throttled";
    } else if (status >= 500 && status <= 599) {
        failure.kind = ErrorKind::kRetryable;
        failure.reason = "ocean-server-error";
    } else if (status == 408 || status == 425) {
        failure.kind = ErrorKind::kRetryable;
        failure.reason = "ocean-timeout";
    } else {
        failure.kind = ErrorKind::kPermanent;
        failure.reason = "ocean-refused";
    }
    return failure;
}

namespace {

/// No answer: the client's own classification (refused / reset / DNS retryable, the deadline a timeout, a
/// malformed or oversized answer permanent), named for the caller's logs and dead letters.
FetchFailure transport_failure(const Error& error, std::string_view refused_reason) {
    FetchFailure failure;
    failure.kind = error.kind;
    if (error.kind == ErrorKind::kTimeout)
        failure.reason = "ocean-timeout";
    else if (error.kind == ErrorKind::kPermanent)
        failure.reason = std::string(refused_reason);
    else
        failure.reason = "ocean-unreachable";
    return failure;
}

/// A non-2xx answer, with its Retry-After.
FetchFailure status_failure(const http::ClientResponse& response) {
    FetchFailure failure = classify_open_api_status(static_cast<int>(response.result_int()));
    if (const auto it = response.find(bhttp::field::retry_after); it != response.end())
        failure.retry_after = delivery::parse_retry_after(it->value(), std::chrono::system_clock::now());
    return failure;
}

bool is_success(const http::ClientResponse& response) {
    return response.result_int() >= 200 && response.result_int() <= 299;
}

}  // namespace

OpenApiClient::OpenApiClient(boost::asio::any_io_executor executor, const OpenApiConfig& config)
    : config_(config), client_(executor, config.client), documents_(executor, config.documents_client) {}

boost::asio::awaitable<DocumentResult> OpenApiClient::get_document(const http::Url& url, const std::string& bearer) {
    http::ClientRequest request{bhttp::verb::get, url.target, 11};
    request.set(bhttp::field::authorization, "Bearer " + bearer);
    request.set(bhttp::field::accept, "application/pdf, */*");
    request.set(bhttp::field::user_agent, "ocean-relay-fetcher");
    http::Url target = url;
    http::ClientResult result = co_await documents_.send(std::move(target), std::move(request));
    if (!result.ok()) co_return transport_failure(result.error, "document-refused");
    if (!is_success(*result.response)) co_return status_failure(*result.response);
    FetchedDocument document;
    if (const auto it = result.response->find(bhttp::field::content_type); it != result.response->end())
        document.content_type = std::string(it->value());
    if (document.content_type.empty()) document.content_type = "application/octet-stream";
    document.bytes = std::move(result.response->body());
    co_return document;
}

boost::asio::awaitable<std::variant<http::ClientResponse, FetchFailure>> OpenApiClient::exchange(
    const OpenApiSite& site, const std::string& target, const OpenApiCall* call) {
    http::Url url = config_.base;
    url.target = target;
    http::ClientRequest request{call == nullptr ? bhttp::verb::get : bhttp::verb::post, url.target, 11};
    request.set("siteNum", site.site);
    request.set("siteKey", site.site_key.reveal());
    request.set("siteCredential", site.site_credential.reveal());
    request.set(bhttp::field::accept, "application/json, text/plain");
    request.set(bhttp::field::user_agent, "ocean-relay-fetcher");
    if (call != nullptr) {
        for (const auto& [name, value] : call->headers) request.set(name, value);
        request.set(bhttp::field::content_type, call->content_type);
        request.body() = call->body;
        request.prepare_payload();
    }

    http::ClientResult result = co_await client_.send(std::move(url), std::move(request));
    if (!result.ok()) co_return transport_failure(result.error, "ocean-answer-refused");
    if (!is_success(*result.response)) co_return status_failure(*result.response);
    co_return std::move(*result.response);
}

boost::asio::awaitable<FetchResult> OpenApiClient::get(const OpenApiSite& site, const std::string& target) {
    auto answer = co_await exchange(site, target);
    if (auto* failure = std::get_if<FetchFailure>(&answer)) co_return std::move(*failure);
    co_return std::move(std::get<http::ClientResponse>(answer).body());
}

boost::asio::awaitable<FetchResult> OpenApiClient::post(const OpenApiSite& site, const OpenApiCall& call) {
    auto answer = co_await exchange(site, call.target, &call);
    if (auto* failure = std::get_if<FetchFailure>(&answer)) co_return std::move(*failure);
    co_return std::move(std::get<http::ClientResponse>(answer).body());
}

boost::asio::awaitable<FetchResult> OpenApiClient::get_sek_encrypted(const OpenApiSite& site, const std::string& target) {
    auto answer = co_await exchange(site, target);
    if (auto* failure = std::get_if<FetchFailure>(&answer)) co_return std::move(*failure);
    const http::ClientResponse& response = std::get<http::ClientResponse>(answer);
    const int status = static_cast<int>(response.result_int());
    const auto iv_header = response.find("iv");
    const std::string iv_b64 = iv_header == response.end() ? std::string() : std::string(iv_header->value());
    auto ciphertext = ocean::decode_ciphertext(response.body());
    auto key = ocean::sek_key_bytes(site.sek.reveal());
    const auto iv = base64_decode(iv_b64);
    if (std::holds_alternative<Error>(ciphertext) || std::holds_alternative<Error>(key) || !iv) {
        co_return FetchFailure{ErrorKind::kPermanent, "ocean-encryption-headers-missing", status, std::nullopt};
    }
    auto plain = ocean::aes_cbc_decrypt(std::get<std::string>(key), *iv, std::get<std::string>(ciphertext));
    if (std::holds_alternative<Error>(plain)) {
        co_return FetchFailure{ErrorKind::kPermanent, "decrypt-failed", status, std::nullopt};
    }
    co_return std::move(std::get<std::string>(plain));
}

boost::asio::awaitable<FetchResult> OpenApiClient::get_decrypted(const OpenApiSite& site,
                                                                 const std::string& target,
                                                                 ocean::HeaderLayout layout) {
    auto answer = co_await exchange(site, target);
    if (auto* failure = std::get_if<FetchFailure>(&answer)) co_return std::move(*failure);
    const http::ClientResponse& response = std::get<http::ClientResponse>(answer);
    const int status = static_cast<int>(response.result_int());
    auto header = [&response](std::string_view name) -> std::string {
        const auto it = response.find(name);
        return it == response.end() ? std::string() : std::string(it->value());
    };
    ocean::EncryptedPayload payload;
    payload.iv_b64 = header("iv");
    payload.one_time_key_b64 = header("oneTimeKey");
    payload.one_time_key_iv_b64 = header("oneTimeKeyIv");
    auto ciphertext = ocean::ciphertext_to_base64(response.body());
    if (std::holds_alternative<Error>(ciphertext)) {
        co_return FetchFailure{ErrorKind::kPermanent, "ocean-body-not-ciphertext", status, std::nullopt};
    }
    payload.ciphertext_b64 = std::move(std::get<std::string>(ciphertext));
    if (payload.iv_b64.empty() || payload.one_time_key_b64.empty()) {
        co_return FetchFailure{ErrorKind::kPermanent, "ocean-encryption-headers-missing", status, std::nullopt};
    }
    auto plain = ocean::open(site.sek.reveal(), payload, layout);
    if (std::holds_alternative<Error>(plain)) {
        co_return FetchFailure{ErrorKind::kPermanent, "decrypt-failed", status, std::nullopt};
    }
    co_return std::move(std::get<std::string>(plain));
}

}  // namespace relay::openapi
