#include "ocean_json_samples.hpp"

#include <filesystem>
#include <stdexcept>

#include "relay/transform/open_api_referral.hpp"
#include "render_test_util.hpp"

namespace ocean_json_samples {

using namespace relay::transform;

std::string data(std::string_view file) {
    return render_test::read_file(std::filesystem::path(RELAY_SOURCE_DIR) / "tests/unit/transform/data" /
                                  std::string(file));
}

namespace {

Referral referral_or_throw(ParseResult result, const char* what) {
    if (!result.referral) throw std::runtime_error(std::string("sample does not parse: ") + what);
    return std::move(*result.referral);
}

PatientEngagement engagement_or_throw(PatientEngagementResult result, const char* what) {
    if (!result.engagement) throw std::runtime_error(std::string("sample does not parse: ") + what);
    return std::move(*result.engagement);
}

}  // namespace

Referral open_api_full() {
    return referral_or_throw(
        parse_open_api_referral(
            data("open-api-referral-full.json"), data("open-api-patient-wrapped.json"), kSite),
        "open-api full");
}

Referral open_api_without_patient() {
    return referral_or_throw(parse_open_api_referral(data("open-api-referral-full.json"), "", kSite),
                             "open-api without patient");
}

PatientEngagementContext engagement_context() {
    PatientEngagementContext c;
    c.site_number = std::string(kSite);
    c.patient_ref = "690";
    c.session_id = "1759442545187t415674";
    c.note_id = "note-31337";
    c.authored = "2025-10-02T18:02:25.187Z";
    return c;
}

PatientEngagement engagement_full() {
    return engagement_or_throw(
        parse_patient_engagement(
            data("pe-ocean-patient.json"), data("pe-pt-update.json"), engagement_context()),
        "engagement full");
}

PatientEngagement engagement_update_only() {
    return engagement_or_throw(parse_patient_engagement("", data("pe-pt-update.json"), engagement_context()),
                               "engagement update only");
}

}  // namespace ocean_json_samples
