// Ocean's message event codes that ocean-relay handles (ocean-api.md §3.5): the ingress accepts these by
// default and the router routes them by default. One list, so the two defaults cannot drift apart; each
// service can still be configured otherwise (the router dead-letters what it does not handle, so an event
// the ingress stored is never lost).
#pragma once

#include <string>
#include <vector>

namespace relay::fhir {

inline std::vector<std::string> default_handled_events() {
    return {"add-service-request",
            "notify-update-service-request",
            "revoke-service-request",
            "notify-data-correction",
            "send-communication",
            "send-communication-from-requester",
            "send-communication-from-provider"};
}

}  // namespace relay::fhir
