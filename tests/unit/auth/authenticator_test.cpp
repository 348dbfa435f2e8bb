// Authenticator: every scheme's outcome, reason and challenge; signatures on top; the token endpoint.
#include "relay/auth/authenticator.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "relay/auth/webhook_signature.hpp"
#include "relay/core/encoding.hpp"

using namespace std::chrono_literals;
using relay::auth::Authenticator;
using relay::auth::AuthPolicy;
using relay::auth::AuthResult;
using relay::auth::Scheme;
using Outcome = relay::auth::AuthResult::Outcome;

namespace {

const relay::SystemTime kNow{std::chrono::seconds(1'700'000'000)};
constexpr const char* kForm = "application/x-www-form-urlencoded";
constexpr const char* kBasicChallenge = R"(Basic realm="ocean-relay", charset="UTF-8")";
constexpr const char* kBearerChallenge = R"(Bearer realm="ocean-relay")";
constexpr const char* kInvalidTokenChallenge = R"(Bearer realm="ocean-relay", error="invalid_token")";

// Request headers by lower-case name; lookup() stays valid while the Headers object lives.
struct Headers {
    std::map<std::string, std::string, std::less<>> values;

    relay::auth::HeaderLookup lookup() const {
        return [this](std::string_view name) -> std::string_view {
            auto it = values.find(name);
            return it == values.end() ? std::string_view() : std::string_view(it->second);
        };
    }
};

std::string basic(const std::string& user, const std::string& password) {
    return "Basic " + relay::base64_encode(user + ":" + password);
}

AuthPolicy basic_policy() {
    AuthPolicy policy;
    policy.scheme = Scheme::kBasic;
    policy.basic_user = "ocean";
    policy.basic_password = relay::Secret::from_value("correct horse");
    return policy;
}

AuthPolicy oauth_policy() {
    AuthPolicy policy;
    policy.scheme = Scheme::kOAuth2;
    policy.token_lifetime = 600s;
    policy.oauth_clients.push_back({"client-a", relay::Secret::from_value("secret-a"), {}});
    policy.oauth_clients.push_back(
        {"client-b", relay::Secret::from_value("secret-b"), {"user/*.write", "user/*.read"}});
    return policy;
}

class OAuthTest : public ::testing::Test {
   protected:
    relay::auth::TokenSigner signer_{relay::Secret::from_value(std::string(32, 's')), "ocean-relay", 30s};
    Authenticator site_a_{oauth_policy(), "site-a", &signer_};
    Authenticator site_b_{oauth_policy(), "site-b", &signer_};

    AuthResult check_bearer(const Authenticator& authenticator,
                            const std::string& token,
                            relay::SystemTime now = kNow) {
        Headers headers{{{"authorization", "Bearer " + token}}};
        return authenticator.check(headers.lookup(), "{}", now);
    }

    relay::auth::IssuedToken issued(
        const std::variant<relay::auth::IssuedToken, relay::auth::TokenEndpointError>& result) {
        if (const auto* error = std::get_if<relay::auth::TokenEndpointError>(&result)) {
            ADD_FAILURE() << "token endpoint error " << error->status << " " << error->error << ": "
                          << error->description;
            return {};
        }
        return std::get<relay::auth::IssuedToken>(result);
    }

    relay::auth::TokenEndpointError endpoint_error(
        const std::variant<relay::auth::IssuedToken, relay::auth::TokenEndpointError>& result) {
        if (std::holds_alternative<relay::auth::IssuedToken>(result)) {
            ADD_FAILURE() << "expected a token endpoint error, a token was issued";
            return {};
        }
        return std::get<relay::auth::TokenEndpointError>(result);
    }
};

}  // namespace

// --- none ---------------------------------------------------------------------------------------

TEST(AuthenticatorNone, AllowsEveryRequest) {
    Authenticator authenticator(AuthPolicy{}, "site", nullptr);
    Headers none;
    EXPECT_EQ(authenticator.check(none.lookup(), "", kNow).outcome, Outcome::kAllowed);
    Headers junk{{{"authorization", "Bearer whatever"}}};
    EXPECT_TRUE(authenticator.check(junk.lookup(), "", kNow).allowed());
    EXPECT_EQ(authenticator.scheme(), Scheme::kNone);
    EXPECT_EQ(authenticator.audience(), "site");
}

// --- basic --------------------------------------------------------------------------------------

TEST(AuthenticatorBasic, RightCredentialsAreAllowedWithTheUserAsSubject) {
    Authenticator authenticator(basic_policy(), "site", nullptr);
    Headers headers{{{"authorization", basic("ocean", "correct horse")}}};
    const AuthResult result = authenticator.check(headers.lookup(), "", kNow);
    EXPECT_EQ(result.outcome, Outcome::kAllowed);
    EXPECT_EQ(result.subject, "ocean");
}

TEST(AuthenticatorBasic, MissingHeaderIsUnauthenticatedWithABasicChallenge) {
    Authenticator authenticator(basic_policy(), "site", nullptr);
    Headers headers;
    const AuthResult result = authenticator.check(headers.lookup(), "", kNow);
    EXPECT_EQ(result.outcome, Outcome::kUnauthenticated);
    EXPECT_EQ(result.reason, "missing_credentials");
    EXPECT_EQ(result.www_authenticate, kBasicChallenge);
}

TEST(AuthenticatorBasic, WrongPasswordOrUserIsBadCredentials) {
    Authenticator authenticator(basic_policy(), "site", nullptr);
    for (const auto& [user, password] : {std::pair{"ocean", "wrong"},
                                         std::pair{"other", "correct horse"},
                                         std::pair{"ocean", "correct horse "},
                                         std::pair{"", ""}}) {
        Headers headers{{{"authorization", basic(user, password)}}};
        const AuthResult result = authenticator.check(headers.lookup(), "", kNow);
        EXPECT_EQ(result.outcome, Outcome::kUnauthenticated) << user << ":" << password;
        EXPECT_EQ(result.reason, "bad_credentials");
        EXPECT_EQ(result.www_authenticate, kBasicChallenge);
        EXPECT_TRUE(result.subject.empty());
    }
}

TEST(AuthenticatorBasic, MalformedHeaderIsMalformedCredentials) {
    Authenticator authenticator(basic_policy(), "site", nullptr);
    for (const std::string& value :
         std::vector<std::string>{"Bearer abc", "Basic !!!!", "Basic " + relay::base64_encode("no-colon")}) {
        Headers headers{{{"authorization", value}}};
        const AuthResult result = authenticator.check(headers.lookup(), "", kNow);
        EXPECT_EQ(result.outcome, Outcome::kUnauthenticated) << value;
        EXPECT_EQ(result.reason, "malformed_credentials") << value;
        EXPECT_EQ(result.www_authenticate, kBasicChallenge);
    }
}

// --- bearer -------------------------------------------------------------------------------------

TEST(AuthenticatorBearer, StaticTokenIsAllowed) {
    AuthPolicy policy;
    policy.scheme = Scheme::kBearer;
    policy.bearer_token = relay::Secret::from_value("static-token-123");
    Authenticator authenticator(policy, "site", nullptr);

    Headers good{{{"authorization", "Bearer static-token-123"}}};
    const AuthResult allowed = authenticator.check(good.lookup(), "", kNow);
    EXPECT_EQ(allowed.outcome, Outcome::kAllowed);
    EXPECT_EQ(allowed.subject, "bearer");

    Headers missing;
    const AuthResult no_header = authenticator.check(missing.lookup(), "", kNow);
    EXPECT_EQ(no_header.outcome, Outcome::kUnauthenticated);
    EXPECT_EQ(no_header.reason, "missing_credentials");
    EXPECT_EQ(no_header.www_authenticate, kBearerChallenge);

    Headers wrong{{{"authorization", "Bearer static-token-124"}}};
    const AuthResult bad = authenticator.check(wrong.lookup(), "", kNow);
    EXPECT_EQ(bad.outcome, Outcome::kUnauthenticated);
    EXPECT_EQ(bad.reason, "bad_credentials");
    EXPECT_EQ(bad.www_authenticate, kInvalidTokenChallenge);

    Headers basic_header{{{"authorization", basic("static-token-123", "")}}};
    const AuthResult malformed = authenticator.check(basic_header.lookup(), "", kNow);
    EXPECT_EQ(malformed.outcome, Outcome::kUnauthenticated);
    EXPECT_EQ(malformed.reason, "malformed_credentials");
    EXPECT_EQ(malformed.www_authenticate, kBearerChallenge);
}

// --- api key ------------------------------------------------------------------------------------

TEST(AuthenticatorApiKey, KeyInTheConfiguredHeaderIsAllowed) {
    AuthPolicy policy;
    policy.scheme = Scheme::kApiKey;
    policy.api_key_header = "x-ocean-key";
    policy.api_key = relay::Secret::from_value("k-123");
    Authenticator authenticator(policy, "site", nullptr);

    Headers good{{{"x-ocean-key", "k-123"}}};
    const AuthResult allowed = authenticator.check(good.lookup(), "", kNow);
    EXPECT_EQ(allowed.outcome, Outcome::kAllowed);
    EXPECT_EQ(allowed.subject, "api_key");

    Headers default_header{{{"x-api-key", "k-123"}}};
    const AuthResult missing = authenticator.check(default_header.lookup(), "", kNow);
    EXPECT_EQ(missing.outcome, Outcome::kUnauthenticated);
    EXPECT_EQ(missing.reason, "missing_credentials");
    EXPECT_EQ(missing.www_authenticate, "");

    Headers wrong{{{"x-ocean-key", "k-124"}}};
    const AuthResult bad = authenticator.check(wrong.lookup(), "", kNow);
    EXPECT_EQ(bad.outcome, Outcome::kUnauthenticated);
    EXPECT_EQ(bad.reason, "bad_credentials");
    EXPECT_EQ(bad.www_authenticate, "");
}

// --- oauth2 -------------------------------------------------------------------------------------

TEST(AuthenticatorOAuth2, ConstructionWithoutASignerIsRejected) {
    EXPECT_THROW(Authenticator(oauth_policy(), "site", nullptr), std::invalid_argument);
}

TEST_F(OAuthTest, TokenForThisAudienceIsAllowedWithTheClientAsSubject) {
    const std::string token = signer_.issue("site-a", "client-a", "", 600s, kNow);
    const AuthResult result = check_bearer(site_a_, token);
    EXPECT_EQ(result.outcome, Outcome::kAllowed);
    EXPECT_EQ(result.subject, "client-a");
}

TEST_F(OAuthTest, TokenForAudienceAUsedOnBIsForbidden) {
    const std::string token = signer_.issue("site-a", "client-a", "", 600s, kNow);
    const AuthResult result = check_bearer(site_b_, token);
    EXPECT_EQ(result.outcome, Outcome::kForbidden);
    EXPECT_EQ(result.reason, "token_wrong_audience");
    EXPECT_EQ(result.www_authenticate, "");
    EXPECT_FALSE(result.allowed());
}

TEST_F(OAuthTest, ExpiredTokenIsUnauthenticatedWithInvalidToken) {
    const std::string token = signer_.issue("site-a", "client-a", "", 600s, kNow);
    const AuthResult result = check_bearer(site_a_, token, kNow + 600s + 31s);
    EXPECT_EQ(result.outcome, Outcome::kUnauthenticated);
    EXPECT_EQ(result.reason, "token_expired");
    EXPECT_EQ(result.www_authenticate, kInvalidTokenChallenge);
}

TEST_F(OAuthTest, ForgedTokenIsUnauthenticated) {
    relay::auth::TokenSigner other(relay::Secret::from_value(std::string(32, 'x')), "ocean-relay", 30s);
    const AuthResult result = check_bearer(site_a_, other.issue("site-a", "client-a", "", 600s, kNow));
    EXPECT_EQ(result.outcome, Outcome::kUnauthenticated);
    EXPECT_EQ(result.reason, "token_bad_signature");
    EXPECT_EQ(result.www_authenticate, kInvalidTokenChallenge);

    const AuthResult garbage = check_bearer(site_a_, "not-a-jwt");
    EXPECT_EQ(garbage.outcome, Outcome::kUnauthenticated);
    EXPECT_EQ(garbage.reason, "token_malformed");
}

TEST_F(OAuthTest, MissingOrNonBearerHeaderIsUnauthenticated) {
    Headers none;
    const AuthResult missing = site_a_.check(none.lookup(), "", kNow);
    EXPECT_EQ(missing.outcome, Outcome::kUnauthenticated);
    EXPECT_EQ(missing.reason, "missing_credentials");
    EXPECT_EQ(missing.www_authenticate, kBearerChallenge);

    Headers basic_header{{{"authorization", basic("client-a", "secret-a")}}};
    const AuthResult malformed = site_a_.check(basic_header.lookup(), "", kNow);
    EXPECT_EQ(malformed.outcome, Outcome::kUnauthenticated);
    EXPECT_EQ(malformed.reason, "malformed_credentials");
}

// --- signature on top of a scheme ---------------------------------------------------------------

class SignedBasicTest : public ::testing::Test {
   protected:
    void SetUp() override {
        AuthPolicy policy = basic_policy();
        policy.signature_key = relay::Secret::from_value("raw-signing-key");
        policy.signature_tolerance = 300s;
        authenticator_ = std::make_unique<Authenticator>(policy, "site", nullptr);
    }

    Headers signed_headers(const std::string& body, long long timestamp, const std::string& auth) {
        const std::string ts = std::to_string(timestamp);
        return Headers{
            {{"authorization", auth},
             {"webhook-id", "msg_1"},
             {"webhook-timestamp", ts},
             {"webhook-signature", relay::auth::sign_webhook("raw-signing-key", "msg_1", ts, body)}}};
    }

    std::unique_ptr<Authenticator> authenticator_;
    const std::string body_ = R"({"resourceType":"Bundle"})";
    const std::string good_auth_ = basic("ocean", "correct horse");
};

TEST_F(SignedBasicTest, GoodCredentialsAndSignatureAreAllowed) {
    Headers headers = signed_headers(body_, 1'700'000'000, good_auth_);
    const AuthResult result = authenticator_->check(headers.lookup(), body_, kNow);
    EXPECT_EQ(result.outcome, Outcome::kAllowed);
    EXPECT_EQ(result.subject, "ocean");
}

TEST_F(SignedBasicTest, MissingSignatureHeadersAreUnauthenticated) {
    Headers headers{{{"authorization", good_auth_}}};
    const AuthResult result = authenticator_->check(headers.lookup(), body_, kNow);
    EXPECT_EQ(result.outcome, Outcome::kUnauthenticated);
    EXPECT_EQ(result.reason, "missing_signature_headers");
}

TEST_F(SignedBasicTest, SignatureOverAnotherBodyIsAMismatch) {
    Headers headers = signed_headers(body_, 1'700'000'000, good_auth_);
    const AuthResult result = authenticator_->check(headers.lookup(), R"({"resourceType":"Patient"})", kNow);
    EXPECT_EQ(result.outcome, Outcome::kUnauthenticated);
    EXPECT_EQ(result.reason, "signature_mismatch");
}

TEST_F(SignedBasicTest, StaleSignatureIsOutsideTolerance) {
    Headers headers = signed_headers(body_, 1'700'000'000 - 301, good_auth_);
    const AuthResult result = authenticator_->check(headers.lookup(), body_, kNow);
    EXPECT_EQ(result.outcome, Outcome::kUnauthenticated);
    EXPECT_EQ(result.reason, "signature_timestamp_outside_tolerance");
}

TEST_F(SignedBasicTest, BadTimestampIsReported) {
    Headers headers = signed_headers(body_, 1'700'000'000, good_auth_);
    headers.values["webhook-timestamp"] = "yesterday";
    EXPECT_EQ(authenticator_->check(headers.lookup(), body_, kNow).reason, "bad_signature_timestamp");
}

TEST_F(SignedBasicTest, SchemeIsCheckedBeforeTheSignature) {
    Headers headers = signed_headers(body_, 1'700'000'000, basic("ocean", "wrong"));
    const AuthResult result = authenticator_->check(headers.lookup(), body_, kNow);
    EXPECT_EQ(result.outcome, Outcome::kUnauthenticated);
    EXPECT_EQ(result.reason, "bad_credentials");
    EXPECT_EQ(result.www_authenticate, kBasicChallenge);
}

TEST_F(SignedBasicTest, CheckHeadersJudgesOnlyTheScheme) {
    Headers headers{{{"authorization", good_auth_}}};
    EXPECT_TRUE(authenticator_->check_headers(headers.lookup(), kNow).allowed());
}

// --- token endpoint -----------------------------------------------------------------------------

TEST_F(OAuthTest, FormCredentialsGetATokenThatWorksOnlyForThisIntegration) {
    const auto token = issued(site_a_.issue_token(
        kForm, "grant_type=client_credentials&client_id=client-a&client_secret=secret-a", "", "", kNow));
    EXPECT_EQ(token.client_id, "client-a");
    EXPECT_EQ(token.expires_in, 600s);
    EXPECT_EQ(token.scope, "");
    ASSERT_FALSE(token.access_token.empty());
    EXPECT_EQ(check_bearer(site_a_, token.access_token).outcome, Outcome::kAllowed);
    EXPECT_EQ(check_bearer(site_b_, token.access_token).outcome, Outcome::kForbidden);
    EXPECT_EQ(check_bearer(site_a_, token.access_token, kNow + 600s + 30s).outcome,
              Outcome::kUnauthenticated);
}

TEST_F(OAuthTest, BasicHeaderCredentialsGetAToken) {
    const auto token = issued(
        site_a_.issue_token(kForm, "grant_type=client_credentials", basic("client-b", "secret-b"), "", kNow));
    EXPECT_EQ(token.client_id, "client-b");
    EXPECT_EQ(check_bearer(site_a_, token.access_token).subject, "client-b");
}

TEST_F(OAuthTest, WrongSecretIs401InvalidClient) {
    const auto error = endpoint_error(site_a_.issue_token(
        kForm, "grant_type=client_credentials&client_id=client-a&client_secret=secret-b", "", "", kNow));
    EXPECT_EQ(error.status, 401);
    EXPECT_EQ(error.error, "invalid_client");
}

TEST_F(OAuthTest, UnknownClientIs401InvalidClient) {
    const auto error = endpoint_error(site_a_.issue_token(
        kForm, "grant_type=client_credentials&client_id=client-z&client_secret=secret-a", "", "", kNow));
    EXPECT_EQ(error.status, 401);
    EXPECT_EQ(error.error, "invalid_client");
}

TEST_F(OAuthTest, ScopeOutsideTheClientsAllowedScopesIs400InvalidScope) {
    const auto error =
        endpoint_error(site_a_.issue_token(kForm,
                                           "grant_type=client_credentials&client_id=client-b&client_secret="
                                           "secret-b&scope=user%2F*.write+system%2F*.*",
                                           "",
                                           "",
                                           kNow));
    EXPECT_EQ(error.status, 400);
    EXPECT_EQ(error.error, "invalid_scope");
}

TEST_F(OAuthTest, AllowedScopesAreGrantedAndEchoed) {
    const auto token = issued(site_a_.issue_token(kForm,
                                                  "grant_type=client_credentials&client_id=client-b&client_"
                                                  "secret=secret-b&scope=user%2F*.read+user%2F*.write",
                                                  "",
                                                  "",
                                                  kNow));
    EXPECT_EQ(token.scope, "user/*.read user/*.write");
}

namespace {

// The form fields of a token request with the right secret for client-a or client-b.
std::string form_for(const std::string& client) {
    return "grant_type=client_credentials&client_id=" + client + "&client_secret=secret-" + client.back();
}

}  // namespace

// Was "ClientWithoutScopeListGetsTheScopeItAsksFor": a client without configured scopes used to get
// whatever it asked for echoed into its token. Now it gets a token without scope (RFC 6749 §3.3 allows
// granting less than asked), so Ocean's default scope still works and no caller text is signed.
TEST_F(OAuthTest, ClientWithoutConfiguredScopesGetsATokenWithoutScope) {
    const auto token = issued(site_a_.issue_token(
        kForm,
        "grant_type=client_credentials&client_id=client-a&client_secret=secret-a&scope=user%2F*+anything",
        "",
        "",
        kNow));
    EXPECT_EQ(token.scope, "");
    const auto claims = signer_.verify(token.access_token, "site-a", kNow);
    ASSERT_TRUE(std::holds_alternative<relay::auth::TokenClaims>(claims));
    EXPECT_EQ(std::get<relay::auth::TokenClaims>(claims).scope, "");
    EXPECT_EQ(token.access_token.find("anything"), std::string::npos);
}

TEST_F(OAuthTest, ConfiguredScopesAskedForAreGrantedExactlyAndSigned) {
    const auto token = issued(site_a_.issue_token(
        kForm,
        "grant_type=client_credentials&client_id=client-b&client_secret=secret-b&scope=user%2F*.read",
        "",
        "",
        kNow));
    EXPECT_EQ(token.scope, "user/*.read");
    const auto claims = signer_.verify(token.access_token, "site-a", kNow);
    ASSERT_TRUE(std::holds_alternative<relay::auth::TokenClaims>(claims));
    EXPECT_EQ(std::get<relay::auth::TokenClaims>(claims).scope, "user/*.read");
}

TEST_F(OAuthTest, ClientWithConfiguredScopesAskingForNoneGetsATokenWithoutScope) {
    const auto token = issued(site_a_.issue_token(
        kForm, "grant_type=client_credentials&client_id=client-b&client_secret=secret-b", "", "", kNow));
    EXPECT_EQ(token.scope, "");
    const auto claims = signer_.verify(token.access_token, "site-a", kNow);
    ASSERT_TRUE(std::holds_alternative<relay::auth::TokenClaims>(claims));
    EXPECT_EQ(std::get<relay::auth::TokenClaims>(claims).scope, "");
}

TEST_F(OAuthTest, RepeatedScopesAreGrantedOnce) {
    const auto token = issued(site_a_.issue_token(kForm,
                                                  "grant_type=client_credentials&client_id=client-b&client_"
                                                  "secret=secret-b&scope=user%2F*.read+user%2F*.write+user%"
                                                  "2F*.read",
                                                  "",
                                                  "",
                                                  kNow));
    EXPECT_EQ(token.scope, "user/*.read user/*.write");
}

TEST_F(OAuthTest, ScopeLongerThan1024BytesIsInvalidScopeForEveryClient) {
    for (const std::string client : {"client-a", "client-b"}) {
        for (const std::size_t size : {std::size_t{1025}, std::size_t{1} << 20}) {
            const auto error = endpoint_error(site_a_.issue_token(
                kForm,
                form_for(client) + "&scope=" + std::string(size, 'x'),
                "",
                "",
                kNow));
            EXPECT_EQ(error.status, 400) << client << " " << size;
            EXPECT_EQ(error.error, "invalid_scope") << client << " " << size;
            EXPECT_EQ(error.description.find("xxx"), std::string::npos);
        }
    }
    // 1024 bytes is still a scope; client-a's token carries none of it.
    const auto token = issued(site_a_.issue_token(
        kForm,
        form_for("client-a") + "&scope=" + std::string(1024, 'x'),
        "",
        "",
        kNow));
    EXPECT_EQ(token.scope, "");
    EXPECT_LT(token.access_token.size(), 1024U);
}

TEST_F(OAuthTest, ScopeOutsideRfc6749SyntaxIsInvalidScopeForEveryClient) {
    // Form-encoded: a quote, a backslash, a tab, a double space, leading and trailing spaces, a NUL,
    // a non-ASCII byte, a control character.
    for (const std::string_view scope :
         {"a%22b", "a%5Cb", "a%09b", "a++b", "+a", "a+", "a%00b", "caf%C3%A9", "a%7Fb", "%0A"}) {
        for (const std::string client : {"client-a", "client-b"}) {
            const auto error = endpoint_error(site_a_.issue_token(
                kForm,
                form_for(client) + "&scope=" + std::string(scope),
                "",
                "",
                kNow));
            EXPECT_EQ(error.status, 400) << scope << " " << client;
            EXPECT_EQ(error.error, "invalid_scope") << scope << " " << client;
        }
    }
}

TEST_F(OAuthTest, BadCredentialsAreInvalidClientEvenWithAMalformedScope) {
    const auto error = endpoint_error(site_a_.issue_token(
        kForm, "grant_type=client_credentials&client_id=client-a&scope=a%22b", "", "", kNow));
    EXPECT_EQ(error.status, 401);
    EXPECT_EQ(error.error, "invalid_client");
}

TEST_F(OAuthTest, RequestErrorsMapToRfc6749Statuses) {
    const auto unsupported = endpoint_error(site_a_.issue_token(
        kForm, "grant_type=password&client_id=client-a&client_secret=secret-a", "", "", kNow));
    EXPECT_EQ(unsupported.status, 400);
    EXPECT_EQ(unsupported.error, "unsupported_grant_type");

    const auto no_credentials =
        endpoint_error(site_a_.issue_token(kForm, "grant_type=client_credentials", "", "", kNow));
    EXPECT_EQ(no_credentials.status, 401);
    EXPECT_EQ(no_credentials.error, "invalid_client");

    const auto wrong_type = endpoint_error(
        site_a_.issue_token("application/json", R"({"grant_type":"client_credentials"})", "", "", kNow));
    EXPECT_EQ(wrong_type.status, 400);
    EXPECT_EQ(wrong_type.error, "invalid_request");
}

TEST(AuthenticatorTokenEndpoint, NonOAuth2IntegrationHasNoTokenEndpoint) {
    Authenticator authenticator(basic_policy(), "site", nullptr);
    auto result = authenticator.issue_token(
        kForm, "grant_type=client_credentials&client_id=a&client_secret=b", "", "", kNow);
    ASSERT_TRUE(std::holds_alternative<relay::auth::TokenEndpointError>(result));
    EXPECT_EQ(std::get<relay::auth::TokenEndpointError>(result).status, 404);
}

TEST(AuthenticatorScheme, NamesAreStable) {
    EXPECT_STREQ(relay::auth::to_string(Scheme::kNone), "none");
    EXPECT_STREQ(relay::auth::to_string(Scheme::kBasic), "basic");
    EXPECT_STREQ(relay::auth::to_string(Scheme::kBearer), "bearer");
    EXPECT_STREQ(relay::auth::to_string(Scheme::kApiKey), "api_key");
    EXPECT_STREQ(relay::auth::to_string(Scheme::kOAuth2), "oauth2");
}

// --- replays of signed requests -----------------------------------------------------------------

TEST_F(SignedBasicTest, TheSameSignedRequestIsRefusedAsAReplay) {
    Headers headers = signed_headers(body_, 1'700'000'000, good_auth_);
    EXPECT_TRUE(authenticator_->check(headers.lookup(), body_, kNow).allowed());
    const AuthResult replay = authenticator_->check(headers.lookup(), body_, kNow + 10s);
    EXPECT_EQ(replay.outcome, Outcome::kUnauthenticated);
    EXPECT_EQ(replay.reason, "signature_replayed");
    EXPECT_TRUE(replay.subject.empty());
}

TEST_F(SignedBasicTest, AnotherIdIsNotAReplay) {
    Headers first = signed_headers(body_, 1'700'000'000, good_auth_);
    EXPECT_TRUE(authenticator_->check(first.lookup(), body_, kNow).allowed());
    const std::string ts = "1700000000";
    Headers second{{{"authorization", good_auth_},
                    {"webhook-id", "msg_2"},
                    {"webhook-timestamp", ts},
                    {"webhook-signature", relay::auth::sign_webhook("raw-signing-key", "msg_2", ts, body_)}}};
    EXPECT_TRUE(authenticator_->check(second.lookup(), body_, kNow).allowed());
}

TEST_F(SignedBasicTest, TheIdMayBeReusedOnceTheFirstTimestampLeftTheTolerance) {
    Headers first = signed_headers(body_, 1'700'000'000, good_auth_);
    EXPECT_TRUE(authenticator_->check(first.lookup(), body_, kNow).allowed());
    // Re-signed with a newer timestamp: refused while the first one is still acceptable...
    Headers resigned = signed_headers(body_, 1'700'000'200, good_auth_);
    EXPECT_EQ(authenticator_->check(resigned.lookup(), body_, kNow + 200s).reason, "signature_replayed");
    EXPECT_EQ(authenticator_->check(resigned.lookup(), body_, kNow + 300s).reason, "signature_replayed");
    // ...and accepted after it is not.
    EXPECT_TRUE(authenticator_->check(resigned.lookup(), body_, kNow + 301s).allowed());
}

TEST_F(SignedBasicTest, FailedChecksAreNotRemembered) {
    // A bad signature or bad credentials do not use up the id.
    Headers headers = signed_headers(body_, 1'700'000'000, good_auth_);
    EXPECT_EQ(authenticator_->check(headers.lookup(), body_ + " ", kNow).reason, "signature_mismatch");
    Headers wrong_password = signed_headers(body_, 1'700'000'000, basic("ocean", "wrong"));
    EXPECT_EQ(authenticator_->check(wrong_password.lookup(), body_, kNow).reason, "bad_credentials");
    EXPECT_TRUE(authenticator_->check(headers.lookup(), body_, kNow).allowed());
}

TEST_F(SignedBasicTest, ForgetSignatureLetsTheSenderRetryWithTheSameId) {
    Headers headers = signed_headers(body_, 1'700'000'000, good_auth_);
    EXPECT_TRUE(authenticator_->check(headers.lookup(), body_, kNow).allowed());
    authenticator_->forget_signature(headers.lookup());
    EXPECT_TRUE(authenticator_->check(headers.lookup(), body_, kNow + 5s).allowed());
}

TEST_F(SignedBasicTest, OverlongOrControlCharacterIdsAreRefusedBeforeHashing) {
    for (const std::string& id : {std::string(257, 'a'), std::string("msg\n1"), std::string("msg\x01")}) {
        const std::string ts = "1700000000";
        Headers headers{{{"authorization", good_auth_},
                         {"webhook-id", id},
                         {"webhook-timestamp", ts},
                         {"webhook-signature", relay::auth::sign_webhook("raw-signing-key", id, ts, body_)}}};
        const AuthResult result = authenticator_->check(headers.lookup(), body_, kNow);
        EXPECT_EQ(result.outcome, Outcome::kUnauthenticated) << id.size();
        EXPECT_EQ(result.reason, "bad_signature_id") << id.size();
    }
    EXPECT_EQ(authenticator_->replay_guard()->size(), 0U);
}

TEST_F(SignedBasicTest, CheckSignatureJudgesOnlyTheSignature) {
    // No credentials at all: check_signature does not look at them (check_headers does).
    Headers headers = signed_headers(body_, 1'700'000'000, "");
    headers.values.erase("authorization");
    const AuthResult result = authenticator_->check_signature(headers.lookup(), body_, kNow);
    EXPECT_TRUE(result.allowed());
    EXPECT_TRUE(result.subject.empty());
    EXPECT_EQ(authenticator_->check_signature(headers.lookup(), body_, kNow).reason, "signature_replayed");
    EXPECT_EQ(authenticator_->check_signature(headers.lookup(), "other", kNow).reason, "signature_mismatch");
}

TEST(AuthenticatorSignature, WithoutASignatureKeyCheckSignatureAllowsAndNothingIsRemembered) {
    Authenticator authenticator(basic_policy(), "site", nullptr);
    Headers none;
    EXPECT_TRUE(authenticator.check_signature(none.lookup(), "", kNow).allowed());
    EXPECT_EQ(authenticator.replay_guard(), nullptr);
}

TEST(AuthenticatorSignature, ReplayMemoryZeroDisablesReplayRefusal) {
    AuthPolicy policy;
    policy.signature_key = relay::Secret::from_value("k");
    policy.signature_replay_memory = 0;
    Authenticator authenticator(policy, "site", nullptr);
    const std::string ts = "1700000000";
    Headers headers{{{"webhook-id", "msg_1"},
                     {"webhook-timestamp", ts},
                     {"webhook-signature", relay::auth::sign_webhook("k", "msg_1", ts, "{}")}}};
    EXPECT_TRUE(authenticator.check(headers.lookup(), "{}", kNow).allowed());
    EXPECT_TRUE(authenticator.check(headers.lookup(), "{}", kNow).allowed());
}

TEST(AuthenticatorSignature, CopiesAndASharedGuardRememberTheSameIds) {
    AuthPolicy policy;
    policy.signature_key = relay::Secret::from_value("k");
    const Authenticator original(policy, "site", nullptr);
    const Authenticator copy = original;  // NOLINT(performance-unnecessary-copy-initialization)
    const std::string ts = "1700000000";
    Headers headers{{{"webhook-id", "msg_1"},
                     {"webhook-timestamp", ts},
                     {"webhook-signature", relay::auth::sign_webhook("k", "msg_1", ts, "{}")}}};
    EXPECT_TRUE(original.check(headers.lookup(), "{}", kNow).allowed());
    EXPECT_EQ(copy.check(headers.lookup(), "{}", kNow).reason, "signature_replayed");

    auto shared = std::make_shared<relay::auth::ReplayGuard>(10);
    const Authenticator a(policy, "site-a", nullptr, shared);
    const Authenticator b(policy, "site-b", nullptr, shared);
    EXPECT_TRUE(a.check(headers.lookup(), "{}", kNow).allowed());
    EXPECT_TRUE(b.check(headers.lookup(), "{}", kNow).allowed());  // another audience
    EXPECT_EQ(a.check(headers.lookup(), "{}", kNow).reason, "signature_replayed");
    EXPECT_EQ(shared->size(), 2U);
}

TEST(AuthenticatorSignature, ConcurrentChecksAcceptEachSignedRequestOnce) {
    AuthPolicy policy;
    policy.signature_key = relay::Secret::from_value("k");
    const Authenticator authenticator(policy, "site", nullptr);
    constexpr int kRequests = 300;
    std::vector<Headers> requests;
    for (int i = 0; i < kRequests; ++i) {
        const std::string id = "msg_" + std::to_string(i);
        const std::string ts = "1700000000";
        requests.push_back(Headers{{{"webhook-id", id},
                                    {"webhook-timestamp", ts},
                                    {"webhook-signature", relay::auth::sign_webhook("k", id, ts, "{}")}}});
    }
    std::atomic<int> allowed{0};
    std::atomic<int> replayed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 6; ++t) {
        threads.emplace_back([&] {
            for (const auto& request : requests) {
                const AuthResult result = authenticator.check(request.lookup(), "{}", kNow);
                if (result.allowed()) ++allowed;
                if (result.reason == "signature_replayed") ++replayed;
            }
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(allowed.load(), kRequests);
    EXPECT_EQ(replayed.load(), kRequests * 5);
}

// --- what a request claims, for counting failures -----------------------------------------------

TEST(AuthenticatorClaims, BasicNamesTheUserOtherSchemesTheIntegration) {
    Authenticator basic_auth(basic_policy(), "site", nullptr);
    Headers with_user{{{"authorization", basic("ocean", "guess")}}};
    EXPECT_EQ(basic_auth.claimed_credential(with_user.lookup()), "site/ocean");
    Headers garbage{{{"authorization", "Basic !!!"}}};
    EXPECT_EQ(basic_auth.claimed_credential(garbage.lookup()), "site");

    AuthPolicy bearer;
    bearer.scheme = Scheme::kBearer;
    bearer.bearer_token = relay::Secret::from_value("t");
    Authenticator bearer_auth(bearer, "site-b", nullptr);
    Headers token{{{"authorization", "Bearer guess"}}};
    EXPECT_EQ(bearer_auth.claimed_credential(token.lookup()), "site-b");
}

TEST_F(OAuthTest, TokenRequestsClaimTheirClientId) {
    EXPECT_EQ(site_a_.claimed_token_credential(
                  kForm, "grant_type=client_credentials&client_id=client-z&client_secret=x", "", ""),
              "site-a/client-z");
    EXPECT_EQ(site_a_.claimed_token_credential(kForm, "grant_type=client_credentials", "", ""), "site-a");
}
