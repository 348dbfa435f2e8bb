// Ocean's Open Patient Engagement results (ocean-api.md §5): the decrypted `OceanPatient` of
// `GET /svc/v1/patients/{ptRef}` and the decrypted `PtUpdate` of `GET …/notes?oceanSessionId=` → one
// small struct → a FHIR R4 Bundle or a flat hub JSON. The fetcher fetches and decrypts; this is the pure
// mapping after it. Contains patient data: never log it, never put it in error texts (they are fixed
// strings and JSON paths), metric labels or Kafka headers.
//
// Parse [C = §5.2's shapes, P = proposed]:
//   patient           ← OceanPatient.demographics (or a bare demographics object), the mapping of
//                       open_api_referral.hpp; patient_ref ← the context's (the notification's `ref`),
//                       else OceanPatient.ref; site ← the context's, else OceanPatient.siteNum.
//   PtUpdate          ← the pt_update document, else OceanPatient.ptUpdate when that is an object [P].
//   progress_note     ← progressNote {title, text, noteType}
//   forms             ← completedForms {formRef: {itemRef: value}} in document order; a value is typed by
//                       its JSON type [P]: true/false → boolean, an integer within 32 bits → integer (a
//                       larger one → decimal), another number → decimal, a string that is a FHIR date
//                       (YYYY-MM-DD, YYYY-MM, YYYY) → date, another string → string (numeric-looking
//                       strings stay strings: Ocean's choice values are option codes, not quantities),
//                       an array → one answer per element, null or "" → no answer, an object → no
//                       answer and a warning.
//   hidden            ← formMetadata {formRef: {itemRef: {hidden: true}}}
//   emr_field_updates ← emrFieldUpdates {field: value}, typed like answers (arrays and objects: skipped
//                       with a warning).
// Fatal (ParseError): invalid JSON, a document or completedForms / a completed form / progressNote /
// demographics not an object, neither document given. Everything else: a warning, the member absent.
//
// FHIR R4 rendering (valid against base R4; checked by HAPI FHIR in the tests):
//   Bundle.type "collection" [P]: the results are a set of resources about one patient, with no message
//   semantics (a `message` Bundle needs a MessageHeader and an event Ocean does not define for this) and
//   no single subject document (a `document` Bundle needs a Composition); `collection` needs neither and
//   every FHIR server and reader accepts it. Bundle.identifier = the session id; Bundle.timestamp =
//   `authored` when it is an instant.
//   Patient        identifier: Ocean's patient ref (system `{identifier_base}sites/{site}/patient-ref`,
//                  a ref is only unique within a site [P]), the health card (Ontario's system and version
//                  code extension, as render_fhir_r4 writes them), the MRN; name, telecom, gender,
//                  birthDate, address, communication as render_fhir_r4 writes a referral's patient.
//   QuestionnaireResponse, one per completed form: identifier = the session id (system
//                  `{identifier_base}ocean-session-id`); questionnaire = `{questionnaire_base}{formRef}`
//                  (the form ref percent-encoded) [P]; status completed; subject → the Patient;
//                  authored; item[] with linkId = itemRef and answer[] value{String|Boolean|Integer|
//                  Decimal|Date}. Hidden items (formMetadata) are left out [P]: Ocean hides computed and
//                  internal items from the patient, and its own FHIR QuestionnaireResponse marks them
//                  with an extension hubs generally ignore; `include_hidden_items` keeps them, marked
//                  with that extension.
//   DocumentReference for the progress note [P]: it is a rendered clinical note (title + text + type),
//                  which is what DocumentReference is for and what EMR imports file as a note; a
//                  QuestionnaireResponse's narrative (`text`) is meant to render that one resource, not
//                  to carry a separate clinical note. status current; type.text = noteType; description
//                  = title; subject → the Patient; date = authored when it is an instant;
//                  content[0].attachment = the text as text/plain UTF-8 (base64) with the title;
//                  context.related → every QuestionnaireResponse of the Bundle; identifier = the session.
//   Resource ids are urn:uuid fullUrls derived by name from (site, patient ref, session): the same
//   results always give the same bytes.
//
// hub JSON (`ocean-relay.hub-patient-engagement.v1`, schema
// libs/transform/schemas/hub-patient-engagement.schema.json): one flat object, every key always present
// ("" / [] / null), the patient in the hub referral's shape; hidden items are kept, flagged `hidden`,
// since a hub's own mapping decides; every answer is {type, value} with value as text.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "relay/transform/referral.hpp"

namespace relay::transform {

enum class AnswerType { kString, kBoolean, kInteger, kDecimal, kDate };

/// "string" | "boolean" | "integer" | "decimal" | "date".
const char* to_string(AnswerType type);

/// One typed value; `value` is its text ("true", "42", "2.5", "2025-03-01", ...).
struct TypedValue {
    AnswerType type = AnswerType::kString;
    std::string value;
    bool operator==(const TypedValue&) const = default;
};

struct CompletedFormItem {
    std::string item_ref;
    std::vector<TypedValue> answers;
    bool hidden = false;  ///< formMetadata[formRef][itemRef].hidden
    bool operator==(const CompletedFormItem&) const = default;
};

struct CompletedForm {
    std::string form_ref;
    std::vector<CompletedFormItem> items;
    bool operator==(const CompletedForm&) const = default;
};

struct ProgressNote {
    std::string title;
    std::string text;
    std::string note_type;
    bool operator==(const ProgressNote&) const = default;
};

struct EmrFieldUpdate {
    std::string field;
    TypedValue value;
    bool operator==(const EmrFieldUpdate&) const = default;
};

struct PatientEngagement {
    std::string site_number;
    std::string patient_ref;  ///< Ocean's patient ref
    std::string session_id;   ///< oceanSessionId
    std::string note_id;      ///< the notes response's `noteId` header, if the caller has it
    std::string authored;     ///< FHIR dateTime, or ""
    Patient patient;
    std::string reason_for_visit;  ///< OceanPatient.reasonForVisit
    std::optional<ProgressNote> progress_note;
    std::vector<CompletedForm> forms;
    std::vector<EmrFieldUpdate> emr_field_updates;
    bool operator==(const PatientEngagement&) const = default;
};

/// What the caller knows from the notification and the HTTP exchange (never from the payload).
struct PatientEngagementContext {
    std::string site_number;  ///< the notification's siteNum
    std::string patient_ref;  ///< the notification's ref
    std::string session_id;   ///< customProperties.oceanSessionId
    std::string note_id;      ///< noteId header of the notes response
    /// When the forms were completed, as far as the caller knows (the notification's received-at): a
    /// FHIR dateTime or RFC 3339 time; PtUpdate carries no date of its own. "" = unknown (left out).
    std::string authored;
};

struct PatientEngagementResult {
    std::optional<PatientEngagement> engagement;  ///< set on success
    std::optional<ParseError> error;              ///< set on failure
    std::vector<ParseWarning> warnings;
};

/// Parses the decrypted OceanPatient (`patient_json`) and PtUpdate (`pt_update_json`); either may be
/// empty (not fetched), not both. Never throws on bad input.
PatientEngagementResult parse_patient_engagement(std::string_view patient_json,
                                                 std::string_view pt_update_json,
                                                 const PatientEngagementContext& context);

struct PatientEngagementFhirOptions {
    /// Questionnaire canonicals are `{questionnaire_base}{formRef}` [P]: Ocean publishes no canonical URL
    /// for its eForms, so a hub that defines Questionnaires for them sets its own base.
    std::string questionnaire_base = "https://ocean-relay.example/fhir/Questionnaire/";
    /// The base of the identifier systems of the session and Ocean's patient ref (ours, [P]).
    std::string identifier_base = "https://ocean-relay.example/fhir/NamingSystem/";
    /// Keep formMetadata's hidden items (marked with Ocean's item-visibility extension).
    bool include_hidden_items = false;
};

/// The FHIR R4 `collection` Bundle described above.
std::string render_patient_engagement_fhir_r4(const PatientEngagement& engagement,
                                              const PatientEngagementFhirOptions& options = {});

/// The flat hub JSON described by schemas/hub-patient-engagement.schema.json.
std::string render_patient_engagement_hub_json(const PatientEngagement& engagement);

}  // namespace relay::transform
