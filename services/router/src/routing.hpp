// The routing table: which destinations receive a referral (ocean-api.md §3.4 [P]: key on
// (site, External Service ID), fall back to the listing ref).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "relay/transform/render.hpp"

namespace relay::router {

struct Destination {
    std::string id;  ///< [a-z0-9-]: Kafka key part, header, metric label
    transform::Format format = transform::Format::kFhirR4;
    /// A version older than the referral's latest (a late Ocean retry or resend): dropped by default;
    /// true = delivered anyway, marked with the header `stale: true`.
    bool deliver_stale = false;
    /// The documents a FHIR referral points to (letter, attachments): fetched by the fetcher and
    /// delivered after the referral, each as its own delivery (`documents: separate`), or embedded in the
    /// referral's own delivery (`documents: inline`, inline_documents); none by default.
    bool documents = false;
    bool inline_documents = false;
};

/// One routing rule. The most specific matching rule wins:
///   1. site + External Service ID;
///   2. listing ref (with site, if the rule names one);
///   3. site alone (a site's default).
struct Route {
    std::string site;
    std::string external_service_id;
    std::string listing_ref;
    std::vector<std::string> destinations;  ///< destination ids
};

class RoutingTable {
   public:
    /// Throws ConfigError if a route names an unknown destination, names neither site nor listing, or
    /// repeats another route's match.
    RoutingTable(std::vector<Destination> destinations, std::vector<Route> routes);

    /// The destinations for this referral (empty = unrouted), in configuration order.
    [[nodiscard]] std::vector<const Destination*> resolve(std::string_view site,
                                                          std::string_view external_service_id,
                                                          std::string_view listing_ref) const;

    [[nodiscard]] const std::vector<Destination>& destinations() const { return destinations_; }

   private:
    [[nodiscard]] std::vector<const Destination*> targets(const Route& route) const;

    std::vector<Destination> destinations_;
    std::vector<Route> routes_;
};

}  // namespace relay::router
