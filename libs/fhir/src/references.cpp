#include "relay/fhir/references.hpp"

namespace relay::fhir {

bool system_is(std::string_view system, std::string_view name) {
    if (!system.ends_with(name)) return false;
    return system.size() == name.size() || system[system.size() - name.size() - 1] == '/';
}

std::string_view strip_urn(std::string_view s) {
    constexpr std::string_view kUrn = "urn:uuid:";
    if (s.starts_with(kUrn)) s.remove_prefix(kUrn.size());
    return s;
}

bool refers_to(std::string_view ref, std::string_view type, std::string_view full_url, std::string_view id) {
    if (ref.empty()) return false;
    if (!full_url.empty()) {
        if (ref == full_url || strip_urn(ref) == strip_urn(full_url)) return true;
        if (full_url.size() > ref.size() && full_url.ends_with(ref) &&
            full_url[full_url.size() - ref.size() - 1] == '/') {
            return true;
        }
    }
    if (!id.empty()) {
        if (ref == id || strip_urn(ref) == id) return true;
        if (ref.size() == type.size() + 1 + id.size() && ref.starts_with(type) && ref[type.size()] == '/' &&
            ref.ends_with(id)) {
            return true;
        }
        if (ref.ends_with(id) && ref.size() > id.size() + type.size() + 1) {
            const auto prefix = ref.substr(0, ref.size() - id.size());
            if (prefix.ends_with("/") && prefix.substr(0, prefix.size() - 1).ends_with(type)) return true;
        }
    }
    return false;
}

}  // namespace relay::fhir
