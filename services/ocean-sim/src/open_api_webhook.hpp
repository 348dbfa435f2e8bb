// Ocean's Open API / Patient Engagement webhook side, simulated (ocean-api.md §4.2, §5.1): a validation
// call whose body carries a `challenge` the endpoint must echo, then notifications that carry refs only
// ("notify, then pull") — Patient Engagement's `notify-patient-note-added` /
// `notify-patient-message-forms-completion` (the patient ref, with customProperties.oceanSessionId) and
// the Open eReferral `notify-referral-new` (the referral ref). The simulator's patients are the referrals
// it sent, so each notification names a referral whose FHIR webhook was already acknowledged; its Open API
// (OceanApi) then serves what the notification names.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <set>
#include <string>

#include "observations.hpp"
#include "relay/core/secret.hpp"
#include "relay/http/async_client.hpp"
#include "webhooks.hpp"

namespace relay::ocean_sim {

/// What to send to an integration's Open API webhook endpoint.
struct OpenApiWebhookPlan {
    std::string url;  ///< the Webhook Endpoint without the key, e.g. http://host/ocean/clinic/openapi/webhook
    std::optional<Secret> key;        ///< the URL's secret key (none: the URL is used as it is)
    std::string key_in = "query";     ///< query (`?k=`) | header | path (the URL's last segment)
    std::string key_parameter = "k";  ///< key_in: query
    std::string key_header = "x-ocean-webhook-key";  ///< key_in: header
    std::string site_number = "1234";                ///< the notifications' siteNum
    std::uint64_t patient_notifications = 0;         ///< Patient Engagement notifications, one per referral
    std::uint64_t referral_notifications = 0;        ///< Open eReferral notify-referral-new, one per referral
    bool challenge = true;   ///< validate the endpoint (challenge echo) before the first notification
    std::uint64_t seed = 1;  ///< session ids and completion sources follow from it
    RetrySchedule retry;     ///< non-2xx answers are retried on Ocean's schedule, as the FHIR webhooks are
    /// This long after the API issued an eForm link (POST /svc/v1/patients/{ptRef}/formLinks), its
    /// patient completes the forms and `notify-patient-message-forms-completion` is sent about it.
    /// Absent: links are never completed by themselves.
    std::optional<std::chrono::milliseconds> complete_links_after;
};

/// One notification to send (ids only).
struct OpenApiNotification {
    std::uint64_t index = 0;  ///< 0 .. patient + referral notifications - 1; Patient Engagement first
    std::string type;
    std::string ref;                ///< patient ref (= a referral ref the simulator sent) or referral ref
    std::string session_id;         ///< Patient Engagement only
    std::string completion_source;  ///< notify-patient-note-added only: PORTAL | PATIENT | TABLET
};

/// The notification's JSON body, in Ocean's envelope (§4.2).
std::string notification_body(const OpenApiNotification& notification, std::string_view site_number);

/// Notification `index` of `plan`, about `ref`: Patient Engagement for the first `patient_notifications`
/// (note-added and forms-completion alternating), then `notify-referral-new`. Deterministic for a seed.
OpenApiNotification make_notification(const OpenApiWebhookPlan& plan, std::uint64_t index, std::string ref);

/// Sends the plan's notifications, one at a time and in order, each about a referral whose FHIR webhook
/// Ocean had delivered: notification i is about the i-th referral acknowledged (cycling through the
/// plan's referrals when there are more notifications than referrals). Before the first one it sends the
/// challenge; an endpoint that answers 2xx without echoing it makes the integration invalid (logged and
/// counted; the notifications are then not sent and recorded as given up), as Ocean marks it. Every
/// attempt is recorded in `observations` (kinds open_api_challenge / open_api_notification).
class OpenApiNotifier {
   public:
    /// `executor` must be the WebhookSender's (its strand): referral_acknowledged is called there.
    /// `referrals_planned`: the sender's count (0 = until stopped). Throws ConfigError for a bad URL.
    OpenApiNotifier(boost::asio::any_io_executor executor,
                    OpenApiWebhookPlan plan,
                    std::uint64_t referrals_planned,
                    Observations& observations);

    /// On the executor: Ocean's webhook for the referral `ref` (an original) was acknowledged.
    void referral_acknowledged(const std::string& ref);
    /// On the executor: no more referrals will be acknowledged; run() ends once its queue is sent.
    void no_more_referrals();
    /// Sends what is queued until every planned notification was sent or given up, or no_more_referrals()
    /// was called and the queue is empty, or stop(). Spawn on the executor.
    boost::asio::awaitable<void> run();
    /// Completes once run() has ended (at once if it has). Spawn on the executor.
    boost::asio::awaitable<void> finished();
    /// Ends the run: retries stop waiting and what is queued is recorded as given up. Safe from any thread.
    void stop();
    /// On the executor: the patient `patient_ref` completed the forms of an eForm link Ocean issued (its
    /// session `session_id`): sends `notify-patient-message-forms-completion` about it, beside the plan
    /// and whether or not run() has ended (challenge first if none was made yet; retried like the plan's).
    void forms_completed(const std::string& patient_ref, const std::string& session_id);

   private:
    enum class Validation { kPending, kValidating, kPassed, kInvalid };
    /// The challenge, retried on non-2xx; kInvalid when a 2xx answer does not echo it.
    boost::asio::awaitable<Validation> validate();
    /// The challenge once, for the plan and the completions alike: a caller that finds it under way
    /// waits for its outcome.
    boost::asio::awaitable<Validation> ensure_validated();
    /// Sends the completions queued by forms_completed, one at a time.
    boost::asio::awaitable<void> send_completions();
    /// Records a notification that is not sent (integration invalid, or stopped) as given up.
    void give_up(const OpenApiNotification& notification, std::string error);
    /// One notification with retries; true when it was answered 2xx.
    boost::asio::awaitable<bool> deliver(const OpenApiNotification& notification);
    /// The endpoint's target with the key as configured, and the request with its headers.
    http::ClientRequest request_for(const std::string& body) const;
    void wake();

    boost::asio::any_io_executor executor_;
    OpenApiWebhookPlan plan_;
    std::uint64_t referrals_planned_;
    Observations& observations_;
    http::Url target_;
    http::AsyncClient client_;
    // Touched only on the executor:
    std::uint64_t acknowledged_ = 0;  ///< referrals acknowledged so far
    std::uint64_t queued_ = 0;        ///< notifications queued so far
    std::deque<OpenApiNotification> queue_;
    bool no_more_ = false;
    bool ended_ = false;
    Validation validation_ = Validation::kPending;
    std::deque<OpenApiNotification> completions_;  ///< from forms_completed, not part of the plan
    bool sending_completions_ = false;
    boost::asio::steady_timer wake_;
    boost::asio::steady_timer ended_signal_;
    boost::asio::steady_timer validated_signal_;
    std::set<boost::asio::steady_timer*> waiting_;
    std::atomic<bool> stopped_{false};
};

}  // namespace relay::ocean_sim
