// The record the fetcher writes for an Open eReferral referral and the router reads: one JSON object
//   {"referral": <the Referral JSON as Ocean served it, decrypted messages in `message`>,
//    "patient":  <the decrypted patient data, or null>}
// so both documents travel in the value (which kafka.at_rest seals) and never in headers.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace relay::transform {

struct OpenApiRecord {
    std::string referral_json;
    std::string patient_json;  ///< "" when there was none
};

/// Packs the two documents; `patient_json` "" is written as null. Both must be valid JSON (the
/// referral an object); nullopt otherwise.
std::optional<std::string> pack_open_api_record(std::string_view referral_json, std::string_view patient_json);

/// The two documents of a packed record, or nullopt when the value is not one.
std::optional<OpenApiRecord> unpack_open_api_record(std::string_view value);

}  // namespace relay::transform
