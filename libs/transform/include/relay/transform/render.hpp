// Renderers: one per destination format, all from the canonical referral. JSON is written through
// Boost.JSON (correct escaping of every string), never by string concatenation.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "relay/transform/referral.hpp"

namespace relay::transform {

enum class Format {
    kOceanFhir,  ///< the bundle exactly as Ocean sent it (bytes unchanged)
    kFhirR4,     ///< normalised FHIR R4 message Bundle: one shape whatever the dialect
    kOpenApi,    ///< Ocean Open API referral JSON, decrypted form (ocean-api.md §4.4)
    kHubJson,    ///< the documented flat "hub JSON" (schema: schemas/hub-referral.schema.json)
};

/// "ocean-fhir" | "fhir-r4" | "open-api" | "hub-json".
const char* to_string(Format format);
std::optional<Format> parse_format(std::string_view name);
/// The Content-Type a destination receives for `format`.
const char* content_type(Format format);

/// The normalised FHIR R4 message Bundle: the v0.11.1 shape (urn:uuid fullUrls on every entry, all
/// references by fullUrl, ids derived deterministically from the referral ref), with what HAPI FHIR's
/// validator flags in Ocean's own bundles fixed (the MessageHeader fullUrl is a urn:uuid, Annotations
/// always have text). Valid against base R4 with no errors. Parsing it back gives the same referral.
std::string render_fhir_r4(const Referral& referral);

/// Ocean's Open API Referral JSON (§4.4) with the patient data in the clear (`patient` instead of
/// `encryptedPtData`): the shape an Open eReferral integration's code already reads.
std::string render_open_api(const Referral& referral);

/// The flat hub JSON for simple systems: one object, no references to resolve, documented by
/// `libs/transform/schemas/hub-referral.schema.json` (JSON Schema draft 2020-12).
std::string render_hub_json(const Referral& referral);

/// Dispatch by format; kOceanFhir returns `original` unchanged.
std::string render(Format format, const Referral& referral, std::string_view original);

}  // namespace relay::transform
