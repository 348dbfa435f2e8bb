#include "open_api_webhook.hpp"

#include <fmt/format.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>
#include <cctype>
#include <random>

#include "relay/core/config.hpp"
#include "relay/core/log.hpp"
#include "relay/core/time.hpp"

namespace relay::ocean_sim {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::string_view kNoteAdded = "notify-patient-note-added";
constexpr std::string_view kFormsCompletion = "notify-patient-message-forms-completion";
constexpr std::string_view kReferralNew = "notify-referral-new";

std::string percent_encode(std::string_view text) {
    std::string out;
    for (const unsigned char c : text) {
        if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += fmt::format("%{:02X}", c);
        }
    }
    return out;
}

/// A value the endpoint cannot guess: 32 hex digits.
std::string random_challenge() {
    std::random_device device;
    std::uniform_int_distribution<unsigned> digit(0, 15);
    std::string out;
    for (int i = 0; i < 32; ++i) out += "0123456789abcdef"[digit(device)];
    return out;
}

/// Ocean Labs answers `{"challenge": "<value>"}` (§4.2); a plain-text echo of the value is taken too.
bool echoes(std::string_view body, std::string_view challenge) {
    boost::system::error_code ec;
    const json::value answer = json::parse(body, ec);
    if (!ec && answer.is_object()) {
        const auto* value = answer.as_object().if_contains("challenge");
        return value != nullptr && value->is_string() && value->as_string() == challenge;
    }
    while (!body.empty() && (body.back() == '\n' || body.back() == '\r' || body.back() == ' '))
        body.remove_suffix(1);
    return body == challenge;
}

/// Patient Engagement notifications carry a session id; Open eReferral ones do not.
const char* variant_of(const OpenApiNotification& n) {
    return n.session_id.empty() ? "open_ereferral" : "patient_engagement";
}

}  // namespace

std::string notification_body(const OpenApiNotification& n, std::string_view site_number) {
    json::object body{{"ref", n.ref},
                      {"siteNum", site_number},
                      {"type", n.type},
                      {"changeList", nullptr},
                      {"user", nullptr},
                      {"customProperties", nullptr}};
    if (!n.session_id.empty()) {
        json::object properties;
        if (!n.completion_source.empty()) properties["noteCompletionSource"] = n.completion_source;
        properties["oceanSessionId"] = n.session_id;
        body["customProperties"] = std::move(properties);
    }
    return json::serialize(body);
}

OpenApiNotification make_notification(const OpenApiWebhookPlan& plan, std::uint64_t index, std::string ref) {
    OpenApiNotification n;
    n.index = index;
    n.ref = std::move(ref);
    if (index >= plan.patient_notifications) {
        n.type = kReferralNew;
        return n;
    }
    std::mt19937_64 rng(plan.seed * 0x9E3779B97F4A7C15ULL + 0x0CEA17E5ULL + index);
    // ocean-api.md §1: "<epoch ms>t<digits>", e.g. 1759442545187t415674; unique per run, so a second run
    // against the same relay is not taken for Ocean's own repeats.
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(system_now().time_since_epoch()).count();
    n.session_id = fmt::format("{}t{:06}", ms + static_cast<long long>(index), rng() % 1'000'000);
    if (index % 2 == 0) {
        n.type = kNoteAdded;
        static constexpr std::array<std::string_view, 3> kSources = {"PORTAL", "PATIENT", "TABLET"};
        n.completion_source = kSources[(index / 2) % kSources.size()];
    } else {
        n.type = kFormsCompletion;
    }
    return n;
}

OpenApiNotifier::OpenApiNotifier(asio::any_io_executor executor,
                                 OpenApiWebhookPlan plan,
                                 std::uint64_t referrals_planned,
                                 Observations& observations)
    : executor_(std::move(executor)),
      plan_(std::move(plan)),
      referrals_planned_(referrals_planned),
      observations_(observations),
      client_(executor_),
      wake_(executor_, Clock::time_point::max()),
      ended_signal_(executor_, Clock::time_point::max()),
      validated_signal_(executor_, Clock::time_point::max()) {
    auto target = http::Url::parse(plan_.url);
    if (!target) throw ConfigError("open_api.url: not an http(s) URL");
    if (plan_.key && plan_.key_in == "path") {
        if (!target->target.empty() && target->target.back() != '/') target->target += '/';
        target->target += percent_encode(plan_.key->reveal());
    } else if (plan_.key && plan_.key_in == "query") {
        target->target += target->target.find('?') == std::string::npos ? '?' : '&';
        target->target += percent_encode(plan_.key_parameter) + "=" + percent_encode(plan_.key->reveal());
    }
    target_ = std::move(*target);
    observations_.enable_open_api();
}

void OpenApiNotifier::wake() {
    wake_.cancel();
}

void OpenApiNotifier::referral_acknowledged(const std::string& ref) {
    const std::uint64_t total = plan_.patient_notifications + plan_.referral_notifications;
    const std::uint64_t a = acknowledged_++;
    // Notification i is about referral i, or i mod the referrals planned when there are fewer.
    for (std::uint64_t i = a; i < total; i += referrals_planned_) {
        queue_.push_back(make_notification(plan_, i, ref));
        ++queued_;
        if (referrals_planned_ == 0) break;
    }
    wake();
}

void OpenApiNotifier::no_more_referrals() {
    no_more_ = true;
    wake();
}

void OpenApiNotifier::stop() {
    stopped_.store(true);
    asio::post(executor_, [this] {
        wake_.cancel();
        for (auto* timer : waiting_) timer->cancel();
    });
}

asio::awaitable<void> OpenApiNotifier::finished() {
    if (ended_) co_return;
    co_await ended_signal_.async_wait(asio::as_tuple(asio::use_awaitable));
}

asio::awaitable<void> OpenApiNotifier::run() {
    const std::uint64_t total = plan_.patient_notifications + plan_.referral_notifications;
    std::uint64_t done = 0;
    while (done < total) {
        if (stopped_.load()) break;
        if (queue_.empty()) {
            if (no_more_) break;
            wake_.expires_at(Clock::time_point::max());
            co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));
            continue;
        }
        const OpenApiNotification next = queue_.front();
        queue_.pop_front();
        ++done;
        const Validation validation = co_await ensure_validated();
        if (validation == Validation::kPassed) {
            (void)co_await deliver(next);
            continue;
        }
        // Ocean does not notify an integration it marked invalid, or after it was told to stop.
        give_up(next, stopped_.load() ? "stopped" : "integration invalid: the challenge was not echoed");
    }
    // What is still queued (stopped) is given up; notifications whose referral was never acknowledged
    // were never due.
    for (const auto& left : queue_) give_up(left, "stopped");
    queue_.clear();
    if (queued_ < total && !stopped_.load())
        log::warn("Open API notifications not sent: too few referrals were acknowledged",
                  {{"planned", static_cast<long long>(total)}, {"queued", static_cast<long long>(queued_)}});
    ended_ = true;
    ended_signal_.cancel();
}

void OpenApiNotifier::give_up(const OpenApiNotification& n, std::string error) {
    Observation o;
    o.kind = "open_api_notification";
    o.variant = variant_of(n);
    o.referral_ref = n.ref;
    o.event = n.type;
    o.session_id = n.session_id;
    o.attempt = 0;
    o.attempted = false;
    o.outcome = "gave_up";
    o.error = std::move(error);
    observations_.record(o);
}

asio::awaitable<OpenApiNotifier::Validation> OpenApiNotifier::ensure_validated() {
    constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
    while (validation_ == Validation::kValidating) co_await validated_signal_.async_wait(kNoThrow);
    if (validation_ == Validation::kPending) {
        validation_ = Validation::kValidating;
        Validation outcome = Validation::kPassed;
        if (plan_.challenge) outcome = co_await validate();
        validation_ = outcome;
        validated_signal_.cancel();
    }
    co_return validation_;
}

void OpenApiNotifier::forms_completed(const std::string& patient_ref, const std::string& session_id) {
    OpenApiNotification n;
    n.ref = patient_ref;
    n.type = kFormsCompletion;
    n.session_id = session_id;
    completions_.push_back(std::move(n));
    if (sending_completions_) return;
    sending_completions_ = true;
    asio::co_spawn(executor_, send_completions(), asio::detached);
}

asio::awaitable<void> OpenApiNotifier::send_completions() {
    while (!completions_.empty()) {
        const OpenApiNotification next = completions_.front();
        completions_.pop_front();
        if (stopped_.load()) {
            give_up(next, "stopped");
            continue;
        }
        const Validation validation = co_await ensure_validated();
        if (validation == Validation::kPassed) {
            (void)co_await deliver(next);
        } else {
            give_up(next, stopped_.load() ? "stopped" : "integration invalid: the challenge was not echoed");
        }
    }
    sending_completions_ = false;
}

http::ClientRequest OpenApiNotifier::request_for(const std::string& body) const {
    http::ClientRequest request{bhttp::verb::post, "/", 11};
    request.set(bhttp::field::content_type, "application/json");
    request.set(bhttp::field::user_agent, "ocean-sim");
    if (plan_.key && plan_.key_in == "header")
        request.set(plan_.key_header, std::string(plan_.key->reveal()));
    request.body() = body;
    return request;
}

asio::awaitable<OpenApiNotifier::Validation> OpenApiNotifier::validate() {
    const std::string challenge = random_challenge();
    const std::string body = json::serialize(json::object{{"challenge", challenge}});
    const auto first_attempt = Clock::now();
    asio::steady_timer timer(executor_);
    for (int attempt = 1;; ++attempt) {
        Observation o;
        o.kind = "open_api_challenge";
        o.variant = "challenge";
        o.attempt = attempt;
        http::ClientRequest request = request_for(body);
        http::ClientResult result = co_await client_.send(target_, std::move(request));
        if (result.ok()) {
            o.status = result.response->result_int();
        } else {
            o.error = std::string(to_string(result.error.kind)) + ": " + result.error.message;
        }
        if (o.status >= 200 && o.status < 300) {
            if (echoes(result.response->body(), challenge)) {
                o.outcome = "delivered";
                observations_.record(o);
                log::info("Open API webhook validated: the challenge was echoed", {{"attempt", attempt}});
                co_return Validation::kPassed;
            }
            o.outcome = "invalid";
            o.error = "the answer does not echo the challenge";
            observations_.record(o);
            log::warn(
                "Open API webhook invalid: a 2xx answer that does not echo the challenge (Ocean marks "
                "the integration invalid and notifies nothing)",
                {{"status", o.status}});
            co_return Validation::kInvalid;
        }
        const auto next = plan_.retry.offset_of_attempt(attempt + 1);
        o.outcome = next && !stopped_.load() ? "retrying" : "gave_up";
        observations_.record(o);
        if (o.outcome == "gave_up") {
            log::warn("Open API webhook invalid: the challenge was never answered with a 2xx",
                      {{"status", o.status}, {"attempts", attempt}});
            co_return Validation::kInvalid;
        }
        timer.expires_at(first_attempt + *next);
        waiting_.insert(&timer);
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        waiting_.erase(&timer);
        if (stopped_.load()) co_return Validation::kInvalid;
    }
}

asio::awaitable<bool> OpenApiNotifier::deliver(const OpenApiNotification& n) {
    const std::string body = notification_body(n, plan_.site_number);
    const auto first_attempt = Clock::now();
    asio::steady_timer timer(executor_);
    for (int attempt = 1;; ++attempt) {
        Observation o;
        o.kind = "open_api_notification";
        o.variant = variant_of(n);
        o.referral_ref = n.ref;
        o.event = n.type;
        o.session_id = n.session_id;
        o.attempt = attempt;
        http::ClientRequest request = request_for(body);
        http::ClientResult result = co_await client_.send(target_, std::move(request));
        if (result.ok()) {
            o.status = result.response->result_int();
        } else {
            o.error = std::string(to_string(result.error.kind)) + ": " + result.error.message;
        }
        if (o.status >= 200 && o.status < 300) {
            o.outcome = "delivered";
            observations_.record(o);
            co_return true;
        }
        const auto next = plan_.retry.offset_of_attempt(attempt + 1);
        o.outcome = next && !stopped_.load() ? "retrying" : "gave_up";
        observations_.record(o);
        if (o.outcome == "gave_up") co_return false;
        timer.expires_at(first_attempt + *next);
        waiting_.insert(&timer);
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        waiting_.erase(&timer);
        if (stopped_.load()) {
            o.attempt = attempt + 1;
            o.attempted = false;
            o.status = 0;
            o.outcome = "gave_up";
            o.error = "stopped";
            observations_.record(o);
            co_return false;
        }
    }
}

}  // namespace relay::ocean_sim
