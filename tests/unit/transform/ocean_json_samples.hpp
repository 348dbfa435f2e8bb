// Samples of Ocean's proprietary JSON (Open API referral, Patient Engagement results) written for the
// tests from Ocean's documented shapes (ocean-api.md §4.4, §5.2; synthetic people only), in data/, and
// what the transform makes of them: shared by the unit tests, the renderer goldens and the samples the
// external validators check.
#pragma once

#include <string>
#include <string_view>

#include "relay/transform/patient_engagement.hpp"
#include "relay/transform/referral.hpp"

namespace ocean_json_samples {

inline constexpr std::string_view kSite = "4321";

/// The text of tests/unit/transform/data/<file>.
std::string data(std::string_view file);

/// open-api-referral-full.json with open-api-patient-wrapped.json, for site kSite.
relay::transform::Referral open_api_full();
/// The same referral without patient data.
relay::transform::Referral open_api_without_patient();

/// The context the fetcher would pass for pe-ocean-patient.json + pe-pt-update.json.
relay::transform::PatientEngagementContext engagement_context();
/// pe-ocean-patient.json + pe-pt-update.json.
relay::transform::PatientEngagement engagement_full();
/// pe-pt-update.json alone (the patient not fetched): identifiers from the context only.
relay::transform::PatientEngagement engagement_update_only();

}  // namespace ocean_json_samples
