#include "relay/auth/config.hpp"

#include <algorithm>

#include "relay/auth/client_credentials.hpp"
#include "relay/core/encoding.hpp"

namespace relay::auth {

AuthPolicy read_policy(ConfigReader::Node node) {
    AuthPolicy policy;
    const std::string scheme =
        node.choice("scheme", "none", {"none", "basic", "bearer", "api_key", "oauth2"});
    if (scheme == "basic") {
        policy.scheme = Scheme::kBasic;
        policy.basic_user = node.required_string("username");
        policy.basic_password = node.required_secret("password");
    } else if (scheme == "bearer") {
        policy.scheme = Scheme::kBearer;
        policy.bearer_token = node.required_secret("token");
    } else if (scheme == "api_key") {
        policy.scheme = Scheme::kApiKey;
        std::string header = node.string("header", "x-api-key");
        std::transform(
            header.begin(), header.end(), header.begin(), [](unsigned char c) { return std::tolower(c); });
        policy.api_key_header = header;
        policy.api_key = node.required_secret("key");
    } else if (scheme == "oauth2") {
        policy.scheme = Scheme::kOAuth2;
        policy.token_lifetime = std::chrono::duration_cast<std::chrono::seconds>(
            node.duration("token_lifetime", std::chrono::hours(1), std::chrono::seconds(60)));
        auto clients = node.list("clients");
        if (clients.empty()) node.fail("clients", "oauth2 needs at least one client");
        for (auto& client : clients) {
            OAuthClient c;
            c.client_id = client.required_string("client_id");
            c.client_secret = client.required_secret("client_secret");
            c.allowed_scopes = client.string_list("scopes", {});
            for (const auto& scope : c.allowed_scopes) {
                // A scope with a space or a quote could never be asked for: RFC 6749 scope-tokens only.
                if (!is_valid_scope_token(scope)) {
                    client.fail("scopes",
                                "each scope must be printable ASCII without spaces, '\"' or '\\' "
                                "(RFC 6749 scope-token)");
                }
            }
            policy.oauth_clients.push_back(std::move(c));
        }
    }
    if (node.has("signature")) {
        auto signature = node.child("signature");
        Secret key = signature.required_secret("key");
        // Standard Webhooks secrets are written "whsec_<base64>"; the HMAC key is the decoded bytes.
        if (key.reveal().starts_with("whsec_")) {
            auto decoded = base64_decode(key.reveal().substr(6));
            if (!decoded || decoded->empty())
                signature.fail("key", "a whsec_ secret must be base64 after the prefix");
            key = Secret::from_value(std::move(*decoded));
        }
        policy.signature_key = std::move(key);
        policy.signature_tolerance = std::chrono::duration_cast<std::chrono::seconds>(
            signature.duration("tolerance", std::chrono::minutes(5), std::chrono::seconds(1)));
        policy.signature_replay_memory = static_cast<std::size_t>(signature.integer(
            "replay_memory", static_cast<std::int64_t>(ReplayGuard::kDefaultMaxEntries), 0, 10'000'000));
    }
    return policy;
}

FailureLimits read_failure_limits(ConfigReader::Node node) {
    FailureLimits limits;
    const auto window = node.duration("window", limits.window, std::chrono::seconds(1));
    if (window % std::chrono::seconds(1) != std::chrono::milliseconds(0)) {
        node.fail("window", "must be a whole number of seconds");
    }
    if (window > std::chrono::hours(24)) node.fail("window", "must be at most 24h");
    limits.window = std::chrono::duration_cast<std::chrono::seconds>(window);
    limits.max_per_address =
        static_cast<std::uint32_t>(node.integer("max_per_address", limits.max_per_address, 0, 1'000'000));
    limits.max_per_credential = static_cast<std::uint32_t>(
        node.integer("max_per_credential", limits.max_per_credential, 0, 1'000'000));
    limits.max_tracked = static_cast<std::size_t>(
        node.integer("max_tracked", static_cast<std::int64_t>(limits.max_tracked), 1, 10'000'000));
    return limits;
}

}  // namespace relay::auth
