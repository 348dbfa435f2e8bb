// The delivery service on the real broker, in-process, against pos-sim on loopback: an outage and its
// recovery (order per referral, retry spacing), permanent failures to the DLQ, a slow destination beside
// a fast one, parked keys surviving a restart, OAuth2 token expiry and 429 throttling mid-stream.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <limits>
#include <set>
#include <thread>

#include "delivery_test_util.hpp"
#include "relay/core/encoding.hpp"
#include "relay/core/log.hpp"
#include "relay/hub/update.hpp"
#include "relay/kafka/at_rest.hpp"
#include "service.hpp"

namespace relay::test {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

/// The service on its own thread, stopped (as by SIGTERM) when it goes out of scope.
class RunningDelivery {
   public:
    explicit RunningDelivery(const std::string& yaml) {
        auto reader = ConfigReader::from_string(
            yaml, "RELAY", [](const std::string&) { return std::optional<std::string>(); });
        auto config = delivery_service::load_service_config(reader);
        log::set_level(config.log_level);
        service_ = std::make_unique<delivery_service::DeliveryService>(std::move(config));
        thread_ = std::thread([this] { exit_code_ = service_->run(); });
    }
    ~RunningDelivery() { stop(); }
    int stop() {
        if (thread_.joinable()) {
            service_->stop();
            thread_.join();
        }
        return exit_code_;
    }
    delivery_service::DeliveryService& service() { return *service_; }

   private:
    std::unique_ptr<delivery_service::DeliveryService> service_;
    std::thread thread_;
    int exit_code_ = -1;
};

std::string destination(const std::string& id, const std::string& url, const std::string& more = "") {
    return fmt::format(
        "  - id: {}\n    url: {}\n    timeout: 3s\n"
        "    breaker: {{consecutive_failures: 100000, minimum_calls: 100000}}\n"
        "    retry: {{initial: 200ms, max_delay: 800ms, multiplier: 2, max_attempts: 100, max_age: 5m}}\n{}",
        id,
        url,
        more);
}

std::int64_t int_of(const json::value& v) {
    return v.is_int64() ? v.as_int64() : static_cast<std::int64_t>(v.to_number<double>());
}

/// Events per idempotency key, in the order they were written.
std::map<std::string, std::vector<json::object>> events_by_key(const std::vector<ConsumedRecord>& events) {
    std::map<std::string, std::vector<json::object>> out;
    for (const auto& e : events) {
        auto body = json::parse(e.value).as_object();
        out[std::string(body.at("idempotency_key").as_string())].push_back(std::move(body));
    }
    return out;
}

/// Every event so far (the topic read to its end, waiting a moment for stragglers).
std::vector<ConsumedRecord> all_events(const DeliveryTopics& topics) {
    return read_topic(topics.events, std::numeric_limits<std::size_t>::max(), 1500ms);
}

std::size_t count_outcome(const std::vector<ConsumedRecord>& events, const std::string& outcome) {
    return static_cast<std::size_t>(std::count_if(events.begin(), events.end(), [&](const ConsumedRecord& e) {
        return e.header("outcome") == outcome;
    }));
}

TEST(DeliveryKafka, AnOutageThenRecoveryDeliversEverythingInOrderWithRetriesSpacedByThePolicy) {
    PosSimServer pos("  - name: flaky\n    faults: [{kind: down, status: 500, delay: 3s}]");
    const auto topics = delivery_topics("outage");
    RunningDelivery delivery(delivery_yaml(topics, destination("flaky", pos.url("flaky"))));
    const auto sent = produce_referrals(topics, "flaky", "outage", 15, 3);

    ASSERT_TRUE(
        eventually([&] { return check_delivered_in_order(received(pos.sim(), "flaky"), sent).empty(); }, 60s))
        << check_delivered_in_order(received(pos.sim(), "flaky"), sent);
    const auto got = received(pos.sim(), "flaky");
    EXPECT_EQ(got.size(), sent.size());  // nothing else arrived

    // Every record has exactly one "delivered"; every retry was scheduled within the policy's ceiling
    // and the next attempt came no earlier than its due time.
    std::vector<ConsumedRecord> events;
    ASSERT_TRUE(eventually(
        [&] { return count_outcome(events = all_events(topics), "delivered") >= sent.size(); }, 30s));
    const auto by_key = events_by_key(events);
    std::size_t retries = 0;
    for (const auto& r : sent) {
        const auto it = by_key.find(r.idempotency_key);
        ASSERT_NE(it, by_key.end()) << r.idempotency_key;
        const auto& list = it->second;
        int delivered = 0;
        for (std::size_t i = 0; i < list.size(); ++i) {
            const std::string outcome(list[i].at("outcome").as_string());
            if (outcome == "delivered") ++delivered;
            if (outcome != "retry-scheduled") continue;
            ++retries;
            EXPECT_LE(int_of(list[i].at("retry_in_ms")), 800) << "beyond the policy's max_delay";
            // The next attempt's outcome (parked records have no attempt of their own in between).
            for (std::size_t j = i + 1; j < list.size(); ++j) {
                const std::string next(list[j].at("outcome").as_string());
                if (next != "delivered" && next != "retry-scheduled") continue;
                EXPECT_GE(std::string(list[j].at("at").as_string()),
                          std::string(list[i].at("due_at").as_string()))
                    << r.idempotency_key << ": retried before its due time";
                break;
            }
        }
        EXPECT_EQ(delivered, 1) << r.idempotency_key;
    }
    EXPECT_GT(retries, 0U) << "the outage should have caused retries";
    // While a referral's first event was waiting in a tier, its later events were parked behind it.
    EXPECT_GT(count_outcome(events, "parked"), 0U);
    EXPECT_EQ(delivery.stop(), 0);
}

TEST(DeliveryKafka, APermanentFailureGoesToTheDlqWithReasonStatusAndExcerptAndDoesNotBlockTheReferral) {
    PosSimServer pos("  - name: rejecting\n    faults: [{kind: status, status: 400}]\n  - name: open");
    const auto topics = delivery_topics("dlq");
    RunningDelivery delivery(delivery_yaml(
        topics, destination("rejecting", pos.url("rejecting")) + destination("open", pos.url("open"))));
    const auto rejected = produce_referrals(topics, "rejecting", "dlq", 3, 2);
    const auto fine = produce_referrals(topics, "open", "fine", 3, 1);

    const auto dlq = read_topic(topics.dlq, rejected.size(), 30s);
    ASSERT_EQ(dlq.size(), rejected.size());
    std::set<std::string> keys;
    for (const auto& d : dlq) {
        keys.insert(d.header("idempotency-key"));
        EXPECT_EQ(d.header("dlq-status"), "400");
        EXPECT_FALSE(d.header("dlq-reason").empty());
        EXPECT_NE(d.header("dlq-excerpt").find("400"), std::string::npos) << d.header("dlq-excerpt");
        EXPECT_EQ(d.header("attempt"), "1") << "a permanent failure is not retried";
        EXPECT_FALSE(d.header("dlq-at").empty());
        EXPECT_EQ(d.key, "rejecting|" + d.header("referral-ref"));
        EXPECT_NE(d.value.find("\"referral\""), std::string::npos) << "the payload is kept for replay";
    }
    for (const auto& r : rejected) EXPECT_TRUE(keys.contains(r.idempotency_key)) << r.idempotency_key;
    ASSERT_TRUE(eventually([&] { return received(pos.sim(), "open").size() == fine.size(); }, 30s));
    std::vector<ConsumedRecord> events;
    EXPECT_TRUE(eventually(
        [&] { return (events = all_events(topics)).size() >= rejected.size() + fine.size(); }, 30s));
    EXPECT_EQ(count_outcome(events, "dead-lettered"), rejected.size());
    EXPECT_EQ(count_outcome(events, "delivered"), fine.size());
}

TEST(DeliveryKafka, ARecordSealedAtRestThatCannotBeOpenedIsDeadLetteredNotSent) {
    PosSimServer pos("  - name: open");
    const auto topics = delivery_topics("sealed");
    RunningDelivery delivery(delivery_yaml(topics, destination("open", pos.url("open"))));  // no at_rest keys
    std::vector<kafka::AtRest::Key> keys;
    keys.push_back({"k1", Secret::from_value("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")});
    kafka::ProducerConfig config;
    config.client.bootstrap_servers = kafka_bootstrap();
    config.client.at_rest =
        std::make_shared<const kafka::AtRest>(std::move(keys), "", std::vector<std::string>{"*"}, "kafka.at_rest");
    kafka::Producer sealing(config);
    const std::string body = R"({"referral":{"patient":"Sealedsurname"}})";
    const auto ack = sealing
                         .async_produce(topics.deliveries, "open|sealed-1", body,
                                        {{"destination", "open"}, {"referral-ref", "sealed-1"}, {"attempt", "0"},
                                         {"idempotency-key", "sealed-1/0"}, {"content-type", "application/json"}},
                                        30s, boost::asio::use_future)
                         .get();
    ASSERT_TRUE(ack.ok) << ack.error.message;
    produce_delivery(topics, {"open", "clear-1", "add-service-request", "clear-1/0", R"({"referral":{}})"});

    const auto dlq = read_topic(topics.dlq, 1, 30s);
    ASSERT_EQ(dlq.size(), 1U);
    EXPECT_EQ(dlq[0].header("dlq-reason"), "sealed at rest");
    EXPECT_EQ(dlq[0].header("relay-at-rest"), "k1") << "dead-lettered sealed, to be replayed with the keys";
    EXPECT_EQ(dlq[0].value.find("Sealedsurname"), std::string::npos);
    ASSERT_TRUE(eventually([&] { return received(pos.sim(), "open").size() == 1; }, 30s));
    const auto got = received(pos.sim(), "open");
    EXPECT_TRUE(got.contains("clear-1/0"));
    EXPECT_FALSE(got.contains("sealed-1/0")) << "ciphertext was sent as the referral";
    EXPECT_EQ(delivery.stop(), 0);
}

TEST(DeliveryKafka, ANewReferralDeliveredToAnAcknowledgingDestinationQueuesOneReceivedUpdate) {
    PosSimServer pos("  - name: acking\n  - name: quiet");
    const auto topics = delivery_topics("received");
    RunningDelivery delivery(
        delivery_yaml(topics,
                      destination("acking", pos.url("acking"), "    ocean_received_task: true\n") +
                          destination("quiet", pos.url("quiet"))));
    // Two events per referral (the new referral, then an update): only the first is acknowledged, and
    // only for the destination configured so.
    const auto acking = produce_referrals(topics, "acking", "ack", 3, 2);
    const auto quiet = produce_referrals(topics, "quiet", "quiet", 2, 1);
    ASSERT_TRUE(eventually([&] { return received(pos.sim(), "acking").size() == acking.size(); }, 30s));
    ASSERT_TRUE(eventually([&] { return received(pos.sim(), "quiet").size() == quiet.size(); }, 30s));

    const auto updates = read_topic(topics.prefix + "relay.updates.v1", 3, 20s);
    ASSERT_EQ(updates.size(), 3U);
    std::set<std::string> refs;
    for (const auto& u : updates) {
        const auto parsed = hub::parse_update(u.value);
        ASSERT_TRUE(parsed.ok()) << parsed.error_text();
        EXPECT_EQ(parsed.update->action, hub::Action::kReceived);
        EXPECT_EQ(parsed.update->referral_ref, u.key) << "keyed by referral, like every update";
        EXPECT_EQ(parsed.update->site, "1234");
        EXPECT_EQ(parsed.update->update_id, "received-" + hex_encode(sha256("acking|" + u.key)).substr(0, 32))
            << "derived from (destination, referral): a re-delivery repeats the same update";
        EXPECT_EQ(u.header("update-id"), parsed.update->update_id);
        EXPECT_EQ(u.header("hub-system"), "delivery:acking");
        EXPECT_EQ(u.header("action"), "received");
        refs.insert(u.key);
    }
    EXPECT_EQ(refs.size(), 3U);
    for (const auto& ref : refs) EXPECT_EQ(ref.rfind("ack", 0), 0U) << ref;
}

TEST(DeliveryKafka, ASlowDestinationDoesNotHoldBackAFastOne) {
    PosSimServer pos("  - name: slow\n    slow_accept: 500ms\n  - name: fast");
    const auto topics = delivery_topics("isolation");
    RunningDelivery delivery(
        delivery_yaml(topics,
                      destination("slow", pos.url("slow"), "    max_concurrency: 2\n") +
                          destination("fast", pos.url("fast"), "    max_concurrency: 8\n")));
    // The slow destination's records first: a shared queue would put every fast record behind them.
    const auto slow = produce_referrals(topics, "slow", "slow", 40, 1);
    const auto start = std::chrono::steady_clock::now();
    const auto fast = produce_referrals(topics, "fast", "fast", 100, 1);
    ASSERT_TRUE(eventually([&] { return received(pos.sim(), "fast").size() == fast.size(); }, 60s));
    const auto fast_done = std::chrono::steady_clock::now() - start;
    const auto slow_when_fast_done = received(pos.sim(), "slow").size();
    ASSERT_TRUE(eventually([&] { return received(pos.sim(), "slow").size() == slow.size(); }, 90s));
    // The bound: the fast destination's 100 records are all delivered within 8 s of being written,
    // while the slow one (2 at a time, 0.5 s each: at least 10 s for 40) is still busy.
    EXPECT_LT(fast_done, 8s) << std::chrono::duration_cast<std::chrono::milliseconds>(fast_done).count()
                             << " ms";
    EXPECT_LT(slow_when_fast_done, slow.size());
    EXPECT_TRUE(check_delivered_in_order(received(pos.sim(), "slow"), slow).empty());
}

TEST(DeliveryKafka, ParkedKeysSurviveARestartAndKeepTheirOrder) {
    PosSimServer pos("  - name: down\n    faults: [{kind: down, status: 503, delay: 6s}]");
    const auto topics = delivery_topics("restart");
    const std::string yaml = delivery_yaml(topics, destination("down", pos.url("down")));
    std::vector<DeliveryRecord> sent;
    {
        RunningDelivery first(yaml);
        sent = produce_referrals(topics, "down", "restart", 5, 3);
        // Every referral's later events parked behind its first (which waits in a tier).
        ASSERT_TRUE(eventually([&] { return count_outcome(all_events(topics), "parked") >= 10; }, 30s));
        EXPECT_EQ(first.stop(), 0);
    }
    RunningDelivery second(yaml);
    ASSERT_TRUE(
        eventually([&] { return check_delivered_in_order(received(pos.sim(), "down"), sent).empty(); }, 60s))
        << check_delivered_in_order(received(pos.sim(), "down"), sent);
    for (const auto& [key, r] : received(pos.sim(), "down"))
        EXPECT_EQ(r.times, 1) << key << " delivered twice";
}

TEST(DeliveryKafka, ARebalanceMovesParkedKeysToTheNewOwnerInOrder) {
    PosSimServer pos("  - name: down\n    faults: [{kind: down, status: 503, delay: 8s}]");
    const auto topics = delivery_topics("rebalance");
    const std::string yaml = delivery_yaml(topics, destination("down", pos.url("down")));
    RunningDelivery first(yaml);
    const auto sent = produce_referrals(topics, "down", "moved", 12, 3);
    ASSERT_TRUE(eventually([&] { return count_outcome(all_events(topics), "parked") >= 24; }, 30s));
    // A second member joins: the cooperative rebalance hands it some partitions, whose parked keys it
    // restores from the changelog; then the first leaves and the second owns everything.
    RunningDelivery second(yaml);
    std::this_thread::sleep_for(3s);
    EXPECT_EQ(first.stop(), 0);
    ASSERT_TRUE(
        eventually([&] { return check_delivered_in_order(received(pos.sim(), "down"), sent).empty(); }, 60s))
        << check_delivered_in_order(received(pos.sim(), "down"), sent);
    for (const auto& [key, r] : received(pos.sim(), "down"))
        EXPECT_EQ(r.times, 1) << key << " delivered twice";
}

TEST(DeliveryKafka, OAuthTokenExpiryAndThrottlingMidStreamLoseNothing) {
    PosSimServer pos(
        "  - name: oauth\n"
        "    auth: {scheme: oauth2, clients: [{client_id: relay, client_secret: {value: cs}}]}\n"
        "    faults: [{kind: expired_token, probability: 0.2}]\n"
        "  - name: throttled\n"
        "    faults: [{kind: status, status: 429, retry_after: 1s, probability: 0.3}]");
    const auto topics = delivery_topics("auth");
    const std::string oauth = fmt::format(
        "    auth: {{scheme: oauth2, token_url: {}/oauth2/token, client_id: relay, client_secret: {{value: "
        "cs}}}}\n",
        pos.url("oauth"));
    RunningDelivery delivery(delivery_yaml(
        topics,
        destination("oauth", pos.url("oauth"), oauth) + destination("throttled", pos.url("throttled"))));
    const auto a = produce_referrals(topics, "oauth", "auth", 10, 2);
    const auto b = produce_referrals(topics, "throttled", "throttle", 10, 2);
    ASSERT_TRUE(
        eventually([&] { return check_delivered_in_order(received(pos.sim(), "oauth"), a).empty(); }, 60s))
        << check_delivered_in_order(received(pos.sim(), "oauth"), a);
    ASSERT_TRUE(eventually(
        [&] { return check_delivered_in_order(received(pos.sim(), "throttled"), b).empty(); }, 60s))
        << check_delivered_in_order(received(pos.sim(), "throttled"), b);
    // A 429's Retry-After is a floor under the retry delay.
    for (const auto& [key, list] : events_by_key(all_events(topics)))
        for (const auto& e : list)
            if (e.at("outcome").as_string() == "retry-scheduled" && int_of(e.at("status")) == 429) {
                EXPECT_GE(int_of(e.at("retry_in_ms")), 1000) << key;
            }
}

}  // namespace
}  // namespace relay::test
