#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace relay::auth {

struct BasicCredentials {
    std::string user;
    std::string password;
};

/// Parses `Authorization: Basic <base64(user:password)>` (scheme case-insensitive); nullopt otherwise.
std::optional<BasicCredentials> parse_basic(std::string_view authorization);

/// The token of `Authorization: Bearer <token>` (scheme case-insensitive); nullopt otherwise.
std::optional<std::string_view> parse_bearer(std::string_view authorization);

}  // namespace relay::auth
