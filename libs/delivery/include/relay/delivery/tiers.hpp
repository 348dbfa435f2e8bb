#pragma once

#include <cstddef>
#include <vector>

#include "relay/delivery/clock.hpp"

namespace relay::delivery {

/// The delays of the delay-tier topics (for example 10 s, 1 min, 10 min, 1 h), one topic per tier.
///
/// A record to retry after a delay goes to the tier tier_for(delay) and carries its own due time. A tier's
/// consumer reads in offset order and pauses only its own partition until the head record is due, so
/// waiting blocks no other tier, destination or partition.
///
/// tier_for picks the largest tier not longer than the delay (the smallest tier for shorter delays).
/// Every record in a tier then has a delay between that tier and the next, so a record waits behind an
/// earlier one of its tier at most (next tier - this tier) past its own due time; in the largest tier the
/// bound is the retry policy's max_delay minus that tier, which is why max_delay should not be far above
/// the largest tier.
class DelayTiers {
   public:
    /// Throws std::invalid_argument unless the list is non-empty, every tier is > 0 and the list is
    /// strictly increasing (a configuration error to report, not to sort silently).
    explicit DelayTiers(std::vector<Duration> tiers);

    /// The conventional tiers: 10 s, 1 min, 10 min, 1 h.
    static DelayTiers defaults();

    /// Index into tiers() of the tier for `delay`.
    std::size_t index_for(Duration delay) const;
    Duration tier_for(Duration delay) const { return tiers_[index_for(delay)]; }

    const std::vector<Duration>& tiers() const { return tiers_; }

   private:
    std::vector<Duration> tiers_;
};

}  // namespace relay::delivery
