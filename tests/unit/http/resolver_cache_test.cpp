// relay::http::ResolverCache (expiry, failures, invalidation; no DNS, time given by the test) and the
// AsyncClient's use of it over loopback: one lookup per TTL, shared by concurrent connections, dropped
// when the remembered address refuses, none for a literal address.
#include "relay/http/resolver_cache.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>
#include <future>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "relay/http/async_client.hpp"
#include "relay/http/server.hpp"

namespace relay::http {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using namespace std::chrono_literals;
using Clock = ResolverCache::Clock;

ResolverCache::Endpoints endpoints(const char* address, std::uint16_t port) {
    return {asio::ip::tcp::endpoint(asio::ip::make_address(address), port)};
}

const Clock::time_point t0 = Clock::time_point{} + 1000h;

TEST(LiteralAddress, RecognisesIpAddressesOnly) {
    EXPECT_EQ(literal_address("127.0.0.1"), asio::ip::make_address("127.0.0.1"));
    EXPECT_EQ(literal_address("::1"), asio::ip::make_address("::1"));
    EXPECT_TRUE(literal_address("fe80::1%1"));
    EXPECT_FALSE(literal_address("localhost"));
    EXPECT_FALSE(literal_address("ocean.example"));
    EXPECT_FALSE(literal_address("1.2.3"));
    EXPECT_FALSE(literal_address(""));
}

TEST(ResolverCache, KeepsAResultForTheTtl) {
    ResolverCache cache(30s, 1s);
    EXPECT_FALSE(cache.find("ocean.example", 443, t0));
    const auto id = cache.store("ocean.example", 443, endpoints("192.0.2.7", 443), t0);
    EXPECT_NE(id, 0U);
    auto hit = cache.find("ocean.example", 443, t0 + 29s);
    ASSERT_TRUE(hit);
    EXPECT_EQ(hit->id, id);
    EXPECT_FALSE(hit->error);
    EXPECT_EQ(hit->endpoints, endpoints("192.0.2.7", 443));
    EXPECT_FALSE(cache.find("ocean.example", 443, t0 + 30s)) << "expired at the TTL";
    EXPECT_EQ(cache.size(), 0U) << "an expired entry is dropped when looked at";
}

TEST(ResolverCache, IsKeyedByHostAndPort) {
    ResolverCache cache(30s, 1s);
    cache.store("ocean.example", 443, endpoints("192.0.2.7", 443), t0);
    EXPECT_FALSE(cache.find("ocean.example", 8443, t0));
    EXPECT_FALSE(cache.find("other.example", 443, t0));
    cache.store("ocean.example", 8443, endpoints("192.0.2.8", 8443), t0);
    EXPECT_EQ(cache.find("ocean.example", 443, t0)->endpoints, endpoints("192.0.2.7", 443));
    EXPECT_EQ(cache.find("ocean.example", 8443, t0)->endpoints, endpoints("192.0.2.8", 8443));
}

TEST(ResolverCache, ZeroTtlKeepsNothing) {
    ResolverCache cache(0s, 1s);
    EXPECT_FALSE(cache.enabled());
    EXPECT_EQ(cache.store("ocean.example", 443, endpoints("192.0.2.7", 443), t0), 0U);
    EXPECT_EQ(cache.store_failure("ocean.example", 443, Error(ErrorKind::kRetryable, "no such host"), t0),
              0U);
    EXPECT_FALSE(cache.find("ocean.example", 443, t0));
    EXPECT_EQ(cache.size(), 0U);
}

TEST(ResolverCache, NothingToConnectToIsNotKept) {
    ResolverCache cache(30s, 1s);
    EXPECT_EQ(cache.store("ocean.example", 443, {}, t0), 0U);
    EXPECT_FALSE(cache.find("ocean.example", 443, t0));
}

TEST(ResolverCache, RemembersAFailureBriefly) {
    ResolverCache cache(30s, 1s);
    cache.store_failure("gone.example", 443, Error(ErrorKind::kRetryable, "cannot resolve host"), t0);
    auto hit = cache.find("gone.example", 443, t0 + 999ms);
    ASSERT_TRUE(hit);
    ASSERT_TRUE(hit->error);
    EXPECT_EQ(hit->error->kind, ErrorKind::kRetryable);
    EXPECT_EQ(hit->error->message, "cannot resolve host");
    EXPECT_TRUE(hit->endpoints.empty());
    EXPECT_FALSE(cache.find("gone.example", 443, t0 + 1s)) << "a failure is kept for failure_ttl, not ttl";

    // A success replaces a remembered failure (and is kept for the full TTL).
    cache.store_failure("gone.example", 443, Error(ErrorKind::kTimeout, "name resolution timed out"), t0);
    cache.store("gone.example", 443, endpoints("192.0.2.9", 443), t0 + 500ms);
    hit = cache.find("gone.example", 443, t0 + 20s);
    ASSERT_TRUE(hit);
    EXPECT_FALSE(hit->error);
}

TEST(ResolverCache, ZeroFailureTtlKeepsNoFailure) {
    ResolverCache cache(30s, 0s);
    EXPECT_EQ(cache.store_failure("gone.example", 443, Error(ErrorKind::kRetryable, "x"), t0), 0U);
    EXPECT_FALSE(cache.find("gone.example", 443, t0));
}

TEST(ResolverCache, InvalidateDropsOnlyTheNamedResult) {
    ResolverCache cache(30s, 1s);
    const auto old_id = cache.store("moved.example", 443, endpoints("192.0.2.1", 443), t0);
    const auto new_id = cache.store("moved.example", 443, endpoints("192.0.2.2", 443), t0 + 1s);
    EXPECT_NE(old_id, new_id);
    // A connection that used the old addresses fails after another one stored fresh ones: they stay.
    EXPECT_FALSE(cache.invalidate("moved.example", 443, old_id));
    EXPECT_EQ(cache.find("moved.example", 443, t0 + 2s)->endpoints, endpoints("192.0.2.2", 443));
    EXPECT_TRUE(cache.invalidate("moved.example", 443, new_id));
    EXPECT_FALSE(cache.find("moved.example", 443, t0 + 2s));
    EXPECT_FALSE(cache.invalidate("moved.example", 443, new_id));
    EXPECT_FALSE(cache.invalidate("never.example", 443, 1));
}

TEST(ResolverCache, StoringSweepsExpiredEntries) {
    ResolverCache cache(30s, 1s);
    cache.store("a.example", 443, endpoints("192.0.2.1", 443), t0);
    cache.store_failure("b.example", 443, Error(ErrorKind::kRetryable, "x"), t0);
    cache.store("c.example", 443, endpoints("192.0.2.3", 443), t0 + 10s);
    EXPECT_EQ(cache.size(), 2U) << "b's failure had expired";
    cache.store("d.example", 443, endpoints("192.0.2.4", 443), t0 + 31s);
    EXPECT_EQ(cache.size(), 2U) << "a had expired";
    EXPECT_TRUE(cache.find("c.example", 443, t0 + 31s));
}

// ---- AsyncClient over loopback ----

// An HTTP server on its own thread that answers 200 and closes every connection (Connection: close),
// so that each request of the client needs a new connection. Counts the connections it saw.
class ClosingServer {
   public:
    ClosingServer() {
        ListenerConfig config;
        config.address = "127.0.0.1";
        config.port = 0;
        server_ = std::make_unique<Server>(ioc_, config, [this](Request&, const RequestContext& context) {
            return answer(context.remote.port());
        });
        server_->start();
        thread_ = std::thread([this] { ioc_.run(); });
    }
    ~ClosingServer() {
        work_.reset();
        ioc_.stop();
        thread_.join();
    }

    [[nodiscard]] std::uint16_t port() const { return server_->port(); }

    /// Connections accepted so far (distinct client ports).
    std::size_t connections() {
        std::lock_guard lock(mutex_);
        return remotes_.size();
    }

    /// Closes the listening socket; returns once it is closed (new connects are refused).
    void stop_accepting() {
        server_->stop_accepting();
        std::promise<void> closed;
        asio::post(ioc_, [&closed] { closed.set_value(); });  // runs after the close posted before it
        closed.get_future().wait();
    }

   private:
    asio::awaitable<Response> answer(std::uint16_t remote_port) {
        {
            std::lock_guard lock(mutex_);
            remotes_.insert(remote_port);
        }
        Response response{bhttp::status::ok, 11};
        response.body() = "ok";
        response.keep_alive(false);
        response.prepare_payload();
        co_return response;
    }

    asio::io_context ioc_;
    asio::executor_work_guard<asio::io_context::executor_type> work_{ioc_.get_executor()};
    std::unique_ptr<Server> server_;
    std::thread thread_;
    std::mutex mutex_;
    std::set<std::uint16_t> remotes_;
};

// Runs one coroutine on the client's io_context and returns its result.
template <class T>
T run(asio::io_context& ioc, asio::awaitable<T> awaitable) {
    auto future = asio::co_spawn(ioc, std::move(awaitable), asio::use_future);
    ioc.restart();
    ioc.run();
    return future.get();
}

ClientRequest get() {
    return ClientRequest{bhttp::verb::get, "/", 11};
}

Url url(const std::string& host, std::uint16_t port) {
    return *Url::parse("http://" + host + ":" + std::to_string(port) + "/");
}

TEST(AsyncClientDns, NewConnectionsReuseTheLookupUntilTheTtlPasses) {
    ClosingServer server;
    asio::io_context ioc;
    AsyncClient client(ioc.get_executor());  // the default TTL, 30 s
    for (int i = 0; i < 2; ++i) {
        auto result = run(ioc, client.send(url("localhost", server.port()), get()));
        ASSERT_TRUE(result.ok()) << result.error.message;
        EXPECT_EQ(result.response->result_int(), 200);
    }
    EXPECT_EQ(server.connections(), 2U) << "the server closed the first connection: the pool was empty";
    EXPECT_EQ(client.resolutions(), 1U) << "the second connection reused the first lookup";

    // A second client with a short TTL (the first one's could not be outwaited in a test; and a short
    // one could pass between its two exchanges on a slow machine, e.g. under valgrind).
    ClientOptions options;
    options.dns_cache_ttl = 50ms;
    AsyncClient short_lived(ioc.get_executor(), options);
    auto result = run(ioc, short_lived.send(url("localhost", server.port()), get()));
    ASSERT_TRUE(result.ok()) << result.error.message;
    EXPECT_EQ(short_lived.resolutions(), 1U);
    std::this_thread::sleep_for(100ms);
    result = run(ioc, short_lived.send(url("localhost", server.port()), get()));
    ASSERT_TRUE(result.ok()) << result.error.message;
    EXPECT_EQ(short_lived.resolutions(), 2U) << "past the TTL the name is looked up again";
}

asio::awaitable<void> send_into(AsyncClient& client, Url target, std::vector<int>& statuses) {
    auto result = co_await client.send(std::move(target), get());
    statuses.push_back(result.ok() ? static_cast<int>(result.response->result_int()) : -1);
}

TEST(AsyncClientDns, ConcurrentConnectionsShareOneLookup) {
    ClosingServer server;
    asio::io_context ioc;
    AsyncClient client(ioc.get_executor());
    std::vector<int> statuses;
    for (int i = 0; i < 8; ++i)
        asio::co_spawn(ioc, send_into(client, url("localhost", server.port()), statuses), asio::detached);
    ioc.run();
    EXPECT_EQ(statuses, std::vector<int>(8, 200));
    EXPECT_EQ(server.connections(), 8U);
    EXPECT_EQ(client.resolutions(), 1U) << "eight connections at once, one lookup";
}

TEST(AsyncClientDns, ZeroTtlResolvesForEveryConnection) {
    ClosingServer server;
    asio::io_context ioc;
    ClientOptions options;
    options.dns_cache_ttl = 0ms;
    AsyncClient client(ioc.get_executor(), options);
    for (int i = 0; i < 2; ++i) {
        auto result = run(ioc, client.send(url("localhost", server.port()), get()));
        ASSERT_TRUE(result.ok()) << result.error.message;
    }
    EXPECT_EQ(client.resolutions(), 2U);
}

TEST(AsyncClientDns, LiteralAddressIsNeverLookedUp) {
    ClosingServer server;
    asio::io_context ioc;
    AsyncClient client(ioc.get_executor());
    auto result = run(ioc, client.send(url("127.0.0.1", server.port()), get()));
    ASSERT_TRUE(result.ok()) << result.error.message;
    EXPECT_EQ(client.resolutions(), 0U);
}

TEST(AsyncClientDns, ARefusedConnectDropsTheRememberedAddresses) {
    ClosingServer server;
    asio::io_context ioc;
    AsyncClient client(ioc.get_executor());
    const auto target = url("localhost", server.port());  // port() is 0 once the server stopped
    auto result = run(ioc, client.send(target, get()));
    ASSERT_TRUE(result.ok()) << result.error.message;
    EXPECT_EQ(client.resolutions(), 1U);

    server.stop_accepting();
    result = run(ioc, client.send(target, get()));
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error.kind, ErrorKind::kRetryable);
    EXPECT_EQ(client.resolutions(), 1U) << "the remembered addresses were tried";
    result = run(ioc, client.send(target, get()));
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(client.resolutions(), 2U) << "after the refusal, the name is looked up again";
}

TEST(AsyncClientDns, AFailedLookupIsSharedForTheFailureTtl) {
    asio::io_context ioc;
    ClientOptions options;
    options.connect_timeout = 2s;
    options.dns_failure_ttl = 10s;  // longer than any lookup may take here, so the test cannot race it
    AsyncClient client(ioc.get_executor(), options);
    // .invalid never resolves (RFC 6761).
    auto first = run(ioc, client.send(url("relay-resolver-test.invalid", 80), get()));
    ASSERT_FALSE(first.ok());
    auto second = run(ioc, client.send(url("relay-resolver-test.invalid", 80), get()));
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.error.kind, first.error.kind);
    EXPECT_EQ(second.error.message, first.error.message);
    EXPECT_EQ(client.resolutions(), 1U) << "the failure was remembered";
}

}  // namespace
}  // namespace relay::http
