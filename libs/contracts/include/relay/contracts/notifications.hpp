// The notification record: what Ocean's Open API / Patient Engagement webhook sent, as the ingress
// published it after the broker's ack, for the fetcher to pull the referral, patient or note it names.
//
// Topic: `ocean.notifications.v1` (topics.prefix prepended). Key: notification_key(site, ref), so every
// notification about one referral or one patient lands on one partition, in order. Value: the request
// body exactly as Ocean sent it (JSON, nothing dropped, unknown members kept). Headers (headers.hpp):
// kKind = kNotificationKind, kSite, kIntegration, kReceivedAt, kTraceparent, kContentType, and the
// envelope fields below, copied out so a reader can route without parsing the body. None carries PHI:
// refs, the site, the type and the session id are identifiers.
#pragma once

#include <string>
#include <string_view>

namespace relay::contracts::notification {

/// The `kind` header's value on a notification record.
inline constexpr std::string_view kKind = "ocean-notification";

/// The default topic name (before topics.prefix).
inline constexpr std::string_view kDefaultTopic = "ocean.notifications.v1";

/// Header: the envelope's `type` (notify-patient-note-added, notify-referral-new, ...), opaque.
inline constexpr std::string_view kTypeHeader = "notification-type";
/// Header: the envelope's `ref` (a referral ref or an Ocean patient ref, by type).
inline constexpr std::string_view kRefHeader = "ocean-ref";
/// Header: `customProperties.oceanSessionId` when present (Patient Engagement).
inline constexpr std::string_view kSessionIdHeader = "ocean-session-id";

/// The Patient Engagement types the fetcher knows (ocean-api.md §5.1). Any other type is still stored.
inline constexpr std::string_view kPatientNoteAdded = "notify-patient-note-added";
inline constexpr std::string_view kPatientFormsCompleted = "notify-patient-message-forms-completion";

/// The record key: `<site>/<ref>`.
inline std::string notification_key(std::string_view site, std::string_view ref) {
    std::string key;
    key.reserve(site.size() + 1 + ref.size());
    key.append(site).append(1, '/').append(ref);
    return key;
}

}  // namespace relay::contracts::notification

namespace relay::contracts {

/// The `kind` header's value on an Open eReferral referral the fetcher fetched and decrypted, on the
/// inbound topic for the router: the value is relay/transform/open_api_record.hpp's wrapper (the
/// referral JSON as Ocean served it, its decrypted messages filled in, and the decrypted patient data).
/// It carries patient data in clear inside the value: the topic must be sealed at rest.
inline constexpr std::string_view kOpenApiReferralKind = "open-api-referral";

}  // namespace relay::contracts
