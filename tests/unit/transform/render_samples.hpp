// The inputs of the renderer goldens and of the external validators' samples: hand-built referrals now,
// plus the real Ocean fixtures and generated bundles of both dialects read by ReferralParser.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "generator.hpp"
#include "relay/transform/referral.hpp"

namespace render_samples {

struct Input {
    std::string name;  ///< golden file stem: tests/golden/transform/<name>.<format>.json
    relay::transform::Referral referral;
};

/// The generator spec the goldens and round-trip tests start from (fixed site, listing, host).
relay::ocean_sim::ReferralSpec generated_spec(std::uint64_t seed, relay::ocean_sim::Dialect dialect);

/// Every golden input, in a fixed order: hand-built, the real fixtures, generated bundles.
std::vector<Input> golden_inputs();

/// Writes the normalised bundle of every golden input and the Patient Engagement bundles into `fhir_dir`,
/// the hub JSON of every golden input plus randomised referrals into `hub_dir`, the Patient Engagement
/// hub JSON into `hub_dir`-engagement (each emptied first; "" = skip). Returns files written.
std::size_t write_samples(const std::string& fhir_dir, const std::string& hub_dir);

}  // namespace render_samples
