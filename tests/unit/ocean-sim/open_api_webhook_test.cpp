// ocean-sim's Open API / Patient Engagement webhook side over real loopback sockets: the challenge before
// the first notification (and an integration marked invalid when it is not echoed), Ocean's envelope for
// Patient Engagement and Open eReferral notifications about referrals whose FHIR webhook was acknowledged,
// the key in the query, a header or the path, retries on non-2xx, and what the observations record.
#include "open_api_webhook.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "relay/http/server.hpp"
#include "sim_config.hpp"
#include "webhooks.hpp"

namespace relay::test {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace json = boost::json;
using ocean_sim::Observations;

/// What an ingress would be: FHIR webhooks answered 200; the Open API endpoint echoes the challenge
/// (or not), answers 503 a given number of times, and records what it got.
struct Endpoint {
    struct Seen {
        std::string target;
        std::string key_header;
        json::object body;
    };
    std::mutex mutex;
    std::vector<Seen> open_api;
    int fail_notifications = 0;  // answer 503 to this many notification attempts first
    bool echo = true;

    http::Response respond(const http::Request& request) {
        http::Response res{bhttp::status::ok, request.version()};
        res.set(bhttp::field::content_type, "application/json");
        const std::string target(request.target());
        std::lock_guard lock(mutex);
        if (target.starts_with("/ocean/1234/fhir")) {
            res.body() = R"({"resourceType":"OperationOutcome"})";
            return res;
        }
        Seen seen{
            target, std::string(request["x-ocean-webhook-key"]), json::parse(request.body()).as_object()};
        open_api.push_back(seen);
        if (seen.body.contains("challenge")) {
            res.body() = echo ? json::serialize(json::object{{"challenge", seen.body.at("challenge")}})
                              : std::string(R"({"status":"accepted"})");
            return res;
        }
        if (fail_notifications > 0) {
            --fail_notifications;
            res.result(bhttp::status::service_unavailable);
            res.body() = R"({"error":"unavailable"})";
            return res;
        }
        res.body() = R"({"status":"accepted"})";
        return res;
    }
};

struct SimRun {
    std::vector<std::string> acknowledged;  // FHIR originals acknowledged, in order
    Observations::Summary summary;
};

/// Ocean's FHIR webhooks to the endpoint, then the Open API notifications `open` plans, as main runs them.
SimRun run(Endpoint& endpoint,
           ocean_sim::OpenApiWebhookPlan open,
           std::uint64_t referrals,
           Observations& observations) {
    asio::io_context ioc;
    http::ListenerConfig listener;
    listener.address = "127.0.0.1";
    listener.port = 0;
    http::Server server(ioc, listener, [&endpoint](http::Request& request, const http::RequestContext&) {
        return [](http::Response r) -> asio::awaitable<http::Response> {
            co_return r;
        }(endpoint.respond(request));
    });
    server.start();
    const std::string base = "http://127.0.0.1:" + std::to_string(server.port());

    ocean_sim::WebhookPlan plan;
    plan.target_url = base + "/ocean/1234/fhir";
    plan.count = referrals;
    plan.concurrency = 1;  // acknowledged in a known order
    plan.seed = 3;
    plan.retry.time_scale = 0.00001;
    open.url = base + open.url;
    open.retry.time_scale = 0.00001;
    ocean_sim::WebhookSender sender(ioc.get_executor(), plan, observations);
    ocean_sim::OpenApiNotifier notifier(sender.executor(), open, plan.count, observations);
    SimRun out;
    sender.on_acknowledged([&notifier, &out](const std::string& ref) {
        out.acknowledged.push_back(ref);
        notifier.referral_acknowledged(ref);
    });
    asio::co_spawn(sender.executor(), notifier.run(), asio::detached);
    auto fhir = asio::co_spawn(sender.executor(), sender.run(), asio::use_future);
    std::thread driver([&] {
        fhir.get();
        asio::post(sender.executor(), [&notifier] { notifier.no_more_referrals(); });
        asio::co_spawn(sender.executor(), notifier.finished(), asio::use_future).get();
        server.stop_accepting();
        server.drain();
        ioc.stop();
    });
    ioc.run();
    driver.join();
    out.summary = observations.summary();
    return out;
}

ocean_sim::OpenApiWebhookPlan plan(std::uint64_t patient, std::uint64_t referral) {
    ocean_sim::OpenApiWebhookPlan p;
    p.url = "/ocean/clinic/openapi/webhook";
    p.key = Secret::from_value("k3y+with/odd=chars");
    p.site_number = "1234";
    p.patient_notifications = patient;
    p.referral_notifications = referral;
    return p;
}

TEST(OceanSimOpenApi, ChallengeFirstThenNotificationsAboutAcknowledgedReferrals) {
    Endpoint endpoint;
    Observations observations;
    const SimRun r = run(endpoint, plan(3, 2), 3, observations);
    ASSERT_EQ(r.acknowledged.size(), 3U);

    ASSERT_EQ(endpoint.open_api.size(), 6U) << "the challenge, then 3 + 2 notifications";
    const auto& challenge = endpoint.open_api[0];
    EXPECT_EQ(challenge.body.size(), 1U);
    EXPECT_EQ(challenge.body.at("challenge").as_string().size(), 32U);
    for (const auto& seen : endpoint.open_api)
        EXPECT_EQ(seen.target, "/ocean/clinic/openapi/webhook?k=k3y%2Bwith%2Fodd%3Dchars")
            << "the key as ?k=";

    // Ocean's envelope (ocean-api.md §4.2). Notification i is about the i-th referral acknowledged
    // (Patient Engagement first, then Open eReferral), cycling when there are more notifications than
    // referrals; each is sent once its referral is acknowledged, so 0, 3, 1, 4, 2 here.
    std::vector<json::object> patient, referral;
    for (std::size_t i = 1; i < endpoint.open_api.size(); ++i) {
        const auto& body = endpoint.open_api[i].body;
        EXPECT_EQ(body.at("siteNum").as_string(), "1234");
        EXPECT_TRUE(body.at("changeList").is_null());
        EXPECT_TRUE(body.at("user").is_null());
        (body.at("type").as_string() == "notify-referral-new" ? referral : patient).push_back(body);
    }
    ASSERT_EQ(patient.size(), 3U);
    ASSERT_EQ(referral.size(), 2U);
    EXPECT_EQ(endpoint.open_api[2].body.at("type").as_string(), "notify-referral-new")
        << "sent once its referral was acknowledged";
    std::set<std::string> sessions;
    for (std::size_t i = 0; i < 3; ++i) {
        SCOPED_TRACE(i);
        const auto& body = patient[i];
        EXPECT_EQ(body.at("ref").as_string(), r.acknowledged[i]) << "a patient ref is a referral ref it sent";
        const auto& properties = body.at("customProperties").as_object();
        const std::string session(properties.at("oceanSessionId").as_string());
        EXPECT_NE(session.find('t'), std::string::npos) << "<epoch ms>t<digits>";
        sessions.insert(session);
        if (i % 2 == 0) {
            EXPECT_EQ(body.at("type").as_string(), "notify-patient-note-added");
            EXPECT_TRUE(properties.contains("noteCompletionSource"));
        } else {
            EXPECT_EQ(body.at("type").as_string(), "notify-patient-message-forms-completion");
            EXPECT_FALSE(properties.contains("noteCompletionSource"));
        }
    }
    for (std::size_t i = 0; i < 2; ++i) {
        EXPECT_EQ(referral[i].at("ref").as_string(), r.acknowledged[i]);
        EXPECT_TRUE(referral[i].at("customProperties").is_null());
    }
    EXPECT_EQ(sessions.size(), 3U) << "a session id per Patient Engagement notification";

    const auto& o = r.summary.open_api;
    EXPECT_TRUE(o.enabled);
    EXPECT_EQ(o.challenge, "passed");
    EXPECT_EQ(o.challenge_failures, 0U);
    EXPECT_EQ(o.delivered, 5U);
    EXPECT_EQ(o.gave_up, 0U);
    EXPECT_EQ(o.delivered_by_type.at("notify-patient-note-added"), 2U);
    EXPECT_EQ(o.delivered_by_type.at("notify-patient-message-forms-completion"), 1U);
    EXPECT_EQ(o.delivered_by_type.at("notify-referral-new"), 2U);
    EXPECT_EQ(r.summary.delivered, 3U) << "the FHIR webhooks are counted apart";
    const auto summary = json::parse(observations.summary_json()).as_object();
    EXPECT_EQ(summary.at("open_api").at("delivered").as_int64(), 5);
}

TEST(OceanSimOpenApi, TheKeyInAHeaderOrTheLastPathSegment) {
    {
        Endpoint endpoint;
        Observations observations;
        auto p = plan(1, 0);
        p.key_in = "header";
        run(endpoint, p, 1, observations);
        ASSERT_EQ(endpoint.open_api.size(), 2U);
        for (const auto& seen : endpoint.open_api) {
            EXPECT_EQ(seen.target, "/ocean/clinic/openapi/webhook");
            EXPECT_EQ(seen.key_header, "k3y+with/odd=chars");
        }
    }
    {
        Endpoint endpoint;
        Observations observations;
        auto p = plan(0, 1);
        p.key_in = "path";
        run(endpoint, p, 1, observations);
        ASSERT_EQ(endpoint.open_api.size(), 2U);
        for (const auto& seen : endpoint.open_api) {
            EXPECT_EQ(seen.target, "/ocean/clinic/openapi/webhook/k3y%2Bwith%2Fodd%3Dchars");
            EXPECT_TRUE(seen.key_header.empty());
        }
    }
}

TEST(OceanSimOpenApi, NotificationsAnswered503AreRetriedOnOceansSchedule) {
    Endpoint endpoint;
    endpoint.fail_notifications = 3;
    Observations observations;
    const SimRun r = run(endpoint, plan(2, 1), 3, observations);
    const auto& o = r.summary.open_api;
    EXPECT_EQ(o.delivered, 3U);
    EXPECT_EQ(o.gave_up, 0U);
    EXPECT_EQ(o.attempts, 6U);
    EXPECT_EQ(o.statuses.at(503), 3U);
    // The same notification again, in order: the first one three times, then the others.
    ASSERT_EQ(endpoint.open_api.size(), 7U);
    for (int i = 1; i <= 4; ++i)
        EXPECT_EQ(json::serialize(endpoint.open_api[i].body), json::serialize(endpoint.open_api[1].body));
}

TEST(OceanSimOpenApi, AChallengeNotEchoedMarksTheIntegrationInvalid) {
    Endpoint endpoint;
    endpoint.echo = false;
    const std::string path = ::testing::TempDir() + "ocean-sim-open-api.jsonl";
    std::remove(path.c_str());
    {
        Observations file_observations(path);
        const SimRun r = run(endpoint, plan(2, 1), 2, file_observations);
        const auto& o = r.summary.open_api;
        EXPECT_EQ(o.challenge, "invalid");
        EXPECT_EQ(o.challenge_failures, 1U);
        EXPECT_EQ(o.delivered, 0U);
        EXPECT_EQ(o.attempts, 0U);
        EXPECT_EQ(o.gave_up, 3U) << "Ocean notifies nothing on an invalid integration";
    }
    EXPECT_EQ(endpoint.open_api.size(), 1U) << "only the challenge";
    // The observations name ids only: refs, types, session ids, never a body.
    std::ifstream in(path);
    std::string line;
    int challenges = 0, notifications = 0;
    while (std::getline(in, line)) {
        const auto o = json::parse(line).as_object();
        const std::string kind(o.at("kind").as_string());
        if (kind == "open_api_challenge") {
            ++challenges;
            EXPECT_EQ(o.at("outcome").as_string(), "invalid");
        } else if (kind == "open_api_notification") {
            ++notifications;
            EXPECT_EQ(o.at("outcome").as_string(), "gave_up");
            EXPECT_FALSE(o.at("referral_ref").as_string().empty());
        }
        EXPECT_FALSE(o.contains("challenge"));
        EXPECT_EQ(line.find("k3y"), std::string::npos) << "no key in the observations";
    }
    EXPECT_EQ(challenges, 1);
    EXPECT_EQ(notifications, 3);
}

TEST(OceanSimOpenApi, ConfigurationOffByDefaultAndEveryKey) {
    auto parse = [](const std::string& yaml) {
        auto reader = ConfigReader::from_string(
            yaml, "RELAY_SIM", [](const std::string&) { return std::optional<std::string>(); });
        return ocean_sim::load_sim_config(reader);
    };
    EXPECT_FALSE(parse("webhooks: {target_url: http://127.0.0.1:1/fhir}\n").open_api);
    const auto config = parse(R"(
webhooks: {target_url: http://127.0.0.1:1/fhir, site_number: "4321", seed: 9, retry: {time_scale: 0.5}}
open_api:
  url: http://127.0.0.1:1/ocean/clinic/openapi/webhook
  key: {value: secret-key}
  key_in: header
  key_header: x-key
  patient_notifications: 4
  referral_notifications: 2
  challenge: false
)");
    ASSERT_TRUE(config.open_api);
    const auto& o = *config.open_api;
    EXPECT_EQ(o.url, "http://127.0.0.1:1/ocean/clinic/openapi/webhook");
    ASSERT_TRUE(o.key);
    EXPECT_EQ(o.key->reveal(), "secret-key");
    EXPECT_EQ(o.key_in, "header");
    EXPECT_EQ(o.key_header, "x-key");
    EXPECT_EQ(o.site_number, "4321") << "the webhooks' site by default";
    EXPECT_EQ(o.seed, 9U);
    EXPECT_EQ(o.patient_notifications, 4U);
    EXPECT_EQ(o.referral_notifications, 2U);
    EXPECT_FALSE(o.challenge);
    EXPECT_DOUBLE_EQ(o.retry.time_scale, 0.5);
    auto message = [&](const std::string& yaml) {
        try {
            parse(yaml);
        } catch (const ConfigError& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_NE(message("webhooks: {target_url: http://x/}\nopen_api: {url: http://x/, key_in: cookie}\n")
                  .find("open_api.key_in"),
              std::string::npos);
    EXPECT_NE(message("webhooks: {target_url: http://x/}\nopen_api: {url: ftp://x/}\n").find("open_api.url"),
              std::string::npos);
}

}  // namespace
}  // namespace relay::test
