// The launch service's pure parts: the signed context (issued, verified, forged, malformed), the memory
// of redeemed contexts, Ocean's launch query read as untrusted input, the pages (escaped, framed only
// where the mode allows) and the configuration (the example file, TLS, https, the mistakes it names).
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <string>
#include <variant>

#include "config.hpp"
#include "launch_context.hpp"
#include "launch_request.hpp"
#include "pages.hpp"
#include "relay/core/encoding.hpp"

namespace relay::launch {
namespace {

const Secret kKey = Secret::from_value("launch-test-signing-key-0123456789abcdef");

LaunchContext sample_context() {
    LaunchContext c;
    c.id = random_token_id();
    c.integration = "demo";
    c.site = "1234";
    c.referral_ref = "5d7c4a52-7d0e-4a7e-9d5c-6f1b7e0c0a11";
    c.listing_ref = "listing-1";
    c.external_service_id = "";
    c.hub_system = "pos-1";
    c.browser_binding = browser_binding_of("nonce");
    c.issued_at = 1'800'000'000;
    c.expires_at = 1'800'000'060;
    return c;
}

TEST(LaunchContext, SignedContextVerifiesWithEveryField) {
    const ContextSigner signer(kKey);
    const LaunchContext c = sample_context();
    const std::string token = signer.sign(c);
    EXPECT_LT(token.size(), 600U);
    EXPECT_EQ(token.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."),
              std::string::npos)
        << "nothing to escape in a URL";
    auto verified = signer.verify(token);
    ASSERT_TRUE(std::holds_alternative<LaunchContext>(verified));
    const auto& v = std::get<LaunchContext>(verified);
    EXPECT_EQ(v.id, c.id);
    EXPECT_EQ(v.integration, c.integration);
    EXPECT_EQ(v.site, c.site);
    EXPECT_EQ(v.referral_ref, c.referral_ref);
    EXPECT_EQ(v.listing_ref, c.listing_ref);
    EXPECT_EQ(v.external_service_id, c.external_service_id);
    EXPECT_EQ(v.hub_system, c.hub_system);
    EXPECT_EQ(v.browser_binding, c.browser_binding);
    EXPECT_EQ(v.issued_at, c.issued_at);
    EXPECT_EQ(v.expires_at, c.expires_at);
}

TEST(LaunchContext, AnotherKeyOrAChangedPayloadIsForged) {
    const ContextSigner signer(kKey);
    const ContextSigner other(Secret::from_value("another-signing-key-0123456789abcdefghij"));
    const std::string token = signer.sign(sample_context());
    auto by_other = other.verify(token);
    ASSERT_TRUE(std::holds_alternative<ContextRefusal>(by_other));
    EXPECT_EQ(std::get<ContextRefusal>(by_other), ContextRefusal::kForged);

    // The hub system changed in the payload, the signature kept: forged.
    LaunchContext changed = sample_context();
    changed.hub_system = "pos-2";
    const std::string changed_token = signer.sign(changed);
    const std::string spliced = changed_token.substr(0, changed_token.find('.')) + token.substr(token.find('.'));
    auto verified = signer.verify(spliced);
    ASSERT_TRUE(std::holds_alternative<ContextRefusal>(verified));
    EXPECT_EQ(std::get<ContextRefusal>(verified), ContextRefusal::kForged);
}

TEST(LaunchContext, MalformedTokensAreTold) {
    const ContextSigner signer(kKey);
    const std::string token = signer.sign(sample_context());
    for (const std::string& bad : {std::string(), std::string("abc"), std::string("."), token + ".x",
                                   token.substr(0, token.find('.') + 1) + "short", std::string(3000, 'a') + ".b",
                                   "!!!." + token.substr(token.find('.') + 1)}) {
        auto verified = signer.verify(bad);
        ASSERT_TRUE(std::holds_alternative<ContextRefusal>(verified)) << bad.substr(0, 40);
    }
    // A payload signed correctly but not a context of ours (a field missing) is malformed.
    const std::string payload = base64url_encode(R"({"id":"x"})");
    const std::string signature = base64url_encode(hmac_sha256(kKey.reveal(), "relay-launch-v1." + payload));
    auto verified = signer.verify(payload + "." + signature);
    ASSERT_TRUE(std::holds_alternative<ContextRefusal>(verified));
    EXPECT_EQ(std::get<ContextRefusal>(verified), ContextRefusal::kMalformed);
}

TEST(LaunchContext, RandomIdsDiffer) {
    const std::string a = random_token_id();
    const std::string b = random_token_id();
    EXPECT_NE(a, b);
    EXPECT_EQ(a.size(), 22U);
}

TEST(RedemptionMemory, OnceThenAlreadyAndForgetAllowsARetry) {
    RedemptionMemory memory(10);
    EXPECT_EQ(memory.redeem("a", 100, 50), RedemptionMemory::Outcome::kFirst);
    EXPECT_EQ(memory.redeem("a", 100, 51), RedemptionMemory::Outcome::kAlreadyRedeemed);
    memory.forget("a");
    EXPECT_EQ(memory.redeem("a", 100, 52), RedemptionMemory::Outcome::kFirst);
}

TEST(RedemptionMemory, BoundedAndMakesRoomFromExpiredIds) {
    RedemptionMemory memory(2);
    EXPECT_EQ(memory.redeem("a", 100, 50), RedemptionMemory::Outcome::kFirst);
    EXPECT_EQ(memory.redeem("b", 200, 50), RedemptionMemory::Outcome::kFirst);
    EXPECT_EQ(memory.redeem("c", 200, 60), RedemptionMemory::Outcome::kFull) << "nothing has expired yet";
    EXPECT_EQ(memory.redeem("c", 200, 101), RedemptionMemory::Outcome::kFirst) << "a expired and made room";
    EXPECT_EQ(memory.size(), 2U);
}

TEST(LaunchQuery, ReadsTheParametersByTheirConfiguredNames) {
    ParameterNames names;
    auto parsed = parse_launch_query(
        "referralRef=5d7c4a52-7d0e&siteNum=1234&listingRef=l-1&externalServiceId=ESID-9&launch=abc.DEF_1&other=x",
        names, true);
    ASSERT_TRUE(std::holds_alternative<LaunchParameters>(parsed)) << std::get<std::string>(parsed);
    const auto& p = std::get<LaunchParameters>(parsed);
    EXPECT_EQ(p.referral_ref, "5d7c4a52-7d0e");
    EXPECT_EQ(p.site, "1234");
    EXPECT_EQ(p.listing_ref, "l-1");
    EXPECT_EQ(p.external_service_id, "ESID-9");
    EXPECT_EQ(p.launch_token, "abc.DEF_1");

    names.referral_ref = "ref";
    names.site = "site";
    auto renamed = parse_launch_query("ref=r-1&site=77", names, false);
    ASSERT_TRUE(std::holds_alternative<LaunchParameters>(renamed));
    EXPECT_EQ(std::get<LaunchParameters>(renamed).referral_ref, "r-1");
    EXPECT_EQ(std::get<LaunchParameters>(renamed).site, "77");
}

TEST(LaunchQuery, RefusesWhatIsMissingOrMalformedWithoutRepeatingIt) {
    const ParameterNames names;
    const auto reason = [&](std::string_view query, bool require_token = false) {
        auto parsed = parse_launch_query(query, names, require_token);
        return std::holds_alternative<std::string>(parsed) ? std::get<std::string>(parsed) : std::string("accepted");
    };
    EXPECT_EQ(reason("siteNum=1234"), "missing-parameters");
    EXPECT_EQ(reason("referralRef=r"), "missing-parameters");
    EXPECT_EQ(reason("referralRef=r&siteNum=1"), "accepted");
    EXPECT_EQ(reason("referralRef=r&siteNum=1", true), "missing-parameters");
    EXPECT_EQ(reason("referralRef=r&siteNum=12a"), "malformed-parameters");
    EXPECT_EQ(reason("referralRef=r%3Cscript%3E&siteNum=1"), "malformed-parameters");
    EXPECT_EQ(reason("referralRef=r&referralRef=s&siteNum=1"), "malformed-parameters") << "repeated";
    EXPECT_EQ(reason("referralRef=r&siteNum=1&listingRef=a%20b"), "malformed-parameters");
    EXPECT_EQ(reason("referralRef=r&siteNum=1&launch=" + std::string(600, 'a')), "malformed-parameters");
    EXPECT_EQ(reason("referralRef=" + std::string(129, 'a') + "&siteNum=1"), "malformed-parameters");
    EXPECT_EQ(reason("referralRef=%zz&siteNum=1"), "malformed-parameters");
    EXPECT_EQ(reason(std::string(5000, 'a')), "malformed-parameters");
}

Integration sample_integration(Integration::Mode mode) {
    Integration i;
    i.id = "demo";
    i.site = "1234";
    i.mode = mode;
    i.frame_ancestors = {"https://ocean.cognisantmd.com", "https://test.cognisantmd.com"};
    i.branding.company_name = "Lakeshore <Health> & Co";
    i.branding.application_name = "Lakeshore Intake";
    i.branding.category = "Regional intake";
    i.branding.confirmation_message = "Accepted: \"thanks\"";
    i.branding.logo = "png";
    i.branding.logo_content_type = "image/png";
    return i;
}

TEST(LaunchPages, BrandingIsEscapedAndFramesTheMessage) {
    const Integration i = sample_integration(Integration::Mode::kIframe);
    const std::string html = render_page(&i, outcome_page(i, "accepted"));
    EXPECT_NE(html.find("Lakeshore &lt;Health&gt; &amp; Co"), std::string::npos);
    EXPECT_EQ(html.find("<Health>"), std::string::npos);
    EXPECT_NE(html.find("Accepted: &quot;thanks&quot;"), std::string::npos);
    EXPECT_NE(html.find("id=\"application-name\">Lakeshore Intake"), std::string::npos);
    EXPECT_NE(html.find("id=\"company-header\">Lakeshore &lt;Health&gt; &amp; Co"), std::string::npos)
        << "the company name is in the header itself, logo or not";
    EXPECT_NE(html.find("id=\"category\">Regional intake"), std::string::npos);
    EXPECT_NE(html.find("src=\"/ocean/demo/launch/logo\""), std::string::npos);
    EXPECT_NE(html.find("<html lang=\"en\">"), std::string::npos);
    EXPECT_EQ(html.find("<script"), std::string::npos);
    EXPECT_EQ(html.find("http://"), std::string::npos) << "no external assets";
    EXPECT_EQ(html.find("https://"), std::string::npos) << "no external assets";
}

TEST(LaunchPages, HandoffContinuesToTheHubSystem) {
    Integration i = sample_integration(Integration::Mode::kIframe);
    i.handoff_delay = std::chrono::seconds(2);
    i.branding.referral_form = "intake form";
    const std::string html = render_page(&i, handoff_page(i, "https://hub.example/launch?launch_context=a.b"));
    EXPECT_NE(html.find("content=\"2;url=https://hub.example/launch?launch_context=a.b\""), std::string::npos);
    EXPECT_NE(html.find("id=\"continue\" href=\"https://hub.example/launch?launch_context=a.b\""), std::string::npos);
    EXPECT_NE(html.find("intake form"), std::string::npos);
}

TEST(LaunchPages, FramingFollowsTheMode) {
    const Integration iframe = sample_integration(Integration::Mode::kIframe);
    const Integration redirect = sample_integration(Integration::Mode::kRedirect);
    const std::string framed = page_security_policy(&iframe);
    EXPECT_NE(framed.find("frame-ancestors https://ocean.cognisantmd.com https://test.cognisantmd.com"),
              std::string::npos);
    EXPECT_NE(framed.find("default-src 'none'"), std::string::npos);
    EXPECT_NE(framed.find("style-src 'sha256-"), std::string::npos);
    EXPECT_NE(page_security_policy(&redirect).find("frame-ancestors 'none'"), std::string::npos);
    EXPECT_NE(page_security_policy(nullptr).find("frame-ancestors 'none'"), std::string::npos);
}

TEST(LaunchPages, StyleHashMatchesTheInlineStyle) {
    const Integration i = sample_integration(Integration::Mode::kRedirect);
    const std::string html = render_page(&i, refusal_page(&i, "referral-not-found"));
    const auto open = html.find("<style>") + 7;
    const std::string style = html.substr(open, html.find("</style>") - open);
    EXPECT_NE(page_security_policy(&i).find("'sha256-" + base64_encode(sha256(style)) + "'"), std::string::npos)
        << "a browser would refuse the page's own style otherwise";
}

TEST(LaunchPages, EveryRefusalHasItsOwnPlainWords) {
    const Integration i = sample_integration(Integration::Mode::kRedirect);
    std::set<std::string> titles;
    for (const char* reason : {"malformed-parameters", "site-mismatch", "referral-not-found", "referral-mismatch",
                               "no-target", "ocean-unavailable", "hub-unreachable", "too-many-requests",
                               "context-expired", "other-browser", "context-forged", "no-such-integration",
                               "framing-refused"}) {
        const PageContent page = refusal_page(&i, reason);
        EXPECT_FALSE(page.message.empty()) << reason;
        EXPECT_EQ(page.message.find('-'), std::string::npos) << "a sentence, not a code: " << reason;
        titles.insert(page.title);
    }
    EXPECT_GE(titles.size(), 12U);
}

// -- configuration --

std::string minimal(const std::string& listener = "address: 127.0.0.1", const std::string& extra = "",
                    const std::string& target_url = "http://127.0.0.1:9/launch") {
    return "listener: {" + listener + "}\n" +
           "ocean:\n  base_url: https://ocean.example\n  sites:\n    - {site: \"1234\", site_key: {value: sk}, "
           "site_credential: {value: sc}, sek: {value: sek}}\n"
           "signing_key: {value: \"0123456789abcdef0123456789abcdef\"}\n"
           "hub_systems:\n  - {id: pos-1, auth: {scheme: bearer, token: {value: tok}}}\n"
           "integrations:\n  - id: demo\n    site: \"1234\"\n    branding: {company_name: C, application_name: A}\n"
           "    targets: [{hub_system: pos-1, launch_url: \"" + target_url + "\"}]\n" + extra;
}

LaunchConfig load(const std::string& yaml) {
    auto reader = ConfigReader::from_string(yaml, "RELAY");
    return load_config(reader);
}

std::string error_of(const std::string& yaml) {
    try {
        load(yaml);
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "accepted";
}

TEST(LaunchConfig, DefaultsAreOceansHostsAndRedirect) {
    const LaunchConfig c = load(minimal());
    ASSERT_EQ(c.integrations.size(), 1U);
    const Integration& i = c.integrations[0];
    EXPECT_EQ(i.mode, Integration::Mode::kRedirect);
    EXPECT_EQ(i.frame_ancestors, (std::vector<std::string>{"https://ocean.cognisantmd.com", "https://test.cognisantmd.com"}));
    EXPECT_EQ(i.parameters.referral_ref, "referralRef");
    EXPECT_EQ(i.parameters.launch_token, "launch");
    EXPECT_EQ(c.context_ttl, std::chrono::seconds(60));
    EXPECT_EQ(i.targets[0].context_parameter, "launch_context");
}

TEST(LaunchConfig, TlsIsRequiredOutsideLoopback) {
    EXPECT_NE(error_of(minimal("address: 0.0.0.0")).find("listener.tls"), std::string::npos);
    EXPECT_EQ(error_of(minimal("address: \"::1\"")), "accepted");
    EXPECT_EQ(error_of(minimal("address: 0.0.0.0, tls: {cert_file: c.pem, key_file: k.pem}")), "accepted");
}

TEST(LaunchConfig, MistakesNameTheKeyWithoutRepeatingSecrets) {
    EXPECT_NE(error_of(minimal("address: 127.0.0.1", "", "http://hub.example/launch")).find("launch_url"),
              std::string::npos)
        << "plain http only to a loopback host";
    EXPECT_NE(error_of(minimal() + "surprise: 1\n").find("surprise"), std::string::npos);
    const std::string short_key = error_of(
        std::regex_replace(minimal(), std::regex("0123456789abcdef0123456789abcdef"), "short-secret"));
    EXPECT_NE(short_key.find("signing_key"), std::string::npos);
    EXPECT_EQ(short_key.find("short-secret"), std::string::npos);
    EXPECT_NE(error_of(std::regex_replace(minimal(), std::regex("scheme: bearer, token: \\{value: tok\\}"),
                                          "scheme: none"))
                  .find("scheme"),
              std::string::npos);
    EXPECT_NE(error_of(std::regex_replace(minimal(), std::regex("hub_system: pos-1"), "hub_system: pos-9"))
                  .find("hub_system"),
              std::string::npos);
    EXPECT_NE(error_of(std::regex_replace(minimal(), std::regex("site: \"1234\"\n    branding"),
                                          "site: \"999\"\n    branding"))
                  .find("integrations[0].site"),
              std::string::npos);
    EXPECT_NE(error_of(std::regex_replace(minimal(), std::regex("id: demo"), "id: demo\n    frame_ancestors: [\"https://*.example\"]"))
                  .find("frame_ancestors"),
              std::string::npos);
}

TEST(LaunchConfig, TheExampleFileLoads) {
    // The example names files that exist only in a deployment; its shape is what is checked here.
    std::ifstream in(std::string(RELAY_SOURCE_DIR) + "/services/launch/config/launch.example.yaml");
    ASSERT_TRUE(in);
    std::string yaml((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    yaml = std::regex_replace(yaml, std::regex(R"(\{file: /var/run/secrets/[^}]*\})"),
                              "{value: \"0123456789abcdef0123456789abcdef\"}");
    const std::string logo = testing::TempDir() + "/launch-logo.png";
    std::ofstream(logo) << "png";
    yaml = std::regex_replace(yaml, std::regex("/etc/ocean-relay/branding/lakeshore.png"), logo);
    yaml = std::regex_replace(yaml, std::regex(R"(cert_file: \S+)"), "cert_file: c.pem");
    const LaunchConfig c = load(yaml);
    EXPECT_EQ(c.integrations.size(), 1U);
    EXPECT_EQ(c.integrations[0].targets.size(), 2U);
    EXPECT_EQ(c.integrations[0].branding.logo, "png");
    EXPECT_EQ(c.public_url, "https://relay.hub.example");
}

}  // namespace
}  // namespace relay::launch
