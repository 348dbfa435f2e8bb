#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace relay::auth {

using SteadyTime = std::chrono::steady_clock::time_point;

struct FailureLimits {
    /// A key's failures are counted from its first failure for this long; reaching the maximum within
    /// it blocks the key for another `window` from that moment.
    std::chrono::seconds window{60};
    std::uint32_t max_per_address = 30;      ///< 0 = addresses are not limited
    std::uint32_t max_per_credential = 100;  ///< 0 = credentials are not limited
    /// Keys remembered at most (both kinds together); each costs about 200 bytes.
    std::size_t max_tracked = 20000;
};

/// Slows down guessers: counts failed authentications per client address and per credential id
/// (e.g. "<integration>/<user>" from Authenticator::claimed_credential) and blocks a key that fails
/// too often, for one window.
///
/// The caller asks `blocked()` before checking credentials (and answers 429 with Retry-After without
/// checking them when it says so), and calls `record_failure()` after a failed check. There is
/// deliberately no "record success": a success does not reset a key's count, so a caller who knows one
/// valid credential cannot clear its address's count between guesses at another.
///
/// Keys are kept as keyed hashes (random key per instance), never as the caller's text; episodes carry
/// a short tag of the key that is safe to log and correlates an episode's start and end, but cannot
/// be turned back into the address or credential. Memory is bounded by `max_tracked`: expired keys
/// go first, then the keys that are counting but not blocked (the oldest count first), and a blocked
/// key only when every tracked key is blocked — so flooding with fresh addresses does not unblock a
/// credential under attack. Thread-safe (one mutex).
class FailureLimiter {
   public:
    enum class Scope { kAddress, kCredential };

    struct Blocked {
        Scope scope;
        std::chrono::seconds retry_after;  ///< at least 1s
    };
    /// A key that just became blocked.
    struct Episode {
        Scope scope;
        std::uint32_t failures = 0;  ///< counted in the window that reached the maximum
        std::string tag;             ///< 8 hex characters of a keyed hash of the key; safe to log
    };
    /// A key whose block ended (its window passed, or its memory was needed).
    struct EndedEpisode {
        Scope scope;
        std::uint32_t failures = 0;  ///< counted in the window and during the block
        std::uint64_t refused = 0;   ///< `blocked()` answers for this key during the block
        std::chrono::seconds blocked_for{0};
        bool evicted = false;  ///< ended early to make room for other keys
        std::string tag;
    };

    /// Throws std::invalid_argument if `window` is not positive or `max_tracked` is 0.
    explicit FailureLimiter(FailureLimits limits);
    FailureLimiter(const FailureLimiter&) = delete;
    FailureLimiter& operator=(const FailureLimiter&) = delete;

    /// Whether the address or the credential id is blocked now (empty strings are not looked up). When
    /// both are, the longer wait is returned.
    std::optional<Blocked> blocked(std::string_view address, std::string_view credential_id, SteadyTime now);

    /// Counts one failure for the address and for the credential id (empty strings are skipped).
    /// Returns the episodes this failure starts (at most one per key; usually none), to log once and count.
    std::vector<Episode> record_failure(std::string_view address,
                                        std::string_view credential_id,
                                        SteadyTime now);

    /// Episodes that ended since the last call, oldest first, each once; at most `max_tracked` are kept
    /// between calls. Call it from time to time (e.g. with every blocked() or from a timer).
    std::vector<EndedEpisode> take_ended_episodes(SteadyTime now);

    [[nodiscard]] std::size_t tracked() const;
    [[nodiscard]] const FailureLimits& limits() const { return limits_; }

    /// "address" | "credential" (for log fields and metric labels).
    static const char* to_string(Scope scope);

   private:
    using Key = std::array<unsigned char, 16>;
    struct KeyHash {
        std::size_t operator()(const Key& key) const;
    };
    using Index = std::multimap<SteadyTime, Key>;
    struct Entry {
        Scope scope;
        std::array<unsigned char, 4> tag;
        std::uint32_t failures = 0;
        std::uint64_t refused = 0;
        bool is_blocked = false;
        SteadyTime blocked_since;
        Index::iterator position;  ///< in counting_ (by window end) or blocked_ (by block end)
    };
    struct HashedKey {
        Key key;
        std::array<unsigned char, 4> tag;
    };

    HashedKey hash(Scope scope, std::string_view text) const;
    std::uint32_t max_for(Scope scope) const;
    void prune(SteadyTime now);
    void end_episode(const Entry& entry, SteadyTime end, bool evicted);
    void erase(std::unordered_map<Key, Entry, KeyHash>::iterator it);
    Entry& find_or_add(const HashedKey& hashed, Scope scope, SteadyTime now);

    const FailureLimits limits_;
    const std::string key_;
    mutable std::mutex mutex_;
    std::unordered_map<Key, Entry, KeyHash> entries_;
    Index counting_;  ///< keys not blocked, by the end of their window
    Index blocked_;   ///< blocked keys, by the end of their block
    std::deque<EndedEpisode> ended_;
};

}  // namespace relay::auth
