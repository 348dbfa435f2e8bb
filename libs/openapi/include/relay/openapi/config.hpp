// Ocean's Open API as the relay reaches it: Ocean's host, the client's timeouts and bounds, the per-site
// circuit breaker and rate limit, and one set of credentials per site (siteNum, Site Key, Site Credential,
// Shared Encryption Key; ocean-api.md §4.1, §7) and/or the site's OAuth2 client for Ocean's FHIR API
// (§3.7.1). Read from the same `ocean` section by every service that calls Ocean.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "relay/core/config.hpp"
#include "relay/core/secret.hpp"
#include "relay/delivery/retry_config.hpp"
#include "relay/http/async_client.hpp"
#include "relay/http/oauth_client.hpp"

namespace relay::openapi {

/// One Ocean site's Open API credentials and its Shared Encryption Key, and/or its OAuth2 client for
/// Ocean's FHIR API. At least one of the two.
struct OpenApiSite {
    std::string site;  ///< siteNum
    bool open_api = false;  ///< the three below are set
    Secret site_key;
    Secret site_credential;
    Secret sek;
    std::optional<http::OAuthClientConfig> oauth;
};

struct OpenApiConfig {
    std::string base_url;  ///< Ocean's host, e.g. https://ocean.cognisantmd.com
    http::Url base;
    http::ClientOptions client;
    /// The documents' client: client's options with the document size bound as the response limit.
    http::ClientOptions documents_client;
    std::vector<OpenApiSite> sites;
    /// Per site, every call to Ocean (Open API and documents) passes a circuit breaker and, when set, a
    /// rate limit, as the delivery service's calls to a hub system do.
    delivery::CircuitBreakerConfig breaker;
    std::optional<delivery::RateLimitConfig> rate_limit;
    [[nodiscard]] const OpenApiSite* find(std::string_view site) const;
};

/// True for Ocean's site numbers: 1-16 digits.
bool is_site_number(std::string_view site);

/// Reads an `ocean` section: base_url (required), timeout, connect_timeout, max_response, tls.ca_file,
/// breaker, rate_limit, sites (required; each: site, site_key + site_credential + sek and/or client_id +
/// client_secret [+ token_url, token_auth]). Throws ConfigError naming the key.
OpenApiConfig read_config(ConfigReader::Node node);

}  // namespace relay::openapi
