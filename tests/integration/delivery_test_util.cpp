#include "delivery_test_util.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/asio/use_future.hpp>
#include <cstdlib>

#include "relay/core/config.hpp"
#include "relay/kafka/producer.hpp"

namespace relay::test {

PosSimServer::PosSimServer(const std::string& routes_yaml) {
    const std::string yaml = fmt::format(R"(
listener: {{address: 127.0.0.1, port: 0}}
admin: {{address: 127.0.0.1, port: 0}}
token_signing_key: {{value: "pos-sim-signing-key-0123456789abcdef"}}
routes:
{}
)",
                                         routes_yaml);
    auto parse = [&] {
        auto reader = ConfigReader::from_string(
            yaml, "RELAY_POS", [](const std::string&) { return std::optional<std::string>(); });
        return pos_sim::load_pos_sim_config(reader);
    };
    sim_ = std::make_unique<pos_sim::PosSim>(parse());
    server_ = std::make_unique<http::Server>(ioc_, parse().listener, sim_->handler());
    server_->start();
    thread_ = std::thread([this] { ioc_.run(); });
}

PosSimServer::~PosSimServer() {
    server_->stop_accepting();
    ioc_.stop();
    thread_.join();
}

std::string PosSimServer::url(const std::string& route) const {
    return fmt::format("http://127.0.0.1:{}/{}", server_->port(), route);
}

DeliveryTopics delivery_topics(const std::string& stem) {
    DeliveryTopics t;
    t.prefix = unique_topic("delivery." + stem) + ".";
    t.deliveries = t.prefix + "relay.deliveries.v1";
    t.dlq = t.prefix + "relay.deliveries.dlq.v1";
    t.events = t.prefix + "relay.events.v1";
    t.parked = t.prefix + "relay.deliveries.parked.v1";
    return t;
}

std::string delivery_yaml(const DeliveryTopics& topics,
                          const std::string& destinations_yaml,
                          const std::string& tiers,
                          const std::string& group,
                          int admin_port,
                          const std::string& extra) {
    const std::string group_id = group.empty() ? topics.prefix + "group" : group;
    return fmt::format(
        R"(
service: {{log_level: {}, destination_queue_limit: 50}}
admin: {{address: 127.0.0.1, port: {}}}
kafka:
  bootstrap_servers: "{}"
  group_id: {}
  tier_group_id: {}-tiers
  partitions: 3
  replication_factor: 1
  commit_interval: 200ms
  session_timeout: 6s
  produce_timeout: 20s
topics:
  prefix: "{}"
retry_tiers: {}
shutdown: {{grace_period: 5s}}
destinations:
{}
{}
)",
        std::getenv("RELAY_TEST_LOG_LEVEL") != nullptr ? std::getenv("RELAY_TEST_LOG_LEVEL") : "warn",
        admin_port,
        kafka_bootstrap(),
        group_id,
        group_id,
        topics.prefix,
        tiers,
        destinations_yaml,
        extra);
}

namespace {

kafka::Producer& test_producer() {
    static kafka::Producer producer([] {
        kafka::ProducerConfig config;
        config.client.bootstrap_servers = kafka_bootstrap();
        config.client.client_id = "delivery-test";
        return config;
    }());
    return producer;
}

}  // namespace

void produce_delivery(const DeliveryTopics& topics, const DeliveryRecord& r) {
    std::vector<kafka::Header> headers{{"destination", r.destination},
                                       {"format", "hub-json"},
                                       {"content-type", "application/json"},
                                       {"idempotency-key", r.idempotency_key},
                                       {"referral-ref", r.referral_ref},
                                       {"event", r.event},
                                       {"site", "1234"},
                                       {"attempt", "0"},
                                       {"source", "test/0/0"}};
    auto result = test_producer()
                      .async_produce(topics.deliveries,
                                     r.destination + "|" + r.referral_ref,
                                     r.body,
                                     std::move(headers),
                                     std::chrono::seconds(30),
                                     boost::asio::use_future)
                      .get();
    ASSERT_TRUE(result.ok) << result.error.message;
}

std::vector<DeliveryRecord> produce_referrals(const DeliveryTopics& topics,
                                              const std::string& destination,
                                              const std::string& ref_stem,
                                              int count,
                                              int events_each) {
    std::vector<DeliveryRecord> sent;
    const char* events[] = {"add-service-request", "notify-update-service-request", "revoke-service-request"};
    for (int e = 0; e < events_each; ++e) {
        for (int i = 0; i < count; ++i) {
            DeliveryRecord r{destination,
                             fmt::format("{}-{}", ref_stem, i),
                             events[std::min(e, 2)],
                             fmt::format("{}-{}/{}", ref_stem, i, e),
                             fmt::format(R"({{"referral":"{}-{}","n":{}}})", ref_stem, i, e)};
            produce_delivery(topics, r);
            sent.push_back(std::move(r));
        }
    }
    return sent;
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return condition();
}

std::map<std::string, Received> received(pos_sim::PosSim& sim, const std::string& route) {
    std::map<std::string, Received> out;
    for (const auto& d : sim.deliveries()) {
        if (d.route != route) continue;
        auto& r = out[d.idempotency_key];
        if (r.times++ == 0) r.first_sequence = d.sequence;
    }
    return out;
}

std::string check_delivered_in_order(const std::map<std::string, Received>& got,
                                     const std::vector<DeliveryRecord>& sent) {
    std::map<std::string, std::uint64_t> last_of_referral;
    for (const auto& r : sent) {  // sent in event order per referral
        const auto it = got.find(r.idempotency_key);
        if (it == got.end()) return "never delivered: " + r.idempotency_key;
        auto& last = last_of_referral[r.referral_ref];
        if (it->second.first_sequence < last)
            return fmt::format("{} arrived (#{}) before an earlier event of its referral (#{})",
                               r.idempotency_key,
                               it->second.first_sequence,
                               last);
        last = it->second.first_sequence;
    }
    return "";
}

std::vector<ConsumedRecord> read_topic(const std::string& topic,
                                       std::size_t at_least,
                                       std::chrono::milliseconds timeout) {
    return consume_all(kafka_bootstrap(), topic, at_least, timeout);
}

}  // namespace relay::test
