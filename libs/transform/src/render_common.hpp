// Shared pieces of the renderers: building Boost.JSON trees in one arena and serialising them into one
// pre-sized string, deterministic name-based uuids, Ocean's naming-system prefix.
//
// Allocation discipline (a benchmark measures bundles/s): every renderer builds its whole tree inside
// one `Arena` (a monotonic resource: no per-node free, one block for most referrals) and builds nodes
// in place in their parent (`add_object`, `set_object`, ...) so no subtree is ever copied between
// storages (Boost.JSON copies a value moved into a container with a different memory resource).
#pragma once

#include <boost/json.hpp>
#include <cstddef>
#include <string>
#include <string_view>

#include "relay/transform/referral.hpp"

namespace relay::transform::detail {

namespace json = boost::json;

/// The normalised output names Ocean's systems under one fixed host, whatever host the source bundle
/// used (ocean-api.md §3.4: parsers match on the suffix, so any host reads back the same).
inline constexpr std::string_view kOceanHost = "https://ocean.cognisantmd.com";
inline constexpr std::string_view kOceanNamingSystem =
    "https://ocean.cognisantmd.com/svc/fhir/v1/NamingSystem/";

/// One monotonic memory resource for one render call; its first block is sized from the referral.
class Arena {
   public:
    explicit Arena(std::size_t first_block) : resource_(first_block) {}
    Arena(const Arena&) = delete;
    Arena& operator=(const Arena&) = delete;
    /// Non-owning: the arena outlives every value built in it (both are locals of one render call).
    [[nodiscard]] json::storage_ptr storage() { return json::storage_ptr(&resource_); }

   private:
    json::monotonic_resource resource_;
};

/// A rough upper estimate of the bytes the referral's strings take, to size the arena and the output.
/// `with_attachment_data` = false for formats that do not carry inline attachment data.
std::size_t payload_bytes(const Referral& referral, bool with_attachment_data = true);

/// Serialises into a string reserved to `size_hint` (grows if needed).
std::string serialize(const json::value& root, std::size_t size_hint);

// -- in-place builders (the child shares the parent's storage) --

inline json::object& set_object(json::object& parent, std::string_view key) {
    return parent[key].emplace_object();
}
inline json::array& set_array(json::object& parent, std::string_view key) {
    return parent[key].emplace_array();
}
inline json::object& add_object(json::array& parent) {
    return parent.emplace_back(json::object(parent.storage())).get_object();
}
/// parent[key] = value, unless value is empty (FHIR forbids empty strings; absent reads back as "").
inline void put(json::object& parent, std::string_view key, std::string_view value) {
    if (!value.empty()) parent[key] = value;
}
/// parent[key] = value, always (the flat formats keep every documented key, "" when unknown).
inline void put_always(json::object& parent, std::string_view key, std::string_view value) {
    parent[key] = value;
}

/// A name-based (RFC 4122 version 5, SHA-1) uuid of (referral_ref, role, key) under ocean-relay's own
/// namespace: the same referral always gets the same resource ids in every normalised bundle.
std::string name_uuid(std::string_view referral_ref, std::string_view role, std::string_view key = {});

/// A FHIR `id` ([A-Za-z0-9-.]{1,64}); other strings cannot be written as a resource id.
bool is_fhir_id(std::string_view s);

bool address_empty(const Address& a);
bool name_empty(const HumanName& n);

/// The patient's first given name / the rest of the given names joined by ' ' (for formats that only
/// have firstName + middle names).
std::string_view first_given(const HumanName& n);

/// The first telecom value with this system (and use, if given), else "".
std::string_view telecom_value(const std::vector<Telecom>& telecom,
                               std::string_view system,
                               std::string_view use = {});

/// A FHIR Patient's elements from the canonical patient, as render_fhir_r4 writes them (identifier:
/// health card with Ontario's system and version-code extension, MRN, others; name, telecom, gender,
/// birthDate, address, communication).
void fhir_patient(json::object& out, const Patient& patient);

/// The hub JSON's `patient` object, as render_hub_json writes it (hub-referral.schema.json).
void hub_patient(json::object& out, const Patient& patient);

}  // namespace relay::transform::detail
