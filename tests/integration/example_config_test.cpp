// The documented example configuration parses, so the README never shows a configuration that fails.
#include <gtest/gtest.h>

#include <cstdlib>

#include "config.hpp"

namespace {

TEST(ExampleConfig, ParsesWithItsSecretsInTheEnvironment) {
    ::setenv("RELAY_TOKEN_SIGNING_KEY", "an-example-signing-key-of-at-least-32-bytes", 1);
    ::setenv("RELAY_SITE_1234_CLIENT_SECRET", "example-client-secret", 1);
    ::setenv("RELAY_SITE_5678_PASSWORD", "example-password", 1);
    ::setenv("RELAY_SITE_1234_OPENAPI_KEY", "example-open-api-webhook-key", 1);
    auto reader = relay::ConfigReader::from_file(
        std::string(RELAY_SOURCE_DIR) + "/services/ingress/config/ingress.example.yaml",
        "RELAY",
        [](const std::string&) { return std::optional<std::string>(); });
    const auto config = relay::ingress::load_config(reader);
    ASSERT_EQ(config.integrations.size(), 2U);
    EXPECT_EQ(config.integrations[0].fhir_path, "/ocean/1234/fhir");
    EXPECT_EQ(config.integrations[0].token_path, "/ocean/1234/oauth2/token");
    EXPECT_EQ(config.integrations[0].auth.scheme, relay::auth::Scheme::kOAuth2);
    EXPECT_EQ(config.integrations[1].name, "5678");
    EXPECT_EQ(config.listeners.at(0).limits.body_limit, 20U << 20);
    EXPECT_EQ(config.kafka.producer.message_max_bytes, (20U << 20) + (1U << 20));
    EXPECT_EQ(config.kafka.inbound_topic, "ocean.inbound.v1");
    EXPECT_EQ(config.kafka.replication_factor, 3);
    ASSERT_TRUE(config.integrations[0].open_api.has_value());
    EXPECT_EQ(config.integrations[0].open_api->path, "/ocean/site-1234/openapi/webhook");
    EXPECT_EQ(config.integrations[0].open_api->topic, "ocean.notifications.v1");
    EXPECT_FALSE(config.integrations[1].open_api.has_value());
}

TEST(ExampleConfig, MissingSecretIsAStartupErrorNamingTheKey) {
    ::unsetenv("RELAY_SITE_5678_PASSWORD");
    ::setenv("RELAY_TOKEN_SIGNING_KEY", "an-example-signing-key-of-at-least-32-bytes", 1);
    ::setenv("RELAY_SITE_1234_CLIENT_SECRET", "example-client-secret", 1);
    ::setenv("RELAY_SITE_1234_OPENAPI_KEY", "example-open-api-webhook-key", 1);
    try {
        auto reader = relay::ConfigReader::from_file(
            std::string(RELAY_SOURCE_DIR) + "/services/ingress/config/ingress.example.yaml",
            "RELAY",
            [](const std::string&) { return std::optional<std::string>(); });
        relay::ingress::load_config(reader);
        FAIL() << "expected a ConfigError";
    } catch (const relay::ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("integrations[1].auth.password"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("RELAY_SITE_5678_PASSWORD"), std::string::npos) << e.what();
    }
}

}  // namespace
