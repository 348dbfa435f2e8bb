// What ingress.cpp and hub_api.cpp share of the ingress's request handling: what admission learnt about
// a request, the hub systems, and small helpers for the answers and the metrics. Not part of the
// service's interface: only those two files include it.
#pragma once

#include <prometheus/gauge.h>

#include <algorithm>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/core/detail/string_view.hpp>
#include <cctype>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config.hpp"
#include "hub_api.hpp"
#include "ingress.hpp"
#include "relay/auth/authenticator.hpp"
#include "relay/http/server.hpp"

namespace relay::ingress {

struct Ingress::HubSystem {
    const HubSystemConfig* config;
    std::unique_ptr<auth::Authenticator> authenticator;
};

// What the admission hook learnt from the headers, for the handler once the body is read.
struct Ingress::Admitted {
    enum class Kind { kFhir, kToken, kHub, kHubToken };
    Kind kind = Kind::kFhir;
    const Route* route = nullptr;  // kFhir, kToken
    hubapi::HubRoute hub_route;    // kHub, kHubToken
    /// kHub: the hub systems whose header credentials passed, in order; the first whose signature (if
    /// it needs one) also passes is the caller.
    std::vector<const HubSystem*> hub_candidates;
    std::string address;     // the client address, for the failure limiter
    std::string credential;  // what the request claims to be, for the failure limiter (hashed there)
};

namespace detail {

inline std::string_view sv(boost::core::string_view s) {
    return {s.data(), s.size()};
}

inline std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

// Media type without parameters, lower case: "application/fhir+json; charset=utf-8" →
// "application/fhir+json".
inline std::string media_type(std::string_view content_type) {
    const auto semicolon = content_type.find(';');
    std::string_view type = content_type.substr(0, semicolon);
    while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
    while (!type.empty() && type.front() == ' ') type.remove_prefix(1);
    return lower(type);
}

inline http::Response json_response(boost::beast::http::status status, unsigned version, std::string body) {
    http::Response res{status, version};
    res.set(boost::beast::http::field::content_type, "application/json");
    res.body() = std::move(body);
    return res;
}

inline auth::HeaderLookup header_lookup(const http::Request& request) {
    return [&request](std::string_view name) {
        return sv(request[boost::core::string_view(name.data(), name.size())]);
    };
}

inline double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

struct InFlight {
    prometheus::Gauge& gauge;
    explicit InFlight(prometheus::Gauge& g) : gauge(g) { gauge.Increment(); }
    ~InFlight() { gauge.Decrement(); }
    InFlight(const InFlight&) = delete;
    InFlight& operator=(const InFlight&) = delete;
};

inline http::Response hub_error(boost::beast::http::status status,
                                unsigned version,
                                std::string_view code,
                                std::string_view message,
                                const std::vector<hub::FieldError>& fields = {}) {
    return json_response(status, version, hubapi::error_json(code, message, fields));
}

}  // namespace detail
}  // namespace relay::ingress
