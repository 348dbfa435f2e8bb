#include "relay/fhir/operation_outcome.hpp"

#include "relay/core/encoding.hpp"

namespace relay::fhir {

std::string operation_outcome(std::string_view severity,
                              std::string_view code,
                              std::string_view diagnostics,
                              std::string_view expression) {
    std::string out;
    out.reserve(160 + diagnostics.size() + expression.size());
    out += R"({"resourceType":"OperationOutcome","issue":[{"severity":)";
    append_json_string(out, severity);
    out += R"(,"code":)";
    append_json_string(out, code);
    out += R"(,"diagnostics":)";
    append_json_string(out, diagnostics);
    if (!expression.empty()) {
        out += R"(,"expression":[)";
        append_json_string(out, expression);
        out += ']';
    }
    out += "}]}";
    return out;
}

}  // namespace relay::fhir
