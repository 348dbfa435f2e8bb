// The document request: the router asks the fetcher for the documents (the referral letter, the
// attachments) a FHIR referral's DocumentReferences point to, for one destination that wants them
// delivered after the referral.
//
// Topic: `relay.documents.v1` (topics.prefix prepended). Key: the referral ref (a referral's requests
// stay in order on one partition). Value: JSON, ids and Ocean's URLs only, no patient data:
//   {"site": "1234", "referral_ref": "...", "destination": "clinic-emr", "event": "add-service-request",
//    "documents": [{"id": "...", "url": "https://…/$binary", "content_type": "application/pdf"}]}
// Headers: kKind = kDocumentRequestKind, kSite, kReferralRef, kDestination, kTraceparent.
//
// Each fetched document becomes a record on relay.deliveries.v1 with the referral's delivery key
// (`<destination>|<ref>`, so the delivery service sends it after the referral), the document's bytes as
// the value, its media type, event kDocumentEvent and the header kDocumentId.
//
// Inline (a destination with `documents: inline`): the referral's delivery itself waits here for its
// documents. Same topic and key; value = the rendered payload (patient data: the topic must be sealed at
// rest); headers = the delivery's own headers (destination, format, content-type, idempotency-key, ...)
// plus kKind = kDocumentInlineKind and kDocumentsHeader = the JSON array of the documents
// [{"id", "url", "content_type"}]. The fetcher fetches them, embeds their bytes in the payload
// (relay/transform/embed.hpp) and writes the delivery with the same headers minus those two; a document
// it could not get is left out and counted in kDocumentsMissingHeader: the referral is delivered anyway.
#pragma once

#include <string_view>

namespace relay::contracts::documents {

inline constexpr std::string_view kDefaultTopic = "relay.documents.v1";
/// The `kind` header's value on a document request.
inline constexpr std::string_view kDocumentRequestKind = "document-request";
/// The `event` header's value on a document's delivery (X-Relay-Event for the hub system).
inline constexpr std::string_view kDocumentEvent = "referral-document";
/// Header on a document's delivery: the DocumentReference id; delivery sends it as X-Relay-Document-Id.
inline constexpr std::string_view kDocumentIdHeader = "document-id";
/// The `kind` header's value on a delivery waiting for its documents (inline).
inline constexpr std::string_view kDocumentInlineKind = "document-inline";
/// Header on an inline request: its documents, [{"id", "url", "content_type"}].
inline constexpr std::string_view kDocumentsHeader = "documents";
/// Header on an inline delivery: how many documents were embedded / could not be fetched.
inline constexpr std::string_view kDocumentsInlinedHeader = "documents-inlined";
inline constexpr std::string_view kDocumentsMissingHeader = "documents-missing";

}  // namespace relay::contracts::documents
