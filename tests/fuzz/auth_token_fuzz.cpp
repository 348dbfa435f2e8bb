// libs/auth's parsers of caller-supplied credentials, with a fixed signing key: TokenSigner::verify (of
// arbitrary text, and of tokens correctly signed over an arbitrary payload, which reach the claims
// parser), TokenSigner::issue round trips, parse_token_request, the Basic / Bearer header parsers and
// Standard Webhooks signature verification.
//
// Invariants: nothing throws; a verified token's claims carry the expected issuer and audience and an
// unexpired exp; what the parsers return is a piece of what they were given; a signature or token made
// with the key verifies, one the input merely claims does not.
#include <fuzzer/FuzzedDataProvider.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <variant>

#include "fuzz_check.hpp"
#include "relay/auth/basic.hpp"
#include "relay/auth/client_credentials.hpp"
#include "relay/auth/token.hpp"
#include "relay/auth/webhook_signature.hpp"
#include "relay/core/encoding.hpp"

namespace {

namespace auth = relay::auth;

constexpr std::string_view kKey = "fuzz-token-signing-key-0123456789abcdef";
constexpr std::string_view kIssuer = "ocean-relay";
constexpr std::string_view kAudience = "central-intake";
// A fixed "now" (2026-01-01T00:00:00Z) keeps every run reproducible.
const relay::SystemTime kNow = relay::SystemTime(std::chrono::seconds(1767225600));
constexpr std::chrono::seconds kLeeway{30};

const auth::TokenSigner& signer() {
    static const auth::TokenSigner s(
        relay::Secret::from_value(std::string(kKey)), std::string(kIssuer), kLeeway);
    return s;
}


bool ascii(std::string_view s) {
    for (const char c : s) {
        if (static_cast<unsigned char>(c) >= 0x80) return false;
    }
    return true;
}

void check_verified(const std::variant<auth::TokenClaims, auth::TokenError>& result, std::string_view token) {
    if (const auto* claims = std::get_if<auth::TokenClaims>(&result)) {
        FUZZ_CHECK(claims->issuer == kIssuer);
        FUZZ_CHECK(claims->audience == kAudience);
        FUZZ_CHECK(claims->expires_at + kLeeway.count() > relay::unix_seconds(kNow));
        FUZZ_CHECK(claims->issued_at <= relay::unix_seconds(kNow) + kLeeway.count());
        FUZZ_CHECK(claims->subject.size() <= token.size());
    } else {
        FUZZ_CHECK(auth::to_string(std::get<auth::TokenError>(result)) != std::string_view("unknown"));
    }
}

void fuzz_tokens(FuzzedDataProvider& in) {
    // Arbitrary text as a token: only the key's own tokens verify.
    const std::string token = in.ConsumeRandomLengthString(4096);
    const auto verified = signer().verify(token, kAudience, kNow);
    check_verified(verified, token);

    // A token correctly signed over an arbitrary payload: the claims parser sees untrusted JSON.
    const std::string payload = in.ConsumeRandomLengthString(4096);
    const std::string header = relay::base64url_encode(R"({"alg":"HS256","typ":"JWT"})");
    std::string signed_token = header + "." + relay::base64url_encode(payload);
    signed_token += "." + relay::base64url_encode(relay::hmac_sha256(kKey, signed_token));
    {
        const auto claims = signer().verify(signed_token, kAudience, kNow);
        check_verified(claims, signed_token);
        FUZZ_CHECK(!std::holds_alternative<auth::TokenError>(claims) ||
                   std::get<auth::TokenError>(claims) != auth::TokenError::kBadSignature);
    }

    // One altered byte of a genuine token never verifies.
    const std::string subject = in.ConsumeRandomLengthString(256);
    const std::string scope = in.ConsumeRandomLengthString(256);
    const auto lifetime = std::chrono::seconds(in.ConsumeIntegralInRange<std::int64_t>(1, 10 * 365 * 86400));
    const std::string issued = signer().issue(kAudience, subject, scope, lifetime, kNow);
    // Claims are JSON text: a subject or scope that is not UTF-8 makes a token that never verifies
    // (kMalformed), which is safe; the round trip holds for ASCII.
    if (ascii(subject) && ascii(scope)) {
        const auto round_trip = signer().verify(issued, kAudience, kNow);
        FUZZ_CHECK(std::holds_alternative<auth::TokenClaims>(round_trip));
        const auto& c = std::get<auth::TokenClaims>(round_trip);
        FUZZ_CHECK(c.subject == subject && c.scope == scope &&
                   c.expires_at - c.issued_at == lifetime.count());
        FUZZ_CHECK(std::get<auth::TokenError>(signer().verify(issued, "another-integration", kNow)) ==
                   auth::TokenError::kWrongAudience);
    }
    if (!issued.empty()) {
        std::string tampered = issued;
        const std::size_t at = in.ConsumeIntegralInRange<std::size_t>(0, tampered.size() - 1);
        const char replacement = in.ConsumeIntegral<char>();
        if (tampered[at] != replacement) {
            tampered[at] = replacement;
            FUZZ_CHECK(
                !std::holds_alternative<auth::TokenClaims>(signer().verify(tampered, kAudience, kNow)));
        }
    }
}

void fuzz_headers(FuzzedDataProvider& in) {
    const std::string authorization = in.ConsumeRandomLengthString(1024);
    if (const auto basic = auth::parse_basic(authorization)) {
        FUZZ_CHECK(basic->user.size() + basic->password.size() < authorization.size());
        FUZZ_CHECK(basic->user.find(':') == std::string::npos);
    }
    if (const auto bearer = auth::parse_bearer(authorization)) {
        FUZZ_CHECK(!bearer->empty() && bearer->front() != ' ' && bearer->back() != ' ');
        FUZZ_CHECK(authorization.find(*bearer) != std::string::npos);
    }

    // A Basic header built from parts parses back to them.
    const std::string user = in.ConsumeRandomLengthString(128);
    const std::string password = in.ConsumeRandomLengthString(128);
    if (user.find(':') == std::string::npos) {
        const auto parsed = auth::parse_basic("bAsIc " + relay::base64_encode(user + ":" + password));
        FUZZ_CHECK(parsed && parsed->user == user && parsed->password == password);
    }

    const std::string content_type = in.ConsumeRandomLengthString(128);
    const std::string body = in.ConsumeRandomLengthString(2048);
    const std::string query = in.ConsumeRandomLengthString(512);
    const auto request = auth::parse_token_request(content_type, body, authorization, query);
    if (const auto* r = std::get_if<auth::TokenRequest>(&request)) {
        // Form-decoding only shrinks.
        FUZZ_CHECK(r->client_id.size() + r->client_secret.size() <= body.size() + authorization.size());
        FUZZ_CHECK(r->scope.size() <= body.size() + query.size());
    } else {
        const auto& e = std::get<auth::TokenRequestError>(request);
        FUZZ_CHECK(e.error == "invalid_request" || e.error == "invalid_client" ||
                   e.error == "unsupported_grant_type" || e.error == "invalid_scope");
        FUZZ_CHECK(!e.description.empty());
    }
}

void fuzz_webhook(FuzzedDataProvider& in) {
    const std::string id = in.ConsumeRandomLengthString(128);
    const std::string timestamp = in.ConsumeRandomLengthString(32);
    const std::string signature = in.ConsumeRandomLengthString(1024);
    const auto tolerance = std::chrono::seconds(in.ConsumeIntegralInRange<std::int64_t>(0, 86400));
    const std::string body = in.ConsumeRemainingBytesAsString();
    const auto check = auth::verify_webhook(kKey, id, timestamp, signature, body, kNow, tolerance);
    FUZZ_CHECK(auth::to_string(check) != std::string_view("unknown"));
    if (check == auth::SignatureCheck::kValid) {
        // Only a header that contains the key's own signature verifies.
        FUZZ_CHECK(signature.find(auth::sign_webhook(kKey, id, timestamp, body).substr(3)) !=
                   std::string::npos);
    }

    // The key's own signature, among the input's entries, verifies whenever the timestamp is acceptable.
    const std::string now_text = std::to_string(relay::unix_seconds(kNow));
    const std::string own = auth::sign_webhook(kKey, id, now_text, body);
    const auto valid = auth::verify_webhook(kKey, id, now_text, signature + " " + own, body, kNow, tolerance);
    FUZZ_CHECK(valid == (id.empty() ? auth::SignatureCheck::kMissingHeaders : auth::SignatureCheck::kValid));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider in(data, size);
    switch (in.ConsumeIntegralInRange<int>(0, 2)) {
        case 0:
            fuzz_tokens(in);
            break;
        case 1:
            fuzz_headers(in);
            break;
        default:
            fuzz_webhook(in);
            break;
    }
    return 0;
}
