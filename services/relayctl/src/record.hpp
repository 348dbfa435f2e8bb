// A dead-letter record as relayctl sees it, and the pure rules over it: which records a filter selects,
// what a replay writes (headers and the "replayed" event), time bounds. No Kafka here, so every rule is
// unit-tested without a broker.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "relay/core/time.hpp"
#include "relay/kafka/producer.hpp"

namespace relay::relayctl {

/// Process exit codes: scripts tell "nothing went wrong" from "the command failed" from "you asked for
/// something that cannot be done".
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

/// A usage or configuration mistake (exit code 2); the message names the option and the problem.
class UsageError : public std::runtime_error {
   public:
    using std::runtime_error::runtime_error;
};

inline constexpr std::string_view kDefaultDlqTopic = "relay.deliveries.dlq.v1";
inline constexpr std::string_view kDefaultDeliveriesTopic = "relay.deliveries.v1";
inline constexpr std::string_view kDefaultEventsTopic = "relay.events.v1";
/// The router's dead letters (what Ocean sent that it did not route) and where their replays go
/// (`--inbound`): a replayed record is routed again by the router.
inline constexpr std::string_view kInboundDlqTopic = "relay.inbound.dlq.v1";
inline constexpr std::string_view kInboundTopic = "ocean.inbound.v1";

/// One record of the DLQ topic: "<partition>:<offset>".
struct RecordRef {
    std::int32_t partition = 0;
    std::int64_t offset = 0;
    auto operator<=>(const RecordRef&) const = default;
};

/// "3:1042" → {3, 1042}; nullopt if malformed (negative numbers, missing colon, trailing text).
std::optional<RecordRef> parse_record_ref(std::string_view text);
std::string to_string(const RecordRef& ref);

/// A record read from the DLQ topic. `value` may hold PHI: it is printed only on the operator's explicit
/// request (--show-body) and otherwise only produced back to Kafka by a replay.
struct DlqRecord {
    std::int32_t partition = 0;
    std::int64_t offset = 0;
    /// The record's own timestamp (ms since the epoch), -1 if it has none.
    std::int64_t timestamp_ms = -1;
    std::string key;
    std::string value;
    /// The value's size; kept when the value itself is not (listing does not hold bodies in memory).
    std::size_t value_size = 0;
    std::vector<kafka::Header> headers;

    [[nodiscard]] RecordRef ref() const { return {partition, offset}; }
    /// The last header with that name, "" if absent.
    [[nodiscard]] std::string header(std::string_view name) const;
    [[nodiscard]] bool has_header(std::string_view name) const;
    /// The `destination` header, else the key's part before '|'.
    [[nodiscard]] std::string destination() const;
    /// The `referral-ref` header, else the key's part after '|'.
    [[nodiscard]] std::string referral_ref() const;
    /// When it was dead-lettered: the `dlq-at` header, else the record timestamp; nullopt if neither.
    [[nodiscard]] std::optional<SystemTime> dead_lettered_at() const;
    /// An inbound record (the router's DLQ): the ingress's `kind` header and no destination. Its replay
    /// is the record Ocean sent, so it gets none of the delivery service's per-run state.
    [[nodiscard]] bool is_inbound() const;
};

/// RFC 3339 ("2026-11-24T15:17:05.123Z", "2026-11-24T10:17:05-05:00", fraction optional, 't'/'z' or a
/// space separator accepted) or a bare date "2026-11-24" (midnight UTC). nullopt if malformed.
std::optional<SystemTime> parse_rfc3339(std::string_view text);

/// A --since / --until value: RFC 3339 (as above), or an age counted back from `now`: "90s", "30m",
/// "2h", "7d". Throws UsageError naming `option` if it is neither.
SystemTime parse_time_bound(std::string_view option, std::string_view text, SystemTime now);

/// Which records a command applies to. Values within one kind are alternatives (two --destination
/// options select either destination); different kinds must all hold.
struct Filter {
    std::vector<std::string> destinations;
    std::vector<std::string> referrals;
    /// The `event` header (Ocean's event code), e.g. the one a router did not handle.
    std::vector<std::string> events;
    /// The `site` header (the Ocean site the record came from or is for).
    std::vector<std::string> sites;
    /// Both bounds inclusive, compared with dead_lettered_at(); a record without a time never matches
    /// a time bound.
    std::optional<SystemTime> since;
    std::optional<SystemTime> until;
    std::vector<RecordRef> records;
    /// Case-insensitive substring of `dlq-reason` ("exhausted" matches "retries exhausted").
    std::optional<std::string> reason;

    /// No criterion at all: selects every record.
    [[nodiscard]] bool empty() const;
    [[nodiscard]] bool matches(const DlqRecord& record) const;
    /// Throws UsageError if the bounds are reversed.
    void validate() const;
};

/// The headers of the replayed delivery: every header of the DLQ record except the DLQ step's
/// (`dlq-*`) and the delivery service's per-hop state (`park-token`, `due`, `first-attempt-at`,
/// `attempt`, earlier `replayed-*`), then `attempt: 0`, `replayed-from: <dlq topic>/<p>/<o>` and
/// `replayed-at`. `idempotency-key` passes through unchanged, so a destination that already took the
/// record recognises the replay. An inbound record (is_inbound) gets no `attempt`: every other header
/// it came with is kept, so the router reads it as the ingress wrote it.
std::vector<kafka::Header> replay_headers(const DlqRecord& record,
                                          std::string_view dlq_topic,
                                          std::string_view replayed_at);

/// The "replayed" outcome for relay.events.v1 (JSON), and its headers.
std::string replayed_event(const DlqRecord& record, std::string_view dlq_topic, std::string_view at);
std::vector<kafka::Header> replayed_event_headers(const DlqRecord& record);

}  // namespace relay::relayctl
