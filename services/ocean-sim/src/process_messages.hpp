// Reading what a receiver posts to Ocean's $process-messages (ocean-api.md §3.5-§3.7): the message
// Bundle's shape, the event, the referral it is about, whether the sender may update that referral, and
// the Task / Appointment / Communication / forward it carries. Nothing is applied and nothing is
// logged here: OceanApi answers, applies the update to ReferralState and logs it.
#pragma once

#include <boost/beast/http/status.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "referral_state.hpp"

namespace relay::ocean_sim {

/// A Task status the receiver set (§3.6), with its statusReason.text (a decline's reason).
struct TaskUpdate {
    std::string status;
    std::string reason;
};

/// §3.7.3 "Forward": the new ServiceRequest that replaces the referral, and the listing it goes to.
struct ForwardUpdate {
    std::string new_ref;
    std::string listing_ref;
};

/// A receiver's update message, read and checked: what Ocean is asked to do to one referral.
struct ReceiverUpdate {
    std::string event;  ///< MessageHeader.eventCoding.code, one of the receiver events of §3.5
    std::string referral_ref;
    std::string resource;  ///< the focus resource type, for the log
    std::string status;    ///< Task.status or Appointment.status as sent
    std::optional<TaskUpdate> task;
    std::optional<Booking> appointment;
    std::optional<RecordedMessage> communication;
    std::optional<ForwardUpdate> forward;
    bool data_correction = false;
};

/// Why Ocean does not apply a message: the HTTP status and the OperationOutcome issue it answers with,
/// and how the update log records it.
struct UpdateRefusal {
    boost::beast::http::status status = boost::beast::http::status::bad_request;
    std::string code = "invalid";  ///< the OperationOutcome issue code
    std::string diagnostics;
    std::string expression;  ///< where in the Bundle, FHIRPath-like ("Bundle.entry[1].resource.status")
    UpdateOutcome outcome = UpdateOutcome::kMalformed;
};

/// What reading one $process-messages body gave.
struct UpdateReading {
    /// As far as reading got before a refusal, for the update log: empty where it stopped earlier.
    std::string event;
    std::string referral_ref;
    std::optional<Folder> folder_before;  ///< the referral's folder when the message was read
    std::variant<ReceiverUpdate, UpdateRefusal> result;
};

/// Reads and checks the body of a $process-messages request. `referrals` is only read: Ocean refuses
/// updates to referrals it never sent, and updates from anyone but the referral's current receiver.
UpdateReading read_update_message(std::string_view body, const ReferralState& referrals);

/// The refusal of an update to a referral Ocean never sent (OceanApi answers the same when applying
/// finds no such referral).
UpdateRefusal unknown_referral();

}  // namespace relay::ocean_sim
