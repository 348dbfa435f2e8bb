// One delivery attempt against pos-sim over loopback: each auth scheme, the relay's delivery headers,
// and every kind of answer sorted into delivered / retryable / permanent / timeout.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <future>
#include <thread>

#include "dispatcher.hpp"
#include "pos_sim.hpp"
#include "relay/outbound/sender.hpp"

namespace relay::test {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using outbound::DestinationAuth;

constexpr const char* kPosSim = R"(
listener: {address: 127.0.0.1, port: 0}
admin: {address: 127.0.0.1, port: 0}
token_signing_key: {value: "pos-sim-signing-key-0123456789abcdef"}
routes:
  - name: open
  - name: basic
    auth: {scheme: basic, username: relay, password: {value: pw}}
  - name: oauth
    auth: {scheme: oauth2, clients: [{client_id: relay, client_secret: {value: cs}}]}
  - name: revoked
    auth: {scheme: oauth2, clients: [{client_id: relay, client_secret: {value: cs}}]}
    faults: [{kind: expired_token}]
  - name: throttled
    faults: [{kind: status, status: 429, retry_after: 7s}]
  - name: down
    faults: [{kind: status, status: 503}]
  - name: rejecting
    faults: [{kind: status, status: 400}]
  - name: slow
    slow_accept: 2s
  - name: sluggish
    slow_accept: 100ms
)";

class DeliverySender : public ::testing::Test {
   protected:
    asio::io_context server_ioc;
    pos_sim::PosSim sim{parse()};
    std::unique_ptr<http::Server> server;
    std::thread thread;
    asio::io_context ioc;

    static pos_sim::PosSimConfig parse() {
        auto reader = ConfigReader::from_string(
            kPosSim, "RELAY_POS", [](const std::string&) { return std::optional<std::string>(); });
        return pos_sim::load_pos_sim_config(reader);
    }
    void SetUp() override {
        server = std::make_unique<http::Server>(server_ioc, parse().listener, sim.handler());
        server->start();
        thread = std::thread([this] { server_ioc.run(); });
    }
    void TearDown() override {
        server->stop_accepting();
        server_ioc.stop();
        thread.join();
    }

    outbound::DestinationConfig destination(const std::string& route, DestinationAuth auth = {}) {
        outbound::DestinationConfig d;
        d.id = route;
        d.url = *http::Url::parse(fmt::format("http://127.0.0.1:{}/{}", server->port(), route));
        d.auth = std::move(auth);
        d.client.request_timeout = 1s;
        return d;
    }
    DestinationAuth oauth(const std::string& route) {
        DestinationAuth a;
        a.scheme = DestinationAuth::Scheme::kOAuth2;
        a.oauth = http::OAuthClientConfig{
            *http::Url::parse(fmt::format("http://127.0.0.1:{}/{}/oauth2/token", server->port(), route)),
            "relay",
            Secret::from_value("cs")};
        return a;
    }
    static outbound::OutboundDelivery record(const std::string& key) {
        return {R"({"referral":"ref-1"})",
                "application/json",
                key,
                "ref-1",
                "add-service-request",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                1};
    }
    outbound::AttemptResult send(outbound::DestinationSender& sender, const std::string& key) {
        auto future = asio::co_spawn(ioc, sender.attempt(record(key)), asio::use_future);
        ioc.restart();
        ioc.run();
        return future.get();
    }
};

TEST_F(DeliverySender, DeliversWithTheRelayHeaders) {
    outbound::DestinationSender sender(ioc.get_executor(), destination("open"));
    const auto result = send(sender, "key-1");
    EXPECT_TRUE(result.outcome.delivered) << result.excerpt;
    EXPECT_EQ(result.status, 200);
    const auto seen = sim.deliveries();
    ASSERT_EQ(seen.size(), 1U);
    EXPECT_EQ(seen[0].idempotency_key, "key-1");
    EXPECT_EQ(seen[0].referral_ref, "ref-1");
    EXPECT_EQ(seen[0].event, "add-service-request");
    EXPECT_EQ(seen[0].content_type, "application/json");
}

TEST_F(DeliverySender, ADocumentCarriesItsIdAndNothingElseDoes) {
    outbound::DestinationSender sender(ioc.get_executor(), destination("open"));
    outbound::OutboundDelivery document = record("doc-key");
    document.body = "%PDF-1.4 letter";
    document.content_type = "application/pdf";
    document.event = "referral-document";
    document.document_id = "docref-7";
    auto future = asio::co_spawn(ioc, sender.attempt(std::move(document)), asio::use_future);
    ioc.restart();
    ioc.run();
    EXPECT_TRUE(future.get().outcome.delivered);
    EXPECT_TRUE(send(sender, "plain-key").outcome.delivered);
    const auto seen = sim.deliveries();
    ASSERT_EQ(seen.size(), 2U);
    EXPECT_EQ(seen[0].document_id, "docref-7");
    EXPECT_EQ(seen[0].event, "referral-document");
    EXPECT_EQ(seen[0].content_type, "application/pdf");
    EXPECT_TRUE(seen[1].document_id.empty());
}

TEST_F(DeliverySender, AnInlineReferralLackingDocumentsSaysHowMany) {
    outbound::DestinationSender sender(ioc.get_executor(), destination("open"));
    outbound::OutboundDelivery referral = record("inline-key");
    referral.documents_missing = "2";
    auto future = asio::co_spawn(ioc, sender.attempt(std::move(referral)), asio::use_future);
    ioc.restart();
    ioc.run();
    EXPECT_TRUE(future.get().outcome.delivered);
    EXPECT_TRUE(send(sender, "complete-key").outcome.delivered);
    const auto seen = sim.deliveries();
    ASSERT_EQ(seen.size(), 2U);
    EXPECT_EQ(seen[0].documents_missing, "2");
    EXPECT_TRUE(seen[1].documents_missing.empty());
}

TEST_F(DeliverySender, BasicAuthRightAndWrong) {
    DestinationAuth right;
    right.scheme = DestinationAuth::Scheme::kBasic;
    right.username = "relay";
    right.secret = Secret::from_value("pw");
    outbound::DestinationSender good(ioc.get_executor(), destination("basic", right));
    EXPECT_TRUE(send(good, "b1").outcome.delivered);
    DestinationAuth wrong = right;
    wrong.secret = Secret::from_value("nope");
    outbound::DestinationSender bad(ioc.get_executor(), destination("basic", wrong));
    const auto result = send(bad, "b2");
    EXPECT_FALSE(result.outcome.delivered);
    EXPECT_EQ(result.status, 401);
    EXPECT_EQ(result.outcome.kind, ErrorKind::kPermanent);
}

TEST_F(DeliverySender, OAuthTokenIsFetchedOnceAndReused) {
    outbound::DestinationSender sender(ioc.get_executor(), destination("oauth", oauth("oauth")));
    EXPECT_TRUE(send(sender, "o1").outcome.delivered);
    EXPECT_TRUE(send(sender, "o2").outcome.delivered);
    EXPECT_EQ(sender.tokens_fetched(), 1);
}

TEST_F(DeliverySender, A401WithATokenFetchesANewOneAndTriesOnce) {
    outbound::DestinationSender sender(ioc.get_executor(), destination("revoked", oauth("revoked")));
    const auto result = send(sender, "r1");
    EXPECT_TRUE(result.token_refreshed);
    EXPECT_EQ(sender.tokens_fetched(), 2) << "the token was refreshed once, not in a loop";
    EXPECT_EQ(result.status, 401);
    // Refused even with a fresh token: retried later under the policy (then the DLQ), not at once.
    EXPECT_EQ(result.outcome.kind, ErrorKind::kRetryable);
    EXPECT_EQ(result.outcome.reason, "unauthorized after token refresh");
}

TEST_F(DeliverySender, ThrottledAndDownAreRetryableRejectedIsPermanent) {
    outbound::DestinationSender throttled(ioc.get_executor(), destination("throttled"));
    const auto t = send(throttled, "t1");
    EXPECT_EQ(t.status, 429);
    EXPECT_EQ(t.outcome.kind, ErrorKind::kRetryable);
    ASSERT_TRUE(t.retry_after);
    EXPECT_EQ(*t.retry_after, 7s);

    outbound::DestinationSender down(ioc.get_executor(), destination("down"));
    const auto d = send(down, "d1");
    EXPECT_EQ(d.status, 503);
    EXPECT_EQ(d.outcome.kind, ErrorKind::kRetryable);

    outbound::DestinationSender rejecting(ioc.get_executor(), destination("rejecting"));
    const auto r = send(rejecting, "x1");
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.outcome.kind, ErrorKind::kPermanent);
    EXPECT_EQ(r.excerpt.rfind("HTTP 400", 0), 0U) << r.excerpt;
}

TEST_F(DeliverySender, ASlowDestinationTimesOutAndAClosedPortIsRetryable) {
    outbound::DestinationSender slow(ioc.get_executor(), destination("slow"));
    const auto s = send(slow, "s1");
    EXPECT_FALSE(s.outcome.delivered);
    EXPECT_EQ(s.outcome.kind, ErrorKind::kTimeout);

    asio::ip::tcp::acceptor probe(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    const auto closed_port = probe.local_endpoint().port();
    probe.close();
    auto config = destination("open");
    config.url = *http::Url::parse(fmt::format("http://127.0.0.1:{}/open", closed_port));
    outbound::DestinationSender nowhere(ioc.get_executor(), config);
    const auto n = send(nowhere, "n1");
    EXPECT_EQ(n.status, 0);
    EXPECT_EQ(n.outcome.kind, ErrorKind::kRetryable);
}

delivery_service::DestinationSettings settings_for(outbound::DestinationConfig destination) {
    delivery_service::DestinationSettings s;
    s.sender = std::move(destination);
    s.retry.initial = 100ms;
    s.retry.max_delay = 1s;
    s.retry.multiplier = 2;
    s.retry.max_attempts = 3;
    s.retry.max_age = std::chrono::hours(1);
    s.breaker.consecutive_failures = 100;
    return s;
}

class DeliveryDispatcher : public DeliverySender {
   protected:
    delivery_service::DispatchResult dispatch(delivery_service::DestinationDispatcher& dispatcher,
                                              int attempt) {
        auto r = record("d-" + std::to_string(attempt));
        r.attempt = attempt;
        auto future =
            asio::co_spawn(ioc, dispatcher.dispatch(std::move(r), delivery::Duration(0)), asio::use_future);
        ioc.restart();
        ioc.run();
        return future.get();
    }
};

TEST_F(DeliveryDispatcher, DeliveredIsDelivered) {
    delivery_service::DestinationDispatcher dispatcher(
        ioc.get_executor(), settings_for(destination("open")), 1);
    EXPECT_EQ(dispatch(dispatcher, 1).decision, delivery_service::Decision::kDelivered);
}

TEST_F(DeliveryDispatcher, ServerErrorsAreRetriedWithJitteredBackoffUntilTheAttemptsRunOut) {
    delivery_service::DestinationDispatcher dispatcher(
        ioc.get_executor(), settings_for(destination("down")), 7);
    const auto first = dispatch(dispatcher, 1);
    ASSERT_EQ(first.decision, delivery_service::Decision::kRetry);
    ASSERT_TRUE(first.retry_in);
    EXPECT_LE(*first.retry_in, 100ms) << "full jitter under the first ceiling";
    const auto second = dispatch(dispatcher, 2);
    ASSERT_EQ(second.decision, delivery_service::Decision::kRetry);
    EXPECT_LE(*second.retry_in, 200ms);
    const auto third = dispatch(dispatcher, 3);
    EXPECT_EQ(third.decision, delivery_service::Decision::kDeadLetter);
    EXPECT_EQ(third.reason.rfind("retries exhausted", 0), 0U) << third.reason;
    ASSERT_TRUE(third.attempt);
    EXPECT_EQ(third.attempt->status, 503);
}

TEST_F(DeliveryDispatcher, APermanentRejectionGoesStraightToTheDeadLetters) {
    delivery_service::DestinationDispatcher dispatcher(
        ioc.get_executor(), settings_for(destination("rejecting")), 1);
    const auto result = dispatch(dispatcher, 1);
    EXPECT_EQ(result.decision, delivery_service::Decision::kDeadLetter);
    EXPECT_FALSE(result.reason.empty());
}

TEST_F(DeliveryDispatcher, AnOpenBreakerSendsNothingAndDefersToItsOpenPeriod) {
    auto settings = settings_for(destination("down"));
    settings.breaker.consecutive_failures = 2;
    settings.breaker.open_duration = 10s;
    settings.retry.max_attempts = 10;
    delivery_service::DestinationDispatcher dispatcher(ioc.get_executor(), settings, 1);
    dispatch(dispatcher, 1);
    dispatch(dispatcher, 2);
    EXPECT_EQ(dispatcher.breaker_state(), delivery::BreakerState::kOpen);
    const auto held = dispatch(dispatcher, 3);
    EXPECT_FALSE(held.attempt) << "nothing was sent to a destination known to be down";
    EXPECT_EQ(held.decision, delivery_service::Decision::kRetry);
    ASSERT_TRUE(held.retry_in);
    EXPECT_GE(*held.retry_in, 9s);
}

TEST_F(DeliveryDispatcher, RetryAfterIsHonouredByTheDelayAndTheRateLimit) {
    auto settings = settings_for(destination("throttled"));
    settings.retry.max_delay = 1s;
    settings.rate_limit = delivery_service::RateLimit{100, 10};
    delivery_service::DestinationDispatcher dispatcher(ioc.get_executor(), settings, 1);
    const auto result = dispatch(dispatcher, 1);
    ASSERT_EQ(result.decision, delivery_service::Decision::kRetry);
    EXPECT_GE(*result.retry_in, 7s) << "the server's Retry-After is a floor, above the policy's cap";
    ASSERT_NE(dispatcher.rate_limit(), nullptr);
    EXPECT_GT(dispatcher.rate_limit()->paused_until(), delivery::Clock::now() + 6s)
        << "the whole destination waits, not only this record";
}

TEST_F(DeliveryDispatcher, NeverMoreRequestsInFlightThanTheDestinationAllows) {
    for (const int limit : {1, 3}) {
        auto settings = settings_for(destination("sluggish"));
        settings.max_concurrency = limit;
        delivery_service::DestinationDispatcher dispatcher(ioc.get_executor(), settings, 1);
        std::vector<std::future<delivery_service::DispatchResult>> results;
        for (int i = 0; i < 5; ++i) {
            auto r = record(fmt::format("c-{}-{}", limit, i));
            results.push_back(asio::co_spawn(
                ioc, dispatcher.dispatch(std::move(r), delivery::Duration(0)), asio::use_future));
        }
        ioc.restart();
        ioc.run();
        for (auto& f : results) EXPECT_EQ(f.get().decision, delivery_service::Decision::kDelivered);
        EXPECT_EQ(dispatcher.peak_in_flight(), limit);
        EXPECT_EQ(dispatcher.in_flight(), 0);
    }
}

TEST(ResponseExcerpt, KeepsErrorClassesNeverFreeText) {
    const std::string excerpt = outbound::response_excerpt(
        422,
        "application/fhir+json",
        R"({"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid",)"
        R"("diagnostics":"Patient Jane Doe born 1980-01-01 is unknown"}]})");
    EXPECT_EQ(excerpt, "HTTP 422; application/fhir+json; issue=invalid");
    EXPECT_EQ(outbound::response_excerpt(500, "application/json", R"({"error":"db_down","message":"Jane"})"),
              "HTTP 500; application/json; error=db_down");
    EXPECT_EQ(outbound::response_excerpt(502, "text/html", "<html>Jane Doe</html>"),
              "HTTP 502; text/html; 21 bytes");
}

}  // namespace
}  // namespace relay::test
