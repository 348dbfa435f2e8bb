// The delivery service's destination configuration: the documented example, and mistakes named by key.
#include "config.hpp"
#include "service_config.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

namespace relay::delivery_service {
namespace {

EnvLookup no_env() {
    return [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
}

DeliveryConfig load(const std::string& yaml) {
    auto reader = ConfigReader::from_string(yaml, "RELAY", no_env());
    auto config = read_delivery_config(reader.root());
    reader.check_no_unknown_keys();
    return config;
}

std::string error_of(const std::string& yaml) {
    try {
        load(yaml);
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "accepted";
}

TEST(DeliveryConfig, TheExampleIsValidAndComplete) {
    // {env: NAME} secrets are read from the process environment.
    ::setenv("INTAKE_CLIENT_SECRET", "cs", 1);
    ::setenv("CLINIC_EMR_PASSWORD", "pw", 1);
    auto reader = ConfigReader::from_file(
        std::string(RELAY_SOURCE_DIR) + "/services/delivery/config/delivery.example.yaml",
        "RELAY",
        no_env());
    const auto service = load_service_config(reader);
    const auto& config = service.delivery;
    EXPECT_EQ(service.admin.port, 9094);
    EXPECT_EQ(service.kafka.group_id, "ocean-relay-delivery");
    EXPECT_EQ(service.tier_topics(),
              (std::vector<std::string>{"relay.deliveries.retry.10s.v1",
                                        "relay.deliveries.retry.1m.v1",
                                        "relay.deliveries.retry.10m.v1",
                                        "relay.deliveries.retry.1h.v1"}));
    ASSERT_EQ(config.destinations.size(), 2U);
    EXPECT_EQ(config.retry_tiers.size(), 4U);
    const auto* intake = config.find("central-intake");
    ASSERT_NE(intake, nullptr);
    EXPECT_TRUE(intake->sender.url.tls);
    EXPECT_EQ(intake->sender.url.host, "intake.hub.example");
    EXPECT_EQ(intake->sender.url.target, "/fhir/referrals");
    EXPECT_EQ(intake->sender.auth.scheme, DestinationAuth::Scheme::kOAuth2);
    EXPECT_EQ(intake->sender.auth.oauth->style, http::ClientAuthStyle::kBasicHeader);
    ASSERT_TRUE(intake->sender.client.client_certificate);
    EXPECT_EQ(intake->sender.client.client_certificate->key_file, "/var/run/secrets/intake/tls.key");
    ASSERT_TRUE(intake->rate_limit);
    EXPECT_EQ(intake->rate_limit->burst, 100);
    EXPECT_EQ(intake->retry.max_attempts, 12);
    EXPECT_EQ(intake->sender.client.dns_cache_ttl, std::chrono::seconds(30));
    EXPECT_EQ(intake->sender.headers.at(0).first, "X-Hub-Tenant");
    const auto* emr = config.find("clinic-emr");
    ASSERT_NE(emr, nullptr);
    EXPECT_EQ(emr->sender.auth.scheme, DestinationAuth::Scheme::kBasic);
    EXPECT_EQ(emr->sender.auth.secret->reveal(), "pw");
    EXPECT_FALSE(emr->rate_limit);
    EXPECT_EQ(emr->retry.max_age, std::chrono::hours(24)) << "defaults";
    EXPECT_EQ(config.find("nowhere"), nullptr);
}

TEST(DeliveryConfig, MistakesNameTheKey) {
    EXPECT_NE(error_of("destinations: [{id: a, url: 'ftp://x/'}]").find("destinations[0].url"),
              std::string::npos);
    EXPECT_NE(error_of("destinations: [{id: a, url: 'http://x/'}, {id: a, url: 'http://y/'}]")
                  .find("defined twice"),
              std::string::npos);
    EXPECT_NE(error_of("destinations: [{id: a, url: 'http://x/', auth: {scheme: basic, username: u}}]")
                  .find("destinations[0].auth.password"),
              std::string::npos);
    EXPECT_NE(error_of("destinations: [{id: a, url: 'http://x/', auth: {scheme: oauth2, client_id: c, "
                       "client_secret: {value: s}}}]")
                  .find("token_url"),
              std::string::npos);
    EXPECT_NE(error_of("destinations: [{id: a, url: 'http://x/', tls: {client_cert_file: c.pem}}]")
                  .find("client_key_file"),
              std::string::npos);
    EXPECT_NE(error_of("destinations: [{id: a, url: 'http://x/', retry: {initial: 2h, max_delay: 1h}}]")
                  .find("destinations[0].retry"),
              std::string::npos);
    EXPECT_NE(error_of("retry_tiers: [1m, 10s]").find("retry_tiers"), std::string::npos);
    EXPECT_NE(error_of("destinations: [{id: a, url: 'http://x/', colour: red}]").find("colour"),
              std::string::npos);
    EXPECT_EQ(error_of("destinations: [{id: a, url: 'http://x/'}]"), "accepted");
}

}  // namespace
}  // namespace relay::delivery_service
