#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "relay/auth/token.hpp"
#include "relay/core/secret.hpp"

namespace relay::auth {

enum class Scheme { kNone, kBasic, kBearer, kApiKey, kOAuth2 };

/// One OAuth2 client allowed to obtain tokens for an integration.
struct OAuthClient {
    std::string client_id;
    Secret client_secret;
    /// Scopes this client may ask for. A token carries exactly the scopes asked for, each of which must
    /// be in this list (else invalid_scope), and none when none is asked for. Empty = the client's
    /// tokens carry no scope, whatever it asks for (RFC 6749 §3.3 allows granting less than asked).
    std::vector<std::string> allowed_scopes;
};

/// How one integration authenticates its callers. Built from configuration at start-up.
struct AuthPolicy {
    Scheme scheme = Scheme::kNone;
    std::string basic_user;                     // kBasic
    Secret basic_password;                      // kBasic
    Secret bearer_token;                        // kBearer
    std::string api_key_header = "x-api-key";   // kApiKey (lower case)
    Secret api_key;                             // kApiKey
    std::vector<OAuthClient> oauth_clients;     // kOAuth2
    std::chrono::seconds token_lifetime{3600};  // kOAuth2
    /// Optional Standard Webhooks HMAC-SHA256 signature required on top of the scheme.
    std::optional<Secret> signature_key;
    std::chrono::seconds signature_tolerance{300};
};

const char* to_string(Scheme scheme);

struct AuthResult {
    enum class Outcome { kAllowed, kUnauthenticated, kForbidden };
    Outcome outcome = Outcome::kAllowed;
    std::string reason;            ///< bounded vocabulary, usable as a metric label
    std::string www_authenticate;  ///< for 401 responses
    std::string subject;           ///< who was authenticated (client id / user), never a secret

    [[nodiscard]] bool allowed() const { return outcome == Outcome::kAllowed; }
};

/// Result of a client-credentials token request.
struct IssuedToken {
    std::string access_token;
    std::chrono::seconds expires_in;
    std::string scope;  ///< the granted scope (see OAuthClient::allowed_scopes); empty = none
    std::string client_id;
};
struct TokenEndpointError {
    int status = 400;  ///< 400 or 401 (RFC 6749 §5.2)
    std::string error;
    std::string description;
};

using HeaderLookup = std::function<std::string_view(std::string_view lower_case_name)>;

class Authenticator {
   public:
    /// `audience` names the integration; tokens are issued for it and only accepted for it.
    /// `signer` must outlive the authenticator and is required for kOAuth2.
    Authenticator(AuthPolicy policy, std::string audience, const TokenSigner* signer);

    /// Checks the request's credentials (and signature, when configured, over `body`).
    [[nodiscard]] AuthResult check(const HeaderLookup& header, std::string_view body, SystemTime now) const;

    /// True when the credentials can be judged before the body is read (everything but signatures).
    [[nodiscard]] AuthResult check_headers(const HeaderLookup& header, SystemTime now) const;

    /// The OAuth2 token endpoint for this integration (only for kOAuth2).
    [[nodiscard]] std::variant<IssuedToken, TokenEndpointError> issue_token(std::string_view content_type,
                                                                            std::string_view body,
                                                                            std::string_view authorization,
                                                                            std::string_view query,
                                                                            SystemTime now) const;

    [[nodiscard]] Scheme scheme() const { return policy_.scheme; }
    [[nodiscard]] const std::string& audience() const { return audience_; }

   private:
    AuthPolicy policy_;
    std::string audience_;
    const TokenSigner* signer_;
};

}  // namespace relay::auth
