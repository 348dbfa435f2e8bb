// The launch service on real sockets against ocean-sim's Open API: the hand-off in both modes (status,
// Location, cookie, framing headers), the redemption by the hub system (once, by that hub system only,
// before it expires, signed by us), the completion page in the launching browser only, every refusal of
// Ocean's launch link, and no patient data in any answer, redirect URL or log line.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "config.hpp"
#include "generator.hpp"
#include "launch_context.hpp"
#include "launch_service.hpp"
#include "ocean_api.hpp"
#include "referral_state.hpp"
#include "relay/core/log.hpp"
#include "relay/http/client.hpp"
#include "relay/http/server.hpp"

namespace relay::launch {
namespace {

namespace bhttp = boost::beast::http;
namespace json = boost::json;
using namespace std::chrono_literals;

constexpr const char* kSite = "1234";
constexpr const char* kSiteKey = "site-key-for-the-launch-test";
constexpr const char* kSiteCredential = "site-credential-for-the-launch-test";
constexpr const char* kSek = "launch-test-sek";
constexpr const char* kSigningKey = "launch-test-signing-key-0123456789abcdef";
constexpr const char* kListing = "listing-launch";
constexpr const char* kServiceId = "ESID-LAUNCH";

/// A small server on loopback: the hub system's health endpoint, up or down.
class HubHealth {
   public:
    explicit HubHealth(bool up) : up_(up) {
        http::ListenerConfig listener;
        listener.address = "127.0.0.1";
        listener.port = 0;
        server_ = std::make_unique<http::Server>(ioc_, listener, [this](http::Request& request, const http::RequestContext&) {
            return answer(request);
        });
        server_->start();
        thread_ = std::thread([this] { ioc_.run(); });
    }
    ~HubHealth() {
        ioc_.stop();
        thread_.join();
    }
    [[nodiscard]] std::uint16_t port() const { return server_->port(); }

   private:
    boost::asio::awaitable<http::Response> answer(http::Request& request) {
        http::Response res{up_ ? bhttp::status::ok : bhttp::status::service_unavailable, request.version()};
        res.body() = "{}";
        co_return res;
    }

    bool up_;
    boost::asio::io_context ioc_;
    std::unique_ptr<http::Server> server_;
    std::thread thread_;
};

class LaunchHttpTest : public ::testing::Test {
   protected:
    void SetUp() override {
        ocean_sim::OceanApiConfig config;
        config.signing_key = Secret::from_value("launch-test-ocean-sim-signing-key-0123456789");
        config.sites.push_back({kSite, Secret::from_value(kSiteKey), Secret::from_value(kSiteCredential),
                                Secret::from_value(kSek)});
        api_ = std::make_unique<ocean_sim::OceanApi>(std::move(config), state_);
        ocean_sim::ReferralSpec spec;
        spec.seed = 23;
        spec.site_number = kSite;
        spec.listing_ref = kListing;
        spec.external_service_id = kServiceId;
        spec.request_url = "https://relay.example/ocean/fhir/$process-message";
        sent_ = ocean_sim::generate(spec);
        state_.record_sent(sent_, kListing, kSite, kServiceId);
        http::ListenerConfig listener;
        listener.address = "127.0.0.1";
        listener.port = 0;
        ocean_ = std::make_unique<http::Server>(ocean_ioc_, listener, api_->handler());
        ocean_->start();
        ocean_thread_ = std::thread([this] { ocean_ioc_.run(); });
        logo_path_ = testing::TempDir() + "/launch-test-logo.svg";
        std::ofstream(logo_path_) << R"(<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>)";
    }

    void TearDown() override {
        stop_launch();
        ocean_ioc_.stop();
        ocean_thread_.join();
    }

    std::string config_yaml(std::uint16_t ocean_port, const std::string& health_url = "") const {
        const std::string health = health_url.empty() ? "" : ", health_url: \"" + health_url + "\"";
        return fmt::format(R"(
service: {{log_level: info}}
admin: {{address: 127.0.0.1, port: 0}}
listener: {{address: 127.0.0.1, port: 0}}
public_url: "http://localhost:8450"
ocean:
  base_url: "http://127.0.0.1:{ocean_port}"
  timeout: 2s
  connect_timeout: 1s
  sites:
    - {{site: "{site}", site_key: {{value: "{site_key}"}}, site_credential: {{value: "{credential}"}}, sek: {{value: "{sek}"}}}}
    - {{site: "5678", site_key: {{value: a}}, site_credential: {{value: b}}, sek: {{value: c}}}}
signing_key: {{value: "{signing_key}"}}
context_ttl: 30s
failures: {{max_per_address: 1000}}
hub_systems:
  - {{id: pos-1, auth: {{scheme: bearer, token: {{value: pos-1-token}}}}}}
  - {{id: pos-2, auth: {{scheme: bearer, token: {{value: pos-2-token}}}}}}
integrations:
  - id: demo
    site: "{site}"
    mode: redirect
    branding: {{company_name: Lakeshore Health Systems, application_name: Lakeshore Intake, category: Regional intake,
               confirmation_message: "Lakeshore Intake has accepted this referral.",
               logo: {{file: "{logo}", content_type: image/svg+xml}}}}
    targets:
      - {{listing_ref: other-listing, hub_system: pos-2, launch_url: "http://127.0.0.1:9/elsewhere"}}
      - {{listing_ref: "{listing}", hub_system: pos-1, launch_url: "http://127.0.0.1:9/launch?tenant=7"{health}}}
  - id: framed
    site: "{site}"
    mode: iframe
    frame_ancestors: ["http://127.0.0.1:7000", "https://ocean.cognisantmd.com"]
    handoff_delay: 2s
    branding: {{company_name: Lakeshore Health Systems, application_name: Lakeshore Intake}}
    targets: [{{hub_system: pos-1, launch_url: "http://127.0.0.1:9/launch"}}]
  - id: elsewhere
    site: "5678"
    branding: {{company_name: Other, application_name: Other}}
    targets: [{{hub_system: pos-2, launch_url: "http://127.0.0.1:9/other"}}]
)",
                           fmt::arg("ocean_port", ocean_port), fmt::arg("site", kSite), fmt::arg("site_key", kSiteKey),
                           fmt::arg("credential", kSiteCredential), fmt::arg("sek", kSek),
                           fmt::arg("signing_key", kSigningKey), fmt::arg("logo", logo_path_),
                           fmt::arg("listing", kListing), fmt::arg("health", health));
    }

    void start_launch(const std::string& yaml) {
        auto reader = ConfigReader::from_string(yaml, "RELAY_LAUNCH_TEST");
        launch_ = std::make_unique<LaunchService>(load_config(reader));
        launch_thread_ = std::thread([this] { launch_->run(); });
    }
    void start_launch() { start_launch(config_yaml(ocean_->port())); }

    void stop_launch() {
        if (launch_) launch_->stop();
        if (launch_thread_.joinable()) launch_thread_.join();
        launch_.reset();
    }

    http::ClientResponse get(const std::string& target, const std::string& cookie = "") {
        http::BlockingClient client("127.0.0.1", launch_->port(), 10s);
        http::ClientRequest request{bhttp::verb::get, target, 11};
        if (!cookie.empty()) request.set(bhttp::field::cookie, cookie);
        auto res = client.send(std::move(request));
        answers_.push_back(res);
        return res;
    }

    http::ClientResponse redeem(const std::string& token, const std::string& bearer = "pos-1-token") {
        http::BlockingClient client("127.0.0.1", launch_->port(), 10s);
        http::ClientRequest request{bhttp::verb::post, "/hub/v1/launch/redeem", 11};
        if (!bearer.empty()) request.set(bhttp::field::authorization, "Bearer " + bearer);
        request.set(bhttp::field::content_type, "application/json");
        request.body() = R"({"launchContext":")" + token + R"("})";
        request.prepare_payload();
        return client.send(std::move(request));
    }

    std::string launch_query(const std::string& ref, const std::string& site = kSite) const {
        return "referralRef=" + ref + "&siteNum=" + site + "&listingRef=" + kListing + "&externalServiceId=" + kServiceId +
               "&launch=ocean-opaque-token-1";
    }

    /// The context in a hand-off's Location (redirect mode).
    static std::string token_of(const http::ClientResponse& res) {
        const std::string location(res[bhttp::field::location]);
        const auto at = location.find("launch_context=");
        return at == std::string::npos ? std::string() : location.substr(at + 15);
    }

    /// "name=value" of the response's Set-Cookie, for the next request.
    static std::string cookie_of(const http::ClientResponse& res) {
        const std::string set_cookie(res[bhttp::field::set_cookie]);
        return set_cookie.substr(0, set_cookie.find(';'));
    }

    ocean_sim::ReferralState state_;
    ocean_sim::GeneratedReferral sent_;
    std::unique_ptr<ocean_sim::OceanApi> api_;
    boost::asio::io_context ocean_ioc_;
    std::unique_ptr<http::Server> ocean_;
    std::thread ocean_thread_;
    std::string logo_path_;
    std::unique_ptr<LaunchService> launch_;
    std::thread launch_thread_;
    std::vector<http::ClientResponse> answers_;
};

TEST_F(LaunchHttpTest, RedirectModeHandsOffWithASignedContextAndRefusesFraming) {
    start_launch();
    const auto res = get("/ocean/demo/launch?" + launch_query(sent_.referral_ref));
    ASSERT_EQ(res.result_int(), 303) << res.body();
    const std::string location(res[bhttp::field::location]);
    EXPECT_TRUE(location.starts_with("http://127.0.0.1:9/launch?tenant=7&launch_context=")) << location;
    const std::string set_cookie(res[bhttp::field::set_cookie]);
    EXPECT_TRUE(set_cookie.starts_with("relay_launch_")) << set_cookie;
    EXPECT_NE(set_cookie.find("; Path=/ocean/demo/launch"), std::string::npos);
    EXPECT_NE(set_cookie.find("; HttpOnly"), std::string::npos);
    EXPECT_NE(set_cookie.find("; Secure"), std::string::npos);
    EXPECT_NE(set_cookie.find("; SameSite=Lax"), std::string::npos);
    EXPECT_EQ(set_cookie.find("Partitioned"), std::string::npos) << "first-party in redirect mode";
    EXPECT_NE(std::string(res["Content-Security-Policy"]).find("frame-ancestors 'none'"), std::string::npos);
    EXPECT_EQ(res[bhttp::field::x_frame_options], "DENY");
    EXPECT_EQ(res["Referrer-Policy"], "no-referrer") << "the hub system's page must not learn the URL";
    EXPECT_EQ(res[bhttp::field::cache_control], "no-store");

    // The context names the referral, the listing's target and nothing about the patient.
    const ContextSigner signer(Secret::from_value(kSigningKey));
    auto verified = signer.verify(token_of(res));
    ASSERT_TRUE(std::holds_alternative<LaunchContext>(verified));
    const auto& context = std::get<LaunchContext>(verified);
    EXPECT_EQ(context.referral_ref, sent_.referral_ref);
    EXPECT_EQ(context.hub_system, "pos-1") << "the target of the referral's listing, not the first";
    EXPECT_EQ(context.listing_ref, kListing);
    EXPECT_EQ(context.external_service_id, kServiceId);
}

TEST_F(LaunchHttpTest, RedirectModeRefusesALaunchBoundForAFrameBeforeItSpends) {
    start_launch();
    http::BlockingClient client("127.0.0.1", launch_->port(), 10s);
    // An unknown referral: were Ocean asked first, the answer would be 404.
    http::ClientRequest framed{bhttp::verb::get,
                               "/ocean/demo/launch?" + launch_query("00000000-0000-4000-8000-000000000000"), 11};
    framed.set("Sec-Fetch-Dest", "iframe");
    const auto res = client.send(std::move(framed));
    EXPECT_EQ(res.result_int(), 403) << "refused before Ocean is asked";
    EXPECT_EQ(res.count(bhttp::field::location), 0U) << "no hand-off inside someone's frame";
    EXPECT_EQ(res.count(bhttp::field::set_cookie), 0U);
    EXPECT_NE(res.body().find("outside a frame"), std::string::npos);

    // The same navigation at the top level goes through; iframe mode takes framed navigations.
    http::ClientRequest top{bhttp::verb::get, "/ocean/demo/launch?" + launch_query(sent_.referral_ref), 11};
    top.set("Sec-Fetch-Dest", "document");
    EXPECT_EQ(client.send(std::move(top)).result_int(), 303);
    http::ClientRequest in_frame{bhttp::verb::get, "/ocean/framed/launch?" + launch_query(sent_.referral_ref), 11};
    in_frame.set("Sec-Fetch-Dest", "iframe");
    EXPECT_EQ(client.send(std::move(in_frame)).result_int(), 200);
}

TEST_F(LaunchHttpTest, IframeModeShowsTheBrandedHandoffFramedByOceanOnly) {
    start_launch();
    const auto res = get("/ocean/framed/launch?" + launch_query(sent_.referral_ref));
    ASSERT_EQ(res.result_int(), 200) << res.body();
    const std::string csp(res["Content-Security-Policy"]);
    EXPECT_NE(csp.find("frame-ancestors http://127.0.0.1:7000 https://ocean.cognisantmd.com"), std::string::npos) << csp;
    EXPECT_EQ(res.count(bhttp::field::x_frame_options), 0U) << "X-Frame-Options would forbid Ocean's frame too";
    const std::string set_cookie(res[bhttp::field::set_cookie]);
    EXPECT_NE(set_cookie.find("; SameSite=None"), std::string::npos) << "sent inside Ocean's page: third-party";
    EXPECT_NE(set_cookie.find("; Partitioned"), std::string::npos) << "kept where third-party cookies are blocked";
    EXPECT_NE(set_cookie.find("; Secure"), std::string::npos);
    EXPECT_NE(set_cookie.find("; HttpOnly"), std::string::npos);
    EXPECT_EQ(std::string(res[bhttp::field::content_type]), "text/html; charset=utf-8");
    const std::string& page = res.body();
    EXPECT_NE(page.find("Opening Lakeshore Intake"), std::string::npos);
    EXPECT_NE(page.find("id=\"continue\" href=\"http://127.0.0.1:9/launch?launch_context="), std::string::npos);
    EXPECT_NE(page.find("http-equiv=\"refresh\" content=\"2;url=http://127.0.0.1:9/launch?launch_context="),
              std::string::npos);
    EXPECT_NE(page.find("id=\"company-name\">Lakeshore Health Systems"), std::string::npos);
}

TEST_F(LaunchHttpTest, TheHubSystemRedeemsTheContextOnceForTheDecryptedReferral) {
    start_launch();
    const auto launched = get("/ocean/demo/launch?" + launch_query(sent_.referral_ref));
    ASSERT_EQ(launched.result_int(), 303);
    const std::string token = token_of(launched);

    const auto res = redeem(token);
    ASSERT_EQ(res.result_int(), 200) << res.body();
    EXPECT_EQ(res[bhttp::field::cache_control], "no-store");
    const json::object answer = json::parse(res.body()).as_object();
    EXPECT_EQ(answer.at("referralRef").as_string(), sent_.referral_ref);
    EXPECT_EQ(answer.at("site").as_string(), kSite);
    EXPECT_EQ(answer.at("listingRef").as_string(), kListing);
    EXPECT_EQ(answer.at("externalServiceId").as_string(), kServiceId);
    EXPECT_EQ(answer.at("hubSystem").as_string(), "pos-1");
    EXPECT_EQ(answer.at("completeUrl").as_string(),
              "http://localhost:8450/ocean/demo/launch/complete?launch_context=" + token);
    EXPECT_EQ(answer.at("referral").as_object().at("referralRef").as_string(), sent_.referral_ref);
    EXPECT_EQ(answer.at("referral").as_object().count("encryptedPtData"), 1U);
    // The patient data, opened with the site's SEK: what ocean-sim holds for the referral.
    const auto view = state_.find(sent_.referral_ref);
    ASSERT_TRUE(view);
    EXPECT_EQ(answer.at("patient"), json::parse(view->patient_json));

    const auto again = redeem(token);
    EXPECT_EQ(again.result_int(), 410);
    EXPECT_NE(again.body().find("context-already-redeemed"), std::string::npos);
}

TEST_F(LaunchHttpTest, RedemptionRefusals) {
    start_launch();
    const std::string token = token_of(get("/ocean/demo/launch?" + launch_query(sent_.referral_ref)));
    ASSERT_FALSE(token.empty());

    const auto anonymous = redeem(token, "");
    EXPECT_EQ(anonymous.result_int(), 401);
    EXPECT_NE(std::string(anonymous[bhttp::field::www_authenticate]).find("Bearer"), std::string::npos);
    EXPECT_EQ(redeem(token, "wrong-token").result_int(), 401);

    const auto other_hub = redeem(token, "pos-2-token");
    EXPECT_EQ(other_hub.result_int(), 403);
    EXPECT_NE(other_hub.body().find("context-not-for-this-hub-system"), std::string::npos);

    std::string forged = token;
    forged[forged.size() - 3] = forged[forged.size() - 3] == 'A' ? 'B' : 'A';
    const auto forged_answer = redeem(forged);
    EXPECT_EQ(forged_answer.result_int(), 403);
    EXPECT_NE(forged_answer.body().find("context-forged"), std::string::npos);

    const auto malformed = redeem("not-a-context");
    EXPECT_EQ(malformed.result_int(), 400);
    EXPECT_NE(malformed.body().find("malformed-context"), std::string::npos);
    EXPECT_EQ(malformed.body().find("not-a-context"), std::string::npos) << "the caller's value is not repeated";

    // Expired: a context signed with the service's key whose time has passed.
    const ContextSigner signer(Secret::from_value(kSigningKey));
    LaunchContext old = std::get<LaunchContext>(signer.verify(token));
    old.id = random_token_id();
    old.expires_at -= 3600;
    const auto expired = redeem(signer.sign(old));
    EXPECT_EQ(expired.result_int(), 410);
    EXPECT_NE(expired.body().find("context-expired"), std::string::npos);

    // Cross-site: a context whose integration is bound to another site than the one it names.
    LaunchContext cross = std::get<LaunchContext>(signer.verify(token));
    cross.id = random_token_id();
    cross.integration = "elsewhere";
    const auto cross_site = redeem(signer.sign(cross));
    EXPECT_EQ(cross_site.result_int(), 403);

    // The refusals used nothing up: the real context still redeems.
    EXPECT_EQ(redeem(token).result_int(), 200);

    http::BlockingClient client("127.0.0.1", launch_->port(), 10s);
    http::ClientRequest get_redeem{bhttp::verb::get, "/hub/v1/launch/redeem", 11};
    EXPECT_EQ(client.send(std::move(get_redeem)).result_int(), 405);
}

TEST_F(LaunchHttpTest, CompletionPageIsForTheLaunchingBrowserOnly) {
    start_launch();
    const auto launched = get("/ocean/demo/launch?" + launch_query(sent_.referral_ref));
    const std::string token = token_of(launched);
    const std::string cookie = cookie_of(launched);
    ASSERT_EQ(redeem(token).result_int(), 200);

    const auto accepted = get("/ocean/demo/launch/complete?launch_context=" + token + "&outcome=accepted", cookie);
    ASSERT_EQ(accepted.result_int(), 200) << accepted.body();
    EXPECT_NE(accepted.body().find("Lakeshore Intake has accepted this referral."), std::string::npos);
    EXPECT_NE(accepted.body().find("Regional intake"), std::string::npos);

    const auto declined = get("/ocean/demo/launch/complete?launch_context=" + token + "&outcome=declined", cookie);
    EXPECT_EQ(declined.result_int(), 200);
    EXPECT_NE(declined.body().find("did not accept"), std::string::npos);

    const auto other_browser = get("/ocean/demo/launch/complete?launch_context=" + token + "&outcome=accepted");
    EXPECT_EQ(other_browser.result_int(), 403);
    EXPECT_EQ(other_browser.body().find("has accepted"), std::string::npos);
    const auto wrong_cookie = get("/ocean/demo/launch/complete?launch_context=" + token + "&outcome=accepted",
                                  cookie.substr(0, cookie.find('=') + 1) + "guess");
    EXPECT_EQ(wrong_cookie.result_int(), 403);

    EXPECT_EQ(get("/ocean/demo/launch/complete?launch_context=" + token + "&outcome=maybe", cookie).result_int(), 400);
    EXPECT_EQ(get("/ocean/framed/launch/complete?launch_context=" + token + "&outcome=accepted", cookie).result_int(), 400)
        << "a context of one integration is not completed under another";

    const ContextSigner signer(Secret::from_value(kSigningKey));
    LaunchContext old = std::get<LaunchContext>(signer.verify(token));
    old.issued_at -= 24 * 3600;
    EXPECT_EQ(get("/ocean/demo/launch/complete?launch_context=" + signer.sign(old) + "&outcome=accepted", cookie)
                  .result_int(),
              410);
}

TEST_F(LaunchHttpTest, LaunchLinkRefusalsSayWhatIsWrongInPlainWords) {
    start_launch();
    const auto missing = get("/ocean/demo/launch?siteNum=1234");
    EXPECT_EQ(missing.result_int(), 400);
    EXPECT_NE(missing.body().find("This launch link is incomplete"), std::string::npos);
    EXPECT_NE(missing.body().find("Lakeshore Intake"), std::string::npos) << "the page keeps the branding";
    EXPECT_EQ(missing.count(bhttp::field::set_cookie), 0U);

    const auto injected = get("/ocean/demo/launch?referralRef=%3Cscript%3Ealert(1)%3C%2Fscript%3E&siteNum=1234");
    EXPECT_EQ(injected.result_int(), 400);
    EXPECT_EQ(injected.body().find("<script"), std::string::npos);
    EXPECT_EQ(injected.body().find("alert(1)"), std::string::npos);

    const auto other_site = get("/ocean/demo/launch?" + launch_query(sent_.referral_ref, "5678"));
    EXPECT_EQ(other_site.result_int(), 403);
    EXPECT_NE(other_site.body().find("another site"), std::string::npos);

    const auto unknown = get("/ocean/demo/launch?" + launch_query("00000000-0000-4000-8000-000000000000"));
    EXPECT_EQ(unknown.result_int(), 404);
    EXPECT_NE(unknown.body().find("The referral was not found"), std::string::npos);

    const auto wrong_listing = get("/ocean/demo/launch?referralRef=" + sent_.referral_ref +
                                   "&siteNum=1234&listingRef=someone-elses-listing");
    EXPECT_EQ(wrong_listing.result_int(), 409);
    EXPECT_NE(wrong_listing.body().find("does not match"), std::string::npos);

    const auto no_integration = get("/ocean/nobody/launch?" + launch_query(sent_.referral_ref));
    EXPECT_EQ(no_integration.result_int(), 404);
    EXPECT_EQ(get("/elsewhere").result_int(), 404);

    http::BlockingClient client("127.0.0.1", launch_->port(), 10s);
    http::ClientRequest post{bhttp::verb::post, "/ocean/demo/launch", 11};
    EXPECT_EQ(client.send(std::move(post)).result_int(), 405);

    const auto logo = get("/ocean/demo/launch/logo");
    EXPECT_EQ(logo.result_int(), 200);
    EXPECT_EQ(logo[bhttp::field::content_type], "image/svg+xml");
    EXPECT_NE(std::string(logo["Content-Security-Policy"]).find("sandbox"), std::string::npos);
    EXPECT_EQ(get("/ocean/framed/launch/logo").result_int(), 404) << "no logo configured there";
}

TEST_F(LaunchHttpTest, OceanOrTheHubSystemUnreachableIsSaidPlainly) {
    {
        HubHealth down(false);
        start_launch(config_yaml(ocean_->port(), fmt::format("http://127.0.0.1:{}/healthz", down.port())));
        const auto res = get("/ocean/demo/launch?" + launch_query(sent_.referral_ref));
        EXPECT_EQ(res.result_int(), 503);
        EXPECT_NE(res.body().find("Lakeshore Intake is not reachable"), std::string::npos);
        EXPECT_NE(res.body().find("nothing is lost"), std::string::npos);
        EXPECT_EQ(res.count(bhttp::field::location), 0U);
        stop_launch();
    }
    {
        HubHealth up(true);
        start_launch(config_yaml(ocean_->port(), fmt::format("http://127.0.0.1:{}/healthz", up.port())));
        EXPECT_EQ(get("/ocean/demo/launch?" + launch_query(sent_.referral_ref)).result_int(), 303);
        stop_launch();
    }
    start_launch(config_yaml(1));  // nothing listens on port 1
    const auto res = get("/ocean/demo/launch?" + launch_query(sent_.referral_ref));
    EXPECT_EQ(res.result_int(), 502);
    EXPECT_NE(res.body().find("Ocean could not be reached"), std::string::npos);
}

TEST_F(LaunchHttpTest, NoPatientDataInAnyAnswerRedirectOrLogLine) {
    const auto view = state_.find(sent_.referral_ref);
    ASSERT_TRUE(view);
    // Every string value of the patient's data of at least 4 characters: names, health number, birth date.
    std::vector<std::string> phi;
    const std::function<void(const json::value&)> collect = [&](const json::value& v) {
        if (v.is_string() && v.as_string().size() >= 4) phi.emplace_back(v.as_string());
        if (v.is_object())
            for (const auto& [k, member] : v.as_object()) collect(member);
        if (v.is_array())
            for (const auto& item : v.as_array()) collect(item);
    };
    collect(json::parse(view->patient_json));
    ASSERT_GE(phi.size(), 3U);

    log::set_level("debug");
    ::testing::internal::CaptureStderr();
    start_launch();
    const auto redirect = get("/ocean/demo/launch?" + launch_query(sent_.referral_ref));
    const auto framed = get("/ocean/framed/launch?" + launch_query(sent_.referral_ref));
    get("/ocean/demo/launch?" + launch_query("00000000-0000-4000-8000-000000000000"));
    const std::string token = token_of(redirect);
    ASSERT_EQ(redeem(token).result_int(), 200);
    redeem(token);
    get("/ocean/demo/launch/complete?launch_context=" + token + "&outcome=accepted", cookie_of(redirect));
    stop_launch();
    const std::string logs = ::testing::internal::GetCapturedStderr();
    log::set_level("info");
    EXPECT_NE(logs.find("launch handed off"), std::string::npos) << "the capture saw the service's lines";
    EXPECT_NE(logs.find("launch context redeemed"), std::string::npos);

    for (const auto& answer : answers_) {
        std::string seen = answer.body();
        for (const auto& field : answer) seen += std::string(field.name_string()) + ": " + std::string(field.value()) + "\n";
        for (const auto& value : phi) EXPECT_EQ(seen.find(value), std::string::npos) << "a launch answer carries patient data";
    }
    for (const auto& value : phi) EXPECT_EQ(logs.find(value), std::string::npos) << "a log line carries patient data";
    EXPECT_EQ(logs.find("ocean-opaque-token-1"), std::string::npos) << "Ocean's launch token is not logged";
}

}  // namespace
}  // namespace relay::launch
