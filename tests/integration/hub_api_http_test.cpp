// The hub API over real loopback sockets with the embedded broker: every endpoint, every answer, and
// the record each accepted request leaves on relay.updates.v1. The OpenAPI document's request examples
// are posted as they are and must give their documented record (x-record).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>
#include <map>
#include <thread>

#include "ingress_harness.hpp"
#include "relay/hub/update.hpp"
#include "test_support.hpp"

namespace relay::test {
namespace {

using namespace std::chrono_literals;
namespace bhttp = boost::beast::http;
namespace json = boost::json;

constexpr const char* kConfig = R"(
service: {log_level: error, threads: 2}
listeners: [{address: 127.0.0.1, port: 0}]
admin: {address: 127.0.0.1, port: 0}
kafka: {embedded: true, partitions: 3, ack_timeout: 1s, retry_after: 7s}
limits: {max_body: 64KiB, header_timeout: 400ms, body_timeout: 400ms}
auth:
  token_signing_key: {value: "0123456789abcdef0123456789abcdef-test-key"}
integrations:
  - site: "1234"
    auth:
      scheme: oauth2
      clients: [{client_id: ocean-client, client_secret: {value: "ocean-secret-0123"}}]
hub_api:
  max_body_bytes: 2KiB
  systems:
    - name: emr
      auth: {scheme: api_key, header: X-Api-Key, key: {value: "emr-key-123"}}
    - name: intake
      auth:
        scheme: oauth2
        clients: [{client_id: intake-client, client_secret: {value: "intake-secret-0123"}}]
    - name: clinic-1234
      auth: {scheme: bearer, token: {value: "clinic-token-456"}}
      sites: ["1234"]
)";

const std::vector<std::pair<std::string, std::string>> kEmr = {{"X-Api-Key", "emr-key-123"}};

json::value yaml_to_json(const YAML::Node& node) {
    switch (node.Type()) {
        case YAML::NodeType::Map: {
            json::object o;
            for (const auto& kv : node) o[kv.first.as<std::string>()] = yaml_to_json(kv.second);
            return o;
        }
        case YAML::NodeType::Sequence: {
            json::array a;
            for (const auto& item : node) a.push_back(yaml_to_json(item));
            return a;
        }
        case YAML::NodeType::Scalar: {
            const std::string s = node.Scalar();
            if (node.Tag() == "?") {  // plain scalar: YAML core schema types
                if (s == "true") return true;
                if (s == "false") return false;
                if (s == "null") return nullptr;
                if (!s.empty() && s.size() < 10 && s.find_first_not_of("0123456789") == std::string::npos)
                    return std::stoll(s);
            }
            return json::string(s);
        }
        default:
            return nullptr;
    }
}

class HubApiHttp : public ::testing::Test {
   protected:
    RunningIngress running{kConfig};
    http::BlockingClient client = running.client();

    http::ClientResponse send(bhttp::verb verb,
                              const std::string& target,
                              const std::string& body,
                              std::vector<std::pair<std::string, std::string>> headers,
                              const std::string& content_type = "application/json") {
        http::ClientRequest req{verb, target, 11};
        for (const auto& [name, value] : headers) req.set(name, value);
        if (!content_type.empty()) req.set(bhttp::field::content_type, content_type);
        req.body() = body;
        return client.send(std::move(req));
    }
    http::ClientResponse post(const std::string& path,
                              const std::string& body,
                              std::vector<std::pair<std::string, std::string>> headers = kEmr) {
        return send(bhttp::verb::post, "/hub/v1" + path, body, std::move(headers));
    }
    std::vector<ConsumedRecord> records(std::size_t expected, std::chrono::milliseconds timeout = 3s) {
        return consume_all(running.ingress().kafka_bootstrap(), "relay.updates.v1", expected, timeout);
    }
    std::size_t stored() { return records(100000, 1500ms).size(); }
    std::string metrics() {
        return http::BlockingClient("127.0.0.1", running.admin_port()).get("/metrics").body();
    }
};

std::string error_code(const http::ClientResponse& res) {
    const auto v = json::parse(res.body());
    return json::value_to<std::string>(v.at("error").at("code"));
}

std::vector<std::string> error_fields(const http::ClientResponse& res) {
    std::vector<std::string> out;
    const auto v = json::parse(res.body());
    for (const auto& f : v.at("error").at("fields").as_array()) {
        out.push_back(json::value_to<std::string>(f.at("field")) + ":" +
                      json::value_to<std::string>(f.at("code")));
    }
    return out;
}

TEST_F(HubApiHttp, EveryOpenApiExampleGivesItsDocumentedRecord) {
    const auto doc = YAML::LoadFile(std::string(RELAY_SOURCE_DIR) + "/services/ingress/openapi/hub-api.yaml");
    const std::string trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    std::map<std::string, json::value> expected;  // update id → documented record
    std::map<std::string, std::string> ref_of;
    std::size_t open_api_requests = 0;
    for (const auto& path : doc["paths"]) {
        for (const auto& op : path.second) {
            const std::string method = op.first.as<std::string>();
            if (method == "parameters" || !op.second["requestBody"]) continue;
            const auto media = op.second["requestBody"]["content"]["application/json"];
            if (!media) continue;
            ASSERT_TRUE(media["examples"]) << path.first.as<std::string>() << " has no example";
            for (const auto& example : media["examples"]) {
                const std::string name = example.first.as<std::string>();
                const auto body = json::serialize(yaml_to_json(example.second["value"]));
                const json::value record = yaml_to_json(example.second["x-record"]);
                const auto verb = bhttp::string_to_verb(fmt::format("{}", method == "put" ? "PUT" : "POST"));
                auto res = send(verb,
                                "/hub/v1" + example.second["x-path"].as<std::string>(),
                                body,
                                {{"X-Api-Key", "emr-key-123"},
                                 {"traceparent", "00-" + trace_id + "-00f067aa0ba902b7-01"}});
                ASSERT_EQ(res.result_int(), 202) << name << ": " << res.body();
                const auto answer = json::parse(res.body());
                EXPECT_EQ(answer.at("status"), "queued");
                EXPECT_EQ(answer.at("update_id"), record.at("update_id"));
                // A form link is about a patient; everything else about a referral.
                const char* subject = record.as_object().contains("patient_ref") ? "patient_ref" : "referral_ref";
                EXPECT_EQ(answer.at(subject), record.at(subject));
                EXPECT_EQ(answer.at("action"), record.at("action"));
                EXPECT_GE(answer.at("offset").as_int64(), 0);
                const auto id = json::value_to<std::string>(record.at("update_id"));
                expected[id] = record;
                ref_of[id] = json::value_to<std::string>(record.at(subject));
                const auto action = hub::parse_action(json::value_to<std::string>(record.at("action")));
                ASSERT_TRUE(action.has_value()) << name;
                if (hub::is_open_api(*action)) ++open_api_requests;
            }
        }
    }
    ASSERT_GE(expected.size(), 15U);
    ASSERT_EQ(open_api_requests, 3U);
    // FHIR updates on the updates topic, Open API requests on their own.
    auto got = records(expected.size() - open_api_requests);
    ASSERT_EQ(got.size(), expected.size() - open_api_requests);
    const auto open_api = consume_all(
        running.ingress().kafka_bootstrap(), "relay.openapi.requests.v1", open_api_requests, 3s);
    ASSERT_EQ(open_api.size(), open_api_requests);
    for (const auto& r : open_api) {
        const auto parsed = hub::parse_update(r.value);
        ASSERT_TRUE(parsed.ok()) << parsed.error_text();
        EXPECT_TRUE(hub::is_open_api(parsed.update->action)) << r.value;
    }
    for (const auto& r : got) {
        const auto parsed = hub::parse_update(r.value);
        ASSERT_TRUE(parsed.ok()) << parsed.error_text();
        EXPECT_FALSE(hub::is_open_api(parsed.update->action)) << r.value;
    }
    got.insert(got.end(), open_api.begin(), open_api.end());
    for (const auto& r : got) {
        const std::string id = r.header("update-id");
        ASSERT_TRUE(expected.count(id)) << id;
        EXPECT_EQ(json::parse(r.value), expected[id]) << id << ": " << r.value;
        // The value is canonical: hub::to_json of what it parses to, byte for byte.
        const auto parsed = hub::parse_update(r.value);
        ASSERT_TRUE(parsed.ok()) << parsed.error_text();
        EXPECT_EQ(r.value, hub::to_json(*parsed.update));
        EXPECT_EQ(r.key, ref_of[id]);
        EXPECT_EQ(r.header("content-type"), "application/json");
        EXPECT_EQ(r.header("hub-system"), "emr");
        EXPECT_EQ(r.header("action"), json::value_to<std::string>(expected[id].at("action")));
        const std::string received_at = r.header("received-at");
        EXPECT_EQ(received_at.size(), 24U) << received_at;  // 2026-01-01T00:00:00.000Z
        EXPECT_EQ(received_at.back(), 'Z');
        EXPECT_NE(r.header("traceparent").find(trace_id), std::string::npos);
    }
}

TEST_F(HubApiHttp, DeleteAppointmentIdempotencyKeyAndGeneratedIds) {
    auto res = send(bhttp::verb::delete_, "/hub/v1/referrals/R-7/appointments/appt-3", "", kEmr, "");
    ASSERT_EQ(res.result_int(), 202) << res.body();
    const std::string generated = json::value_to<std::string>(json::parse(res.body()).at("update_id"));
    EXPECT_EQ(generated.size(), 36U) << "a UUID";
    res = post("/referrals/R-8/complete", "", {{"X-Api-Key", "emr-key-123"}, {"Idempotency-Key", "idem-77"}});
    ASSERT_EQ(res.result_int(), 202) << res.body();
    EXPECT_EQ(json::parse(res.body()).at("update_id"), "idem-77");
    const auto got = records(2);
    ASSERT_EQ(got.size(), 2U);
    std::map<std::string, ConsumedRecord> by_key;
    for (const auto& r : got) by_key[r.key] = r;
    EXPECT_EQ(by_key["R-7"].value,
              R"({"update_id":")" + generated +
                  R"(","referral_ref":"R-7","action":"cancel_booking","appointment":{"id":"appt-3"}})");
    EXPECT_EQ(by_key["R-7"].header("update-id"), generated);
    EXPECT_EQ(by_key["R-8"].header("update-id"), "idem-77");
    EXPECT_EQ(json::parse(by_key["R-8"].value).at("update_id"), "idem-77");
    EXPECT_EQ(by_key["R-8"].header("traceparent"), "") << "no traceparent unless the request had one";
}

TEST_F(HubApiHttp, InvalidUpdatesAre400NamingTheFieldAndStoreNothing) {
    auto res = post("/referrals/R-1/decline", R"({"update_id":"u1","reson":"Patient Jane Doe"})");
    EXPECT_EQ(res.result_int(), 400);
    EXPECT_EQ(error_code(res), "invalid-update");
    EXPECT_EQ(error_fields(res), (std::vector<std::string>{"(unknown member):unknown", "reason:required"}));
    EXPECT_EQ(res.body().find("Jane"), std::string::npos) << "no value is echoed";
    EXPECT_EQ(res.body().find("reson"), std::string::npos) << "nor an unknown member's name";
    res = post(
        "/referrals/R-1/appointments",
        R"({"update_id":"u2","appointment":{"start":"tomorrow","end":"2026-01-01T10:00:00Z","confirmed":true}})");
    EXPECT_EQ(res.result_int(), 400);
    EXPECT_EQ(error_fields(res), std::vector<std::string>{"appointment.start:format"});
    res = post("/referrals/R-1/accept", "{not json");
    EXPECT_EQ(res.result_int(), 400);
    EXPECT_EQ(error_fields(res), std::vector<std::string>{"$:json"});
    res = post("/updates", R"({"update_id":"u3","referral_ref":"R-1","action":"approve"})");
    EXPECT_EQ(res.result_int(), 400);
    EXPECT_EQ(error_fields(res), std::vector<std::string>{"action:value"});
    EXPECT_EQ(stored(), 0U);
}

TEST_F(HubApiHttp, ABodyContradictingThePathIs400) {
    auto res = post("/referrals/R-1/accept", R"({"update_id":"u1","referral_ref":"R-2"})");
    EXPECT_EQ(res.result_int(), 400);
    EXPECT_EQ(error_fields(res), std::vector<std::string>{"referral_ref:conflict"});
    res = post("/referrals/R-1/accept", R"({"update_id":"u1","action":"decline"})");
    EXPECT_EQ(error_fields(res), std::vector<std::string>{"action:conflict"});
    res = send(
        bhttp::verb::put,
        "/hub/v1/referrals/R-1/appointments/a-1",
        R"({"update_id":"u1","appointment":{"id":"a-2","start":"2026-01-01T09:00:00Z","end":"2026-01-01T10:00:00Z","confirmed":true}})",
        kEmr);
    EXPECT_EQ(res.result_int(), 400);
    EXPECT_EQ(error_fields(res), std::vector<std::string>{"appointment.id:conflict"});
    res = post("/referrals/R-1/complete",
               R"({"update_id":"u1"})",
               {{"X-Api-Key", "emr-key-123"}, {"Idempotency-Key", "u2"}});
    EXPECT_EQ(error_fields(res), std::vector<std::string>{"update_id:conflict"});
    EXPECT_EQ(stored(), 0U);
}

TEST_F(HubApiHttp, CredentialsPickTheSystemAndWrongOnesAre401) {
    auto res = post("/referrals/R-1/complete", "", {});
    EXPECT_EQ(res.result_int(), 401);
    EXPECT_EQ(error_code(res), "unauthorized");
    EXPECT_FALSE(res[bhttp::field::www_authenticate].empty());
    res = post("/referrals/R-1/complete", "", {{"X-Api-Key", "wrong"}});
    EXPECT_EQ(res.result_int(), 401);
    res = post("/referrals/R-1/complete", "", {{"Authorization", "Bearer wrong-token"}});
    EXPECT_EQ(res.result_int(), 401);
    EXPECT_FALSE(res[bhttp::field::www_authenticate].empty());

    // OAuth2 against the hub API's own token endpoint: the token's audience is the system.
    auto token_res =
        client.post("/hub/v1/oauth2/token",
                    "grant_type=client_credentials&client_id=intake-client&client_secret=intake-secret-0123",
                    "application/x-www-form-urlencoded");
    ASSERT_EQ(token_res.result_int(), 200) << token_res.body();
    const auto token = json::value_to<std::string>(json::parse(token_res.body()).at("access_token"));
    EXPECT_EQ(client
                  .post("/hub/v1/oauth2/token",
                        "grant_type=client_credentials&client_id=intake-client&client_secret=nope",
                        "application/x-www-form-urlencoded")
                  .result_int(),
              401);
    res =
        post("/referrals/R-2/reopen", R"({"update_id":"by-intake"})", {{"Authorization", "Bearer " + token}});
    ASSERT_EQ(res.result_int(), 202) << res.body();
    // A genuine token issued to an Ocean integration is not a hub credential.
    token_res =
        client.post("/ocean/1234/oauth2/token",
                    "grant_type=client_credentials&client_id=ocean-client&client_secret=ocean-secret-0123",
                    "application/x-www-form-urlencoded");
    ASSERT_EQ(token_res.result_int(), 200);
    const auto ocean_token = json::value_to<std::string>(json::parse(token_res.body()).at("access_token"));
    res = post(
        "/referrals/R-3/reopen", R"({"update_id":"by-ocean"})", {{"Authorization", "Bearer " + ocean_token}});
    EXPECT_EQ(res.result_int(), 403) << res.body();

    const auto got = records(1);
    ASSERT_EQ(got.size(), 1U);
    EXPECT_EQ(got[0].header("hub-system"), "intake");
    EXPECT_EQ(got[0].key, "R-2");
    EXPECT_EQ(stored(), 1U);
}

TEST_F(HubApiHttp, ASystemLimitedToSitesGets403ForOtherSites) {
    const std::vector<std::pair<std::string, std::string>> clinic = {
        {"Authorization", "Bearer clinic-token-456"}};
    auto res = post("/referrals/R-1/accept", R"({"update_id":"s1","site":"9999"})", clinic);
    EXPECT_EQ(res.result_int(), 403);
    EXPECT_EQ(error_code(res), "forbidden");
    res = post("/referrals/R-1/accept", R"({"update_id":"s2"})", clinic);
    EXPECT_EQ(res.result_int(), 400);
    EXPECT_EQ(error_fields(res), std::vector<std::string>{"site:required"});
    res = post("/referrals/R-1/accept", R"({"update_id":"s3","site":"1234"})", clinic);
    EXPECT_EQ(res.result_int(), 202) << res.body();
    // An unlimited system may name any site.
    res = post("/referrals/R-1/accept", R"({"update_id":"s4","site":"9999"})");
    EXPECT_EQ(res.result_int(), 202) << res.body();
    const auto got = records(2);
    ASSERT_EQ(got.size(), 2U);
    std::map<std::string, std::string> system_of;
    for (const auto& r : got) system_of[r.header("update-id")] = r.header("hub-system");
    EXPECT_EQ(system_of["s3"], "clinic-1234");
    EXPECT_EQ(system_of["s4"], "emr");
    EXPECT_EQ(stored(), 2U);
}

TEST_F(HubApiHttp, SizeTypeRouteAndMethodErrorsHaveTheErrorShape) {
    const std::string big = R"({"update_id":"big","text":")" + std::string(3000, 'x') + R"("})";
    auto res = post("/referrals/R-1/messages", big);
    EXPECT_EQ(res.result_int(), 413);
    EXPECT_EQ(error_code(res), "payload-too-large");
    // Over the listener's limit: refused by the server before the body is read, same shape.
    res = post("/referrals/R-1/messages", std::string(70 * 1024, 'x'));
    EXPECT_EQ(res.result_int(), 413);
    EXPECT_EQ(error_code(res), "payload-too-large");
    client.close();
    res = send(bhttp::verb::post,
               "/hub/v1/referrals/R-1/complete",
               "update_id=u1",
               kEmr,
               "application/x-www-form-urlencoded");
    EXPECT_EQ(res.result_int(), 415);
    EXPECT_EQ(error_code(res), "unsupported-media-type");
    res = send(bhttp::verb::post, "/hub/v1/referrals/R-1/complete", R"({"update_id":"u1"})", kEmr, "");
    EXPECT_EQ(res.result_int(), 415) << "a body needs a JSON content type";
    res = post("/referrals/R-1/approve", "{}");
    EXPECT_EQ(res.result_int(), 404);
    EXPECT_EQ(error_code(res), "not-found");
    res = post("/nothing", "{}");
    EXPECT_EQ(res.result_int(), 404);
    res = send(bhttp::verb::get, "/hub/v1/referrals/R-1/accept", "", kEmr, "");
    EXPECT_EQ(res.result_int(), 405);
    EXPECT_EQ(res[bhttp::field::allow], "POST");
    EXPECT_EQ(error_code(res), "method-not-allowed");
    res = send(bhttp::verb::post, "/hub/v1/referrals/R-1/appointments/a-1", "{}", kEmr);
    EXPECT_EQ(res.result_int(), 405);
    EXPECT_EQ(res[bhttp::field::allow], "PUT, DELETE");
    EXPECT_EQ(stored(), 0U);

    const std::string m = metrics();
    EXPECT_NE(m.find(R"(relay_ingress_hub_rejections_total{reason="body_too_large",system="unknown"} 1)"),
              std::string::npos)
        << m;
    EXPECT_NE(m.find(R"(relay_ingress_hub_requests_total{action="complete",class="4xx",system="emr"} 2)"),
              std::string::npos);
}

TEST_F(HubApiHttp, BrokerDownIs503WithRetryAfterAndNothingIsStored) {
    running.ingress().embedded_cluster()->set_broker_down(1);
    auto res = post("/referrals/R-1/accept", R"({"update_id":"while-down"})");
    EXPECT_EQ(res.result_int(), 503) << res.body();
    EXPECT_EQ(res[bhttp::field::retry_after], "7");
    EXPECT_EQ(error_code(res), "unavailable");
    // librdkafka gives up on the record shortly after the ingress answered (ack_timeout + 500 ms).
    std::this_thread::sleep_for(2s);
    running.ingress().embedded_cluster()->set_broker_up(1);
    EXPECT_EQ(stored(), 0U);
    // The producer reconnects; a client retries until the update is stored.
    std::string stored_id;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    for (int attempt = 0; stored_id.empty() && std::chrono::steady_clock::now() < deadline; ++attempt) {
        const std::string id = fmt::format("after-{}", attempt);
        res = post("/referrals/R-1/accept", R"({"update_id":")" + id + R"("})");
        if (res.result_int() == 202)
            stored_id = id;
        else
            std::this_thread::sleep_for(200ms);
    }
    ASSERT_FALSE(stored_id.empty()) << "no update was stored after the broker came back";
    bool found = false;
    for (const auto& r : records(100000, 3s)) {
        EXPECT_NE(r.header("update-id"), "while-down");
        if (r.header("update-id") == stored_id) found = true;
    }
    EXPECT_TRUE(found);

    const std::string m = metrics();
    EXPECT_NE(m.find(R"(relay_ingress_hub_requests_total{action="accept",class="5xx",system="emr"})"),
              std::string::npos)
        << m;
    EXPECT_NE(m.find(R"(relay_ingress_hub_publish_duration_seconds_count{outcome="ok",system="emr"} 1)"),
              std::string::npos);
}

TEST_F(HubApiHttp, ASlowPeerIsCutOffByTheServerDeadlines) {
    // Declares a body, sends half of it, then stalls: limits.body_timeout (400 ms) closes the connection.
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket socket(io);
    socket.connect({boost::asio::ip::make_address("127.0.0.1"), running.port()});
    const std::string head =
        "POST /hub/v1/referrals/R-1/complete HTTP/1.1\r\nHost: x\r\nX-Api-Key: emr-key-123\r\n"
        "Content-Type: application/json\r\nContent-Length: 40\r\n\r\n{\"update_id\":";
    boost::asio::write(socket, boost::asio::buffer(head));
    const auto start = std::chrono::steady_clock::now();
    char buf[256];
    boost::system::error_code ec;
    socket.read_some(boost::asio::buffer(buf), ec);
    EXPECT_TRUE(ec) << "the server closes the connection";
    EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
    EXPECT_EQ(stored(), 0U);
}

}  // namespace
}  // namespace relay::test
