#include "relay/auth/token.hpp"

#include <boost/json.hpp>

#include "relay/core/encoding.hpp"
#include "relay/core/ids.hpp"

namespace relay::auth {
namespace {

// base64url({"alg":"HS256","typ":"JWT"}): a fixed header, compared byte for byte on verification, so
// no other algorithm (including "none") is ever considered.
const std::string kHeader = base64url_encode(R"({"alg":"HS256","typ":"JWT"})");

}  // namespace

const char* to_string(TokenError error) {
    switch (error) {
        case TokenError::kMalformed:
            return "malformed";
        case TokenError::kUnsupportedAlg:
            return "unsupported_alg";
        case TokenError::kBadSignature:
            return "bad_signature";
        case TokenError::kExpired:
            return "expired";
        case TokenError::kNotYetValid:
            return "not_yet_valid";
        case TokenError::kWrongIssuer:
            return "wrong_issuer";
        case TokenError::kWrongAudience:
            return "wrong_audience";
    }
    return "unknown";
}

TokenSigner::TokenSigner(Secret key, std::string issuer, std::chrono::seconds leeway)
    : key_(std::move(key)), issuer_(std::move(issuer)), leeway_(leeway) {}

std::string TokenSigner::issue(std::string_view audience,
                               std::string_view subject,
                               std::string_view scope,
                               std::chrono::seconds lifetime,
                               SystemTime now) const {
    const long long iat = unix_seconds(now);
    boost::json::object claims;
    claims["iss"] = issuer_;
    claims["aud"] = audience;
    claims["sub"] = subject;
    if (!scope.empty()) claims["scope"] = scope;
    claims["iat"] = iat;
    claims["exp"] = iat + lifetime.count();
    claims["jti"] = new_message_id();
    std::string signing_input = kHeader;
    signing_input += '.';
    signing_input += base64url_encode(boost::json::serialize(claims));
    const std::string signature = base64url_encode(hmac_sha256(key_.reveal(), signing_input));
    signing_input += '.';
    signing_input += signature;
    return signing_input;
}

std::variant<TokenClaims, TokenError> TokenSigner::verify(std::string_view token,
                                                          std::string_view expected_audience,
                                                          SystemTime now) const {
    const auto first_dot = token.find('.');
    const auto last_dot = token.rfind('.');
    if (first_dot == std::string_view::npos || first_dot == last_dot) return TokenError::kMalformed;
    const std::string_view header = token.substr(0, first_dot);
    const std::string_view signing_input = token.substr(0, last_dot);
    const std::string_view signature = token.substr(last_dot + 1);
    if (header != kHeader) {
        auto decoded = base64url_decode(header);
        return decoded ? TokenError::kUnsupportedAlg : TokenError::kMalformed;
    }
    // Check the signature before looking at the claims: nothing unauthenticated is parsed further.
    const std::string expected = base64url_encode(hmac_sha256(key_.reveal(), signing_input));
    if (!constant_time_equals(expected, signature)) return TokenError::kBadSignature;

    auto payload = base64url_decode(token.substr(first_dot + 1, last_dot - first_dot - 1));
    if (!payload) return TokenError::kMalformed;
    boost::system::error_code ec;
    boost::json::value parsed = boost::json::parse(*payload, ec);
    if (ec || !parsed.is_object()) return TokenError::kMalformed;
    const auto& obj = parsed.get_object();
    TokenClaims claims;
    auto str = [&](const char* key, std::string& out) {
        if (const auto* v = obj.if_contains(key); v != nullptr && v->is_string()) {
            out = std::string(v->get_string());
            return true;
        }
        return false;
    };
    auto num = [&](const char* key, long long& out) {
        if (const auto* v = obj.if_contains(key); v != nullptr && v->is_int64()) {
            out = v->get_int64();
            return true;
        }
        return false;
    };
    if (!str("iss", claims.issuer) || !str("aud", claims.audience) || !str("sub", claims.subject) ||
        !num("iat", claims.issued_at) || !num("exp", claims.expires_at)) {
        return TokenError::kMalformed;
    }
    str("scope", claims.scope);
    str("jti", claims.token_id);
    const long long now_s = unix_seconds(now);
    // The leeway goes on our clock, never on a claim: `exp` or `iat` near the ends of the integer range
    // must not overflow (a signed token may carry them).
    if (now_s - leeway_.count() >= claims.expires_at) return TokenError::kExpired;
    if (claims.issued_at > now_s + leeway_.count()) return TokenError::kNotYetValid;
    if (claims.issuer != issuer_) return TokenError::kWrongIssuer;
    if (claims.audience != expected_audience) return TokenError::kWrongAudience;
    return claims;
}

}  // namespace relay::auth
