// Standard Webhooks signatures (standardwebhooks.com): sign_webhook / verify_webhook.
#include "relay/auth/webhook_signature.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "relay/core/encoding.hpp"

using namespace std::chrono_literals;
using relay::auth::SignatureCheck;

namespace {

// The example published in the Standard Webhooks specification: the key is the base64 text after
// "whsec_" decoded to bytes.
const std::string kKey = *relay::base64_decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
constexpr const char* kId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr const char* kTimestamp = "1614265330";
constexpr const char* kBody = R"({"test": 2432232314})";
constexpr const char* kSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
const relay::SystemTime kAtTimestamp{std::chrono::seconds(1614265330)};
constexpr std::chrono::seconds kTolerance = 300s;

SignatureCheck verify_at(relay::SystemTime now,
                         std::string_view signature = kSignature,
                         std::string_view timestamp = kTimestamp,
                         std::string_view body = kBody) {
    return relay::auth::verify_webhook(kKey, kId, timestamp, signature, body, now, kTolerance);
}

}  // namespace

TEST(WebhookSignature, SignMatchesTheStandardWebhooksExample) {
    ASSERT_EQ(kKey.size(), 24u);
    EXPECT_EQ(relay::auth::sign_webhook(kKey, kId, kTimestamp, kBody), kSignature);
}

TEST(WebhookSignature, TheStandardWebhooksExampleVerifies) {
    EXPECT_EQ(verify_at(kAtTimestamp), SignatureCheck::kValid);
}

TEST(WebhookSignature, SignThenVerifyIsValid) {
    const std::string key = "another-raw-key";
    const std::string signature = relay::auth::sign_webhook(key, "msg_1", "1700000000", "{}");
    EXPECT_EQ(relay::auth::verify_webhook(key,
                                          "msg_1",
                                          "1700000000",
                                          signature,
                                          "{}",
                                          relay::SystemTime{std::chrono::seconds(1700000000)},
                                          kTolerance),
              SignatureCheck::kValid);
}

TEST(WebhookSignature, TimestampsAtTheToleranceEdgeAreAccepted) {
    EXPECT_EQ(verify_at(kAtTimestamp + kTolerance), SignatureCheck::kValid);
    EXPECT_EQ(verify_at(kAtTimestamp - kTolerance), SignatureCheck::kValid);
}

TEST(WebhookSignature, TooOldTimestampIsOutsideTolerance) {
    EXPECT_EQ(verify_at(kAtTimestamp + kTolerance + 1s), SignatureCheck::kOutsideTolerance);
    EXPECT_EQ(verify_at(kAtTimestamp + 24h), SignatureCheck::kOutsideTolerance);
}

TEST(WebhookSignature, FutureTimestampIsOutsideTolerance) {
    EXPECT_EQ(verify_at(kAtTimestamp - kTolerance - 1s), SignatureCheck::kOutsideTolerance);
}

TEST(WebhookSignature, NonIntegerTimestampIsBadTimestamp) {
    for (const char* ts : {"abc",
                           "1614265330.5",
                           " 1614265330",
                           "1614265330 ",
                           "+1614265330",
                           "0x10",
                           "99999999999999999999999"}) {
        EXPECT_EQ(verify_at(kAtTimestamp, kSignature, ts), SignatureCheck::kBadTimestamp) << "'" << ts << "'";
    }
}

TEST(WebhookSignature, MissingHeadersAreReportedAsSuch) {
    EXPECT_EQ(relay::auth::verify_webhook(kKey, "", kTimestamp, kSignature, kBody, kAtTimestamp, kTolerance),
              SignatureCheck::kMissingHeaders);
    EXPECT_EQ(relay::auth::verify_webhook(kKey, kId, "", kSignature, kBody, kAtTimestamp, kTolerance),
              SignatureCheck::kMissingHeaders);
    EXPECT_EQ(relay::auth::verify_webhook(kKey, kId, kTimestamp, "", kBody, kAtTimestamp, kTolerance),
              SignatureCheck::kMissingHeaders);
}

TEST(WebhookSignature, AnyOfSeveralSignaturesMayMatch) {
    const std::string header = std::string("v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= ") + kSignature;
    EXPECT_EQ(verify_at(kAtTimestamp, header), SignatureCheck::kValid);
    const std::string with_other_versions = std::string("v1a,xyz v2,abc ") + kSignature + " v1,BBBB";
    EXPECT_EQ(verify_at(kAtTimestamp, with_other_versions), SignatureCheck::kValid);
}

TEST(WebhookSignature, NoMatchingSignatureIsNoMatch) {
    EXPECT_EQ(verify_at(kAtTimestamp, "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
              SignatureCheck::kNoMatch);
    EXPECT_EQ(verify_at(kAtTimestamp, "v1,AAAA v1,BBBB"), SignatureCheck::kNoMatch);
}

TEST(WebhookSignature, ARightDigestUnderAnotherVersionDoesNotCount) {
    std::string v2 = kSignature;
    v2.replace(0, 2, "v2");
    EXPECT_EQ(verify_at(kAtTimestamp, v2), SignatureCheck::kNoMatch);
    EXPECT_EQ(verify_at(kAtTimestamp, std::string(kSignature).substr(3)), SignatureCheck::kNoMatch);
}

TEST(WebhookSignature, ChangedBodyIdOrKeyDoesNotMatch) {
    EXPECT_EQ(verify_at(kAtTimestamp, kSignature, kTimestamp, R"({"test": 2432232315})"),
              SignatureCheck::kNoMatch);
    EXPECT_EQ(relay::auth::verify_webhook(
                  kKey, "msg_other", kTimestamp, kSignature, kBody, kAtTimestamp, kTolerance),
              SignatureCheck::kNoMatch);
    EXPECT_EQ(relay::auth::verify_webhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                          kId,
                                          kTimestamp,
                                          kSignature,
                                          kBody,
                                          kAtTimestamp,
                                          kTolerance),
              SignatureCheck::kNoMatch)
        << "the key is the decoded bytes, not the whsec_ text";
}

TEST(WebhookSignature, ResultNamesAreStableMetricLabels) {
    EXPECT_STREQ(relay::auth::to_string(SignatureCheck::kNoMatch), "signature_mismatch");
    EXPECT_STREQ(relay::auth::to_string(SignatureCheck::kMissingHeaders), "missing_signature_headers");
    EXPECT_STREQ(relay::auth::to_string(SignatureCheck::kOutsideTolerance),
                 "signature_timestamp_outside_tolerance");
    EXPECT_STREQ(relay::auth::to_string(SignatureCheck::kBadTimestamp), "bad_signature_timestamp");
}
