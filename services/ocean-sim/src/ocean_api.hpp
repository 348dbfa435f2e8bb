// Ocean's API side, simulated: the endpoints an integration calls on Ocean (ocean-api.md §3.7, §3.8,
// §4.1-4.4, §7). Receivers get a token, post status/booking/message updates to $process-messages, fetch
// the referral letter and attachments, and read the Open API Referral JSON, its attachments
// (referral_attachments.hpp) and the site's RSA private key (GET /svc/v1/site/privateKey, which unwraps
// the referral's RSA-wrapped one-time key). Updates are checked against the referrals the simulator sent
// (ReferralState) and applied with Ocean's folder rules (§3.6); every update and what became of it is
// logged (updates_json). Integrations also write through the Open API: attachments, messages and Patient
// Engagement eForm links (open_api_writes.hpp).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "launch_link.hpp"
#include "open_api_writes.hpp"
#include "process_messages.hpp"
#include "referral_state.hpp"
#include "relay/auth/token.hpp"
#include "relay/core/secret.hpp"
#include "relay/core/time.hpp"
#include "relay/http/server.hpp"
#include "relay/ocean/rsa.hpp"

namespace relay::ocean_sim {

/// An OAuth client an integration uses against Ocean's token endpoint (§3.7.1).
struct OceanApiClient {
    std::string id;
    Secret secret;
};

/// Open API credentials of one Ocean site (§4.1) and its Shared Encryption Key (§7).
struct OceanApiSite {
    std::string site_num;
    Secret site_key;
    Secret site_credential;
    Secret sek;
    /// The Open API referral carries its one-time key only RSA-wrapped
    /// (`oneTimeKeyEncryptedWithSitePublicKey`; `oneTimeKeyEncryptedWithSiteSEK` is null), so a client
    /// must fetch the site's private key (GET /svc/v1/site/privateKey) to read it. Off by default: the
    /// referral then carries both wraps, as before plus the RSA one.
    bool rsa_only = false;
};

struct OceanApiConfig {
    std::vector<OceanApiClient> clients;
    /// Ocean's real lifetime is not public (§3.7.1) [P]; one hour is the common default.
    std::chrono::seconds token_lifetime{3600};
    Secret signing_key;  ///< HS256 key of the simulator's access tokens
    std::string issuer = "ocean-sim";
    std::vector<OceanApiSite> sites;
    /// Size of each site's RSA key, generated the first time the site's key is needed (a referral GET
    /// or GET /svc/v1/site/privateKey) and kept for the life of the process. [P] Ocean's size is not
    /// public; 2048 is today's floor. Tests may lower it to 1024 for speed.
    std::size_t rsa_key_bits = 2048;
    /// Empty = the system clock. Tests move it to expire tokens.
    std::function<SystemTime()> clock;
    /// The host in the eForm links the simulator issues (`{ocean_host}/intake/patients.html?linkRef=`).
    std::string ocean_host = "https://ocean.cognisantmd.com";
    /// The Referral System Launch Ocean sends a browser to once a referral was sent
    /// (GET /ocean-ui/referrals/{ref}/sent), when configured.
    std::optional<LaunchLinkConfig> launch;
};

/// The audience of the tokens the simulator issues.
inline constexpr std::string_view kOceanApiAudience = "ocean-api";

/// What one applied update changed, for the webhook side to send Ocean's echo
/// (`notify-update-service-request`, §3.5: Ocean echoes the receiver's own API updates).
struct AppliedUpdate {
    std::string referral_ref;
    std::string event;  ///< the receiver's event code
    /// status | reopen | appointment | appointment-cancelled | booking-instructions | communication |
    /// forward | data-correction
    std::vector<std::string> changes;
    Folder folder_before = Folder::kNew;
    Folder folder_after = Folder::kNew;
    std::string status;  ///< Task.status / Appointment.status as sent
    /// §3.5: Ocean sends notify-update-service-request for most actions "except ... sending a
    /// Communication": false when the only change is a message.
    bool echo_update = true;
    std::string forwarded_ref;  ///< the new referral ref of a forward, else empty
};

/// Called after an update changed Ocean's view of a referral (never for ignored, refused or
/// malformed updates, nor for accepted ones that changed nothing). Runs on the HTTP connection's
/// strand after the state lock is released: it must not block (post the echo to the sender's executor).
using AppliedHook = std::function<void(const AppliedUpdate&)>;

/// Called after an eForm link was issued (POST /svc/v1/patients/{ptRef}/formLinks), on the HTTP
/// connection's strand: it must not block (e.g. spawn complete_form_link_after elsewhere).
using LinkIssuedHook = std::function<void(const FormLink&)>;

/// An answer to `request` (its HTTP version) with `body` as `content_type`: what every API handler returns.
http::Response make_response(const http::Request& request,
                             boost::beast::http::status status,
                             std::string_view content_type,
                             std::string body);

class OceanApi {
   public:
    /// `state` must outlive this object. Throws ConfigError when there is no signing key.
    OceanApi(OceanApiConfig config, ReferralState& state);

    /// Set before serving (not synchronised with requests in flight).
    void on_applied(AppliedHook hook) { on_applied_ = std::move(hook); }
    /// Set before serving (not synchronised with requests in flight).
    void on_link_issued(LinkIssuedHook hook) { on_link_issued_ = std::move(hook); }

    /// The coroutine handler; see handler().
    boost::asio::awaitable<http::Response> handle(http::Request& request,
                                                  const http::RequestContext& context);
    /// A relay::http::Handler bound to this object (which must outlive the server).
    http::Handler handler();
    /// The synchronous core of handle(): routes and answers one request.
    http::Response respond(const http::Request& request);

    /// Every received update and its outcome, as JSON (see UpdateLog::to_json).
    [[nodiscard]] std::string updates_json() const { return updates_.to_json(); }
    [[nodiscard]] const UpdateLog& updates() const { return updates_; }
    /// Append every update and its outcome as a JSON line to `path` as well.
    void log_updates_to(const std::string& path) { updates_.write_to(path); }

    /// The attachments, messages and eForm links received through the Open API, and the refusals.
    [[nodiscard]] const OpenApiWrites& writes() const { return writes_; }
    /// As JSON (see OpenApiWrites::to_json): refs, sizes, digests and counts only.
    [[nodiscard]] std::string writes_json() const { return writes_.to_json(); }
    /// The patient of the eForm link with `session_id` completes its forms: from now on the notes GET
    /// for that session serves them. The link, or nullopt if unknown or already completed. Thread-safe.
    std::optional<FormLink> complete_form_link(std::string_view session_id);

   private:
    [[nodiscard]] SystemTime now() const { return config_.clock ? config_.clock() : system_now(); }

    /// What a route's path pattern took from the request target, for its handler.
    struct RouteMatch {
        std::string_view segment;  ///< the path segment in the pattern's first "{}" (decoded)
        std::string_view query;    ///< the target after '?'
        std::string_view second;   ///< the segment in its second "{}", if it has one (decoded)
    };
    /// One endpoint. Another method on a matching path is answered 405.
    struct Route {
        boost::beast::http::verb method;
        /// The decoded path; each "{}" (at most two) stands for one whole non-empty segment.
        std::string_view pattern;
        http::Response (OceanApi::*handle)(const http::Request&, const RouteMatch&);
    };
    /// Every endpoint (ocean_api.cpp); no path matches two patterns.
    static const Route kRoutes[];

    http::Response token(const http::Request& request, const RouteMatch& match);
    http::Response process_messages(const http::Request& request, const RouteMatch& match);
    http::Response letter(const http::Request& request, const RouteMatch& match);
    http::Response binary(const http::Request& request, const RouteMatch& match);
    http::Response open_api_referral(const http::Request& request, const RouteMatch& match);
    http::Response open_api_attachment(const http::Request& request, const RouteMatch& match);
    http::Response patient(const http::Request& request, const RouteMatch& match);
    http::Response patient_notes(const http::Request& request, const RouteMatch& match);
    http::Response naming_system(const http::Request& request, const RouteMatch& match);
    http::Response site_private_key(const http::Request& request, const RouteMatch& match);
    // The Open API writes (defined in open_api_writes.cpp).
    http::Response post_attachment(const http::Request& request, const RouteMatch& match);
    http::Response post_message(const http::Request& request, const RouteMatch& match);
    http::Response post_form_links(const http::Request& request, const RouteMatch& match);
    // The browser sent on to the Referral System Launch (defined in launch_link.cpp).
    http::Response referral_sent(const http::Request& request, const RouteMatch& match);
    /// The site's RSA key pair, generated on first use (thread-safe).
    ocean::Result<ocean::RsaKey> site_rsa_key(const OceanApiSite& site);
    /// The one-time key of the Open API referral `referral_ref`, generated on first use and then the
    /// same for the life of the process (thread-safe): an attachment fetched after the referral must
    /// open with the key that referral's JSON carries.
    ocean::Result<std::string> referral_one_time_key(std::string_view referral_ref);
    /// Logs a $process-messages request that was not applied and answers with its OperationOutcome.
    http::Response refuse_update(const http::Request& request,
                                 UpdateRecord record,
                                 const UpdateRefusal& refusal);
    /// The site whose siteNum / siteKey / siteCredential headers (§4.1) the request carries, or nullptr.
    const OceanApiSite* authenticated_site(const http::Request& request) const;
    /// nullopt when the Bearer token is valid, else the 401 answer.
    std::optional<http::Response> check_bearer(const http::Request& request);

    OceanApiConfig config_;
    ReferralState& state_;
    auth::TokenSigner signer_;
    UpdateLog updates_;
    AppliedHook on_applied_;
    OpenApiWrites writes_;
    LinkIssuedHook on_link_issued_;
    std::mutex rsa_mutex_;
    std::map<std::string, ocean::RsaKey, std::less<>> rsa_keys_;  ///< by site number; guarded by rsa_mutex_
    std::mutex otk_mutex_;
    /// Raw one-time keys by referral ref; guarded by otk_mutex_. Never logged.
    std::map<std::string, std::string, std::less<>> one_time_keys_;
};

/// A minimal valid one-page PDF 1.4 document that shows `title` (xref offsets computed).
std::string minimal_pdf(std::string_view title);

}  // namespace relay::ocean_sim
