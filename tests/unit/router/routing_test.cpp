#include "routing.hpp"

#include <gtest/gtest.h>

#include "relay/core/config.hpp"

namespace relay::router {
namespace {

using transform::Format;

std::vector<Destination> destinations() {
    return {{"intake", Format::kFhirR4},
            {"msk", Format::kHubJson},
            {"archive", Format::kOceanFhir},
            {"emr", Format::kOpenApi}};
}

std::vector<std::string> ids(const std::vector<const Destination*>& found) {
    std::vector<std::string> out;
    for (const auto* d : found) out.push_back(d->id);
    return out;
}

TEST(RoutingTable, MostSpecificRuleWins) {
    const RoutingTable table(destinations(),
                             {{"1234", "MSK", "", {"msk", "archive"}},
                              {"1234", "", "listing-9", {"emr"}},
                              {"", "", "listing-9", {"archive"}},
                              {"1234", "", "", {"intake"}}});
    EXPECT_EQ(ids(table.resolve("1234", "MSK", "listing-1")), (std::vector<std::string>{"msk", "archive"}));
    EXPECT_EQ(ids(table.resolve("1234", "MSK", "listing-9")), (std::vector<std::string>{"msk", "archive"}))
        << "site + External Service ID beats the listing ref";
    EXPECT_EQ(ids(table.resolve("1234", "", "listing-9")), (std::vector<std::string>{"emr"}))
        << "a listing rule with the site beats one without";
    EXPECT_EQ(ids(table.resolve("5555", "", "listing-9")), (std::vector<std::string>{"archive"}));
    EXPECT_EQ(ids(table.resolve("1234", "OTHER", "listing-2")), (std::vector<std::string>{"intake"}))
        << "the site's default";
    EXPECT_TRUE(table.resolve("9999", "MSK", "listing-2").empty()) << "unrouted";
}

TEST(RoutingTable, RejectsBadRoutesNamingThem) {
    auto message = [](std::vector<Route> routes) {
        try {
            RoutingTable table(destinations(), std::move(routes));
        } catch (const ConfigError& e) {
            return std::string(e.what());
        }
        return std::string("accepted");
    };
    EXPECT_NE(message({{"1234", "", "", {"nowhere"}}}).find("'nowhere' is not a configured destination"),
              std::string::npos);
    EXPECT_NE(message({{"", "", "", {"intake"}}}).find("routes[0]: a route needs a site or a listing_ref"),
              std::string::npos);
    EXPECT_NE(message({{"", "MSK", "", {"intake"}}}).find("add site"), std::string::npos);
    EXPECT_NE(message({{"1", "", "", {"intake"}}, {"1", "", "", {"msk"}}}).find("routes[1]: another route"),
              std::string::npos);
    EXPECT_NE(message({{"1", "", "", {}}}).find("at least one"), std::string::npos);
    EXPECT_EQ(message({{"1", "", "", {"intake"}}}), "accepted");
}

}  // namespace
}  // namespace relay::router
