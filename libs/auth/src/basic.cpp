#include "relay/auth/basic.hpp"

#include <strings.h>

#include "relay/core/encoding.hpp"

namespace relay::auth {
namespace {

std::optional<std::string_view> after_scheme(std::string_view header, std::string_view scheme) {
    if (header.size() <= scheme.size() + 1) return std::nullopt;
    if (strncasecmp(header.data(), scheme.data(), scheme.size()) != 0 || header[scheme.size()] != ' ') {
        return std::nullopt;
    }
    std::string_view rest = header.substr(scheme.size() + 1);
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    while (!rest.empty() && rest.back() == ' ') rest.remove_suffix(1);
    if (rest.empty()) return std::nullopt;
    return rest;
}

}  // namespace

std::optional<BasicCredentials> parse_basic(std::string_view authorization) {
    auto encoded = after_scheme(authorization, "Basic");
    if (!encoded) return std::nullopt;
    auto decoded = base64_decode(*encoded);
    if (!decoded) return std::nullopt;
    const auto colon = decoded->find(':');
    if (colon == std::string::npos) return std::nullopt;
    return BasicCredentials{decoded->substr(0, colon), decoded->substr(colon + 1)};
}

std::optional<std::string_view> parse_bearer(std::string_view authorization) {
    return after_scheme(authorization, "Bearer");
}

}  // namespace relay::auth
