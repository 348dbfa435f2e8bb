// Ocean's side of the Referral System Launch: the launch URL (names, escaping, overrides, no patient
// data), the "Referral sent" page that frames it, the `launch` section, and the route in both modes.
#include "launch_link.hpp"

#include <gtest/gtest.h>

#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <set>
#include <string>

#include "generator.hpp"
#include "ocean_api.hpp"
#include "referral_state.hpp"
#include "relay/core/encoding.hpp"
#include "sim_config.hpp"

namespace {

namespace bhttp = boost::beast::http;
namespace json = boost::json;
using namespace relay::ocean_sim;

constexpr std::string_view kLaunch = "http://localhost:8450/ocean/demo/launch";

LaunchLinkConfig config(LaunchLinkConfig::Mode mode = LaunchLinkConfig::Mode::kRedirect) {
    LaunchLinkConfig c;
    c.url = std::string(kLaunch);
    c.mode = mode;
    return c;
}

const LaunchReferral kReferral{"ref-1", "1234", "listing-1", "ESID-1"};

TEST(LaunchUrl, CarriesTheRefsUnderOceansNames) {
    EXPECT_EQ(launch_url(config(), kReferral, "tok"),
              "http://localhost:8450/ocean/demo/launch?referralRef=ref-1&siteNum=1234&listingRef=listing-1"
              "&externalServiceId=ESID-1&launch=tok");
}

TEST(LaunchUrl, ConfiguredNamesOverridesAndAnExistingQuery) {
    auto c = config();
    c.url = "https://relay.example/ocean/x/launch?tenant=7";
    c.parameters = {"ref", "site", "listing", "service", "t"};
    c.listing_ref = "other listing";
    c.external_service_id = "";
    EXPECT_EQ(
        launch_url(c, kReferral, "tok"),
        "https://relay.example/ocean/x/launch?tenant=7&ref=ref-1&site=1234&listing=other%20listing&t=tok")
        << "an empty External Service ID leaves the parameter out";
}

TEST(LaunchUrl, EscapesEveryValue) {
    const LaunchReferral odd{"a&b=c", "12 34", "l/ï", ""};
    EXPECT_EQ(
        launch_url(config(), odd, "x+y"),
        std::string(kLaunch) + "?referralRef=a%26b%3Dc&siteNum=12%2034&listingRef=l%2F%C3%AF&launch=x%2By");
}

TEST(LaunchToken, RandomAndUrlSafe) {
    std::set<std::string> seen;
    for (int i = 0; i < 50; ++i) {
        const auto token = new_launch_token();
        EXPECT_EQ(token.size(), 22U);
        EXPECT_EQ(token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                  std::string::npos);
        seen.insert(token);
    }
    EXPECT_EQ(seen.size(), 50U);
}

TEST(ReferralSentPage, FramesTheLaunchEscaped) {
    const auto page = referral_sent_page("r<1>", "http://h/l?a=1&b=\"2\"");
    EXPECT_NE(page.find("<h1>Referral sent</h1>"), std::string::npos);
    EXPECT_NE(page.find("<code>r&lt;1&gt;</code>"), std::string::npos);
    EXPECT_NE(
        page.find(
            R"(<iframe id="launch" title="Referral System Launch" src="http://h/l?a=1&amp;b=&quot;2&quot;">)"),
        std::string::npos)
        << page;
}

SimConfig parse(const std::string& yaml) {
    auto reader = relay::ConfigReader::from_string(
        yaml, "RELAY_SIM", [](const std::string&) { return std::optional<std::string>(); });
    return load_sim_config(reader);
}

constexpr std::string_view kApi = R"(
webhooks: {target_url: "http://127.0.0.1:9/ocean"}
api: {signing_key: {value: k}, clients: [{client_id: c, client_secret: {value: s}}]}
)";

TEST(LaunchConfig, DefaultsAndOverrides) {
    auto c = parse(std::string(kApi) + "launch: {url: \"" + std::string(kLaunch) + "\"}\n");
    ASSERT_TRUE(c.api && c.api->launch);
    EXPECT_EQ(c.api->launch->mode, LaunchLinkConfig::Mode::kRedirect);
    EXPECT_EQ(c.api->launch->parameters.referral_ref, "referralRef");
    EXPECT_EQ(c.api->launch->parameters.launch_token, "launch");
    EXPECT_FALSE(c.api->launch->listing_ref);

    c = parse(
        std::string(kApi) +
        "launch: {url: \"http://127.0.0.1:1/l\", mode: iframe, parameters: {site: site}, listing_ref: x}\n");
    ASSERT_TRUE(c.api && c.api->launch);
    EXPECT_EQ(c.api->launch->mode, LaunchLinkConfig::Mode::kIframe);
    EXPECT_EQ(c.api->launch->parameters.site, "site");
    EXPECT_EQ(c.api->launch->listing_ref, "x");
}

TEST(LaunchConfig, MistakesNameTheKey) {
    auto message = [](const std::string& yaml) {
        try {
            parse(yaml);
        } catch (const relay::ConfigError& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_NE(message(std::string(kApi) + "launch: {url: not-a-url}\n").find("launch.url"),
              std::string::npos);
    EXPECT_NE(message(std::string(kApi) + "launch: {url: \"http://h/l\", mode: popup}\n").find("launch.mode"),
              std::string::npos);
    EXPECT_NE(
        message(std::string(kApi) + "launch: {url: \"http://h/l\", colour: red}\n").find("launch.colour"),
        std::string::npos);
    EXPECT_NE(message("webhooks: {target_url: \"http://127.0.0.1:9/o\"}\nlaunch: {url: \"http://h/l\"}\n")
                  .find("launch"),
              std::string::npos)
        << "the launch is served on the API listener";
}

class ReferralSentRoute : public ::testing::Test {
   protected:
    void build(std::optional<LaunchLinkConfig> launch) {
        OceanApiConfig c;
        c.signing_key = relay::Secret::from_value("launch-link-test-signing-key-0123456789");
        c.launch = std::move(launch);
        api_ = std::make_unique<OceanApi>(std::move(c), state_);
        ReferralSpec spec;
        spec.seed = 11;
        spec.site_number = "1234";
        spec.listing_ref = "listing-1";
        spec.request_url = "https://relay.example/ocean/fhir/$process-message";
        sent_ = generate(spec);
        state_.record_sent(sent_, "listing-1", "1234", "ESID-1");
    }

    relay::http::Response get(const std::string& target) {
        relay::http::Request request{bhttp::verb::get, target, 11};
        return api_->respond(request);
    }

    /// The generated patient's names, health number and birth date: none may leave in a launch.
    std::vector<std::string> patient_fields() {
        std::vector<std::string> out;
        const json::value bundle = json::parse(sent_.body);
        for (const auto& e : bundle.at("entry").as_array()) {
            const auto& r = e.at("resource").as_object();
            if (r.at("resourceType") != "Patient") continue;
            const auto& name = r.at("name").as_array()[0].as_object();
            out.emplace_back(name.at("family").as_string());
            out.emplace_back(name.at("given").as_array()[0].as_string());
            out.emplace_back(r.at("birthDate").as_string());
            for (const auto& id : r.at("identifier").as_array()) {
                if (const auto* value = id.as_object().if_contains("value"))
                    out.emplace_back(value->as_string());
            }
        }
        return out;
    }

    ReferralState state_;
    std::unique_ptr<OceanApi> api_;
    GeneratedReferral sent_;
};

TEST_F(ReferralSentRoute, RedirectModeSends303WithANewTokenEachTime) {
    build(config());
    const auto res = get("/ocean-ui/referrals/" + sent_.referral_ref + "/sent");
    ASSERT_EQ(res.result(), bhttp::status::see_other) << res.body();
    const std::string location(res[bhttp::field::location]);
    const std::string prefix = std::string(kLaunch) + "?referralRef=" + sent_.referral_ref +
                               "&siteNum=1234&listingRef=listing-1&externalServiceId=ESID-1&launch=";
    EXPECT_EQ(location.substr(0, prefix.size()), prefix);
    EXPECT_EQ(res[bhttp::field::cache_control], "no-store");
    const auto again = get("/ocean-ui/referrals/" + sent_.referral_ref + "/sent");
    EXPECT_NE(std::string(again[bhttp::field::location]), location) << "each visit is a new launch";
    const auto fields = patient_fields();
    ASSERT_GE(fields.size(), 4U);
    for (const auto& field : fields) {
        EXPECT_EQ(location.find(field), std::string::npos) << "patient data in the launch URL";
        EXPECT_EQ(location.find(relay::ocean_sim::query_escape(field)), std::string::npos);
    }
}

TEST_F(ReferralSentRoute, IframeModeServesOceansPageFramingTheLaunch) {
    build(config(LaunchLinkConfig::Mode::kIframe));
    const auto res = get("/ocean-ui/referrals/" + sent_.referral_ref + "/sent");
    ASSERT_EQ(res.result(), bhttp::status::ok);
    EXPECT_EQ(res[bhttp::field::content_type], "text/html; charset=utf-8");
    const std::string& page = res.body();
    EXPECT_NE(page.find("Referral sent"), std::string::npos);
    EXPECT_NE(page.find("<iframe id=\"launch\""), std::string::npos);
    EXPECT_NE(page.find("src=\"" + std::string(kLaunch) + "?referralRef=" + sent_.referral_ref + "&amp;"),
              std::string::npos)
        << page;
    for (const auto& field : patient_fields()) EXPECT_EQ(page.find(field), std::string::npos);
}

TEST_F(ReferralSentRoute, UnknownReferralOrNoLaunchIs404) {
    build(config());
    EXPECT_EQ(get("/ocean-ui/referrals/nope/sent").result(), bhttp::status::not_found);
    build(std::nullopt);
    EXPECT_EQ(get("/ocean-ui/referrals/" + sent_.referral_ref + "/sent").result(), bhttp::status::not_found);
}

}  // namespace
