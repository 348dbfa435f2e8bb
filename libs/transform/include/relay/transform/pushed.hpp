// The echo contract between the updater and the router (ocean-api.md §8 "Echo / loops").
//
// What the updater pushed to Ocean for a referral is published on the inbound topic (header
// `kind: relay-pushed`, relay/contracts/pushed.hpp; key = referral ref) *before* it calls Ocean, so the
// record precedes Ocean's echo in the partition; the router then recognises the echo.
// JSON: {"referral_ref":"...","tasks":[{"status","status_reason"}],
// "appointments":[{"id","status","start","end","patient_status"}],"communications":[{"id"}]}.
// One writer and one reader of the format, here.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "relay/transform/referral.hpp"

namespace relay::transform {

struct PushedUpdate {
    std::string referral_ref;
    std::vector<Task> tasks;
    std::vector<Appointment> appointments;
    std::vector<Communication> communications;
};

std::string encode_pushed(const PushedUpdate& pushed);
/// nullopt if the JSON is not a pushed update (`why` says why, without values).
std::optional<PushedUpdate> decode_pushed(std::string_view json, std::string* why = nullptr);

}  // namespace relay::transform
