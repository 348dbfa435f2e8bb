#pragma once

#include <string>
#include <utility>

namespace relay {

/// How the data path classifies a failure: it decides whether a caller retries, gives up, or reports
/// a deadline. Configuration mistakes are not errors of this kind; they throw at start-up.
enum class ErrorKind {
    kRetryable,  ///< transient: broker unavailable, connection reset, 5xx; retry with backoff
    kPermanent,  ///< will fail the same way again: malformed input, message too large, 4xx
    kTimeout,    ///< the deadline passed; the outcome may or may not have happened
    kCancelled,  ///< the operation was abandoned (shutdown)
};

constexpr const char* to_string(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::kRetryable:
            return "retryable";
        case ErrorKind::kPermanent:
            return "permanent";
        case ErrorKind::kTimeout:
            return "timeout";
        case ErrorKind::kCancelled:
            return "cancelled";
    }
    return "unknown";
}

/// An error as a value. `message` never carries payload content (no PHI): only codes, positions and
/// names that we chose.
struct Error {
    ErrorKind kind = ErrorKind::kPermanent;
    std::string message;

    Error() = default;
    Error(ErrorKind k, std::string m) : kind(k), message(std::move(m)) {}
};

}  // namespace relay
