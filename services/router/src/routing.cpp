#include "routing.hpp"

#include <algorithm>
#include <set>
#include <tuple>

#include "relay/core/config.hpp"

namespace relay::router {

namespace {

int specificity(const Route& r) {
    if (!r.external_service_id.empty()) return 3;
    if (!r.listing_ref.empty()) return 2;
    return 1;
}

}  // namespace

RoutingTable::RoutingTable(std::vector<Destination> destinations, std::vector<Route> routes)
    : destinations_(std::move(destinations)), routes_(std::move(routes)) {
    std::set<std::string> ids;
    for (const auto& d : destinations_) {
        if (!ids.insert(d.id).second) throw ConfigError("destinations: '" + d.id + "' is defined twice");
    }
    std::set<std::tuple<std::string, std::string, std::string>> matches;
    for (std::size_t i = 0; i < routes_.size(); ++i) {
        const Route& r = routes_[i];
        const std::string where = "routes[" + std::to_string(i) + "]";
        if (!r.external_service_id.empty() && r.site.empty())
            throw ConfigError(where + ": external_service_id is only unique within a site: add site");
        if (r.site.empty() && r.listing_ref.empty())
            throw ConfigError(where + ": a route needs a site or a listing_ref");
        if (!r.external_service_id.empty() && !r.listing_ref.empty())
            throw ConfigError(where + ": match on external_service_id or on listing_ref, not both");
        if (r.destinations.empty()) throw ConfigError(where + ".destinations: at least one is required");
        for (const auto& id : r.destinations) {
            if (!ids.contains(id))
                throw ConfigError(where + ".destinations: '" + id + "' is not a configured destination");
        }
        if (!matches.insert({r.site, r.external_service_id, r.listing_ref}).second)
            throw ConfigError(where + ": another route has the same match");
    }
}

std::vector<const Destination*> RoutingTable::targets(const Route& route) const {
    std::vector<const Destination*> out;
    out.reserve(route.destinations.size());
    for (const auto& id : route.destinations) {
        const auto it = std::find_if(
            destinations_.begin(), destinations_.end(), [&](const Destination& d) { return d.id == id; });
        if (it != destinations_.end()) out.push_back(&*it);
    }
    return out;
}

std::vector<const Destination*> RoutingTable::resolve(std::string_view site,
                                                      std::string_view external_service_id,
                                                      std::string_view listing_ref) const {
    const Route* best = nullptr;
    for (const auto& r : routes_) {
        if (!r.site.empty() && r.site != site) continue;
        if (!r.external_service_id.empty() && r.external_service_id != external_service_id) continue;
        if (!r.listing_ref.empty() && r.listing_ref != listing_ref) continue;
        // A listing rule with a site beats one without; otherwise the more specific kind wins.
        if (best == nullptr || specificity(r) > specificity(*best) ||
            (specificity(r) == specificity(*best) && !r.site.empty() && best->site.empty()))
            best = &r;
    }
    if (best == nullptr) return {};
    return targets(*best);
}

}  // namespace relay::router
