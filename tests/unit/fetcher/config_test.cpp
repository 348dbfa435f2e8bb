// The fetcher's configuration (defaults, every key, the refusal to write decrypted data in clear,
// mistakes naming the key without repeating a secret) and the example file.
#include "config.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>


namespace relay::fetcher {
namespace {

using namespace std::chrono_literals;

const std::string kKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

std::string minimal(const std::string& extra = "") {
    return "kafka:\n  bootstrap_servers: b:9092\n  at_rest: {keys: [{id: k, key: {value: \"" + kKey +
           "\"}}]}\nocean:\n  base_url: https://ocean.example\n  sites:\n    - {site: \"1234\", site_key: {value: "
           "sk-secret-1}, site_credential: {value: sc-secret-2}, sek: {value: sek-secret-3}}\n" +
           extra;
}

FetcherConfig load(const std::string& yaml) {
    auto reader = ConfigReader::from_string(yaml, "RELAY", [](const std::string&) { return std::optional<std::string>(); });
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

TEST(FetcherConfig, Defaults) {
    const FetcherConfig c = load(minimal());
    EXPECT_EQ(c.topics.notifications, "ocean.notifications.v1");
    EXPECT_EQ(c.topics.deliveries, "relay.deliveries.v1");
    EXPECT_EQ(c.topics.dlq, "ocean.notifications.dlq.v1");
    EXPECT_EQ(c.topics.events, "relay.events.v1");
    EXPECT_EQ(c.kafka.group_id, "ocean-relay-fetcher");
    EXPECT_EQ(c.admin.port, 9096);
    EXPECT_EQ(c.ocean.client.request_timeout, 15s);
    ASSERT_EQ(c.ocean.sites.size(), 1U);
    EXPECT_EQ(c.ocean.sites[0].sek.reveal(), "sek-secret-3");
    EXPECT_NE(c.ocean.find("1234"), nullptr);
    EXPECT_EQ(c.ocean.find("9999"), nullptr);
    EXPECT_TRUE(c.eform_destinations.empty());
    EXPECT_EQ(c.retry.max_age, std::chrono::hours(24));
    EXPECT_EQ(c.remember_for, std::chrono::hours(24 * 30));
    EXPECT_EQ(c.topics.sessions, "relay.fetcher.sessions.v1");
    EXPECT_EQ(c.topics.inbound, "ocean.inbound.v1");
    EXPECT_EQ(c.topics.documents, "relay.documents.v1");
    EXPECT_EQ(c.topics.open_api_requests, "relay.openapi.requests.v1");
    EXPECT_TRUE(c.requests.encrypt_messages);
    EXPECT_EQ(c.requests.form_links_path, "/svc/v1/patients/{ref}/formLinks");
    EXPECT_TRUE(c.link_destinations.empty()) << "no hub-json eForm destination, so no link destination";
    const auto specs = c.topic_specs();
    ASSERT_EQ(specs.size(), 8U);
    const auto& sessions = specs.back();
    EXPECT_EQ(sessions.name, "relay.fetcher.sessions.v1");
    EXPECT_EQ(sessions.configs.at(1).second, std::to_string(std::chrono::milliseconds(std::chrono::hours(24 * 30)).count()));
    EXPECT_TRUE(c.ocean.sites[0].open_api);
    EXPECT_FALSE(c.ocean.sites[0].oauth.has_value());
    EXPECT_EQ(c.ocean.documents_client.response_body_limit, 20ULL << 20);
    EXPECT_TRUE(c.is_referral_type("notify-referral-new"));
    EXPECT_TRUE(c.is_referral_type("anything"));
}

TEST(FetcherConfig, EveryKeyIsRead) {
    const FetcherConfig c = load(minimal(R"(service: {log_level: debug}
topics: {prefix: "t.", notifications: n, deliveries: d, dlq: q, events: e}
eforms:
  destinations: [{id: emr, format: fhir-r4}, {id: db, format: hub-json}]
  fhir: {questionnaire_base: "https://q.example/Q/", identifier_base: "https://q.example/NS/", include_hidden_items: true}
  remember_for: 48h
retry: {initial: 1s, max_delay: 1m, multiplier: 3, max_attempts: 9, max_age: 1h}
shutdown: {grace_period: 40s}
)"));
    EXPECT_EQ(c.log_level, "debug");
    EXPECT_EQ(c.topics.notifications, "t.n");
    EXPECT_EQ(c.topics.deliveries, "t.d");
    EXPECT_EQ(c.topics.dlq, "t.q");
    EXPECT_EQ(c.topics.events, "t.e");
    ASSERT_EQ(c.eform_destinations.size(), 2U);
    EXPECT_EQ(c.eform_destinations[1].format, EformDestination::Format::kHubJson);
    EXPECT_EQ(c.fhir.questionnaire_base, "https://q.example/Q/");
    EXPECT_TRUE(c.fhir.include_hidden_items);
    EXPECT_EQ(c.remember_for, std::chrono::hours(48));
    EXPECT_EQ(c.retry.max_attempts, 9);
    EXPECT_EQ(c.grace_period, 40s);
    EXPECT_EQ(c.link_destinations, std::vector<std::string>{"db"}) << "the hub-json eForm destinations by default";
    EXPECT_FALSE(c.ocean.rate_limit.has_value()) << "no rate limit unless asked for";
    EXPECT_EQ(c.ocean.breaker.consecutive_failures, 5);
    EXPECT_EQ(c.ocean.breaker.open_duration, std::chrono::seconds(15));
}

TEST(FetcherConfig, OceansBreakerAndRateLimit) {
    const std::string yaml = "kafka:\n  bootstrap_servers: b:9092\n  at_rest: {keys: [{id: k, key: {value: \"" + kKey +
                             "\"}}]}\nocean:\n  base_url: https://ocean.example\n  breaker: {consecutive_failures: 2, open_for: 5s}\n"
                             "  rate_limit: {per_second: 4}\n  sites:\n    - {site: \"1234\", client_id: "
                             "relay-1234, client_secret: {value: oauth-secret-4}}\n";
    const FetcherConfig c = load(yaml);
    EXPECT_EQ(c.ocean.breaker.consecutive_failures, 2);
    EXPECT_EQ(c.ocean.breaker.open_duration, std::chrono::seconds(5));
    ASSERT_TRUE(c.ocean.rate_limit.has_value());
    EXPECT_EQ(c.ocean.rate_limit->per_second, 4);
    EXPECT_EQ(c.ocean.rate_limit->burst, 4);
}

TEST(FetcherConfig, OpenApiRequestChoices) {
    const FetcherConfig c = load(minimal(R"(topics: {prefix: "t.", open_api_requests: r}
open_api_requests:
  encrypt_messages: false
  form_links_path: /svc/v2/patients/{ref}/links
  link_destinations: [portal, intake-db]
  attachment_key_headers: false
  encrypt_file_names: false
)"));
    EXPECT_FALSE(c.requests.attachment_key_headers);
    EXPECT_FALSE(c.requests.encrypt_file_names);
    EXPECT_EQ(c.topics.open_api_requests, "t.r");
    EXPECT_FALSE(c.requests.encrypt_messages);
    EXPECT_EQ(c.requests.form_links_path, "/svc/v2/patients/{ref}/links");
    EXPECT_EQ(c.link_destinations, (std::vector<std::string>{"portal", "intake-db"}));
    for (const std::string bad : {"form_links_path: /svc/v1/patients/formLinks", "form_links_path: '/other/{ref}'",
                                  "link_destinations: [\"Bad Id\"]", "colour: red"}) {
        try {
            load(minimal("open_api_requests: {" + bad + "}\n"));
            ADD_FAILURE() << bad << " was accepted";
        } catch (const ConfigError& e) {
            EXPECT_NE(std::string(e.what()).find("open_api_requests."), std::string::npos) << e.what();
        }
    }
}

TEST(FetcherConfig, ASiteWithOnlyAnOAuthClientFetchesDocumentsOnly) {
    const std::string yaml = "kafka:\n  bootstrap_servers: b:9092\n  at_rest: {keys: [{id: k, key: {value: \"" + kKey +
                             "\"}}]}\nocean:\n  base_url: https://ocean.example\n  sites:\n    - {site: \"1234\", client_id: "
                             "relay-1234, client_secret: {value: oauth-secret-4}, token_auth: form}\n"
                             "documents: {max_bytes: 5MiB}\nopen_ereferral: {types: [notify-referral-*], event: "
                             "notify-update-service-request}\n";
    const FetcherConfig c = load(yaml);
    ASSERT_EQ(c.ocean.sites.size(), 1U);
    EXPECT_FALSE(c.ocean.sites[0].open_api);
    ASSERT_TRUE(c.ocean.sites[0].oauth.has_value());
    EXPECT_EQ(c.ocean.sites[0].oauth->client_id, "relay-1234");
    EXPECT_EQ(c.ocean.sites[0].oauth->token_url.target, "/svc/oauth2/token");
    EXPECT_EQ(c.ocean.sites[0].oauth->style, http::ClientAuthStyle::kFormFields);
    EXPECT_EQ(c.ocean.documents_client.response_body_limit, 5ULL << 20);
    EXPECT_TRUE(c.is_referral_type("notify-referral-new"));
    EXPECT_FALSE(c.is_referral_type("notify-something"));
    EXPECT_EQ(c.referral_event, "notify-update-service-request");
    const std::string neither = "kafka:\n  bootstrap_servers: b:9092\n  at_rest: {keys: [{id: k, key: {value: \"" + kKey +
                                "\"}}]}\nocean:\n  base_url: https://ocean.example\n  sites: [{site: \"1234\"}]\n";
    EXPECT_NE(error_of(neither).find("ocean.sites[0]"), std::string::npos);
    const std::string half = "kafka:\n  bootstrap_servers: b:9092\n  at_rest: {keys: [{id: k, key: {value: \"" + kKey +
                             "\"}}]}\nocean:\n  base_url: https://ocean.example\n  sites: [{site: \"1234\", site_key: {value: a}}]\n";
    EXPECT_NE(error_of(half).find("ocean.sites[0].site_credential"), std::string::npos);
}

TEST(FetcherConfig, DecryptedDataMustBeSealedAtRest) {
    const std::string clear = "kafka: {bootstrap_servers: b:9092}\nocean: {base_url: https://o.example, sites: [{site: \"1\", "
                              "site_key: {value: a}, site_credential: {value: b}, sek: {value: c}}]}\n";
    EXPECT_NE(error_of(clear).find("kafka.at_rest"), std::string::npos);
    const std::string narrow = "kafka:\n  bootstrap_servers: b:9092\n  at_rest: {topics: [other], keys: [{id: k, key: {value: \"" +
                               kKey + "\"}}]}\nocean: {base_url: https://o.example, sites: [{site: \"1\", site_key: {value: a}, "
                               "site_credential: {value: b}, sek: {value: c}}]}\n";
    EXPECT_NE(error_of(narrow).find("relay.deliveries.v1"), std::string::npos);
    EXPECT_EQ(error_of("kafka: {bootstrap_servers: b:9092, allow_clear_at_rest: true}\nocean: {base_url: https://o.example, "
                       "sites: [{site: \"1\", site_key: {value: a}, site_credential: {value: b}, sek: {value: c}}]}\n"),
              "accepted");
}

TEST(FetcherConfig, MistakesNameTheKeyAndNeverASecret) {
    const std::map<std::string, std::string> cases = {
        {minimal("eforms: {destinations: [{id: Bad_Id}]}\n"), "eforms.destinations[0].id"},
        {minimal("eforms: {destinations: [{id: a}, {id: a}]}\n"), "eforms.destinations[1].id"},
        {minimal("eforms: {destinations: [{id: a, format: pdf}]}\n"), "eforms.destinations[0].format"},
        {minimal("shutdown: {grace_period: 5s}\n"), "shutdown.grace_period"},
        {minimal("retry: {initial: 0ms}\n"), "retry.initial"},
        {minimal("colour: blue\n"), "colour"},
        {"kafka:\n  bootstrap_servers: b:9092\n  at_rest: {keys: [{id: k, key: {value: \"" + kKey +
             "\"}}]}\nocean: {base_url: \"https://o.example/path\", sites: []}\n",
         "ocean.base_url"},
        {"kafka:\n  bootstrap_servers: b:9092\n  at_rest: {keys: [{id: k, key: {value: \"" + kKey +
             "\"}}]}\nocean: {base_url: https://o.example, sites: [{site: abc, site_key: {value: sk-secret-1}, "
             "site_credential: {value: sc-secret-2}, sek: {value: sek-secret-3}}]}\n",
         "ocean.sites[0].site"},
        {"kafka:\n  bootstrap_servers: b:9092\n  at_rest: {keys: [{id: k, key: {value: \"" + kKey +
             "\"}}]}\nocean: {base_url: https://o.example, sites: [{site: \"1\", site_key: {value: sk-secret-1}, "
             "site_credential: {value: sc-secret-2}}]}\n",
         "ocean.sites[0].sek"},
    };
    for (const auto& [yaml, key] : cases) {
        const std::string error = error_of(yaml);
        EXPECT_NE(error.find(key), std::string::npos) << yaml << " → " << error;
        for (const char* secret : {"sk-secret-1", "sc-secret-2", "sek-secret-3"})
            EXPECT_EQ(error.find(secret), std::string::npos) << error;
    }
}

TEST(FetcherConfig, TheExampleFileLoadsWithItsSecretsInPlace) {
    std::ifstream in(std::string(RELAY_SOURCE_DIR) + "/services/fetcher/config/fetcher.example.yaml");
    std::stringstream text;
    text << in.rdbuf();
    std::string yaml = text.str();
    ASSERT_FALSE(yaml.empty());
    // The example names mounted files; here each becomes a literal of the right shape.
    const std::string at_rest_file = "{file: /var/run/secrets/relay/at-rest-2026-12}";
    yaml.replace(yaml.find(at_rest_file), at_rest_file.size(), "{value: \"" + kKey + "\"}");
    for (std::size_t at; (at = yaml.find("{file: /var/run/secrets/ocean/")) != std::string::npos;)
        yaml.replace(at, yaml.find('}', at) + 1 - at, "{value: example-secret}");
    const FetcherConfig c = load(yaml);
    EXPECT_EQ(c.ocean.sites.size(), 1U);
    EXPECT_EQ(c.eform_destinations.size(), 2U);
    EXPECT_TRUE(c.kafka.client.at_rest->seals(c.topics.deliveries));
}

}  // namespace
}  // namespace relay::fetcher
