#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "relay/core/error.hpp"
#include "relay/core/time.hpp"
#include "relay/delivery/clock.hpp"

namespace relay::delivery {

/// What one delivery attempt came to. When it was not delivered, `kind` tells the caller whether to retry
/// (kRetryable), dead-letter (kPermanent) or retry as a timeout whose effect is unknown (kTimeout; the
/// Idempotency-Key makes the repeat safe).
struct Outcome {
    bool delivered = false;
    ErrorKind kind = ErrorKind::kPermanent;  ///< meaningful only when !delivered
    /// A fixed phrase naming the class of the outcome ("server error", "throttled"). Static text, never
    /// response content, so it can go into DLQ headers, logs and metric labels without PHI.
    std::string_view reason;

    friend bool operator==(const Outcome&, const Outcome&) = default;
};

/// The outcome of an HTTP response status:
///   2xx                    delivered
///   408, 425, 429, 5xx     retryable (the same request can succeed later)
///   other 4xx              permanent (the request itself is wrong; repeating it changes nothing)
///   1xx, 3xx               permanent: an interim response is not an answer, and redirects are not followed
///                          for a webhook (the destination URL in the configuration must be fixed)
///   anything else          permanent: not an HTTP status
Outcome classify_status(int status);

/// Failures below HTTP: the request got no response.
enum class TransportError {
    kResolveFailed,       ///< DNS lookup failed
    kConnectRefused,      ///< nobody listening (yet): a restarting destination
    kConnectionReset,     ///< the peer or a proxy dropped the connection mid-exchange
    kTlsHandshakeFailed,  ///< includes certificate verification
    kTimeout,             ///< the request's deadline passed
};

constexpr std::string_view to_string(TransportError error) {
    switch (error) {
        case TransportError::kResolveFailed:
            return "resolve failed";
        case TransportError::kConnectRefused:
            return "connection refused";
        case TransportError::kConnectionReset:
            return "connection reset";
        case TransportError::kTlsHandshakeFailed:
            return "TLS handshake failed";
        case TransportError::kTimeout:
            return "timeout";
    }
    return "unknown transport error";
}

/// Every transport failure is retryable except the deadline, which is kTimeout because the destination
/// may have acted on the request. A failed TLS handshake is retryable too: an expired or rotated
/// certificate is fixed on the other side without us, and the circuit breaker stops the hammering meanwhile.
Outcome classify_transport(TransportError error);

/// Parses a Retry-After header value (RFC 9110 §10.2.3) into a delay from `now`:
///   delta-seconds ("120")                       that many seconds; values past 2^31 s saturate there
///   IMF-fixdate ("Fri, 31 Dec 1999 23:59:59 GMT") the time until that instant, 0 if it has passed
/// Surrounding spaces and tabs are ignored. Anything else, including the obsolete RFC 850 and asctime
/// date forms, is malformed and yields nullopt, so the caller falls back to its own backoff.
/// `now` is wall-clock time because an HTTP date is.
std::optional<Duration> parse_retry_after(std::string_view value, SystemTime now);

}  // namespace relay::delivery
