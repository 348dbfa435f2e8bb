// The hub's requests for Ocean's Open API: an Open eReferral message or attachment, a Patient Engagement
// eForm link. The hub API publishes them here instead of on the updates topic (hub::is_open_api); the
// fetcher, which holds each site's Open API credentials and SEK, sends them one at a time per key, with
// its retry policy and dead-letter topic.
//
// Topic: `relay.openapi.requests.v1` (topics.prefix prepended). Key: the request's subject ref (the
// referral ref, or the patient ref of an eForm link), so one referral's messages reach Ocean in order.
// Value: the canonical update request (relay/hub/update.hpp), UTF-8 JSON; an attachment's bytes are in
// it, base64, as the hub sent them. Headers: as the updates topic's (content-type, hub-system, update-id,
// action, received-at, traceparent).
//
// What Ocean answered goes to relay.events.v1 (`open-api-request-sent`, with Ocean's message / attachment
// ref); an eForm link (its URL and session id) is also delivered, as hub JSON, to the destinations the
// fetcher names for links, with the event kEformLinkEvent.
#pragma once

#include <string_view>

namespace relay::contracts::open_api_requests {

inline constexpr std::string_view kDefaultTopic = "relay.openapi.requests.v1";
/// The `event` header's value on an eForm link's delivery (X-Relay-Event for the hub system).
inline constexpr std::string_view kEformLinkEvent = "eform-link-issued";

}  // namespace relay::contracts::open_api_requests
