// The fetcher on the real broker against ocean-sim's Open API over loopback: Patient Engagement
// notifications (as the ingress writes them) → the patient and the session's note fetched with the
// site's credentials, decrypted with its SEK, rendered → one delivery per eForm destination, sealed at
// rest; a session delivered once; Ocean failing for a while (500, 401) loses nothing; what cannot be
// fetched or is not handled yet is dead-lettered intact.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <future>
#include <algorithm>
#include <map>
#include <set>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "config.hpp"
#include "fetcher.hpp"
#include "generator.hpp"
#include "ocean_api.hpp"
#include "referral_attachments.hpp"
#include "referral_state.hpp"
#include "relay/contracts/documents.hpp"
#include "relay/contracts/headers.hpp"
#include "relay/contracts/notifications.hpp"
#include "relay/core/encoding.hpp"
#include "relay/core/log.hpp"
#include "relay/hub/update.hpp"
#include "relay/http/client.hpp"
#include "relay/http/fault_injection.hpp"
#include "relay/http/server.hpp"
#include "relay/kafka/at_rest.hpp"
#include "relay/kafka/consumer.hpp"
#include "relay/kafka/producer.hpp"
#include "relay/transform/open_api_record.hpp"
#include "relay/transform/open_api_referral.hpp"
#include "relay/transform/referral.hpp"
#include "relay/transform/render.hpp"
#include "test_support.hpp"

namespace relay::test {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;
namespace header = contracts::header;
namespace notification = contracts::notification;

constexpr const char* kSite = "4321";
constexpr const char* kSiteKey = "site-key-for-the-fetcher-test";
constexpr const char* kSiteCredential = "site-credential-for-the-fetcher-test";
constexpr const char* kSek = "fetcher-test-sek";
constexpr const char* kAtRestKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
constexpr int kPartitions = 2;

struct Record {
    std::string key;
    std::string value;
    std::map<std::string, std::string> headers;
    std::int32_t partition = 0;
    std::int64_t offset = 0;
};

class FetcherKafkaTest : public ::testing::Test {
   protected:
    void TearDown() override {
        if (fetcher_) fetcher_->stop();
        if (fetcher_thread_.joinable()) fetcher_thread_.join();
        fetcher_.reset();
        ioc_.stop();
        if (server_thread_.joinable()) server_thread_.join();
        server_.reset();
    }

    /// ocean-sim's Open API with one generated referral (whose ref serves as the patient ref), behind
    /// the fault rules given.
    void start_ocean(std::vector<http::FaultRule> faults = {}, std::string sek = kSek, bool rsa_only = false) {
        ocean_sim::OceanApiConfig config;
        config.signing_key = Secret::from_value("fetcher-test-ocean-sim-signing-key-0123456789");
        config.clients.push_back({"fetcher-client", Secret::from_value("fetcher-client-secret")});
        config.sites.push_back({kSite, Secret::from_value(kSiteKey), Secret::from_value(kSiteCredential),
                                Secret::from_value(std::move(sek))});
        config.sites.back().rsa_only = rsa_only;
        api_ = std::make_unique<ocean_sim::OceanApi>(std::move(config), state_);
        ocean_sim::ReferralSpec spec;
        spec.seed = 11;
        spec.site_number = kSite;
        spec.listing_ref = "listing-fetcher";
        spec.request_url = "https://relay.example/ocean/fhir/$process-message";
        sent_ = ocean_sim::generate(spec);
        state_.record_sent(sent_, "listing-fetcher", kSite);
        faults_ = std::make_unique<http::FaultInjector>(std::move(faults), 5);
        http::ListenerConfig listener;
        listener.address = "127.0.0.1";
        listener.port = 0;
        server_ = std::make_unique<http::Server>(ioc_, listener, faults_->wrap(api_->handler()));
        server_->start();
        server_thread_ = std::thread([this] { ioc_.run(); });
    }

    std::string config_yaml() const {
        return fmt::format(R"(
service: {{log_level: warn}}
admin: {{address: 127.0.0.1, port: 0}}
kafka:
  bootstrap_servers: "{bootstrap}"
  group_id: {prefix}fetcher
  partitions: {partitions}
  replication_factor: 1
  commit_interval: 100ms
  at_rest:
    keys: [{{id: test, key: {{value: "{key}"}}}}]
    topics: ["{prefix}relay.deliveries.v1", "{prefix}ocean.inbound.v1"]
topics: {{prefix: "{prefix}"}}
ocean:
  base_url: "http://127.0.0.1:{port}"
  timeout: 2s
  connect_timeout: 1s
  breaker: {{consecutive_failures: 3, open_for: 300ms}}
  sites:
    - {{site: "{site}", site_key: {{value: "{site_key}"}}, site_credential: {{value: "{credential}"}}, sek: {{value: "{sek}"}},
       client_id: fetcher-client, client_secret: {{value: fetcher-client-secret}}}}
eforms:
  destinations:
    - {{id: clinic-emr, format: fhir-r4}}
    - {{id: intake-db, format: hub-json}}
open_api_requests: {{link_destinations: [patient-portal]}}
open_ereferral: {{types: ["notify-referral-*"]}}
retry: {{initial: 50ms, max_delay: 300ms, max_age: 2m}}
shutdown: {{grace_period: 10s}}
)",
                           fmt::arg("bootstrap", kafka_bootstrap()),
                           fmt::arg("prefix", prefix_),
                           fmt::arg("partitions", kPartitions),
                           fmt::arg("key", kAtRestKey),
                           fmt::arg("port", server_->port()),
                           fmt::arg("site", kSite),
                           fmt::arg("site_key", kSiteKey),
                           fmt::arg("credential", kSiteCredential),
                           fmt::arg("sek", kSek));
    }

    void start_fetcher() {
        auto reader = ConfigReader::from_string(config_yaml(), "RELAY_FETCHER_TEST", [](const std::string&) {
            return std::optional<std::string>();
        });
        fetcher::FetcherConfig config = fetcher::load_config(reader);
        at_rest_ = config.kafka.client.at_rest;
        fetcher_ = std::make_unique<fetcher::FetcherService>(std::move(config));
        fetcher_thread_ = std::thread([this] { exit_code_ = fetcher_->run(); });
    }

    kafka::ClientConfig client(bool with_keys) const {
        kafka::ClientConfig c;
        c.bootstrap_servers = kafka_bootstrap();
        c.client_id = "fetcher-test";
        if (with_keys) c.at_rest = at_rest_;
        return c;
    }

    /// A notification as the ingress publishes it.
    void notify(const std::string& type, const std::string& ref, const std::string& session, const std::string& site = kSite) {
        kafka::ProducerConfig config;
        config.client = client(false);
        kafka::Producer producer(config);
        json::object body{{"ref", ref}, {"siteNum", site}, {"type", type}, {"changeList", nullptr}, {"user", nullptr}};
        std::vector<kafka::Header> headers{{std::string(header::kKind), std::string(notification::kKind)},
                                           {std::string(header::kSite), site},
                                           {std::string(header::kIntegration), "fetcher-test"},
                                           {std::string(header::kReceivedAt), "2026-12-07T10:00:00.000Z"},
                                           {std::string(notification::kTypeHeader), type},
                                           {std::string(notification::kRefHeader), ref}};
        if (!session.empty()) {
            body["customProperties"] = json::object{{"oceanSessionId", session}, {"noteCompletionSource", "PORTAL"}};
            headers.push_back({std::string(notification::kSessionIdHeader), session});
        }
        std::promise<kafka::DeliveryResult> done;
        auto acked = done.get_future();
        producer.async_produce(prefix_ + std::string(notification::kDefaultTopic),
                               notification::notification_key(site, ref), json::serialize(body), std::move(headers),
                               20s, [&done](kafka::DeliveryResult r) { done.set_value(std::move(r)); });
        ASSERT_TRUE(acked.get().ok);
    }

    /// A record as another service writes it (no keys: written in clear).
    void produce_raw(const std::string& topic, const std::string& key, std::string value,
                     std::vector<kafka::Header> headers) {
        kafka::ProducerConfig config;
        config.client = client(false);
        kafka::Producer producer(config);
        std::promise<kafka::DeliveryResult> done;
        auto acked = done.get_future();
        producer.async_produce(prefix_ + topic, key, std::move(value), std::move(headers), 20s,
                               [&done](kafka::DeliveryResult r) { done.set_value(std::move(r)); });
        ASSERT_TRUE(acked.get().ok);
    }

    /// A hub's Open API request as the hub API publishes it (key: the referral or patient ref).
    void request(const std::string& value) {
        const auto parsed = hub::parse_update(value);
        ASSERT_TRUE(parsed.ok()) << parsed.error_text();
        produce_raw("relay.openapi.requests.v1", parsed.update->subject_ref(), value,
                    {{std::string(header::kContentType), "application/json"},
                     {std::string(header::kHubSystem), "emr"},
                     {std::string(header::kUpdateId), parsed.update->update_id},
                     {std::string(header::kAction), hub::to_string(parsed.update->action)}});
    }

    /// Events on relay.events.v1 with `outcome`.
    std::vector<json::object> events_with(std::string_view outcome) const {
        std::vector<json::object> out;
        for (const auto& e : read("relay.events.v1", true))
            if (e.headers.at(std::string(header::kOutcome)) == outcome) out.push_back(json::parse(e.value).as_object());
        return out;
    }

    /// Waits until ocean-sim stored `messages` messages, `attachments` attachments and `links` links.
    bool wait_for_writes(std::size_t messages, std::size_t attachments, std::size_t links,
                         std::chrono::seconds timeout = 60s) const {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < deadline) {
            const auto& w = api_->writes();
            if (w.messages().size() >= messages && w.attachments().size() >= attachments && w.links().size() >= links)
                return true;
            std::this_thread::sleep_for(100ms);
        }
        return false;
    }

    std::vector<Record> read(const std::string& topic, bool with_keys) const {
        std::vector<Record> out;
        for (int p = 0; p < kPartitions; ++p) {
            kafka::read_partition_to_end(client(with_keys), prefix_ + topic, p, [&out](const kafka::Message& m) {
                Record r;
                r.key = std::string(m.key());
                r.value = std::string(m.value());
                for (auto& h : m.headers()) r.headers[h.name] = h.value;
                r.partition = m.partition();
                r.offset = m.offset();
                out.push_back(std::move(r));
            }, 30s);
        }
        return out;
    }

    /// Waits until `topic` holds at least `count` records.
    std::vector<Record> wait_for(const std::string& topic, std::size_t count, bool with_keys = true,
                                 std::chrono::seconds timeout = 60s) const {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        std::vector<Record> records;
        while (std::chrono::steady_clock::now() < deadline) {
            records = read(topic, with_keys);
            if (records.size() >= count) return records;
            std::this_thread::sleep_for(200ms);
        }
        ADD_FAILURE() << topic << ": " << records.size() << " record(s), wanted " << count;
        return records;
    }

    std::string patient_family() const {
        const json::value bundle = json::parse(sent_.body);
        for (const auto& e : bundle.at("entry").as_array()) {
            const auto& r = e.at("resource").as_object();
            if (r.at("resourceType") == "Patient")
                return std::string(r.at("name").as_array()[0].at("family").as_string());
        }
        return {};
    }

    static std::string unique_prefix() {
        static std::atomic<int> counter{0};
        return fmt::format("fetcher-test-{}-{}.", ::getpid(), counter.fetch_add(1));
    }

    std::string prefix_ = unique_prefix();
    boost::asio::io_context ioc_;
    ocean_sim::ReferralState state_;
    ocean_sim::GeneratedReferral sent_;
    std::unique_ptr<ocean_sim::OceanApi> api_;
    std::unique_ptr<http::FaultInjector> faults_;
    std::unique_ptr<http::Server> server_;
    std::thread server_thread_;
    std::shared_ptr<const kafka::AtRest> at_rest_;
    std::unique_ptr<fetcher::FetcherService> fetcher_;
    std::thread fetcher_thread_;
    std::atomic<int> exit_code_{-1};
};

TEST_F(FetcherKafkaTest, AnEformSessionIsDeliveredOnceToEveryDestinationAndSealedAtRest) {
    start_ocean();
    start_fetcher();
    const std::string ref = sent_.referral_ref;
    notify(std::string(notification::kPatientNoteAdded), ref, "1759442545187t415674");
    notify(std::string(notification::kPatientFormsCompleted), ref, "1759442545187t415674");  // the same session

    const auto deliveries = wait_for("relay.deliveries.v1", 2);
    ASSERT_EQ(deliveries.size(), 2U);
    std::map<std::string, Record> by_destination;
    for (const auto& d : deliveries) by_destination[d.headers.at(std::string(header::kDestination))] = d;
    ASSERT_TRUE(by_destination.contains("clinic-emr"));
    ASSERT_TRUE(by_destination.contains("intake-db"));

    const Record& fhir = by_destination["clinic-emr"];
    EXPECT_EQ(fhir.key, "clinic-emr|" + std::string(kSite) + "/" + ref);
    EXPECT_EQ(fhir.headers.at(std::string(header::kFormat)), "fhir-r4");
    EXPECT_EQ(fhir.headers.at(std::string(header::kContentType)), "application/fhir+json");
    EXPECT_EQ(fhir.headers.at(std::string(header::kSite)), kSite);
    EXPECT_EQ(fhir.headers.at(std::string(header::kAttempt)), "0");
    EXPECT_EQ(fhir.headers.at(std::string(header::kIdempotencyKey)).size(), 64U);
    EXPECT_FALSE(fhir.headers.contains(std::string(kafka::AtRest::kHeader)));
    const json::object bundle = json::parse(fhir.value).as_object();
    EXPECT_EQ(bundle.at("resourceType"), "Bundle");
    std::map<std::string, int> kinds;
    for (const auto& e : bundle.at("entry").as_array())
        ++kinds[std::string(e.at("resource").at("resourceType").as_string())];
    EXPECT_EQ(kinds["Patient"], 1);
    EXPECT_EQ(kinds["QuestionnaireResponse"], 1);  // ocean-sim's PHQ-9
    EXPECT_NE(fhir.value.find(patient_family()), std::string::npos);

    const json::object hub = json::parse(by_destination["intake-db"].value).as_object();
    EXPECT_EQ(by_destination["intake-db"].headers.at(std::string(header::kFormat)), "hub-json");
    EXPECT_NE(by_destination["intake-db"].value.find(patient_family()), std::string::npos);
    EXPECT_FALSE(hub.empty());

    // On the broker the deliveries are ciphertext: the patient's name is not in the bytes.
    for (const auto& raw : read("relay.deliveries.v1", false)) {
        EXPECT_EQ(raw.headers.at(std::string(kafka::AtRest::kHeader)), "test");
        EXPECT_EQ(raw.value.find(patient_family()), std::string::npos);
    }
    // The duplicate was not delivered again; both outcomes are events without patient data.
    std::this_thread::sleep_for(1s);
    EXPECT_EQ(read("relay.deliveries.v1", true).size(), 2U);
    const auto events = read("relay.events.v1", false);
    ASSERT_EQ(events.size(), 1U);
    EXPECT_EQ(events[0].headers.at(std::string(header::kOutcome)), "eform-delivered");
    EXPECT_EQ(events[0].value.find(patient_family()), std::string::npos);
    EXPECT_TRUE(read("ocean.notifications.dlq.v1", false).empty());
}

TEST_F(FetcherKafkaTest, ADeliveredSessionIsRememberedAcrossARestart) {
    start_ocean();
    start_fetcher();
    const std::string ref = sent_.referral_ref;
    notify(std::string(notification::kPatientNoteAdded), ref, "restart-session");
    ASSERT_EQ(wait_for("relay.deliveries.v1", 2).size(), 2U);
    const auto markers = wait_for("relay.fetcher.sessions.v1", 1, false);
    ASSERT_EQ(markers.size(), 1U);
    EXPECT_EQ(markers[0].key, std::string(kSite) + "/" + ref + "/restart-session");
    fetcher_->stop();
    fetcher_thread_.join();
    fetcher_.reset();

    // A new process (the same group): Ocean repeats the notification after the ingress's replay window.
    start_fetcher();
    notify(std::string(notification::kPatientFormsCompleted), ref, "restart-session");
    notify(std::string(notification::kPatientNoteAdded), ref, "another-session");
    ASSERT_EQ(wait_for("relay.deliveries.v1", 4).size(), 4U);  // the other session's two
    std::this_thread::sleep_for(1s);
    std::map<std::string, int> per_session;
    for (const auto& m : read("relay.fetcher.sessions.v1", false)) ++per_session[m.key];
    EXPECT_EQ(per_session.size(), 2U);
    EXPECT_EQ(per_session[std::string(kSite) + "/" + ref + "/restart-session"], 1) << "delivered twice";
    EXPECT_EQ(read("relay.deliveries.v1", true).size(), 4U);
}

TEST_F(FetcherKafkaTest, OceanAnswering500ForAWhileLosesNothing) {
    http::FaultRule down;
    down.kind = http::FaultRule::Kind::kDown;
    down.path_prefix = "/svc/v1/patients/";
    down.status = 500;
    down.delay = 2s;
    start_ocean({down});
    start_fetcher();
    notify(std::string(notification::kPatientNoteAdded), sent_.referral_ref, "session-a");
    const auto deliveries = wait_for("relay.deliveries.v1", 2);
    EXPECT_EQ(deliveries.size(), 2U);
    EXPECT_TRUE(read("ocean.notifications.dlq.v1", false).empty());
    EXPECT_GE(faults_->injected()["down"], 1U);
    // Three failures in a row opened the site's breaker: calls were held, not made, while it was open,
    // and it closed again once Ocean answered.
    const std::string metrics = http::BlockingClient("127.0.0.1", fetcher_->admin_port()).get("/metrics").body();
    EXPECT_NE(metrics.find(R"(relay_fetcher_ocean_calls_held_total{reason="breaker",site="4321"})"), std::string::npos) << metrics;
    EXPECT_NE(metrics.find(R"(relay_fetcher_ocean_breaker_open{site="4321"} 0)"), std::string::npos);
}

TEST_F(FetcherKafkaTest, OceanAnsweringTooSlowlyHalfTheTimeLosesNothingEitherWay) {
    // Half of Ocean's answers never come within the fetcher's 2 s timeout (the connection is dropped
    // after 2.5 s), the rest are slow but in time: reads and writes both get through on a retry.
    http::FaultRule silent;
    silent.kind = http::FaultRule::Kind::kTimeout;
    silent.probability = 0.5;
    silent.delay = 2500ms;
    http::FaultRule slow;
    slow.kind = http::FaultRule::Kind::kLatency;
    slow.delay = 300ms;
    start_ocean({silent, slow});
    start_fetcher();
    notify(std::string(notification::kPatientNoteAdded), sent_.referral_ref, "session-slow");
    request(R"({"update_id":"slow-1","referral_ref":")" + sent_.referral_ref +
            R"(","action":"open_api_message","text":"sent while Ocean was slow"})");
    EXPECT_EQ(wait_for("relay.deliveries.v1", 2, true, 90s).size(), 2U);
    EXPECT_TRUE(wait_for_writes(1, 0, 0, 90s)) << api_->writes_json();
    EXPECT_EQ(api_->writes().messages().size(), 1U) << "a dropped request never reached Ocean: no second copy";
    EXPECT_GE(faults_->injected()["timeout"], 1U);
    EXPECT_TRUE(read("ocean.notifications.dlq.v1", false).empty());
}

TEST_F(FetcherKafkaTest, CredentialsRefusedForAWhileAreRetried) {
    http::FaultRule refused;
    refused.kind = http::FaultRule::Kind::kDown;
    refused.path_prefix = "/svc/v1/patients/";
    refused.status = 401;
    refused.delay = 2s;
    start_ocean({refused});
    start_fetcher();
    notify(std::string(notification::kPatientFormsCompleted), sent_.referral_ref, "session-b");
    EXPECT_EQ(wait_for("relay.deliveries.v1", 2).size(), 2U);
    EXPECT_TRUE(read("ocean.notifications.dlq.v1", false).empty());
}

TEST_F(FetcherKafkaTest, WhatCannotBeFetchedOrIsNotHandledYetIsDeadLetteredIntact) {
    start_ocean({}, "a-different-sek!");  // Ocean encrypts under a SEK the relay does not have
    start_fetcher();
    notify(std::string(notification::kPatientNoteAdded), sent_.referral_ref, "session-c");  // decrypt-failed
    notify("notify-referral-new", sent_.referral_ref, "");                                 // decrypt-failed
    notify("notify-something-else", sent_.referral_ref, "");                               // unhandled-type
    notify(std::string(notification::kPatientNoteAdded), "no-such-patient", "session-d");  // ocean-not-found
    notify(std::string(notification::kPatientNoteAdded), sent_.referral_ref, "", kSite);  // missing-session-id
    notify(std::string(notification::kPatientNoteAdded), sent_.referral_ref, "session-e", "9999");  // unknown-site

    const auto dead = wait_for("ocean.notifications.dlq.v1", 6, false);
    std::map<std::string, int> reasons;
    for (const auto& d : dead) {
        ++reasons[d.headers.at(std::string(header::kDlqReason))];
        EXPECT_FALSE(d.value.empty());
        EXPECT_EQ(d.headers.at(std::string(header::kKind)), notification::kKind);
        EXPECT_TRUE(d.headers.contains(std::string(header::kDlqSource)));
    }
    EXPECT_EQ(reasons["decrypt-failed"], 2);
    EXPECT_EQ(reasons["unhandled-type"], 1);
    EXPECT_EQ(reasons["ocean-not-found"], 1);
    EXPECT_EQ(reasons["missing-session-id"], 1);
    EXPECT_EQ(reasons["unknown-site"], 1);
    EXPECT_TRUE(read("relay.deliveries.v1", false).empty());
    EXPECT_TRUE(read("ocean.inbound.v1", false).empty());
}

TEST_F(FetcherKafkaTest, AnOpenEreferralReferralIsFetchedOpenedAndWrittenSealedForTheRouter) {
    start_ocean();
    start_fetcher();
    const std::string ref = sent_.referral_ref;
    notify("notify-referral-new", ref, "");
    const auto inbound = wait_for("ocean.inbound.v1", 1);
    ASSERT_EQ(inbound.size(), 1U);
    const Record& r = inbound[0];
    EXPECT_EQ(r.key, ref);
    EXPECT_EQ(r.headers.at(std::string(header::kKind)), contracts::kOpenApiReferralKind);
    EXPECT_EQ(r.headers.at(std::string(header::kSite)), kSite);
    EXPECT_EQ(r.headers.at(std::string(header::kReferralRef)), ref);
    EXPECT_EQ(r.headers.at(std::string(header::kEvent)), "add-service-request");
    const auto record = transform::unpack_open_api_record(r.value);
    ASSERT_TRUE(record.has_value()) << "not the {referral, patient} object";
    const json::object referral = json::parse(record->referral_json).as_object();
    EXPECT_EQ(referral.at("referralRef").as_string(), ref);
    EXPECT_NE(record->patient_json.find(patient_family()), std::string::npos) << "the patient data, decrypted";
    // What the router makes of it: the same referral a FHIR bundle gives, its patient included.
    const auto parsed = transform::parse_open_api_referral(record->referral_json, record->patient_json, kSite);
    ASSERT_TRUE(parsed.referral.has_value()) << parsed.error->code << " at " << parsed.error->expression;
    EXPECT_EQ(parsed.referral->referral_ref, ref);
    EXPECT_EQ(parsed.referral->target.listing_ref, "listing-fetcher");
    EXPECT_EQ(parsed.referral->patient.name.family, patient_family());
    // Sealed on the broker.
    for (const auto& raw : read("ocean.inbound.v1", false)) {
        EXPECT_EQ(raw.headers.at(std::string(kafka::AtRest::kHeader)), "test");
        EXPECT_EQ(raw.value.find(patient_family()), std::string::npos);
    }
    const auto events = wait_for("relay.events.v1", 1, false);
    EXPECT_EQ(events.at(0).headers.at(std::string(header::kOutcome)), "referral-fetched");
}

TEST_F(FetcherKafkaTest, AReferralWhoseKeyIsOnlyRsaWrappedOpensWithTheSitesPrivateKey) {
    start_ocean({}, kSek, /*rsa_only=*/true);
    start_fetcher();
    notify("notify-referral-new", sent_.referral_ref, "");
    notify("notify-referral-updated", sent_.referral_ref, "");  // the key is cached by then
    const auto inbound = wait_for("ocean.inbound.v1", 2);
    ASSERT_EQ(inbound.size(), 2U);
    for (const auto& r : inbound) {
        const auto record = transform::unpack_open_api_record(r.value);
        ASSERT_TRUE(record.has_value());
        EXPECT_NE(record->patient_json.find(patient_family()), std::string::npos);
    }
    EXPECT_TRUE(read("ocean.notifications.dlq.v1", false).empty());
}

TEST_F(FetcherKafkaTest, AReferralsDocumentsAreFetchedWithTheSiteTokenAndDeliveredAfterIt) {
    start_ocean();
    start_fetcher();
    const std::string ref = sent_.referral_ref;
    // The DocumentReferences of the bundle ocean-sim sent, as the router lists them.
    transform::ReferralParser parser;
    const auto parsed = parser.parse(sent_.body);
    ASSERT_TRUE(parsed.referral.has_value());
    json::array documents;
    for (const auto& a : parsed.referral->attachments)
        if (!a.url.empty()) documents.push_back(json::object{{"id", a.id}, {"url", a.url}, {"content_type", a.content_type}});
    ASSERT_FALSE(documents.empty()) << "ocean-sim's bundle points to no document";
    const std::string base = "http://127.0.0.1:" + std::to_string(server_->port());
    // ocean-sim's bundles name Ocean's public host: point them at the simulator, as a test double of Ocean.
    for (auto& d : documents) {
        std::string url(d.at("url").as_string());
        d.as_object()["url"] = base + url.substr(url.find("/svc/fhir/v1/"));
    }
    const std::size_t count = documents.size();
    const json::object request{{"site", kSite}, {"referral_ref", ref}, {"destination", "clinic-emr"},
                               {"event", "add-service-request"}, {"documents", std::move(documents)}};
    produce_raw("relay.documents.v1", ref, json::serialize(request),
                {{std::string(header::kKind), std::string(contracts::documents::kDocumentRequestKind)},
                 {std::string(header::kSite), kSite}, {std::string(header::kReferralRef), ref}});

    const auto deliveries = wait_for("relay.deliveries.v1", count);
    ASSERT_EQ(deliveries.size(), count);
    std::set<std::string> ids;
    for (const auto& d : deliveries) {
        EXPECT_EQ(d.key, "clinic-emr|" + ref);
        EXPECT_EQ(d.headers.at(std::string(header::kEvent)), contracts::documents::kDocumentEvent);
        EXPECT_EQ(d.headers.at(std::string(header::kReferralRef)), ref);
        EXPECT_FALSE(d.value.empty());
        ids.insert(d.headers.at(std::string(contracts::documents::kDocumentIdHeader)));
    }
    EXPECT_EQ(ids.size(), count);
    EXPECT_TRUE(std::any_of(deliveries.begin(), deliveries.end(), [](const Record& d) {
        return d.headers.at(std::string(header::kContentType)) == "application/pdf" && d.value.starts_with("%PDF");
    })) << "the referral letter";
    for (const auto& raw : read("relay.deliveries.v1", false))
        EXPECT_EQ(raw.headers.at(std::string(kafka::AtRest::kHeader)), "test") << "documents are sealed at rest";
    const auto events = wait_for("relay.events.v1", 1, false);
    EXPECT_EQ(events.at(0).headers.at(std::string(header::kOutcome)), "documents-delivered");
}

TEST_F(FetcherKafkaTest, AnInlineDeliveryGetsItsDocumentsEmbeddedAndIsDeliveredEvenWhenOneIsMissing) {
    start_ocean();
    start_fetcher();
    const std::string ref = sent_.referral_ref;
    transform::ReferralParser parser;
    auto parsed = parser.parse(sent_.body);
    ASSERT_TRUE(parsed.referral.has_value());
    // ocean-sim's bundles name Ocean's public host: point them at the simulator, then render as the router does.
    const std::string base = "http://127.0.0.1:" + std::to_string(server_->port());
    json::array documents;
    for (auto& a : parsed.referral->attachments) {
        if (a.url.empty()) continue;
        a.url = base + a.url.substr(a.url.find("/svc/fhir/v1/"));
        documents.push_back(json::object{{"id", a.id}, {"url", a.url}, {"content_type", a.content_type}});
    }
    ASSERT_FALSE(documents.empty());
    const std::size_t reachable = documents.size();
    // One more that is not on Ocean's host: never fetched (the token stays home), left out, counted.
    documents.push_back(json::object{{"id", "elsewhere"}, {"url", "https://attacker.example/svc/fhir/v1/x"}, {"content_type", "application/pdf"}});
    parsed.referral->attachments.push_back(parsed.referral->attachments.front());
    parsed.referral->attachments.back().id = "elsewhere";
    parsed.referral->attachments.back().url = "https://attacker.example/svc/fhir/v1/x";
    const std::string payload = transform::render(transform::Format::kHubJson, *parsed.referral, sent_.body);
    produce_raw("relay.documents.v1", ref, payload,
                {{std::string(header::kKind), std::string(contracts::documents::kDocumentInlineKind)},
                 {std::string(contracts::documents::kDocumentsHeader), json::serialize(documents)},
                 {std::string(header::kDestination), "clinic-emr"},
                 {std::string(header::kFormat), "hub-json"},
                 {std::string(header::kContentType), "application/json"},
                 {std::string(header::kIdempotencyKey), "router-made-key"},
                 {std::string(header::kReferralRef), ref},
                 {std::string(header::kEvent), "add-service-request"},
                 {std::string(header::kSite), kSite},
                 {std::string(header::kAttempt), "0"}});

    const auto deliveries = wait_for("relay.deliveries.v1", 1);
    ASSERT_EQ(deliveries.size(), 1U) << "the referral itself, once, with its documents inside";
    const Record& d = deliveries[0];
    EXPECT_EQ(d.key, "clinic-emr|" + ref);
    EXPECT_EQ(d.headers.at(std::string(header::kIdempotencyKey)), "router-made-key") << "the router's headers kept";
    EXPECT_EQ(d.headers.at(std::string(header::kFormat)), "hub-json");
    EXPECT_FALSE(d.headers.contains(std::string(header::kKind)));
    EXPECT_FALSE(d.headers.contains(std::string(contracts::documents::kDocumentsHeader)));
    EXPECT_EQ(d.headers.at(std::string(contracts::documents::kDocumentsInlinedHeader)), std::to_string(reachable));
    EXPECT_EQ(d.headers.at(std::string(contracts::documents::kDocumentsMissingHeader)), "1");
    const json::value hub = json::parse(d.value);
    std::size_t with_data = 0;
    bool letter = false;
    for (const auto& a : hub.at("attachments").as_array()) {
        if (a.at("data_base64").is_null()) continue;
        ++with_data;
        const auto bytes = base64_decode(a.at("data_base64").as_string());
        ASSERT_TRUE(bytes.has_value());
        letter = letter || bytes->starts_with("%PDF");
    }
    EXPECT_EQ(with_data, reachable);
    EXPECT_TRUE(letter) << "the referral letter, as ocean-sim served it";
    for (const auto& raw : read("relay.deliveries.v1", false))
        EXPECT_EQ(raw.headers.at(std::string(kafka::AtRest::kHeader)), "test");
    const auto events = wait_for("relay.events.v1", 1, false);
    EXPECT_EQ(events.at(0).headers.at(std::string(header::kOutcome)), "documents-inlined");
    EXPECT_NE(events.at(0).value.find("document-url-refused"), std::string::npos);
    EXPECT_TRUE(read("ocean.notifications.dlq.v1", false).empty());
}

TEST_F(FetcherKafkaTest, AnOpenEreferralReferralsAttachmentsComeOverTheOpenApiOpenedWithItsKey) {
    start_ocean();
    start_fetcher();
    const std::string ref = sent_.referral_ref;
    const auto attachments = ocean_sim::open_api_attachments(ref);
    ASSERT_FALSE(attachments.empty());
    // As the router lists them from the Open API referral: Ocean's public host in the URL, which the
    // fetcher does not follow (it asks its own configured host with the site's credentials).
    json::array documents;
    for (const auto& a : attachments)
        documents.push_back(json::object{
            {"id", a.file_ref},
            {"url", "https://ocean.cognisantmd.com/svc/v1/referrals/" + ref + "/attachments/" + a.file_ref},
            {"content_type", a.content_type}});
    const json::object request{{"site", kSite}, {"referral_ref", ref}, {"destination", "clinic-emr"},
                               {"event", "add-service-request"}, {"documents", std::move(documents)}};
    produce_raw("relay.documents.v1", ref, json::serialize(request),
                {{std::string(header::kKind), std::string(contracts::documents::kDocumentRequestKind)},
                 {std::string(header::kSite), kSite}, {std::string(header::kReferralRef), ref}});
    const auto deliveries = wait_for("relay.deliveries.v1", attachments.size());
    ASSERT_EQ(deliveries.size(), attachments.size());
    for (const auto& d : deliveries) {
        const std::string file_ref = d.headers.at(std::string(contracts::documents::kDocumentIdHeader));
        const auto expected = ocean_sim::open_api_attachment_bytes(ref, file_ref);
        ASSERT_TRUE(expected.has_value()) << file_ref;
        EXPECT_EQ(d.value, *expected) << "opened under the referral's one-time key";
        EXPECT_EQ(d.key, "clinic-emr|" + ref);
        EXPECT_EQ(d.headers.at(std::string(header::kContentType)), ocean_sim::find_open_api_attachment(ref, file_ref)->content_type);
    }
    EXPECT_TRUE(read("ocean.notifications.dlq.v1", false).empty());
}

TEST_F(FetcherKafkaTest, ADocumentUrlOffOceansHostIsRefusedAndTheTokenNeverLeaves) {
    start_ocean();
    start_fetcher();
    const json::object request{
        {"site", kSite},
        {"referral_ref", sent_.referral_ref},
        {"destination", "clinic-emr"},
        {"documents", json::array{json::object{{"id", "d-1"}, {"url", "http://127.0.0.2:9/svc/fhir/v1/DocumentReference/d-1/$binary"}}}}};
    produce_raw("relay.documents.v1", sent_.referral_ref, json::serialize(request), {});
    produce_raw("relay.documents.v1", sent_.referral_ref, "not json", {});
    const auto dead = wait_for("ocean.notifications.dlq.v1", 2, false);
    std::map<std::string, int> reasons;
    for (const auto& d : dead) ++reasons[d.headers.at(std::string(header::kDlqReason))];
    EXPECT_EQ(reasons["document-url-refused"], 1);
    EXPECT_EQ(reasons["malformed-document-request"], 1);
    EXPECT_TRUE(read("relay.deliveries.v1", false).empty());
}

TEST_F(FetcherKafkaTest, TheHubsOpenApiRequestsReachOceanEncryptedAndInOrder) {
    start_ocean();
    start_fetcher();
    const std::string ref = sent_.referral_ref;
    const std::string pdf = "%PDF-1.4\nconsult note for the patient\n";
    const std::string png = "\x89PNG\r\n\x1a\nrequisition";
    const std::string first = "Please bring the referral letter";
    const std::string second = "The consult note is attached";
    request(R"({"update_id":"oa-1","referral_ref":")" + ref + R"(","action":"open_api_attachment","attachment":{"content_type":"image/png","data":")" +
            base64_encode(png) + R"(","title":"requisition.png"}})");
    request(R"({"update_id":"oa-2","referral_ref":")" + ref + R"(","action":"open_api_message","site":")" + kSite +
            R"(","text":")" + first + R"("})");
    request(R"({"update_id":"oa-3","referral_ref":")" + ref + R"(","action":"open_api_message","text":")" + second +
            R"(","attachment":{"content_type":"application/pdf","data":")" + base64_encode(pdf) + R"(","title":"consult.pdf"}})");
    request(R"({"update_id":"link-1","action":"eform_link","patient_ref":")" + ref + R"(","form_refs":["phq9","gad7"],"expiry_hours":48})");

    ASSERT_TRUE(wait_for_writes(2, 2, 1)) << api_->writes_json();
    const auto attachments = api_->writes().attachments();
    ASSERT_EQ(attachments.size(), 2U);
    // Opened by Ocean with the site's SEK to exactly the hub's bytes, in the order the hub sent them.
    EXPECT_EQ(attachments[0].sha256, hex_encode(sha256(png)));
    EXPECT_EQ(attachments[0].content_type, "image/png");
    EXPECT_EQ(attachments[0].file_name.value_or(""), "requisition.png");
    EXPECT_EQ(attachments[1].sha256, hex_encode(sha256(pdf)));
    EXPECT_EQ(attachments[1].referral_ref, ref);
    const auto messages = api_->writes().messages();
    ASSERT_EQ(messages.size(), 2U);
    EXPECT_TRUE(messages[0].encrypted);
    EXPECT_EQ(messages[0].sha256, hex_encode(sha256(first)));
    EXPECT_TRUE(messages[0].attachment_refs.empty());
    EXPECT_EQ(messages[1].sha256, hex_encode(sha256(second)));
    EXPECT_EQ(messages[1].attachment_refs, std::vector<std::string>{attachments[1].file_ref})
        << "the message names the attachment uploaded for it";

    // The link goes to the hub (sealed: it opens the patient's forms), and Ocean knows its session.
    const auto links = api_->writes().links();
    ASSERT_EQ(links.size(), 1U);
    EXPECT_EQ(links[0].patient_ref, ref);
    EXPECT_EQ(links[0].form_refs, (std::vector<std::string>{"phq9", "gad7"}));
    EXPECT_EQ(links[0].expiry_hours, 48);
    const auto delivered = wait_for("relay.deliveries.v1", 1);
    ASSERT_EQ(delivered.size(), 1U);
    EXPECT_EQ(delivered[0].key, "patient-portal|" + std::string(kSite) + "/" + ref);
    EXPECT_EQ(delivered[0].headers.at(std::string(header::kEvent)), "eform-link-issued");
    const auto link = json::parse(delivered[0].value);
    EXPECT_EQ(std::string(link.at("url").as_string()), links[0].url);
    EXPECT_EQ(std::string(link.at("ocean_session_id").as_string()), links[0].session_id);
    EXPECT_EQ(link.at("update_id"), "link-1");
    for (const auto& raw : read("relay.deliveries.v1", false)) {
        EXPECT_EQ(raw.headers.at(std::string(kafka::AtRest::kHeader)), "test");
        EXPECT_EQ(raw.value.find(links[0].url), std::string::npos);
    }

    // Events name Ocean's refs; never the link, never the text.
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (events_with("open-api-request-sent").size() < 3 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(200ms);
    const auto sent = events_with("open-api-request-sent");
    ASSERT_EQ(sent.size(), 3U);
    std::map<std::string, json::object> by_id;
    for (const auto& e : sent) by_id[std::string(e.at("update_id").as_string())] = e;
    EXPECT_EQ(std::string(by_id["oa-1"].at("attachment_refs").as_array().at(0).as_string()), attachments[0].file_ref);
    EXPECT_EQ(std::string(by_id["oa-2"].at("message_ref").as_string()), messages[0].message_ref);
    EXPECT_EQ(std::string(by_id["oa-3"].at("message_ref").as_string()), messages[1].message_ref);
    const auto issued = events_with("eform-link-issued");
    ASSERT_EQ(issued.size(), 1U);
    EXPECT_EQ(std::string(issued[0].at("session_id").as_string()), links[0].session_id);
    for (const auto& e : read("relay.events.v1", true)) {
        EXPECT_EQ(e.value.find(links[0].url), std::string::npos);
        EXPECT_EQ(e.value.find("consult note"), std::string::npos);
    }
    EXPECT_TRUE(read("ocean.notifications.dlq.v1", false).empty());
}

TEST_F(FetcherKafkaTest, OceanRefusingTheWritesForAWhileLosesNoneAndKeepsTheirOrder) {
    http::FaultRule down;
    down.kind = http::FaultRule::Kind::kDown;
    down.path_prefix = "/svc/v1/referrals/";
    down.status = 503;
    down.delay = 2s;
    start_ocean({down});
    start_fetcher();
    const std::string ref = sent_.referral_ref;
    for (int i = 0; i < 4; ++i)
        request(R"({"update_id":"m-)" + std::to_string(i) + R"(","referral_ref":")" + ref +
                R"(","action":"open_api_message","text":"message )" + std::to_string(i) + R"("})");
    ASSERT_TRUE(wait_for_writes(4, 0, 0)) << api_->writes_json();
    const auto messages = api_->writes().messages();
    ASSERT_EQ(messages.size(), 4U);
    for (int i = 0; i < 4; ++i)
        EXPECT_EQ(messages[static_cast<std::size_t>(i)].sha256, hex_encode(sha256("message " + std::to_string(i))))
            << "in the order the hub sent them";
    EXPECT_GE(faults_->injected()["down"], 1U);
    EXPECT_TRUE(read("ocean.notifications.dlq.v1", false).empty());
}

TEST_F(FetcherKafkaTest, ARequestStoredTwiceReachesOceanOnceEvenAcrossARestart) {
    start_ocean();
    start_fetcher();
    const std::string message = R"({"update_id":"dup-1","referral_ref":")" + sent_.referral_ref +
                                R"(","action":"open_api_message","text":"sent once"})";
    // The hub retried after losing the ingress's 202: the same update id is on the topic twice.
    request(message);
    request(message);
    ASSERT_TRUE(wait_for_writes(1, 0, 0)) << api_->writes_json();
    const auto markers = wait_for("relay.fetcher.sessions.v1", 1, false);
    ASSERT_EQ(markers.size(), 1U);
    EXPECT_EQ(markers[0].key, "request/" + std::string(kSite) + "/dup-1");
    fetcher_->stop();
    fetcher_thread_.join();
    fetcher_.reset();
    // A new process reads the marker back when it is given the partition.
    start_fetcher();
    request(message);
    request(R"({"update_id":"dup-2","referral_ref":")" + sent_.referral_ref + R"(","action":"open_api_message","text":"another"})");
    ASSERT_TRUE(wait_for_writes(2, 0, 0)) << api_->writes_json();
    std::this_thread::sleep_for(1s);
    const auto messages = api_->writes().messages();
    ASSERT_EQ(messages.size(), 2U) << "dup-1 once, dup-2 once";
    EXPECT_EQ(messages[0].sha256, hex_encode(sha256("sent once")));
    EXPECT_EQ(messages[1].sha256, hex_encode(sha256("another")));
}

TEST_F(FetcherKafkaTest, RequestsOceanRefusesOrNoSiteCanTakeAreDeadLetteredIntact) {
    start_ocean();
    start_fetcher();
    // Ocean does not know the referral (404); the site is not configured; the record is not a request.
    request(R"({"update_id":"x-1","referral_ref":"no-such-referral","action":"open_api_message","text":"hello"})");
    request(R"({"update_id":"x-2","referral_ref":")" + sent_.referral_ref + R"(","action":"open_api_message","site":"9999","text":"hello"})");
    produce_raw("relay.openapi.requests.v1", "R-9", R"({"update_id":"x-3","referral_ref":"R-9","action":"accept"})",
                {{std::string(header::kAction), "accept"}});
    const auto dead = wait_for("ocean.notifications.dlq.v1", 3, false);
    std::map<std::string, int> reasons;
    for (const auto& d : dead) {
        ++reasons[d.headers.at(std::string(header::kDlqReason))];
        EXPECT_FALSE(d.value.empty());
    }
    EXPECT_EQ(reasons["ocean-not-found"], 1);
    EXPECT_EQ(reasons["unknown-site"], 1);
    EXPECT_EQ(reasons["invalid-request"], 1);
    EXPECT_TRUE(api_->writes().messages().empty());
    EXPECT_EQ(events_with("request-dead-lettered").size(), 3U);
}

TEST_F(FetcherKafkaTest, NoPatientDataInAnyLogLineOrAnyRecordOnTheBroker) {
    // The patient's identifying values, from the bundle ocean-sim sent (its Patient resource).
    std::vector<std::string> phi;
    start_ocean();
    const json::value bundle = json::parse(sent_.body);  // outlives the loop
    for (const auto& e : bundle.at("entry").as_array()) {
        const auto& r = e.at("resource").as_object();
        if (r.at("resourceType") != "Patient") continue;
        const auto& name = r.at("name").as_array()[0].as_object();
        phi.emplace_back(name.at("family").as_string());
        if (const auto* given = name.if_contains("given"))
            for (const auto& g : given->as_array()) phi.emplace_back(g.as_string());
        for (const char* list : {"identifier", "telecom"})
            if (const auto* items = r.if_contains(list))
                for (const auto& item : items->as_array())
                    if (const auto* v = item.as_object().if_contains("value"); v != nullptr && v->is_string())
                        phi.emplace_back(v->as_string());
        if (const auto* birth = r.if_contains("birthDate")) phi.emplace_back(birth->as_string());
    }
    ASSERT_GE(phi.size(), 3U);

    log::set_level("debug");
    ::testing::internal::CaptureStderr();
    start_fetcher();
    const std::string ref = sent_.referral_ref;
    notify(std::string(notification::kPatientNoteAdded), ref, "phi-session-1");
    notify("notify-referral-new", ref, "");
    notify(std::string(notification::kPatientNoteAdded), "no-such-patient", "phi-session-2");  // a dead letter
    // The hub's own words about the patient, over the Open API: sealed for Ocean, never logged or echoed.
    request(R"({"update_id":"phi-1","referral_ref":")" + ref + R"(","action":"open_api_message","text":"About )" + phi[0] +
            R"(","attachment":{"content_type":"text/plain","data":")" + base64_encode("notes on " + phi[1]) +
            R"(","title":")" + phi[1] + R"(.txt"}})");
    request(R"({"update_id":"phi-2","action":"eform_link","patient_ref":")" + ref + R"(","form_refs":["phq9"]})");
    wait_for("relay.deliveries.v1", 3);
    wait_for("ocean.inbound.v1", 1);
    wait_for("ocean.notifications.dlq.v1", 1, false);
    ASSERT_TRUE(wait_for_writes(1, 1, 1)) << api_->writes_json();
    fetcher_->stop();
    fetcher_thread_.join();
    const std::string logs = ::testing::internal::GetCapturedStderr();
    log::set_level("warn");
    EXPECT_NE(logs.find("eForm results delivered"), std::string::npos) << "the capture saw the fetcher's lines";

    std::map<std::string, std::vector<Record>> raw;
    for (const char* topic : {"relay.deliveries.v1", "ocean.inbound.v1", "relay.events.v1", "ocean.notifications.dlq.v1",
                              "ocean.notifications.v1"})
        raw[topic] = read(topic, false);
    EXPECT_GE(raw["relay.deliveries.v1"].size(), 3U);
    // The eForm link opens the patient's forms: only in the (sealed) delivery to the hub.
    phi.push_back(api_->writes().links().at(0).url);
    for (const std::string& value : phi) {
        EXPECT_EQ(logs.find(value), std::string::npos) << "a log line holds patient data";
        for (const auto& [topic, records] : raw) {
            for (const auto& r : records) {
                EXPECT_EQ(r.value.find(value), std::string::npos) << topic << " holds patient data in clear";
                for (const auto& [name, h] : r.headers) EXPECT_EQ(h.find(value), std::string::npos) << topic << " header " << name;
            }
        }
    }
}

TEST_F(FetcherKafkaTest, RefusesToStartWhenTheDeliveriesWouldRestInClear) {
    start_ocean();
    std::string yaml = config_yaml();
    // Without the at_rest block (its keys and topics lines).
    const auto at = yaml.find("  at_rest:");
    yaml.erase(at, yaml.find('\n', yaml.find("topics: [", at)) + 1 - at);
    ASSERT_EQ(yaml.find("at_rest"), std::string::npos);
    auto reader = ConfigReader::from_string(yaml, "RELAY_FETCHER_TEST", [](const std::string&) {
        return std::optional<std::string>();
    });
    try {
        fetcher::load_config(reader);
        ADD_FAILURE() << "accepted a configuration that writes decrypted patient data in clear";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("kafka.at_rest"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace relay::test
