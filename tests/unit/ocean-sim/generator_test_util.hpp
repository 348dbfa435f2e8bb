// Helpers shared by the ocean-sim generator tests: a ready spec and Boost.JSON navigation.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "generator.hpp"

namespace relay::ocean_sim {
inline void PrintTo(Dialect dialect, std::ostream* os) {
    *os << "v" << to_string(dialect);
}
}  // namespace relay::ocean_sim

namespace sim_test {

namespace json = boost::json;
using relay::ocean_sim::Dialect;
using relay::ocean_sim::ReferralSpec;

inline constexpr std::string_view kSite = "4321";
inline constexpr std::string_view kListing = "harbourfront_clinic-73632721";
inline constexpr std::string_view kRequestUrl = "https://relay.example/ocean/acme/fhir/$process-message";
inline constexpr std::string_view kHost = "https://test.cognisantmd.com";

inline ReferralSpec spec(std::uint64_t seed, Dialect dialect) {
    ReferralSpec s;
    s.seed = seed;
    s.dialect = dialect;
    s.site_number = kSite;
    s.listing_ref = kListing;
    s.request_url = kRequestUrl;
    s.ocean_host = kHost;
    return s;
}

/// Parses strictly (Boost.JSON also rejects invalid UTF-8); a failure is a test failure.
inline json::value parse(std::string_view body) {
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec) ADD_FAILURE() << "not valid JSON: " << ec.message();
    return v;
}

inline const json::array& entries(const json::value& bundle) {
    return bundle.at("entry").as_array();
}

inline const json::object& resource(const json::value& bundle, std::size_t i) {
    return entries(bundle).at(i).at("resource").as_object();
}

inline std::string str(const json::value& v) {
    return std::string(v.as_string());
}

inline std::vector<std::string> resource_types(const json::value& bundle) {
    std::vector<std::string> out;
    for (const auto& e : entries(bundle)) out.push_back(str(e.at("resource").at("resourceType")));
    return out;
}

/// The entries whose resourceType is `type`, in bundle order.
inline std::vector<const json::object*> resources_of(const json::value& bundle, std::string_view type) {
    std::vector<const json::object*> out;
    for (const auto& e : entries(bundle)) {
        const auto& r = e.at("resource").as_object();
        if (r.at("resourceType").as_string() == type) out.push_back(&r);
    }
    return out;
}

inline std::vector<std::string> keys(const json::object& o) {
    std::vector<std::string> out;
    for (const auto& kv : o) out.emplace_back(kv.key());
    return out;
}

}  // namespace sim_test
