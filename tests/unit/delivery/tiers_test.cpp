// tiers.hpp: which delay-tier topic a retry goes to.
#include "relay/delivery/tiers.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

namespace {

using namespace std::chrono_literals;
using relay::delivery::DelayTiers;
using relay::delivery::Duration;

}  // namespace

TEST(DelayTiers, DefaultsAreTenSecondsToAnHour) {
    const auto tiers = DelayTiers::defaults();
    EXPECT_EQ(tiers.tiers(), (std::vector<Duration>{10s, 1min, 10min, 1h}));
}

TEST(DelayTiers, LargestTierNotLongerThanTheDelay) {
    const auto tiers = DelayTiers::defaults();
    EXPECT_EQ(tiers.tier_for(10s), 10s);
    EXPECT_EQ(tiers.tier_for(59999ms), 10s);
    EXPECT_EQ(tiers.tier_for(1min), 1min);
    EXPECT_EQ(tiers.tier_for(9min), 1min);
    EXPECT_EQ(tiers.tier_for(10min), 10min);
    EXPECT_EQ(tiers.tier_for(1h), 1h);
    EXPECT_EQ(tiers.tier_for(5h), 1h);
    EXPECT_EQ(tiers.index_for(5h), 3u);
}

TEST(DelayTiers, ShorterThanEveryTierGoesToTheSmallest) {
    const auto tiers = DelayTiers::defaults();
    EXPECT_EQ(tiers.tier_for(0ms), 10s);
    EXPECT_EQ(tiers.tier_for(9999ms), 10s);
    EXPECT_EQ(tiers.tier_for(-1s), 10s);
    EXPECT_EQ(tiers.index_for(1ms), 0u);
}

TEST(DelayTiers, PropertyOverEveryDelay) {
    const DelayTiers tiers({1s, 3s, 7s, 20s});
    for (Duration delay = 0ms; delay <= 30s; delay += 7ms) {
        const std::size_t i = tiers.index_for(delay);
        const Duration tier = tiers.tiers()[i];
        if (delay >= tiers.tiers().front()) {
            ASSERT_LE(tier, delay) << delay.count();
        } else {
            ASSERT_EQ(i, 0u);
        }
        if (i + 1 < tiers.tiers().size()) {
            ASSERT_GT(tiers.tiers()[i + 1], delay) << delay.count();
        }
    }
}

TEST(DelayTiers, ASingleTierTakesEverything) {
    const DelayTiers tiers({30s});
    EXPECT_EQ(tiers.tier_for(1ms), 30s);
    EXPECT_EQ(tiers.tier_for(2h), 30s);
}

TEST(DelayTiers, RejectsUnusableLists) {
    EXPECT_THROW(DelayTiers({}), std::invalid_argument);
    EXPECT_THROW(DelayTiers({0s, 10s}), std::invalid_argument);
    EXPECT_THROW(DelayTiers({10s, 1min, 1min}), std::invalid_argument);
    EXPECT_THROW(DelayTiers({1min, 10s}), std::invalid_argument);
}
