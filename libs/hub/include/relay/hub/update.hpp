// The canonical update request: one decision of a hub about one Ocean referral, as the hub API accepts
// it and as `relay.updates.v1` records carry it (value = this JSON, UTF-8). The updater turns it into
// Ocean's FHIR message (message.hpp, ocean-api.md §3.7). The Open API actions (open_api_message,
// open_api_attachment, eform_link; is_open_api) are the same request for Ocean's Open API instead: the
// hub API publishes them to `relay.openapi.requests.v1` (relay/contracts/open_api_requests.hpp), where the
// fetcher, which holds the sites' Open API credentials, sends them (ocean-api.md §4.3, §5.3).
//
// JSON format (JSON Schema: libs/hub/schemas/update.schema.json, draft 2020-12). One object;
// unknown members, and members that do not belong to the action, are errors:
//
//   common (every action)
//     "update_id"     string, required. The hub's id of this decision, 1..128 of [A-Za-z0-9_.:-]. Every
//                     id the message carries is derived from it: a retried update builds the same bytes.
//     "referral_ref"  string, required (except eform_link, which has patient_ref instead). Ocean's
//                     referral ref (id-ereferral-reference), 1..128 of [A-Za-z0-9_.:-].
//     "action"        string, required: accept | decline | complete | reopen | forward | switch_type |
//                     book | change_booking | cancel_booking | booking_instructions | message |
//                     received | open_api_message | open_api_attachment | eform_link
//     "site"          string, optional: the Ocean site number (whose token the sender uses).
//     "requested_at"  string, optional: RFC 3339 date-time with seconds and an offset ("Z" or ±hh:mm);
//                     becomes Bundle.timestamp (and Task.lastModified / Communication.sent).
//   accept            "import_to_emr" bool, optional (default false): ask Ocean to import the patient
//                     into the site's EMR (§3.7.3 import extension).
//   decline           "reason" string, required (shown as the decline reason).
//   complete, reopen, received
//                     nothing else. `received` acknowledges receipt (Task status received: the
//                     referral stays in Ocean's New folder); the delivery service sends it for
//                     destinations configured so, and the updater sends it only while Ocean has no
//                     later status from the receiver.
//   forward           "listing_ref" string, required (id-referral-target-reference of the new listing,
//                     1..128 of [A-Za-z0-9_.:-]);
//                     "reason" string, optional.
//   switch_type       "econsult" bool, required: true = handle as an eConsult, false = as an eReferral.
//   book, change_booking
//                     "appointment" object, required:
//                       "id"            optional for book (default: derived from update_id), optional
//                                       for change_booking (default: the referral's latest appointment
//                                       that is not cancelled); a FHIR id;
//                       "start", "end"  required, RFC 3339 date-times with seconds and an offset;
//                                       end after start;
//                       "confirmed"     bool, required: the patient confirmed (Booking Confirmed) or
//                                       not (Booking Unconfirmed);
//                       "type_text"     string, optional: appointmentType.text (a label);
//                       "instructions"  string, optional: patientInstruction (booking comments);
//                       "wait_time_milestone" optional: wait-1 | wait-1a | wait-1b | wait-2 (Ontario
//                                       wait times).
//   cancel_booking    "appointment" object, optional: {"id"} (default: the latest appointment that is
//                     not cancelled); "reason" string, optional (Appointment.cancelationReason.text).
//   booking_instructions
//                     "instructions" string, required.
//   message           "text" string, required; "attachment" object, optional:
//                     {"content_type" (type/subtype), "data" (standard base64, non-empty),
//                     "title" optional}.
//   open_api_message  "text" string, required; "attachment" optional as for message (uploaded first,
//                     then referenced by the message). Sent with Ocean's Open API (POST
//                     /svc/v1/referrals/{ref}/messages), encrypted under the site's SEK.
//   open_api_attachment
//                     "attachment" object, required (POST /svc/v1/referrals/{ref}/attachments).
//                     Over the Open API an attachment's title is its file name: at most 255 bytes.
//   eform_link        "patient_ref" string, required (Ocean's patient ref, as referral_ref), and no
//                     referral_ref; "form_refs" array, required: 1..20 form refs (1..64 of
//                     [A-Za-z0-9_.:-]); "expiry_hours" integer 1..720, optional (Ocean's default when
//                     absent). Asks Ocean for a patient-specific eForm link (ocean-api.md §5.3, [P]); the
//                     link and its session id go to the hub as a delivery.
//
// Texts (reason, instructions, text, type_text, title) are 1..65536 bytes of UTF-8 and not only
// whitespace: FHIR has no empty strings. Errors name the field and a code, never a value (no PHI).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace relay::hub {

enum class Action {
    kAccept,
    kDecline,
    kComplete,
    kReopen,
    kForward,
    kSwitchType,
    kBook,
    kChangeBooking,
    kCancelBooking,
    kBookingInstructions,
    kMessage,
    kReceived,
    kOpenApiMessage,
    kOpenApiAttachment,
    kEformLink,
};

/// The actions sent with Ocean's Open API (by the fetcher) rather than as FHIR messages (the updater).
bool is_open_api(Action action);

/// "accept", "decline", ... as in the JSON.
const char* to_string(Action action);
std::optional<Action> parse_action(std::string_view text);

struct AppointmentRequest {
    std::string id;  ///< empty: derived (book) or the latest appointment (change/cancel)
    std::string start;
    std::string end;
    bool confirmed = false;
    std::string type_text;
    std::string instructions;
    std::string wait_time_milestone;  ///< empty or wait-1 | wait-1a | wait-1b | wait-2
};

struct AttachmentRequest {
    std::string content_type;
    std::string data;  ///< base64, as received
    std::string title;
};

struct Update {
    std::string update_id;
    std::string referral_ref;
    Action action = Action::kAccept;
    std::string site;
    std::string requested_at;

    bool import_to_emr = false;                     ///< accept
    std::string reason;                             ///< decline (required), forward, cancel_booking
    std::string listing_ref;                        ///< forward
    bool econsult = false;                          ///< switch_type
    std::optional<AppointmentRequest> appointment;  ///< book, change_booking, cancel_booking
    std::string instructions;                       ///< booking_instructions
    std::string text;                               ///< message, open_api_message
    std::optional<AttachmentRequest> attachment;    ///< message, open_api_message, open_api_attachment
    std::string patient_ref;                        ///< eform_link (referral_ref is empty then)
    std::vector<std::string> form_refs;             ///< eform_link
    int expiry_hours = 0;                           ///< eform_link; 0 = Ocean's default
    /// The ref the request is about: referral_ref, or patient_ref for eform_link (the record key).
    [[nodiscard]] const std::string& subject_ref() const { return referral_ref.empty() ? patient_ref : referral_ref; }
};

/// One problem with the input: where (a JSON path such as "appointment.start"), a code, and a fixed
/// text. Never a value from the input.
struct FieldError {
    std::string field;
    std::string code;  ///< required | type | format | unknown | not-allowed | value | json
    std::string message;
};

struct ParseUpdateResult {
    std::optional<Update> update;    ///< set when errors is empty
    std::vector<FieldError> errors;  ///< every problem found, in document order

    [[nodiscard]] bool ok() const { return update.has_value(); }
    /// "field: message (code); ..." for logs and 400 answers.
    [[nodiscard]] std::string error_text() const;
};

ParseUpdateResult parse_update(std::string_view json);

/// The update as canonical JSON (members in the documented order, only those set): what
/// parse_update reads back to an equal Update.
std::string to_json(const Update& update);

/// Whether `text` is an RFC 3339 date-time with seconds and an offset; sets `epoch_seconds` (UTC).
bool parse_rfc3339(std::string_view text, std::int64_t& epoch_seconds);

/// A referral ref (or site number) as the format takes it: 1..128 of [A-Za-z0-9_.:-].
bool is_ref(std::string_view s);

/// A FHIR id: [A-Za-z0-9-.]{1,64}.
bool is_fhir_id(std::string_view s);

}  // namespace relay::hub
