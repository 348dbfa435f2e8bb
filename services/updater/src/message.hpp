// Ocean's FHIR message for one hub update (ocean-api.md §3.7.2–3.7.3): pure, no I/O.
//
// Bundle {resourceType, id, type "message", timestamp (the update's requested_at, when given), entry}:
//  1. MessageHeader: profile (options), BOTH ext-referral-identifier (valueIdentifier) and
//     ext-id-message-header (valueString) carrying the referral ref, eventCoding (message-event-code
//     system, the code per action), sender, optional author, source {name, endpoint}, focus → the new
//     Task / Appointment / Communication.
//  2. The echo: every resource of the referral's latest inbound bundle except its MessageHeader(s), in
//     order, fullUrl kept, minus the resources this update replaces (the previous receiver Task; the
//     Appointment being changed or cancelled). A resource without an id gets the uuid of its
//     `urn:uuid:` fullUrl as id (§3.7.2 "fullUrl converted back to id"), so Ocean and ocean-sim can
//     match "ServiceRequest/{ref}" as well as the fullUrl. References keep resolving: nothing is
//     renamed.
//  3. The new resources: forward → the new ServiceRequest and the new listing's PractitionerRole, then
//     the Task; Task actions → the Task (same id and fullUrl as the Task it replaces, else derived);
//     bookings → the Appointment; message → the Communication.
//
// Every id the builder makes is a name-based (v5) uuid of (update_id, role), so the same update over the
// same inbound bundle gives byte-identical output (a retried update is the same message).
//
// Choices that are ocean-api.md [P] (or [C] with doubt) are MessageOptions members.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "relay/hub/update.hpp"

namespace relay::updater {

// The update request is the hub's contract (relay/hub/update.hpp); the updater speaks it unqualified.
using hub::Action;
using hub::AppointmentRequest;
using hub::AttachmentRequest;
using hub::is_fhir_id;
using hub::parse_rfc3339;
using hub::parse_update;
using hub::Update;

struct MessageOptions {
    /// MessageHeader.meta.profile; v0.12 uses "|1.1.0" (§3.1). Empty: no profile.
    std::string header_profile =
        "http://ehealthontario.ca/fhir/StructureDefinition/ca-on-eReferral-profile-MessageHeader|1.0.1";
    /// Appointment.meta.profile (§3.7.3). Empty: no profile.
    std::string appointment_profile =
        "http://ehealthontario.ca/fhir/StructureDefinition/ca-on-eReferral-profile-Appointment|1.0.0";
    /// MessageHeader.sender (§3.7.2: Organization/{ours}).
    std::string sender_reference = "Organization/ocean-relay";
    /// MessageHeader.author; empty: none (§3.7.2 has PractitionerRole/{…}, value unknown) [P].
    std::string author_reference;
    /// MessageHeader.source (our own $process-message URL).
    std::string source_name = "ocean-relay";
    std::string source_endpoint = "https://ocean-relay.invalid/fhir/$process-message";
    /// Naming-system prefix when the inbound bundle shows none (Ocean embeds its host, §3.4).
    std::string ocean_host = "https://ocean.cognisantmd.com";

    /// Task.code system: what Ocean Labs sends; the IG's own may differ (§3.7.2, §10 q9) [P].
    std::string task_code_system = "http://terminology.hl7.org/CodeSystem/v3-TaskOutcome";
    /// Events (§3.5, §3.7.3). Ocean Labs sends notify-update-process-request for every Task change;
    /// §3.5 lists notify-add-process-request for the first status of a referral: used when the latest
    /// bundle has no Task yet, if set to that code [P].
    std::string task_event = "notify-update-process-request";
    std::string first_task_event = "notify-update-process-request";
    std::string booking_event = "notify-add-appointment";
    /// Change / cancel of an appointment: the exact code is [P] (§3.7.3).
    std::string booking_change_event = "notify-add-appointment";
    std::string booking_instructions_event = "notify-add-appointment";
    /// send-communication-from-provider or send-communication (§3.7.3).
    std::string message_event = "send-communication-from-provider";

    /// Extensions (§3.7.3).
    std::string import_extension_url =
        "https://ocean.cognisantmd.com/svc/v1/Structure-Definition/ext-accept-service-request-import|1.0";
    std::string econsult_extension_url =
        "http://ehealthontario.ca/fhir/StructureDefinition/ca-on-eConsult-ext-patient-needs-to-be-seen";
    std::string wait_time_extension_url =
        "https://ocean.cognisantmd.com/svc/fhir/v1/StructureDefinition/"
        "ext-ontario-clinical-wait-time-appointment-milestones";
    std::string wait_time_code_system =
        "http://ocean.cognisantmd.com/svc/fhir/v1/CodeSystem/ontario-clinical-wait-time-codes";

    /// Booking instructions (§3.7.3 says participant:[]): base R4 requires Appointment.participant
    /// 1..*, so the Patient is listed with status needs-action. False: no participant at all (what
    /// Ocean Labs sends; HAPI rejects it against base R4).
    bool instructions_with_patient_participant = true;
    /// The echo is Ocean's own data; an Annotation without text (seen in a real Ocean bundle) violates
    /// base R4 (Annotation.text 1..1): mark it with data-absent-reason instead of dropping the note.
    bool mark_absent_annotation_text = true;
};

struct BuiltMessage {
    std::string bundle;  ///< the Bundle, compact JSON
    std::string event;   ///< MessageHeader.eventCoding.code
    std::string bundle_id;
    std::string message_header_id;
    std::string focus_type;  ///< Task | Appointment | Communication
    std::string focus_id;
    std::string task_status;         ///< the new Task's status (Task actions), else empty
    std::string appointment_status;  ///< the new Appointment's status (bookings), else empty
};

/// Why no message could be built: a code and a fixed text, never a value from the input (no PHI).
struct BuildError {
    std::string code;  ///< e.g. latest-bundle-invalid, referral-mismatch, no-patient, no-appointment
    std::string message;
};

struct BuildResult {
    std::optional<BuiltMessage> message;
    std::optional<BuildError> error;
    [[nodiscard]] bool ok() const { return message.has_value(); }
};

/// Builds the message for `update` over the referral's latest inbound bundle (the router's state,
/// `#bundle`). The update is assumed valid (parse_update); the bundle must be a Bundle about the same
/// referral ref.
BuildResult build_update_message(const Update& update,
                                 std::string_view latest_inbound_bundle,
                                 const MessageOptions& options);

/// A name-based (v5) uuid of (update_id, role, key) under ocean-relay's updater namespace.
std::string update_uuid(std::string_view update_id, std::string_view role, std::string_view key = {});

}  // namespace relay::updater
