#include "decisions.hpp"

#include <fmt/format.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <functional>

#include "relay/core/log.hpp"
#include "relay/core/time.hpp"

namespace relay::pos_sim {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

namespace {

struct Call {
    http::Url url;
    std::string body;
    std::string update_id;
    std::string auth_header;
    std::string auth_value;
    std::string referral_ref;
    std::chrono::milliseconds delay{};
    std::chrono::milliseconds retry_delay{};
    int attempts = 1;
};

bool worth_retrying(int status) {
    return status == 0 || status == 429 || status >= 500;
}

asio::awaitable<void> call_later(std::shared_ptr<http::AsyncClient> client,
                                 Call call,
                                 std::function<void(int, int)> done) {
    asio::steady_timer timer(co_await asio::this_coro::executor, call.delay);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    int status = 0;
    int attempt = 0;
    while (attempt < call.attempts) {
        ++attempt;
        http::ClientRequest request{bhttp::verb::post, call.url.target, 11};
        request.set(bhttp::field::content_type, "application/json");
        request.set("Idempotency-Key", call.update_id);
        if (!call.auth_header.empty()) request.set(call.auth_header, call.auth_value);
        request.body() = call.body;
        http::ClientResult result = co_await client->send(call.url, std::move(request));
        status = result.ok() ? static_cast<int>(result.response->result_int()) : 0;
        if (!worth_retrying(status)) break;
        log::warn("decision not taken by the hub API; retrying",
                  {{"referral_ref", call.referral_ref}, {"update_id", call.update_id}, {"status", status}});
        timer.expires_after(call.retry_delay);
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    done(status, attempt);
}

}  // namespace

std::optional<DecisionConfig> read_decision_config(ConfigReader::Node node) {
    if (!node.has("hub_url")) return std::nullopt;
    DecisionConfig config;
    config.hub_url = node.required_string("hub_url");
    while (config.hub_url.ends_with('/')) config.hub_url.pop_back();
    if (!http::Url::parse(config.hub_url)) node.fail("hub_url", "must be an http(s) URL");
    config.auth_header = node.string("auth_header", "");
    if (auto value = node.secret("auth_value")) config.auth_value = *value;
    config.delay = node.duration("delay", config.delay);
    auto mix = node.child("mix");
    config.accept = mix.number("accept", config.accept, 0, 1e9);
    config.decline = mix.number("decline", config.decline, 0, 1e9);
    config.book = mix.number("book", config.book, 0, 1e9);
    config.message = mix.number("message", config.message, 0, 1e9);
    if (config.accept + config.decline + config.book + config.message <= 0)
        mix.fail("accept", "the mix must not be all zero");
    config.book_confirmed = node.number("book_confirmed", config.book_confirmed, 0, 1);
    for (auto& route : node.string_list("routes", {})) config.routes.insert(std::move(route));
    config.attempts = static_cast<int>(node.integer("attempts", config.attempts, 1, 100));
    config.retry_delay = node.duration("retry_delay", config.retry_delay);
    config.seed = static_cast<std::uint64_t>(node.integer("seed", 1, 0, INT64_MAX));
    return config;
}

DecisionMaker::DecisionMaker(asio::any_io_executor executor, DecisionConfig config)
    : executor_(std::move(executor)), config_(std::move(config)), rng_(config_.seed) {
    base_ = *http::Url::parse(config_.hub_url);
    while (base_.target.ends_with('/')) base_.target.pop_back();
    client_ = std::make_shared<http::AsyncClient>(executor_);
}

void DecisionMaker::on_delivery(const std::string& route, const std::string& referral_ref) {
    if (referral_ref.empty()) return;
    if (!config_.routes.empty() && !config_.routes.contains(route)) return;
    Call call;
    std::size_t index = 0;
    {
        std::lock_guard lock(mutex_);
        if (!decided_.insert(referral_ref).second) return;
        Sent sent;
        sent.referral_ref = referral_ref;
        sent.update_id = fmt::format("pos-sim-{}-{}", config_.seed, referral_ref);
        boost::json::object body{{"update_id", sent.update_id}};
        std::string path;
        const double total = config_.accept + config_.decline + config_.book + config_.message;
        const double u = std::uniform_real_distribution<double>(0.0, total)(rng_);
        if (u < config_.accept) {
            sent.action = "accept";
            path = "accept";
        } else if (u < config_.accept + config_.decline) {
            sent.action = "decline";
            path = "decline";
            body["reason"] = "Outside our catchment area";
        } else if (u < config_.accept + config_.decline + config_.book) {
            sent.action = "book";
            path = "appointments";
            sent.confirmed = std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < config_.book_confirmed;
            // Whole seconds: the appointment is a calendar slot.
            const auto start =
                std::chrono::floor<std::chrono::hours>(system_now()) + std::chrono::hours(24 * 14);
            sent.appointment_start = format_rfc3339_millis(start);
            body["appointment"] =
                boost::json::object{{"start", sent.appointment_start},
                                    {"end", format_rfc3339_millis(start + std::chrono::minutes(30))},
                                    {"confirmed", sent.confirmed},
                                    {"type_text", "Consultation"}};
        } else {
            sent.action = "message";
            path = "messages";
            body["text"] = "Please send the most recent imaging report.";
        }
        call.url = base_;
        call.url.target = fmt::format("{}/referrals/{}/{}", base_.target, referral_ref, path);
        call.body = boost::json::serialize(body);
        call.update_id = sent.update_id;
        sent_.push_back(std::move(sent));
        index = sent_.size() - 1;
    }
    call.auth_header = config_.auth_header;
    call.auth_value = std::string(config_.auth_value.reveal());
    call.referral_ref = referral_ref;
    call.delay = config_.delay;
    call.retry_delay = config_.retry_delay;
    call.attempts = config_.attempts;
    asio::co_spawn(
        executor_,
        call_later(client_,
                   std::move(call),
                   [this, index](int status, int attempts) { record_answer(index, status, attempts); }),
        asio::detached);
}

void DecisionMaker::record_answer(std::size_t index, int status, int attempts) {
    std::lock_guard lock(mutex_);
    sent_[index].status = status;
    sent_[index].attempts = attempts;
    sent_[index].answered_at = format_rfc3339_millis(system_now());
}

std::vector<DecisionMaker::Sent> DecisionMaker::sent() const {
    std::lock_guard lock(mutex_);
    return sent_;
}

}  // namespace relay::pos_sim
