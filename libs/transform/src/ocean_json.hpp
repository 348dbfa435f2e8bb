// Private to the Open API and Patient Engagement parsers: what Ocean's proprietary JSON (ocean-api.md
// §4.4, §5.2) shares — its dates (strings of several spellings, or Java's epoch milliseconds), its
// patient demographics (two spellings of most names: §5.2's and the camelCase that render_open_api and
// ocean-sim write) — read tolerantly through parse_json.hpp's Reader (PHI-free messages).
#pragma once

#include <simdjson.h>

#include <optional>
#include <string>
#include <string_view>

#include "parse_json.hpp"
#include "relay/transform/referral.hpp"

namespace relay::transform::detail {

/// YYYY, YYYY-MM or YYYY-MM-DD (FHIR date).
bool is_fhir_date(std::string_view s);
/// A FHIR dateTime: a date, or a date with time and offset (hh:mm[:ss[.f]] and Z or ±hh:mm).
bool is_fhir_date_time(std::string_view s);
/// FHIR's spelling of `s` as a dateTime ("-0500" offsets repaired, a date-time without offset cut to
/// its date), "" if it cannot be one.
std::string normalised_date_time(std::string_view s);
/// A FHIR instant: a full date-time with seconds and offset.
bool is_fhir_instant(std::string_view s);

/// A member that should be a date-time, as a FHIR dateTime: a valid string as is (an offset without its
/// colon, "-0500", repaired; a date-time without offset keeps its date: the zone is unknown), a number
/// as epoch milliseconds in UTC. Otherwise "" and a warning (invalid-date / unexpected-type).
std::string date_time_member(Reader& r, simdjson::dom::object o, std::string_view key, const Path& parent);
/// Same for a date (a date-time keeps its date part).
std::string date_member(Reader& r, simdjson::dom::object o, std::string_view key, const Path& parent);

/// A string member; a number is accepted and written in decimal (identifiers such as health numbers
/// are digits that some writers send as numbers). Other types: "" and a warning.
std::string text_member(Reader& r, simdjson::dom::object o, std::string_view key, const Path& parent);
/// The first present, non-empty member among `keys` (aliases of one field), as text_member reads it.
std::string text_member_of(Reader& r,
                           simdjson::dom::object o,
                           std::initializer_list<std::string_view> keys,
                           const Path& parent);

/// HTML-escaped text (& < > " '), for a Note whose html must show the text as it is.
std::string html_escape(std::string_view text);

/// What Ocean's patient data carries beside the Patient resource's fields.
struct PatientData {
    Patient patient;
    std::string ref;                 ///< OceanPatient.ref (Ocean's patient ref)
    std::string site_number;         ///< OceanPatient.siteNum
    std::string reason_for_visit;    ///< reasonForVisit
    std::string appointment_reason;  ///< apptReason
    bool wrapped = false;            ///< {demographics:{…}} rather than a bare demographics object
};

/// Reads a bare demographics object or an OceanPatient-like wrapper `{demographics:{…}, ref, siteNum,
/// externalPatientRef, reasonForVisit, apptReason}` (the mapping is in open_api_referral.hpp).
/// `demographics` not an object is fatal (unexpected-type).
void read_patient_data(Reader& r, simdjson::dom::object root, const Path& at, PatientData& out);

}  // namespace relay::transform::detail
