// The parked changelog's encoding and its restore: what a restarted owner believes about each key.
#include "parking.hpp"

#include <gtest/gtest.h>

namespace relay::delivery_service {
namespace {

TEST(Parking, HeadRoundTripsAndRejectsNonsense) {
    const auto head = decode_head(encode_head("3:42", HeadLocation::kParked));
    ASSERT_TRUE(head);
    EXPECT_EQ(head->token, "3:42");
    EXPECT_EQ(head->location, HeadLocation::kParked);
    EXPECT_EQ(decode_head(encode_head("0:1", HeadLocation::kTier))->location, HeadLocation::kTier);
    EXPECT_FALSE(decode_head("not json"));
    EXPECT_FALSE(decode_head(R"({"head":"1:2","location":"moon"})"));
    EXPECT_FALSE(decode_head(R"({"location":"tier"})"));
}

TEST(Parking, TokensAndKeys) {
    EXPECT_EQ(make_token(7, 1234), "7:1234");
    EXPECT_EQ(parked_record_key("emr|ref-1", "7:1234"), "emr|ref-1#7:1234");
}

TEST(ParkingRestore, HeadInTierWithFollowersInChangelogOrder) {
    ParkingRestore r;
    r.add("emr|a", encode_head("0:1", HeadLocation::kTier), 10);
    r.add("emr|a#0:5", std::string_view("body5"), 11);
    r.add("emr|a#0:3", std::string_view("body3"), 12);  // parked later, though its token sorts first
    const auto keys = r.finish();
    ASSERT_EQ(keys.size(), 1U);
    const ParkedKey& k = keys.at("emr|a");
    EXPECT_EQ(k.head_token, "0:1");
    EXPECT_EQ(k.location, HeadLocation::kTier);
    ASSERT_EQ(k.waiting.size(), 2U);
    EXPECT_EQ(k.waiting[0].token, "0:5");
    EXPECT_EQ(k.waiting[0].offset, 11);
    EXPECT_EQ(k.waiting[1].token, "0:3");
    EXPECT_EQ(r.anomalies(), 0);
}

TEST(ParkingRestore, ReleasedHeadKeepsItsOffsetAndLeavesTheQueue) {
    ParkingRestore r;
    r.add("emr|a", encode_head("0:1", HeadLocation::kTier), 1);
    r.add("emr|a#0:5", std::string_view("b"), 2);
    r.add("emr|a#0:6", std::string_view("b"), 3);
    r.add("emr|a", encode_head("0:5", HeadLocation::kParked), 4);
    const auto k = r.finish().at("emr|a");
    EXPECT_EQ(k.head_token, "0:5");
    EXPECT_EQ(k.location, HeadLocation::kParked);
    EXPECT_EQ(k.head_offset, 2);
    ASSERT_EQ(k.waiting.size(), 1U);
    EXPECT_EQ(k.waiting[0].token, "0:6");
}

TEST(ParkingRestore, TombstonesClearKeysAndRecords) {
    ParkingRestore r;
    r.add("emr|a", encode_head("0:1", HeadLocation::kTier), 1);
    r.add("emr|a#0:5", std::string_view("b"), 2);
    r.add("emr|a", encode_head("0:5", HeadLocation::kParked), 3);
    r.add("emr|a#0:5", std::nullopt, 4);
    r.add("emr|a", std::nullopt, 5);
    r.add("emr|b", encode_head("1:9", HeadLocation::kTier), 6);
    const auto keys = r.finish();
    EXPECT_FALSE(keys.contains("emr|a"));
    EXPECT_TRUE(keys.contains("emr|b"));
}

TEST(ParkingRestore, HeadLeftForATierWhileItsParkedCopyWasStillThere) {
    // The head went back to a tier; the crash came before its parked copy's tombstone.
    ParkingRestore r;
    r.add("emr|a#0:5", std::string_view("b"), 1);
    r.add("emr|a", encode_head("0:5", HeadLocation::kTier), 2);
    const auto k = r.finish().at("emr|a");
    EXPECT_EQ(k.location, HeadLocation::kTier);
    EXPECT_TRUE(k.waiting.empty());
}

TEST(ParkingRestore, ParkedRecordsWithoutAHeadAreReleasedOldestFirst) {
    ParkingRestore r;
    r.add("emr|a#0:8", std::string_view("b"), 7);
    r.add("emr|a#0:9", std::string_view("b"), 8);
    const auto k = r.finish().at("emr|a");
    EXPECT_EQ(k.location, HeadLocation::kParked);
    EXPECT_EQ(k.head_token, "0:8");
    EXPECT_EQ(k.head_offset, 7);
    ASSERT_EQ(k.waiting.size(), 1U);
}

TEST(ParkingRestore, AReleasedHeadWhoseBodyIsGoneIsCountedAndSkipped) {
    ParkingRestore r;
    r.add("emr|a", encode_head("0:5", HeadLocation::kParked), 1);
    r.add("emr|a#0:6", std::string_view("b"), 2);
    r.add("emr|x", std::string_view("garbage"), 3);
    const auto keys = r.finish();
    const auto& k = keys.at("emr|a");
    EXPECT_EQ(k.head_token, "0:6");
    EXPECT_TRUE(k.waiting.empty());
    EXPECT_EQ(r.anomalies(), 2);
}

}  // namespace
}  // namespace relay::delivery_service
