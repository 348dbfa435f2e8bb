#include "webhooks.hpp"

#include <fmt/format.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/verb.hpp>
#include <random>

#include "relay/auth/webhook_signature.hpp"
#include "relay/core/config.hpp"
#include "relay/core/encoding.hpp"
#include "relay/core/log.hpp"
#include "relay/core/time.hpp"

namespace relay::ocean_sim {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using Clock = std::chrono::steady_clock;

struct WebhookSender::Message {
    std::string variant;
    GeneratedReferral referral;
};

std::optional<std::chrono::milliseconds> RetrySchedule::offset_of_attempt(int attempt) const {
    if (attempt < 2) return std::chrono::milliseconds(0);
    const auto k = static_cast<std::size_t>(attempt - 2);
    std::chrono::milliseconds offset =
        k < first_hour.size() ? first_hour[k] : then_every * static_cast<long>(k - first_hour.size() + 1);
    if (offset > give_up_after) return std::nullopt;
    return std::chrono::milliseconds(
        static_cast<long long>(static_cast<double>(offset.count()) * time_scale));
}

WebhookSender::WebhookSender(asio::any_io_executor executor, WebhookPlan plan, Observations& observations)
    // One strand for every worker: the simulator's bookkeeping stays single-threaded, its I/O concurrent.
    : executor_(asio::make_strand(executor)),
      plan_(std::move(plan)),
      observations_(observations),
      client_(executor_) {
    auto target = http::Url::parse(plan_.target_url);
    if (!target) throw ConfigError("webhooks.target_url: not an http(s) URL");
    target_ = *target;
    if (plan_.auth.scheme == "oauth2") {
        if (!plan_.auth.oauth)
            throw ConfigError("webhooks.auth: oauth2 needs token_url, client_id and client_secret");
        tokens_ = std::make_unique<http::OAuthTokenClient>(client_, *plan_.auth.oauth);
    }
    if (plan_.concurrency < 1) plan_.concurrency = 1;
    try {
        ReferralSpec probe = plan_.base;
        probe.request_url = plan_.target_url;
        (void)generate(probe);  // surfaces a missing site or listing now, not in every worker
    } catch (const std::invalid_argument& e) {
        throw ConfigError(std::string("webhooks: ") + e.what());
    }
}

void WebhookSender::stop() {
    stopped_.store(true);
    asio::post(executor_, [this] {
        for (auto* timer : waiting_) timer->cancel();
    });
}

asio::awaitable<void> WebhookSender::run() {
    started_ = Clock::now();
    // Workers run on the strand; a timer that never fires by itself is cancelled by the last one to end.
    auto remaining = std::make_shared<int>(plan_.concurrency);
    asio::steady_timer all_done(executor_, Clock::time_point::max());
    for (int i = 0; i < plan_.concurrency; ++i) {
        asio::co_spawn(executor_, worker(), [remaining, &all_done](std::exception_ptr e) {
            if (e) {
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& ex) {
                    log::error("webhook worker failed", {{"error", ex.what()}});
                }
            }
            if (--*remaining == 0) all_done.cancel();
        });
    }
    co_await all_done.async_wait(asio::as_tuple(asio::use_awaitable));
}

asio::awaitable<void> WebhookSender::worker() {
    asio::steady_timer timer(executor_);
    for (;;) {
        if (stopped_.load()) co_return;
        const std::uint64_t i = next_.fetch_add(1);
        if (plan_.count != 0 && i >= plan_.count) co_return;
        if (plan_.rate > 0) {
            timer.expires_at(started_ +
                             std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(static_cast<double>(i) / plan_.rate)));
            co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        // Everything about message i follows from (seed, i): runs are reproducible.
        std::mt19937_64 rng(plan_.seed * 0x9E3779B97F4A7C15ULL + i);
        std::uniform_real_distribution<double> unit(0.0, 1.0);
        ReferralSpec spec = plan_.base;
        spec.seed = rng();
        spec.dialect = unit(rng) < plan_.v0_10_share ? Dialect::kV0_10 : Dialect::kV0_11;
        spec.request_url = plan_.target_url;
        const double duplicate = unit(rng), resend_new = unit(rng), resend_update = unit(rng);

        // Named messages only: GCC 12 destroys a temporary bound to a co_await's argument twice.
        const Message original{"original", generate(spec)};
        sent_specs_[original.referral.referral_ref] = spec;
        if (state_ != nullptr)
            state_->record_sent(
                original.referral, spec.listing_ref, spec.site_number, spec.external_service_id);
        const bool acknowledged = co_await deliver(original);
        if (acknowledged && on_acknowledged_) on_acknowledged_(original.referral.referral_ref);
        if (duplicate < plan_.duplicate_share) {
            const Message again{"duplicate", original.referral};
            co_await deliver(again);
        }
        if (resend_new < plan_.resend_new_share) {
            const Message resent{"resend_new", generate(resend_as_new(spec))};
            co_await deliver(resent);
        }
        if (resend_update < plan_.resend_update_share) {
            const Message updated{"resend_update", generate(resend_as_update(spec))};
            co_await deliver(updated);
        }
    }
}

asio::awaitable<void> WebhookSender::echo(std::string referral_ref) {
    const auto it = sent_specs_.find(referral_ref);
    if (it == sent_specs_.end()) co_return;
    ReferralSpec update = resend_as_update(it->second);
    // The echo reflects the change Ocean applied: the receiver's Task status and appointments.
    if (state_ != nullptr) {
        if (const auto view = state_->find(referral_ref)) update.receiver_progress = receiver_progress(*view);
    }
    it->second = update;  // the next echo is a later message about the same referral
    const Message echoed{"echo", generate(update)};
    co_await deliver(echoed);
}

asio::awaitable<bool> WebhookSender::deliver(const Message& message) {
    const auto first_attempt = Clock::now();
    asio::steady_timer timer(executor_);
    bool token_refreshed = false;
    for (int attempt = 1;;) {
        Observation o;
        o.variant = message.variant;
        o.referral_ref = message.referral.referral_ref;
        o.event = message.referral.event;
        o.dialect = to_string(message.referral.dialect);
        o.attempt = attempt;

        http::ClientRequest request{bhttp::verb::post, "/", 11};
        request.set(bhttp::field::content_type, "application/fhir+json");
        request.set(bhttp::field::user_agent, "ocean-sim");
        request.body() = message.referral.body;
        const auto& auth = plan_.auth;
        std::optional<Error> auth_error;
        if (auth.scheme == "basic") {
            request.set(bhttp::field::authorization,
                        "Basic " + base64_encode(auth.username + ":" + std::string(auth.password.reveal())));
        } else if (auth.scheme == "bearer") {
            request.set(bhttp::field::authorization, "Bearer " + std::string(auth.token.reveal()));
        } else if (auth.scheme == "api_key") {
            request.set(auth.header, std::string(auth.key.reveal()));
        } else if (auth.scheme == "oauth2") {
            auto token = co_await tokens_->token();
            if (auto* error = std::get_if<Error>(&token)) {
                auth_error = *error;
            } else {
                request.set(bhttp::field::authorization, "Bearer " + std::get<std::string>(token));
            }
        }
        if (auth.signature_key) {
            const std::string id = fmt::format("{}-{}", message.referral.message_header_id, attempt);
            const std::string ts = std::to_string(unix_seconds(system_now()));
            request.set("webhook-id", id);
            request.set("webhook-timestamp", ts);
            request.set("webhook-signature",
                        auth::sign_webhook(auth.signature_key->reveal(), id, ts, request.body()));
        }

        if (auth_error) {
            o.error = "token: " + auth_error->message;
        } else {
            http::ClientResult result = co_await client_.send(target_, std::move(request));
            if (result.ok()) {
                o.status = result.response->result_int();
                o.message_id = std::string((*result.response)["X-Relay-Message-Id"]);
            } else {
                o.error = std::string(to_string(result.error.kind)) + ": " + result.error.message;
            }
        }
        if (o.status >= 200 && o.status < 300) {
            o.outcome = "delivered";
            observations_.record(o);
            co_return true;
        }
        if (o.status == 401 && tokens_ && !token_refreshed) {
            // An expired or revoked token: fetch a new one and try again at once, once.
            token_refreshed = true;
            tokens_->invalidate();
            o.outcome = "retrying";
            observations_.record(o);
            ++attempt;
            continue;
        }
        token_refreshed = false;
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
            o.message_id.clear();
            observations_.record(o);
            co_return false;
        }
        ++attempt;
    }
}

}  // namespace relay::ocean_sim
