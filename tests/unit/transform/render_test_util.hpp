// Helpers of the renderer tests: hand-built and randomised canonical referrals, a deterministic pretty
// printer for golden files, and reading/writing files.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "relay/transform/referral.hpp"

namespace render_test {

namespace json = boost::json;
using namespace relay::transform;

/// Every field of the model set, both optional clinicians, every receiver-side list.
Referral full_referral();
/// Only what Ocean always sends: the ref, the event, the listing; everything else empty.
Referral minimal_referral();
/// A referral with random contents drawn from `seed`: strings with quotes, backslashes, control
/// characters, non-ASCII (incl. astral and U+2028), HTML; random list lengths and optional parts.
/// `fhir_safe` keeps to what FHIR can carry exactly (no empty strings in lists, valid ids, valid codes:
/// see render_fhir_r4.cpp), so that it round-trips through the normalised bundle.
Referral random_referral(std::uint64_t seed, bool fhir_safe);

/// JSON with 2-space indentation, keys in document order, one value per line: stable and diffable.
std::string pretty(const json::value& v);

std::string read_file(const std::filesystem::path& path);
void write_file(const std::filesystem::path& path, std::string_view content);

}  // namespace render_test
