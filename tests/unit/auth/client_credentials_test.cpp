// parse_token_request: OAuth2 client-credentials requests as Ocean sends them (RFC 6749 §4.4).
#include "relay/auth/client_credentials.hpp"

#include <gtest/gtest.h>

#include <string>
#include <variant>

#include "relay/core/encoding.hpp"

namespace {

constexpr const char* kForm = "application/x-www-form-urlencoded";

using Result = std::variant<relay::auth::TokenRequest, relay::auth::TokenRequestError>;

relay::auth::TokenRequest request_of(const Result& result) {
    if (const auto* error = std::get_if<relay::auth::TokenRequestError>(&result)) {
        ADD_FAILURE() << "unexpected error " << error->error << ": " << error->description;
        return {};
    }
    return std::get<relay::auth::TokenRequest>(result);
}

relay::auth::TokenRequestError error_of(const Result& result) {
    if (std::holds_alternative<relay::auth::TokenRequest>(result)) {
        ADD_FAILURE() << "expected an error, the request parsed";
        return {};
    }
    return std::get<relay::auth::TokenRequestError>(result);
}

std::string basic(const std::string& id, const std::string& secret) {
    return "Basic " + relay::base64_encode(id + ":" + secret);
}

}  // namespace

TEST(ParseTokenRequest, FormFieldsAsOceanSendsThem) {
    const auto request = request_of(relay::auth::parse_token_request(
        kForm, "grant_type=client_credentials&client_id=ocean-client&client_secret=s%2Bcr%3Det", "", ""));
    EXPECT_EQ(request.client_id, "ocean-client");
    EXPECT_EQ(request.client_secret, "s+cr=et");
    EXPECT_EQ(request.scope, "");
}

TEST(ParseTokenRequest, FieldOrderDoesNotMatter) {
    const auto request = request_of(relay::auth::parse_token_request(
        kForm, "client_secret=sec&scope=user%2F*.write&client_id=id&grant_type=client_credentials", "", ""));
    EXPECT_EQ(request.client_id, "id");
    EXPECT_EQ(request.client_secret, "sec");
    EXPECT_EQ(request.scope, "user/*.write");
}

TEST(ParseTokenRequest, ContentTypeWithCharsetAndUpperCaseIsAccepted) {
    const std::string body = "grant_type=client_credentials&client_id=id&client_secret=sec";
    request_of(
        relay::auth::parse_token_request("application/x-www-form-urlencoded; charset=UTF-8", body, "", ""));
    request_of(
        relay::auth::parse_token_request("Application/X-WWW-Form-URLEncoded;charset=utf-8", body, "", ""));
}

TEST(ParseTokenRequest, ScopeWithSpacesIsDecoded) {
    const auto request = request_of(relay::auth::parse_token_request(
        kForm, "grant_type=client_credentials&client_id=id&client_secret=sec&scope=a+b%20c", "", ""));
    EXPECT_EQ(request.scope, "a b c");
}

TEST(ParseTokenRequest, BasicHeaderCredentialsAreFormDecoded) {
    // RFC 6749 §2.3.1: id and secret are application/x-www-form-urlencoded before Basic encoding.
    const auto request = request_of(relay::auth::parse_token_request(
        kForm, "grant_type=client_credentials", basic("my+client", "p%3Aw%2Bd"), ""));
    EXPECT_EQ(request.client_id, "my client");
    EXPECT_EQ(request.client_secret, "p:w+d");
}

TEST(ParseTokenRequest, BasicHeaderWithMalformedEscapeIsInvalidClient) {
    const auto error = error_of(
        relay::auth::parse_token_request(kForm, "grant_type=client_credentials", basic("id", "bad%zz"), ""));
    EXPECT_EQ(error.error, "invalid_client");
}

TEST(ParseTokenRequest, GrantTypeMayComeInTheQueryString) {
    const auto request = request_of(relay::auth::parse_token_request(
        kForm, "client_id=id&client_secret=sec", "", "grant_type=client_credentials"));
    EXPECT_EQ(request.client_id, "id");
}

TEST(ParseTokenRequest, EmptyBodyWithBasicHeaderAndGrantTypeInQuery) {
    const auto request = request_of(relay::auth::parse_token_request(
        "", "", basic("id", "sec"), "grant_type=client_credentials&scope=x"));
    EXPECT_EQ(request.client_id, "id");
    EXPECT_EQ(request.client_secret, "sec");
    EXPECT_EQ(request.scope, "x");
}

TEST(ParseTokenRequest, MissingGrantTypeIsInvalidRequest) {
    const auto error =
        error_of(relay::auth::parse_token_request(kForm, "client_id=id&client_secret=sec", "", ""));
    EXPECT_EQ(error.error, "invalid_request");
    EXPECT_NE(error.description.find("grant_type"), std::string::npos) << error.description;
}

TEST(ParseTokenRequest, OtherGrantTypesAreUnsupported) {
    for (const char* grant : {"password", "authorization_code", "refresh_token", "Client_Credentials", ""}) {
        const auto error = error_of(relay::auth::parse_token_request(
            kForm, std::string("grant_type=") + grant + "&client_id=id&client_secret=sec", "", ""));
        EXPECT_EQ(error.error, "unsupported_grant_type") << grant;
    }
}

TEST(ParseTokenRequest, CredentialsInBothHeaderAndBodyAreInvalidRequest) {
    const auto error = error_of(relay::auth::parse_token_request(
        kForm, "grant_type=client_credentials&client_id=id&client_secret=sec", basic("id", "sec"), ""));
    EXPECT_EQ(error.error, "invalid_request");
}

TEST(ParseTokenRequest, AClientIdInTheBodyAlongsideBasicIsAlsoInvalidRequest) {
    const auto error = error_of(relay::auth::parse_token_request(
        kForm, "grant_type=client_credentials&client_id=id", basic("id", "sec"), ""));
    EXPECT_EQ(error.error, "invalid_request");
}

TEST(ParseTokenRequest, RepeatedParameterIsInvalidRequest) {
    const auto error = error_of(relay::auth::parse_token_request(
        kForm, "grant_type=client_credentials&client_id=a&client_id=b&client_secret=sec", "", ""));
    EXPECT_EQ(error.error, "invalid_request");
}

TEST(ParseTokenRequest, RepeatedParameterInTheQueryIsInvalidRequest) {
    const auto error = error_of(
        relay::auth::parse_token_request(kForm,
                                         "client_id=a&client_secret=sec",
                                         "",
                                         "grant_type=client_credentials&grant_type=client_credentials"));
    EXPECT_EQ(error.error, "invalid_request");
}

TEST(ParseTokenRequest, MalformedEscapeInTheBodyIsInvalidRequest) {
    const auto error = error_of(relay::auth::parse_token_request(
        kForm, "grant_type=client_credentials&client_id=a&client_secret=%zz", "", ""));
    EXPECT_EQ(error.error, "invalid_request");
}

TEST(ParseTokenRequest, WrongContentTypeIsInvalidRequest) {
    const std::string body = "grant_type=client_credentials&client_id=id&client_secret=sec";
    for (const char* type : {"application/json",
                             "text/plain",
                             "",
                             "application/x-www-form-urlencodedx",
                             "multipart/form-data"}) {
        const auto error = error_of(relay::auth::parse_token_request(type, body, "", ""));
        EXPECT_EQ(error.error, "invalid_request") << type;
    }
}

TEST(ParseTokenRequest, MissingSecretIsInvalidClient) {
    const auto error = error_of(
        relay::auth::parse_token_request(kForm, "grant_type=client_credentials&client_id=id", "", ""));
    EXPECT_EQ(error.error, "invalid_client");
}

TEST(ParseTokenRequest, NonBasicAuthorizationHeaderIsInvalidClient) {
    const auto error =
        error_of(relay::auth::parse_token_request(kForm, "grant_type=client_credentials", "Bearer abc", ""));
    EXPECT_EQ(error.error, "invalid_client");
}

TEST(ParseTokenRequest, UnknownParametersAreIgnored) {
    const auto request = request_of(relay::auth::parse_token_request(
        kForm,
        "grant_type=client_credentials&audience=x&client_id=id&client_secret=sec&&resource=y",
        "",
        ""));
    EXPECT_EQ(request.client_id, "id");
}

TEST(ParseTokenRequest, ErrorDescriptionsNeverRepeatValues) {
    const auto error = error_of(relay::auth::parse_token_request(
        kForm,
        "grant_type=client_credentials&client_id=SECRET-MARKER-ID&client_id=x&client_secret=SECRET-MARKER-PW",
        "",
        ""));
    EXPECT_EQ(error.description.find("SECRET-MARKER"), std::string::npos) << error.description;
}

// --- scope syntax (RFC 6749 §3.3) ---------------------------------------------------------------

TEST(ScopeSyntax, ScopeTokensSeparatedBySingleSpacesAreValid) {
    EXPECT_TRUE(relay::auth::is_valid_scope(""));
    EXPECT_TRUE(relay::auth::is_valid_scope("user/*"));
    EXPECT_TRUE(relay::auth::is_valid_scope("user/*.read user/*.write system/Task.rs"));
    EXPECT_TRUE(relay::auth::is_valid_scope("!#[]~"));
    EXPECT_TRUE(relay::auth::is_valid_scope(std::string(1024, 'x')));
    EXPECT_TRUE(relay::auth::is_valid_scope(std::string(511, 'x') + " " + std::string(512, 'y')));
}

TEST(ScopeSyntax, OtherCharactersSpacingAndLengthsAreInvalid) {
    for (const std::string& scope : {std::string("a\"b"),
                                    std::string("a\\b"),
                                    std::string("a\tb"),
                                    std::string("a  b"),
                                    std::string(" a"),
                                    std::string("a "),
                                    std::string(" "),
                                    std::string("a\0b", 3),
                                    std::string("caf\xc3\xa9"),
                                    std::string("a\x7f"),
                                    std::string("a\nb"),
                                    std::string(1025, 'x'),
                                    std::string(512, 'x') + " " + std::string(512, 'y')}) {
        EXPECT_FALSE(relay::auth::is_valid_scope(scope)) << scope.size();
    }
}

TEST(ScopeSyntax, AScopeTokenHasNoSpaces) {
    EXPECT_TRUE(relay::auth::is_valid_scope_token("user/*.write"));
    EXPECT_FALSE(relay::auth::is_valid_scope_token(""));
    EXPECT_FALSE(relay::auth::is_valid_scope_token("a b"));
    EXPECT_FALSE(relay::auth::is_valid_scope_token("a\"b"));
    EXPECT_FALSE(relay::auth::is_valid_scope_token(std::string(1025, 'x')));
}

TEST(ParseTokenRequest, MalformedOrOversizedScopeIsInvalidScopeWithoutRepeatingIt) {
    for (const std::string& scope : {std::string("a%22secretvalue"), std::string("a++secretvalue"),
                                    "secretvalue" + std::string(1020, 'x')}) {
        const auto error = error_of(relay::auth::parse_token_request(
            kForm, "grant_type=client_credentials&client_id=id&client_secret=sec&scope=" + scope, "", ""));
        EXPECT_EQ(error.error, "invalid_scope");
        EXPECT_EQ(error.description.find("secretvalue"), std::string::npos);
    }
    // In the query string, too.
    const auto error = error_of(relay::auth::parse_token_request(
        "", "", basic("id", "sec"), "grant_type=client_credentials&scope=%01"));
    EXPECT_EQ(error.error, "invalid_scope");
}

TEST(ParseTokenRequest, MissingCredentialsComeBeforeAMalformedScope) {
    const auto error = error_of(relay::auth::parse_token_request(
        kForm, "grant_type=client_credentials&client_id=id&scope=a%22b", "", ""));
    EXPECT_EQ(error.error, "invalid_client");
}
