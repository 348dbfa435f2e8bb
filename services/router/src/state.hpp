// The router's per-referral memory: which messages it has already processed (Ocean retries for 96 h,
// resends, replays) and what the receiver side looked like, so that Ocean's echo of our own updates
// is recognised (ocean-api.md §8 "Echo / loops", "Idempotency key").
//
// Partitioned like ocean.inbound.v1 (one PartitionStore per owned partition) and written to the
// compacted relay.referrals.state.v1 (key = referral ref, value = the latest bundle, the state itself in
// the `relay-state` header) from which a new owner restores it. Holds no patient data: hashes, message
// keys and receiver-side status strings only.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "relay/contracts/pushed.hpp"
#include "relay/transform/pushed.hpp"
#include "relay/transform/referral.hpp"

namespace relay::router {

/// ocean-api.md §8 [P]: sha256(site | referral ref | event | MessageHeader.id or Bundle.id |
/// Bundle.timestamp), hex. The same Ocean message (a retry, a plain duplicate, a replay of the topic) gives
/// the same key; a resend is a new message (new MessageHeader id) and a new key. `site` is the site the
/// record is routed for (the authenticated integration's); the one-argument form uses the payload's.
std::string idempotency_key(const transform::Referral& referral, std::string_view site);
std::string idempotency_key(const transform::Referral& referral);

/// A FHIR instant / dateTime with a time and an offset ("2025-05-27T11:45:06.783-04:00", "...Z"; any
/// number of fraction digits) as milliseconds since the epoch; nullopt for anything else (a bare date,
/// no offset, out-of-range fields).
std::optional<std::int64_t> parse_fhir_instant_ms(std::string_view text);

/// Ocean's clock for this version of the referral, in ms since the epoch; nullopt if the bundle carries
/// none. Measured over the real v0.11.1 fixtures, the v0.10/v0.11 test samples and ocean-sim's
/// generator: Bundle.timestamp is present in every one of them (with milliseconds and Toronto's offset,
/// which changes with DST: hence compared as instants, never as text), and a resend of the same referral
/// gets a later one; Bundle.meta.lastUpdated is present and equal to it wherever seen; MessageHeader and
/// ServiceRequest carry no meta.lastUpdated at all (their meta holds only profile / security), and
/// ServiceRequest.authoredOn is the referral's creation, the same on every version. So: Bundle.timestamp,
/// else Bundle.meta.lastUpdated, else none (the version is then taken in as before, unordered).
std::optional<std::int64_t> ocean_time_ms(const transform::Referral& referral);

/// What the referral says, without the message envelope (ids, timestamp, event, reason) and without the
/// receiver side (Tasks, Appointments, Communications): equal fingerprints = the same referral content.
std::string content_fingerprint(const transform::Referral& referral);

/// The receiver side as a sorted set of comparable items ("task|accepted|", "appointment|id|booked|...",
/// "communication|id"): the echo test compares these.
std::vector<std::string> receiver_items(const std::vector<transform::Task>& tasks,
                                        const std::vector<transform::Appointment>& appointments,
                                        const std::vector<transform::Communication>& communications);
std::vector<std::string> receiver_items(const transform::Referral& referral);

// The updater's record of what it pushed (relay/transform/pushed.hpp): shared with the updater, which
// writes it, with the `kind` header's value that marks it (relay/contracts/pushed.hpp).
using contracts::kPushedKind;
using transform::decode_pushed;
using transform::encode_pushed;
using transform::PushedUpdate;

struct SeenKey {
    std::string key;
    std::int64_t at = 0;  ///< seconds since the epoch
    bool operator==(const SeenKey&) const = default;
};

struct ReferralState {
    std::vector<SeenKey> seen;          ///< oldest first
    std::string content;                ///< content_fingerprint of the last bundle taken in (hex)
    std::vector<std::string> receiver;  ///< receiver_items of the last bundle taken in
    std::vector<std::string> pushed;    ///< items pushed by the updater that Ocean has not echoed yet
    std::int64_t updated_at = 0;
    /// ocean_time_ms of the latest version taken in (0 = unknown: none yet, none in the bundles, or a
    /// changelog record written before this was kept). An older version never replaces it.
    std::int64_t ocean_ms = 0;
    bool operator==(const ReferralState&) const = default;
};

/// The `relay-state` header of a changelog record (compact JSON, versioned).
std::string encode_state(const ReferralState& state);
std::optional<ReferralState> decode_state(std::string_view json);

struct DedupPolicy {
    /// Longer than Ocean's 96 hours of retries.
    std::chrono::seconds window{std::chrono::hours(100)};
    /// Per referral; the oldest keys go first.
    std::size_t max_keys = 256;
    bool suppress_echo = true;
    /// A referral with no message for this long is forgotten (memory and changelog): a later message
    /// about it is then simply new. At least `window`, so no duplicate slips through.
    std::chrono::seconds retention{std::chrono::hours(24 * 30)};
    /// An Ocean time further ahead of ours than this orders nothing (as if absent): one bundle with a
    /// wrong clock must not make every later version of its referral look stale.
    std::chrono::seconds max_clock_skew{std::chrono::hours(1)};
};

enum class Verdict {
    kDeliver,    ///< new: route and deliver
    kDuplicate,  ///< the same message again (retry, duplicate, replay): drop
    kEcho,       ///< Ocean reflecting only what the updater pushed: drop
    /// Older (by Ocean's clock) than the latest version taken in: a late retry or resend. Never replaces
    /// the state or the latest bundle; delivered only where a destination asks for stale versions.
    kStale,
};
const char* to_string(Verdict verdict);

/// The states of the referrals of one inbound partition. Touched from one thread only.
class PartitionStore {
   public:
    explicit PartitionStore(DedupPolicy policy) : policy_(policy) {}

    /// Decides what an inbound message is and records it (a kDuplicate changes nothing; a kStale only
    /// remembers its key, so its own retries are duplicates). `now` in seconds since the epoch.
    Verdict take(const transform::Referral& referral, const std::string& key, std::int64_t now);

    /// The updater pushed these items: Ocean's echo of them will not be delivered.
    void record_pushed(const PushedUpdate& pushed, std::int64_t now);

    [[nodiscard]] const ReferralState* find(std::string_view referral_ref) const;
    /// From the changelog (the last record per referral wins).
    void restore(std::string referral_ref, ReferralState state);
    void erase(std::string_view referral_ref);
    /// Forgets every referral idle longer than the retention; returns their refs (for tombstones).
    std::vector<std::string> evict_idle(std::int64_t now);
    [[nodiscard]] std::size_t size() const { return states_.size(); }

   private:
    ReferralState& slot(const std::string& referral_ref);
    void remember(ReferralState& state, const std::string& key, std::int64_t now) const;

    DedupPolicy policy_;
    std::unordered_map<std::string, ReferralState> states_;
};

}  // namespace relay::router
