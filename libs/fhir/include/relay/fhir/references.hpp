// How Ocean's bundles name things, shared by every reader of them (the ingress's extractor and the
// router's parser must agree on each rule, byte for byte).
#pragma once

#include <string_view>

namespace relay::fhir {

/// An identifier system names `name` when it ends with "/name" (or is exactly `name`): Ocean's naming
/// systems embed the host (ocean-api.md §3.4), so they match by suffix.
bool system_is(std::string_view system, std::string_view name);

/// `s` without a leading "urn:uuid:".
std::string_view strip_urn(std::string_view s);

/// Whether reference `ref` names the entry with this resource type, fullUrl and id: by fullUrl (with or
/// without "urn:uuid:", as Ocean's MessageHeader fullUrl is a bare uuid), an absolute fullUrl ending in
/// the reference, bare id, `Type/id`, or an absolute URL ending in `Type/id` (ocean-api.md §3.3).
bool refers_to(std::string_view ref, std::string_view type, std::string_view full_url, std::string_view id);

}  // namespace relay::fhir
