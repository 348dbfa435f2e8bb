// Ocean's Open API / Patient Engagement webhook over real loopback sockets, with the embedded broker:
// the challenge, the key in each of its three places, every refusal, the rate limit, the replay window,
// unknown types stored, and the key never in the ingress's log output.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <optional>
#include <string>
#include <vector>

#include "ingress_harness.hpp"
#include "test_support.hpp"

namespace relay::test {
namespace {

using namespace std::chrono_literals;
namespace bhttp = boost::beast::http;

constexpr const char* kKey = "clinic-key-0123456789";
constexpr const char* kRotatedKey = "clinic-key-rotated-9876";
constexpr const char* kLimitedKey = "limited-key-0123456789";
constexpr const char* kSmallKey = "small-key-0123456789";
constexpr const char* kPath = "/ocean/clinic/openapi/webhook";
constexpr const char* kTopic = "ocean.notifications.v1";

// log_level info: the log test reads every line the ingress writes.
const std::string kConfig = fmt::format(R"(
service: {{log_level: info, threads: 2}}
listeners: [{{address: 127.0.0.1, port: 0}}]
admin: {{address: 127.0.0.1, port: 0}}
kafka: {{embedded: true, partitions: 2, ack_timeout: 2s}}
limits: {{max_body: 64KiB, max_header: 4KiB}}
shutdown: {{grace_period: 5s}}
integrations:
  - site: "1234"
    name: clinic
    open_api:
      keys: [{{value: {}}}, {{value: {}}}]
      rate_limit: {{per_minute: 100000, burst: 10000}}
  - site: "5678"
    name: limited
    open_api:
      keys: [{{value: {}}}]
      rate_limit: {{per_minute: 60, burst: 3}}
  - site: "9012"
    name: small
    open_api:
      path: /hooks/{{site}}
      keys: [{{value: {}}}]
      max_body_bytes: 2KiB
      key_header: X-Small-Key
      key_parameter: key
)",
                                        kKey,
                                        kRotatedKey,
                                        kLimitedKey,
                                        kSmallKey);

std::string notification(const std::string& ref,
                         const std::string& type = "notify-patient-note-added",
                         const std::string& site = "\"1234\"",
                         const std::string& session = "1759442545187t415674") {
    return R"({"ref": ")" + ref + R"(", "siteNum": )" + site + R"(, "type": ")" + type +
           R"(", "changeList": null, "user": null, "customProperties": {"noteCompletionSource": "PORTAL", "oceanSessionId": ")" +
           session + R"("}})";
}

class IngressOpenApi : public ::testing::Test {
   protected:
    RunningIngress running{kConfig};
    http::BlockingClient client = running.client();

    http::ClientResponse post(const std::string& target,
                              const std::string& body,
                              std::vector<std::pair<std::string, std::string>> headers = {},
                              const std::string& content_type = "application/json") {
        return client.post(target, body, content_type, headers);
    }
    /// Every stored record: waiting up to 15 s for `expected` of them (it returns as soon as they are
    /// there), or 1.5 s when no count is given (to see that nothing more arrives).
    std::vector<ConsumedRecord> stored(std::optional<std::size_t> expected = std::nullopt) {
        return consume_all(running.ingress().kafka_bootstrap(), kTopic, expected.value_or(100000),
                           expected ? std::chrono::milliseconds(15'000) : std::chrono::milliseconds(1'500));
    }
    std::string metrics() {
        return http::BlockingClient("127.0.0.1", running.admin_port()).get("/metrics").body();
    }
};

std::string with_key(const std::string& key = kKey) {
    return std::string(kPath) + "?k=" + key;
}

TEST_F(IngressOpenApi, ChallengeIsEchoedAfterAuthenticationAndNothingIsStored) {
    auto res = post(with_key(), R"({"challenge": "a1B2-c3.d4 e5"})");
    ASSERT_EQ(res.result_int(), 200) << res.body();
    EXPECT_EQ(res.body(), R"({"challenge":"a1B2-c3.d4 e5"})");
    EXPECT_EQ(res[bhttp::field::content_type], "application/json");
    // JSON escapes survive the round trip.
    res = post(with_key(), R"({"challenge": "q\"uote\\"})");
    ASSERT_EQ(res.result_int(), 200) << res.body();
    EXPECT_EQ(res.body(), R"({"challenge":"q\"uote\\"})");

    res = post(kPath, R"({"challenge": "unauthenticated-echo"})");
    EXPECT_EQ(res.result_int(), 401);
    EXPECT_EQ(res.body().find("unauthenticated-echo"), std::string::npos) << res.body();
    EXPECT_NE(res.body().find(R"("error":"unauthorized")"), std::string::npos) << res.body();

    res = post(with_key(), R"({"challenge": ")" + std::string(257, 'x') + R"("})");
    EXPECT_EQ(res.result_int(), 400);
    EXPECT_NE(res.body().find("invalid_challenge"), std::string::npos) << res.body();
    EXPECT_EQ(res.body().find("xxxx"), std::string::npos);
    res = post(with_key(), R"({"challenge": "line\nbreak"})");
    EXPECT_EQ(res.result_int(), 400);
    res = post(with_key(), R"({"challenge": ["not", "a", "string"]})");
    EXPECT_EQ(res.result_int(), 400);
    res = post(with_key(), "challenge=garbage");
    EXPECT_EQ(res.result_int(), 400);
    EXPECT_NE(res.body().find("invalid_json"), std::string::npos) << res.body();
    EXPECT_EQ(res.body().find("garbage"), std::string::npos);

    EXPECT_TRUE(stored().empty());
    EXPECT_NE(metrics().find(R"(relay_ingress_notifications_total{integration="clinic",outcome="challenge",type="none"} 2)"),
              std::string::npos);
}

TEST_F(IngressOpenApi, KeyInTheQueryTheHeaderOrTheLastPathSegmentAndEitherRotationKey) {
    EXPECT_EQ(post(with_key(), notification("q-1")).result_int(), 200);
    EXPECT_EQ(post(kPath, notification("h-1"), {{"X-Ocean-Webhook-Key", kKey}}).result_int(), 200);
    EXPECT_EQ(post(std::string(kPath) + "/" + kKey, notification("p-1")).result_int(), 200);
    EXPECT_EQ(post(with_key(kRotatedKey), notification("q-2")).result_int(), 200);
    EXPECT_EQ(post(std::string(kPath) + "?other=1&k=" + kRotatedKey, notification("q-3")).result_int(), 200);
    // Configured names: another integration's header and parameter.
    EXPECT_EQ(post(std::string("/hooks/9012?key=") + kSmallKey, notification("s-1", "t", "9012")).result_int(), 200);
    EXPECT_EQ(post("/hooks/9012", notification("s-2", "t", "9012"), {{"x-small-key", kSmallKey}}).result_int(), 200);
    const auto records = stored(7);
    EXPECT_EQ(records.size(), 7U);
}

TEST_F(IngressOpenApi, WrongOrMissingKeyIs401WithoutEchoingIt) {
    const std::vector<http::ClientResponse> answers = {
        post(with_key("wrong-key-guess-0123"), notification("r")),
        post(kPath, notification("r"), {{"x-ocean-webhook-key", "wrong-key-guess-0123"}}),
        post(std::string(kPath) + "/wrong-key-guess-0123", notification("r")),
        post(kPath, notification("r")),
        post(with_key(kLimitedKey), notification("r")),  // another integration's key
        post(with_key(kKey).substr(0, with_key().size() - 1), notification("r")),
        // The header wins over the query: a wrong header is a wrong key.
        post(with_key(), notification("r"), {{"x-ocean-webhook-key", "wrong-key-guess-0123"}}),
    };
    for (const auto& res : answers) {
        EXPECT_EQ(res.result_int(), 401) << res.body();
        EXPECT_EQ(res.body(), R"x({"error":"unauthorized","detail":"a valid webhook key is required (query parameter, header or last path segment)"})x");
    }
    EXPECT_TRUE(stored().empty());
    EXPECT_NE(metrics().find(R"(relay_ingress_notifications_total{integration="clinic",outcome="unauthorized",type="none"} 7)"),
              std::string::npos);
}

TEST_F(IngressOpenApi, RefusalsAreJsonAndNeverRepeatTheCallersValues) {
    auto res = post(with_key(), notification("ref-1", "notify-patient-note-added", "\"4321\""));
    EXPECT_EQ(res.result_int(), 403);
    EXPECT_EQ(res.body(), R"({"error":"wrong_site","detail":"siteNum is not this integration's Ocean site"})");
    res = post(with_key(), notification("ref-1", "notify-patient-note-added", "4321"));
    EXPECT_EQ(res.result_int(), 403);
    EXPECT_EQ(post(with_key(), notification("ref-1", "notify-patient-note-added", "1234")).result_int(), 200)
        << "siteNum as a number";

    res = post(with_key(), R"({"ref": "r", "siteNum": "1234", "type": "t")");
    EXPECT_EQ(res.result_int(), 400);
    EXPECT_NE(res.body().find(R"("error":"invalid_json")"), std::string::npos) << res.body();

    res = post(with_key(), R"({"siteNum": "1234", "type": "notify-patient-note-added", "user": "Jane Doe"})");
    EXPECT_EQ(res.result_int(), 400);
    EXPECT_NE(res.body().find(R"("error":"invalid_notification")"), std::string::npos) << res.body();
    EXPECT_NE(res.body().find("ref is required"), std::string::npos) << res.body();
    EXPECT_EQ(res.body().find("Jane"), std::string::npos);

    res = post(with_key(), notification("Jane Doe 1970-01-01"));
    EXPECT_EQ(res.result_int(), 400);
    EXPECT_EQ(res.body().find("Jane"), std::string::npos) << res.body();

    res = post(with_key(), notification("r"), {}, "text/plain");
    EXPECT_EQ(res.result_int(), 415);
    EXPECT_NE(res.body().find("unsupported_media_type"), std::string::npos);

    res = client.get(with_key());
    EXPECT_EQ(res.result_int(), 405);
    EXPECT_EQ(res[bhttp::field::allow], "POST");
    EXPECT_NE(res.body().find("method_not_allowed"), std::string::npos);

    // 413 from Content-Length, before the body is read, and for a chunked body as it arrives.
    std::string large = notification("big");
    large.insert(large.size() - 1, R"(,"padding":")" + std::string(4096, 'p') + "\"");
    res = post(std::string("/hooks/9012?key=") + kSmallKey, large);
    EXPECT_EQ(res.result_int(), 413);
    EXPECT_NE(res.body().find("payload_too_large"), std::string::npos) << res.body();
    {
        boost::asio::io_context ioc;
        boost::asio::ip::tcp::socket socket(ioc);
        socket.connect({boost::asio::ip::make_address("127.0.0.1"), running.port()});
        const std::string request = fmt::format(
            "POST /hooks/9012?key={} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{}\r\n0\r\n\r\n",
            kSmallKey,
            large.size(),
            large);
        boost::system::error_code ec;
        boost::asio::write(socket, boost::asio::buffer(request), ec);
        std::string reply;
        boost::asio::read(socket, boost::asio::dynamic_buffer(reply), ec);  // until the server closes
        EXPECT_TRUE(reply.starts_with("HTTP/1.1 413")) << reply;
        EXPECT_NE(reply.find("Content-Type: application/json"), std::string::npos)
            << "the server's own answer is JSON here too: " << reply;
        EXPECT_NE(reply.find(R"({"error":)"), std::string::npos) << reply;
        EXPECT_EQ(reply.find(kSmallKey), std::string::npos) << reply;
    }

    EXPECT_EQ(stored().size(), 1U);
    const std::string m = metrics();
    EXPECT_NE(m.find(R"(relay_ingress_notifications_total{integration="clinic",outcome="wrong_site",type="notify-patient-note-added"} 2)"),
              std::string::npos);
    EXPECT_NE(m.find(R"(relay_ingress_requests_total{code="403",integration="clinic",route="openapi"} 2)"), std::string::npos);
}

TEST_F(IngressOpenApi, RateLimitPerAddressIs429WithRetryAfterBeforeTheKeyIsLookedAt) {
    const std::string target = std::string("/ocean/limited/openapi/webhook?k=") + kLimitedKey;
    EXPECT_EQ(post(target, notification("r-1", "t", "5678")).result_int(), 200);
    EXPECT_EQ(post(target, notification("r-2", "t", "5678")).result_int(), 200);
    EXPECT_EQ(post("/ocean/limited/openapi/webhook?k=wrong-key-guess-0123", notification("r-3", "t", "5678"))
                  .result_int(),
              401);
    for (const auto& target_now : {target, std::string("/ocean/limited/openapi/webhook")}) {
        auto res = post(target_now, notification("r-4", "t", "5678"));
        EXPECT_EQ(res.result_int(), 429) << res.body();
        EXPECT_EQ(res[bhttp::field::retry_after], "1");
        EXPECT_EQ(res.body(), R"({"error":"rate_limited","detail":"too many requests from this client; retry later"})");
    }
    // Another integration's limit is its own.
    EXPECT_EQ(post(with_key(), notification("r-5")).result_int(), 200);
    EXPECT_NE(metrics().find(R"(relay_ingress_notifications_total{integration="limited",outcome="rate_limited",type="none"} 2)"),
              std::string::npos);
}

TEST_F(IngressOpenApi, UnknownTypesAreStoredAndAReplayWithinTheWindowIsNotStoredAgain) {
    const std::string body = notification("690", "notify-something-ocean-adds-later");
    auto res = post(with_key(), body);
    ASSERT_EQ(res.result_int(), 200) << res.body();
    EXPECT_EQ(res.body(), R"({"status":"accepted"})");
    res = post(with_key(), body);
    ASSERT_EQ(res.result_int(), 200) << res.body();
    EXPECT_EQ(res.body(), R"({"status":"duplicate"})");
    // The type is case-insensitive for the window; another session or ref is another notification.
    EXPECT_EQ(post(with_key(), notification("690", "NOTIFY-SOMETHING-OCEAN-ADDS-LATER")).body(), R"({"status":"duplicate"})");
    EXPECT_EQ(post(with_key(), notification("690", "notify-something-ocean-adds-later", "\"1234\"", "other-session"))
                  .body(),
              R"({"status":"accepted"})");
    EXPECT_EQ(post(with_key(), notification("691", "notify-something-ocean-adds-later")).body(), R"({"status":"accepted"})");

    const auto records = stored(3);
    ASSERT_EQ(records.size(), 3U);
    for (const auto& record : records) {
        EXPECT_EQ(record.header("notification-type"), "notify-something-ocean-adds-later");
        EXPECT_EQ(record.header("kind"), "ocean-notification");
    }
    EXPECT_EQ(records[0].value == body || records[1].value == body || records[2].value == body, true);
    const std::string m = metrics();
    EXPECT_NE(m.find(R"(relay_ingress_notifications_total{integration="clinic",outcome="accepted",type="other"} 3)"),
              std::string::npos)
        << m;
    EXPECT_NE(m.find(R"(relay_ingress_notifications_total{integration="clinic",outcome="duplicate",type="other"} 2)"),
              std::string::npos);
}

TEST_F(IngressOpenApi, TheKeyNeverAppearsInTheLogs) {
    ::testing::internal::CaptureStderr();
    EXPECT_EQ(post(with_key(), notification("log-1")).result_int(), 200);
    EXPECT_EQ(post(kPath, notification("log-2"), {{"x-ocean-webhook-key", kRotatedKey}}).result_int(), 200);
    EXPECT_EQ(post(std::string(kPath) + "/" + kKey, notification("log-3")).result_int(), 200);
    EXPECT_EQ(post(with_key(), R"({"challenge":"c"})").result_int(), 200);
    EXPECT_EQ(post(with_key("wrong-key-guess-0123"), notification("log-4")).result_int(), 401);
    EXPECT_EQ(post(std::string(kPath) + "/wrong-key-guess-0123", notification("log-5")).result_int(), 401);
    EXPECT_EQ(post(with_key(), notification("log-6", "t", "\"4321\"")).result_int(), 403);
    EXPECT_EQ(post(with_key(), "{").result_int(), 400);
    running.stop();
    const std::string logs = ::testing::internal::GetCapturedStderr();
    EXPECT_NE(logs.find("notification accepted"), std::string::npos) << "the capture saw the ingress's lines";
    EXPECT_NE(logs.find("wrong_key"), std::string::npos);
    for (const char* secret : {kKey, kRotatedKey, "wrong-key-guess-0123", "k="}) {
        EXPECT_EQ(logs.find(secret), std::string::npos) << secret << " in:\n" << logs;
    }
    EXPECT_EQ(logs.find("PORTAL"), std::string::npos) << "the body is not logged";
}

}  // namespace
}  // namespace relay::test
