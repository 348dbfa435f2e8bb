// The canonical referral: one shape for what Ocean sends in either FHIR dialect (ocean-api.md §3.3),
// independent of how the bundle spelled it (fullUrl / Type/id / bare-id references, identifier systems
// under any host). The router parses every inbound bundle into this, deduplicates on it, and renders
// each destination's format from it.
//
// Contains patient data: never log it, never put its fields in metric labels or error texts. Only
// `referral_ref`, ids, codes and statuses are safe to log.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "relay/fhir/extract.hpp"

namespace relay::transform {

struct Coding {
    std::string system;
    std::string code;
    std::string display;
    bool operator==(const Coding&) const = default;
};

struct Telecom {
    std::string system;  ///< phone | fax | email | ...
    std::string value;
    std::string use;  ///< home | work | mobile | ...
    bool operator==(const Telecom&) const = default;
};

struct Address {
    std::string use;   ///< home | work | ...
    std::string type;  ///< physical | postal | both
    std::vector<std::string> lines;
    std::string city;
    std::string province;  ///< Address.state ("ON")
    std::string postal_code;
    std::string country;
    bool operator==(const Address&) const = default;
};

/// Any identifier we do not map to a named field, kept so nothing is lost.
struct Identifier {
    std::string system;
    std::string value;
    std::string type_code;  ///< the first identifier.type coding's code (JHN, MR, MD, ...)
    bool operator==(const Identifier&) const = default;
};

struct HumanName {
    std::string family;
    std::vector<std::string> given;
    std::vector<std::string> prefix;
    std::string text;
    bool operator==(const HumanName&) const = default;
};

struct Patient {
    /// Ontario health number (system ending `ca-on-patient-hcn`) and its version code (extension
    /// `ext-id-health-card-version-code` on the identifier); empty if absent.
    std::string health_number;
    std::string health_number_version;
    /// The hub's MRN (system ending `id-external-patient-reference`); often empty on new referrals.
    std::string mrn;
    std::vector<Identifier> other_identifiers;
    HumanName name;
    std::string gender;
    std::string birth_date;  ///< FHIR date as sent (YYYY[-MM[-DD]])
    std::vector<Telecom> telecom;
    std::vector<Address> addresses;
    std::string language;  ///< communication[0].language.coding[0].code, if any
    bool operator==(const Patient&) const = default;
};

/// A clinician as the bundle names them: PractitionerRole + Practitioner + Location, flattened.
struct Clinician {
    HumanName name;
    std::string licence;         ///< CPSO (system ending `ca-on-license-physician`)
    std::string billing_number;  ///< OHIP billing (system ending `ca-on-ohip-billing-id`)
    std::string username;        ///< Ocean username (system ending `id-practitioner-username`)
    std::vector<Identifier> other_identifiers;
    std::vector<Telecom> telecom;  ///< the role's, else the practitioner's
    std::string location_name;
    std::optional<Address> address;  ///< the role's Location address
    std::vector<Coding> specialty;
    bool operator==(const Clinician&) const = default;
};

/// The target listing (Ocean directory listing = PractitionerRole, §3.4).
struct Listing {
    std::string listing_ref;          ///< id-referral-target-reference
    std::string site_number;          ///< id-site-number
    std::string external_service_id;  ///< id-referral-target-external-service (may be empty)
    std::string name;                 ///< MessageHeader.destination[0].name
    std::string location_name;
    std::optional<Address> address;
    std::vector<Telecom> telecom;
    std::vector<Coding> specialty;
    bool operator==(const Listing&) const = default;
};

struct Note {
    std::string html;  ///< ServiceRequest.note.text as Ocean sent it (HTML)
    std::string text;  ///< plain text derived from `html` (tags dropped, entities decoded, <br> → '\n')
    std::string time;
    bool operator==(const Note&) const = default;
};

/// One eForm item (QuestionnaireResponse.item, flat as Ocean sends it, §3.10).
struct FormItem {
    std::string link_id;
    std::string text;
    std::vector<std::string> answers;  ///< valueString, or other value[x] as their text
    bool hidden = false;               ///< ext-ocean-eform-item-visibility = "hidden"
    bool operator==(const FormItem&) const = default;
};

struct Form {
    std::string form_ref;  ///< identifier with system ending `id-form-reference`
    std::string status;
    std::string authored;
    std::vector<FormItem> items;
    bool operator==(const Form&) const = default;
};

/// A DocumentReference of the referral: the referral letter ($letter URL) or an attachment.
struct Attachment {
    std::string id;  ///< the DocumentReference id or its fullUrl's uuid
    std::string status;
    std::string content_type;
    std::string title;
    std::string url;          ///< where Ocean serves it (may be empty for inline data)
    std::string data_base64;  ///< inline data, as sent (base64); empty if by URL only
    std::uint64_t size = 0;   ///< attachment.size if sent, else the decoded size of inline data
    std::string created;
    std::string description;
    bool operator==(const Attachment&) const = default;
};

/// The receiver's Task (its status drives Ocean's folders, §3.6).
struct Task {
    std::string id;
    std::string status;
    std::string business_status;  ///< businessStatus.text or first coding code
    std::string status_reason;    ///< statusReason.text (a decline reason)
    std::string code;             ///< process-request | process-request-consult | ...
    std::string authored_on;
    std::string last_modified;
    bool operator==(const Task&) const = default;
};

struct Appointment {
    std::string id;
    std::string status;
    std::string start;
    std::string end;
    std::string patient_status;  ///< the Patient participant's status
    std::string instructions;    ///< patientInstruction
    std::string description;
    bool operator==(const Appointment&) const = default;
};

struct Communication {
    std::string id;
    std::string status;
    std::string sent;
    std::vector<std::string> contents;  ///< payload[].contentString
    std::size_t attachment_count = 0;   ///< payload[].contentAttachment
    bool operator==(const Communication&) const = default;
};

/// One message Bundle from Ocean about one referral.
struct Referral {
    // -- the message --
    fhir::Dialect dialect = fhir::Dialect::kUnknown;
    std::string event;  ///< MessageHeader.eventCoding.code
    std::string bundle_id;
    std::string message_header_id;  ///< MessageHeader.id, else its entry's fullUrl
    std::string timestamp;          ///< Bundle.timestamp
    std::string last_updated;       ///< Bundle.meta.lastUpdated
    std::string reason;             ///< MessageHeader.reason.text ("Initial" on a first send)
    std::string source_endpoint;    ///< MessageHeader.source.endpoint
    bool test_data = false;         ///< Bundle.meta.security HTEST

    // -- the referral (ServiceRequest) --
    std::string referral_ref;
    std::string status;  ///< ServiceRequest.status (the requester's)
    std::string intent;
    std::string priority;
    std::string authored_on;
    std::vector<Coding> categories;          ///< every coding of every category, in order
    std::vector<std::string> order_details;  ///< orderDetail[].text / coding display (v0.10)
    std::vector<Note> notes;

    Patient patient;
    /// The sender: MessageHeader.sender's PractitionerRole. v0.10's sender is Ocean's Organization, so
    /// there the requester is the referrer, unless the Bundle carries exactly one more clinician's
    /// role (not the target, no listing ref): that one is the referrer and the requester the submitter.
    Clinician referrer;
    /// The delegate who typed it in: ServiceRequest.requester (else MessageHeader.author) when that
    /// is another role than the referrer's.
    std::optional<Clinician> submitter;
    Listing target;

    std::optional<Form> form;
    std::vector<Attachment> attachments;  ///< in bundle order; the letter first when Ocean sends it

    // -- the receiver's side, present on later events (§3.3 "Later events re-send ...") --
    std::vector<Task> tasks;
    std::vector<Appointment> appointments;
    std::vector<Communication> communications;

    bool operator==(const Referral&) const = default;
};

/// Why a bundle could not become a referral: precise, PHI-free (codes and FHIRPath-like locations,
/// never a value from the payload).
struct ParseError {
    std::string code;        ///< invalid-json | not-a-bundle | not-a-message | no-message-header |
                             ///< no-event-code | no-service-request | no-referral-ref | unexpected-type |
                             ///< internal. unexpected-type is fatal only where the routing facts are
                             ///< read (Bundle, entries, MessageHeader, identifiers, receiver, performer).
    std::string expression;  ///< e.g. "Bundle.entry[3].resource.subject"
    std::string message;
};

/// A shape the parser tolerated but that is unexpected (a dangling reference, a second Patient, ...);
/// reported as an event and a metric, never fatal.
struct ParseWarning {
    /// dangling-reference | reference-type-mismatch | unexpected-type (the field is then treated as
    /// absent) | entry-without-resource | no-resource-type | unknown-resource-type |
    /// extra-message-header | extra-patient | patient-not-subject | extra-questionnaire-response |
    /// extra-attachment-content | no-target-listing | no-referrer | number-out-of-range (a number beyond
    /// 64 bits or a double's range, approximated)
    std::string code;
    std::string expression;
    std::string message;
};

struct ParseResult {
    std::optional<Referral> referral;  ///< set on success
    std::optional<ParseError> error;   ///< set on failure
    std::vector<ParseWarning> warnings;
};

/// Plain text from Ocean's HTML note: tags dropped, <br> and block ends become '\n', the common
/// entities (&nbsp; &amp; &lt; &gt; &quot; &#39; &#NNN; &#xHH;) decoded, whitespace runs collapsed.
std::string html_to_text(std::string_view html);

/// Parses an Ocean FHIR message bundle (v0.10.0 or v0.11.1) into the canonical referral.
/// References resolve by entry.fullUrl, `Type/id` and bare id; identifier systems match by suffix
/// (the prefix embeds Ocean's host). Never throws on bad input. Not thread-safe: one per thread
/// (it reuses its parser's memory).
class ReferralParser {
   public:
    ReferralParser();
    ~ReferralParser();
    ReferralParser(const ReferralParser&) = delete;
    ReferralParser& operator=(const ReferralParser&) = delete;

    ParseResult parse(std::string_view bundle_json);

   private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace relay::transform
