// read_policy's signature and scope keys, read_failure_limits.
#include "relay/auth/config.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>

using namespace std::chrono_literals;

namespace {

relay::ConfigReader reader_of(const std::string& yaml) {
    return relay::ConfigReader::from_string(
        yaml, "RELAY_AUTH_TEST", [](const std::string&) { return std::optional<std::string>(); });
}

std::string config_error(const std::function<void()>& action) {
    try {
        action();
    } catch (const relay::ConfigError& e) {
        return e.what();
    }
    ADD_FAILURE() << "expected a ConfigError";
    return {};
}

}  // namespace

TEST(ReadPolicy, ReplayMemoryDefaultsToAHundredThousand) {
    auto reader = reader_of("auth:\n  scheme: none\n  signature:\n    key: {value: k}\n");
    const auto policy = relay::auth::read_policy(reader.root().child("auth"));
    EXPECT_EQ(policy.signature_replay_memory, 100000U);
    reader.check_no_unknown_keys();
}

TEST(ReadPolicy, ReplayMemoryCanBeSetOrTurnedOff) {
    auto reader = reader_of("auth:\n  signature:\n    key: {value: k}\n    replay_memory: 500\n");
    EXPECT_EQ(relay::auth::read_policy(reader.root().child("auth")).signature_replay_memory, 500U);
    auto off = reader_of("auth:\n  signature:\n    key: {value: k}\n    replay_memory: 0\n");
    const auto policy = relay::auth::read_policy(off.root().child("auth"));
    EXPECT_EQ(policy.signature_replay_memory, 0U);
    const relay::auth::Authenticator authenticator(policy, "site", nullptr);
    EXPECT_EQ(authenticator.replay_guard(), nullptr);
}

TEST(ReadPolicy, NegativeReplayMemoryIsAnErrorNamingTheKey) {
    auto reader = reader_of("auth:\n  signature:\n    key: {value: k}\n    replay_memory: -1\n");
    const std::string message = config_error([&] { relay::auth::read_policy(reader.root().child("auth")); });
    EXPECT_NE(message.find("auth.signature.replay_memory"), std::string::npos) << message;
}

TEST(ReadPolicy, ConfiguredScopesMustBeScopeTokens) {
    auto good = reader_of(
        "auth:\n  scheme: oauth2\n  clients:\n    - client_id: a\n      client_secret: {value: s}\n"
        "      scopes: [user/*.write, 'system/*.*']\n");
    EXPECT_EQ(relay::auth::read_policy(good.root().child("auth")).oauth_clients[0].allowed_scopes.size(), 2U);
    for (const std::string scope : {"'a b'", "'a\"b'", "''"}) {
        auto reader = reader_of(
            "auth:\n  scheme: oauth2\n  clients:\n    - client_id: a\n      client_secret: {value: s}\n"
            "      scopes: [" +
            scope + "]\n");
        const std::string message =
            config_error([&] { relay::auth::read_policy(reader.root().child("auth")); });
        EXPECT_NE(message.find("auth.clients[0].scopes"), std::string::npos) << message;
    }
}

TEST(ReadFailureLimits, DefaultsWhenAbsent) {
    auto reader = reader_of("other: 1\n");
    const auto limits = relay::auth::read_failure_limits(reader.root().child("limits"));
    EXPECT_EQ(limits.window, 60s);
    EXPECT_EQ(limits.max_per_address, 30U);
    EXPECT_EQ(limits.max_per_credential, 100U);
    EXPECT_EQ(limits.max_tracked, 20000U);
}

TEST(ReadFailureLimits, EveryKeyIsRead) {
    auto reader = reader_of(
        "limits:\n  window: 2m\n  max_per_address: 10\n  max_per_credential: 0\n  max_tracked: 5000\n");
    const auto limits = relay::auth::read_failure_limits(reader.root().child("limits"));
    EXPECT_EQ(limits.window, 120s);
    EXPECT_EQ(limits.max_per_address, 10U);
    EXPECT_EQ(limits.max_per_credential, 0U);
    EXPECT_EQ(limits.max_tracked, 5000U);
    reader.check_no_unknown_keys();
}

TEST(ReadFailureLimits, BadValuesAreErrorsNamingTheKey) {
    for (const auto& [yaml, key] : {std::pair<std::string, std::string>{"window: 1500ms", "limits.window"},
                                    {"window: 0s", "limits.window"},
                                    {"window: 25h", "limits.window"},
                                    {"window: soon", "limits.window"},
                                    {"max_per_address: -1", "limits.max_per_address"},
                                    {"max_per_credential: lots", "limits.max_per_credential"},
                                    {"max_tracked: 0", "limits.max_tracked"}}) {
        auto reader = reader_of("limits:\n  " + yaml + "\n");
        const std::string message =
            config_error([&] { relay::auth::read_failure_limits(reader.root().child("limits")); });
        EXPECT_NE(message.find(key), std::string::npos) << yaml << ": " << message;
    }
}
