#include "router_test_util.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_future.hpp>

#include "relay/kafka/producer.hpp"
#include "test_support.hpp"

namespace relay::test {

namespace {
ocean_sim::OceanApiConfig updater_api_config() {
    ocean_sim::OceanApiConfig config;
    config.clients.push_back({"relay-updater", Secret::from_value("updater-secret")});
    config.signing_key = Secret::from_value("ocean-sim-signing-key-0123456789abcdef");
    return config;
}
http::ListenerConfig loopback() {
    http::ListenerConfig listener;
    listener.address = "127.0.0.1";
    listener.port = 0;
    return listener;
}
}  // namespace

SimulatedOcean::SimulatedOcean(const ocean_sim::WebhookPlan& plan)
    : api_(updater_api_config(), state_),
      sender_(ioc_.get_executor(), plan, observations_),
      api_server_(ioc_, loopback(), api_.handler()) {
    sender_.record_into(&state_);
    api_.on_applied([this](const ocean_sim::AppliedUpdate& applied) {
        if (applied.echo_update)
            boost::asio::co_spawn(
                sender_.executor(), sender_.echo(applied.referral_ref), boost::asio::detached);
    });
    api_server_.start();
    sent_ = boost::asio::co_spawn(sender_.executor(), sender_.run(), boost::asio::use_future);
    thread_ = std::thread([this] { ioc_.run(); });
}

SimulatedOcean::~SimulatedOcean() {
    api_server_.stop_accepting();
    ioc_.stop();
    thread_.join();
}

void SimulatedOcean::wait_sent() {
    sent_.wait();
}

std::uint16_t SimulatedOcean::api_port() const {
    return api_server_.port();
}

RouterTopics router_topics(const std::string& stem) {
    RouterTopics t;
    t.prefix = unique_topic("router." + stem) + ".";
    t.inbound = t.prefix + "ocean.inbound.v1";
    t.deliveries = t.prefix + "relay.deliveries.v1";
    t.events = t.prefix + "relay.events.v1";
    t.state = t.prefix + "relay.referrals.state.v1";
    return t;
}

std::string router_yaml(const RouterTopics& topics,
                        int partitions,
                        const std::string& group,
                        int admin_port,
                        const std::string& extra) {
    return fmt::format(R"(
service: {{log_level: warn}}
admin: {{address: 127.0.0.1, port: {}}}
kafka:
  bootstrap_servers: "{}"
  group_id: "{}"
  partitions: {}
  replication_factor: 1
  commit_interval: 100ms
  session_timeout: 6s
topics: {{prefix: "{}"}}
destinations:
  - {{id: intake, format: fhir-r4}}
  - {{id: simple, format: hub-json}}
routes:
  - {{site: "1234", external_service_id: INTAKE, destinations: [intake, simple]}}
{}
)",
                       admin_port,
                       kafka_bootstrap(),
                       group.empty() ? topics.prefix + "group" : group,
                       partitions,
                       topics.prefix,
                       extra);
}

std::pair<std::int32_t, std::int64_t> produce_record(
    const std::string& topic,
    const std::string& key,
    const std::string& value,
    const std::vector<std::pair<std::string, std::string>>& headers) {
    static kafka::Producer producer([] {
        kafka::ProducerConfig config;
        config.client.bootstrap_servers = kafka_bootstrap();
        config.client.client_id = "router-test";
        return config;
    }());
    std::vector<kafka::Header> kafka_headers;
    for (const auto& [name, v] : headers) kafka_headers.push_back({name, v});
    auto result = producer
                      .async_produce(topic,
                                     key,
                                     value,
                                     std::move(kafka_headers),
                                     std::chrono::seconds(30),
                                     boost::asio::use_future)
                      .get();
    EXPECT_TRUE(result.ok) << result.error.message;
    return {result.partition, result.offset};
}

namespace {
ocean_sim::ReferralSpec spec_of(std::uint64_t seed,
                                const std::string& site,
                                const std::string& listing_ref,
                                const std::string& external_service_id) {
    ocean_sim::ReferralSpec spec;
    spec.seed = seed;
    spec.site_number = site;
    spec.listing_ref = listing_ref;
    spec.external_service_id = external_service_id;
    spec.request_url = "https://relay.example/ocean/" + site + "/fhir";
    return spec;
}
}  // namespace

ocean_sim::GeneratedReferral generated_bundle(std::uint64_t seed,
                                              const std::string& site,
                                              const std::string& listing_ref,
                                              const std::string& external_service_id) {
    return ocean_sim::generate(spec_of(seed, site, listing_ref, external_service_id));
}

ocean_sim::GeneratedReferral echo_bundle(std::uint64_t seed,
                                         const std::string& site,
                                         const std::string& listing_ref,
                                         const std::string& external_service_id,
                                         const std::string& task_status) {
    ocean_sim::ReferralSpec spec =
        ocean_sim::resend_as_update(spec_of(seed, site, listing_ref, external_service_id));
    spec.receiver_progress = ocean_sim::ReceiverProgress{task_status, "", {}};
    return ocean_sim::generate(spec);
}

std::vector<std::pair<std::string, std::string>> inbound_headers(const ocean_sim::GeneratedReferral& bundle,
                                                                 const std::string& site) {
    return {{"kind", "fhir"},
            {"event", bundle.event},
            {"referral-ref", bundle.referral_ref},
            {"site", site},
            {"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}};
}

std::string ocean_token(http::BlockingClient& ocean) {
    auto token =
        ocean.post("/svc/oauth2/token",
                   "grant_type=client_credentials&client_id=relay-updater&client_secret=updater-secret",
                   "application/x-www-form-urlencoded");
    EXPECT_EQ(token.result_int(), 200) << token.body();
    const auto at = token.body().find("\"access_token\":\"") + 16;
    return token.body().substr(at, token.body().find('"', at) - at);
}

int post_update(http::BlockingClient& ocean, const std::string& token, const std::string& bundle) {
    auto response = ocean.post("/svc/fhir/v1/$process-messages",
                               bundle,
                               "application/fhir+json",
                               {{"Authorization", "Bearer " + token}});
    return response.result_int();
}

std::string task_update_bundle(const std::string& referral_ref, const std::string& status) {
    const std::string reason =
        status == "rejected" ? R"(,"statusReason":{"text":"Outside our catchment area"})" : std::string();
    return fmt::format(
        R"({{"resourceType":"Bundle","type":"message","entry":[)"
        R"({{"fullUrl":"urn:uuid:2b1f0000-0000-4000-8000-000000000001","resource":{{"resourceType":"MessageHeader",)"
        R"("extension":[{{"url":"http://ehealthontario.ca/fhir/StructureDefinition/ext-referral-identifier",)"
        R"("valueIdentifier":{{"system":"https://ocean.cognisantmd.com/svc/fhir/v1/NamingSystem/id-ereferral-reference","value":"{0}"}}}}],)"
        R"("eventCoding":{{"system":"https://ehealthontario.ca/fhir/CodeSystem/message-event-code","code":"notify-update-process-request"}},)"
        R"("sender":{{"reference":"Organization/ocean-relay"}},"source":{{"name":"ocean-relay","endpoint":"https://relay.example/fhir"}},)"
        R"("focus":[{{"reference":"urn:uuid:7c4f0000-0000-4000-8000-000000000002"}}]}}}},)"
        R"({{"fullUrl":"urn:uuid:7c4f0000-0000-4000-8000-000000000002","resource":{{"resourceType":"Task","status":"{1}"{2},"intent":"order",)"
        R"("code":{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/v3-TaskOutcome","code":"process-request"}}]}}}}}}]}})",
        referral_ref,
        status,
        reason);
}

}  // namespace relay::test
