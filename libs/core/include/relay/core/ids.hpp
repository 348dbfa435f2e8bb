#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace relay {

/// A random RFC 4122 version-4 UUID in canonical lower-case form; used as the message id the ingress
/// gives every accepted request. Thread-safe.
std::string new_message_id();

/// W3C Trace Context `traceparent` (version 00).
struct TraceParent {
    std::string trace_id;  ///< 32 lower-case hex digits, not all zero
    std::string span_id;   ///< 16 lower-case hex digits, not all zero
    std::string flags = "01";

    /// Parses a header value; nullopt if it does not follow the spec (then a new trace starts).
    static std::optional<TraceParent> parse(std::string_view header);
    /// A new root trace with a random trace id and span id, sampled.
    static TraceParent new_root();
    /// The same trace with a new span id: what this process passes downstream.
    [[nodiscard]] TraceParent child() const;
    [[nodiscard]] std::string to_string() const;
};

}  // namespace relay
