#include "relay/auth/client_credentials.hpp"

#include <optional>

#include "relay/auth/basic.hpp"
#include "relay/core/encoding.hpp"

namespace relay::auth {
namespace {

struct FormFields {
    std::optional<std::string> grant_type, client_id, client_secret, scope;
};

// Parses a=b&c=d; false on a malformed escape or a repeated parameter (RFC 6749 §3.2: MUST NOT repeat).
bool parse_form(std::string_view text, FormFields& fields) {
    while (!text.empty()) {
        const auto amp = text.find('&');
        std::string_view pair = text.substr(0, amp);
        text = amp == std::string_view::npos ? std::string_view() : text.substr(amp + 1);
        if (pair.empty()) continue;
        const auto eq = pair.find('=');
        auto name = form_url_decode(pair.substr(0, eq));
        auto value = form_url_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
        if (!name || !value) return false;
        std::optional<std::string>* slot = nullptr;
        if (*name == "grant_type") slot = &fields.grant_type;
        if (*name == "client_id") slot = &fields.client_id;
        if (*name == "client_secret") slot = &fields.client_secret;
        if (*name == "scope") slot = &fields.scope;
        if (slot == nullptr) continue;
        if (slot->has_value()) return false;
        *slot = std::move(*value);
    }
    return true;
}

bool is_form(std::string_view content_type) {
    constexpr std::string_view kForm = "application/x-www-form-urlencoded";
    if (content_type.size() < kForm.size()) return false;
    for (std::size_t i = 0; i < kForm.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(content_type[i])) != kForm[i]) return false;
    }
    return content_type.size() == kForm.size() || content_type[kForm.size()] == ';' ||
           content_type[kForm.size()] == ' ';
}

}  // namespace

bool is_valid_scope_token(std::string_view token) {
    if (token.empty() || token.size() > kMaxScopeBytes) return false;
    for (const char ch : token) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x21 || c > 0x7e || c == 0x22 || c == 0x5c) return false;
    }
    return true;
}

bool is_valid_scope(std::string_view scope) {
    if (scope.size() > kMaxScopeBytes) return false;
    if (scope.empty()) return true;
    while (true) {
        const auto space = scope.find(' ');
        if (!is_valid_scope_token(scope.substr(0, space))) return false;  // also "a  b", " a", "a "
        if (space == std::string_view::npos) return true;
        scope.remove_prefix(space + 1);
    }
}

std::variant<TokenRequest, TokenRequestError> parse_token_request(std::string_view content_type,
                                                                  std::string_view body,
                                                                  std::string_view authorization,
                                                                  std::string_view query) {
    FormFields body_fields;
    if (!body.empty()) {
        if (!is_form(content_type)) {
            return TokenRequestError{"invalid_request", "the body must be application/x-www-form-urlencoded"};
        }
        if (!parse_form(body, body_fields)) {
            return TokenRequestError{"invalid_request", "malformed or repeated form parameter"};
        }
    }
    FormFields query_fields;
    if (!parse_form(query, query_fields)) {
        return TokenRequestError{"invalid_request", "malformed or repeated query parameter"};
    }
    const auto grant_type = body_fields.grant_type ? body_fields.grant_type : query_fields.grant_type;
    if (!grant_type) return TokenRequestError{"invalid_request", "grant_type is missing"};
    if (*grant_type != "client_credentials") {
        return TokenRequestError{"unsupported_grant_type", "only client_credentials is supported"};
    }

    TokenRequest request;
    request.scope = body_fields.scope ? *body_fields.scope : query_fields.scope.value_or("");
    const auto basic = authorization.empty() ? std::nullopt : parse_basic(authorization);
    if (!authorization.empty() && !basic) {
        return TokenRequestError{"invalid_client", "unsupported Authorization header"};
    }
    if (basic && (body_fields.client_id || body_fields.client_secret)) {
        // RFC 6749 §2.3: a client MUST NOT use more than one authentication method per request.
        return TokenRequestError{"invalid_request",
                                 "client credentials given both in a header and in the body"};
    }
    if (basic) {
        // §2.3.1: id and secret are form-encoded before they are put in the Basic header.
        auto id = form_url_decode(basic->user);
        auto secret = form_url_decode(basic->password);
        if (!id || !secret) return TokenRequestError{"invalid_client", "malformed Basic credentials"};
        request.client_id = std::move(*id);
        request.client_secret = std::move(*secret);
    } else {
        if (!body_fields.client_id || !body_fields.client_secret) {
            return TokenRequestError{"invalid_client", "client_id and client_secret are required"};
        }
        request.client_id = std::move(*body_fields.client_id);
        request.client_secret = std::move(*body_fields.client_secret);
    }
    // After the credential checks, so a request without credentials is invalid_client (401) whatever
    // its scope. The scope is not repeated in the description: it is the caller's text.
    if (!is_valid_scope(request.scope)) {
        return TokenRequestError{"invalid_scope",
                                 "the scope is longer than 1024 bytes or not RFC 6749 scope syntax"};
    }
    return request;
}

}  // namespace relay::auth
