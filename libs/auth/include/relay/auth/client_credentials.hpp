#pragma once

#include <string>
#include <string_view>
#include <variant>

namespace relay::auth {

/// An OAuth2 client-credentials token request (RFC 6749 §4.4), as Ocean sends it: form fields
/// `grant_type=client_credentials&client_id=..&client_secret=..[&scope=..]`, or the id and secret in a
/// Basic header. `grant_type` may also come in the query string (seen in Ocean's own token endpoint).
struct TokenRequest {
    std::string client_id;
    std::string client_secret;
    std::string scope;
};

/// RFC 6749 §5.2 error codes.
struct TokenRequestError {
    std::string error;        ///< invalid_request | invalid_client | unsupported_grant_type
    std::string description;  ///< safe to return to the caller: names fields, never values
};

std::variant<TokenRequest, TokenRequestError> parse_token_request(std::string_view content_type,
                                                                  std::string_view body,
                                                                  std::string_view authorization,
                                                                  std::string_view query);

}  // namespace relay::auth
