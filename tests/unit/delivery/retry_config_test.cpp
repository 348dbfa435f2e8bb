// read_retry_policy: the `retry:` section every retrying service reads (defaults from the caller, every
// key, mistakes naming the key).
#include "relay/delivery/retry_config.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace relay::delivery {
namespace {

using namespace std::chrono_literals;

RetryPolicy read(const std::string& yaml, const RetryPolicy& defaults) {
    auto reader = ConfigReader::from_string(yaml, "RELAY", [](const std::string&) { return std::optional<std::string>(); });
    auto root = reader.root();
    auto retry = root.child("retry");
    RetryPolicy policy = read_retry_policy(retry, defaults);
    reader.check_no_unknown_keys();
    return policy;
}

std::string error_of(const std::string& yaml) {
    try {
        read(yaml, RetryPolicy{});
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "accepted";
}

TEST(RetryConfig, AbsentKeysTakeTheCallersDefaults) {
    RetryPolicy defaults;
    defaults.initial = 5s;
    defaults.max_delay = 10min;
    defaults.multiplier = 3;
    defaults.max_attempts = 7;
    defaults.max_age = 96h;
    const RetryPolicy p = read("{}", defaults);
    EXPECT_EQ(p.initial, 5s);
    EXPECT_EQ(p.max_delay, 10min);
    EXPECT_EQ(p.multiplier, 3);
    EXPECT_EQ(p.max_attempts, 7);
    EXPECT_EQ(p.max_age, 96h);
}

TEST(RetryConfig, EveryKeyIsRead) {
    const RetryPolicy p =
        read("retry: {initial: 250ms, max_delay: 2m, multiplier: 1.5, max_attempts: 12, max_age: 6h}", RetryPolicy{});
    EXPECT_EQ(p.initial, 250ms);
    EXPECT_EQ(p.max_delay, 2min);
    EXPECT_DOUBLE_EQ(p.multiplier, 1.5);
    EXPECT_EQ(p.max_attempts, 12);
    EXPECT_EQ(p.max_age, 6h);
    EXPECT_NO_THROW(p.validate());
}

TEST(RetryConfig, MistakesNameTheKey) {
    EXPECT_NE(error_of("retry: {initial: 0ms}").find("retry.initial"), std::string::npos);
    EXPECT_NE(error_of("retry: {initial: 1m, max_delay: 1s}").find("retry.max_delay"), std::string::npos);
    EXPECT_NE(error_of("retry: {multiplier: 0.5}").find("retry.multiplier"), std::string::npos);
    EXPECT_NE(error_of("retry: {max_attempts: 0}").find("retry.max_attempts"), std::string::npos);
    EXPECT_NE(error_of("retry: {max_age: soon}").find("retry.max_age"), std::string::npos);
    EXPECT_NE(error_of("retry: {colour: red}").find("retry.colour"), std::string::npos);
}

}  // namespace
}  // namespace relay::delivery
