// Secrets: {file:} / {env:} / {value:} in configuration, Secret::from_file, Secret::equals.
#include "relay/core/secret.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "relay/core/config.hpp"

namespace {

relay::EnvLookup env_of(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
        auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

std::string config_error(const std::function<void()>& action) {
    try {
        action();
    } catch (const relay::ConfigError& e) {
        return e.what();
    }
    ADD_FAILURE() << "expected a relay::ConfigError";
    return {};
}

// A file in a fresh temporary directory, removed with the fixture.
class SecretFileTest : public ::testing::Test {
   protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("relay-secret-test-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::create_directories(dir_);
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    std::string write_file(const std::string& name, const std::string& content) {
        const auto path = dir_ / name;
        std::ofstream(path, std::ios::binary) << content;
        return path.string();
    }

    std::filesystem::path dir_;
};

// Sets an environment variable for one test (the {env:} source reads the real process environment).
class ScopedEnv {
   public:
    ScopedEnv(std::string name, const std::string& value) : name_(std::move(name)) {
        ::setenv(name_.c_str(), value.c_str(), 1);
    }
    ~ScopedEnv() { ::unsetenv(name_.c_str()); }

   private:
    std::string name_;
};

}  // namespace

TEST(SecretConfig, ValueLiteralIsReturned) {
    auto reader =
        relay::ConfigReader::from_string("auth:\n  key:\n    value: s3cret-literal\n", "RELAY", env_of({}));
    auto secret = reader.root().child("auth").secret("key");
    ASSERT_TRUE(secret.has_value());
    EXPECT_EQ(secret->reveal(), "s3cret-literal");
    EXPECT_NO_THROW(reader.check_no_unknown_keys());
}

TEST(SecretConfig, AbsentSecretIsNulloptAndRequiredSecretFails) {
    auto reader = relay::ConfigReader::from_string("auth: {}\n", "RELAY", env_of({}));
    auto auth = reader.root().child("auth");
    EXPECT_FALSE(auth.secret("key").has_value());
    const std::string message = config_error([&] { auth.required_secret("key"); });
    EXPECT_NE(message.find("auth.key"), std::string::npos) << message;
    EXPECT_NE(message.find("is required"), std::string::npos) << message;
}

TEST(SecretConfig, TwoSourcesGivenIsAnErrorThatDoesNotRepeatTheValue) {
    auto reader = relay::ConfigReader::from_string(
        "auth:\n  key:\n    value: TOPSECRET-MARKER-1\n    env: SOME_VAR\n", "RELAY", env_of({}));
    const std::string message = config_error([&] { reader.root().child("auth").secret("key"); });
    EXPECT_NE(message.find("auth.key"), std::string::npos) << message;
    EXPECT_NE(message.find("exactly one"), std::string::npos) << message;
    EXPECT_EQ(message.find("TOPSECRET-MARKER-1"), std::string::npos) << message;
}

TEST(SecretConfig, NoSourceGivenIsAnError) {
    auto reader = relay::ConfigReader::from_string("auth:\n  key: {}\n", "RELAY", env_of({}));
    const std::string message = config_error([&] { reader.root().child("auth").secret("key"); });
    EXPECT_NE(message.find("auth.key"), std::string::npos) << message;
}

TEST(SecretConfig, EmptyValueIsAnError) {
    auto reader = relay::ConfigReader::from_string("auth:\n  key:\n    value: ''\n", "RELAY", env_of({}));
    const std::string message = config_error([&] { reader.root().child("auth").secret("key"); });
    EXPECT_NE(message.find("auth.key"), std::string::npos) << message;
    EXPECT_NE(message.find("empty"), std::string::npos) << message;
}

TEST(SecretConfig, ASecretWrittenAsAPlainStringIsRejected) {
    auto reader = relay::ConfigReader::from_string("auth:\n  key: TOPSECRET-MARKER-2\n", "RELAY", env_of({}));
    const std::string message = config_error([&] { reader.root().child("auth").secret("key"); });
    EXPECT_NE(message.find("auth.key"), std::string::npos) << message;
    EXPECT_EQ(message.find("TOPSECRET-MARKER-2"), std::string::npos) << message;
}

TEST(SecretConfig, MisspeltKeyInsideTheSecretSpecIsUnknown) {
    auto reader = relay::ConfigReader::from_string(
        "auth:\n  key:\n    value: x\n    flie: /tmp/x\n", "RELAY", env_of({}));
    reader.root().child("auth").secret("key");
    const std::string message = config_error([&] { reader.check_no_unknown_keys(); });
    EXPECT_NE(message.find("auth.key.flie"), std::string::npos) << message;
}

TEST_F(SecretFileTest, FileSecretDropsOneTrailingNewline) {
    const std::string path = write_file("key", "file-secret\n");
    auto reader =
        relay::ConfigReader::from_string("auth:\n  key:\n    file: " + path + "\n", "RELAY", env_of({}));
    auto secret = reader.root().child("auth").secret("key");
    ASSERT_TRUE(secret.has_value());
    EXPECT_EQ(secret->reveal(), "file-secret");
}

TEST_F(SecretFileTest, FileSecretWithoutNewlineIsKeptWhole) {
    EXPECT_EQ(relay::Secret::from_file(write_file("a", "abc"), "k").reveal(), "abc");
}

TEST_F(SecretFileTest, FileSecretDropsACrLfLineEnding) {
    EXPECT_EQ(relay::Secret::from_file(write_file("a", "abc\r\n"), "k").reveal(), "abc");
}

TEST_F(SecretFileTest, OnlyOneTrailingNewlineIsDropped) {
    EXPECT_EQ(relay::Secret::from_file(write_file("a", "abc\n\n"), "k").reveal(), "abc\n");
}

TEST_F(SecretFileTest, BinaryFileContentIsKeptByteForByte) {
    const std::string bytes("\x00\x01\xff secret", 10);
    EXPECT_EQ(relay::Secret::from_file(write_file("bin", bytes), "k").reveal(), bytes);
}

TEST_F(SecretFileTest, MissingFileNamesThePathAndTheKey) {
    const std::string path = (dir_ / "does-not-exist").string();
    const std::string message =
        config_error([&] { relay::Secret::from_file(path, "auth.token_signing_key"); });
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find("auth.token_signing_key"), std::string::npos) << message;
}

TEST_F(SecretFileTest, MissingFileReferencedFromConfigNamesTheDottedKey) {
    const std::string path = (dir_ / "missing-key-file").string();
    auto reader =
        relay::ConfigReader::from_string("auth:\n  key:\n    file: " + path + "\n", "RELAY", env_of({}));
    const std::string message = config_error([&] { reader.root().child("auth").secret("key"); });
    EXPECT_NE(message.find("auth.key"), std::string::npos) << message;
    EXPECT_NE(message.find(path), std::string::npos) << message;
}

TEST_F(SecretFileTest, EmptyFileIsAnErrorThatNamesThePath) {
    const std::string path = write_file("empty", "\n");
    const std::string message = config_error([&] { relay::Secret::from_file(path, "k"); });
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find("empty"), std::string::npos) << message;
}

TEST_F(SecretFileTest, ErrorsAboutASecretFileNeverContainItsContent) {
    // A directory cannot be read as a file; whatever the error is, no file content appears in it.
    const std::string path = write_file("real", "TOPSECRET-MARKER-3\n");
    const std::string dir_path = dir_.string();
    const std::string message = config_error([&] { relay::Secret::from_file(dir_path, "k"); });
    EXPECT_NE(message.find(dir_path), std::string::npos) << message;
    EXPECT_EQ(message.find("TOPSECRET-MARKER-3"), std::string::npos) << message;
}

TEST_F(SecretFileTest, EnvironmentOnlyFileSecretUsesTheInjectedLookup) {
    const std::string path = write_file("from-env", "env-file-secret\n");
    auto reader =
        relay::ConfigReader::from_string("", "RELAY", env_of({{"RELAY_AUTH_TOKEN_SIGNING_KEY_FILE", path}}));
    auto secret = reader.root().child("auth").secret("token_signing_key");
    ASSERT_TRUE(secret.has_value());
    EXPECT_EQ(secret->reveal(), "env-file-secret");
}

TEST(SecretEnv, EnvSecretReadsTheNamedVariable) {
    // The {env: NAME} source reads the process environment (Secret::from_env uses getenv, not the
    // reader's EnvLookup), so this test sets a variable with a name no other test uses.
    ScopedEnv var("RELAY_UNIT_TEST_SECRET_ENV_A", "secret-from-env");
    auto reader = relay::ConfigReader::from_string(
        "auth:\n  key:\n    env: RELAY_UNIT_TEST_SECRET_ENV_A\n", "RELAY", env_of({}));
    auto secret = reader.root().child("auth").secret("key");
    ASSERT_TRUE(secret.has_value());
    EXPECT_EQ(secret->reveal(), "secret-from-env");
}

TEST(SecretEnv, UnsetVariableIsAnErrorNamingTheVariable) {
    ::unsetenv("RELAY_UNIT_TEST_SECRET_ENV_UNSET");
    auto reader = relay::ConfigReader::from_string(
        "auth:\n  key:\n    env: RELAY_UNIT_TEST_SECRET_ENV_UNSET\n", "RELAY", env_of({}));
    const std::string message = config_error([&] { reader.root().child("auth").secret("key"); });
    EXPECT_NE(message.find("RELAY_UNIT_TEST_SECRET_ENV_UNSET"), std::string::npos) << message;
    EXPECT_NE(message.find("auth.key"), std::string::npos) << message;
}

TEST(SecretEnv, EmptyVariableIsAnError) {
    ScopedEnv var("RELAY_UNIT_TEST_SECRET_ENV_EMPTY", "");
    EXPECT_THROW(relay::Secret::from_env("RELAY_UNIT_TEST_SECRET_ENV_EMPTY", "k"), relay::ConfigError);
}

TEST(SecretValue, EqualsComparesTheWholeValue) {
    const auto secret = relay::Secret::from_value("abc");
    EXPECT_TRUE(secret.equals("abc"));
    EXPECT_FALSE(secret.equals("abd"));
    EXPECT_FALSE(secret.equals("ab"));
    EXPECT_FALSE(secret.equals("abcd"));
    EXPECT_FALSE(secret.equals(""));
    EXPECT_FALSE(secret.empty());
    EXPECT_TRUE(relay::Secret().empty());
}

// --- comparisons that reveal neither the value nor its length -----------------------------------

TEST(SecretEquals, EqualAndUnequalValues) {
    EXPECT_TRUE(relay::secret_equals("correct horse", "correct horse"));
    EXPECT_FALSE(relay::secret_equals("correct horse", "correct horsf"));
    EXPECT_FALSE(relay::secret_equals("Correct horse", "correct horse"));
    EXPECT_TRUE(relay::secret_equals(std::string("a\0b", 3), std::string("a\0b", 3)));
    EXPECT_FALSE(relay::secret_equals(std::string("a\0b", 3), std::string("a\0c", 3)));
}

TEST(SecretEquals, DifferentLengthsAreUnequal) {
    EXPECT_FALSE(relay::secret_equals("abc", "ab"));
    EXPECT_FALSE(relay::secret_equals("ab", "abc"));
    EXPECT_FALSE(relay::secret_equals("abc", std::string(1 << 20, 'a')));
    // A prefix followed by NULs is another value, not a padded copy of the same one.
    EXPECT_FALSE(relay::secret_equals("abc", std::string("abc\0", 4)));
}

TEST(SecretEquals, EmptyValues) {
    EXPECT_TRUE(relay::secret_equals("", ""));
    EXPECT_TRUE(relay::secret_equals(std::string_view(), ""));
    EXPECT_FALSE(relay::secret_equals("", "a"));
    EXPECT_FALSE(relay::secret_equals("a", ""));
}

TEST(SecretValue, EqualsHandlesLengthsAndEmptiness) {
    const auto secret = relay::Secret::from_value("s3cret");
    EXPECT_FALSE(secret.equals(std::string(1 << 20, 's')));
    EXPECT_FALSE(secret.equals(std::string("s3cret\0", 7)));
    EXPECT_TRUE(relay::Secret().equals(""));
    EXPECT_FALSE(relay::Secret().equals("x"));
    EXPECT_TRUE(relay::Secret::from_value("").equals(""));
}

TEST(SecretValue, CopiesCompareLikeTheOriginalAndAMovedFromSecretIsEmpty) {
    auto original = relay::Secret::from_value("s3cret");
    const relay::Secret copy = original;  // NOLINT(performance-unnecessary-copy-initialization)
    EXPECT_TRUE(copy.equals("s3cret"));
    relay::Secret moved = std::move(original);
    EXPECT_TRUE(moved.equals("s3cret"));
    EXPECT_TRUE(original.empty());            // NOLINT(bugprone-use-after-move)
    EXPECT_FALSE(original.equals("s3cret"));  // NOLINT(bugprone-use-after-move)
    relay::Secret assigned;
    assigned = std::move(moved);
    EXPECT_TRUE(assigned.equals("s3cret"));
    EXPECT_FALSE(moved.equals("s3cret"));  // NOLINT(bugprone-use-after-move)
}
