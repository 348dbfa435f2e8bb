// The Kafka header names the services write and read on each other's records: one name, one constant.
// Each says what the header carries, who writes it and who reads it. The values are wire bytes: a change
// here is a change of the contract with every record already in a topic.
#pragma once

#include <string_view>

namespace relay::contracts::header {

// -- every record type ----------------------------------------------------------------------------

/// The referral ref; ingress, router, delivery, updater and relayctl write it, all of them read it.
inline constexpr std::string_view kReferralRef = "referral-ref";
/// The W3C trace context; the ingress starts it, every service copies it onto what it writes next.
inline constexpr std::string_view kTraceparent = "traceparent";
/// The body's media type; ingress (inbound, updates), router (deliveries), delivery (its `received`
/// updates) write it; delivery sends it as the HTTP Content-Type.
inline constexpr std::string_view kContentType = "content-type";
/// When the ingress (or delivery, for a `received` update) took the record in, RFC 3339; for inspection.
inline constexpr std::string_view kReceivedAt = "received-at";

// -- ocean.inbound.v1: the ingress's FHIR records and the updater's pushed records ----------------------

/// The record's kind: "fhir" from the ingress, kPushedKind (pushed.hpp) from the updater; the router
/// reads it, relayctl tells the inbound DLQ's records by it.
inline constexpr std::string_view kKind = "kind";
/// The ingress integration that received the record; ingress writes it, for inspection.
inline constexpr std::string_view kIntegration = "integration";
/// The authenticated Ocean site; ingress and updater write it, router reads it and copies it onto each
/// delivery, delivery reads it for its `received` update, relayctl filters on it.
inline constexpr std::string_view kSite = "site";
/// Ocean's event code (add-service-request, ...); ingress writes it, router reads it and copies it onto each
/// delivery, delivery reads it (X-Relay-Event), relayctl filters on it.
inline constexpr std::string_view kEvent = "event";
/// The webhook's message id; ingress writes it, for inspection.
inline constexpr std::string_view kMessageId = "message-id";
/// The FHIR dialect the ingress recognised; ingress writes it, for inspection.
inline constexpr std::string_view kFhirDialect = "fhir-dialect";
/// "false" when the ingress's configuration does not handle the event; ingress writes it, for inspection.
inline constexpr std::string_view kEventHandled = "event-handled";
/// The target listing's ref; ingress writes it, for inspection.
inline constexpr std::string_view kListingRef = "listing-ref";
/// The target's External Service ID; ingress writes it, for inspection.
inline constexpr std::string_view kExternalServiceId = "external-service-id";
/// The MessageHeader's ext-id-message-header; ingress writes it, for inspection.
inline constexpr std::string_view kMessageHeaderId = "message-header-id";
/// The Bundle's id; ingress writes it, for inspection.
inline constexpr std::string_view kBundleId = "bundle-id";

// -- relay.updates.v1: hub updates (ingress's hub API, delivery's `received`) and the updater's sent markers

/// The hub system an update came from ("delivery:<destination>" for delivery's own); ingress and
/// delivery write it, for inspection.
inline constexpr std::string_view kHubSystem = "hub-system";
/// The update's id; ingress, delivery and updater (pushed records) write it, updater reads it and copies it
/// onto its events.
inline constexpr std::string_view kUpdateId = "update-id";
/// The update's action (accept, received, ...); ingress, delivery and updater (sent markers) write it,
/// updater reads it.
inline constexpr std::string_view kAction = "action";

// -- relay.deliveries.v1 and its delay tiers: router → delivery -------------------------------------

/// The destination id; router writes it, delivery reads it, relayctl reads it (and filters on it).
inline constexpr std::string_view kDestination = "destination";
/// The rendered format (transform::to_string); router writes it, for inspection.
inline constexpr std::string_view kFormat = "format";
/// The delivery's idempotency key; router writes it, delivery sends it as Idempotency-Key, relayctl
/// shows it.
inline constexpr std::string_view kIdempotencyKey = "idempotency-key";
/// Attempts made so far; router writes "0", delivery counts it up, relayctl writes "0" on a replay.
inline constexpr std::string_view kAttempt = "attempt";
/// The inbound record a delivery came from, "<topic>/<partition>/<offset>"; router writes it, for inspection.
inline constexpr std::string_view kSource = "source";
/// "true" on a stale version delivered to a destination that asked for them; router writes it.
inline constexpr std::string_view kStale = "stale";
/// The key's park token a tier record belongs to; delivery writes and reads it, relayctl drops it on replay.
inline constexpr std::string_view kParkToken = "park-token";
/// When a tier record is due, epoch milliseconds; delivery writes it, its tier forwarder reads it,
/// relayctl drops it on replay.
inline constexpr std::string_view kDue = "due";
/// The first attempt's time, epoch milliseconds; delivery writes and reads it, relayctl drops it on replay.
inline constexpr std::string_view kFirstAttemptAt = "first-attempt-at";
/// The last attempt's HTTP status; delivery writes it on tier records, relayctl drops it on replay.
inline constexpr std::string_view kLastStatus = "last-status";
/// The last attempt's reason; delivery writes it on tier records, relayctl drops it on replay.
inline constexpr std::string_view kLastReason = "last-reason";

// -- relay.events.v1 --------------------------------------------------------------------------------

/// The event's outcome (routed, delivered, update-sent, replayed, ...); router, delivery, updater and
/// relayctl write it, for the events' readers.
inline constexpr std::string_view kOutcome = "outcome";

// -- the dead-letter topics: router, delivery and updater write them, relayctl reads them -------------

/// Every DLQ step's header starts with this; relayctl drops all of them on a replay.
inline constexpr std::string_view kDlqPrefix = "dlq-";
/// Why the record was dead-lettered; router, delivery, updater write it, relayctl shows and filters on it.
inline constexpr std::string_view kDlqReason = "dlq-reason";
/// When, RFC 3339; router, delivery, updater write it, relayctl reads it.
inline constexpr std::string_view kDlqAt = "dlq-at";
/// The inbound record's "<topic>/<partition>/<offset>"; router writes it, for inspection.
inline constexpr std::string_view kDlqSource = "dlq-source";
/// A short excerpt (codes, no PHI); router, delivery, updater write it, relayctl shows it.
inline constexpr std::string_view kDlqExcerpt = "dlq-excerpt";
/// The last HTTP status; delivery and updater write it, relayctl shows it.
inline constexpr std::string_view kDlqStatus = "dlq-status";
/// Attempts made; updater writes it, for inspection.
inline constexpr std::string_view kDlqAttempts = "dlq-attempts";
/// The Ocean site of the failed update; updater writes it, for inspection.
inline constexpr std::string_view kDlqSite = "dlq-site";
/// Ocean's OperationOutcome; updater writes it, for inspection.
inline constexpr std::string_view kDlqOperationOutcome = "dlq-operation-outcome";

// -- replays ----------------------------------------------------------------------------------------

/// The DLQ record a replay came from, "<topic>/<partition>/<offset>"; relayctl writes it (and drops it on
/// the next replay).
inline constexpr std::string_view kReplayedFrom = "replayed-from";
/// When the replay was written; relayctl writes it (and drops it on the next replay).
inline constexpr std::string_view kReplayedAt = "replayed-at";

}  // namespace relay::contracts::header
