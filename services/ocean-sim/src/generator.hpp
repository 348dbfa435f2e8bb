// The referral generator of ocean-sim: synthetic Ocean eReferral message Bundles, shaped like the ones
// Ocean POSTs to an integration's Request URL (ocean-api.md §3.3).
//
// Evidence the shapes follow:
// - v0.11.1: the two real Ocean bundles in tests/fixtures/ocean-fhir-v0.11.1 (entry order, field sets,
//   bare-uuid MessageHeader fullUrl, profiles, HTEST tags, QuestionnaireResponse shape);
// - v0.10.0: the real add-service-request that test.cognisantmd.com sent in Feb 2023 (ocean-api.md §0,
//   "a second real payload"): no fullUrl, ids, `Type/id` references, ext-id-message-header,
//   sender Organization/cognisant-md, External Service ID on the receiver and performer, orderDetail,
//   SNOMED + LOINC categories.
// Every person, number and address is synthetic (small built-in lists, 555-01xx phone numbers,
// example.com e-mail); nothing comes from a real payload.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace relay::ocean_sim {

/// Which Ontario eReferral IG dialect Ocean speaks to the integration (configured per integration).
enum class Dialect { kV0_10, kV0_11 };
/// "0.10" / "0.11", as relay::fhir::to_string(Dialect) prints them.
const char* to_string(Dialect dialect);
/// Accepts "0.10", "v0.10", "0.10.0", "0.11", "v0.11", "0.11.1" (for the CLI); nullopt otherwise.
std::optional<Dialect> parse_dialect(std::string_view text);

/// Event codes of the message-event-code system that Ocean sends to a receiver (ocean-api.md §3.5).
inline constexpr std::string_view kEventAddServiceRequest = "add-service-request";
inline constexpr std::string_view kEventNotifyUpdateServiceRequest = "notify-update-service-request";

/// An appointment Ocean holds for a referral (booked by the receiver), as it echoes it back.
struct EchoedAppointment {
    std::string id;  ///< the receiver's Appointment.id; empty = derived from the referral
    std::string status;
    std::string start;  ///< empty for booking instructions without a date
    std::string end;
    std::string participant_status;  ///< the patient's: tentative | accepted | ...
    std::string instructions;        ///< synthetic booking comments
};

/// The receiver's side of a referral as Ocean reports it after applying an update (§3.5: the echo of
/// the receiver's own API updates): the Task with the latest status and every appointment.
struct ReceiverProgress {
    std::string task_status;     ///< the last Task.status Ocean acted on; empty = no Task yet
    std::string decline_reason;  ///< Task.statusReason.text when rejected
    std::vector<EchoedAppointment> appointments;
};

/// What to generate. Everything not set here is derived from `seed`, so a spec is a complete,
/// reproducible description of one message: the same spec gives byte-identical output.
struct ReferralSpec {
    std::uint64_t seed = 0;
    Dialect dialect = Dialect::kV0_11;
    /// MessageHeader.eventCoding.code.
    std::string event = std::string(kEventAddServiceRequest);
    /// The target listing's Ocean site number (id-site-number); required.
    std::string site_number;
    /// The target listing ref (id-referral-target-reference); required. In v0.10 it is also the target
    /// PractitionerRole's id, as Ocean sent it (even though '_' is not allowed in a FHIR id).
    std::string listing_ref;
    /// The listing's External Service ID (id-referral-target-external-service); empty = not configured.
    std::string external_service_id;
    /// The listing's title (MessageHeader.destination.name); empty = a made-up clinic name.
    std::string listing_name;
    /// Prefix of every Ocean naming system, StructureDefinition and document URL; no trailing '/'.
    std::string ocean_host = "https://ocean.cognisantmd.com";
    /// The integration's Request URL, echoed in MessageHeader.destination[0].endpoint; required.
    std::string request_url;
    /// > 0: one more DocumentReference (after the referral letter) with an inline attachment of this
    /// many decoded bytes in content[0].attachment.data (base64).
    std::size_t attachment_bytes = 0;
    /// meta.security HTEST ("test health data") on the Bundle and every resource, as Ocean's dev
    /// server marked one of the real v0.11.1 bundles.
    bool test_data_security_tag = false;
    /// The referral was typed in by a delegate (e.g. an office assistant) for the referring physician:
    /// MessageHeader.author, ServiceRequest.requester, the note and the eForm are the delegate's, the
    /// sender is the physician; adds a PractitionerRole + Practitioner + Location (the shape of the real
    /// ereferral_miscellaneous bundle). Off: the physician is sender, author and requester
    /// (ereferral_back_pain's shape).
    bool delegate_submitter = false;
    /// v0.10 only: write the profile version separator as "%7C" (how the real v0.10 payload spells
    /// it, "...-MessageHeader%7C1.0.0") instead of "|". v0.11 always uses "|".
    bool v0_10_encoded_profile_pipe = true;
    /// The Ocean referral ref (ServiceRequest id, a uuid); empty optional = derived from `seed`.
    std::optional<std::string> referral_ref;
    /// 0 = the first message about this referral; each later message (resend, update) takes the next
    /// number: it gets a new MessageHeader id and Bundle id and a later timestamp, while patient,
    /// practitioners, listing, referral ref and authoredOn stay the same.
    std::uint32_t message_sequence = 0;
    /// Set on an echo: the bundle also carries a Task (status, decline reason; focus the
    /// ServiceRequest, owner the target PractitionerRole) and the Appointments, after the referral.
    std::optional<ReceiverProgress> receiver_progress;
};

struct GeneratedReferral {
    std::string referral_ref;
    std::string body;  ///< the Bundle, compact JSON (UTF-8)
    std::string event;
    Dialect dialect = Dialect::kV0_11;
    std::string bundle_id;
    std::string message_header_id;
    std::string timestamp;  ///< Bundle.timestamp
    std::size_t entry_count = 0;
};

/// 16 bytes (version and variant bits already set) in the canonical 8-4-4-4-12 lower-case hex form.
std::string format_uuid(std::string_view sixteen_bytes);

/// The referral ref `generate(spec)` uses: spec.referral_ref if set, else a uuid derived from the seed.
std::string referral_ref_of(const ReferralSpec& spec);

/// Builds the message Bundle. Throws std::invalid_argument if site_number, listing_ref, request_url,
/// ocean_host or event is empty.
GeneratedReferral generate(const ReferralSpec& spec);

/// Ocean's "resend as a new referral" (ocean-api.md §3.11): the same referral (ref pinned, same
/// people), event add-service-request, the next message_sequence (new MessageHeader id).
ReferralSpec resend_as_new(const ReferralSpec& original);
/// Ocean's "resend as an updated referral": as resend_as_new but event notify-update-service-request.
ReferralSpec resend_as_update(const ReferralSpec& original);

/// The built-in name lists every generated person's names come from (tests check against them).
std::span<const std::string_view> synthetic_given_names();
std::span<const std::string_view> synthetic_family_names();

}  // namespace relay::ocean_sim
