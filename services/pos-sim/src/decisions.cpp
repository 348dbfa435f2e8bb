#include "decisions.hpp"

#include <fmt/format.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "relay/core/log.hpp"
#include "relay/core/time.hpp"

namespace relay::pos_sim {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

namespace {

struct Decision {
    std::string action;
    std::string body;
};

asio::awaitable<void> send_later(std::shared_ptr<http::AsyncClient> client,
                                 http::Url target,
                                 std::chrono::milliseconds delay,
                                 std::string auth_header,
                                 std::string auth_value,
                                 std::string referral_ref,
                                 Decision decision,
                                 std::shared_ptr<std::function<void(int)>> done) {
    asio::steady_timer timer(co_await asio::this_coro::executor, delay);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    http::ClientRequest request{bhttp::verb::post, "/", 11};
    request.set(bhttp::field::content_type, "application/json");
    if (!auth_header.empty()) request.set(auth_header, auth_value);
    request.body() = std::move(decision.body);
    http::ClientResult result = co_await client->send(target, std::move(request));
    const int status = result.ok() ? static_cast<int>(result.response->result_int()) : 0;
    if (!result.ok())
        log::warn("decision not delivered",
                  {{"referral_ref", referral_ref}, {"error", result.error.message}});
    (*done)(status);
}

}  // namespace

std::optional<DecisionConfig> read_decision_config(ConfigReader::Node node) {
    if (!node.has("target_url")) return std::nullopt;
    DecisionConfig config;
    config.target_url = node.required_string("target_url");
    if (!http::Url::parse(config.target_url)) node.fail("target_url", "must be an http(s) URL");
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
    config.seed = static_cast<std::uint64_t>(node.integer("seed", 1, 0, INT64_MAX));
    return config;
}

DecisionMaker::DecisionMaker(asio::any_io_executor executor, DecisionConfig config)
    : executor_(std::move(executor)), config_(std::move(config)), rng_(config_.seed) {
    target_ = *http::Url::parse(config_.target_url);
    client_ = std::make_shared<http::AsyncClient>(executor_);
}

void DecisionMaker::decide_later(std::string referral_ref) {
    Decision decision;
    {
        std::lock_guard lock(mutex_);
        const double total = config_.accept + config_.decline + config_.book + config_.message;
        const double u = std::uniform_real_distribution<double>(0.0, total)(rng_);
        boost::json::object body{{"referral_ref", referral_ref}};
        if (u < config_.accept) {
            decision.action = "accept";
        } else if (u < config_.accept + config_.decline) {
            decision.action = "decline";
            body["reason"] = "Outside our catchment area";
        } else if (u < config_.accept + config_.decline + config_.book) {
            decision.action = "book";
            const auto start = system_now() + std::chrono::hours(24 * 14);
            body["appointment"] =
                boost::json::object{{"start", format_rfc3339_millis(start)},
                                    {"end", format_rfc3339_millis(start + std::chrono::minutes(30))}};
        } else {
            decision.action = "message";
            body["message"] = "Please send the most recent imaging report.";
        }
        body["action"] = decision.action;
        decision.body = boost::json::serialize(body);
        sent_.push_back(Sent{referral_ref, decision.action, -1});
    }
    const std::size_t index = [this] {
        std::lock_guard lock(mutex_);
        return sent_.size() - 1;
    }();
    auto done = std::make_shared<std::function<void(int)>>([this, index](int status) {
        std::lock_guard lock(mutex_);
        sent_[index].status = status;
    });
    asio::co_spawn(executor_,
                   send_later(client_,
                              target_,
                              config_.delay,
                              config_.auth_header,
                              std::string(config_.auth_value.reveal()),
                              std::move(referral_ref),
                              std::move(decision),
                              done),
                   asio::detached);
}

std::vector<DecisionMaker::Sent> DecisionMaker::sent() const {
    std::lock_guard lock(mutex_);
    return sent_;
}

}  // namespace relay::pos_sim
