#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "relay/auth/replay_guard.hpp"
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
    /// How many accepted webhook ids are remembered to refuse replays within the tolerance; 0 = none.
    std::size_t signature_replay_memory = ReplayGuard::kDefaultMaxEntries;
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

/// Thread-safe: `check`, `check_headers`, `check_signature` and `issue_token` may be called from several
/// threads at once. Copies share the replay memory.
class Authenticator {
   public:
    /// `audience` names the integration; tokens are issued for it and only accepted for it.
    /// `signer` must outlive the authenticator and is required for kOAuth2.
    /// With a signature key and `signature_replay_memory` > 0, the authenticator keeps its own
    /// ReplayGuard of that size.
    Authenticator(AuthPolicy policy, std::string audience, const TokenSigner* signer);
    /// The same with a replay memory shared with other authenticators (ids are remembered per
    /// audience); null = no replay protection, whatever `signature_replay_memory` says.
    Authenticator(AuthPolicy policy,
                  std::string audience,
                  const TokenSigner* signer,
                  std::shared_ptr<ReplayGuard> replay_guard);

    /// Checks the request's credentials, then (when configured) its signature over `body`:
    /// check_headers followed by check_signature.
    [[nodiscard]] AuthResult check(const HeaderLookup& header, std::string_view body, SystemTime now) const;

    /// The credentials, which can be judged before the body is read (everything but signatures).
    [[nodiscard]] AuthResult check_headers(const HeaderLookup& header, SystemTime now) const;

    /// Only the Standard Webhooks signature over `body` (allowed when none is configured), for after
    /// check_headers once the body is read. A verified request's webhook-id is remembered until its
    /// timestamp leaves the tolerance: the same id again is refused as `signature_replayed`. An id
    /// over 256 bytes or with a control character is `bad_signature_id`. Other reasons as in
    /// SignatureCheck's to_string. The result's subject is empty.
    [[nodiscard]] AuthResult check_signature(const HeaderLookup& header,
                                             std::string_view body,
                                             SystemTime now) const;

    /// Forgets the request's webhook-id after check/check_signature accepted it but the request was
    /// refused afterwards (e.g. the message could not be stored): the sender's retry may reuse the id.
    void forget_signature(const HeaderLookup& header) const;

    /// The credential a request claims before it is checked, as a FailureLimiter key:
    /// "<audience>/<user>" for Basic, else "<audience>" (a static token, an API key or a bearer token
    /// names nobody until verified). Caller text: only ever hash it (FailureLimiter does), never log it.
    [[nodiscard]] std::string claimed_credential(const HeaderLookup& header) const;
    /// The same for a token request: "<audience>/<client_id>", or "<audience>" when it names no client.
    [[nodiscard]] std::string claimed_token_credential(std::string_view content_type,
                                                       std::string_view body,
                                                       std::string_view authorization,
                                                       std::string_view query) const;

    /// The OAuth2 token endpoint for this integration (only for kOAuth2).
    [[nodiscard]] std::variant<IssuedToken, TokenEndpointError> issue_token(std::string_view content_type,
                                                                            std::string_view body,
                                                                            std::string_view authorization,
                                                                            std::string_view query,
                                                                            SystemTime now) const;

    [[nodiscard]] Scheme scheme() const { return policy_.scheme; }
    [[nodiscard]] const std::string& audience() const { return audience_; }
    /// Null when signatures are not required or replays are not remembered.
    [[nodiscard]] const std::shared_ptr<ReplayGuard>& replay_guard() const { return replay_guard_; }

   private:
    AuthPolicy policy_;
    std::string audience_;
    const TokenSigner* signer_;
    std::shared_ptr<ReplayGuard> replay_guard_;
};

}  // namespace relay::auth
