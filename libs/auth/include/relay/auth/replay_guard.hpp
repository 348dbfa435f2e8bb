#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "relay/core/time.hpp"

namespace relay::auth {

/// Remembers the webhook ids of signed requests already accepted, so a captured request cannot be
/// played again while its timestamp is still within the signature tolerance (after that the
/// signature check refuses it anyway). Thread-safe; memory is bounded.
///
/// Only a fixed-size keyed hash of (audience, id) is kept, never the caller's text. An entry lives
/// until its expiry (the request's timestamp + the tolerance); expired entries are pruned on every
/// call, and when the memory is full the entry closest to expiry is dropped (counted in
/// `evictions()`: a non-zero count means the bound is too small for the traffic, since a dropped id
/// could be replayed until it expires).
class ReplayGuard {
   public:
    static constexpr std::size_t kDefaultMaxEntries = 100'000;
    /// Longer ids are malformed (Standard Webhooks ids are short, e.g. "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W").
    static constexpr std::size_t kMaxIdBytes = 256;

    enum class Verdict {
        kFirstSeen,   ///< recorded now
        kReplayed,    ///< already recorded and not expired
        kMalformedId  ///< empty, longer than kMaxIdBytes, or with a control character; nothing recorded
    };

    /// Throws std::invalid_argument if `max_entries` is 0.
    explicit ReplayGuard(std::size_t max_entries = kDefaultMaxEntries);
    ReplayGuard(const ReplayGuard&) = delete;
    ReplayGuard& operator=(const ReplayGuard&) = delete;

    /// Records (audience, id) until `expires_at` unless it is already recorded and unexpired at `now`.
    Verdict remember(std::string_view audience, std::string_view id, SystemTime expires_at, SystemTime now);

    /// Forgets (audience, id): for a request refused after its signature was accepted (e.g. the message
    /// could not be stored), so that the sender's retry with the same id is not taken for a replay.
    void forget(std::string_view audience, std::string_view id);

    /// 1 to kMaxIdBytes bytes, none of them a control character (< 0x20 or 0x7f).
    static bool is_valid_id(std::string_view id);

    [[nodiscard]] std::size_t size() const;
    [[nodiscard]] std::size_t max_entries() const { return max_entries_; }
    /// Unexpired entries dropped to make room, since construction.
    [[nodiscard]] std::uint64_t evictions() const;

   private:
    using Digest = std::array<unsigned char, 16>;
    struct DigestHash {
        std::size_t operator()(const Digest& digest) const;
    };
    using ExpiryIndex = std::multimap<SystemTime, Digest>;

    Digest digest_of(std::string_view audience, std::string_view id) const;
    void prune(SystemTime now);

    const std::size_t max_entries_;
    const std::string key_;  ///< random per instance: the hashes cannot be precomputed or chosen to collide
    mutable std::mutex mutex_;
    std::unordered_map<Digest, ExpiryIndex::iterator, DigestHash> entries_;
    ExpiryIndex by_expiry_;
    std::uint64_t evictions_ = 0;
};

}  // namespace relay::auth
