#pragma once

#include <string>
#include <string_view>

namespace relay::fhir {

/// A FHIR R4 OperationOutcome with one issue, serialised as JSON.
/// severity: fatal | error | warning | information; code: an IssueType code (invalid, structure,
/// required, value, security, login, forbidden, not-found, not-supported, too-costly, transient,
/// timeout, informational, processing...). `expression` may be empty.
std::string operation_outcome(std::string_view severity,
                              std::string_view code,
                              std::string_view diagnostics,
                              std::string_view expression = {});

}  // namespace relay::fhir
