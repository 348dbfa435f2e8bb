// ids.hpp: message ids (RFC 4122 v4) and W3C traceparent.
#include "relay/core/ids.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <unordered_set>

namespace {

const std::regex kUuidV4("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
const std::regex kLowerHex16("^[0-9a-f]{16}$");
const std::regex kLowerHex32("^[0-9a-f]{32}$");

constexpr const char* kValid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

}  // namespace

TEST(MessageId, IsACanonicalLowerCaseVersion4Uuid) {
    for (int i = 0; i < 100; ++i) {
        const std::string id = relay::new_message_id();
        EXPECT_EQ(id.size(), 36u);
        EXPECT_TRUE(std::regex_match(id, kUuidV4)) << id;
    }
}

TEST(MessageId, TenThousandIdsAreUnique) {
    std::unordered_set<std::string> ids;
    for (int i = 0; i < 10'000; ++i) ids.insert(relay::new_message_id());
    EXPECT_EQ(ids.size(), 10'000u);
}

TEST(TraceParent, ParsesTheW3cExample) {
    auto parsed = relay::TraceParent::parse(kValid);
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(parsed->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    EXPECT_EQ(parsed->span_id, "00f067aa0ba902b7");
    EXPECT_EQ(parsed->flags, "01");
}

TEST(TraceParent, ParsesUnsampledFlags) {
    auto parsed = relay::TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(parsed->flags, "00");
}

TEST(TraceParent, ToStringRoundTrips) {
    auto parsed = relay::TraceParent::parse(kValid);
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(parsed->to_string(), kValid);
}

TEST(TraceParent, RejectsWrongLength) {
    const std::string valid = kValid;
    EXPECT_FALSE(relay::TraceParent::parse(valid.substr(0, valid.size() - 1)).has_value());
    EXPECT_FALSE(relay::TraceParent::parse(valid + "0").has_value());
    EXPECT_FALSE(relay::TraceParent::parse("").has_value());
    // A 31-digit trace id with a longer span id keeps the total length but moves the dashes.
    EXPECT_FALSE(
        relay::TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01").has_value());
}

TEST(TraceParent, RejectsUpperCaseHex) {
    EXPECT_FALSE(
        relay::TraceParent::parse("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01").has_value());
    EXPECT_FALSE(
        relay::TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01").has_value());
}

TEST(TraceParent, RejectsNonHexCharacters) {
    EXPECT_FALSE(
        relay::TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01").has_value());
    EXPECT_FALSE(
        relay::TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x").has_value());
}

TEST(TraceParent, RejectsAllZeroTraceIdOrSpanId) {
    EXPECT_FALSE(
        relay::TraceParent::parse("00-00000000000000000000000000000000-00f067aa0ba902b7-01").has_value());
    EXPECT_FALSE(
        relay::TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01").has_value());
}

TEST(TraceParent, RejectsVersionFf) {
    EXPECT_FALSE(
        relay::TraceParent::parse("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").has_value());
}

TEST(TraceParent, RejectsMissingSeparators) {
    EXPECT_FALSE(
        relay::TraceParent::parse("00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").has_value());
    EXPECT_FALSE(
        relay::TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01").has_value());
    EXPECT_FALSE(
        relay::TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01").has_value());
}

TEST(TraceParent, ChildKeepsTraceIdAndFlagsAndChangesSpanId) {
    auto parent = relay::TraceParent::parse(kValid);
    ASSERT_TRUE(parent.has_value());
    const relay::TraceParent child = parent->child();
    EXPECT_EQ(child.trace_id, parent->trace_id);
    EXPECT_EQ(child.flags, parent->flags);
    EXPECT_NE(child.span_id, parent->span_id);
    EXPECT_TRUE(std::regex_match(child.span_id, kLowerHex16)) << child.span_id;
    EXPECT_NE(child.span_id, "0000000000000000");
    EXPECT_NE(child.span_id, parent->child().span_id);
}

TEST(TraceParent, ChildSerialisesToAParsableHeader) {
    const relay::TraceParent child = relay::TraceParent::parse(kValid)->child();
    auto reparsed = relay::TraceParent::parse(child.to_string());
    ASSERT_TRUE(reparsed.has_value());
    EXPECT_EQ(reparsed->trace_id, child.trace_id);
    EXPECT_EQ(reparsed->span_id, child.span_id);
}

TEST(TraceParent, NewRootIsValidSampledAndRandom) {
    const relay::TraceParent a = relay::TraceParent::new_root();
    const relay::TraceParent b = relay::TraceParent::new_root();
    EXPECT_TRUE(std::regex_match(a.trace_id, kLowerHex32)) << a.trace_id;
    EXPECT_TRUE(std::regex_match(a.span_id, kLowerHex16)) << a.span_id;
    EXPECT_EQ(a.flags, "01");
    EXPECT_TRUE(relay::TraceParent::parse(a.to_string()).has_value()) << a.to_string();
    EXPECT_NE(a.trace_id, b.trace_id);
}
