// operation_outcome(): a FHIR R4 OperationOutcome with one issue, checked with simdjson's DOM parser.
#include "relay/fhir/operation_outcome.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>
#include <string_view>

namespace {

std::string str(simdjson::dom::element element) {
    return std::string(std::string_view(element));
}

}  // namespace

TEST(OperationOutcome, HasOneIssueWithEveryField) {
    const std::string json = relay::fhir::operation_outcome(
        "error", "structure", "Bundle.type must be \"message\"", "Bundle.type");
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
    EXPECT_EQ(str(doc["resourceType"]), "OperationOutcome");
    simdjson::dom::array issues = doc["issue"];
    ASSERT_EQ(issues.size(), 1u);
    simdjson::dom::element issue = issues.at(0);
    EXPECT_EQ(str(issue["severity"]), "error");
    EXPECT_EQ(str(issue["code"]), "structure");
    EXPECT_EQ(str(issue["diagnostics"]), "Bundle.type must be \"message\"");
    simdjson::dom::array expression = issue["expression"];
    ASSERT_EQ(expression.size(), 1u);
    EXPECT_EQ(str(expression.at(0)), "Bundle.type");
}

TEST(OperationOutcome, EmptyExpressionIsLeftOut) {
    const std::string json = relay::fhir::operation_outcome("fatal", "security", "authentication required");
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
    simdjson::dom::element issue = doc["issue"].at(0);
    EXPECT_EQ(str(issue["severity"]), "fatal");
    EXPECT_EQ(issue["expression"].error(), simdjson::NO_SUCH_FIELD);
}

TEST(OperationOutcome, QuotesBackslashesAndControlCharactersAreEscaped) {
    const std::string diagnostics = "a \"quoted\" \\ path\nnext line\t\x01 end";
    const std::string expression = "Bundle.entry[0].resource[\"x\"]";
    const std::string json = relay::fhir::operation_outcome("error", "invalid", diagnostics, expression);
    EXPECT_EQ(json.find('\n'), std::string::npos) << "raw newline in " << json;
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
    EXPECT_EQ(str(doc["issue"].at(0)["diagnostics"]), diagnostics);
    EXPECT_EQ(str(doc["issue"].at(0)["expression"].at(0)), expression);
}

TEST(OperationOutcome, InjectedJsonStaysInsideTheString) {
    const std::string hostile = R"(x","severity":"information","code":"informational)";
    const std::string json = relay::fhir::operation_outcome("error", "invalid", hostile);
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
    EXPECT_EQ(str(doc["issue"].at(0)["severity"]), "error");
    EXPECT_EQ(str(doc["issue"].at(0)["diagnostics"]), hostile);
}
