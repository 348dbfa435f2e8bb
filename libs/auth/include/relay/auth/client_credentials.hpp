#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>

namespace relay::auth {

/// The longest `scope` parameter accepted; longer is invalid_scope (the scope ends up in a token).
inline constexpr std::size_t kMaxScopeBytes = 1024;

/// RFC 6749 §3.3: scope-tokens of %x21 / %x23-5B / %x5D-7E separated by single spaces, at most
/// kMaxScopeBytes in all. The empty string (no scope asked for) is valid.
bool is_valid_scope(std::string_view scope);
/// One scope-token (no spaces), as a client's configured scopes must be.
bool is_valid_scope_token(std::string_view token);

/// An OAuth2 client-credentials token request (RFC 6749 §4.4), as Ocean sends it: form fields
/// `grant_type=client_credentials&client_id=..&client_secret=..[&scope=..]`, or the id and secret in a
/// Basic header. `grant_type` may also come in the query string (seen in Ocean's own token endpoint).
struct TokenRequest {
    std::string client_id;
    std::string client_secret;
    std::string scope;  ///< as sent, already checked with is_valid_scope
};

/// RFC 6749 §5.2 error codes.
struct TokenRequestError {
    std::string error;        ///< invalid_request | invalid_client | unsupported_grant_type | invalid_scope
    std::string description;  ///< safe to return to the caller: names fields, never values
};

std::variant<TokenRequest, TokenRequestError> parse_token_request(std::string_view content_type,
                                                                  std::string_view body,
                                                                  std::string_view authorization,
                                                                  std::string_view query);

}  // namespace relay::auth
