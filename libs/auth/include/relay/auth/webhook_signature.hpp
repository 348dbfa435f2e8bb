#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "relay/core/time.hpp"

namespace relay::auth {

/// Standard Webhooks signatures (standardwebhooks.com): headers `webhook-id`, `webhook-timestamp`
/// (unix seconds) and `webhook-signature` (space-separated `v1,<base64 HMAC-SHA256>` entries) over
/// `{id}.{timestamp}.{body}`. Used by hub systems and tests; Ocean does not sign its webhooks.
enum class SignatureCheck {
    kValid,
    kMissingHeaders,
    kBadTimestamp,      ///< not an integer
    kOutsideTolerance,  ///< too old or too far in the future: a replay or a skewed clock
    kNoMatch,           ///< no v1 signature matched
};

const char* to_string(SignatureCheck check);

/// `key` is the raw secret bytes (a `whsec_` prefix, if configured, is decoded by the caller's config).
std::string sign_webhook(std::string_view key,
                         std::string_view id,
                         std::string_view timestamp,
                         std::string_view body);

SignatureCheck verify_webhook(std::string_view key,
                              std::string_view id,
                              std::string_view timestamp,
                              std::string_view signature_header,
                              std::string_view body,
                              SystemTime now,
                              std::chrono::seconds tolerance);

}  // namespace relay::auth
