// Helpers shared by the fhir unit tests: running the extractor and building message Bundles.
#pragma once

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <variant>
#include <vector>

#include "relay/fhir/extract.hpp"

// Readable failure messages: print the enums by name.
namespace relay::fhir {
inline void PrintTo(ExtractErrorCode code, std::ostream* os) {
    *os << to_string(code);
}
inline void PrintTo(Dialect dialect, std::ostream* os) {
    *os << to_string(dialect);
}
inline void PrintTo(ReferralRefSource source, std::ostream* os) {
    *os << to_string(source);
}
}  // namespace relay::fhir

namespace fhir_test {

using Result = std::variant<relay::fhir::InboundFacts, relay::fhir::ExtractError>;

inline Result extract(const std::string& json, bool strict = true) {
    relay::fhir::Extractor extractor(strict);
    return extractor.extract_unpadded(json);
}

inline relay::fhir::InboundFacts facts_of(const Result& result) {
    if (const auto* error = std::get_if<relay::fhir::ExtractError>(&result)) {
        ADD_FAILURE() << "unexpected extract error " << relay::fhir::to_string(error->code) << " at "
                      << error->expression << ": " << error->message;
        return {};
    }
    return std::get<relay::fhir::InboundFacts>(result);
}

inline relay::fhir::ExtractError error_of(const Result& result) {
    if (std::holds_alternative<relay::fhir::InboundFacts>(result)) {
        ADD_FAILURE() << "expected an extract error, the body was accepted";
        return {relay::fhir::ExtractErrorCode::kInvalidJson, "<accepted>", "<accepted>"};
    }
    return std::get<relay::fhir::ExtractError>(result);
}

inline std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) {
        if (!out.empty()) out += ',';
        out += item;
    }
    return out;
}

/// {"resourceType":"Bundle","id":"bundle-1","type":"message","entry":[...]}
inline std::string message_bundle(const std::vector<std::string>& entries) {
    return R"({"resourceType":"Bundle","id":"bundle-1","type":"message","entry":[)" + join(entries) + "]}";
}

/// An entry without fullUrl (v0.10 style) or with one (v0.11 style).
inline std::string entry(const std::string& resource, const std::string& full_url = "") {
    if (full_url.empty()) return R"({"resource":)" + resource + "}";
    return R"({"fullUrl":")" + full_url + R"(","resource":)" + resource + "}";
}

/// A MessageHeader with id "mh-1", event add-service-request and `more` members (JSON, leading comma
/// not included).
inline std::string message_header(const std::string& more = "") {
    std::string out =
        R"({"resourceType":"MessageHeader","id":"mh-1",)"
        R"("eventCoding":{"system":"https://ehealthontario.ca/fhir/CodeSystem/message-event-code","code":"add-service-request"})";
    if (!more.empty()) out += "," + more;
    return out + "}";
}

inline std::string identifier(const std::string& system, const std::string& value) {
    return R"({"system":")" + system + R"(","value":")" + value + R"("})";
}

/// Ocean's naming-system URI on `host` (ocean-api.md §3.4).
inline std::string naming_system(const std::string& name,
                                 const std::string& host = "https://test.cognisantmd.com") {
    return host + "/svc/fhir/v1/NamingSystem/" + name;
}

/// A Patient whose name carries `marker`, to prove that error messages never repeat payload values.
inline std::string patient(const std::string& marker, const std::string& id = "patient-1") {
    return R"({"resourceType":"Patient","id":")" + id + R"(","name":[{"family":")" + marker +
           R"(","given":["Test"]}],"identifier":[)" +
           identifier("https://fhir.infoway-inforoute.ca/NamingSystem/ca-on-patient-hcn", marker) + "]}";
}

/// Skips the test on a CPU that cannot run the extractor's kernel (it would die of SIGILL).
#define RELAY_REQUIRE_EXTRACTOR_CPU()                                                      \
    do {                                                                                   \
        if (!relay::fhir::cpu_supported()) GTEST_SKIP() << "CPU cannot run the extractor"; \
    } while (false)

}  // namespace fhir_test
