// What the updater records before it calls Ocean, so the router recognises Ocean's echo of the update.
//
// The record goes to the inbound topic (ocean.inbound.v1) with header `kind: relay-pushed` (the name and
// the value are relay/contracts') and key = the referral ref, so it lands in the referral's partition ahead
// of Ocean's echo. Its value is the router's pushed-update JSON (README, "The router"): {"referral_ref",
// "tasks": [{status, status_reason}], "appointments": [{id, status, start, end, patient_status}],
// "communications": [{id}]} — written by relay/transform/pushed.hpp, which the router reads it with.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace relay::updater {

/// The pushed-update JSON for a built message: every receiver-side item it carries (Task status and
/// reason, Appointments, Communications), read with the same parser the router reads Ocean's echo with,
/// so the two compare equal. nullopt (and `why`: a code, no values) if the bundle is not a referral.
std::optional<std::string> pushed_update_json(std::string_view built_bundle, std::string* why = nullptr);

}  // namespace relay::updater
