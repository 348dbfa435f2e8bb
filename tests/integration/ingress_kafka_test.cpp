// The ingress against a real Apache Kafka broker (KRaft, started by the ctest fixture "kafka").
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "ingress_harness.hpp"
#include "test_support.hpp"

namespace relay::test {
namespace {

using namespace std::chrono_literals;

std::string config_for(const std::string& topic, const std::string& extra = "") {
    return fmt::format(R"(
service: {{log_level: warn, threads: 2}}
listeners: [{{address: 127.0.0.1, port: 0}}]
admin: {{address: 127.0.0.1, port: 0}}
kafka:
  bootstrap_servers: "{}"
  partitions: 3
  replication_factor: 1
  ack_timeout: 3s
  retry_after: 7s
  readiness_interval: 250ms
topics: {{inbound: "{}"}}
shutdown: {{grace_period: 10s}}
integrations:
  - site: "1234"
{}
)",
                       kafka_bootstrap(),
                       topic,
                       extra);
}

std::string wait_for_status(std::uint16_t admin_port, int wanted, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    http::BlockingClient admin("127.0.0.1", admin_port, 5s);
    std::string body;
    while (std::chrono::steady_clock::now() < deadline) {
        auto res = admin.get("/readyz");
        body = res.body();
        if (static_cast<int>(res.result_int()) == wanted) return body;
        std::this_thread::sleep_for(100ms);
    }
    return "timed out; last: " + body;
}

TEST(IngressKafka, EachFixtureIsStoredByteForByteWithItsFacts) {
    const std::string topic = unique_topic("ocean.inbound.fixtures");
    RunningIngress running(config_for(topic));
    auto client = running.client();
    std::map<std::string, std::string> message_ids;  // message id → fixture file
    const auto fixtures = ocean_fixtures();
    ASSERT_EQ(fixtures.size(), 2U);
    for (const auto& [name, body] : fixtures) {
        auto res = client.post("/ocean/1234/fhir",
                               body,
                               "application/fhir+json",
                               {{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}});
        ASSERT_EQ(res.result_int(), 200) << name << ": " << res.body();
        EXPECT_NE(res.body().find("\"severity\":\"information\""), std::string::npos);
        const std::string id(res["X-Relay-Message-Id"]);
        ASSERT_EQ(id.size(), 36U);
        EXPECT_NE(res.body().find(id), std::string::npos) << "the OperationOutcome names the message id";
        message_ids[id] = name;
    }

    const auto records = consume_all(kafka_bootstrap(), topic, fixtures.size(), 30s);
    ASSERT_EQ(records.size(), fixtures.size());
    for (const auto& record : records) {
        const auto id = record.header("message-id");
        ASSERT_TRUE(message_ids.count(id)) << "unexpected record " << id;
        const std::string& name = message_ids[id];
        EXPECT_EQ(record.value, read_fixture("ocean-fhir-v0.11.1/" + name)) << "raw body unchanged";
        const bool back_pain = name.find("back_pain") != std::string::npos;
        const std::string ref =
            back_pain ? "71db1a5c-89ce-41d5-bc71-8466f6c2f182" : "09eb136e-fcdb-454f-8cd7-a415c19cda40";
        EXPECT_EQ(record.key, ref);
        EXPECT_EQ(record.header("referral-ref"), ref);
        EXPECT_EQ(record.header("event"), "add-service-request");
        EXPECT_EQ(record.header("site"), "1234");
        EXPECT_EQ(record.header("kind"), "fhir");
        EXPECT_EQ(record.header("integration"), "1234");
        EXPECT_EQ(record.header("fhir-dialect"), "0.11");
        EXPECT_EQ(record.header("listing-ref"),
                  back_pain ? "autorouter_test49721437" : "ocean_autorouter_loc80783874");
        EXPECT_EQ(record.header("content-type"), "application/fhir+json");
        EXPECT_EQ(record.header("received-at").size(), 24U);
        const auto trace = record.header("traceparent");
        EXPECT_EQ(trace.substr(0, 36), "00-4bf92f3577b34da6a3ce929d0e0e4736-")
            << "the caller's trace continues";
        EXPECT_NE(trace.substr(36, 16), "00f067aa0ba902b7") << "with a span of our own";
    }
}

TEST(IngressKafka, TenMebibyteBundleGoesThrough) {
    const std::string topic = unique_topic("ocean.inbound.large");
    RunningIngress running(config_for(topic));
    // A real fixture with a 10 MiB base64 attachment appended as a last entry.
    std::string body = read_fixture("ocean-fhir-v0.11.1/ereferral_miscellaneous.bundle.json");
    const auto entries_end = body.rfind(']');
    ASSERT_NE(entries_end, std::string::npos);
    std::string attachment =
        R"(,{"fullUrl":"urn:uuid:0c1b2a3d-0000-4000-8000-000000000001","resource":{"resourceType":"DocumentReference","status":"current","content":[{"attachment":{"contentType":"application/pdf","data":")";
    attachment.append(10U << 20, 'A');
    attachment += R"("}}]}})";
    body.insert(entries_end, attachment);
    ASSERT_GT(body.size(), 10U << 20);

    auto client = running.client();
    auto res = client.post("/ocean/1234/fhir", body, "application/fhir+json");
    ASSERT_EQ(res.result_int(), 200) << res.body();
    const auto records = consume_all(kafka_bootstrap(), topic, 1, 60s);
    ASSERT_EQ(records.size(), 1U);
    EXPECT_EQ(records[0].value.size(), body.size());
    EXPECT_TRUE(records[0].value == body);
    EXPECT_EQ(records[0].key, "09eb136e-fcdb-454f-8cd7-a415c19cda40");
}

TEST(IngressKafka, ManyConcurrentConnectionsStoreEveryAcknowledgedMessageExactlyOnce) {
    const std::string topic = unique_topic("ocean.inbound.concurrent");
    RunningIngress running(config_for(topic));
    constexpr int kConnections = 64;
    constexpr int kPerConnection = 1000;
    std::vector<std::vector<std::string>> acknowledged(kConnections);
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int c = 0; c < kConnections; ++c) {
        threads.emplace_back([&, c] {
            http::BlockingClient client("127.0.0.1", running.port(), 30s);
            for (int i = 0; i < kPerConnection; ++i) {
                const std::string ref = fmt::format("ref-{:02}-{:04}", c, i);
                try {
                    auto res = client.post("/ocean/1234/fhir", small_bundle(ref), "application/fhir+json");
                    if (res.result_int() == 200) {
                        acknowledged[c].emplace_back(res["X-Relay-Message-Id"]);
                    } else {
                        failures.fetch_add(1);
                    }
                } catch (const std::exception&) {
                    failures.fetch_add(1);
                }
            }
        });
    }
    for (auto& t : threads) t.join();
    std::size_t total = 0;
    for (const auto& ids : acknowledged) total += ids.size();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(total, static_cast<std::size_t>(kConnections * kPerConnection));

    const auto records = consume_all(kafka_bootstrap(), topic, total, 120s);
    std::map<std::string, int> seen;
    for (const auto& record : records) {
        ++seen[record.header("message-id")];
        EXPECT_EQ(record.key, record.header("referral-ref"));
    }
    std::size_t missing = 0, duplicated = 0;
    for (const auto& ids : acknowledged) {
        for (const auto& id : ids) {
            const int n = seen.count(id) ? seen[id] : 0;
            if (n == 0) ++missing;
            if (n > 1) ++duplicated;
        }
    }
    EXPECT_EQ(missing, 0U);
    EXPECT_EQ(duplicated, 0U);
    EXPECT_EQ(records.size(), total);
    if (records.size() != total) {
        // Tells "acknowledged but not stored" (watermarks short) from "stored but not read" (reads short).
        std::map<std::int32_t, std::int64_t> read_per_partition;
        for (const auto& record : records) ++read_per_partition[record.partition];
        for (const auto& [partition, high] : high_watermarks(kafka_bootstrap(), topic)) {
            ADD_FAILURE() << "partition " << partition << ": broker high watermark " << high << ", read "
                          << read_per_partition[partition];
        }
        int listed = 0;
        for (const auto& ids : acknowledged) {
            for (const auto& id : ids) {
                if (seen.count(id) == 0 && listed++ < 10) ADD_FAILURE() << "acknowledged, not read: " << id;
            }
        }
    }
}

TEST(IngressKafka, BrokerDownGives503WithinTheDeadlineAndRecovers) {
    const std::string topic = unique_topic("ocean.inbound.outage");
    RunningIngress running(config_for(topic));
    auto client = running.client();
    ASSERT_EQ(
        client.post("/ocean/1234/fhir", small_bundle("before-outage"), "application/fhir+json").result_int(),
        200);
    EXPECT_EQ(wait_for_status(running.admin_port(), 200, 10s).find("timed out"), std::string::npos);

    ASSERT_TRUE(kafka_broker("stop"));
    const auto started = std::chrono::steady_clock::now();
    auto res = client.post("/ocean/1234/fhir", small_bundle("during-outage"), "application/fhir+json");
    const auto elapsed = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(res.result_int(), 503) << res.body();
    EXPECT_EQ(res[boost::beast::http::field::retry_after], "7");
    EXPECT_NE(res.body().find("\"code\":\"transient\""), std::string::npos);
    EXPECT_LT(elapsed, 3s + 1500ms) << "the answer comes at the ack deadline, not later";
    EXPECT_GE(elapsed, 2900ms);
    EXPECT_EQ(wait_for_status(running.admin_port(), 503, 20s).find("timed out"), std::string::npos)
        << "readiness follows the broker";

    ASSERT_TRUE(kafka_broker("start"));
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + 90s;
    while (std::chrono::steady_clock::now() < deadline) {
        status = client.post("/ocean/1234/fhir", small_bundle("after-outage"), "application/fhir+json")
                     .result_int();
        if (status == 200) break;
        std::this_thread::sleep_for(500ms);
    }
    EXPECT_EQ(status, 200);
    EXPECT_EQ(wait_for_status(running.admin_port(), 200, 30s).find("timed out"), std::string::npos);

    // Everything acknowledged is there; what got a 503 may or may not be (at-least-once: Ocean resends).
    const auto records = consume_all(kafka_bootstrap(), topic, 2, 30s);
    std::set<std::string> keys;
    for (const auto& r : records) keys.insert(r.key);
    EXPECT_TRUE(keys.count("before-outage"));
    EXPECT_TRUE(keys.count("after-outage"));
}

TEST(IngressKafka, StartupCreatesTheTopicWithTheConfiguredLimits) {
    const std::string topic = unique_topic("ocean.inbound.created");
    RunningIngress running(config_for(topic));
    EXPECT_EQ(wait_for_status(running.admin_port(), 200, 10s).find("timed out"), std::string::npos);
    // A second ingress verifies the existing topic instead of failing.
    RunningIngress second(config_for(topic));
    EXPECT_EQ(wait_for_status(second.admin_port(), 200, 10s).find("timed out"), std::string::npos);
}

TEST(IngressKafka, MissingTopicWithoutCreationIsAStartupError) {
    const std::string topic = unique_topic("ocean.inbound.absent");
    std::string yaml = config_for(topic);
    yaml.replace(yaml.find("  partitions: 3"), 14, "  create_topics: false\n  partitions: 3");
    try {
        RunningIngress running(yaml);
        FAIL() << "expected a ConfigError";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find(topic), std::string::npos) << e.what();
    }
}


// -- Ocean's Open API / Patient Engagement webhook ------------------------------------------------

constexpr const char* kOpenApiKey = "openapi-key-0123456789";

std::string open_api_block(const std::string& topic) {
    return fmt::format(R"(    name: clinic
    open_api:
      keys: [{{value: {}}}]
      topic: "{}"
)",
                       kOpenApiKey,
                       topic);
}

TEST(IngressKafka, NotificationIsStoredWithItsKeyHeadersAndBytesBeforeThe200) {
    const std::string inbound = unique_topic("ocean.inbound.openapi");
    const std::string topic = unique_topic("ocean.notifications");
    RunningIngress running(config_for(inbound, open_api_block(topic)));
    auto client = running.client();
    const std::string body =
        R"({"ref": "690", "siteNum": "1234", "type": "notify-patient-note-added", "changeList": null, "user": null,)"
        R"( "customProperties": {"noteCompletionSource": "PORTAL", "oceanSessionId": "1759442545187t415674"}})";
    auto res = client.post(std::string("/ocean/clinic/openapi/webhook?k=") + kOpenApiKey,
                           body,
                           "application/json; charset=utf-8",
                           {{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}});
    ASSERT_EQ(res.result_int(), 200) << res.body();
    EXPECT_EQ(res.body(), R"({"status":"accepted"})");
    // The 200 came after the broker's ack: the record is there at once.
    auto records = consume_all(kafka_bootstrap(), topic, 1, 10s);
    ASSERT_EQ(records.size(), 1U);
    const auto& record = records[0];
    EXPECT_EQ(record.key, "1234/690");
    EXPECT_TRUE(record.value == body) << "the body byte for byte";
    EXPECT_EQ(record.header("kind"), "ocean-notification");
    EXPECT_EQ(record.header("site"), "1234");
    EXPECT_EQ(record.header("integration"), "clinic");
    EXPECT_EQ(record.header("received-at").size(), 24U);
    EXPECT_EQ(record.header("content-type"), "application/json");
    EXPECT_EQ(record.header("notification-type"), "notify-patient-note-added");
    EXPECT_EQ(record.header("ocean-ref"), "690");
    EXPECT_EQ(record.header("ocean-session-id"), "1759442545187t415674");
    const auto trace = record.header("traceparent");
    EXPECT_EQ(trace.substr(0, 36), "00-4bf92f3577b34da6a3ce929d0e0e4736-") << "the caller's trace continues";
    EXPECT_NE(trace.substr(36, 16), "00f067aa0ba902b7");
    EXPECT_TRUE(consume_all(kafka_bootstrap(), inbound, 1, 1s).empty()) << "nothing on the FHIR topic";

    // An unknown type is stored too, without a session id header when there is none.
    const std::string unknown = R"({"ref":"R-77","siteNum":1234,"type":"notify-referral-something-new"})";
    res = client.post(std::string("/ocean/clinic/openapi/webhook/") + kOpenApiKey, unknown, "application/json");
    ASSERT_EQ(res.result_int(), 200) << res.body();
    records = consume_all(kafka_bootstrap(), topic, 2, 10s);
    ASSERT_EQ(records.size(), 2U);
    const auto& second = records[0].key == "1234/R-77" ? records[0] : records[1];
    EXPECT_EQ(second.key, "1234/R-77");
    EXPECT_TRUE(second.value == unknown);
    EXPECT_EQ(second.header("notification-type"), "notify-referral-something-new");
    EXPECT_TRUE(second.headers.find("ocean-session-id") == second.headers.end());

    // The same notification again within the window: 200, no second record.
    res = client.post(std::string("/ocean/clinic/openapi/webhook?k=") + kOpenApiKey, body, "application/json");
    ASSERT_EQ(res.result_int(), 200) << res.body();
    EXPECT_EQ(res.body(), R"({"status":"duplicate"})");
    EXPECT_EQ(consume_all(kafka_bootstrap(), topic, 3, 2s).size(), 2U);
}

TEST(IngressKafka, NotificationWithTheBrokerDownIs503AndNotRememberedForTheReplayWindow) {
    const std::string topic = unique_topic("ocean.notifications.outage");
    RunningIngress running(config_for(unique_topic("ocean.inbound.openapi-outage"), open_api_block(topic)));
    auto client = running.client();
    const std::string target = std::string("/ocean/clinic/openapi/webhook?k=") + kOpenApiKey;
    const std::string body = R"({"ref":"690","siteNum":"1234","type":"notify-patient-message-forms-completion",)"
                             R"("customProperties":{"oceanSessionId":"s-1"}})";
    EXPECT_EQ(wait_for_status(running.admin_port(), 200, 10s).find("timed out"), std::string::npos);

    ASSERT_TRUE(kafka_broker("stop"));
    const auto started = std::chrono::steady_clock::now();
    auto res = client.post(target, body, "application/json");
    const auto elapsed = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(res.result_int(), 503) << res.body();
    EXPECT_EQ(res[boost::beast::http::field::retry_after], "7");
    EXPECT_NE(res.body().find(R"("error":"unavailable")"), std::string::npos) << res.body();
    EXPECT_GE(elapsed, 2900ms) << "the answer waits for the ack deadline";
    EXPECT_LT(elapsed, 3s + 1500ms);

    ASSERT_TRUE(kafka_broker("start"));
    std::string answer;
    const auto deadline = std::chrono::steady_clock::now() + 90s;
    while (std::chrono::steady_clock::now() < deadline) {
        res = client.post(target, body, "application/json");
        answer = res.body();
        if (res.result_int() == 200) break;
        std::this_thread::sleep_for(500ms);
    }
    EXPECT_EQ(answer, R"({"status":"accepted"})") << "the failed one was not remembered: Ocean's retry is stored";
    const auto records = consume_all(kafka_bootstrap(), topic, 1, 30s);
    ASSERT_GE(records.size(), 1U);
    EXPECT_EQ(records.back().key, "1234/690");
    EXPECT_EQ(records.back().header("ocean-session-id"), "s-1");
    // Now it is remembered.
    EXPECT_EQ(client.post(target, body, "application/json").body(), R"({"status":"duplicate"})");
}

}  // namespace
}  // namespace relay::test
