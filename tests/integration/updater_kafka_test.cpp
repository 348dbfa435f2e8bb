// The updater process on the real broker (RELAY_TEST_KAFKA), in-process, with ocean-sim on loopback as
// Ocean. The router's changelog is simulated: each referral's latest bundle (real Ocean fixtures, the ref
// rewritten for more referrals) is produced as `<ref>#bundle` to relay.referrals.state.v1, on the
// partition its inbound record took; updates are produced to relay.updates.v1.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <mutex>
#include <sstream>
#include <thread>

#include "commands.hpp"
#include "ocean_api.hpp"
#include "referral_state.hpp"
#include "relay/http/client.hpp"
#include "relay/http/server.hpp"
#include "relay/kafka/producer.hpp"
#include "relay/transform/pushed.hpp"
#include "service.hpp"
#include "test_support.hpp"
#include "updater_test_util.hpp"

namespace relay::test {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace json = boost::json;
using namespace std::chrono_literals;
using ocean_sim::Folder;

constexpr const char* kClientId = "updater-it-client-0123456789abcdef";
constexpr const char* kClientSecret = "updater-it-secret-0123456789abcdef";

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string listing_of(const std::string& bundle) {
    const json::value b = json::parse(bundle);
    for (const auto& e : b.at("entry").as_array()) {
        const auto& r = e.at("resource").as_object();
        if (r.at("resourceType") != "PractitionerRole" || !r.contains("identifier")) continue;
        for (const auto& id : r.at("identifier").as_array())
            if (std::string(id.at("system").as_string()).ends_with("/id-referral-target-reference"))
                return std::string(id.at("value").as_string());
    }
    return {};
}

asio::awaitable<http::Response> fixed_answer(int status, unsigned version) {
    http::Response res{static_cast<bhttp::status>(status), version};
    res.set(bhttp::field::content_type, "application/fhir+json");
    res.body() =
        R"({"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"transient","diagnostics":"down"}]})";
    co_return res;
}

/// ocean-sim's API on loopback, with a switch that makes it answer 503 (down) and a clock that tests
/// move forward (expiring the tokens it issued).
class OceanSimServer {
   public:
    OceanSimServer() {
        ocean_sim::OceanApiConfig config;
        config.clients.push_back({kClientId, Secret::from_value(kClientSecret)});
        config.signing_key = Secret::from_value("updater-it-signing-key-0123456789");
        config.clock = [this] { return system_now() + std::chrono::seconds(clock_offset_s.load()); };
        api_ = std::make_unique<ocean_sim::OceanApi>(std::move(config), state);
        http::Handler inner = api_->handler();
        http::ListenerConfig listener;
        listener.name = "ocean-sim";
        listener.address = "127.0.0.1";
        listener.port = 0;
        server_ = std::make_unique<http::Server>(
            ioc_, listener, [this, inner](http::Request& req, const http::RequestContext& ctx) {
                const bool update =
                    std::string_view(req.target()).starts_with("/svc/fhir/v1/$process-messages");
                if (update) {
                    std::lock_guard lock(mutex_);
                    received_ms_.push_back(now_ms());
                    ++calls;
                }
                const int status = down_status.load();
                if (status != 0 && update) return fixed_answer(status, req.version());
                return inner(req, ctx);
            });
        server_->start();
        thread_ = std::thread([this] { ioc_.run(); });
    }
    ~OceanSimServer() {
        ioc_.stop();
        thread_.join();
    }
    [[nodiscard]] std::string base_url() const { return fmt::format("http://127.0.0.1:{}", server_->port()); }
    void add(const std::string& ref, const std::string& body) {
        ocean_sim::GeneratedReferral sent;
        sent.referral_ref = ref;
        sent.body = body;
        sent.event = "add-service-request";
        state.record_sent(sent, listing_of(body), "1234");
    }
    std::vector<std::int64_t> received_ms() {
        std::lock_guard lock(mutex_);
        return received_ms_;
    }
    [[nodiscard]] const ocean_sim::UpdateLog& updates() const { return api_->updates(); }

    ocean_sim::ReferralState state;
    std::atomic<int> down_status{0};
    std::atomic<std::int64_t> clock_offset_s{0};
    std::atomic<int> calls{0};

   private:
    std::unique_ptr<ocean_sim::OceanApi> api_;
    asio::io_context ioc_{1};
    std::unique_ptr<http::Server> server_;
    std::thread thread_;
    std::mutex mutex_;
    std::vector<std::int64_t> received_ms_;
};

kafka::Producer& producer() {
    static kafka::Producer p([] {
        kafka::ProducerConfig config;
        config.client.bootstrap_servers = kafka_bootstrap();
        config.client.client_id = "updater-test";
        return config;
    }());
    return p;
}

kafka::DeliveryResult produce(const std::string& topic,
                              std::int32_t partition,
                              const std::string& key,
                              const std::string& value,
                              std::vector<kafka::Header> headers = {}) {
    auto r = producer()
                 .async_produce_to(topic, partition, key, value, std::move(headers), 30s, asio::use_future)
                 .get();
    EXPECT_TRUE(r.ok) << r.error.message;
    return r;
}

class UpdaterKafka : public ::testing::Test {
   protected:
    void SetUp() override {
        prefix_ = unique_topic("updater") + ".";
        updates_ = prefix_ + "relay.updates.v1";
        dlq_ = prefix_ + "relay.updates.dlq.v1";
        state_ = prefix_ + "relay.referrals.state.v1";
        inbound_ = prefix_ + "ocean.inbound.v1";
        events_ = prefix_ + "relay.events.v1";
        fixture_ = updater_test::fixture("ereferral_back_pain.bundle.json");
        fixture_ref_ = updater_test::referral_ref_of(fixture_);
    }
    void TearDown() override { stop_updater(); }

    std::string yaml(const std::string& extra = "") const {
        return fmt::format(R"(
service: {{log_level: {}, bundle_wait: {}, dlq_depth_interval: 200ms}}
admin: {{address: 127.0.0.1, port: 0}}
kafka:
  bootstrap_servers: "{}"
  group_id: {}group
  partitions: 3
  replication_factor: 1
  commit_interval: 200ms
  session_timeout: 6s
  produce_timeout: 20s
topics: {{prefix: "{}"}}
ocean:
  base_url: {}
  timeout: 3s
  connect_timeout: 1s
  sites:
    - {{site: "1234", client_id: {}, client_secret: {{value: {}}}, token_auth: form}}
    - {{site: "5678", client_id: {}, client_secret: {{value: {}}}, token_auth: form}}
retry: {{initial: 100ms, max_delay: 400ms, max_age: 1h}}
shutdown: {{grace_period: 5s}}
{}
)",
                           std::getenv("RELAY_TEST_LOG_LEVEL") ? std::getenv("RELAY_TEST_LOG_LEVEL") : "warn",
                           bundle_wait_,
                           kafka_bootstrap(),
                           prefix_,
                           prefix_,
                           ocean_.base_url(),
                           kClientId,
                           kClientSecret,
                           kClientId,
                           kClientSecret,
                           extra);
    }

    void start_updater(const std::string& extra = "") {
        auto reader = ConfigReader::from_string(yaml(extra), "RELAY_TEST_NONE");
        service_ = std::make_unique<updater::UpdaterService>(updater::load_service_config(reader));
        thread_ = std::thread([this] { exit_code_ = service_->run(); });
    }
    void stop_updater() {
        if (!service_) return;
        service_->stop();
        thread_.join();
        service_.reset();
    }

    /// A referral like the fixture under another ref; registered in ocean-sim unless `in_ocean` is false.
    std::string referral(const std::string& suffix, bool in_ocean = true) {
        const std::string ref = fixture_ref_ + "-" + suffix;
        std::string body = fixture_;
        for (std::size_t at = body.find(fixture_ref_); at != std::string::npos;
             at = body.find(fixture_ref_, at + ref.size()))
            body.replace(at, fixture_ref_.size(), ref);
        bodies_[ref] = body;
        if (in_ocean) ocean_.add(ref, body);
        set_bundle(ref, body);
        return ref;
    }

    /// Writes `<ref>#bundle` as the router does: on the partition the referral's inbound record takes.
    void set_bundle(const std::string& ref, const std::string& bundle) {
        if (!partitions_.contains(ref)) {
            // The inbound record the router would have read (kind ocean-webhook; not relay-pushed).
            partitions_[ref] =
                produce(inbound_, kafka::Producer::kAnyPartition, ref, "{}", {{"kind", "test-inbound"}})
                    .partition;
        }
        produce(state_, partitions_[ref], ref + "#bundle", bundle);
    }

    void update(const std::string& ref, const std::string& id, const std::string& members) {
        produce(updates_,
                kafka::Producer::kAnyPartition,
                ref,
                updater_test::request(id, ref, members),
                {{"update-id", id}, {"hub-system", "test"}});
    }

    std::vector<ConsumedRecord> events(std::size_t n, std::chrono::milliseconds timeout = 30s) {
        return consume_all(kafka_bootstrap(), events_, n, timeout);
    }

    OceanSimServer ocean_;
    std::string prefix_, updates_, dlq_, state_, inbound_, events_;
    std::string fixture_, fixture_ref_;
    std::map<std::string, std::string> bodies_;
    std::map<std::string, std::int32_t> partitions_;
    std::unique_ptr<updater::UpdaterService> service_;
    std::thread thread_;
    int exit_code_ = -1;
    std::string bundle_wait_ = "3s";
};

TEST_F(UpdaterKafka, EveryActionLandsInOceanWithItsFolderAfterItsRelayPushedRecord) {
    start_updater();
    const std::string ref = referral("all");
    struct Step {
        std::string name, members;
        Folder folder;
    };
    const std::vector<Step> steps = {
        {"accept", R"("action":"accept","import_to_emr":true)", Folder::kPendingBooking},
        {"instructions",
         R"("action":"booking_instructions","instructions":"Call us to book")",
         Folder::kPendingBooking},
        {"book",
         R"("action":"book","appointment":{"start":"2026-12-01T09:30:00-05:00","end":"2026-12-01T10:00:00-05:00","confirmed":false})",
         Folder::kBookingUnconfirmed},
        {"change",
         R"("action":"change_booking","appointment":{"start":"2026-12-02T13:00:00-05:00","end":"2026-12-02T13:45:00-05:00","confirmed":true})",
         Folder::kBookingConfirmed},
        {"cancel", R"("action":"cancel_booking","reason":"Clinic closed")", Folder::kPendingBooking},
        {"message", R"("action":"message","text":"Please send the imaging report")", Folder::kPendingBooking},
        {"decline", R"("action":"decline","reason":"Outside our catchment area")", Folder::kDeclined},
        {"reopen", R"("action":"reopen")", Folder::kPendingBooking},
        {"switch", R"("action":"switch_type","econsult":true)", Folder::kPendingBooking},
        {"complete", R"("action":"complete")", Folder::kCompleted},
        {"forward",
         R"("action":"forward","listing_ref":"lakeside_clinic-11112222","reason":"Better fit")",
         Folder::kCompleted},
    };
    std::string latest = bodies_[ref];
    std::size_t n = 0;
    for (const auto& step : steps) {
        SCOPED_TRACE(step.name);
        const std::string id = "it-" + step.name;
        update(ref, id, step.members);
        ++n;
        const auto got = events(n);
        ASSERT_EQ(got.size(), n);
        EXPECT_EQ(got.back().header("outcome"), "update-sent");
        const json::value e = json::parse(got.back().value);
        EXPECT_EQ(e.at("update_id").as_string(), id);
        EXPECT_EQ(e.at("status").as_int64(), 200);
        if (step.name != "forward") {
            EXPECT_EQ(ocean_.state.find(ref)->folder, step.folder);
        }
        // Ocean's echo, as the router would store it: the message just sent is the latest bundle.
        latest = updater_test::must_build(updater_test::request(id, ref, step.members), latest).bundle;
        set_bundle(ref, latest);
        std::this_thread::sleep_for(300ms);
    }
    EXPECT_TRUE(ocean_.state.find(ref)->forwarded_to.has_value());
    for (const auto& u : ocean_.updates().snapshot()) EXPECT_EQ(u.http_status, 200) << u.reason;

    // One relay-pushed record per update and call (the updater awaits its ack before calling), in order,
    // decodable by the router's decoder.
    std::vector<ConsumedRecord> pushed;
    for (auto& r : consume_all(kafka_bootstrap(), inbound_, steps.size() + 1, 5s))
        if (r.header("kind") == "relay-pushed") pushed.push_back(std::move(r));
    ASSERT_EQ(pushed.size(), steps.size());
    const auto received = ocean_.received_ms();
    ASSERT_EQ(received.size(), steps.size());
    for (std::size_t i = 0; i < pushed.size(); ++i) {
        EXPECT_EQ(pushed[i].key, ref);
        const auto decoded = transform::decode_pushed(pushed[i].value);
        ASSERT_TRUE(decoded);
        EXPECT_EQ(decoded->referral_ref, ref);
        EXPECT_EQ(pushed[i].header("update-id"), "it-" + steps[i].name);
    }
}

TEST_F(UpdaterKafka, AReceivedAcknowledgementNeverUndoesADecision) {
    start_updater();
    // 1: received first, then the decision: both sent, Ocean ends in the decision's folder.
    const std::string first = referral("ack-first");
    update(first, "rcv-1", R"("action":"received")");
    update(first, "acc-1", R"("action":"accept")");
    // 2: the hub decided before the acknowledgement was queued: the acknowledgement is dropped.
    const std::string late = referral("ack-late");
    update(late, "acc-2", R"("action":"accept")");
    update(late, "rcv-2", R"("action":"received")");
    // 3: Ocean's bundle already shows the decision (another updater sent it, or before a restart).
    const std::string known = referral("ack-known");
    set_bundle(known,
               updater_test::must_build(updater_test::request("acc-3", known, R"("action":"accept")"),
                                        bodies_[known])
                   .bundle);
    update(known, "rcv-3", R"("action":"received")");

    const auto got = events(5);
    ASSERT_EQ(got.size(), 5U);
    std::map<std::string, std::string> outcome_of;
    for (const auto& e : got)
        outcome_of[std::string(json::parse(e.value).at("update_id").as_string())] = e.header("outcome");
    EXPECT_EQ(outcome_of["rcv-1"], "update-sent");
    EXPECT_EQ(outcome_of["acc-1"], "update-sent");
    EXPECT_EQ(outcome_of["acc-2"], "update-sent");
    EXPECT_EQ(outcome_of["rcv-2"], "update-skipped");
    EXPECT_EQ(outcome_of["rcv-3"], "update-skipped");
    EXPECT_EQ(ocean_.state.find(first)->folder, Folder::kPendingBooking);
    EXPECT_EQ(ocean_.state.find(late)->folder, Folder::kPendingBooking);
    EXPECT_EQ(ocean_.state.find(known)->folder, Folder::kNew) << "nothing was sent for it";
    std::size_t calls = 0;
    for (const auto& u : ocean_.updates().snapshot()) {
        EXPECT_NE(u.referral_ref, known);
        calls += u.referral_ref == late ? 1 : 0;
    }
    EXPECT_EQ(calls, 1U) << "only the decision reached Ocean";
}

TEST_F(UpdaterKafka, RejectedInvalidAndUnknownSiteUpdatesAreDeadLetteredOthersUnaffected) {
    start_updater();
    const std::string good = referral("good");
    const std::string unknown_to_ocean = referral("stranger", /*in_ocean=*/false);
    update(unknown_to_ocean, "it-rejected", R"("action":"accept")");
    update(good, "it-site", R"("action":"accept","site":"999")");
    produce(updates_,
            kafka::Producer::kAnyPartition,
            good,
            R"({"update_id":"it-bad","action":"accept"})",
            {{"update-id", "it-bad"}});
    update(good, "it-good", R"("action":"accept")");
    const auto dlq = consume_all(kafka_bootstrap(), dlq_, 3, 30s);
    ASSERT_EQ(dlq.size(), 3U);
    std::map<std::string, ConsumedRecord> by_reason;
    for (const auto& r : dlq) by_reason[r.header("dlq-reason")] = r;
    ASSERT_TRUE(by_reason.contains("rejected"));
    ASSERT_TRUE(by_reason.contains("unknown-site"));
    ASSERT_TRUE(by_reason.contains("invalid-update"));
    const auto& rejected = by_reason["rejected"];
    EXPECT_EQ(rejected.key, unknown_to_ocean);
    EXPECT_EQ(rejected.value, updater_test::request("it-rejected", unknown_to_ocean, R"("action":"accept")"));
    EXPECT_GE(std::stoi(rejected.header("dlq-status")), 400);
    EXPECT_LT(std::stoi(rejected.header("dlq-status")), 500);
    EXPECT_NE(rejected.header("dlq-excerpt").find("HTTP 4"), std::string::npos);
    EXPECT_FALSE(rejected.header("dlq-at").empty());
    const json::value outcome = json::parse(rejected.header("dlq-operation-outcome"));
    EXPECT_EQ(outcome.at("resourceType").as_string(), "OperationOutcome");
    EXPECT_EQ(rejected.header("update-id"), "it-rejected");
    EXPECT_EQ(by_reason["unknown-site"].header("dlq-site"), "999");
    EXPECT_NE(by_reason["invalid-update"].header("dlq-excerpt").find("referral_ref"), std::string::npos);
    // The DLQ's depth on /metrics (read from the broker every dlq_depth_interval).
    {
        std::string exposition;
        for (const auto deadline = std::chrono::steady_clock::now() + 10s;
             std::chrono::steady_clock::now() < deadline;
             std::this_thread::sleep_for(100ms)) {
            http::BlockingClient admin("127.0.0.1", service_->admin_port(), 5s);
            exposition = admin.get("/metrics").body();
            if (exposition.find("\nrelay_updater_dlq_records 3\n") != std::string::npos) break;
        }
        EXPECT_NE(exposition.find("\nrelay_updater_dlq_records 3\n"), std::string::npos)
            << exposition.substr(0, 4000);
    }

    const auto got = events(4);
    ASSERT_EQ(got.size(), 4U);
    int sent = 0, dead = 0;
    for (const auto& e : got) {
        if (e.header("outcome") == "update-sent") ++sent;
        if (e.header("outcome") == "update-dead-lettered") ++dead;
    }
    EXPECT_EQ(sent, 1);
    EXPECT_EQ(dead, 3);
    EXPECT_EQ(ocean_.state.find(good)->folder, Folder::kPendingBooking);

    // Once Ocean knows the referral, relayctl replays the rejected update (the updates DLQ into the
    // updates topic, as `relayctl --updates dlq replay --reason rejected` does): it is sent, unchanged.
    ocean_.add(unknown_to_ocean, bodies_[unknown_to_ocean]);
    relayctl::ReplayOptions replay;
    replay.kafka.bootstrap_servers = kafka_bootstrap();
    replay.kafka.dlq_topic = dlq_;
    replay.kafka.deliveries_topic = updates_;
    replay.kafka.events_topic = events_;
    replay.filter.reason = "rejected";
    replay.yes = true;
    std::ostringstream out, err;
    ASSERT_EQ(relayctl::replay_dlq(replay, out, err), 0) << err.str();
    bool replayed_and_sent = false;
    for (const auto deadline = std::chrono::steady_clock::now() + 30s;
         !replayed_and_sent && std::chrono::steady_clock::now() < deadline;) {
        for (const auto& e : events(6, 2s)) {
            replayed_and_sent =
                replayed_and_sent || (e.header("outcome") == "update-sent" &&
                                      json::parse(e.value).at("update_id").as_string() == "it-rejected");
        }
    }
    ASSERT_TRUE(replayed_and_sent) << out.str() << err.str();
    EXPECT_EQ(ocean_.state.find(unknown_to_ocean)->folder, Folder::kPendingBooking);
}

TEST_F(UpdaterKafka, AnUpdateNamingAnotherSiteThanItsReferralsIsDeadLettered) {
    // A hub system allowed to update site 5678 must not change a referral of site 1234 with 5678's token.
    start_updater();
    const std::string ref = referral("other-site");
    update(ref, "it-other-site", R"("action":"decline","reason":"Not ours","site":"5678")");
    update(ref, "it-own-site", R"("action":"accept","site":"1234")");
    const auto dlq = consume_all(kafka_bootstrap(), dlq_, 1, 30s);
    ASSERT_EQ(dlq.size(), 1U);
    EXPECT_EQ(dlq[0].header("dlq-reason"), "site-mismatch");
    EXPECT_EQ(dlq[0].header("update-id"), "it-other-site");
    const auto got = events(2);
    ASSERT_EQ(got.size(), 2U);
    EXPECT_EQ(got[1].header("outcome"), "update-sent");
    EXPECT_EQ(ocean_.state.find(ref)->folder, Folder::kPendingBooking) << "only the accept reached Ocean";
    EXPECT_EQ(ocean_.updates().snapshot().size(), 1U);
}

TEST_F(UpdaterKafka, NoLatestBundleWaitsThenDeadLetters) {
    start_updater();  // bundle_wait: 3s
    const std::string ref = fixture_ref_ + "-nobundle";
    const auto produced_at = std::chrono::steady_clock::now();
    update(ref, "it-nobundle", R"("action":"accept")");
    // A referral the router takes in while its update waits: the update is sent once the bundle is there.
    const std::string late = fixture_ref_ + "-late-bundle";
    update(late, "it-late-bundle", R"("action":"accept")");
    std::this_thread::sleep_for(1s);
    std::string body = fixture_;
    for (std::size_t at = body.find(fixture_ref_); at != std::string::npos;
         at = body.find(fixture_ref_, at + late.size()))
        body.replace(at, fixture_ref_.size(), late);
    ocean_.add(late, body);
    set_bundle(late, body);

    const auto dlq = consume_all(kafka_bootstrap(), dlq_, 1, 20s);
    const auto waited = std::chrono::steady_clock::now() - produced_at;
    ASSERT_EQ(dlq.size(), 1U);
    EXPECT_EQ(dlq[0].header("dlq-reason"), "no-latest-bundle");
    EXPECT_EQ(dlq[0].header("update-id"), "it-nobundle");
    EXPECT_GE(waited, 3s) << "dead-lettered only after bundle_wait";
    const auto got = events(2);
    ASSERT_EQ(got.size(), 2U);
    std::map<std::string, std::string> outcome_of;
    for (const auto& e : got)
        outcome_of[std::string(json::parse(e.value).at("update_id").as_string())] = e.header("outcome");
    EXPECT_EQ(outcome_of["it-late-bundle"], "update-sent");
    EXPECT_EQ(ocean_.state.find(late)->folder, Folder::kPendingBooking);
}

/// Messages m0..m{n-1} per referral; ocean-sim keeps each referral's communications in arrival order.
std::string check_landed_once_in_order(const ocean_sim::ReferralState& state,
                                       const std::vector<std::string>& refs,
                                       int each) {
    for (const auto& ref : refs) {
        const auto view = state.find(ref);
        if (!view) return ref + " unknown";
        std::vector<std::string> texts;
        for (const auto& c : view->communications) texts.push_back(c.text);
        std::vector<std::string> want;
        for (int i = 0; i < each; ++i) want.push_back(fmt::format("message {} of {}", i, ref));
        if (texts != want)
            return fmt::format("{}: got {} messages, want {} (first: {})",
                               ref,
                               texts.size(),
                               want.size(),
                               texts.empty() ? "" : texts.front());
    }
    return "";
}

TEST_F(UpdaterKafka, TokenExpiryAndOceanDownMidStreamEveryUpdateLandsOnceInOrder) {
    constexpr int kReferrals = 4;
    constexpr int kEach = 6;
    std::vector<std::string> refs;
    start_updater();
    for (int i = 0; i < kReferrals; ++i) refs.push_back(referral(fmt::format("r{}", i)));
    for (int m = 0; m < kEach; ++m) {
        for (const auto& ref : refs)
            update(ref,
                   fmt::format("it-{}-{}", ref.substr(ref.size() - 2), m),
                   fmt::format(R"("action":"message","text":"message {} of {}")", m, ref));
        if (m == 1) {
            ASSERT_EQ(events(2 * kReferrals).size(), static_cast<std::size_t>(2 * kReferrals));
            ocean_.clock_offset_s = 7200;  // every token the updater holds has expired in Ocean's eyes
        }
        if (m == 3) {
            ASSERT_EQ(events(4 * kReferrals).size(), static_cast<std::size_t>(4 * kReferrals));
            ocean_.down_status = 503;
            std::this_thread::sleep_for(1500ms);
            ocean_.down_status = 0;
        }
    }
    const auto got = events(kReferrals * kEach);
    ASSERT_EQ(got.size(), static_cast<std::size_t>(kReferrals * kEach));
    for (const auto& e : got) EXPECT_EQ(e.header("outcome"), "update-sent");
    EXPECT_EQ(check_landed_once_in_order(ocean_.state, refs, kEach), "");
    EXPECT_GT(ocean_.calls.load(), kReferrals * kEach);  // retries happened
}

TEST_F(UpdaterKafka, ARestartMidStreamLosesNothing) {
    constexpr int kReferrals = 3;
    constexpr int kEach = 4;
    std::vector<std::string> refs;
    start_updater();
    for (int i = 0; i < kReferrals; ++i) refs.push_back(referral(fmt::format("s{}", i)));
    for (int m = 0; m < kEach; ++m) {
        for (const auto& ref : refs)
            update(ref,
                   fmt::format("it-{}-{}", ref.substr(ref.size() - 2), m),
                   fmt::format(R"("action":"message","text":"message {} of {}")", m, ref));
        if (m == 1) {
            ASSERT_EQ(events(2 * kReferrals).size(), static_cast<std::size_t>(2 * kReferrals));
            ocean_.down_status = 503;  // the rest are held, retrying, when the updater stops
        }
    }
    std::this_thread::sleep_for(1500ms);
    stop_updater();
    EXPECT_EQ(exit_code_, 0);
    ocean_.down_status = 0;
    start_updater();
    const auto got = events(kReferrals * kEach);
    ASSERT_EQ(got.size(), static_cast<std::size_t>(kReferrals * kEach));
    EXPECT_EQ(check_landed_once_in_order(ocean_.state, refs, kEach), "");
}

TEST_F(UpdaterKafka, UpdatesReadAgainAfterARestartAreNotSentTwice) {
    // A referral whose update cannot go yet (no bundle: it waits) holds its partition's committed offset
    // back while the updates behind it, of other referrals, are sent. A restart reads those again: the
    // sent markers recognise them, so Ocean gets each once.
    bundle_wait_ = "2m";
    start_updater();
    const std::string stuck = fixture_ref_ + "-stuck";
    const auto stuck_partition = produce(updates_,
                                         kafka::Producer::kAnyPartition,
                                         stuck,
                                         updater_test::request("it-stuck", stuck, R"("action":"accept")"),
                                         {{"update-id", "it-stuck"}})
                                     .partition;
    std::vector<std::string> behind;
    for (int i = 0; behind.size() < 3 && i < 60; ++i) {
        const std::string ref = referral(fmt::format("behind{}", i));
        if (partitions_[ref] == stuck_partition) behind.push_back(ref);
    }
    ASSERT_EQ(behind.size(), 3U) << "referrals sharing the stuck one's partition";
    for (const auto& ref : behind) update(ref, "it-" + ref.substr(ref.size() - 7), R"("action":"accept")");
    ASSERT_EQ(events(3).size(), 3U);
    stop_updater();  // the stuck update is abandoned; the committed offset stays before it
    EXPECT_EQ(exit_code_, 0);

    // The router takes the referral in; Ocean knows it under its ref.
    std::string body = fixture_;
    for (std::size_t at = body.find(fixture_ref_); at != std::string::npos;
         at = body.find(fixture_ref_, at + stuck.size()))
        body.replace(at, fixture_ref_.size(), stuck);
    ocean_.add(stuck, body);
    set_bundle(stuck, body);
    start_updater();
    const auto got = events(4);
    ASSERT_EQ(got.size(), 4U);
    EXPECT_EQ(json::parse(got.back().value).at("update_id").as_string(), "it-stuck");
    std::map<std::string, int> calls;
    for (const auto& u : ocean_.updates().snapshot()) ++calls[u.referral_ref];
    for (const auto& ref : behind) EXPECT_EQ(calls[ref], 1) << ref << " was sent again after the restart";
    EXPECT_EQ(calls[stuck], 1);
    EXPECT_EQ(ocean_.state.find(stuck)->folder, Folder::kPendingBooking);
    std::this_thread::sleep_for(1s);
    EXPECT_EQ(events(5, 2s).size(), 4U) << "nothing else was sent";
}

}  // namespace
}  // namespace relay::test
