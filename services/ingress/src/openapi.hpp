// Ocean's Open API / Patient Engagement webhook (ocean-api.md §4.2, §5.1), the pure part: what a body is
// (Ocean's validation challenge or a notification envelope), the key a request presents, the per-address
// rate limit and the memory of notifications already stored. No sockets, no Kafka here; the tests drive
// it directly. The ingress admits a request in ingress.cpp (method, rate limit, key, media type, body
// limit) and handles it in openapi.cpp (Ingress::handle_openapi: challenge echo, envelope checks, replay
// window, the record published to the notification topic).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>

namespace relay::ingress::openapi {

using SteadyTime = std::chrono::steady_clock::time_point;

/// Ocean's validation call: a JSON object with a `challenge` string, echoed back.
struct Challenge {
    std::string value;  ///< 1-256 printable ASCII characters
};

/// The notification envelope `{ref, siteNum, type, changeList, user, customProperties}`; only the members
/// the relay routes on are read, the body is published as it came.
struct Notification {
    std::string ref;         ///< 1-64 of [A-Za-z0-9._:-]
    std::string site;        ///< siteNum, as digits (Ocean sends a string or a number)
    std::string type;        ///< 1-128 of [A-Za-z0-9._-], as sent; opaque
    std::string session_id;  ///< customProperties.oceanSessionId, empty when absent
};

/// A body the relay refuses (400). `error` is a machine code, `detail` names the member and what it must
/// be; neither ever repeats the caller's values.
struct BodyError {
    std::string error;
    std::string detail;
};

inline constexpr std::size_t kMaxChallenge = 256;
inline constexpr std::size_t kMaxRef = 64;
inline constexpr std::size_t kMaxSite = 16;
inline constexpr std::size_t kMaxType = 128;
inline constexpr std::size_t kMaxSessionId = 64;

/// Parses and checks a body (the whole document must be valid JSON; a member the relay reads given twice
/// in one object is an error). `capacity` is the bytes readable from body.data(): with
/// simdjson::SIMDJSON_PADDING of them past the end the body is parsed in place, else copied.
std::variant<Challenge, Notification, BodyError> parse_body(std::string_view body, std::size_t capacity);

/// The metric label of a notification type: the Patient Engagement types and Ocean's eReferral
/// notify-referral-* types by name (ocean-api.md §4.2, §5.1), anything else "other".
std::string_view type_label(std::string_view type);

/// The value of query parameter `name` in `query` (without '?'), form-decoded; nullopt if absent or
/// badly encoded. The first occurrence counts.
std::optional<std::string> query_parameter(std::string_view query, std::string_view name);

/// The key of the replay window: integration, type (lower case), ref and session id.
std::string replay_key(std::string_view integration,
                       std::string_view type,
                       std::string_view ref,
                       std::string_view session_id);

/// Requests per client address as token buckets (`per_minute` refill, `burst` capacity). Memory is
/// bounded: past `max_tracked` addresses the one seen least recently is forgotten (it starts over with
/// a full bucket). Thread-safe.
class RateLimiter {
   public:
    RateLimiter(double per_minute, double burst, std::size_t max_tracked);
    /// Takes one token for `address`: nullopt if it had one, else how long until it has (at least 1s).
    std::optional<std::chrono::seconds> take(const std::string& address, SteadyTime now);
    [[nodiscard]] std::size_t tracked() const;

   private:
    struct Bucket {
        double tokens;
        SteadyTime updated;
        std::list<std::string>::iterator position;  // in recent_, most recent first
    };
    const double per_second_;
    const double burst_;
    const std::size_t max_tracked_;
    mutable std::mutex mutex_;
    std::list<std::string> recent_;
    std::unordered_map<std::string, Bucket> buckets_;
};

/// The notifications stored within the replay window: remembered once the broker acknowledged them,
/// forgotten when the window has passed or, past `capacity`, the oldest first. Keys are kept as 16-byte
/// digests. `capacity` 0 or a zero window remembers nothing. Thread-safe.
class NotificationMemory {
   public:
    NotificationMemory(std::chrono::milliseconds window, std::size_t capacity);
    [[nodiscard]] bool seen(std::string_view key, SteadyTime now);
    void remember(std::string_view key, SteadyTime now);
    [[nodiscard]] std::size_t size() const;
    [[nodiscard]] bool enabled() const { return window_.count() > 0 && capacity_ > 0; }

   private:
    void prune(SteadyTime now);
    struct Entry {
        std::string digest;
        SteadyTime at;
    };
    const std::chrono::milliseconds window_;
    const std::size_t capacity_;
    mutable std::mutex mutex_;
    std::list<Entry> order_;  // oldest first
    std::unordered_map<std::string, std::list<Entry>::iterator> index_;
};

}  // namespace relay::ingress::openapi
