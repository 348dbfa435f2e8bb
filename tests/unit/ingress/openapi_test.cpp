// The Open API webhook's pure part (services/ingress/src/openapi.*): bodies (challenge or notification
// envelope), the type label, the key's query parameter, the per-address rate limit and the replay memory.
#include "openapi.hpp"

#include <gtest/gtest.h>

#include <string>
#include <variant>
#include <vector>

using namespace std::chrono_literals;
namespace openapi = relay::ingress::openapi;

namespace {

std::variant<openapi::Challenge, openapi::Notification, openapi::BodyError> parse(const std::string& body) {
    return openapi::parse_body(body, body.size());  // no padding: parsed from a copy
}

openapi::BodyError error_of(const std::string& body) {
    auto parsed = parse(body);
    if (const auto* error = std::get_if<openapi::BodyError>(&parsed)) return *error;
    ADD_FAILURE() << "expected a refusal of " << body;
    return {};
}

openapi::Notification notification_of(const std::string& body) {
    auto parsed = parse(body);
    if (const auto* n = std::get_if<openapi::Notification>(&parsed)) return *n;
    ADD_FAILURE() << "expected a notification: " << body;
    return {};
}

}  // namespace

TEST(OpenApiBody, ChallengeIsEchoedWithinItsBounds) {
    auto parsed = parse(R"({"challenge":"abc-123 XYZ"})");
    ASSERT_TRUE(std::holds_alternative<openapi::Challenge>(parsed));
    EXPECT_EQ(std::get<openapi::Challenge>(parsed).value, "abc-123 XYZ");
    EXPECT_TRUE(std::holds_alternative<openapi::Challenge>(parse(R"({"challenge":")" + std::string(256, 'a') + "\"}")));
    for (const std::string& body : std::vector<std::string>{R"({"challenge":""})",
                                   R"({"challenge":")" + std::string(257, 'a') + "\"}",
                                   std::string(R"({"challenge":"tab\there"})"),
                                   std::string(R"({"challenge":"caf\u00e9"})"),
                                   std::string(R"({"challenge":12})"),
                                   std::string(R"({"challenge":"a","challenge":"b"})")}) {
        const auto error = error_of(body);
        EXPECT_TRUE(error.error == "invalid_challenge" || error.error == "invalid_notification") << body;
        EXPECT_EQ(error.detail.find("here"), std::string::npos);
    }
}

TEST(OpenApiBody, OceanEnvelopeIsRead) {
    const auto n = notification_of(
        R"({"ref": "690", "siteNum": "1234", "type": "notify-patient-note-added", "changeList": null, "user": null,)"
        R"( "customProperties": {"noteCompletionSource": "PORTAL", "oceanSessionId": "1759442545187t415674"}})");
    EXPECT_EQ(n.ref, "690");
    EXPECT_EQ(n.site, "1234");
    EXPECT_EQ(n.type, "notify-patient-note-added");
    EXPECT_EQ(n.session_id, "1759442545187t415674");
}

TEST(OpenApiBody, SiteNumAsANumberOtherMembersAndUnknownTypesAreKept) {
    const auto n = notification_of(
        R"({"ref":"a.b:c_d-1","siteNum":1234,"type":"Notify-Something-New","changeList":[{"x":1.5e30}],"user":{"id":7},"extra":true})");
    EXPECT_EQ(n.site, "1234");
    EXPECT_EQ(n.type, "Notify-Something-New");
    EXPECT_TRUE(n.session_id.empty());
    EXPECT_EQ(notification_of(R"({"ref":"r","siteNum":"1","type":"t","customProperties":null})").session_id, "");
    EXPECT_EQ(notification_of(R"({"ref":"r","siteNum":"1","type":"t","customProperties":{"oceanSessionId":null}})")
                  .session_id,
              "");
}

TEST(OpenApiBody, RefusalsNameTheMemberAndNeverItsValue) {
    struct Case {
        std::string body, error, member;
    };
    const std::vector<Case> cases = {
        {"", "invalid_json", "empty"},
        {"   ", "invalid_json", "JSON"},
        {R"({"ref":"r")", "invalid_json", "JSON"},
        {R"(["ref"])", "invalid_json", "object"},
        {"{\"ref\":\"r\xff\",\"siteNum\":\"1\",\"type\":\"t\"}", "invalid_json", "JSON"},
        {R"({"siteNum":"1234","type":"t"})", "invalid_notification", "ref"},
        {R"({"ref":"","siteNum":"1234","type":"t"})", "invalid_notification", "ref"},
        {R"({"ref":"SECRET NAME","siteNum":"1234","type":"t"})", "invalid_notification", "ref"},
        {R"({"ref":")" + std::string(65, 'r') + R"(","siteNum":"1234","type":"t"})", "invalid_notification", "ref"},
        {R"({"ref":7,"siteNum":"1234","type":"t"})", "invalid_notification", "ref"},
        {R"({"ref":"r","ref":"s","siteNum":"1234","type":"t"})", "invalid_notification", "ref is given twice"},
        {R"({"ref":"r","type":"t"})", "invalid_notification", "siteNum"},
        {R"({"ref":"r","siteNum":"12a4","type":"t"})", "invalid_notification", "siteNum"},
        {R"({"ref":"r","siteNum":12.5,"type":"t"})", "invalid_notification", "siteNum"},
        {R"({"ref":"r","siteNum":-12,"type":"t"})", "invalid_notification", "siteNum"},
        {R"({"ref":"r","siteNum":"12345678901234567","type":"t"})", "invalid_notification", "siteNum"},
        {R"({"ref":"r","siteNum":"1234"})", "invalid_notification", "type"},
        {R"({"ref":"r","siteNum":"1234","type":"a b"})", "invalid_notification", "type"},
        {R"({"ref":"r","siteNum":"1234","type":"t","customProperties":"x"})", "invalid_notification", "customProperties"},
        {R"({"ref":"r","siteNum":"1234","type":"t","customProperties":{"oceanSessionId":"a/b"}})",
         "invalid_notification",
         "oceanSessionId"},
        {R"({"ref":"r","siteNum":"1234","type":"t","customProperties":{"oceanSessionId":"a","oceanSessionId":"b"}})",
         "invalid_notification",
         "oceanSessionId is given twice"},
    };
    for (const auto& c : cases) {
        const auto error = error_of(c.body);
        EXPECT_EQ(error.error, c.error) << c.body;
        EXPECT_NE(error.detail.find(c.member), std::string::npos) << c.body << " → " << error.detail;
        EXPECT_EQ(error.detail.find("SECRET"), std::string::npos) << error.detail;
        EXPECT_EQ(error.detail.find("12a4"), std::string::npos) << error.detail;
    }
}

TEST(OpenApiBody, PaddedBodiesAreParsedInPlace) {
    std::string body = R"({"ref":"r1","siteNum":"1","type":"t"})";
    body.reserve(body.size() + 128);
    auto parsed = openapi::parse_body(body, body.capacity());
    ASSERT_TRUE(std::holds_alternative<openapi::Notification>(parsed));
    EXPECT_EQ(std::get<openapi::Notification>(parsed).ref, "r1");
}

TEST(OpenApiTypeLabel, KnownTypesByNameOthersAsOther) {
    EXPECT_EQ(openapi::type_label("notify-patient-note-added"), "notify-patient-note-added");
    EXPECT_EQ(openapi::type_label("notify-patient-message-forms-completion"), "notify-patient-message-forms-completion");
    EXPECT_EQ(openapi::type_label("NOTIFY-REFERRAL-NEW"), "notify-referral-new");
    EXPECT_EQ(openapi::type_label("notify-referral-message"), "notify-referral-message");
    EXPECT_EQ(openapi::type_label("notify-referral-other"), "other");
    EXPECT_EQ(openapi::type_label("x"), "other");
}

TEST(OpenApiQuery, FirstOccurrenceFormDecoded) {
    EXPECT_EQ(openapi::query_parameter("k=abc", "k"), "abc");
    EXPECT_EQ(openapi::query_parameter("a=1&k=a%2Db&k=other", "k"), "a-b");
    EXPECT_EQ(openapi::query_parameter("kk=1&k", "k"), "");
    EXPECT_FALSE(openapi::query_parameter("kk=1", "k").has_value());
    EXPECT_FALSE(openapi::query_parameter("", "k").has_value());
    EXPECT_FALSE(openapi::query_parameter("k=%zz", "k").has_value());
}

TEST(OpenApiReplayKey, TypeIsCaseInsensitiveAndPartsAreSeparate) {
    EXPECT_EQ(openapi::replay_key("i", "Notify-X", "r", "s"), openapi::replay_key("i", "notify-x", "r", "s"));
    EXPECT_NE(openapi::replay_key("i", "t", "r", ""), openapi::replay_key("i", "t", "r", "s"));
    EXPECT_NE(openapi::replay_key("i", "t", "r1", ""), openapi::replay_key("i", "t", "r", "1"));
}

TEST(OpenApiRateLimiter, BurstThenTheRateWithRetryAfter) {
    openapi::RateLimiter limiter(60, 3, 100);
    const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
    for (int i = 0; i < 3; ++i) EXPECT_FALSE(limiter.take("a", t0).has_value()) << i;
    const auto wait = limiter.take("a", t0);
    ASSERT_TRUE(wait.has_value());
    EXPECT_EQ(wait->count(), 1);
    EXPECT_FALSE(limiter.take("b", t0).has_value()) << "per address";
    EXPECT_FALSE(limiter.take("a", t0 + 1s).has_value()) << "one per second comes back";
    EXPECT_TRUE(limiter.take("a", t0 + 1s).has_value());
    EXPECT_FALSE(limiter.take("a", t0 + 1h).has_value());

    openapi::RateLimiter slow(1, 1, 100);
    EXPECT_FALSE(slow.take("a", t0).has_value());
    EXPECT_EQ(slow.take("a", t0)->count(), 60);
}

TEST(OpenApiRateLimiter, MemoryIsBoundedLeastRecentFirst) {
    openapi::RateLimiter limiter(60, 1, 2);
    const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
    EXPECT_FALSE(limiter.take("a", t0).has_value());
    EXPECT_FALSE(limiter.take("b", t0).has_value());
    EXPECT_TRUE(limiter.take("a", t0).has_value());  // a is now the most recent
    EXPECT_FALSE(limiter.take("c", t0).has_value());  // b is forgotten
    EXPECT_EQ(limiter.tracked(), 2u);
    EXPECT_TRUE(limiter.take("a", t0).has_value()) << "a is still remembered";
    EXPECT_FALSE(limiter.take("b", t0).has_value()) << "b starts over";
}

TEST(OpenApiMemory, RemembersWithinTheWindowAndWithinItsCapacity) {
    openapi::NotificationMemory memory(10min, 2);
    const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
    EXPECT_FALSE(memory.seen("a", t0));
    memory.remember("a", t0);
    EXPECT_TRUE(memory.seen("a", t0 + 9min));
    EXPECT_FALSE(memory.seen("a", t0 + 10min)) << "the window has passed";
    memory.remember("a", t0);
    memory.remember("b", t0 + 1s);
    memory.remember("c", t0 + 2s);
    EXPECT_EQ(memory.size(), 2u);
    EXPECT_FALSE(memory.seen("a", t0 + 3s)) << "the oldest goes first";
    EXPECT_TRUE(memory.seen("b", t0 + 3s));
    EXPECT_TRUE(memory.seen("c", t0 + 3s));

    openapi::NotificationMemory off(10min, 0);
    off.remember("a", t0);
    EXPECT_FALSE(off.seen("a", t0));
    openapi::NotificationMemory no_window(0ms, 10);
    no_window.remember("a", t0);
    EXPECT_FALSE(no_window.seen("a", t0));
}
