// The `kafka:` and `admin:` sections every service reads through libs/service: defaults, RELAY_*
// environment overrides, the errors that name the key, and which keys each reader consumes.
#include "relay/service/kafka_section.hpp"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>

#include "relay/core/config.hpp"

namespace relay::service {
namespace {

using namespace std::chrono_literals;

EnvLookup no_env() {
    return [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
}

EnvLookup env_of(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
        const auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

KafkaDefaults defaults() {
    KafkaDefaults d;
    d.client_id = "svc-client";
    d.group_id = "svc-group";
    d.linger = 7ms;
    d.max_in_flight = 123;
    return d;
}

KafkaSection read(const std::string& yaml, EnvLookup env = no_env()) {
    auto reader = ConfigReader::from_string(yaml, "RELAY", std::move(env));
    auto root = reader.root();
    auto node = root.child("kafka");
    KafkaSection section = read_kafka_section(node, defaults());
    reader.check_no_unknown_keys();
    return section;
}

/// The ConfigError's message, or "accepted".
std::string error_of(const std::string& yaml, EnvLookup env = no_env()) {
    try {
        read(yaml, std::move(env));
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "accepted";
}

TEST(KafkaSection, DefaultsComeFromKafkaDefaultsAndTheSection) {
    const KafkaSection k = read("kafka: {bootstrap_servers: 'broker:9092'}\n");
    EXPECT_FALSE(k.embedded);
    EXPECT_EQ(k.client.bootstrap_servers, "broker:9092");
    EXPECT_EQ(k.client.client_id, "svc-client");
    EXPECT_TRUE(k.client.properties.empty());
    EXPECT_TRUE(k.create_topics);
    EXPECT_EQ(k.partitions, 12);
    EXPECT_EQ(k.replication_factor, 3);
    EXPECT_EQ(k.linger, 7ms) << "the service's own linger";
    EXPECT_EQ(k.group_id, "svc-group");
    EXPECT_TRUE(k.verify_topics);
    EXPECT_EQ(k.produce_timeout, 60s);
    EXPECT_EQ(k.max_in_flight, 123U) << "the service's own max_in_flight";
    EXPECT_EQ(k.commit_interval, 1s);
    EXPECT_EQ(k.restore_timeout, 120s);
    EXPECT_EQ(k.session_timeout, 45s);
    EXPECT_EQ(k.message_max_bytes, 32ULL << 20);
    EXPECT_EQ(k.fetch_wait, 500ms);

    // Another service's defaults give another group, client id, linger and cap.
    auto reader = ConfigReader::from_string("{}", "RELAY", no_env());
    auto root = reader.root();
    auto node = root.child("kafka");
    const KafkaSection other = read_kafka_section(node, KafkaDefaults{"other-client", "other-group", 0ms, 9});
    EXPECT_EQ(other.client.client_id, "other-client");
    EXPECT_EQ(other.group_id, "other-group");
    EXPECT_EQ(other.linger, 0ms);
    EXPECT_EQ(other.max_in_flight, 9U);
    EXPECT_EQ(other.client.bootstrap_servers, "127.0.0.1:9092") << "a local broker when nothing is said";
}

TEST(KafkaSection, EveryKeyIsRead) {
    const KafkaSection k = read(R"(
kafka:
  bootstrap_servers: "a:1,b:2"
  client_id: mine
  properties: {security.protocol: SASL_SSL, sasl.mechanism: PLAIN}
  create_topics: false
  partitions: 6
  replication_factor: 2
  linger: 20ms
  group_id: g1
  verify_topics: false
  produce_timeout: 5s
  max_in_flight: 50
  commit_interval: 250ms
  restore_timeout: 30s
  session_timeout: 10s
  message_max_bytes: 4MiB
  fetch_wait: 50ms
)");
    EXPECT_EQ(k.client.bootstrap_servers, "a:1,b:2");
    EXPECT_EQ(k.client.client_id, "mine");
    ASSERT_EQ(k.client.properties.size(), 2U);
    EXPECT_EQ(k.client.properties[0], (std::pair<std::string, std::string>{"security.protocol", "SASL_SSL"}));
    EXPECT_EQ(k.client.properties[1], (std::pair<std::string, std::string>{"sasl.mechanism", "PLAIN"}));
    EXPECT_FALSE(k.create_topics);
    EXPECT_EQ(k.partitions, 6);
    EXPECT_EQ(k.replication_factor, 2);
    EXPECT_EQ(k.linger, 20ms);
    EXPECT_EQ(k.group_id, "g1");
    EXPECT_FALSE(k.verify_topics);
    EXPECT_EQ(k.produce_timeout, 5s);
    EXPECT_EQ(k.max_in_flight, 50U);
    EXPECT_EQ(k.commit_interval, 250ms);
    EXPECT_EQ(k.restore_timeout, 30s);
    EXPECT_EQ(k.session_timeout, 10s);
    EXPECT_EQ(k.message_max_bytes, 4ULL << 20);
    EXPECT_EQ(k.fetch_wait, 50ms);

    const kafka::TopicSpec spec = k.topic("acme.in");
    EXPECT_EQ(spec.name, "acme.in");
    EXPECT_EQ(spec.partitions, 6);
    EXPECT_EQ(spec.replication_factor, 2);
    EXPECT_EQ(spec.max_message_bytes, 4ULL << 20);
}

TEST(KafkaSection, TheEmbeddedBrokerNeedsNoAddressAndOneReplica) {
    const KafkaSection k = read("kafka: {embedded: true}\n");
    EXPECT_TRUE(k.embedded);
    EXPECT_EQ(k.client.bootstrap_servers, "") << "filled in by the worker once the embedded broker runs";
    EXPECT_EQ(k.replication_factor, 1);
    EXPECT_EQ(k.fetch_wait, 10ms) << "the embedded broker holds every empty fetch that long";
    EXPECT_EQ(read("kafka: {embedded: true, fetch_wait: 100ms}\n").fetch_wait, 100ms);
    EXPECT_EQ(read("kafka: {embedded: true, bootstrap_servers: ''}\n").client.bootstrap_servers, "");
}

TEST(KafkaSection, EnvironmentOverridesTheFile) {
    const KafkaSection k =
        read("kafka: {bootstrap_servers: 'file:1', group_id: from-file, max_in_flight: 7}\n",
             env_of({{"RELAY_KAFKA_BOOTSTRAP_SERVERS", "env:2"},
                     {"RELAY_KAFKA_GROUP_ID", "from-env"},
                     {"RELAY_KAFKA_COMMIT_INTERVAL", "250ms"},
                     {"RELAY_KAFKA_CLIENT_ID", "env-client"},
                     {"RELAY_KAFKA_LINGER", "0ms"}}));
    EXPECT_EQ(k.client.bootstrap_servers, "env:2");
    EXPECT_EQ(k.group_id, "from-env");
    EXPECT_EQ(k.commit_interval, 250ms) << "a key absent from the file is set from the environment too";
    EXPECT_EQ(k.client.client_id, "env-client");
    EXPECT_EQ(k.linger, 0ms);
    EXPECT_EQ(k.max_in_flight, 7U) << "keys without a variable keep the file's value";

    // No kafka section in the file at all: the environment alone (the compose / Helm way).
    const KafkaSection e =
        read("{}", env_of({{"RELAY_KAFKA_EMBEDDED", "true"}, {"RELAY_KAFKA_PARTITIONS", "3"}}));
    EXPECT_TRUE(e.embedded);
    EXPECT_EQ(e.partitions, 3);
    EXPECT_EQ(e.replication_factor, 1);

    // An environment value is validated like the file's, and the error names the key.
    EXPECT_NE(error_of("{}", env_of({{"RELAY_KAFKA_MAX_IN_FLIGHT", "lots"}})).find("kafka.max_in_flight"),
              std::string::npos);
}

TEST(KafkaSection, BootstrapServersAreRequiredUnlessEmbedded) {
    const std::string error = error_of("kafka: {bootstrap_servers: ''}\n");
    EXPECT_NE(error.find("kafka.bootstrap_servers"), std::string::npos) << error;
    EXPECT_NE(error.find("embedded"), std::string::npos) << "says how to do without: " << error;
    // Emptied by the environment: the same.
    const std::string from_env =
        error_of("kafka: {bootstrap_servers: 'a:1'}\n", env_of({{"RELAY_KAFKA_BOOTSTRAP_SERVERS", ""}}));
    EXPECT_NE(from_env.find("kafka.bootstrap_servers"), std::string::npos) << from_env;
    EXPECT_EQ(error_of("kafka: {embedded: true, bootstrap_servers: ''}\n"), "accepted");
}

TEST(KafkaSection, AnEmptyGroupIdIsRefused) {
    const std::string error = error_of("kafka: {bootstrap_servers: 'a:1', group_id: ''}\n");
    EXPECT_NE(error.find("kafka.group_id"), std::string::npos) << error;

    // A service without a default group and no key: refused too.
    auto reader = ConfigReader::from_string("kafka: {bootstrap_servers: 'a:1'}\n", "RELAY", no_env());
    auto root = reader.root();
    auto node = root.child("kafka");
    try {
        read_kafka_section(node, KafkaDefaults{"c", "", 1ms, 10});
        ADD_FAILURE() << "an empty default group id was accepted";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("kafka.group_id"), std::string::npos) << e.what();
    }
}

TEST(KafkaSection, BadValuesNameTheKey) {
    const std::map<std::string, std::string> cases = {
        {"kafka: {max_in_flight: 0}", "kafka.max_in_flight"},
        {"kafka: {commit_interval: 5ms}", "kafka.commit_interval"},
        {"kafka: {commit_interval: soon}", "kafka.commit_interval"},
        {"kafka: {session_timeout: 1s}", "kafka.session_timeout"},
        {"kafka: {produce_timeout: 10ms}", "kafka.produce_timeout"},
        {"kafka: {restore_timeout: 10ms}", "kafka.restore_timeout"},
        {"kafka: {partitions: 0}", "kafka.partitions"},
        {"kafka: {replication_factor: 17}", "kafka.replication_factor"},
        {"kafka: {message_max_bytes: 1KiB}", "kafka.message_max_bytes"},
        {"kafka: {embedded: yes-please}", "kafka.embedded"},
        {"kafka: {linger: fast}", "kafka.linger"},
        {"kafka: {fetch_wait: 0ms}", "kafka.fetch_wait"},
        {"kafka: {colour: blue}", "kafka.colour"},
    };
    for (const auto& [yaml, key] : cases) {
        const std::string error = error_of(yaml);
        EXPECT_NE(error.find(key), std::string::npos) << yaml << " → " << error;
    }
}

TEST(KafkaSection, AtRestKeysSealWithAndTopics) {
    const std::string key_a = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const std::string key_b = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    EXPECT_EQ(read("kafka: {bootstrap_servers: b:9092}").client.at_rest, nullptr);
    const KafkaSection all = read("kafka:\n  bootstrap_servers: b:9092\n  at_rest:\n    keys:\n      - {id: a, key: {value: \"" +
                                  key_a + "\"}}\n");
    ASSERT_NE(all.client.at_rest, nullptr);
    EXPECT_EQ(all.client.at_rest->seal_key_id(), "a");
    EXPECT_TRUE(all.client.at_rest->seals("ocean.inbound.v1"));  // "*" by default
    const KafkaSection some = read(
        "kafka:\n  bootstrap_servers: b:9092\n  at_rest:\n    seal_with: b\n    topics: [relay.deliveries.*]\n"
        "    keys:\n      - {id: a, key: {value: \"" + key_a + "\"}}\n      - {id: b, key: {value: \"" + key_b + "\"}}\n");
    ASSERT_NE(some.client.at_rest, nullptr);
    EXPECT_EQ(some.client.at_rest->seal_key_id(), "b");
    EXPECT_TRUE(some.client.at_rest->seals("relay.deliveries.retry.30s"));
    EXPECT_FALSE(some.client.at_rest->seals("ocean.inbound.v1"));

    const std::map<std::string, std::string> cases = {
        {"kafka: {at_rest: {keys: []}}", "kafka.at_rest.keys"},
        {"kafka: {at_rest: {keys: [{id: a}]}}", "kafka.at_rest.keys[0].key"},
        {"kafka: {at_rest: {keys: [{id: a, key: {value: too-short}}]}}", "kafka.at_rest.keys[0].key"},
        {"kafka: {at_rest: {seal_with: z, keys: [{id: a, key: {value: \"" + key_a + "\"}}]}}", "kafka.at_rest.seal_with"},
        {"kafka: {at_rest: {colour: red, keys: [{id: a, key: {value: \"" + key_a + "\"}}]}}", "kafka.at_rest.colour"},
    };
    for (const auto& [yaml, key] : cases) {
        const std::string error = error_of(yaml);
        EXPECT_NE(error.find(key), std::string::npos) << yaml << " → " << error;
        EXPECT_EQ(error.find("too-short"), std::string::npos) << error;
    }
}

TEST(KafkaClientSection, ReadsExactlyTheClientKeys) {
    const std::string client_keys = R"(
kafka:
  embedded: false
  bootstrap_servers: "a:1"
  client_id: ingress-1
  properties: {acks: all}
  linger: 1ms
  create_topics: false
  partitions: 4
  replication_factor: 1
)";
    {
        auto reader = ConfigReader::from_string(client_keys, "RELAY", no_env());
        auto root = reader.root();
        auto node = root.child("kafka");
        const KafkaClientSection k = read_kafka_client_section(node, "default-client", 3ms);
        EXPECT_NO_THROW(reader.check_no_unknown_keys()) << "every client key is read";
        EXPECT_EQ(k.client.bootstrap_servers, "a:1");
        EXPECT_EQ(k.client.client_id, "ingress-1");
        ASSERT_EQ(k.client.properties.size(), 1U);
        EXPECT_EQ(k.linger, 1ms);
        EXPECT_FALSE(k.create_topics);
        EXPECT_EQ(k.partitions, 4);
        EXPECT_EQ(k.replication_factor, 1);
    }
    {
        auto reader = ConfigReader::from_string("kafka: {bootstrap_servers: 'a:1'}\n", "RELAY", no_env());
        auto root = reader.root();
        auto node = root.child("kafka");
        const KafkaClientSection k = read_kafka_client_section(node, "default-client", 3ms);
        EXPECT_EQ(k.client.client_id, "default-client");
        EXPECT_EQ(k.linger, 3ms);
    }
    // A worker's key is not the client's: left unread, so an ingress configuration that has it is told.
    for (const std::string worker_key :
         {"commit_interval: 2s", "group_id: g", "max_in_flight: 5", "verify_topics: true"}) {
        auto reader = ConfigReader::from_string(client_keys + "  " + worker_key + "\n", "RELAY", no_env());
        auto root = reader.root();
        auto node = root.child("kafka");
        read_kafka_client_section(node, "c", 1ms);
        const std::string key = "kafka." + worker_key.substr(0, worker_key.find(':'));
        try {
            reader.check_no_unknown_keys();
            ADD_FAILURE() << key << " was read by the client section";
        } catch (const ConfigError& e) {
            EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find("unknown key"), std::string::npos) << e.what();
        }
    }
}

TEST(ReadTopic, PrefixFallbackAndValidation) {
    auto reader =
        ConfigReader::from_string("topics: {inbound: in.v1, bad: 'has space'}\n", "RELAY", no_env());
    auto root = reader.root();
    auto topics = root.child("topics");
    EXPECT_EQ(read_topic(topics, "acme.", "inbound", "fallback.v1"), "acme.in.v1");
    EXPECT_EQ(read_topic(topics, "acme.", "outbound", "fallback.v1"), "acme.fallback.v1");
    try {
        read_topic(topics, "", "bad", "x");
        ADD_FAILURE() << "an invalid topic name was accepted";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("topics.bad"), std::string::npos) << e.what();
    }
    // A prefix that makes the name invalid is refused too, naming the key.
    try {
        read_topic(topics, "bad/prefix.", "inbound", "x");
        ADD_FAILURE() << "an invalid prefixed topic name was accepted";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("topics.inbound"), std::string::npos) << e.what();
    }
}

TEST(ReadAdminListener, DefaultsAndOverrides) {
    {
        auto reader = ConfigReader::from_string("{}", "RELAY", no_env());
        auto root = reader.root();
        auto node = root.child("admin");
        const http::ListenerConfig admin = read_admin_listener(node, 9464);
        EXPECT_EQ(admin.name, "admin");
        EXPECT_EQ(admin.address, "0.0.0.0");
        EXPECT_EQ(admin.port, 9464);
        EXPECT_EQ(admin.limits.body_limit, 64U * 1024);
        EXPECT_FALSE(admin.tls.has_value());
    }
    {
        auto reader = ConfigReader::from_string(
            "admin: {address: 127.0.0.1, port: 0}\n", "RELAY", env_of({{"RELAY_ADMIN_PORT", "9999"}}));
        auto root = reader.root();
        auto node = root.child("admin");
        const http::ListenerConfig admin = read_admin_listener(node, 9464);
        EXPECT_EQ(admin.address, "127.0.0.1");
        EXPECT_EQ(admin.port, 9999);
        EXPECT_NO_THROW(reader.check_no_unknown_keys());
    }
    {
        auto reader = ConfigReader::from_string("admin: {port: 70000}\n", "RELAY", no_env());
        auto root = reader.root();
        auto node = root.child("admin");
        try {
            read_admin_listener(node, 9464);
            ADD_FAILURE() << "port 70000 was accepted";
        } catch (const ConfigError& e) {
            EXPECT_NE(std::string(e.what()).find("admin.port"), std::string::npos) << e.what();
        }
    }
}

}  // namespace
}  // namespace relay::service
