// Ocean's side of the Referral System Launch (ocean-api.md §6): once a referral was sent, Ocean sends the
// clinician's browser to the integration's launch URL with the referral's refs and an opaque launch
// token — a 303 redirect, or an Ocean page that frames the launch ("Use Embedded <iframe>"). The
// browser-facing route is GET /ocean-ui/referrals/{ref}/sent on the API listener. Refs only: no patient
// data ever goes into the launch URL.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "relay/core/config.hpp"

namespace relay::ocean_sim {

/// The names of the launch URL's query parameters ([P]: Ocean does not publish them; the relay's
/// defaults).
struct LaunchParameterNames {
    std::string referral_ref = "referralRef";
    std::string site = "siteNum";
    std::string listing_ref = "listingRef";
    std::string external_service_id = "externalServiceId";
    std::string launch_token = "launch";
};

struct LaunchLinkConfig {
    std::string url;  ///< the integration's Base launch URL
    enum class Mode { kRedirect, kIframe } mode = Mode::kRedirect;
    LaunchParameterNames parameters;
    /// Sent instead of the referral's listing ref / External Service ID (a misconfigured integration).
    std::optional<std::string> listing_ref;
    std::optional<std::string> external_service_id;
};

/// The referral's refs that go into the launch URL.
struct LaunchReferral {
    std::string ref;
    std::string site;
    std::string listing_ref;
    std::string external_service_id;  ///< "" = none: the parameter is left out
};

/// Reads the `launch` section; throws ConfigError naming the key.
LaunchLinkConfig read_launch_link_config(ConfigReader::Node node);

/// The launch URL for `referral` with Ocean's opaque `launch_token`, every value percent-encoded.
std::string launch_url(const LaunchLinkConfig& config,
                       const LaunchReferral& referral,
                       std::string_view launch_token);

/// Ocean's "Referral sent" page framing `url` in `<iframe id="launch">`.
std::string referral_sent_page(std::string_view referral_ref, std::string_view url);

/// A fresh opaque launch token: 16 random bytes, base64url.
std::string new_launch_token();

/// RFC 3986 percent-encoding of a query component (unreserved characters are kept).
std::string query_escape(std::string_view text);
}  // namespace relay::ocean_sim
