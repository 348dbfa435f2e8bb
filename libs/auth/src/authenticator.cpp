#include "relay/auth/authenticator.hpp"

#include <charconv>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "relay/auth/basic.hpp"
#include "relay/auth/client_credentials.hpp"
#include "relay/auth/webhook_signature.hpp"
#include "relay/core/encoding.hpp"

namespace relay::auth {
namespace {

AuthResult unauthenticated(std::string reason, std::string challenge) {
    return AuthResult{AuthResult::Outcome::kUnauthenticated, std::move(reason), std::move(challenge), {}};
}

// The scope a token gets (RFC 6749 §3.3 lets the server grant less than asked): nothing for a client
// without configured scopes, whatever it asked for, so a caller's text never ends up in a token;
// otherwise exactly the requested scopes (repeats dropped), each of which must be configured; nothing
// when none is asked for. nullopt = invalid_scope. `requested` is already valid scope syntax.
std::optional<std::string> granted_scope(const OAuthClient& client, std::string_view requested) {
    if (client.allowed_scopes.empty()) return std::string();
    std::vector<bool> granted(client.allowed_scopes.size(), false);
    std::string scope;
    while (!requested.empty()) {
        const auto space = requested.find(' ');
        const std::string_view one = requested.substr(0, space);
        requested = space == std::string_view::npos ? std::string_view() : requested.substr(space + 1);
        if (one.empty()) continue;
        std::size_t i = 0;
        while (i < client.allowed_scopes.size() && client.allowed_scopes[i] != one) ++i;
        if (i == client.allowed_scopes.size()) return std::nullopt;
        if (granted[i]) continue;
        granted[i] = true;
        if (!scope.empty()) scope += ' ';
        scope += one;
    }
    return scope;
}

}  // namespace

const char* to_string(Scheme scheme) {
    switch (scheme) {
        case Scheme::kNone:
            return "none";
        case Scheme::kBasic:
            return "basic";
        case Scheme::kBearer:
            return "bearer";
        case Scheme::kApiKey:
            return "api_key";
        case Scheme::kOAuth2:
            return "oauth2";
    }
    return "unknown";
}

Authenticator::Authenticator(AuthPolicy policy, std::string audience, const TokenSigner* signer)
    : Authenticator(std::move(policy), std::move(audience), signer, nullptr) {
    if (policy_.signature_key && policy_.signature_replay_memory > 0) {
        replay_guard_ = std::make_shared<ReplayGuard>(policy_.signature_replay_memory);
    }
}

Authenticator::Authenticator(AuthPolicy policy,
                             std::string audience,
                             const TokenSigner* signer,
                             std::shared_ptr<ReplayGuard> replay_guard)
    : policy_(std::move(policy)),
      audience_(std::move(audience)),
      signer_(signer),
      replay_guard_(std::move(replay_guard)) {
    if (policy_.scheme == Scheme::kOAuth2 && signer_ == nullptr) {
        throw std::invalid_argument("oauth2 authentication needs a token signer");
    }
}

AuthResult Authenticator::check_headers(const HeaderLookup& header, SystemTime now) const {
    const std::string_view authorization = header("authorization");
    switch (policy_.scheme) {
        case Scheme::kNone:
            return {};
        case Scheme::kBasic: {
            const std::string challenge = "Basic realm=\"ocean-relay\", charset=\"UTF-8\"";
            if (authorization.empty()) return unauthenticated("missing_credentials", challenge);
            auto credentials = parse_basic(authorization);
            if (!credentials) return unauthenticated("malformed_credentials", challenge);
            // Evaluate both comparisons so the timing does not tell which part was wrong; both compare
            // keyed digests, so neither the user's nor the password's length shows in the timing.
            const bool user_ok = secret_equals(credentials->user, policy_.basic_user);
            const bool password_ok = policy_.basic_password.equals(credentials->password);
            if (!(user_ok && password_ok)) return unauthenticated("bad_credentials", challenge);
            return AuthResult{AuthResult::Outcome::kAllowed, {}, {}, credentials->user};
        }
        case Scheme::kBearer: {
            const std::string challenge = "Bearer realm=\"ocean-relay\"";
            if (authorization.empty()) return unauthenticated("missing_credentials", challenge);
            auto token = parse_bearer(authorization);
            if (!token) return unauthenticated("malformed_credentials", challenge);
            if (!policy_.bearer_token.equals(*token)) {
                return unauthenticated("bad_credentials", challenge + ", error=\"invalid_token\"");
            }
            return AuthResult{AuthResult::Outcome::kAllowed, {}, {}, "bearer"};
        }
        case Scheme::kApiKey: {
            const std::string_view key = header(policy_.api_key_header);
            if (key.empty()) return unauthenticated("missing_credentials", {});
            if (!policy_.api_key.equals(key)) return unauthenticated("bad_credentials", {});
            return AuthResult{AuthResult::Outcome::kAllowed, {}, {}, "api_key"};
        }
        case Scheme::kOAuth2: {
            const std::string challenge = "Bearer realm=\"ocean-relay\"";
            if (authorization.empty()) return unauthenticated("missing_credentials", challenge);
            auto token = parse_bearer(authorization);
            if (!token) return unauthenticated("malformed_credentials", challenge);
            auto verified = signer_->verify(*token, audience_, now);
            if (const auto* error = std::get_if<TokenError>(&verified)) {
                if (*error == TokenError::kWrongAudience) {
                    // A genuine token, but for another integration: authenticated, not authorised.
                    return AuthResult{AuthResult::Outcome::kForbidden, "token_wrong_audience", {}, {}};
                }
                return unauthenticated(std::string("token_") + to_string(*error),
                                       challenge + ", error=\"invalid_token\"");
            }
            return AuthResult{AuthResult::Outcome::kAllowed, {}, {}, std::get<TokenClaims>(verified).subject};
        }
    }
    return unauthenticated("unsupported_scheme", {});
}

AuthResult Authenticator::check(const HeaderLookup& header, std::string_view body, SystemTime now) const {
    AuthResult result = check_headers(header, now);
    if (!result.allowed()) return result;
    AuthResult signature = check_signature(header, body, now);
    if (!signature.allowed()) return signature;
    return result;
}

AuthResult Authenticator::check_signature(const HeaderLookup& header,
                                          std::string_view body,
                                          SystemTime now) const {
    if (!policy_.signature_key) return {};
    const std::string_view id = header("webhook-id");
    const std::string_view timestamp = header("webhook-timestamp");
    // Before any hashing: an id is bounded and printable, whether or not replays are remembered.
    if (!id.empty() && !ReplayGuard::is_valid_id(id)) return unauthenticated("bad_signature_id", {});
    const SignatureCheck signature = verify_webhook(policy_.signature_key->reveal(),
                                                    id,
                                                    timestamp,
                                                    header("webhook-signature"),
                                                    body,
                                                    now,
                                                    policy_.signature_tolerance);
    if (signature != SignatureCheck::kValid) return unauthenticated(to_string(signature), {});
    if (replay_guard_) {
        long long ts = 0;  // verify_webhook accepted it: an integer within the tolerance
        std::from_chars(timestamp.data(), timestamp.data() + timestamp.size(), ts);
        const SystemTime expires_at = SystemTime(std::chrono::seconds(ts)) + policy_.signature_tolerance;
        if (replay_guard_->remember(audience_, id, expires_at, now) == ReplayGuard::Verdict::kReplayed) {
            return unauthenticated("signature_replayed", {});
        }
    }
    return {};
}

void Authenticator::forget_signature(const HeaderLookup& header) const {
    if (replay_guard_) replay_guard_->forget(audience_, header("webhook-id"));
}

std::string Authenticator::claimed_credential(const HeaderLookup& header) const {
    if (policy_.scheme == Scheme::kBasic) {
        const auto credentials = parse_basic(header("authorization"));
        if (credentials) return audience_ + "/" + credentials->user;
    }
    return audience_;
}

std::string Authenticator::claimed_token_credential(std::string_view content_type,
                                                    std::string_view body,
                                                    std::string_view authorization,
                                                    std::string_view query) const {
    const auto parsed = parse_token_request(content_type, body, authorization, query);
    if (const auto* request = std::get_if<TokenRequest>(&parsed); request != nullptr) {
        return audience_ + "/" + request->client_id;
    }
    return audience_;
}

std::variant<IssuedToken, TokenEndpointError> Authenticator::issue_token(std::string_view content_type,
                                                                         std::string_view body,
                                                                         std::string_view authorization,
                                                                         std::string_view query,
                                                                         SystemTime now) const {
    if (policy_.scheme != Scheme::kOAuth2) {
        return TokenEndpointError{404, "invalid_request", "this integration does not use OAuth2"};
    }
    auto parsed = parse_token_request(content_type, body, authorization, query);
    if (auto* error = std::get_if<TokenRequestError>(&parsed)) {
        const int status = error->error == "invalid_client" ? 401 : 400;
        return TokenEndpointError{status, error->error, error->description};
    }
    const TokenRequest& request = std::get<TokenRequest>(parsed);
    const OAuthClient* match = nullptr;
    for (const auto& client : policy_.oauth_clients) {
        // Compare every client's secret so the timing does not reveal which ids exist.
        const bool id_ok = secret_equals(client.client_id, request.client_id);
        const bool secret_ok = client.client_secret.equals(request.client_secret);
        if (id_ok && secret_ok) match = &client;
    }
    if (match == nullptr) return TokenEndpointError{401, "invalid_client", "client authentication failed"};
    std::optional<std::string> scope = granted_scope(*match, request.scope);
    if (!scope) {
        return TokenEndpointError{400, "invalid_scope", "the requested scope is not allowed for this client"};
    }
    std::string token = signer_->issue(audience_, match->client_id, *scope, policy_.token_lifetime, now);
    return IssuedToken{std::move(token), policy_.token_lifetime, std::move(*scope), match->client_id};
}

}  // namespace relay::auth
