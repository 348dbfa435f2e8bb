#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "generator.hpp"
#include "observations.hpp"
#include "referral_state.hpp"
#include "relay/core/secret.hpp"
#include "relay/http/async_client.hpp"
#include "relay/http/oauth_client.hpp"

namespace relay::ocean_sim {

/// When Ocean tries a webhook again after a non-2xx answer: "several attempts in the first hour, then
/// hourly, for up to 96 hours" (ocean-api.md §3.9, §8). The exact first-hour times are not public [P]:
/// 1, 5, 15 and 30 minutes after the first attempt, then every hour. `time_scale` compresses the whole
/// schedule for tests (0.001 turns an hour into 3.6 s).
struct RetrySchedule {
    std::vector<std::chrono::milliseconds> first_hour{
        std::chrono::minutes(1), std::chrono::minutes(5), std::chrono::minutes(15), std::chrono::minutes(30)};
    std::chrono::milliseconds then_every{std::chrono::hours(1)};
    std::chrono::milliseconds give_up_after{std::chrono::hours(96)};
    double time_scale = 1.0;

    /// Time from the first attempt to attempt `attempt` (2, 3, ...), scaled; nullopt = Ocean gives up.
    [[nodiscard]] std::optional<std::chrono::milliseconds> offset_of_attempt(int attempt) const;
};

/// How the simulator authenticates to the Request URL, one of the schemes an Ocean admin can pick.
struct WebhookAuth {
    std::string scheme = "none";  ///< none | basic | bearer | api_key | oauth2
    std::string username;
    Secret password;
    Secret token;
    std::string header = "x-api-key";
    Secret key;
    std::optional<http::OAuthClientConfig>
        oauth;                            ///< scheme oauth2: Ocean posts id and secret as form fields
    std::optional<Secret> signature_key;  ///< optional Standard Webhooks signature (tests, hub systems)
};

/// A site and listing for plans that do not name their own.
inline ReferralSpec default_base() {
    ReferralSpec spec;
    spec.site_number = "1234";
    spec.listing_ref = "ocean_sim_listing_10000001";
    return spec;
}

/// What to send: `count` referrals (0 = until stopped) built by the generator from `seed`, at `rate`
/// per second (0 = as fast as `concurrency` allows), plus Ocean's repeats in the given shares.
struct WebhookPlan {
    std::string target_url;
    WebhookAuth auth;
    std::uint64_t count = 10;
    double rate = 0;
    int concurrency = 4;
    std::uint64_t seed = 1;
    ReferralSpec base = default_base();  ///< site, listing, external service id, host, attachment size...
    double v0_10_share = 0;              ///< share of referrals in the v0.10.0 dialect
    double duplicate_share = 0;          ///< the same body sent again (a plain duplicate)
    double resend_new_share = 0;         ///< "resend as new referral"
    double resend_update_share = 0;      ///< "resend as updated referral"
    RetrySchedule retry;
};

/// Ocean's webhook sender: posts generated referral bundles to the Request URL with the configured
/// auth, retries every non-2xx on Ocean's schedule, and records every attempt in `observations`.
class WebhookSender {
   public:
    /// Throws ConfigError for a bad target URL.
    WebhookSender(boost::asio::any_io_executor executor, WebhookPlan plan, Observations& observations);

    /// Runs until every planned message was delivered or given up (or stop() was called). Spawn it on
    /// executor(): the sender's bookkeeping lives on that strand.
    boost::asio::awaitable<void> run();
    [[nodiscard]] const boost::asio::any_io_executor& executor() const { return executor_; }
    /// Ends the run: no new messages, and messages waiting for a retry stop waiting (they are
    /// recorded as given up). Safe from any thread.
    void stop();

    /// Ocean's view of what was sent: each delivered referral is recorded there, so the simulated
    /// Ocean API accepts updates for it. Set before run().
    void record_into(ReferralState* state) { state_ = state; }
    /// Called on executor() each time Ocean's webhook for a new referral (an original, not a repeat) was
    /// answered 2xx, with its ref: the Open API webhook side notifies about referrals Ocean has. Set
    /// before run().
    void on_acknowledged(std::function<void(const std::string& referral_ref)> hook) {
        on_acknowledged_ = std::move(hook);
    }
    /// Ocean's echo: after it applied an update, Ocean sends notify-update-service-request for the
    /// referral (ocean-api.md §3.5), carrying the Task status and appointments Ocean now holds (read
    /// from the state given to record_into). Spawn on executor(). Unknown refs are ignored.
    boost::asio::awaitable<void> echo(std::string referral_ref);

    struct Message;

   private:
    boost::asio::awaitable<void> worker();
    /// True when the message was answered 2xx.
    boost::asio::awaitable<bool> deliver(const Message& message);

    boost::asio::any_io_executor executor_;
    WebhookPlan plan_;
    Observations& observations_;
    http::Url target_;
    http::AsyncClient client_;
    std::unique_ptr<http::OAuthTokenClient> tokens_;
    std::atomic<std::uint64_t> next_{0};
    std::atomic<bool> stopped_{false};
    ReferralState* state_ = nullptr;
    std::function<void(const std::string&)> on_acknowledged_;
    std::map<std::string, ReferralSpec> sent_specs_;  // by referral ref; touched only on the strand
    std::set<boost::asio::steady_timer*> waiting_;    // retry waits in progress; touched only on the strand
    std::chrono::steady_clock::time_point started_{};
};

}  // namespace relay::ocean_sim
