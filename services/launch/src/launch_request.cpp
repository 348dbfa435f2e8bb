#include "launch_request.hpp"

#include <optional>

#include "relay/core/encoding.hpp"
#include "relay/openapi/config.hpp"

namespace relay::launch {

namespace {

constexpr std::size_t kMaxQuery = 4096;
constexpr std::size_t kMaxParameters = 32;
constexpr std::size_t kMaxToken = 512;

bool is_valid_token(std::string_view token) {
    return !token.empty() && token.size() <= kMaxToken &&
           token.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~+/=") ==
               std::string_view::npos;
}

}  // namespace

bool is_valid_ref(std::string_view ref) {
    return !ref.empty() && ref.size() <= 128 &&
           ref.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:~-") ==
               std::string_view::npos;
}

ParsedLaunch parse_launch_query(std::string_view query, const ParameterNames& names, bool require_launch_token) {
    if (query.size() > kMaxQuery) return std::string("malformed-parameters");
    LaunchParameters parameters;
    bool seen[5] = {false, false, false, false, false};
    std::size_t count = 0;
    while (!query.empty()) {
        if (++count > kMaxParameters) return std::string("malformed-parameters");
        const auto amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        if (pair.empty()) continue;
        const auto eq = pair.find('=');
        const auto name = form_url_decode(pair.substr(0, eq));
        const auto value = form_url_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
        if (!name || !value) return std::string("malformed-parameters");
        std::string* slot = nullptr;
        int index = -1;
        if (*name == names.referral_ref) {
            slot = &parameters.referral_ref;
            index = 0;
        } else if (*name == names.site) {
            slot = &parameters.site;
            index = 1;
        } else if (*name == names.listing_ref) {
            slot = &parameters.listing_ref;
            index = 2;
        } else if (*name == names.external_service_id) {
            slot = &parameters.external_service_id;
            index = 3;
        } else if (*name == names.launch_token) {
            slot = &parameters.launch_token;
            index = 4;
        } else {
            continue;  // Ocean may add parameters; they are not ours to judge
        }
        if (seen[index]) return std::string("malformed-parameters");
        seen[index] = true;
        *slot = *value;
    }
    if (parameters.referral_ref.empty() || parameters.site.empty()) return std::string("missing-parameters");
    if (require_launch_token && parameters.launch_token.empty()) return std::string("missing-parameters");
    if (!is_valid_ref(parameters.referral_ref) || !openapi::is_site_number(parameters.site))
        return std::string("malformed-parameters");
    if (seen[2] && !is_valid_ref(parameters.listing_ref)) return std::string("malformed-parameters");
    if (seen[3] && !is_valid_ref(parameters.external_service_id)) return std::string("malformed-parameters");
    if (seen[4] && !is_valid_token(parameters.launch_token)) return std::string("malformed-parameters");
    return parameters;
}

}  // namespace relay::launch
