// Order per (destination, referral): the durable part.
//
// While a key's head record waits in a delay tier, the key's later records are parked behind it in the
// compacted changelog relay.deliveries.parked.v1 (co-partitioned with relay.deliveries.v1: same partition
// number), so their offsets on the deliveries topic can be committed without losing them, and so the
// order survives restarts and rebalances. The changelog holds, per key K = "<destination>|<referral>":
//   K           → the head: its token and where its body is now (a delay tier, or the changelog itself
//                 once a parked record was released and is being delivered); a tombstone when the key
//                 is clear;
//   K#<token>   → one parked record (its body and headers), a tombstone once it left.
// Parked records are kept in changelog order, which is their arrival order because a key's steps are
// serialised. A token is "<partition>:<offset>" of the record's first appearance on the deliveries
// topic, so a record re-read after a crash is recognised.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace relay::delivery_service {

enum class HeadLocation {
    kTier,    ///< in a delay tier; it comes back to the deliveries topic with its park-token header
    kParked,  ///< released from the changelog (K#token), being delivered
};

struct ParkedRecord {
    std::string token;
    std::int64_t offset = -1;  ///< its offset in the changelog partition
};

/// What the changelog says about one key.
struct ParkedKey {
    std::string head_token;
    HeadLocation location = HeadLocation::kTier;
    std::int64_t head_offset = -1;     ///< kParked: the changelog offset of K#head_token
    std::deque<ParkedRecord> waiting;  ///< parked behind the head, oldest first
};

/// "<partition>:<offset>"
std::string make_token(std::int32_t partition, std::int64_t offset);
std::string parked_record_key(std::string_view key, std::string_view token);

std::string encode_head(std::string_view token, HeadLocation location);
struct HeadInfo {
    std::string token;
    HeadLocation location = HeadLocation::kTier;
};
std::optional<HeadInfo> decode_head(std::string_view value);

/// Rebuilds the keys of one changelog partition from its records, fed in offset order. A key whose head
/// record is missing but which still has parked records gets its oldest one as a released head (the
/// changelog was cut between two writes); a head whose own parked record is gone is dropped with a
/// warning count (nothing can be sent for it).
class ParkingRestore {
   public:
    /// `value` empty optional = tombstone.
    void add(std::string_view key, std::optional<std::string_view> value, std::int64_t offset);
    std::map<std::string, ParkedKey> finish();
    /// Records that could not be understood or heads whose body was gone.
    [[nodiscard]] int anomalies() const { return anomalies_; }

   private:
    std::map<std::string, HeadInfo> heads_;
    std::map<std::string, std::map<std::string, std::int64_t>> parked_;  // key → token → offset
    int anomalies_ = 0;
};

}  // namespace relay::delivery_service
