// Ocean's Open eReferral API referral (ocean-api.md §4.4, the object `GET /svc/v1/referrals/{ref}`
// returns) plus its decrypted patient data → the canonical Referral, so that an Open API referral is
// routed (site + External Service ID, else listing ref: services/router/src/routing.cpp) and rendered by
// every renderer exactly like one that came as FHIR.
//
// The fetcher decrypts; this is the pure mapping after it. Errors are values (ParseResult, as
// ReferralParser reports them): fatal only where a routing fact or the top-level shape is wrong,
// otherwise a warning and the member treated as absent. Error and warning texts are fixed strings plus
// JSON paths: a payload value never enters them.
//
// Mapping ([I] inferred, [P] proposed: Ocean publishes neither the Open API's semantics nor PtData):
//   referral_ref          ← referralRef (required: no-referral-ref)
//   target.listing_ref    ← referralTargetRef; target.external_service_id ← externalServiceId;
//   target.site_number    ← the site argument (the authenticated site of the notification: the Open API
//                           referral does not carry the target's site); target.name ← description [I]
//                           (render_open_api writes the listing title there)
//   event                 ← OpenApiOptions::event [P]
//   status / tasks        ← status, Ocean's folder [I]: CANCELLED → ServiceRequest "revoked", else
//                           "active"; the receiver's Task (id "open-api-status"): DECLINED → rejected
//                           (statusReason ← cancellationReason), COMPLETED → completed, PENDING_BOOKING /
//                           BOOKED / BOOKING_UNCONFIRMED → accepted, NEW / unknown → no Task (a
//                           "requested" one when communicationType is E_CONSULT, to carry that); Task.code
//                           process-request-consult for E_CONSULT, else process-request.
//                           Rendering back with render_open_api gives the same folder.
//   intent "proposal" (what Ocean's FHIR sends); priority: not in the Open API, "".
//   authored_on           ← sentDate, else creationDate; timestamp ← modificationDate when it is a full
//                           date-time (the router keys duplicates on site, ref, event and timestamp: the
//                           same version fetched twice is a duplicate; bundle and header ids stay ""). Dates:
//                           a FHIR dateTime string as is (an offset without its colon repaired); a number is
//                           epoch milliseconds (Java's default) → UTC; a date-time without an offset keeps
//                           its date only [P]; anything else dropped with a warning.
//   categories            ← services, one Coding each with only `display` (Ocean health service types;
//                           render_open_api writes them back from there)
//   referrer / submitter  ← referrer / assistant (ClinicianData): name ← firstName/surname, licence ←
//                           professionalId [I], billing_number ← billingNum, address ← AddressData
//                           (use "work"), telecom ← phone/fax/email (use "work"), website (system url);
//                           location_name ← srcSiteName (referrer only). signature, clinicianType: unmapped.
//   appointments          ← appointments[] with a date. A full date-time: status "booked", start = end ←
//                           date [P] (FHIR's booked Appointment needs both, app-2/app-3; Ocean gives no
//                           duration), patient_status "accepted" when the folder is BOOKED, else
//                           "needs-action". A day only: status "proposed" (FHIR allows no other status
//                           without times), the day in description, patient_status "needs-action".
//                           instructions ← bookingComments (on the last one, or on a proposed
//                           appointment without date when there is none)
//   communications        ← externalConversation[]: id ← ref, status "completed", sent ← commentDate,
//                           contents ← message (the fetcher puts the decrypted encryptedMsg there [P]; a
//                           comment with neither gets no content), attachment_count ← attachmentRefDtos
//   notes                 ← internalConversation[] (the receiving site's internal notes [I]): text ←
//                           message: html ← the text HTML-escaped, text ← html_to_text(html) (as the
//                           FHIR parse derives it), time ← commentDate; and the
//                           patient data's reasonForVisit / apptReason when present [P]
//   attachments           ← bookingFileRefs[] and every conversation's attachmentRefDtos[] (AttachmentRef),
//                           by ref and file name only: id ← fileRef, title ← fileName, status "current",
//                           url ← `{ocean_host}/svc/v1/referrals/{ref}/attachments/{fileRef}` (Ocean serves
//                           it there, encrypted: §4.3), description names where it came from. Duplicated
//                           fileRefs are kept once.
//   patient               ← the patient data (below); no patient data: an empty Patient, still mapped.
// Unmapped (the model has no room): externalRef, sourceExternalRef, masterReferralRef, master, bookingUrl,
// the encryption members, appointments' wtType/apptType/waitTime, comments' review/eConsult data.
//
// Patient data [P] — the plaintext of encryptedPtData: either a bare demographics object or one wrapping
// it ({demographics:{…}}, OceanPatient's shape, §5.2). Both Ocean's §5.2 names and the camelCase names of
// render_open_api / ocean-sim are read:
//   name: firstName → given[0], secondName | middleName → given[1], surname | lastName → family, title →
//         prefix; health card: hn | healthNumber, hnProv | healthNumberProvince, hnVC | healthNumberVersion
//         — an Ontario card (province ON or not given) is `health_number`/`health_number_version` as the
//         FHIR parse reads them; another province's goes to other_identifiers with Infoway's system for
//         that province (type JHN, the version code dropped); birthDate (yyyy-mm-dd; epoch ms accepted);
//         sex | gender → FHIR gender (M/male, F/female, O/X/other, U/unknown; else dropped with a
//         warning); address (an AddressData-like object, or a string as one line) + address2 (a string:
//         another line; an object: a second address), use "home"; homePhone | phone → phone/home,
//         mobilePhone | cellPhone → phone/mobile, workPhone | businessPhone → phone/work, email →
//         email/home; language (a BCP-47 code, or English/French) ; externalPatientRef → mrn (the wrapper's
//         or the demographics').
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "relay/transform/referral.hpp"

namespace relay::transform {

struct OpenApiOptions {
    /// The canonical event of the referral. [P] Ocean's Open API notification types are not public
    /// (ocean-api.md §4.2): the caller passes the notification's `type` when it has one; the default is
    /// the FHIR event of a referral sent to the listing, so that routers' handled_events lists match.
    std::string event = "add-service-request";
    /// Where Ocean serves the referral's attachments (§4.3); "" leaves Attachment.url empty.
    std::string ocean_host = "https://ocean.cognisantmd.com";
};

/// Parses an Open API Referral (`referral_json`) and its decrypted patient data (`patient_json`; empty
/// = none) for the Ocean site `site_number`. Never throws on bad input. Not thread-safe: one per thread
/// (it reuses its parsers' memory).
class OpenApiReferralParser {
   public:
    OpenApiReferralParser();
    ~OpenApiReferralParser();
    OpenApiReferralParser(const OpenApiReferralParser&) = delete;
    OpenApiReferralParser& operator=(const OpenApiReferralParser&) = delete;

    /// Error codes: invalid-json (either document), not-a-referral (the referral is not an object),
    /// no-referral-ref, unexpected-type (fatal on referralRef, referralTargetRef, externalServiceId and on
    /// the patient data's top level), internal. Warnings use ParseWarning's codes plus invalid-date and
    /// invalid-code (a value that is not a date / gender / language FHIR accepts; dropped).
    ParseResult parse(std::string_view referral_json,
                      std::string_view patient_json,
                      std::string_view site_number,
                      const OpenApiOptions& options = {});

   private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// One-shot convenience (a parser per call).
ParseResult parse_open_api_referral(std::string_view referral_json,
                                    std::string_view patient_json,
                                    std::string_view site_number,
                                    const OpenApiOptions& options = {});

}  // namespace relay::transform
