#include "relay/auth/webhook_signature.hpp"

#include <charconv>
#include <string>

#include "relay/core/encoding.hpp"

namespace relay::auth {

const char* to_string(SignatureCheck check) {
    switch (check) {
        case SignatureCheck::kValid:
            return "valid";
        case SignatureCheck::kMissingHeaders:
            return "missing_signature_headers";
        case SignatureCheck::kBadTimestamp:
            return "bad_signature_timestamp";
        case SignatureCheck::kOutsideTolerance:
            return "signature_timestamp_outside_tolerance";
        case SignatureCheck::kNoMatch:
            return "signature_mismatch";
    }
    return "unknown";
}

namespace {

std::string signature_of(std::string_view key,
                         std::string_view id,
                         std::string_view timestamp,
                         std::string_view body) {
    std::string content;
    content.reserve(id.size() + timestamp.size() + body.size() + 2);
    content.append(id).append(".").append(timestamp).append(".").append(body);
    return base64_encode(hmac_sha256(key, content));
}

}  // namespace

std::string sign_webhook(std::string_view key,
                         std::string_view id,
                         std::string_view timestamp,
                         std::string_view body) {
    return "v1," + signature_of(key, id, timestamp, body);
}

SignatureCheck verify_webhook(std::string_view key,
                              std::string_view id,
                              std::string_view timestamp,
                              std::string_view signature_header,
                              std::string_view body,
                              SystemTime now,
                              std::chrono::seconds tolerance) {
    if (id.empty() || timestamp.empty() || signature_header.empty()) return SignatureCheck::kMissingHeaders;
    long long ts = 0;
    auto [ptr, ec] = std::from_chars(timestamp.data(), timestamp.data() + timestamp.size(), ts);
    if (ec != std::errc() || ptr != timestamp.data() + timestamp.size()) return SignatureCheck::kBadTimestamp;
    const long long now_s = unix_seconds(now);
    if (ts < now_s - tolerance.count() || ts > now_s + tolerance.count())
        return SignatureCheck::kOutsideTolerance;

    const std::string expected = signature_of(key, id, timestamp, body);
    bool matched = false;
    std::string_view rest = signature_header;
    while (!rest.empty()) {
        const auto space = rest.find(' ');
        std::string_view entry = rest.substr(0, space);
        rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
        if (!entry.starts_with("v1,")) continue;
        // Keep comparing after a match so timing does not reveal which entry matched.
        matched = constant_time_equals(entry.substr(3), expected) || matched;
    }
    return matched ? SignatureCheck::kValid : SignatureCheck::kNoMatch;
}

}  // namespace relay::auth
