#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <variant>

#include "relay/core/secret.hpp"
#include "relay/core/time.hpp"

namespace relay::auth {

/// Claims of the bearer tokens the ingress issues to Ocean: a JWT (RFC 7519) signed with HS256.
/// Any replica holding the same signing key verifies it without shared state.
struct TokenClaims {
    std::string issuer;    ///< iss
    std::string audience;  ///< aud: the integration the token is good for
    std::string subject;   ///< sub: the OAuth client id
    std::string scope;
    long long issued_at = 0;   ///< iat, unix seconds
    long long expires_at = 0;  ///< exp, unix seconds
    std::string token_id;      ///< jti
};

enum class TokenError {
    kMalformed,       ///< not three base64url parts, or bad JSON
    kUnsupportedAlg,  ///< header alg is not HS256 (refuses "none" and key-confusion tricks)
    kBadSignature,    ///< forged, tampered, or signed with another key
    kExpired,         ///< exp is in the past (beyond the leeway)
    kNotYetValid,     ///< iat is in the future (beyond the leeway)
    kWrongIssuer,
    kWrongAudience,  ///< genuine token, but for another integration
};

const char* to_string(TokenError error);

class TokenSigner {
   public:
    TokenSigner(Secret key, std::string issuer, std::chrono::seconds leeway = std::chrono::seconds(30));

    [[nodiscard]] std::string issue(std::string_view audience,
                                    std::string_view subject,
                                    std::string_view scope,
                                    std::chrono::seconds lifetime,
                                    SystemTime now) const;

    [[nodiscard]] std::variant<TokenClaims, TokenError> verify(std::string_view token,
                                                               std::string_view expected_audience,
                                                               SystemTime now) const;

   private:
    Secret key_;
    std::string issuer_;
    std::chrono::seconds leeway_;
};

}  // namespace relay::auth
