// ConfigReader: strict key checking, environment overrides, typed reads, parse_duration / parse_bytes.
#include "relay/core/config.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

// An environment made of a fixed map; it also records every name the reader asked for.
struct FakeEnv {
    std::map<std::string, std::string> vars;
    std::vector<std::string> asked;

    relay::EnvLookup lookup() {
        return [this](const std::string& name) -> std::optional<std::string> {
            asked.push_back(name);
            auto it = vars.find(name);
            if (it == vars.end()) return std::nullopt;
            return it->second;
        };
    }
};

relay::EnvLookup no_env() {
    return [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
}

// Runs `action`, which must throw relay::ConfigError; returns its message.
std::string config_error(const std::function<void()>& action) {
    try {
        action();
    } catch (const relay::ConfigError& e) {
        return e.what();
    }
    ADD_FAILURE() << "expected a relay::ConfigError";
    return {};
}

}  // namespace

// --- unknown keys -------------------------------------------------------------------------------

TEST(ConfigReaderUnknownKeys, EveryKeyReadPassesTheCheck) {
    auto reader = relay::ConfigReader::from_string(
        "kafka:\n  bootstrap_servers: a:9092\n  linger: 5ms\n", "RELAY", no_env());
    auto kafka = reader.root().child("kafka");
    EXPECT_EQ(kafka.string("bootstrap_servers", ""), "a:9092");
    EXPECT_EQ(kafka.duration("linger", 0ms), 5ms);
    EXPECT_NO_THROW(reader.check_no_unknown_keys());
}

TEST(ConfigReaderUnknownKeys, MisspeltNestedKeyIsRejectedWithItsDottedPath) {
    auto reader = relay::ConfigReader::from_string(
        "kafka:\n  bootstrap_servers: a:9092\n  lnger: 5ms\n", "RELAY", no_env());
    auto kafka = reader.root().child("kafka");
    kafka.string("bootstrap_servers", "");
    kafka.duration("linger", 0ms);
    const std::string message = config_error([&] { reader.check_no_unknown_keys(); });
    EXPECT_NE(message.find("kafka.lnger"), std::string::npos) << message;
    EXPECT_NE(message.find("unknown key"), std::string::npos) << message;
}

TEST(ConfigReaderUnknownKeys, UnreadTopLevelSectionIsRejected) {
    auto reader = relay::ConfigReader::from_string(
        "service:\n  threads: 2\nservise:\n  threads: 3\n", "RELAY", no_env());
    reader.root().child("service").integer("threads", 0, 0, 10);
    const std::string message = config_error([&] { reader.check_no_unknown_keys(); });
    EXPECT_NE(message.find("servise"), std::string::npos) << message;
}

TEST(ConfigReaderUnknownKeys, MisspeltKeyInsideAListItemNamesTheItemIndex) {
    const std::string yaml =
        "integrations:\n"
        "  - site: \"1234\"\n"
        "    auht:\n"
        "      scheme: none\n"
        "  - site: \"5678\"\n"
        "    auth:\n"
        "      scheme: none\n";
    auto reader = relay::ConfigReader::from_string(yaml, "RELAY", no_env());
    for (auto& item : reader.root().list("integrations")) {
        item.required_string("site");
        item.child("auth").string("scheme", "none");
    }
    const std::string message = config_error([&] { reader.check_no_unknown_keys(); });
    EXPECT_NE(message.find("integrations[0].auht"), std::string::npos) << message;
}

TEST(ConfigReaderUnknownKeys, MisspeltKeyInTheSecondListItemNamesIndexOne) {
    const std::string yaml =
        "integrations:\n"
        "  - site: \"1234\"\n"
        "  - site: \"5678\"\n"
        "    nmae: x\n";
    auto reader = relay::ConfigReader::from_string(yaml, "RELAY", no_env());
    for (auto& item : reader.root().list("integrations")) item.required_string("site");
    const std::string message = config_error([&] { reader.check_no_unknown_keys(); });
    EXPECT_NE(message.find("integrations[1].nmae"), std::string::npos) << message;
}

TEST(ConfigReaderUnknownKeys, ARepeatedKeyIsRejectedWithItsDottedPath) {
    // Every lookup finds the first "kafka"; the second section would be silently ignored.
    auto reader = relay::ConfigReader::from_string(
        "kafka:\n  bootstrap_servers: a:9092\nkafka:\n  bootstrap_servers: b:9092\n", "RELAY", no_env());
    EXPECT_EQ(reader.root().child("kafka").string("bootstrap_servers", ""), "a:9092");
    EXPECT_EQ(config_error([&] { reader.check_no_unknown_keys(); }), "kafka: repeated key");

    auto nested = relay::ConfigReader::from_string(
        "integrations:\n  - {name: a, site: x, site: y}\n", "RELAY", no_env());
    for (auto& item : nested.root().list("integrations")) {
        (void)item.string("name", "");
        (void)item.string("site", "");
    }
    EXPECT_EQ(config_error([&] { nested.check_no_unknown_keys(); }), "integrations[0].site: repeated key");
}

TEST(ConfigReaderUnknownKeys, KeysOfAFreeFormStringMapAreNotChecked) {
    auto reader = relay::ConfigReader::from_string(
        "kafka:\n  properties:\n    security.protocol: SSL\n    any.thing: x\n", "RELAY", no_env());
    const auto props = reader.root().child("kafka").string_map("properties");
    ASSERT_EQ(props.size(), 2u);
    EXPECT_EQ(props[0].first, "security.protocol");
    EXPECT_EQ(props[0].second, "SSL");
    EXPECT_NO_THROW(reader.check_no_unknown_keys());
}

TEST(ConfigReaderUnknownKeys, EmptyDocumentIsAnEmptyMapAndEveryReadFallsBack) {
    auto reader = relay::ConfigReader::from_string("", "RELAY", no_env());
    auto root = reader.root();
    EXPECT_EQ(root.string("a", "fallback"), "fallback");
    EXPECT_EQ(root.child("b").integer("c", 7, 0, 10), 7);
    EXPECT_TRUE(root.list("d").empty());
    EXPECT_NO_THROW(reader.check_no_unknown_keys());
}

TEST(ConfigReaderDocument, ADocumentThatIsNotAMapIsRejected) {
    EXPECT_THROW(relay::ConfigReader::from_string("- a\n- b\n", "RELAY", no_env()), relay::ConfigError);
    EXPECT_THROW(relay::ConfigReader::from_string("just a string", "RELAY", no_env()), relay::ConfigError);
}

TEST(ConfigReaderDocument, YamlSyntaxErrorGivesLineAndColumn) {
    const std::string message =
        config_error([] { relay::ConfigReader::from_string("a: 1\nb: [unclosed\n", "RELAY", no_env()); });
    EXPECT_NE(message.find("line"), std::string::npos) << message;
    EXPECT_NE(message.find("column"), std::string::npos) << message;
}

TEST(ConfigReaderDocument, MissingFileIsAConfigErrorNamingThePath) {
    const std::string path = "/nonexistent/dir/relay-config-for-test.yaml";
    const std::string message =
        config_error([&] { relay::ConfigReader::from_file(path, "RELAY", no_env()); });
    EXPECT_NE(message.find(path), std::string::npos) << message;
}

// --- environment overrides ----------------------------------------------------------------------

TEST(ConfigReaderEnv, KafkaBootstrapServersIsOverriddenByRelayKafkaBootstrapServers) {
    FakeEnv env;
    env.vars["RELAY_KAFKA_BOOTSTRAP_SERVERS"] = "broker-from-env:9093";
    auto reader = relay::ConfigReader::from_string(
        "kafka:\n  bootstrap_servers: broker-from-yaml:9092\n", "RELAY", env.lookup());
    EXPECT_EQ(reader.root().child("kafka").string("bootstrap_servers", "default"), "broker-from-env:9093");
    EXPECT_NO_THROW(reader.check_no_unknown_keys());
}

TEST(ConfigReaderEnv, OverrideAppliesWhenTheKeyIsAbsentFromTheDocument) {
    FakeEnv env;
    env.vars["RELAY_KAFKA_BOOTSTRAP_SERVERS"] = "broker-from-env:9093";
    auto reader = relay::ConfigReader::from_string("", "RELAY", env.lookup());
    EXPECT_EQ(reader.root().child("kafka").string("bootstrap_servers", "default"), "broker-from-env:9093");
}

TEST(ConfigReaderEnv, WithoutAVariableTheDocumentValueIsKept) {
    FakeEnv env;
    auto reader = relay::ConfigReader::from_string(
        "kafka:\n  bootstrap_servers: broker-from-yaml:9092\n", "RELAY", env.lookup());
    EXPECT_EQ(reader.root().child("kafka").string("bootstrap_servers", "default"), "broker-from-yaml:9092");
    EXPECT_NE(std::find(env.asked.begin(), env.asked.end(), "RELAY_KAFKA_BOOTSTRAP_SERVERS"),
              env.asked.end());
}

TEST(ConfigReaderEnv, ThePrefixIsPartOfTheVariableName) {
    FakeEnv env;
    env.vars["RELAY_KAFKA_BOOTSTRAP_SERVERS"] = "wrong-prefix:1";
    env.vars["OTHER_KAFKA_BOOTSTRAP_SERVERS"] = "right-prefix:2";
    auto reader = relay::ConfigReader::from_string("", "OTHER", env.lookup());
    EXPECT_EQ(reader.root().child("kafka").string("bootstrap_servers", ""), "right-prefix:2");
}

TEST(ConfigReaderEnv, ListItemIsOverriddenByItsIndex) {
    FakeEnv env;
    env.vars["RELAY_INTEGRATIONS_0_SITE"] = "9999";
    auto reader = relay::ConfigReader::from_string(
        "integrations:\n  - site: \"1234\"\n  - site: \"5678\"\n", "RELAY", env.lookup());
    auto items = reader.root().list("integrations");
    ASSERT_EQ(items.size(), 2u);
    EXPECT_EQ(items[0].path(), "integrations[0]");
    EXPECT_EQ(items[0].required_string("site"), "9999");
    EXPECT_EQ(items[1].required_string("site"), "5678");
    EXPECT_NE(std::find(env.asked.begin(), env.asked.end(), "RELAY_INTEGRATIONS_1_SITE"), env.asked.end());
}

TEST(ConfigReaderEnv, OverriddenValuesAreTypeCheckedLikeDocumentValues) {
    FakeEnv env;
    env.vars["RELAY_SERVICE_THREADS"] = "many";
    auto reader = relay::ConfigReader::from_string("service:\n  threads: 4\n", "RELAY", env.lookup());
    const std::string message =
        config_error([&] { reader.root().child("service").integer("threads", 0, 0, 256); });
    EXPECT_NE(message.find("service.threads"), std::string::npos) << message;
}

TEST(ConfigReaderEnv, StringListFromTheEnvironmentIsCommaSeparated) {
    FakeEnv env;
    env.vars["RELAY_FHIR_ACCEPTED_EVENTS"] = "a,,b,c";
    auto reader = relay::ConfigReader::from_string("fhir:\n  accepted_events: [x]\n", "RELAY", env.lookup());
    EXPECT_EQ(reader.root().child("fhir").string_list("accepted_events", {}),
              (std::vector<std::string>{"a", "b", "c"}));
}

// --- typed reads --------------------------------------------------------------------------------

TEST(ConfigReaderTypes, IntegerWithinRangeIsReturned) {
    auto reader = relay::ConfigReader::from_string("service:\n  threads: 16\n", "RELAY", no_env());
    EXPECT_EQ(reader.root().child("service").integer("threads", 0, 0, 256), 16);
}

TEST(ConfigReaderTypes, IntegerAboveMaximumNamesKeyAndRange) {
    auto reader = relay::ConfigReader::from_string("service:\n  threads: 300\n", "RELAY", no_env());
    const std::string message =
        config_error([&] { reader.root().child("service").integer("threads", 0, 0, 256); });
    EXPECT_NE(message.find("service.threads"), std::string::npos) << message;
    EXPECT_NE(message.find("256"), std::string::npos) << message;
    EXPECT_NE(message.find("300"), std::string::npos) << message;
}

TEST(ConfigReaderTypes, IntegerBelowMinimumIsRejected) {
    auto reader = relay::ConfigReader::from_string("kafka:\n  partitions: 0\n", "RELAY", no_env());
    const std::string message =
        config_error([&] { reader.root().child("kafka").integer("partitions", 12, 1, 10000); });
    EXPECT_NE(message.find("kafka.partitions"), std::string::npos) << message;
}

TEST(ConfigReaderTypes, NonNumericIntegersAreRejected) {
    for (const char* text : {"abc", "12abc", "1.5", "0x10", "''", "99999999999999999999999"}) {
        auto reader = relay::ConfigReader::from_string(std::string("n: ") + text + "\n", "RELAY", no_env());
        const std::string message = config_error([&] { reader.root().integer("n", 0, 0, 100); });
        EXPECT_NE(message.find("n:"), std::string::npos) << text << " -> " << message;
    }
}

TEST(ConfigReaderTypes, BooleanAcceptsOnlyTrueAndFalse) {
    auto reader = relay::ConfigReader::from_string("a: true\nb: false\nc: yes\n", "RELAY", no_env());
    auto root = reader.root();
    EXPECT_TRUE(root.boolean("a", false));
    EXPECT_FALSE(root.boolean("b", true));
    const std::string message = config_error([&] { root.boolean("c", false); });
    EXPECT_NE(message.find("c:"), std::string::npos) << message;
    EXPECT_NE(message.find("true or false"), std::string::npos) << message;
    EXPECT_TRUE(root.boolean("absent", true));
}

TEST(ConfigReaderTypes, BadBooleanInNestedSectionNamesTheDottedKey) {
    auto reader = relay::ConfigReader::from_string("kafka:\n  embedded: 1\n", "RELAY", no_env());
    const std::string message =
        config_error([&] { reader.root().child("kafka").boolean("embedded", false); });
    EXPECT_NE(message.find("kafka.embedded"), std::string::npos) << message;
}

TEST(ConfigReaderTypes, DurationIsParsed) {
    auto reader = relay::ConfigReader::from_string("kafka:\n  ack_timeout: 2m\n", "RELAY", no_env());
    EXPECT_EQ(reader.root().child("kafka").duration("ack_timeout", 5s), 120s);
}

TEST(ConfigReaderTypes, BadDurationNamesKey) {
    auto reader = relay::ConfigReader::from_string("kafka:\n  ack_timeout: 5 seconds\n", "RELAY", no_env());
    const std::string message =
        config_error([&] { reader.root().child("kafka").duration("ack_timeout", 5s); });
    EXPECT_NE(message.find("kafka.ack_timeout"), std::string::npos) << message;
    EXPECT_NE(message.find("duration"), std::string::npos) << message;
}

TEST(ConfigReaderTypes, DurationBelowMinimumIsRejected) {
    auto reader = relay::ConfigReader::from_string("kafka:\n  ack_timeout: 10ms\n", "RELAY", no_env());
    const std::string message =
        config_error([&] { reader.root().child("kafka").duration("ack_timeout", 5s, 100ms); });
    EXPECT_NE(message.find("kafka.ack_timeout"), std::string::npos) << message;
    EXPECT_NE(message.find("100ms"), std::string::npos) << message;
}

TEST(ConfigReaderTypes, SizeIsParsed) {
    auto reader = relay::ConfigReader::from_string("limits:\n  max_body: 2MiB\n", "RELAY", no_env());
    EXPECT_EQ(reader.root().child("limits").bytes("max_body", 0, 0, 1ULL << 30), 2u << 20);
}

TEST(ConfigReaderTypes, BadSizeNamesKey) {
    auto reader = relay::ConfigReader::from_string("limits:\n  max_body: 20MB\n", "RELAY", no_env());
    const std::string message =
        config_error([&] { reader.root().child("limits").bytes("max_body", 0, 0, 1ULL << 30); });
    EXPECT_NE(message.find("limits.max_body"), std::string::npos) << message;
    EXPECT_NE(message.find("20MB"), std::string::npos) << message;
}

TEST(ConfigReaderTypes, SizeOutOfRangeNamesKey) {
    auto reader = relay::ConfigReader::from_string("limits:\n  max_body: 512\n", "RELAY", no_env());
    const std::string message =
        config_error([&] { reader.root().child("limits").bytes("max_body", 0, 1024, 1ULL << 30); });
    EXPECT_NE(message.find("limits.max_body"), std::string::npos) << message;
}

TEST(ConfigReaderTypes, ChoiceListsTheAllowedValues) {
    auto reader = relay::ConfigReader::from_string("service:\n  log_level: verbose\n", "RELAY", no_env());
    const std::string message = config_error([&] {
        reader.root().child("service").choice("log_level", "info", {"debug", "info", "warn", "error"});
    });
    EXPECT_NE(message.find("service.log_level"), std::string::npos) << message;
    EXPECT_NE(message.find("debug, info, warn, error"), std::string::npos) << message;
}

TEST(ConfigReaderTypes, RequiredStringMissingOrEmptyIsAnError) {
    auto reader = relay::ConfigReader::from_string("a:\n  empty: ''\n", "RELAY", no_env());
    auto a = reader.root().child("a");
    EXPECT_NE(config_error([&] { a.required_string("missing"); }).find("a.missing: is required"),
              std::string::npos);
    EXPECT_NE(config_error([&] { a.required_string("empty"); }).find("a.empty: is required"),
              std::string::npos);
}

TEST(ConfigReaderTypes, AMapWhereAScalarIsExpectedIsAnError) {
    auto reader =
        relay::ConfigReader::from_string("kafka:\n  bootstrap_servers:\n    host: x\n", "RELAY", no_env());
    const std::string message =
        config_error([&] { reader.root().child("kafka").string("bootstrap_servers", ""); });
    EXPECT_NE(message.find("kafka.bootstrap_servers"), std::string::npos) << message;
}

TEST(ConfigReaderTypes, AScalarWhereAMapIsExpectedIsAnError) {
    auto reader = relay::ConfigReader::from_string("kafka: localhost\n", "RELAY", no_env());
    const std::string message = config_error([&] { reader.root().child("kafka"); });
    EXPECT_NE(message.find("kafka: must be a map"), std::string::npos) << message;
}

TEST(ConfigReaderTypes, ListItemsMustBeMaps) {
    auto reader = relay::ConfigReader::from_string("integrations:\n  - 1234\n", "RELAY", no_env());
    const std::string message = config_error([&] { reader.root().list("integrations"); });
    EXPECT_NE(message.find("integrations[0]"), std::string::npos) << message;
}

TEST(ConfigReaderTypes, StringListReadsScalarsAndRejectsAMap) {
    auto reader = relay::ConfigReader::from_string("a: [x, y]\nb: {k: v}\n", "RELAY", no_env());
    auto root = reader.root();
    EXPECT_EQ(root.string_list("a", {}), (std::vector<std::string>{"x", "y"}));
    EXPECT_EQ(root.string_list("absent", {"d"}), (std::vector<std::string>{"d"}));
    EXPECT_NE(config_error([&] { root.string_list("b", {}); }).find("b: must be a list"), std::string::npos);
}

TEST(ConfigReaderTypes, AListOrAMapAsAKeyIsAConfigErrorNamingWhereItIs) {
    // YAML allows `? [a, b] : 1`; the reader reports it as a configuration mistake (not yaml-cpp's own
    // conversion error, which names no key).
    auto top = relay::ConfigReader::from_string("a: 1\n? [b, c]\n: 2\n", "RELAY", no_env());
    (void)top.root().string("a", "");
    EXPECT_NE(
        config_error([&] { top.check_no_unknown_keys(); }).find("configuration: keys must be single values"),
        std::string::npos);

    auto nested = relay::ConfigReader::from_string("kafka:\n  ? {x: 1}\n  : v\n", "RELAY", no_env());
    (void)nested.root().child("kafka");
    EXPECT_NE(config_error([&] { nested.check_no_unknown_keys(); }).find("kafka: keys must be single values"),
              std::string::npos);

    auto map =
        relay::ConfigReader::from_string("kafka:\n  properties:\n    ? [x]\n    : v\n", "RELAY", no_env());
    EXPECT_NE(config_error([&] {
                  map.root().child("kafka").string_map("properties");
              }).find("kafka.properties: keys must be single values"),
              std::string::npos);

    // Scalar keys, null included, read as before.
    auto plain =
        relay::ConfigReader::from_string("kafka:\n  properties:\n    ~: v\n    7: w\n", "RELAY", no_env());
    const auto props = plain.root().child("kafka").string_map("properties");
    ASSERT_EQ(props.size(), 2u);
    EXPECT_EQ(props[1].first, "7");
}

// --- parse_duration / parse_bytes ---------------------------------------------------------------

TEST(ParseDuration, AcceptsEveryUnit) {
    EXPECT_EQ(relay::parse_duration("250ms"), 250ms);
    EXPECT_EQ(relay::parse_duration("5s"), 5000ms);
    EXPECT_EQ(relay::parse_duration("2m"), 120'000ms);
    EXPECT_EQ(relay::parse_duration("1h"), 3'600'000ms);
    EXPECT_EQ(relay::parse_duration("0s"), 0ms);
    EXPECT_EQ(relay::parse_duration("0ms"), 0ms);
}

TEST(ParseDuration, RejectsMalformedText) {
    for (const char* text :
         {"", "5", "ms", "s", "5sec", "-5s", "+5s", "5 s", " 5s", "1.5s", "5S", "5MS", "5d", "s5", "5ms5"}) {
        EXPECT_EQ(relay::parse_duration(text), std::nullopt) << "'" << text << "'";
    }
}

TEST(ParseDuration, RejectsValuesThatOverflowMilliseconds) {
    // Regression test for a bug this suite found (now fixed).
    EXPECT_EQ(relay::parse_duration("5124095576031h"), std::nullopt);
    EXPECT_EQ(relay::parse_duration("18446744073709551615s"), std::nullopt);
}

TEST(ParseBytes, AcceptsEveryUnitAndPlainBytes) {
    EXPECT_EQ(relay::parse_bytes("512"), 512u);
    EXPECT_EQ(relay::parse_bytes("512B"), 512u);
    EXPECT_EQ(relay::parse_bytes("64KiB"), 64u * 1024);
    EXPECT_EQ(relay::parse_bytes("20MiB"), 20u * 1024 * 1024);
    EXPECT_EQ(relay::parse_bytes("1GiB"), 1ULL << 30);
    EXPECT_EQ(relay::parse_bytes("0"), 0u);
}

TEST(ParseBytes, RejectsMalformedText) {
    for (const char* text :
         {"", "MiB", "B", "20MB", "20mib", "20 MiB", "-1", "1.5MiB", "20KB", "k", "0x10", "20MiBs"}) {
        EXPECT_EQ(relay::parse_bytes(text), std::nullopt) << "'" << text << "'";
    }
}

TEST(ParseBytes, RejectsValuesThatOverflow) {
    // Regression test for a bug this suite found (now fixed).
    EXPECT_EQ(relay::parse_bytes("17179869185GiB"), std::nullopt);
    EXPECT_EQ(relay::parse_bytes("17179869184GiB"), std::nullopt);
}

namespace {

TEST(ConfigReaderNumber, ReadsDecimalsAndRefusesWhatIsNotANumberInRange) {
    auto reader = relay::ConfigReader::from_string("p: 0.25\nwhole: 3\nbad: 0.5x\nhigh: 1.5\n", "T", no_env());
    auto root = reader.root();
    EXPECT_DOUBLE_EQ(root.number("p", 1, 0, 1), 0.25);
    EXPECT_DOUBLE_EQ(root.number("whole", 0, 0, 10), 3.0);
    EXPECT_DOUBLE_EQ(root.number("absent", 0.75, 0, 1), 0.75);
    EXPECT_NE(config_error([&] { root.number("bad", 0, 0, 1); }).find("bad: must be a number from 0 to 1, got '0.5x'"),
              std::string::npos);
    EXPECT_NE(config_error([&] { root.number("high", 0, 0, 1); }).find("high:"), std::string::npos);
}

}  // namespace

TEST(ConfigNames, NamesAndTopicNames) {
    EXPECT_TRUE(relay::is_valid_name("central-intake-2"));
    EXPECT_FALSE(relay::is_valid_name(""));
    EXPECT_FALSE(relay::is_valid_name("Central"));
    EXPECT_FALSE(relay::is_valid_name("a_b"));
    EXPECT_FALSE(relay::is_valid_name(std::string(64, 'a')));
    EXPECT_TRUE(relay::is_valid_topic_name("acme.relay.deliveries_v1-x"));
    EXPECT_FALSE(relay::is_valid_topic_name("bad topic"));
    EXPECT_FALSE(relay::is_valid_topic_name(std::string(250, 'a')));
}
