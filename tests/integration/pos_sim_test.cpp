// pos-sim over loopback: its auth per route, its record of deliveries, its faults.
#include "pos_sim.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "relay/core/encoding.hpp"
#include "relay/http/async_client.hpp"
#include "relay/http/client.hpp"

namespace relay::test {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using namespace std::chrono_literals;

pos_sim::PosSimConfig parse(const std::string& yaml) {
    auto reader = ConfigReader::from_string(
        yaml, "RELAY_POS", [](const std::string&) { return std::optional<std::string>(); });
    return pos_sim::load_pos_sim_config(reader);
}

constexpr const char* kConfig = R"(
listener: {address: 127.0.0.1, port: 0}
admin: {address: 127.0.0.1, port: 0}
token_signing_key: {value: "pos-sim-signing-key-0123456789abcdef"}
routes:
  - name: emr-basic
    auth: {scheme: basic, username: relay, password: {value: pw}}
  - name: emr-oauth
    auth: {scheme: oauth2, clients: [{client_id: relay, client_secret: {value: cs}}]}
  - name: intake-flaky
    faults: [{kind: down, delay: 400ms}]
  - name: scheduler-slow
    slow_accept: 300ms
)";

class PosSimTest : public ::testing::Test {
   protected:
    asio::io_context ioc;
    pos_sim::PosSim sim{parse(kConfig)};
    std::unique_ptr<http::Server> deliveries;
    std::unique_ptr<http::Server> admin;
    std::thread thread;

    void SetUp() override {
        auto config = parse(kConfig);
        deliveries = std::make_unique<http::Server>(ioc, config.listener, sim.handler());
        admin = std::make_unique<http::Server>(ioc, config.admin, sim.admin_handler());
        deliveries->start();
        admin->start();
        thread = std::thread([this] { ioc.run(); });
    }
    void TearDown() override {
        deliveries->stop_accepting();
        admin->stop_accepting();
        ioc.stop();
        thread.join();
    }
    http::ClientResponse deliver(const std::string& path,
                                 const std::string& key,
                                 std::vector<std::pair<std::string, std::string>> headers = {}) {
        headers.emplace_back("Idempotency-Key", key);
        headers.emplace_back("X-Relay-Referral-Ref", "ref-" + key);
        headers.emplace_back("X-Relay-Event", "referral.received");
        return http::BlockingClient("127.0.0.1", deliveries->port())
            .post(path, R"({"referral":1})", "application/json", headers);
    }
};

TEST_F(PosSimTest, RecordsDeliveriesInOrderAndSpotsDuplicates) {
    const std::string basic = "Basic " + base64_encode("relay:pw");
    EXPECT_EQ(deliver("/emr-basic", "k1", {{"Authorization", basic}}).result_int(), 200);
    EXPECT_EQ(deliver("/emr-basic", "k2", {{"Authorization", basic}}).result_int(), 200);
    auto res = deliver("/emr-basic", "k1", {{"Authorization", basic}});
    EXPECT_EQ(res.result_int(), 200);
    EXPECT_NE(res.body().find("\"duplicate\":true"), std::string::npos);
    EXPECT_EQ(deliver("/emr-basic", "k3").result_int(), 401);

    const auto recorded = sim.deliveries();
    ASSERT_EQ(recorded.size(), 3U);
    EXPECT_EQ(recorded[0].sequence, 1U);
    EXPECT_EQ(recorded[2].sequence, 3U);
    EXPECT_EQ(recorded[1].referral_ref, "ref-k2");
    EXPECT_EQ(recorded[1].event, "referral.received");
    EXPECT_FALSE(recorded[1].duplicate);
    EXPECT_TRUE(recorded[2].duplicate);
    const auto summary = http::BlockingClient("127.0.0.1", admin->port()).get("/deliveries").body();
    EXPECT_NE(summary.find("\"duplicates\":1"), std::string::npos) << summary;
    EXPECT_NE(summary.find("\"refused\":1"), std::string::npos) << summary;
}

TEST_F(PosSimTest, RecordsTheResourceTypesOfAFhirBundleAndCountsPerEvent) {
    const std::string basic = "Basic " + base64_encode("relay:pw");
    const std::string bundle =
        R"({"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient"}},)"
        R"({"resource":{"resourceType":"QuestionnaireResponse"}},{"resource":{"resourceType":"DocumentReference"}}]})";
    auto res = http::BlockingClient("127.0.0.1", deliveries->port())
                   .post("/emr-basic",
                         bundle,
                         "application/fhir+json",
                         {{"Authorization", basic},
                          {"Idempotency-Key", "b1"},
                          {"X-Relay-Referral-Ref", "pt-1"},
                          {"X-Relay-Event", "notify-patient-note-added"}});
    ASSERT_EQ(res.result_int(), 200);
    EXPECT_EQ(deliver("/emr-basic", "j1", {{"Authorization", basic}}).result_int(), 200);
    const auto recorded = sim.deliveries();
    ASSERT_EQ(recorded.size(), 2U);
    EXPECT_EQ(recorded[0].resources,
              (std::vector<std::string>{"Patient", "QuestionnaireResponse", "DocumentReference"}));
    EXPECT_TRUE(recorded[1].resources.empty()) << "not a Bundle";
    const auto summary = http::BlockingClient("127.0.0.1", admin->port()).get("/deliveries").body();
    EXPECT_NE(summary.find(
                  R"("by_route_event":{"emr-basic":{"notify-patient-note-added":1,"referral.received":1}})"),
              std::string::npos)
        << summary;
    EXPECT_NE(summary.find(R"("QuestionnaireResponse":1)"), std::string::npos) << summary;
}

TEST_F(PosSimTest, OAuthRouteHasItsOwnTokenEndpoint) {
    http::BlockingClient client("127.0.0.1", deliveries->port());
    auto token = client.post("/emr-oauth/oauth2/token",
                             "grant_type=client_credentials&client_id=relay&client_secret=cs",
                             "application/x-www-form-urlencoded");
    ASSERT_EQ(token.result_int(), 200) << token.body();
    const auto start = token.body().find("\"access_token\":\"") + 16;
    const std::string access = token.body().substr(start, token.body().find('"', start) - start);
    EXPECT_EQ(deliver("/emr-oauth", "o1", {{"Authorization", "Bearer " + access}}).result_int(), 200);
    EXPECT_EQ(deliver("/emr-oauth", "o2", {{"Authorization", "Bearer nope"}}).result_int(), 401);
    EXPECT_EQ(client
                  .post("/emr-oauth/oauth2/token",
                        "grant_type=client_credentials&client_id=relay&client_secret=x",
                        "application/x-www-form-urlencoded")
                  .result_int(),
              401);
}

TEST_F(PosSimTest, FaultsAndSlowAcceptPerRoute) {
    EXPECT_EQ(deliver("/intake-flaky", "f1").result_int(), 503);
    std::this_thread::sleep_for(500ms);
    EXPECT_EQ(deliver("/intake-flaky", "f2").result_int(), 200) << "down for 400ms, then accepting";
    const auto started = std::chrono::steady_clock::now();
    EXPECT_EQ(deliver("/scheduler-slow", "s1").result_int(), 200);
    EXPECT_GE(std::chrono::steady_clock::now() - started, 290ms);
    EXPECT_EQ(deliver("/nowhere", "n1").result_int(), 404);
}

// Mutual TLS: a throwaway CA signs the server's and the client's certificates (openssl CLI).
class PosSimMutualTls : public ::testing::Test {
   protected:
    std::filesystem::path dir =
        std::filesystem::temp_directory_path() / fmt::format("relay-pos-mtls-{}", ::getpid());
    void SetUp() override {
        std::filesystem::create_directories(dir);
        const std::string d = dir.string();
        const std::string script = fmt::format(
            "cd '{0}' && printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > san.ext && "
            "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=test-ca "
            "-keyout ca.key -out ca.pem && "
            "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost -keyout "
            "server.key -out server.csr && "
            "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -extfile "
            "san.ext -out server.pem && "
            "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=relay-client -keyout "
            "client.key -out client.csr && "
            "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -out "
            "client.pem",
            d);
        ASSERT_EQ(std::system(("(" + script + ") >/dev/null 2>&1").c_str()), 0);
    }
    void TearDown() override { std::filesystem::remove_all(dir); }
};

TEST_F(PosSimMutualTls, RouteRequiringAClientCertificate) {
    const std::string d = dir.string();
    auto config = parse(fmt::format(R"(
listener:
  address: 127.0.0.1
  port: 0
  tls: {{cert_file: "{0}/server.pem", key_file: "{0}/server.key", client_ca_file: "{0}/ca.pem"}}
admin: {{address: 127.0.0.1, port: 0}}
routes:
  - {{name: his, require_client_certificate: true}}
  - {{name: open}}
)",
                                    d));
    asio::io_context ioc;
    pos_sim::PosSim sim(config);
    http::Server server(ioc, config.listener, sim.handler());
    server.start();
    auto post = [&](const std::string& path, bool with_certificate) {
        http::ClientOptions options;
        options.ca_file = d + "/ca.pem";
        if (with_certificate)
            options.client_certificate = http::TlsFiles{d + "/client.pem", d + "/client.key"};
        http::AsyncClient client(ioc.get_executor(), options);
        http::ClientRequest request{bhttp::verb::post, "/", 11};
        request.set(bhttp::field::content_type, "application/json");
        request.body() = "{}";
        auto future = asio::co_spawn(
            ioc,
            client.send(*http::Url::parse(fmt::format("https://localhost:{}{}", server.port(), path)),
                        std::move(request)),
            asio::use_future);
        ioc.restart();
        // The server keeps the context busy: run it only until this exchange is done.
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (future.wait_for(0s) != std::future_status::ready &&
               std::chrono::steady_clock::now() < deadline) {
            ioc.run_one_for(50ms);
        }
        auto result = future.get();
        return result.ok() ? static_cast<int>(result.response->result_int()) : -1;
    };
    EXPECT_EQ(post("/his", true), 200);
    EXPECT_EQ(post("/his", false), 403);
    EXPECT_EQ(post("/open", false), 200);
    server.stop_accepting();
}

TEST(PosSimDecisions, FirstDeliveryOfEachReferralGetsOneDecisionOnTheHubApi) {
    // A stand-in for the relay's hub API on loopback: records each call, refuses the first call of one
    // referral with a 503 (pos-sim must retry it with the same update id).
    struct Call {
        std::string method, target, body, idempotency_key, api_key;
    };
    std::mutex mutex;
    std::vector<Call> calls;
    asio::io_context ioc;
    http::ListenerConfig hub_listener;
    hub_listener.address = "127.0.0.1";
    hub_listener.port = 0;
    bool refused_once = false;
    http::Server hub(
        ioc,
        hub_listener,
        [&](http::Request& request, const http::RequestContext&) -> asio::awaitable<http::Response> {
            Call call{std::string(request.method_string()),
                      std::string(request.target()),
                      request.body(),
                      std::string(request["Idempotency-Key"]),
                      std::string(request["X-Api-Key"])};
            bool refuse = false;
            {
                std::lock_guard lock(mutex);
                if (!refused_once && call.target.find("/ref-k3/") != std::string::npos)
                    refuse = refused_once = true;
                calls.push_back(std::move(call));
            }
            http::Response res{refuse ? bhttp::status::service_unavailable : bhttp::status::accepted,
                               request.version()};
            res.set(bhttp::field::content_type, "application/json");
            res.body() = "{}";
            co_return res;
        });
    hub.start();
    const auto hub_port = hub.port();

    asio::ip::tcp::acceptor probe(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    const auto port = probe.local_endpoint().port();
    probe.close();
    auto config = parse(fmt::format(R"(
listener: {{address: 127.0.0.1, port: {0}}}
admin: {{address: 127.0.0.1, port: 0}}
routes: [{{name: emr}}, {{name: other}}]
decisions:
  hub_url: http://127.0.0.1:{1}/hub/v1/
  auth_header: X-Api-Key
  auth_value: {{value: hub-key}}
  routes: [emr]
  delay: 50ms
  retry_delay: 50ms
  mix: {{accept: 1, decline: 1, book: 1, message: 1}}
  seed: 3
)",
                                    port,
                                    hub_port));
    pos_sim::PosSim sim(config, ioc.get_executor());
    http::Server server(ioc, config.listener, sim.handler());
    server.start();
    std::thread thread([&] { ioc.run(); });
    http::BlockingClient client("127.0.0.1", port);
    for (int i = 0; i < 12; ++i) {
        const std::string key = "k" + std::to_string(i);
        client.post("/emr",
                    "{}",
                    "application/json",
                    {{"Idempotency-Key", key}, {"X-Relay-Referral-Ref", "ref-" + key}});
    }
    // A duplicate, a second event of a decided referral, and a delivery on a route that does not decide.
    client.post(
        "/emr", "{}", "application/json", {{"Idempotency-Key", "k0"}, {"X-Relay-Referral-Ref", "ref-k0"}});
    client.post(
        "/emr", "{}", "application/json", {{"Idempotency-Key", "k0-b"}, {"X-Relay-Referral-Ref", "ref-k0"}});
    client.post(
        "/other", "{}", "application/json", {{"Idempotency-Key", "o1"}, {"X-Relay-Referral-Ref", "ref-o1"}});
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    std::vector<pos_sim::DecisionMaker::Sent> sent;
    for (;;) {
        sent = sim.decisions();
        bool pending = false;
        for (const auto& s : sent) pending = pending || s.status == -1;
        if ((!pending && sent.size() >= 12) || std::chrono::steady_clock::now() > deadline) break;
        std::this_thread::sleep_for(20ms);
    }
    const std::string admin_view = sim.decisions_json();
    server.stop_accepting();
    hub.stop_accepting();
    ioc.stop();
    thread.join();

    ASSERT_EQ(sent.size(), 12U) << "one decision per referral first delivered on a deciding route";
    std::set<std::string> actions;
    const std::map<std::string, std::string> path_of{
        {"accept", "accept"}, {"decline", "decline"}, {"book", "appointments"}, {"message", "messages"}};
    for (const auto& s : sent) {
        EXPECT_EQ(s.status, 202) << s.referral_ref;
        EXPECT_EQ(s.attempts, s.referral_ref == "ref-k3" ? 2 : 1) << s.referral_ref;
        actions.insert(s.action);
        const std::string target = "/hub/v1/referrals/" + s.referral_ref + "/" + path_of.at(s.action);
        std::size_t matching = 0;
        for (const auto& c : calls) {
            if (c.target != target) continue;
            ++matching;
            EXPECT_EQ(c.method, "POST");
            EXPECT_EQ(c.idempotency_key, s.update_id);
            EXPECT_EQ(c.api_key, "hub-key");
            const auto body = boost::json::parse(c.body).as_object();
            EXPECT_EQ(body.at("update_id").as_string(), s.update_id);
            if (s.action == "decline") {
                EXPECT_FALSE(body.at("reason").as_string().empty());
            }
            if (s.action == "message") {
                EXPECT_FALSE(body.at("text").as_string().empty());
            }
            if (s.action == "book") {
                const auto& appointment = body.at("appointment").as_object();
                EXPECT_EQ(appointment.at("confirmed").as_bool(), s.confirmed);
                EXPECT_EQ(appointment.at("start").as_string(), s.appointment_start);
                EXPECT_TRUE(appointment.contains("end"));
            }
        }
        EXPECT_EQ(matching, s.referral_ref == "ref-k3" ? 2U : 1U) << target;
    }
    EXPECT_EQ(calls.size(), 13U);
    EXPECT_GE(actions.size(), 3U) << "the mix is used";
    const auto view = boost::json::parse(admin_view).as_object();
    EXPECT_EQ(view.at("decisions").as_int64(), 12);
    EXPECT_EQ(view.at("accepted_by_hub_api").as_int64(), 12);
}

TEST(PosSimConfig, MistakesNameTheKey) {
    auto message = [](const std::string& yaml) {
        try {
            parse(yaml);
        } catch (const ConfigError& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_NE(message("routes: [{name: a, faults: [{kind: explode}]}]\n").find("routes[0].faults[0].kind"),
              std::string::npos);
    EXPECT_NE(message("routes: [{name: a, auth: {scheme: oauth2, clients: [{client_id: c, client_secret: "
                      "{value: s}}]}}]\n")
                  .find("token_signing_key"),
              std::string::npos);
    EXPECT_NE(message("routes: []\n").find("routes"), std::string::npos);
    EXPECT_NE(message("routes: [{name: a, probability: 2}]\n").find("routes[0].probability"),
              std::string::npos);
}

}  // namespace
}  // namespace relay::test
