#include "relay/transform/open_api_record.hpp"

#include <boost/json.hpp>

namespace relay::transform {

namespace json = boost::json;

std::optional<std::string> pack_open_api_record(std::string_view referral_json, std::string_view patient_json) {
    boost::system::error_code ec;
    json::value referral = json::parse(referral_json, ec);
    if (ec || !referral.is_object()) return std::nullopt;
    json::value patient = nullptr;
    if (!patient_json.empty()) {
        patient = json::parse(patient_json, ec);
        if (ec) return std::nullopt;
    }
    return json::serialize(json::object{{"referral", std::move(referral)}, {"patient", std::move(patient)}});
}

std::optional<OpenApiRecord> unpack_open_api_record(std::string_view value) {
    boost::system::error_code ec;
    const json::value root = json::parse(value, ec);
    if (ec || !root.is_object()) return std::nullopt;
    const json::object& o = root.as_object();
    const json::value* referral = o.if_contains("referral");
    if (referral == nullptr || !referral->is_object()) return std::nullopt;
    OpenApiRecord record;
    record.referral_json = json::serialize(*referral);
    if (const json::value* patient = o.if_contains("patient"); patient != nullptr && !patient->is_null())
        record.patient_json = json::serialize(*patient);
    return record;
}

}  // namespace relay::transform
