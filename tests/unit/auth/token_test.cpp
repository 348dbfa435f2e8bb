// TokenSigner: HS256 JWTs issued by the ingress's token endpoint and verified on every request.
#include "relay/auth/token.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <ostream>
#include <regex>
#include <string>
#include <variant>

#include "relay/core/encoding.hpp"

using namespace std::chrono_literals;

namespace {

const relay::SystemTime kNow{std::chrono::seconds(1'700'000'000)};
constexpr std::chrono::seconds kLifetime = 3600s;
constexpr std::chrono::seconds kLeeway = 30s;

relay::auth::TokenSigner signer(std::string key = std::string(32, 'k'), std::string issuer = "ocean-relay") {
    return relay::auth::TokenSigner(relay::Secret::from_value(std::move(key)), std::move(issuer), kLeeway);
}

relay::auth::TokenError error_of(
    const std::variant<relay::auth::TokenClaims, relay::auth::TokenError>& result) {
    if (std::holds_alternative<relay::auth::TokenClaims>(result)) {
        ADD_FAILURE() << "expected a TokenError, the token verified";
        return relay::auth::TokenError::kMalformed;
    }
    return std::get<relay::auth::TokenError>(result);
}

struct Parts {
    std::string header, payload, signature;
};

Parts split(const std::string& token) {
    const auto first = token.find('.');
    const auto last = token.rfind('.');
    return {token.substr(0, first), token.substr(first + 1, last - first - 1), token.substr(last + 1)};
}

// A token with the given header and payload JSON, correctly signed with `key`.
std::string sign_raw(const std::string& header_json,
                     const std::string& payload_json,
                     const std::string& key) {
    std::string input = relay::base64url_encode(header_json) + "." + relay::base64url_encode(payload_json);
    return input + "." + relay::base64url_encode(relay::hmac_sha256(key, input));
}

const std::string kHs256Header = R"({"alg":"HS256","typ":"JWT"})";

}  // namespace

// Readable failure messages: print token errors by name.
namespace relay::auth {
inline void PrintTo(TokenError error, std::ostream* os) {
    *os << to_string(error);
}
}  // namespace relay::auth

TEST(TokenSigner, IssuedTokenVerifiesWithItsClaims) {
    const auto s = signer();
    const std::string token = s.issue("site-1234", "client-a", "user/*.write", kLifetime, kNow);
    auto result = s.verify(token, "site-1234", kNow);
    ASSERT_TRUE(std::holds_alternative<relay::auth::TokenClaims>(result))
        << relay::auth::to_string(std::get<relay::auth::TokenError>(result));
    const auto& claims = std::get<relay::auth::TokenClaims>(result);
    EXPECT_EQ(claims.issuer, "ocean-relay");
    EXPECT_EQ(claims.audience, "site-1234");
    EXPECT_EQ(claims.subject, "client-a");
    EXPECT_EQ(claims.scope, "user/*.write");
    EXPECT_EQ(claims.issued_at, 1'700'000'000);
    EXPECT_EQ(claims.expires_at, 1'700'000'000 + 3600);
    EXPECT_TRUE(std::regex_match(claims.token_id, std::regex("^[0-9a-f-]{36}$"))) << claims.token_id;
}

TEST(TokenSigner, TokenIsACompactJwsWithTheFixedHs256Header) {
    const std::string token = signer().issue("a", "c", "", kLifetime, kNow);
    const Parts parts = split(token);
    EXPECT_EQ(relay::base64url_decode(parts.header), kHs256Header);
    EXPECT_EQ(token.find('='), std::string::npos);
    const auto payload = relay::base64url_decode(parts.payload);
    ASSERT_TRUE(payload.has_value());
    EXPECT_NE(payload->find(R"("aud":"a")"), std::string::npos) << *payload;
    EXPECT_EQ(payload->find("scope"), std::string::npos) << "an empty scope is left out: " << *payload;
}

TEST(TokenSigner, TwoTokensForTheSameClientDiffer) {
    const auto s = signer();
    EXPECT_NE(s.issue("a", "c", "", kLifetime, kNow), s.issue("a", "c", "", kLifetime, kNow));
}

TEST(TokenSigner, TokenIsValidUntilExpiryPlusLeeway) {
    const auto s = signer();
    const std::string token = s.issue("a", "c", "", kLifetime, kNow);
    EXPECT_TRUE(std::holds_alternative<relay::auth::TokenClaims>(s.verify(token, "a", kNow + kLifetime)));
    EXPECT_TRUE(std::holds_alternative<relay::auth::TokenClaims>(
        s.verify(token, "a", kNow + kLifetime + kLeeway - 1s)));
}

TEST(TokenSigner, ExpiredTokenIsRejected) {
    const auto s = signer();
    const std::string token = s.issue("a", "c", "", kLifetime, kNow);
    EXPECT_EQ(error_of(s.verify(token, "a", kNow + kLifetime + kLeeway)), relay::auth::TokenError::kExpired);
    EXPECT_EQ(error_of(s.verify(token, "a", kNow + 24h)), relay::auth::TokenError::kExpired);
}

TEST(TokenSigner, ClaimsAtTheEndsOfTheIntegerRangeDoNotOverflow) {
    // A signed token may carry any integer: the leeway is applied to our clock, never added to a claim
    // (UBSan stops on a signed overflow; the fuzzer found this one).
    const auto s = signer();
    const std::string header = R"({"alg":"HS256","typ":"JWT"})";
    const std::string far_exp = sign_raw(
        header, R"({"iss":"ocean-relay","aud":"a","sub":"c","iat":1700000000,"exp":9223372036854775807})", std::string(32, 'k'));
    EXPECT_TRUE(std::holds_alternative<relay::auth::TokenClaims>(s.verify(far_exp, "a", kNow)));
    const std::string far_iat = sign_raw(
        header, R"({"iss":"ocean-relay","aud":"a","sub":"c","iat":-9223372036854775807,"exp":-9223372036854775807})",
        std::string(32, 'k'));
    EXPECT_EQ(error_of(s.verify(far_iat, "a", kNow)), relay::auth::TokenError::kExpired);
}

TEST(TokenSigner, TokenIssuedInTheFutureIsNotYetValid) {
    const auto s = signer();
    const std::string token = s.issue("a", "c", "", kLifetime, kNow + kLeeway + 1s);
    EXPECT_EQ(error_of(s.verify(token, "a", kNow)), relay::auth::TokenError::kNotYetValid);
}

TEST(TokenSigner, ClockSkewWithinTheLeewayIsAccepted) {
    const auto s = signer();
    const std::string token = s.issue("a", "c", "", kLifetime, kNow + kLeeway);
    EXPECT_TRUE(std::holds_alternative<relay::auth::TokenClaims>(s.verify(token, "a", kNow)));
}

TEST(TokenSigner, FlippedCharacterInThePayloadBreaksTheSignature) {
    const auto s = signer();
    const std::string token = s.issue("a", "c", "", kLifetime, kNow);
    const Parts parts = split(token);
    std::string tampered = token;
    const std::size_t middle = parts.header.size() + 1 + parts.payload.size() / 2;
    tampered[middle] = tampered[middle] == 'A' ? 'B' : 'A';
    ASSERT_NE(tampered, token);
    EXPECT_EQ(error_of(s.verify(tampered, "a", kNow)), relay::auth::TokenError::kBadSignature);
}

TEST(TokenSigner, ReencodedPayloadWithAnotherAudienceBreaksTheSignature) {
    const auto s = signer();
    const Parts parts = split(s.issue("site-a", "c", "", kLifetime, kNow));
    std::string payload = *relay::base64url_decode(parts.payload);
    payload.replace(payload.find("site-a"), 6, "site-b");
    const std::string forged = parts.header + "." + relay::base64url_encode(payload) + "." + parts.signature;
    EXPECT_EQ(error_of(s.verify(forged, "site-b", kNow)), relay::auth::TokenError::kBadSignature);
}

TEST(TokenSigner, TamperedSignatureIsRejected) {
    const auto s = signer();
    std::string token = s.issue("a", "c", "", kLifetime, kNow);
    token.back() = token.back() == 'A' ? 'B' : 'A';
    EXPECT_EQ(error_of(s.verify(token, "a", kNow)), relay::auth::TokenError::kBadSignature);
    const Parts parts = split(token);
    EXPECT_EQ(error_of(s.verify(parts.header + "." + parts.payload + ".", "a", kNow)),
              relay::auth::TokenError::kBadSignature);
}

TEST(TokenSigner, TokenSignedWithAnotherKeyIsRejected) {
    const std::string token = signer(std::string(32, 'x')).issue("a", "c", "", kLifetime, kNow);
    EXPECT_EQ(error_of(signer(std::string(32, 'k')).verify(token, "a", kNow)),
              relay::auth::TokenError::kBadSignature);
}

TEST(TokenSigner, AlgNoneIsRejected) {
    const Parts parts = split(signer().issue("a", "c", "", kLifetime, kNow));
    const std::string none =
        relay::base64url_encode(R"({"alg":"none","typ":"JWT"})") + "." + parts.payload + ".";
    EXPECT_EQ(error_of(signer().verify(none, "a", kNow)), relay::auth::TokenError::kUnsupportedAlg);
}

TEST(TokenSigner, OtherAlgorithmsAreRejectedEvenWhenCorrectlySigned) {
    const std::string payload =
        R"({"iss":"ocean-relay","aud":"a","sub":"c","iat":1700000000,"exp":1700003600})";
    const std::string key(32, 'k');
    EXPECT_EQ(error_of(signer().verify(sign_raw(R"({"alg":"HS512","typ":"JWT"})", payload, key), "a", kNow)),
              relay::auth::TokenError::kUnsupportedAlg);
    // The header is compared byte for byte: reordered members are not "the" HS256 header.
    EXPECT_EQ(error_of(signer().verify(sign_raw(R"({"typ":"JWT","alg":"HS256"})", payload, key), "a", kNow)),
              relay::auth::TokenError::kUnsupportedAlg);
    // Sanity check of sign_raw: the canonical header verifies.
    EXPECT_TRUE(std::holds_alternative<relay::auth::TokenClaims>(
        signer().verify(sign_raw(kHs256Header, payload, key), "a", kNow)));
}

TEST(TokenSigner, TokenForAnotherAudienceIsWrongAudience) {
    const auto s = signer();
    const std::string token = s.issue("site-a", "c", "", kLifetime, kNow);
    EXPECT_EQ(error_of(s.verify(token, "site-b", kNow)), relay::auth::TokenError::kWrongAudience);
}

TEST(TokenSigner, TokenFromAnotherIssuerWithTheSameKeyIsWrongIssuer) {
    const std::string token =
        signer(std::string(32, 'k'), "someone-else").issue("a", "c", "", kLifetime, kNow);
    EXPECT_EQ(error_of(signer(std::string(32, 'k'), "ocean-relay").verify(token, "a", kNow)),
              relay::auth::TokenError::kWrongIssuer);
}

TEST(TokenSigner, MalformedTokensAreRejected) {
    const auto s = signer();
    for (const char* token : {"", "garbage", "a.b", ".", "!!!.???.***"}) {
        EXPECT_EQ(error_of(s.verify(token, "a", kNow)), relay::auth::TokenError::kMalformed)
            << "'" << token << "'";
    }
}

TEST(TokenSigner, TokensWithAnEmptyOrNonJsonHeaderAreRejected) {
    // Any header other than the fixed HS256 one is refused before the signature is looked at; a
    // decodable one is reported as kUnsupportedAlg (the header's JSON is never parsed).
    const auto s = signer();
    const std::string token = s.issue("a", "c", "", kLifetime, kNow);
    const Parts parts = split(token);
    for (const std::string& header : {std::string(), relay::base64url_encode("not json")}) {
        const auto result = s.verify(header + "." + parts.payload + "." + parts.signature, "a", kNow);
        EXPECT_EQ(error_of(result), relay::auth::TokenError::kUnsupportedAlg) << "'" << header << "'";
    }
}

TEST(TokenSigner, CorrectlySignedButUnusablePayloadsAreMalformed) {
    const std::string key(32, 'k');
    const auto s = signer(key);
    for (const char* payload :
         {"not json",
          "[1,2]",
          R"({"iss":"ocean-relay","aud":"a","sub":"c","iat":1700000000})",                // no exp
          R"({"iss":"ocean-relay","aud":"a","sub":"c","iat":1700000000,"exp":"later"})",  // exp not a number
          R"({"iss":"ocean-relay","sub":"c","iat":1700000000,"exp":1700003600})",         // no aud
          R"({"iss":"ocean-relay","aud":["a"],"sub":"c","iat":1700000000,"exp":1700003600})"}) {
        EXPECT_EQ(error_of(s.verify(sign_raw(kHs256Header, payload, key), "a", kNow)),
                  relay::auth::TokenError::kMalformed)
            << payload;
    }
}

TEST(TokenSigner, ErrorNamesAreStableMetricLabels) {
    EXPECT_STREQ(relay::auth::to_string(relay::auth::TokenError::kExpired), "expired");
    EXPECT_STREQ(relay::auth::to_string(relay::auth::TokenError::kBadSignature), "bad_signature");
    EXPECT_STREQ(relay::auth::to_string(relay::auth::TokenError::kUnsupportedAlg), "unsupported_alg");
    EXPECT_STREQ(relay::auth::to_string(relay::auth::TokenError::kWrongAudience), "wrong_audience");
}
