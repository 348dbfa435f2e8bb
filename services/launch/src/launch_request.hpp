// Ocean's launch query, read as untrusted input: every parameter bounded and charset-checked, each at
// most once, the names configurable ([P]: Ocean does not publish them). Parameters Ocean adds that we do
// not know are ignored. Pure; a refusal is a reason code that never repeats what was sent.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "config.hpp"

namespace relay::launch {

struct LaunchParameters {
    std::string referral_ref;
    std::string site;
    std::string listing_ref;          ///< "" when not sent
    std::string external_service_id;  ///< "" when not sent
    std::string launch_token;         ///< Ocean's opaque token; "" when not sent. Never logged.
};

/// "missing-parameters" (the referral or site is absent, or the token when it is required) or
/// "malformed-parameters" (bad encoding, too long, a character outside the set, a repeated parameter).
using ParsedLaunch = std::variant<LaunchParameters, std::string>;

ParsedLaunch parse_launch_query(std::string_view query, const ParameterNames& names, bool require_launch_token);

/// A ref as Ocean writes them (UUIDs, numbers): 1-128 characters of [A-Za-z0-9_.:~-].
bool is_valid_ref(std::string_view ref);

}  // namespace relay::launch
