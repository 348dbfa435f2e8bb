#include "relay/openapi/config.hpp"

#include <fmt/format.h>

#include <set>

namespace relay::openapi {

bool is_site_number(std::string_view site) {
    return !site.empty() && site.size() <= 16 && site.find_first_not_of("0123456789") == std::string_view::npos;
}

OpenApiConfig read_config(ConfigReader::Node node) {
    OpenApiConfig ocean;
    std::string base = node.required_string("base_url");
    while (base.ends_with('/')) base.pop_back();
    const auto url = http::Url::parse(base);
    if (!url || url->target != "/")
        node.fail("base_url", "must be an absolute http:// or https:// URL without a path (Ocean's host)");
    ocean.base_url = base;
    ocean.base = *url;
    ocean.client.request_timeout = node.duration("timeout", std::chrono::seconds(15), std::chrono::milliseconds(100));
    ocean.client.connect_timeout =
        node.duration("connect_timeout", std::chrono::seconds(5), std::chrono::milliseconds(100));
    ocean.client.response_body_limit = node.bytes("max_response", 8ULL << 20, 1024, 1ULL << 30);
    auto tls = node.child("tls");
    if (const auto ca = tls.optional_string("ca_file")) ocean.client.ca_file = *ca;
    ocean.documents_client = ocean.client;
    delivery::CircuitBreakerConfig breaker_defaults;  // 5 failures in a row, or half of 20 calls in a minute
    breaker_defaults.open_duration = std::chrono::seconds(15);
    ocean.breaker = delivery::read_breaker(node, breaker_defaults);
    ocean.rate_limit = delivery::read_rate_limit(node, 20);

    std::set<std::string> seen;
    for (auto& site_node : node.list("sites")) {
        OpenApiSite site;
        site.site = site_node.required_string("site");
        if (!is_site_number(site.site)) site_node.fail("site", "must be Ocean's site number: 1-16 digits");
        if (!seen.insert(site.site).second) site_node.fail("site", fmt::format("'{}' is defined twice", site.site));
        if (site_node.has("site_key") || site_node.has("site_credential") || site_node.has("sek")) {
            site.open_api = true;
            site.site_key = site_node.required_secret("site_key");
            site.site_credential = site_node.required_secret("site_credential");
            site.sek = site_node.required_secret("sek");
        }
        if (site_node.has("client_id")) {
            const std::string token_text = site_node.string("token_url", base + "/svc/oauth2/token");
            const auto token_url = http::Url::parse(token_text);
            if (!token_url) site_node.fail("token_url", "must be an absolute http:// or https:// URL");
            http::OAuthClientConfig oauth{*token_url, site_node.required_string("client_id"),
                                          site_node.required_secret("client_secret")};
            oauth.style = site_node.choice("token_auth", "basic", {"basic", "form"}) == "form"
                              ? http::ClientAuthStyle::kFormFields
                              : http::ClientAuthStyle::kBasicHeader;
            site.oauth = std::move(oauth);
        }
        if (!site.open_api && !site.oauth)
            site_node.fail("site_key",
                           "give the site's Open API credentials (site_key, site_credential, sek), its OAuth2 "
                           "client (client_id, client_secret) for the referral documents, or both");
        ocean.sites.push_back(std::move(site));
    }
    if (ocean.sites.empty()) node.fail("sites", "configure at least one site");
    return ocean;
}


const OpenApiSite* OpenApiConfig::find(std::string_view site) const {
    for (const auto& s : sites)
        if (s.site == site) return &s;
    return nullptr;
}

}  // namespace relay::openapi
