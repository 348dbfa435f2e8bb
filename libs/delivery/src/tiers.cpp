#include "relay/delivery/tiers.hpp"

#include <algorithm>
#include <functional>
#include <stdexcept>
#include <utility>

namespace relay::delivery {

DelayTiers::DelayTiers(std::vector<Duration> tiers) : tiers_(std::move(tiers)) {
    if (tiers_.empty()) throw std::invalid_argument("delay tiers: the list is empty");
    if (tiers_.front() <= Duration::zero())
        throw std::invalid_argument("delay tiers: every tier must be > 0");
    if (std::adjacent_find(tiers_.begin(), tiers_.end(), std::greater_equal<>()) != tiers_.end()) {
        throw std::invalid_argument("delay tiers: tiers must be strictly increasing");
    }
}

DelayTiers DelayTiers::defaults() {
    using namespace std::chrono_literals;
    return DelayTiers({10s, 1min, 10min, 1h});
}

std::size_t DelayTiers::index_for(Duration delay) const {
    // The first tier longer than the delay; the one before it is the largest not longer.
    const auto after = std::upper_bound(tiers_.begin(), tiers_.end(), delay);
    if (after == tiers_.begin()) return 0;
    return static_cast<std::size_t>(after - tiers_.begin()) - 1;
}

}  // namespace relay::delivery
