// relay::ingress::load_config on YAML strings: defaults, validation errors naming the key, substitution,
// topics, whsec_ keys and environment overrides (through the injected EnvLookup, never setenv).
#include "config.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "relay/core/config.hpp"
#include "relay/core/encoding.hpp"

using namespace std::chrono_literals;
using relay::ingress::IngressConfig;

namespace {

constexpr const char* kMinimal =
    "integrations:\n"
    "  - site: \"1234\"\n";

// 40 bytes: long enough for auth.token_signing_key.
constexpr const char* kSigningKeyYaml =
    "auth:\n"
    "  token_signing_key:\n"
    "    value: 0123456789abcdef0123456789abcdef01234567\n";

relay::EnvLookup env_of(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
        auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

IngressConfig load(const std::string& yaml, std::map<std::string, std::string> env = {}) {
    auto reader = relay::ConfigReader::from_string(yaml, "RELAY", env_of(std::move(env)));
    return relay::ingress::load_config(reader);
}

// Loads `yaml`, which must be rejected; returns the ConfigError message.
std::string load_error(const std::string& yaml, std::map<std::string, std::string> env = {}) {
    try {
        load(yaml, std::move(env));
    } catch (const relay::ConfigError& e) {
        return e.what();
    }
    ADD_FAILURE() << "expected a ConfigError for:\n" << yaml;
    return {};
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

}  // namespace

// --- defaults -----------------------------------------------------------------------------------

TEST(IngressConfigDefaults, MinimalConfigGetsOceanPathsAndNoAuth) {
    const IngressConfig config = load(kMinimal);
    ASSERT_EQ(config.integrations.size(), 1u);
    const auto& integration = config.integrations[0];
    EXPECT_EQ(integration.site, "1234");
    EXPECT_EQ(integration.name, "1234");
    EXPECT_EQ(integration.fhir_path, "/ocean/1234/fhir");
    EXPECT_EQ(integration.token_path, "/ocean/1234/oauth2/token");
    EXPECT_EQ(integration.auth.scheme, relay::auth::Scheme::kNone);
    EXPECT_FALSE(integration.auth.signature_key.has_value());
    EXPECT_EQ(integration.accepted_events, relay::ingress::default_accepted_events());
    // The site is bound to the credential unless the operator says otherwise.
    EXPECT_TRUE(integration.enforce_site);
    EXPECT_TRUE(integration.ignored_events.empty()) << "nothing Ocean sends is dropped by default";
}

TEST(IngressConfigDefaults, EdgeLimitsHaveSafeDefaultsAndAreValidated) {
    auto config = load("integrations: [{site: \"1234\"}]\n");
    EXPECT_EQ(config.max_body_memory, relay::http::BodyBudget::kDefaultBytes);
    EXPECT_EQ(config.auth_failures.max_per_address, 30U);
    config = load(
        "limits: {max_body: 1MiB, max_body_memory: 8MiB}\n"
        "auth: {failures: {window: 2m, max_per_address: 5, max_per_credential: 0}}\n"
        "fhir: {ignored_events: [noise]}\n"
        "integrations: [{site: \"1234\", enforce_site: false}, {site: \"5678\", ignored_events: []}]\n");
    EXPECT_EQ(config.max_body_memory, 8ULL << 20);
    EXPECT_EQ(config.auth_failures.window, std::chrono::seconds(120));
    EXPECT_EQ(config.auth_failures.max_per_address, 5U);
    EXPECT_FALSE(config.integrations[0].enforce_site);
    EXPECT_EQ(config.integrations[0].ignored_events, std::vector<std::string>{"noise"});
    EXPECT_TRUE(config.integrations[1].ignored_events.empty());
    std::string message =
        load_error("limits: {max_body: 20MiB, max_body_memory: 4MiB}\nintegrations: [{site: \"1234\"}]\n");
    EXPECT_TRUE(contains(message, "limits.max_body_memory")) << message;
    message = load_error("integrations: [{site: \"12345678901234567\"}]\n");
    EXPECT_TRUE(contains(message, "integrations[0].site")) << message;
    message = load_error("auth: {failures: {window: 0s}}\nintegrations: [{site: \"1234\"}]\n");
    EXPECT_TRUE(contains(message, "auth.failures.window")) << message;
}

TEST(IngressConfigDefaults, DefaultAcceptedEventsAreOceansInboundEvents) {
    const auto events = relay::ingress::default_accepted_events();
    EXPECT_NE(std::find(events.begin(), events.end(), "add-service-request"), events.end());
    EXPECT_NE(std::find(events.begin(), events.end(), "notify-update-service-request"), events.end());
    EXPECT_NE(std::find(events.begin(), events.end(), "revoke-service-request"), events.end());
    EXPECT_EQ(std::find(events.begin(), events.end(), "notify-add-process-request"), events.end())
        << "receiver -> Ocean events are not inbound";
}

TEST(IngressConfigDefaults, BodyLimitIs20MiBAndKafkaAcceptsOneMiBMore) {
    const IngressConfig config = load(kMinimal);
    ASSERT_EQ(config.listeners.size(), 1u);
    EXPECT_EQ(config.listeners[0].limits.body_limit, 20ULL << 20);
    EXPECT_EQ(config.kafka.producer.message_max_bytes, (20ULL << 20) + (1ULL << 20));
    EXPECT_EQ(config.inbound_topic_spec().max_message_bytes, config.kafka.producer.message_max_bytes);
}

TEST(IngressConfigDefaults, KafkaAndTopicDefaults) {
    const IngressConfig config = load(kMinimal);
    EXPECT_FALSE(config.kafka.embedded);
    EXPECT_EQ(config.kafka.producer.client.bootstrap_servers, "127.0.0.1:9092");
    EXPECT_EQ(config.kafka.inbound_topic, "ocean.inbound.v1");
    EXPECT_EQ(config.kafka.partitions, 12);
    EXPECT_EQ(config.kafka.replication_factor, 3);
    EXPECT_EQ(config.kafka.producer.compression, "lz4");
    EXPECT_EQ(config.kafka.ack_timeout, 5s);
    EXPECT_EQ(config.kafka.producer.delivery_timeout, 5500ms);
    const auto spec = config.inbound_topic_spec();
    EXPECT_EQ(spec.name, "ocean.inbound.v1");
    EXPECT_EQ(spec.partitions, 12);
    EXPECT_EQ(spec.replication_factor, 3);
}

TEST(IngressConfigDefaults, ServiceListenerAndAuthDefaults) {
    const IngressConfig config = load(kMinimal);
    EXPECT_EQ(config.log_level, "info");
    EXPECT_EQ(config.threads, 0);
    EXPECT_EQ(config.listeners[0].name, "public");
    EXPECT_EQ(config.listeners[0].port, 8080);
    EXPECT_EQ(config.admin.port, 9090);
    EXPECT_EQ(config.admin.limits.body_limit, 64u * 1024);
    EXPECT_FALSE(config.token_signing_key.has_value());
    EXPECT_EQ(config.token_issuer, "ocean-relay");
    EXPECT_TRUE(config.strict_json);
}

TEST(IngressConfigDefaults, MaxBodyDrivesTheKafkaMessageSize) {
    const IngressConfig config = load(std::string("limits:\n  max_body: 1MiB\n") + kMinimal);
    EXPECT_EQ(config.listeners[0].limits.body_limit, 1ULL << 20);
    EXPECT_EQ(config.kafka.producer.message_max_bytes, 2ULL << 20);
}

TEST(IngressConfigDefaults, EmbeddedKafkaNeedsNoBootstrapAndDefaultsToOneReplica) {
    const IngressConfig config = load(std::string("kafka:\n  embedded: true\n") + kMinimal);
    EXPECT_TRUE(config.kafka.embedded);
    EXPECT_EQ(config.kafka.producer.client.bootstrap_servers, "");
    EXPECT_EQ(config.kafka.replication_factor, 1);
}

// --- errors name the key ------------------------------------------------------------------------

TEST(IngressConfigErrors, UnknownTopLevelKey) {
    const std::string message = load_error(std::string("kafak:\n  embedded: true\n") + kMinimal);
    EXPECT_TRUE(contains(message, "kafak")) << message;
    EXPECT_TRUE(contains(message, "unknown key")) << message;
}

TEST(IngressConfigErrors, UnknownKeyInsideAnIntegration) {
    const std::string message =
        load_error("integrations:\n  - site: \"1234\"\n    auht:\n      scheme: none\n");
    EXPECT_TRUE(contains(message, "integrations[0].auht")) << message;
}

TEST(IngressConfigErrors, KeyOfAnotherSchemeIsUnknown) {
    const std::string message = load_error(
        "integrations:\n  - site: \"1234\"\n    auth:\n      scheme: none\n      username: ocean\n");
    EXPECT_TRUE(contains(message, "integrations[0].auth.username")) << message;
}

TEST(IngressConfigErrors, MissingIntegrations) {
    const std::string absent = load_error("service:\n  log_level: info\n");
    EXPECT_TRUE(contains(absent, "integrations: configure at least one integration")) << absent;
    const std::string empty = load_error("integrations: []\n");
    EXPECT_TRUE(contains(empty, "integrations: configure at least one integration")) << empty;
}

TEST(IngressConfigErrors, MissingSite) {
    const std::string message = load_error("integrations:\n  - name: clinic\n");
    EXPECT_TRUE(contains(message, "integrations[0].site")) << message;
}

TEST(IngressConfigErrors, DuplicateIntegrationName) {
    const std::string message = load_error(
        "integrations:\n"
        "  - {site: \"1234\", name: clinic}\n"
        "  - {site: \"5678\", name: clinic}\n");
    EXPECT_TRUE(contains(message, "integrations[1].name")) << message;
    EXPECT_TRUE(contains(message, "twice")) << message;
}

TEST(IngressConfigErrors, TwoIntegrationsForTheSameSiteNeedDistinctNamesAndPaths) {
    // Both default to name "1234".
    EXPECT_TRUE(contains(load_error("integrations:\n  - site: \"1234\"\n  - site: \"1234\"\n"),
                         "integrations[1].name"));
    const std::string message = load_error(
        "integrations:\n"
        "  - {site: \"1234\", name: a}\n"
        "  - {site: \"1234\", name: b}\n");
    EXPECT_TRUE(contains(message, "integrations[1].fhir_path")) << message;
    EXPECT_TRUE(contains(message, "/ocean/1234/fhir")) << message;
    EXPECT_NO_THROW(
        load("integrations:\n"
             "  - {site: \"1234\", name: a, fhir_path: \"/ocean/{site}/{name}/fhir\"}\n"
             "  - {site: \"1234\", name: b, fhir_path: \"/ocean/{site}/{name}/fhir\"}\n"));
}

TEST(IngressConfigErrors, DuplicatePath) {
    const std::string message = load_error(
        "integrations:\n"
        "  - {site: \"1234\", fhir_path: /hook}\n"
        "  - {site: \"5678\", fhir_path: /hook}\n");
    EXPECT_TRUE(contains(message, "integrations[1].fhir_path")) << message;
}

TEST(IngressConfigErrors, TokenPathCollidingWithAFhirPath) {
    const std::string message = load_error(std::string(kSigningKeyYaml) +
                                           "integrations:\n"
                                           "  - site: \"1234\"\n"
                                           "    auth:\n"
                                           "      scheme: oauth2\n"
                                           "      clients: [{client_id: ocean, client_secret: {value: s}}]\n"
                                           "    token_path: /ocean/1234/fhir\n");
    EXPECT_TRUE(contains(message, "integrations[0].token_path")) << message;
}

TEST(IngressConfigErrors, PathWithoutLeadingSlash) {
    const std::string message = load_error("integrations:\n  - {site: \"1234\", fhir_path: ocean/fhir}\n");
    EXPECT_TRUE(contains(message, "integrations[0].fhir_path")) << message;
}

TEST(IngressConfigErrors, TokenPathWithoutLeadingSlashNamesTokenPath) {
    // Regression test for a bug this suite found (now fixed).
    const std::string message = load_error("integrations:\n  - {site: \"1234\", token_path: oauth2/token}\n");
    EXPECT_TRUE(contains(message, "integrations[0].token_path")) << message;
}

TEST(IngressConfigErrors, OAuth2WithoutTokenSigningKey) {
    const std::string message = load_error(
        "integrations:\n"
        "  - site: \"1234\"\n"
        "    name: clinic\n"
        "    auth:\n"
        "      scheme: oauth2\n"
        "      clients: [{client_id: ocean, client_secret: {value: s}}]\n");
    EXPECT_TRUE(contains(message, "auth.token_signing_key")) << message;
    EXPECT_TRUE(contains(message, "clinic")) << message;
}

TEST(IngressConfigErrors, OAuth2WithoutClients) {
    const std::string message =
        load_error(std::string(kSigningKeyYaml) +
                   "integrations:\n  - site: \"1234\"\n    auth:\n      scheme: oauth2\n");
    EXPECT_TRUE(contains(message, "integrations[0].auth.clients")) << message;
}

TEST(IngressConfigErrors, ShortTokenSigningKeyIsRejectedWithoutRepeatingIt) {
    const std::string message = load_error(
        "auth:\n  token_signing_key:\n    value: SHORTKEYMARKER-31-bytes-long-xx\n" + std::string(kMinimal));
    EXPECT_TRUE(contains(message, "auth.token_signing_key")) << message;
    EXPECT_TRUE(contains(message, "32")) << message;
    EXPECT_FALSE(contains(message, "SHORTKEYMARKER")) << message;
}

TEST(IngressConfigErrors, ThirtyTwoByteSigningKeyIsEnough) {
    const IngressConfig config = load(
        "auth:\n  token_signing_key:\n    value: 0123456789abcdef0123456789abcdef\n" + std::string(kMinimal));
    ASSERT_TRUE(config.token_signing_key.has_value());
    EXPECT_EQ(config.token_signing_key->reveal().size(), 32u);
}

TEST(IngressConfigErrors, InvalidIntegrationNames) {
    for (const char* name : {"Clinic", "clinic_a", "clinic a", "clinic/a", "\"\"", "café"}) {
        const std::string message =
            load_error(std::string("integrations:\n  - site: \"1234\"\n    name: ") + name + "\n");
        EXPECT_TRUE(contains(message, "integrations[0].name")) << name << " -> " << message;
    }
    const std::string too_long(64, 'a');
    EXPECT_TRUE(contains(load_error("integrations:\n  - {site: \"1234\", name: " + too_long + "}\n"),
                         "integrations[0].name"));
    EXPECT_NO_THROW(load("integrations:\n  - {site: \"1234\", name: " + std::string(63, 'a') + "}\n"));
    EXPECT_NO_THROW(load("integrations:\n  - {site: \"1234\", name: clinic-2}\n"));
}

TEST(IngressConfigErrors, NonDigitSite) {
    for (const char* site : {"12a4", "site-1", "-1234", "12 34"}) {
        const std::string message =
            load_error(std::string("integrations:\n  - {site: \"") + site + "\", name: clinic}\n");
        EXPECT_TRUE(contains(message, "integrations[0].site")) << site << " -> " << message;
    }
}

TEST(IngressConfigErrors, BadTopicName) {
    for (const char* topic : {"ocean inbound", "ocean/inbound", "\"\"", "ocean:inbound"}) {
        const std::string message = load_error(std::string("topics:\n  inbound: ") + topic + "\n" + kMinimal);
        EXPECT_TRUE(contains(message, "topics.inbound")) << topic << " -> " << message;
    }
    const std::string too_long(250, 'a');
    EXPECT_TRUE(contains(load_error("topics:\n  inbound: " + too_long + "\n" + kMinimal), "topics.inbound"));
}

TEST(IngressConfigErrors, PrefixThatMakesTheTopicInvalid) {
    const std::string message = load_error(std::string("topics:\n  prefix: \"bad prefix.\"\n") + kMinimal);
    EXPECT_TRUE(contains(message, "topics.inbound")) << message;
}

TEST(IngressConfigErrors, ExternalKafkaWithoutBootstrapServers) {
    const std::string message =
        load_error(std::string("kafka:\n  embedded: false\n  bootstrap_servers: \"\"\n") + kMinimal);
    EXPECT_TRUE(contains(message, "kafka.bootstrap_servers")) << message;
}

TEST(IngressConfigErrors, BadDuration) {
    const std::string message = load_error(std::string("kafka:\n  ack_timeout: 5 seconds\n") + kMinimal);
    EXPECT_TRUE(contains(message, "kafka.ack_timeout")) << message;
}

TEST(IngressConfigErrors, DurationBelowItsMinimum) {
    const std::string message = load_error(std::string("shutdown:\n  grace_period: 10ms\n") + kMinimal);
    EXPECT_TRUE(contains(message, "shutdown.grace_period")) << message;
}

TEST(IngressConfigErrors, BadSizeAndOutOfRangeIntegers) {
    EXPECT_TRUE(
        contains(load_error(std::string("limits:\n  max_body: 20MB\n") + kMinimal), "limits.max_body"));
    EXPECT_TRUE(
        contains(load_error(std::string("limits:\n  max_body: 512\n") + kMinimal), "limits.max_body"));
    EXPECT_TRUE(
        contains(load_error(std::string("service:\n  threads: 1000\n") + kMinimal), "service.threads"));
    EXPECT_TRUE(
        contains(load_error(std::string("listeners:\n  - port: 70000\n") + kMinimal), "listeners[0].port"));
}

TEST(IngressConfigErrors, BadBooleanAndChoice) {
    EXPECT_TRUE(
        contains(load_error(std::string("fhir:\n  strict_json: yes\n") + kMinimal), "fhir.strict_json"));
    EXPECT_TRUE(
        contains(load_error(std::string("kafka:\n  compression: brotli\n") + kMinimal), "kafka.compression"));
    EXPECT_TRUE(contains(load_error("integrations:\n  - site: \"1234\"\n    auth:\n      scheme: digest\n"),
                         "integrations[0].auth.scheme"));
}

TEST(IngressConfigErrors, BasicSchemeNeedsUsernameAndPassword) {
    EXPECT_TRUE(contains(load_error("integrations:\n  - site: \"1234\"\n    auth:\n      scheme: basic\n     "
                                    " password: {value: p}\n"),
                         "integrations[0].auth.username"));
    EXPECT_TRUE(contains(
        load_error("integrations:\n  - site: \"1234\"\n    auth:\n      scheme: basic\n      username: u\n"),
        "integrations[0].auth.password"));
}

// --- features -----------------------------------------------------------------------------------

TEST(IngressConfigPaths, SiteAndNameAreSubstitutedInPaths) {
    const IngressConfig config = load(
        "integrations:\n"
        "  - site: \"2998\"\n"
        "    name: clinic-a\n"
        "    fhir_path: \"/hooks/{name}/{site}/fhir/{site}\"\n"
        "    token_path: \"/hooks/{name}/token\"\n");
    EXPECT_EQ(config.integrations[0].fhir_path, "/hooks/clinic-a/2998/fhir/2998");
    EXPECT_EQ(config.integrations[0].token_path, "/hooks/clinic-a/token");
}

TEST(IngressConfigTopics, PrefixIsPrependedToTheInboundTopic) {
    EXPECT_EQ(load(std::string("topics:\n  prefix: staging.\n") + kMinimal).kafka.inbound_topic,
              "staging.ocean.inbound.v1");
    EXPECT_EQ(load(std::string("topics:\n  prefix: staging.\n  inbound: referrals\n") + kMinimal)
                  .kafka.inbound_topic,
              "staging.referrals");
    EXPECT_EQ(load(std::string("topics:\n  prefix: staging.\n") + kMinimal).inbound_topic_spec().name,
              "staging.ocean.inbound.v1");
}

TEST(IngressConfigAuth, WhsecSignatureKeyIsBase64Decoded) {
    const IngressConfig config = load(
        "integrations:\n"
        "  - site: \"1234\"\n"
        "    auth:\n"
        "      signature:\n"
        "        key: {value: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw}\n"
        "        tolerance: 30s\n");
    const auto& policy = config.integrations[0].auth;
    ASSERT_TRUE(policy.signature_key.has_value());
    EXPECT_EQ(policy.signature_key->reveal(), *relay::base64_decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
    EXPECT_EQ(policy.signature_key->reveal().size(), 24u);
    EXPECT_EQ(policy.signature_tolerance, 30s);
}

TEST(IngressConfigAuth, PlainSignatureKeyIsUsedAsIs) {
    const IngressConfig config = load(
        "integrations:\n  - site: \"1234\"\n    auth:\n      signature:\n        key: {value: "
        "plain-raw-key}\n");
    const auto& policy = config.integrations[0].auth;
    ASSERT_TRUE(policy.signature_key.has_value());
    EXPECT_EQ(policy.signature_key->reveal(), "plain-raw-key");
    EXPECT_EQ(policy.signature_tolerance, 300s);
}

TEST(IngressConfigAuth, WhsecKeyThatIsNotBase64IsRejected) {
    for (const char* key : {"whsec_!!!!", "whsec_", "whsec_abc"}) {
        const std::string message = load_error(
            std::string(
                "integrations:\n  - site: \"1234\"\n    auth:\n      signature:\n        key: {value: \"") +
            key + "\"}\n");
        EXPECT_TRUE(contains(message, "integrations[0].auth.signature.key")) << key << " -> " << message;
    }
}

TEST(IngressConfigAuth, WhsecKeyWithOnlyPaddingIsRejected) {
    // Regression test for a bug this suite found (now fixed).
    for (const char* key : {"whsec_====", "whsec_A==="}) {
        const std::string message = load_error(
            std::string(
                "integrations:\n  - site: \"1234\"\n    auth:\n      signature:\n        key: {value: \"") +
            key + "\"}\n");
        EXPECT_TRUE(contains(message, "integrations[0].auth.signature.key")) << key << " -> " << message;
    }
}

TEST(IngressConfigAuth, OAuth2ClientsAreRead) {
    const IngressConfig config = load(std::string(kSigningKeyYaml) +
                                      "integrations:\n"
                                      "  - site: \"1234\"\n"
                                      "    auth:\n"
                                      "      scheme: oauth2\n"
                                      "      token_lifetime: 10m\n"
                                      "      clients:\n"
                                      "        - client_id: ocean\n"
                                      "          client_secret: {value: ocean-secret}\n"
                                      "          scopes: [user/*.write]\n");
    const auto& policy = config.integrations[0].auth;
    EXPECT_EQ(policy.scheme, relay::auth::Scheme::kOAuth2);
    EXPECT_EQ(policy.token_lifetime, 600s);
    ASSERT_EQ(policy.oauth_clients.size(), 1u);
    EXPECT_EQ(policy.oauth_clients[0].client_id, "ocean");
    EXPECT_TRUE(policy.oauth_clients[0].client_secret.equals("ocean-secret"));
    EXPECT_EQ(policy.oauth_clients[0].allowed_scopes, std::vector<std::string>{"user/*.write"});
}

TEST(IngressConfigAuth, ApiKeyHeaderNameIsLowerCased) {
    const IngressConfig config = load(
        "integrations:\n  - site: \"1234\"\n    auth:\n      scheme: api_key\n      header: X-Ocean-Key\n    "
        "  key: {value: k}\n");
    EXPECT_EQ(config.integrations[0].auth.scheme, relay::auth::Scheme::kApiKey);
    EXPECT_EQ(config.integrations[0].auth.api_key_header, "x-ocean-key");
}

TEST(IngressConfigEvents, AcceptedEventsCanBeSetGloballyAndPerIntegration) {
    const IngressConfig config = load(
        "fhir:\n  accepted_events: [add-service-request]\n"
        "integrations:\n"
        "  - {site: \"1234\", name: a}\n"
        "  - {site: \"1234\", name: b, fhir_path: /b, accepted_events: [revoke-service-request]}\n");
    EXPECT_EQ(config.integrations[0].accepted_events, std::vector<std::string>{"add-service-request"});
    EXPECT_EQ(config.integrations[1].accepted_events, std::vector<std::string>{"revoke-service-request"});
}

// --- environment overrides ----------------------------------------------------------------------

TEST(IngressConfigEnv, BootstrapServersFromTheEnvironment) {
    const IngressConfig config =
        load(std::string("kafka:\n  bootstrap_servers: yaml-broker:9092\n") + kMinimal,
             {{"RELAY_KAFKA_BOOTSTRAP_SERVERS", "env-broker-1:9092,env-broker-2:9092"}});
    EXPECT_EQ(config.kafka.producer.client.bootstrap_servers, "env-broker-1:9092,env-broker-2:9092");
}

TEST(IngressConfigEnv, EmptyBootstrapFromTheEnvironmentIsStillAnError) {
    const std::string message = load_error(kMinimal, {{"RELAY_KAFKA_BOOTSTRAP_SERVERS", ""}});
    EXPECT_TRUE(contains(message, "kafka.bootstrap_servers")) << message;
}

TEST(IngressConfigEnv, IntegrationSiteFromTheEnvironment) {
    const IngressConfig config = load(kMinimal, {{"RELAY_INTEGRATIONS_0_SITE", "7777"}});
    EXPECT_EQ(config.integrations[0].site, "7777");
    EXPECT_EQ(config.integrations[0].fhir_path, "/ocean/7777/fhir");
}

TEST(IngressConfigEnv, SigningKeyFileNamedOnlyInTheEnvironment) {
    // <PREFIX>_<PATH>_FILE names a secret file without any YAML (environment-only secrets).
    const auto path = std::filesystem::temp_directory_path() /
                      ("relay-ingress-config-test-key-" + std::to_string(::getpid()));
    std::ofstream(path) << std::string(40, 'z') << "\n";
    const IngressConfig config = load(kMinimal, {{"RELAY_AUTH_TOKEN_SIGNING_KEY_FILE", path.string()}});
    std::filesystem::remove(path);
    ASSERT_TRUE(config.token_signing_key.has_value());
    EXPECT_EQ(config.token_signing_key->reveal(), std::string(40, 'z'));
}

// --- open_api -------------------------------------------------------------------------------------

namespace {

constexpr const char* kOpenApiKey = "key-0123456789abcdef";

std::string with_open_api(const std::string& block) {
    return "integrations:\n"
           "  - site: \"1234\"\n"
           "    name: clinic\n"
           "    open_api:\n" +
           block;
}

}  // namespace

TEST(IngressConfigOpenApi, AbsentMeansNoEndpointAndNoTopic) {
    const IngressConfig config = load(kMinimal);
    EXPECT_FALSE(config.integrations[0].open_api.has_value());
    EXPECT_TRUE(config.notification_topic_specs().empty());
    EXPECT_EQ(config.topics().size(), 1u);
}

TEST(IngressConfigOpenApi, DefaultsFollowOceanLabs) {
    const IngressConfig config =
        load("topics: {prefix: \"t.\"}\n" + with_open_api(std::string("      keys: [{value: ") + kOpenApiKey + "}]\n"));
    ASSERT_TRUE(config.integrations[0].open_api.has_value());
    const auto& open_api = *config.integrations[0].open_api;
    EXPECT_EQ(open_api.path, "/ocean/clinic/openapi/webhook");
    ASSERT_EQ(open_api.keys.size(), 1u);
    EXPECT_TRUE(open_api.keys[0].equals(kOpenApiKey));
    EXPECT_EQ(open_api.key_parameter, "k");
    EXPECT_EQ(open_api.key_header, "x-ocean-webhook-key");
    EXPECT_EQ(open_api.replay_window, std::chrono::minutes(10));
    EXPECT_EQ(open_api.replay_memory, 100000u);
    EXPECT_EQ(open_api.rate_per_minute, 60);
    EXPECT_EQ(open_api.rate_burst, 10);
    EXPECT_EQ(open_api.max_body_bytes, 64u * 1024);
    EXPECT_EQ(open_api.topic, "t.ocean.notifications.v1");
    ASSERT_EQ(config.notification_topic_specs().size(), 1u);
    EXPECT_EQ(config.notification_topic_specs()[0].name, "t.ocean.notifications.v1");
    const auto topics = config.topics();
    EXPECT_NE(std::find(topics.begin(), topics.end(), "t.ocean.notifications.v1"), topics.end());
}

TEST(IngressConfigOpenApi, EveryKeyCanBeSetAndTwoKeysRotate) {
    const IngressConfig config = load(with_open_api(
        "      path: /ocean/{site}/notify/\n"
        "      keys: [{value: key-0123456789abcdef}, {value: key-fedcba9876543210}]\n"
        "      key_parameter: key\n"
        "      key_header: X-Webhook-Key\n"
        "      replay_window: 2m\n"
        "      replay_memory: 50\n"
        "      rate_limit: {per_minute: 600, burst: 30, max_tracked: 100}\n"
        "      max_body_bytes: 8KiB\n"
        "      topic: notes.v1\n"));
    const auto& open_api = *config.integrations[0].open_api;
    EXPECT_EQ(open_api.path, "/ocean/1234/notify");
    EXPECT_EQ(open_api.keys.size(), 2u);
    EXPECT_TRUE(open_api.keys[1].equals("key-fedcba9876543210"));
    EXPECT_EQ(open_api.key_parameter, "key");
    EXPECT_EQ(open_api.key_header, "X-Webhook-Key");
    EXPECT_EQ(open_api.replay_window, std::chrono::minutes(2));
    EXPECT_EQ(open_api.replay_memory, 50u);
    EXPECT_EQ(open_api.rate_per_minute, 600);
    EXPECT_EQ(open_api.rate_burst, 30);
    EXPECT_EQ(open_api.rate_max_tracked, 100u);
    EXPECT_EQ(open_api.max_body_bytes, 8u * 1024);
    EXPECT_EQ(open_api.topic, "notes.v1");
}

TEST(IngressConfigOpenApi, KeysFromFilesAndTheEnvironment) {
    const std::string path = ::testing::TempDir() + "/openapi-key-" + std::to_string(::getpid());
    {
        std::ofstream(path) << "key-from-a-file-0123\n";
    }
    // Secrets named by {env: NAME} are read from the process environment, like every other secret.
    ::setenv("RELAY_TEST_OPENAPI_KEY", "key-from-the-env-0123", 1);
    const IngressConfig config =
        load(with_open_api("      keys: [{file: " + path + "}, {env: RELAY_TEST_OPENAPI_KEY}]\n"));
    ::unsetenv("RELAY_TEST_OPENAPI_KEY");
    std::filesystem::remove(path);
    const auto& keys = config.integrations[0].open_api->keys;
    ASSERT_EQ(keys.size(), 2u);
    EXPECT_TRUE(keys[0].equals("key-from-a-file-0123"));
    EXPECT_TRUE(keys[1].equals("key-from-the-env-0123"));
}

TEST(IngressConfigOpenApi, MistakesNameTheKey) {
    struct Case {
        std::string block, key;
    };
    const std::vector<Case> cases = {
        {"      path: /x\n", "integrations[0].open_api.keys"},
        {"      keys: []\n", "integrations[0].open_api.keys"},
        {"      keys: [{value: short}]\n", "integrations[0].open_api.keys[0]"},
        {"      keys: [{value: key-0123456789abcdef}, {value: \"has space 0123456789\"}]\n",
         "integrations[0].open_api.keys[1]"},
        {"      keys: [{value: key-0123456789abcdef, env: X}]\n", "integrations[0].open_api.keys[0]"},
        {"      keys: [{}]\n", "integrations[0].open_api.keys[0]"},
        {"      keys: [{value: key-0123456789abcdef}]\n      path: relative\n", "integrations[0].open_api.path"},
        {"      keys: [{value: key-0123456789abcdef}]\n      path: \"/a?b\"\n", "integrations[0].open_api.path"},
        {"      keys: [{value: key-0123456789abcdef}]\n      path: /ocean/1234/fhir\n", "integrations[0].open_api.path"},
        {"      keys: [{value: key-0123456789abcdef}]\n      path: /ocean/1234\n", "integrations[0].open_api.path"},
        {"      keys: [{value: key-0123456789abcdef}]\n      key_header: \"bad header\"\n",
         "integrations[0].open_api.key_header"},
        {"      keys: [{value: key-0123456789abcdef}]\n      key_parameter: \"\"\n",
         "integrations[0].open_api.key_parameter"},
        {"      keys: [{value: key-0123456789abcdef}]\n      replay_window: soon\n",
         "integrations[0].open_api.replay_window"},
        {"      keys: [{value: key-0123456789abcdef}]\n      replay_memory: -1\n",
         "integrations[0].open_api.replay_memory"},
        {"      keys: [{value: key-0123456789abcdef}]\n      rate_limit: {per_minute: 0}\n",
         "integrations[0].open_api.rate_limit.per_minute"},
        {"      keys: [{value: key-0123456789abcdef}]\n      rate_limit: {burst: lots}\n",
         "integrations[0].open_api.rate_limit.burst"},
        {"      keys: [{value: key-0123456789abcdef}]\n      max_body_bytes: 1GiB\n",
         "integrations[0].open_api.max_body_bytes"},
        {"      keys: [{value: key-0123456789abcdef}]\n      topic: \"no spaces\"\n",
         "integrations[0].open_api.topic"},
        {"      keys: [{value: key-0123456789abcdef}]\n      topic: ocean.inbound.v1\n",
         "integrations[0].open_api.topic"},
        {"      keys: [{value: key-0123456789abcdef}]\n      secret: x\n", "integrations[0].open_api.secret"},
    };
    for (const auto& c : cases) {
        const std::string message = load_error(with_open_api(c.block));
        EXPECT_TRUE(contains(message, c.key)) << c.block << " → " << message;
        EXPECT_FALSE(contains(message, "key-0123456789abcdef")) << "a key never appears in an error: " << message;
        EXPECT_FALSE(contains(message, "has space")) << message;
    }
}

TEST(IngressConfigOpenApi, PathMustNotShadowAnotherRoute) {
    const std::string message = load_error(
        "integrations:\n"
        "  - site: \"1234\"\n"
        "    open_api: {path: /ocean/hooks, keys: [{value: key-0123456789abcdef}]}\n"
        "  - site: \"5678\"\n"
        "    fhir_path: /ocean/hooks/fhir\n");
    EXPECT_TRUE(contains(message, "integrations[0].open_api.path")) << message;
}

TEST(IngressConfigOpenApi, EnvironmentOverridesAKey) {
    const IngressConfig config = load(with_open_api("      keys: [{value: key-0123456789abcdef}]\n"),
                                      {{"RELAY_INTEGRATIONS_0_OPEN_API_KEYS_0_VALUE", "key-overridden-012345"}});
    EXPECT_TRUE(config.integrations[0].open_api->keys[0].equals("key-overridden-012345"));
}
