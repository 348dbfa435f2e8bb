// parse_basic / parse_bearer: the Authorization header schemes.
#include "relay/auth/basic.hpp"

#include <gtest/gtest.h>

#include <string>

#include "relay/core/encoding.hpp"

namespace {

std::string basic(const std::string& user_colon_password) {
    return "Basic " + relay::base64_encode(user_colon_password);
}

}  // namespace

TEST(ParseBasic, DecodesUserAndPassword) {
    auto credentials = relay::auth::parse_basic(basic("user:pass"));
    ASSERT_TRUE(credentials.has_value());
    EXPECT_EQ(credentials->user, "user");
    EXPECT_EQ(credentials->password, "pass");
}

TEST(ParseBasic, SchemeIsCaseInsensitive) {
    const std::string encoded = relay::base64_encode("user:pass");
    for (const std::string scheme : {"basic", "BASIC", "bAsIc"}) {
        auto credentials = relay::auth::parse_basic(scheme + " " + encoded);
        ASSERT_TRUE(credentials.has_value()) << scheme;
        EXPECT_EQ(credentials->user, "user");
    }
}

TEST(ParseBasic, SplitsAtTheFirstColonOnly) {
    auto credentials = relay::auth::parse_basic(basic("user:pa:ss"));
    ASSERT_TRUE(credentials.has_value());
    EXPECT_EQ(credentials->user, "user");
    EXPECT_EQ(credentials->password, "pa:ss");
}

TEST(ParseBasic, EmptyPasswordIsAllowed) {
    auto credentials = relay::auth::parse_basic(basic("user:"));
    ASSERT_TRUE(credentials.has_value());
    EXPECT_EQ(credentials->password, "");
}

TEST(ParseBasic, ExtraSpacesAroundTheCredentialsAreIgnored) {
    auto credentials = relay::auth::parse_basic("Basic   " + relay::base64_encode("u:p") + "  ");
    ASSERT_TRUE(credentials.has_value());
    EXPECT_EQ(credentials->user, "u");
}

TEST(ParseBasic, MissingColonIsRejected) {
    EXPECT_FALSE(relay::auth::parse_basic(basic("userpass")).has_value());
}

TEST(ParseBasic, BadBase64IsRejected) {
    EXPECT_FALSE(relay::auth::parse_basic("Basic !!!!").has_value());
    EXPECT_FALSE(relay::auth::parse_basic("Basic dXNlcjpwYXNz=").has_value());
    EXPECT_FALSE(relay::auth::parse_basic("Basic dXNlc jpwYXNz").has_value());
}

TEST(ParseBasic, OtherSchemesAndEmptyValuesAreRejected) {
    EXPECT_FALSE(relay::auth::parse_basic("").has_value());
    EXPECT_FALSE(relay::auth::parse_basic("Basic").has_value());
    EXPECT_FALSE(relay::auth::parse_basic("Basic ").has_value());
    EXPECT_FALSE(relay::auth::parse_basic("Basic    ").has_value());
    EXPECT_FALSE(relay::auth::parse_basic("Bearer " + relay::base64_encode("u:p")).has_value());
    EXPECT_FALSE(relay::auth::parse_basic("Basicx" + relay::base64_encode("u:p")).has_value());
}

TEST(ParseBearer, ReturnsTheToken) {
    EXPECT_EQ(relay::auth::parse_bearer("Bearer abc.def.ghi"), "abc.def.ghi");
    EXPECT_EQ(relay::auth::parse_bearer("bearer abc"), "abc");
    EXPECT_EQ(relay::auth::parse_bearer("BEARER abc"), "abc");
    EXPECT_EQ(relay::auth::parse_bearer("Bearer  abc "), "abc");
}

TEST(ParseBearer, OtherSchemesAndEmptyTokensAreRejected) {
    EXPECT_FALSE(relay::auth::parse_bearer("").has_value());
    EXPECT_FALSE(relay::auth::parse_bearer("Bearer").has_value());
    EXPECT_FALSE(relay::auth::parse_bearer("Bearer ").has_value());
    EXPECT_FALSE(relay::auth::parse_bearer("Bearerabc").has_value());
    EXPECT_FALSE(relay::auth::parse_bearer("Basic abc").has_value());
    EXPECT_FALSE(relay::auth::parse_bearer("Token abc").has_value());
}
