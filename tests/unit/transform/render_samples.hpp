// The inputs of the renderer goldens and of the external validators' samples: hand-built referrals now,
// plus the real Ocean fixtures and generated bundles of both dialects read by ReferralParser.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "relay/transform/referral.hpp"

namespace render_samples {

struct Input {
    std::string name;  ///< golden file stem: tests/golden/transform/<name>.<format>.json
    relay::transform::Referral referral;
};

/// Every golden input, in a fixed order.
std::vector<Input> golden_inputs();

/// Writes the normalised bundle of every golden input into `fhir_dir` and the hub JSON of every golden
/// input plus randomised referrals into `hub_dir` (each emptied first; "" = skip). Returns files written.
std::size_t write_samples(const std::string& fhir_dir, const std::string& hub_dir);

}  // namespace render_samples
