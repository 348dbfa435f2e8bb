// The ingress over real loopback sockets, with the embedded broker: every answer a caller can get.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <future>
#include <thread>

#include "ingress_harness.hpp"
#include "relay/auth/webhook_signature.hpp"
#include "relay/core/encoding.hpp"
#include "test_support.hpp"

namespace relay::test {
namespace {

using namespace std::chrono_literals;
namespace bhttp = boost::beast::http;

constexpr const char* kBase = R"(
service: {log_level: error, threads: 2}
listeners: [{address: 127.0.0.1, port: 0}]
admin: {address: 127.0.0.1, port: 0}
kafka: {embedded: true, partitions: 2, ack_timeout: 2s}
limits: {max_body: 64KiB, max_header: 4KiB, header_timeout: 400ms, idle_timeout: 1s}
auth:
  token_signing_key: {value: "0123456789abcdef0123456789abcdef-test-key"}
shutdown: {drain_delay: 300ms, grace_period: 5s}
integrations:
  - site: "1234"
  - site: "2000"
    name: basic-site
    auth: {scheme: basic, username: ocean, password: {value: "s3cret-pass"}}
  - site: "2001"
    name: bearer-site
    auth: {scheme: bearer, token: {value: "static-token-value"}}
  - site: "2002"
    name: key-site
    auth: {scheme: api_key, header: X-Ocean-Key, key: {value: "key-value-123"}}
  - site: "2003"
    name: oauth-a
    auth:
      scheme: oauth2
      token_lifetime: 5m
      clients: [{client_id: ocean-client-a, client_secret: {value: "secret-a-0123456789"}}]
  - site: "2004"
    name: oauth-b
    auth:
      scheme: oauth2
      clients: [{client_id: ocean-client-b, client_secret: {value: "secret-b-0123456789"}}]
  - site: "2005"
    name: signed
    auth:
      scheme: none
      signature: {key: {value: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, tolerance: 5m}
    accepted_events: [add-service-request]
)";

class IngressHttp : public ::testing::Test {
   protected:
    RunningIngress running{kBase};
    http::BlockingClient client = running.client();

    http::ClientResponse post_fhir(const std::string& path,
                                   const std::string& body,
                                   std::vector<std::pair<std::string, std::string>> headers = {}) {
        return client.post(path, body, "application/fhir+json", headers);
    }
    std::size_t stored() {
        return consume_all(running.ingress().kafka_bootstrap(), "ocean.inbound.v1", 100000, 1500ms).size();
    }
    std::string token(const std::string& path, const std::string& id, const std::string& secret) {
        auto res = client.post(path,
                               "grant_type=client_credentials&client_id=" + id + "&client_secret=" + secret,
                               "application/x-www-form-urlencoded");
        EXPECT_EQ(res.result_int(), 200) << res.body();
        const auto start = res.body().find("\"access_token\":\"");
        if (start == std::string::npos) return {};
        const auto begin = start + 16;
        return res.body().substr(begin, res.body().find('"', begin) - begin);
    }
};

TEST_F(IngressHttp, AcceptsBothFhirContentTypesAndStoresTheBundle) {
    EXPECT_EQ(post_fhir("/ocean/1234/fhir", small_bundle("r1")).result_int(), 200);
    EXPECT_EQ(
        client.post("/ocean/1234/fhir", small_bundle("r2"), "application/json; charset=utf-8").result_int(),
        200);
    EXPECT_EQ(post_fhir("/ocean/1234/fhir/$process-message", small_bundle("r3")).result_int(), 200);
    EXPECT_EQ(stored(), 3U);
}

TEST_F(IngressHttp, UnknownPathIs404AndWrongMethodIs405) {
    auto res = post_fhir("/ocean/9999/fhir", small_bundle("r"));
    EXPECT_EQ(res.result_int(), 404);
    EXPECT_NE(res.body().find("OperationOutcome"), std::string::npos);
    res = client.get("/ocean/1234/fhir");
    EXPECT_EQ(res.result_int(), 405);
    EXPECT_EQ(res[bhttp::field::allow], "POST");
}

TEST_F(IngressHttp, WrongContentTypeIs415) {
    auto res = client.post("/ocean/1234/fhir", small_bundle("r"), "text/plain");
    EXPECT_EQ(res.result_int(), 415);
    EXPECT_NE(res.body().find("not-supported"), std::string::npos);
    EXPECT_EQ(stored(), 0U);
}

TEST_F(IngressHttp, MalformedInputIs400WithAPreciseOperationOutcome) {
    struct Case {
        std::string body, code, expression;
    };
    const std::vector<Case> cases = {
        {"", "required", "Bundle"},
        {R"({"resourceType":"Bundle","type":"message","entry":[)", "structure", "Bundle"},
        {R"({"resourceType":"Patient"})", "invalid", "Bundle.resourceType"},
        {R"({"resourceType":"Bundle","type":"collection","entry":[]})", "invalid", "Bundle.type"},
        {R"({"resourceType":"Bundle","type":"message","entry":[{"resource":{"resourceType":"Patient"}}]})",
         "invalid",
         "Bundle.entry[0].resource.resourceType"},
        {R"({"resourceType":"Bundle","type":"message","entry":[{"resource":{"resourceType":"MessageHeader"}}]})",
         "invalid",
         "Bundle.entry[0].resource.eventCoding.code"},
    };
    for (const auto& c : cases) {
        auto res = post_fhir("/ocean/1234/fhir", c.body);
        EXPECT_EQ(res.result_int(), 400) << c.body;
        EXPECT_NE(res.body().find("\"code\":\"" + c.code + "\""), std::string::npos) << res.body();
        EXPECT_NE(res.body().find("\"expression\":[\"" + c.expression + "\"]"), std::string::npos)
            << res.body();
        EXPECT_EQ(res[bhttp::field::content_type], "application/fhir+json");
    }
    // A handled event without any referral reference cannot be keyed.
    auto res = post_fhir(
        "/ocean/1234/fhir",
        R"({"resourceType":"Bundle","type":"message","entry":[{"resource":{"resourceType":"MessageHeader",)"
        R"("eventCoding":{"code":"add-service-request"}}}]})");
    EXPECT_EQ(res.result_int(), 400);
    EXPECT_NE(res.body().find("no referral reference"), std::string::npos);
    EXPECT_EQ(stored(), 0U);
}

TEST_F(IngressHttp, UnhandledEventIsStoredAndMarkedNeverDropped) {
    auto res = post_fhir("/ocean/2005/fhir", small_bundle("r", "notify-update-service-request", "2005"), {});
    // The signed integration refuses unsigned requests before looking at the event.
    EXPECT_EQ(res.result_int(), 401);
    // An event code this version does not handle (a newer IG's, say): Ocean never resends a 200, so it
    // is stored and marked for the router to dead-letter, not dropped.
    res = post_fhir("/ocean/1234/fhir", small_bundle("r", "some-future-event"));
    EXPECT_EQ(res.result_int(), 200);
    const auto records = consume_all(running.ingress().kafka_bootstrap(), "ocean.inbound.v1", 100000, 1500ms);
    ASSERT_EQ(records.size(), 1U);
    EXPECT_EQ(records[0].header("event"), "some-future-event");
    EXPECT_EQ(records[0].header("event-handled"), "false");
    auto metrics = http::BlockingClient("127.0.0.1", running.admin_port()).get("/metrics").body();
    EXPECT_NE(metrics.find(R"(relay_ingress_published_total{event="unhandled",integration="1234"} 1)"),
              std::string::npos);
    // A handled event carries no mark.
    EXPECT_EQ(post_fhir("/ocean/1234/fhir", small_bundle("r2")).result_int(), 200);
    const auto both = consume_all(running.ingress().kafka_bootstrap(), "ocean.inbound.v1", 100000, 1500ms);
    ASSERT_EQ(both.size(), 2U);
    for (const auto& record : both) {
        EXPECT_EQ(record.header("event-handled"), record.header("referral-ref") == "r2" ? "" : "false");
    }
}

TEST(IngressHttpIgnored, AnEventConfiguredAsIgnoredIsAcknowledgedButNotStored) {
    RunningIngress running(std::string(kBase) + "fhir: {ignored_events: [some-noise-event]}\n");
    auto client = running.client();
    auto res = client.post("/ocean/2005/fhir", small_bundle("r", "some-noise-event", "2005"), "application/fhir+json");
    EXPECT_EQ(res.result_int(), 401);  // still authenticated first
    res = client.post("/ocean/1234/fhir", small_bundle("r", "some-noise-event"), "application/fhir+json");
    EXPECT_EQ(res.result_int(), 200);
    EXPECT_NE(res.body().find("ignored"), std::string::npos);
    EXPECT_EQ(consume_all(running.ingress().kafka_bootstrap(), "ocean.inbound.v1", 100000, 1500ms).size(), 0U);
    auto metrics = http::BlockingClient("127.0.0.1", running.admin_port()).get("/metrics").body();
    EXPECT_NE(metrics.find(R"(relay_ingress_ignored_total{integration="1234",reason="event_ignored"} 1)"),
              std::string::npos);
}

TEST_F(IngressHttp, TheSiteIsBoundToTheCredential) {
    // Integration 2000's credentials naming site 1234's listing: one site cannot place a referral with
    // another.
    const std::string basic = "Basic " + base64_encode("ocean:s3cret-pass");
    auto res = post_fhir("/ocean/2000/fhir", small_bundle("x1", "add-service-request", "1234"), {{"Authorization", basic}});
    EXPECT_EQ(res.result_int(), 403);
    EXPECT_NE(res.body().find("forbidden"), std::string::npos);
    EXPECT_EQ(stored(), 0U);
    // Its own site: stored, and the record carries the integration's site, which the router routes on.
    ASSERT_EQ(post_fhir("/ocean/2000/fhir", small_bundle("x2", "add-service-request", "2000"), {{"Authorization", basic}})
                  .result_int(),
              200);
    // A bundle that names no site takes the integration's.
    std::string no_site = small_bundle("x3", "add-service-request", "2000");
    const std::string site_identifier =
        R"(,{"system":"https://ocean.cognisantmd.com/svc/fhir/v1/NamingSystem/id-site-number","value":"2000"})";
    no_site.erase(no_site.find(site_identifier), site_identifier.size());
    ASSERT_EQ(post_fhir("/ocean/2000/fhir", no_site, {{"Authorization", basic}}).result_int(), 200);
    const auto records = consume_all(running.ingress().kafka_bootstrap(), "ocean.inbound.v1", 100000, 1500ms);
    ASSERT_EQ(records.size(), 2U);
    for (const auto& record : records) EXPECT_EQ(record.header("site"), "2000");
}

TEST_F(IngressHttp, RoutingFactsOutsideTheirBoundsAre400NamingTheFieldNotTheValue) {
    // JSON escapes in the payload: a newline, a quote, an ESC sequence, a NUL; and a ref far too long.
    for (const std::string& ref : std::vector<std::string>{R"(ref\nwith-newline)", R"(q\"uote)", R"(esc\u001b[0m)",
                                                           R"(nul\u0000)", std::string(4000, 'r')}) {
        auto res = post_fhir("/ocean/1234/fhir", small_bundle(ref));
        EXPECT_EQ(res.result_int(), 400) << ref.substr(0, 30) << res.body();
        EXPECT_NE(res.body().find("Bundle.entry[0].resource.extension.valueIdentifier.value"), std::string::npos)
            << res.body();
        EXPECT_EQ(res.body().find("with-newline"), std::string::npos);
        EXPECT_LT(res.body().size(), 1024U);
    }
    // Two values for one member the relay reads.
    std::string twice = small_bundle("dup");
    twice.replace(twice.find(R"("type":"message")"), 16, R"("type":"message","type":"message")");
    auto res = post_fhir("/ocean/1234/fhir", twice);
    EXPECT_EQ(res.result_int(), 400);
    EXPECT_NE(res.body().find("appears more than once"), std::string::npos) << res.body();
    // Valid JSON numbers of any size are not malformed.
    std::string big = small_bundle("big-number");
    big.insert(big.size() - 1, R"(,"x":[18446744073709551616,1e309])");
    EXPECT_EQ(post_fhir("/ocean/1234/fhir", big).result_int(), 200);
    EXPECT_EQ(stored(), 1U);
}

TEST_F(IngressHttp, ASignedWebhookIsNotAcceptedTwice) {
    const std::string body = small_bundle("replay", "add-service-request", "2005");
    const std::string key = *base64_decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    const std::string ts = std::to_string(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
    const std::vector<std::pair<std::string, std::string>> headers{
        {"webhook-id", "msg_replay"}, {"webhook-timestamp", ts}, {"webhook-signature", auth::sign_webhook(key, "msg_replay", ts, body)}};
    EXPECT_EQ(post_fhir("/ocean/2005/fhir", body, headers).result_int(), 200);
    EXPECT_EQ(post_fhir("/ocean/2005/fhir", body, headers).result_int(), 401);
    EXPECT_EQ(stored(), 1U);
}

TEST_F(IngressHttp, BasicBearerAndApiKeySchemes) {
    const std::string good_basic = "Basic " + base64_encode("ocean:s3cret-pass");
    const std::string bad_basic = "Basic " + base64_encode("ocean:wrong");
    EXPECT_EQ(post_fhir("/ocean/2000/fhir", small_bundle("b1", "add-service-request", "2000"), {{"Authorization", good_basic}}).result_int(),
              200);
    auto res = post_fhir("/ocean/2000/fhir", small_bundle("b2", "add-service-request", "2000"), {{"Authorization", bad_basic}});
    EXPECT_EQ(res.result_int(), 401);
    EXPECT_NE(std::string(res[bhttp::field::www_authenticate]).find("Basic"), std::string::npos);
    EXPECT_EQ(post_fhir("/ocean/2000/fhir", small_bundle("b3", "add-service-request", "2000")).result_int(), 401);

    EXPECT_EQ(
        post_fhir("/ocean/2001/fhir", small_bundle("t1", "add-service-request", "2001"), {{"Authorization", "Bearer static-token-value"}})
            .result_int(),
        200);
    EXPECT_EQ(
        post_fhir("/ocean/2001/fhir", small_bundle("t2", "add-service-request", "2001"), {{"Authorization", "Bearer other"}}).result_int(),
        401);

    EXPECT_EQ(
        post_fhir("/ocean/2002/fhir", small_bundle("k1", "add-service-request", "2002"), {{"X-Ocean-Key", "key-value-123"}}).result_int(),
        200);
    EXPECT_EQ(
        post_fhir("/ocean/2002/fhir", small_bundle("k2", "add-service-request", "2002"), {{"X-Ocean-Key", "key-value-124"}}).result_int(),
        401);
    EXPECT_EQ(stored(), 3U);
}

TEST_F(IngressHttp, OAuth2ClientCredentialsAsOceanSendsThem) {
    const std::string token_a = token("/ocean/2003/oauth2/token", "ocean-client-a", "secret-a-0123456789");
    ASSERT_FALSE(token_a.empty());
    EXPECT_EQ(post_fhir("/ocean/2003/fhir", small_bundle("o1", "add-service-request", "2003"), {{"Authorization", "Bearer " + token_a}})
                  .result_int(),
              200);

    // Basic header form, as Ocean's own token endpoint also accepts.
    auto res =
        client.post("/ocean/2004/oauth2/token?grant_type=client_credentials",
                    "",
                    "application/x-www-form-urlencoded",
                    {{"Authorization", "Basic " + base64_encode("ocean-client-b:secret-b-0123456789")}});
    ASSERT_EQ(res.result_int(), 200) << res.body();
    EXPECT_EQ(res[bhttp::field::cache_control], "no-store");
    EXPECT_NE(res.body().find("\"token_type\":\"Bearer\""), std::string::npos);
    EXPECT_NE(res.body().find("\"expires_in\":3600"), std::string::npos);

    // A token for integration A is genuine but not good for B.
    res = post_fhir("/ocean/2004/fhir", small_bundle("o2", "add-service-request", "2004"), {{"Authorization", "Bearer " + token_a}});
    EXPECT_EQ(res.result_int(), 403);
    // Tampered and missing tokens.
    std::string forged = token_a;
    forged[forged.size() / 2] = forged[forged.size() / 2] == 'A' ? 'B' : 'A';
    res = post_fhir("/ocean/2003/fhir", small_bundle("o3", "add-service-request", "2003"), {{"Authorization", "Bearer " + forged}});
    EXPECT_EQ(res.result_int(), 401);
    EXPECT_NE(std::string(res[bhttp::field::www_authenticate]).find("invalid_token"), std::string::npos);
    EXPECT_EQ(post_fhir("/ocean/2003/fhir", small_bundle("o4", "add-service-request", "2003")).result_int(), 401);

    // Wrong secret at the token endpoint.
    res = client.post("/ocean/2003/oauth2/token",
                      "grant_type=client_credentials&client_id=ocean-client-a&client_secret=nope",
                      "application/x-www-form-urlencoded");
    EXPECT_EQ(res.result_int(), 401);
    EXPECT_NE(res.body().find("invalid_client"), std::string::npos);
    EXPECT_EQ(res.body().find("nope"), std::string::npos);
    EXPECT_EQ(stored(), 1U);
}

TEST_F(IngressHttp, StandardWebhooksSignatureIsChecked) {
    const std::string body = small_bundle("s1", "add-service-request", "2005");
    const std::string key = *base64_decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    const std::string ts = std::to_string(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
    const std::string signature = auth::sign_webhook(key, "msg_1", ts, body);
    EXPECT_EQ(
        post_fhir("/ocean/2005/fhir",
                  body,
                  {{"webhook-id", "msg_1"}, {"webhook-timestamp", ts}, {"webhook-signature", signature}})
            .result_int(),
        200);
    EXPECT_EQ(
        post_fhir("/ocean/2005/fhir",
                  body + " ",
                  {{"webhook-id", "msg_1"}, {"webhook-timestamp", ts}, {"webhook-signature", signature}})
            .result_int(),
        401);
    const std::string old = std::to_string(std::stoll(ts) - 3600);
    EXPECT_EQ(post_fhir("/ocean/2005/fhir",
                        body,
                        {{"webhook-id", "msg_1"},
                         {"webhook-timestamp", old},
                         {"webhook-signature", auth::sign_webhook(key, "msg_1", old, body)}})
                  .result_int(),
              401);
    EXPECT_EQ(stored(), 1U);
}

TEST_F(IngressHttp, OversizedBodyIs413) {
    std::string body = small_bundle("big");
    body.insert(body.size() - 2, std::string(70 * 1024, ' '));
    auto res = post_fhir("/ocean/1234/fhir", body);
    EXPECT_EQ(res.result_int(), 413) << res.body();
    EXPECT_NE(res.body().find("too-costly"), std::string::npos) << res.body();
    EXPECT_EQ(stored(), 0U);
}

TEST_F(IngressHttp, OversizedHeadersAre431) {
    auto res = post_fhir("/ocean/1234/fhir", small_bundle("h"), {{"X-Padding", std::string(8 * 1024, 'x')}});
    EXPECT_EQ(res.result_int(), 431);
}

TEST_F(IngressHttp, SlowClientIsCutOffAtTheHeaderDeadline) {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::socket socket(ioc);
    socket.connect({boost::asio::ip::make_address("127.0.0.1"), running.port()});
    const std::string partial = "POST /ocean/1234/fhir HTTP/1.1\r\nHost: x\r\n";
    boost::asio::write(socket, boost::asio::buffer(partial));
    const auto started = std::chrono::steady_clock::now();
    std::string reply;
    boost::system::error_code ec;
    boost::asio::read(socket, boost::asio::dynamic_buffer(reply), ec);  // until the server closes
    const auto elapsed = std::chrono::steady_clock::now() - started;
    // The deadline (400ms) closes the connection; the request never reaches a handler.
    EXPECT_LT(elapsed, 3s);
    EXPECT_GE(elapsed, 300ms);
    EXPECT_TRUE(reply.empty()) << reply;
}

TEST_F(IngressHttp, IdleKeepAliveConnectionIsClosed) {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::socket socket(ioc);
    socket.connect({boost::asio::ip::make_address("127.0.0.1"), running.port()});
    const auto started = std::chrono::steady_clock::now();
    std::array<char, 16> buffer{};
    boost::system::error_code ec;
    socket.read_some(boost::asio::buffer(buffer), ec);
    EXPECT_EQ(ec, boost::asio::error::eof);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 4s);
}

TEST_F(IngressHttp, AdminEndpoints) {
    http::BlockingClient admin("127.0.0.1", running.admin_port());
    EXPECT_EQ(post_fhir("/ocean/1234/fhir", small_bundle("m1")).result_int(), 200);
    auto res = admin.get("/healthz");
    EXPECT_EQ(res.result_int(), 200);
    res = admin.get("/readyz");
    EXPECT_EQ(res.result_int(), 200) << res.body();
    res = admin.get("/metrics");
    EXPECT_EQ(res.result_int(), 200);
    const std::string metrics = res.body();
    EXPECT_NE(metrics.find(R"(relay_ingress_requests_total{code="200",integration="1234",route="fhir"} 1)"),
              std::string::npos)
        << metrics;
    EXPECT_NE(metrics.find("relay_ingress_kafka_ack_duration_seconds_bucket"), std::string::npos);
    EXPECT_NE(metrics.find("relay_build_info"), std::string::npos);
    EXPECT_NE(metrics.find("relay_ingress_ready 1"), std::string::npos);
    EXPECT_EQ(admin.get("/nope").result_int(), 404);
}

TEST_F(IngressHttp, GracefulShutdownFinishesInFlightRequests) {
    // Hold the broker so a request is in flight when the shutdown starts.
    running.ingress().embedded_cluster()->set_broker_down(1);
    auto in_flight = std::async(std::launch::async, [port = running.port()] {
        http::BlockingClient c("127.0.0.1", port);
        return c.post("/ocean/1234/fhir", small_bundle("in-flight"), "application/fhir+json").result_int();
    });
    std::this_thread::sleep_for(200ms);
    running.ingress().shutdown();
    std::this_thread::sleep_for(100ms);
    // Readiness fails first, during the drain delay, while the admin port still answers.
    EXPECT_EQ(http::BlockingClient("127.0.0.1", running.admin_port()).get("/readyz").result_int(), 503);
    running.ingress().embedded_cluster()->set_broker_up(1);
    EXPECT_EQ(in_flight.get(), 200);
    EXPECT_TRUE(running.stop());
    // After shutdown, new connections are refused.
    EXPECT_THROW(http::BlockingClient("127.0.0.1", running.port(), 1s).get("/healthz"), std::exception);
}

}  // namespace
}  // namespace relay::test
