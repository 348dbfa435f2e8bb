// Fault injection for the simulators, over real loopback sockets: each fault really happens.
#include "relay/http/fault_injection.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <thread>

#include "relay/http/client.hpp"

namespace relay::test {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using namespace std::chrono_literals;
using Kind = http::FaultRule::Kind;

class FaultInjection : public ::testing::Test {
   protected:
    asio::io_context ioc;
    std::unique_ptr<http::FaultInjector> injector;
    std::unique_ptr<http::Server> server;
    std::thread thread;

    void start(std::vector<http::FaultRule> rules) {
        injector = std::make_unique<http::FaultInjector>(std::move(rules), 7);
        http::ListenerConfig listener;
        listener.address = "127.0.0.1";
        listener.port = 0;
        server = std::make_unique<http::Server>(
            ioc,
            listener,
            injector->wrap(
                [](http::Request& request, const http::RequestContext&) -> asio::awaitable<http::Response> {
                    http::Response res{bhttp::status::ok, request.version()};
                    res.body() = "handled";
                    co_return res;
                }));
        server->start();
        thread = std::thread([this] { ioc.run(); });
    }
    void TearDown() override {
        if (server) server->stop_accepting();
        ioc.stop();
        if (thread.joinable()) thread.join();
    }
    http::BlockingClient client(std::chrono::milliseconds timeout = 5s) const {
        return http::BlockingClient("127.0.0.1", server->port(), timeout);
    }
};

TEST_F(FaultInjection, StatusLatencyResetTimeoutExpiredTokenAndDown) {
    start({{Kind::kStatus, "/status", 1.0, 429, 0ms, 7s},
           {Kind::kLatency, "/slow", 1.0, 0, 300ms},
           {Kind::kReset, "/reset"},
           {Kind::kTimeout, "/hang", 1.0, 0, 300ms},
           {Kind::kExpiredToken, "/token"},
           {Kind::kDown, "/down", 1.0, 0, 600ms}});
    auto res = client().get("/status");
    EXPECT_EQ(res.result_int(), 429);
    EXPECT_EQ(res[bhttp::field::retry_after], "7");

    auto started = std::chrono::steady_clock::now();
    res = client().get("/slow");
    EXPECT_EQ(res.result_int(), 200);
    EXPECT_EQ(res.body(), "handled");
    EXPECT_GE(std::chrono::steady_clock::now() - started, 290ms);

    EXPECT_THROW(client().get("/reset"), std::exception);
    started = std::chrono::steady_clock::now();
    EXPECT_THROW(client().get("/hang"), std::exception);
    EXPECT_GE(std::chrono::steady_clock::now() - started, 290ms);

    res = client().get("/token");
    EXPECT_EQ(res.result_int(), 401);
    EXPECT_NE(std::string(res[bhttp::field::www_authenticate]).find("invalid_token"), std::string::npos);

    EXPECT_EQ(client().get("/down").result_int(), 503);
    EXPECT_EQ(client().get("/down").result_int(), 503);
    std::this_thread::sleep_for(700ms);
    EXPECT_EQ(client().get("/down").result_int(), 200) << "down for a while, then back";

    EXPECT_EQ(client().get("/healthy").result_int(), 200) << "other routes are untouched";
    const auto counts = injector->injected();
    EXPECT_EQ(counts.at("status"), 1U);
    EXPECT_EQ(counts.at("reset"), 1U);
    EXPECT_EQ(counts.at("down"), 2U);
}

TEST_F(FaultInjection, ProbabilityIsHonouredAndReproducible) {
    start({{Kind::kStatus, "", 0.3, 500}});
    auto c = client();
    int failures = 0;
    for (int i = 0; i < 300; ++i) failures += c.get("/x").result_int() == 500 ? 1 : 0;
    EXPECT_GT(failures, 60);
    EXPECT_LT(failures, 120);
    EXPECT_EQ(injector->injected().at("status"), static_cast<std::uint64_t>(failures));
}

}  // namespace
}  // namespace relay::test
