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
#include "openapi.hpp"
#include "relay/auth/authenticator.hpp"
#include "relay/core/encoding.hpp"
#include "relay/core/error.hpp"
#include "relay/http/server.hpp"

namespace relay::ingress {

/// An integration's Open API webhook: its configuration, rate limiter and replay memory.
struct OpenApiState {
    explicit OpenApiState(const OpenApiConfig& open_api)
        : config(&open_api),
          limiter(open_api.rate_per_minute, open_api.rate_burst, open_api.rate_max_tracked),
          memory(open_api.replay_window, open_api.replay_memory) {}
    const OpenApiConfig* config;
    openapi::RateLimiter limiter;
    openapi::NotificationMemory memory;
};

struct Ingress::Route {
    enum class Kind { kFhir, kToken, kOpenApi };
    Kind kind;
    const IntegrationConfig* integration;
    std::shared_ptr<auth::Authenticator> authenticator;
    IntegrationMetrics* metrics;
    std::shared_ptr<OpenApiState> openapi;  // kOpenApi
};

struct Ingress::HubSystem {
    const HubSystemConfig* config;
    std::unique_ptr<auth::Authenticator> authenticator;
};

// What the admission hook learnt from the headers, for the handler once the body is read.
struct Ingress::Admitted {
    enum class Kind { kFhir, kToken, kHub, kHubToken, kOpenApi };
    Kind kind = Kind::kFhir;
    const Route* route = nullptr;  // kFhir, kToken, kOpenApi
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

/// How a request whose record the broker did not acknowledge is answered, on every path that publishes
/// (FHIR, hub API, Open API): 500 when retrying cannot help (a permanent error), else 503 with
/// Retry-After (kafka.retry_after); `rejection` is the reason the metrics count.
struct NotStored {
    boost::beast::http::status status;
    std::string_view rejection;
};

inline NotStored not_stored(ErrorKind kind) {
    if (kind == ErrorKind::kPermanent) {
        return {boost::beast::http::status::internal_server_error, "kafka_permanent_error"};
    }
    return {boost::beast::http::status::service_unavailable,
            kind == ErrorKind::kTimeout ? "kafka_timeout" : "kafka_unavailable"};
}

/// The Open API webhook's error body: {"error": code, "detail": text}. Neither ever repeats what the
/// caller sent.
inline std::string openapi_error_json(std::string_view error, std::string_view detail) {
    std::string body = R"({"error":)";
    append_json_string(body, error);
    body += R"(,"detail":)";
    append_json_string(body, detail);
    body += '}';
    return body;
}

inline http::Response openapi_error(boost::beast::http::status status,
                                    unsigned version,
                                    std::string_view error,
                                    std::string_view detail) {
    return json_response(status, version, openapi_error_json(error, detail));
}

inline http::Response hub_error(boost::beast::http::status status,
                                unsigned version,
                                std::string_view code,
                                std::string_view message,
                                const std::vector<hub::FieldError>& fields = {}) {
    return json_response(status, version, hubapi::error_json(code, message, fields));
}

}  // namespace detail
}  // namespace relay::ingress
