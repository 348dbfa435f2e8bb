// The updater's configuration: the documented example loads, defaults, and mistakes named by key.
#include "service_config.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

#include "relay/contracts/changelog.hpp"
#include "service.hpp"
#include "test_support.hpp"

namespace relay::updater {

namespace {

EnvLookup no_env() {
    return [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
}

UpdaterServiceConfig load(const std::string& yaml) {
    auto reader = ConfigReader::from_string(yaml, "RELAY", no_env());
    return load_service_config(reader);
}

const std::string kMinimal = R"(
ocean:
  base_url: https://ocean.example/
  sites:
    - {site: "1234", client_id: c1, client_secret: {value: s1}}
)";

std::string error_of(const std::string& yaml) {
    try {
        load(yaml);
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "";
}

TEST(UpdaterConfig, ExampleLoads) {
    ::setenv("OCEAN_SITE_1234_CLIENT_SECRET", "s1", 1);
    ::setenv("OCEAN_SITE_5678_CLIENT_SECRET", "s2", 1);
    auto reader = ConfigReader::from_file(
        std::string(RELAY_SOURCE_DIR) + "/services/updater/config/updater.example.yaml", "RELAY", no_env());
    const auto c = load_service_config(reader);
    EXPECT_EQ(c.admin.port, 9095);
    EXPECT_EQ(c.kafka.group_id, "ocean-relay-updater");
    EXPECT_EQ(c.topics.updates, "relay.updates.v1");
    EXPECT_EQ(c.topics.state, "relay.referrals.state.v1");
    EXPECT_EQ(c.bundle_wait, std::chrono::minutes(2));
    EXPECT_EQ(c.topics.sent, "relay.updates.sent.v1");
    EXPECT_EQ(c.sent_memory, std::chrono::hours(24 * 7));
    EXPECT_EQ(c.retry.max_age, std::chrono::hours(96));
    ASSERT_EQ(c.ocean.sites.size(), 2U);
    EXPECT_EQ(c.ocean.default_site, "1234");
    const auto* a = c.ocean.find("1234");
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->sender.url.host, "ocean.cognisantmd.com");
    EXPECT_EQ(a->sender.url.target, "/svc/fhir/v1/$process-messages");
    EXPECT_EQ(a->sender.auth.oauth->token_url.target, "/svc/oauth2/token");
    EXPECT_EQ(a->sender.auth.oauth->style, http::ClientAuthStyle::kBasicHeader);
    EXPECT_EQ(a->sender.auth.oauth->client_secret.reveal(), "s1");
    EXPECT_EQ(a->sender.keep_error_body, 16U * 1024U);
    EXPECT_EQ(c.ocean.find("5678")->sender.auth.oauth->style, http::ClientAuthStyle::kFormFields);
    EXPECT_EQ(c.message.source_endpoint, "https://relay.hub.example/fhir/$process-message");
}

TEST(UpdaterConfig, Defaults) {
    const auto c = load(kMinimal);
    EXPECT_EQ(c.ocean.base_url, "https://ocean.example");
    EXPECT_EQ(c.ocean.sites[0].sender.auth.oauth->token_url.host, "ocean.example");
    EXPECT_EQ(c.admin.port, 9095);
    EXPECT_EQ(c.max_held, 10'000U);
    EXPECT_EQ(c.retry.max_age, std::chrono::hours(96));
    EXPECT_EQ(c.message.ocean_host, "https://ocean.example");
    EXPECT_TRUE(c.ocean.default_site.empty());
}

TEST(UpdaterConfig, MistakesNamed) {
    EXPECT_NE(error_of("ocean: {sites: []}").find("base_url"), std::string::npos);
    EXPECT_NE(error_of("ocean: {base_url: https://o.example}").find("sites"), std::string::npos);
    EXPECT_NE(error_of(kMinimal + "  default_site: '999'\n").find("default_site"), std::string::npos);
    EXPECT_NE(error_of(kMinimal + "service: {surprise: 1}\n").find("surprise"), std::string::npos);
    // A call to Ocean must be able to finish within the grace a revoke or SIGTERM gives it.
    EXPECT_NE(error_of(kMinimal + "shutdown: {grace_period: 10s}\n").find("shutdown.grace_period"),
              std::string::npos);
    EXPECT_NE(error_of(R"(
ocean:
  base_url: https://o.example
  sites:
    - {site: "1", client_id: c}
)")
                  .find("client_secret"),
              std::string::npos);
    EXPECT_NE(error_of(R"(
ocean:
  base_url: https://o.example
  sites:
    - {site: "1", client_id: c, client_secret: {value: s}, token_auth: digest}
)")
                  .find("token_auth"),
              std::string::npos);
    EXPECT_NE(error_of(R"(
ocean:
  base_url: https://o.example
  sites:
    - {site: "1", client_id: c, client_secret: {value: s}}
    - {site: "1", client_id: d, client_secret: {value: s}}
)")
                  .find("twice"),
              std::string::npos);
}

TEST(UpdaterBundleKey, OnlyBundleKeys) {
    EXPECT_EQ(contracts::changelog::bundle_key_ref("ref-1#bundle"), "ref-1");
    EXPECT_FALSE(contracts::changelog::bundle_key_ref("ref-1"));
    EXPECT_FALSE(contracts::changelog::bundle_key_ref("#bundle"));
}

TEST(UpdaterSite, UpdateThenBundleThenDefault) {
    hub::Update u;
    u.site = "42";
    EXPECT_EQ(site_for(u, "{}", "1"), "42");
    u.site.clear();
    EXPECT_EQ(site_for(u, "not a bundle", "1"), "1");
    // The fixture's target listing is at site 1234.
    const std::string bundle = test::read_fixture("ocean-fhir-v0.11.1/ereferral_back_pain.bundle.json");
    EXPECT_EQ(site_for(u, bundle, "1"), "1234");
}

}  // namespace
}  // namespace relay::updater
