#include "relay/http/fault_injection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>

namespace relay::http {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

const char* to_string(FaultRule::Kind kind) {
    switch (kind) {
        case FaultRule::Kind::kStatus:
            return "status";
        case FaultRule::Kind::kLatency:
            return "latency";
        case FaultRule::Kind::kTimeout:
            return "timeout";
        case FaultRule::Kind::kReset:
            return "reset";
        case FaultRule::Kind::kExpiredToken:
            return "expired_token";
        case FaultRule::Kind::kDown:
            return "down";
    }
    return "unknown";
}

FaultInjector::FaultInjector(std::vector<FaultRule> rules, std::uint64_t seed)
    : rules_(std::move(rules)), rng_(seed) {}

const FaultRule* FaultInjector::draw(std::string_view target) {
    std::lock_guard lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < rules_.size(); ++i) {
        const FaultRule& rule = rules_[i];
        if (!target.starts_with(rule.path_prefix)) continue;
        if (rule.kind == FaultRule::Kind::kDown) {
            // Down for `delay` from the first matching request; afterwards the rule is spent.
            auto [it, first] = down_until_.try_emplace(i, now + rule.delay);
            if (now < it->second) return &rule;
            continue;
        }
        if (std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < rule.probability) return &rule;
    }
    return nullptr;
}

std::map<std::string, std::uint64_t> FaultInjector::injected() const {
    std::lock_guard lock(counts_mutex_);
    return injected_;
}

namespace {

asio::awaitable<Response> faulty(FaultInjector* injector,
                                 std::shared_ptr<Handler> inner,
                                 FaultRule rule,
                                 Request& request,
                                 const RequestContext& context) {
    (void)injector;
    asio::steady_timer timer(co_await asio::this_coro::executor);
    switch (rule.kind) {
        case FaultRule::Kind::kLatency:
            timer.expires_after(rule.delay);
            co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
            co_return co_await (*inner)(request, context);
        case FaultRule::Kind::kTimeout:
            timer.expires_after(rule.delay);
            co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
            throw AbortConnection();
        case FaultRule::Kind::kReset:
            throw AbortConnection();
        case FaultRule::Kind::kExpiredToken: {
            Response res{bhttp::status::unauthorized, request.version()};
            res.set(bhttp::field::www_authenticate,
                    "Bearer error=\"invalid_token\", error_description=\"expired\"");
            res.set(bhttp::field::content_type, "application/json");
            res.body() = R"({"error":"invalid_token","error_description":"the access token expired"})";
            co_return res;
        }
        case FaultRule::Kind::kStatus:
        case FaultRule::Kind::kDown: {
            // A down rule answers 503 unless it names another status.
            const int status = rule.kind == FaultRule::Kind::kDown && rule.status <= 0 ? 503 : rule.status;
            Response res{static_cast<bhttp::status>(status), request.version()};
            if (rule.retry_after.count() > 0)
                res.set(bhttp::field::retry_after, std::to_string(rule.retry_after.count()));
            res.set(bhttp::field::content_type, "application/json");
            res.body() = R"({"error":"injected_fault"})";
            co_return res;
        }
    }
    co_return co_await (*inner)(request, context);
}

}  // namespace

Handler FaultInjector::wrap(Handler inner) {
    auto shared = std::make_shared<Handler>(std::move(inner));
    return [this, shared](Request& request, const RequestContext& context) -> asio::awaitable<Response> {
        const std::string_view target(request.target().data(), request.target().size());
        const FaultRule* rule = draw(target);
        if (rule == nullptr) return (*shared)(request, context);
        {
            std::lock_guard lock(counts_mutex_);
            ++injected_[to_string(rule->kind)];
        }
        return faulty(this, shared, *rule, request, context);
    };
}

}  // namespace relay::http
