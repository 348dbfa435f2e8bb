// The admin listener over real loopback sockets: /metrics, /healthz, /readyz; query strings; HEAD;
// 404 / 405; request bodies refused with 413 before they are read.
#include "relay/service/admin.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <prometheus/gauge.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>

#include "relay/core/config.hpp"
#include "relay/http/client.hpp"
#include "relay/metrics/metrics.hpp"

namespace relay::service {
namespace {

using namespace std::chrono_literals;
namespace bhttp = boost::beast::http;

http::ListenerConfig loopback() {
    http::ListenerConfig listener;
    listener.name = "admin";
    listener.address = "127.0.0.1";
    listener.port = 0;
    listener.limits.body_limit = 64 * 1024;
    return listener;
}

/// A response read off a raw socket: the status line's code, the header block and what followed it.
struct RawResponse {
    int status = 0;
    std::string head;
    std::string rest;
    std::chrono::milliseconds took{};
    bool closed = false;     ///< the server closed the connection
    bool connected = false;  ///< the connection was accepted (not refused)
};

/// Sends `bytes` on a fresh loopback connection and reads one response: its header block, then
/// Content-Length bytes, or (with `to_eof`) everything until the server closes the connection.
RawResponse exchange(std::uint16_t port, const std::string& bytes, bool to_eof = false) {
    RawResponse out;
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return out;
    timeval timeout{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const auto start = std::chrono::steady_clock::now();
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return out;
    }
    out.connected = true;
    if (::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(bytes.size())) {
        ::close(fd);
        return out;
    }
    std::string data;
    std::size_t header_end = std::string::npos;
    std::size_t want = std::string::npos;
    char buffer[4096];
    for (;;) {
        if (header_end != std::string::npos && want != std::string::npos && !to_eof &&
            data.size() >= header_end + want)
            break;
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n == 0) {
            out.closed = true;
            break;
        }
        if (n < 0) break;  // timeout or reset
        data.append(buffer, static_cast<std::size_t>(n));
        if (header_end == std::string::npos) {
            if (const auto at = data.find("\r\n\r\n"); at != std::string::npos) {
                header_end = at + 4;
                std::string lower = data.substr(0, header_end);
                for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                if (const auto cl = lower.find("\r\ncontent-length:"); cl != std::string::npos)
                    want = std::stoul(lower.substr(cl + 17));
                else
                    want = 0;
            }
        }
    }
    out.took =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    ::close(fd);
    if (header_end == std::string::npos) return out;
    out.head = data.substr(0, header_end);
    out.rest = data.substr(header_end);
    if (out.head.rfind("HTTP/1.1 ", 0) == 0) out.status = std::stoi(out.head.substr(9, 3));
    return out;
}

class AdminServerTest : public ::testing::Test {
   protected:
    AdminServerTest()
        : registry_(std::make_shared<prometheus::Registry>()),
          scrapes_(prometheus::BuildGauge()
                       .Name("relay_admin_test_scrapes")
                       .Help("before_scrape calls")
                       .Register(*registry_)
                       .Add({{"kind", "test"}})) {
        AdminProbes probes;
        probes.health = [this] {
            std::lock_guard lock(mutex_);
            return health_;
        };
        probes.ready = [this] {
            std::lock_guard lock(mutex_);
            return ready_;
        };
        probes.before_scrape = [this] {
            before_scrape_calls_.fetch_add(1);
            scrapes_.Increment();
        };
        server_ = std::make_unique<AdminServer>(loopback(), registry_, std::move(probes));
    }

    http::ClientResponse request(bhttp::verb verb, const std::string& target) {
        http::BlockingClient client("127.0.0.1", server_->port(), 5s);
        http::ClientRequest req{verb, target, 11};
        return client.send(std::move(req));
    }
    http::ClientResponse get(const std::string& target) { return request(bhttp::verb::get, target); }

    void set_health(ProbeResult r) {
        std::lock_guard lock(mutex_);
        health_ = std::move(r);
    }
    void set_ready(ProbeResult r) {
        std::lock_guard lock(mutex_);
        ready_ = std::move(r);
    }

    std::shared_ptr<prometheus::Registry> registry_;
    prometheus::Gauge& scrapes_;
    std::atomic<int> before_scrape_calls_{0};
    std::mutex mutex_;
    ProbeResult health_{true, ""};
    ProbeResult ready_{true, ""};
    std::unique_ptr<AdminServer> server_;
};

TEST(StatusBody, IsJson) {
    EXPECT_EQ(status_body("ok"), R"({"status":"ok"})");
    EXPECT_EQ(status_body("say \"hi\""), R"({"status":"say \"hi\""})");
}

TEST_F(AdminServerTest, BindsAnEphemeralPort) {
    EXPECT_GT(server_->port(), 0);
}

TEST_F(AdminServerTest, MetricsSerialisesTheRegistryAfterBeforeScrape) {
    const auto first = get("/metrics");
    ASSERT_EQ(first.result_int(), 200);
    EXPECT_EQ(first[bhttp::field::content_type], metrics::kContentType);
    EXPECT_EQ(before_scrape_calls_.load(), 1);
    // The gauge before_scrape set is in this very scrape: it ran before the serialisation.
    EXPECT_NE(first.body().find("# TYPE relay_admin_test_scrapes gauge"), std::string::npos) << first.body();
    EXPECT_NE(first.body().find("relay_admin_test_scrapes{kind=\"test\"} 1\n"), std::string::npos)
        << first.body();

    const auto second = get("/metrics?name[]=relay_admin_test_scrapes");
    ASSERT_EQ(second.result_int(), 200) << "the query string is ignored";
    EXPECT_EQ(before_scrape_calls_.load(), 2);
    EXPECT_NE(second.body().find("relay_admin_test_scrapes{kind=\"test\"} 2\n"), std::string::npos)
        << second.body();

    // Probes do not call before_scrape.
    get("/healthz");
    get("/readyz");
    EXPECT_EQ(before_scrape_calls_.load(), 2);
}

TEST_F(AdminServerTest, ProbesAnswer200Or503WithTheirBody) {
    auto health = get("/healthz");
    EXPECT_EQ(health.result_int(), 200);
    EXPECT_EQ(health.body(), R"({"status":"ok"})") << "an empty body gets the default word";
    EXPECT_EQ(health[bhttp::field::content_type], "application/json");
    auto ready = get("/readyz");
    EXPECT_EQ(ready.result_int(), 200);
    EXPECT_EQ(ready.body(), R"({"status":"ready"})");

    set_health({false, R"({"status":"kafka_producer_fatal"})"});
    set_ready({false, R"({"status":"restoring","partitions":3})"});
    health = get("/healthz");
    EXPECT_EQ(health.result_int(), 503);
    EXPECT_EQ(health.body(), R"({"status":"kafka_producer_fatal"})");
    ready = get("/readyz");
    EXPECT_EQ(ready.result_int(), 503);
    EXPECT_EQ(ready.body(), R"({"status":"restoring","partitions":3})");

    // Unhealthy without a word of its own.
    set_health({false, ""});
    health = get("/healthz?full=1");
    EXPECT_EQ(health.result_int(), 503) << "the query string is ignored";
    EXPECT_EQ(health.body(), R"({"status":"unavailable"})");

    // The probes are independent, and back to 200 with a body of the probe's own.
    set_ready({true, R"({"status":"ready","lag":0})"});
    ready = get("/readyz?x");
    EXPECT_EQ(ready.result_int(), 200);
    EXPECT_EQ(ready.body(), R"({"status":"ready","lag":0})");
    EXPECT_EQ(get("/healthz").result_int(), 503);
}

TEST(AdminServer, WithoutProbesAnswersOk) {
    AdminServer server(loopback(), std::make_shared<prometheus::Registry>(), AdminProbes{});
    http::BlockingClient client("127.0.0.1", server.port(), 5s);
    auto health = client.get("/healthz");
    EXPECT_EQ(health.result_int(), 200);
    EXPECT_EQ(health.body(), R"({"status":"ok"})");
    auto ready = client.get("/readyz");
    EXPECT_EQ(ready.result_int(), 200);
    EXPECT_EQ(ready.body(), R"({"status":"ready"})");
    EXPECT_EQ(client.get("/metrics").result_int(), 200) << "no before_scrape is fine";
}

TEST_F(AdminServerTest, UnknownPathsAre404AndOtherMethods405) {
    for (const std::string target :
         {"/", "/metric", "/healthz/", "/readyz/x", "/nope?/metrics", "/METRICS"}) {
        const auto res = get(target);
        EXPECT_EQ(res.result_int(), 404) << target;
        EXPECT_NE(res.body().find("\"not_found\""), std::string::npos) << res.body();
    }
    for (const auto verb :
         {bhttp::verb::post, bhttp::verb::put, bhttp::verb::delete_, bhttp::verb::options}) {
        for (const std::string target : {"/metrics", "/healthz", "/readyz?x=1"}) {
            const auto res = request(verb, target);
            EXPECT_EQ(res.result_int(), 405) << bhttp::to_string(verb) << " " << target;
            EXPECT_EQ(res[bhttp::field::allow], "GET, HEAD") << bhttp::to_string(verb) << " " << target;
            EXPECT_EQ(res[bhttp::field::content_type], "application/json");
        }
    }
    EXPECT_EQ(before_scrape_calls_.load(), 0) << "a refused /metrics is not a scrape";
    // An unknown path with another method is still unknown.
    EXPECT_EQ(request(bhttp::verb::post, "/nope").result_int(), 404);
}

TEST_F(AdminServerTest, HeadAnswersWithoutABody) {
    set_ready({false, R"({"status":"not_ready"})"});
    // Connection: close, read to EOF: whatever follows the header block would be a body.
    const auto metrics =
        exchange(server_->port(), "HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", true);
    EXPECT_EQ(metrics.status, 200) << metrics.head;
    EXPECT_NE(metrics.head.find(metrics::kContentType), std::string::npos) << metrics.head;
    EXPECT_EQ(metrics.rest, "") << "a response to HEAD has no body";
    EXPECT_EQ(before_scrape_calls_.load(), 1);
    const auto health =
        exchange(server_->port(), "HEAD /healthz?x=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", true);
    EXPECT_EQ(health.status, 200) << health.head;
    EXPECT_EQ(health.rest, "");
    const auto ready =
        exchange(server_->port(), "HEAD /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", true);
    EXPECT_EQ(ready.status, 503) << ready.head;
    EXPECT_EQ(ready.rest, "");
    const auto unknown =
        exchange(server_->port(), "HEAD /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", true);
    EXPECT_EQ(unknown.status, 404) << unknown.head;
    EXPECT_EQ(unknown.rest, "");

    // On a kept-alive connection the next response follows the HEAD answer directly.
    const auto both = exchange(server_->port(),
                               "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
                               "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                               true);
    EXPECT_EQ(both.status, 200) << both.head;
    EXPECT_EQ(both.rest.rfind("HTTP/1.1 200 OK\r\n", 0), 0U)
        << "the second response must follow the first's header block at once; got: "
        << both.rest.substr(0, 200);
    EXPECT_NE(both.rest.find(R"({"status":"ok"})"), std::string::npos);
}

TEST_F(AdminServerTest, ABodyIsRefusedWith413BeforeItIsRead) {
    // A body that fits the listener's limit, still refused: admin endpoints take none.
    const auto small = exchange(server_->port(),
                                "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                                "Content-Length: 5\r\n\r\nhello");
    EXPECT_EQ(small.status, 413) << small.head;
    EXPECT_NE(small.rest.find("payload_too_large"), std::string::npos) << small.rest;

    // Only the header is sent: the answer comes without waiting for the promised body (the body timeout
    // is a minute; a server reading it would answer 408 then, or nothing).
    const auto unsent =
        exchange(server_->port(), "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n");
    EXPECT_EQ(unsent.status, 413) << unsent.head;
    EXPECT_LT(unsent.took, 3s);
    EXPECT_NE(unsent.head.find("Connection: close"), std::string::npos)
        << "the unread body makes the connection unusable: " << unsent.head;

    // Chunked: refused at the header, no chunk sent.
    const auto chunked =
        exchange(server_->port(), "POST /readyz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    EXPECT_EQ(chunked.status, 413) << chunked.head;
    EXPECT_LT(chunked.took, 3s);

    // Expect: 100-continue gets the refusal, not a 100 Continue.
    const auto expect = exchange(server_->port(),
                                 "PUT /metrics HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                                 "Content-Length: 100000\r\n\r\n");
    EXPECT_EQ(expect.status, 413) << expect.head;

    // Over the listener's body limit, to an unknown path: 413 all the same (the path is not looked at).
    const auto large =
        exchange(server_->port(), "POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n");
    EXPECT_EQ(large.status, 413) << large.head;

    EXPECT_EQ(before_scrape_calls_.load(), 0) << "no handler ran";

    // An explicit empty body is no body.
    const auto empty =
        exchange(server_->port(), "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    EXPECT_EQ(empty.status, 200) << empty.head;
}

TEST(AdminServer, StopClosesTheListener) {
    AdminServer server(loopback(), std::make_shared<prometheus::Registry>(), AdminProbes{});
    const auto port = server.port();
    ASSERT_EQ(exchange(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").status, 200);
    server.stop();
    // Refused at once: no listening socket is left behind (the kernel would accept into its backlog and
    // nobody would answer).
    const auto after = exchange(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_FALSE(after.connected) << "the listener is still open after stop()";
    EXPECT_EQ(after.status, 0);
    server.stop();  // twice is fine (the destructor calls it again)
}

TEST(AdminServer, APortInUseIsAConfigErrorNamingTheListener) {
    AdminServer first(loopback(), std::make_shared<prometheus::Registry>(), AdminProbes{});
    auto taken = loopback();
    taken.port = first.port();
    try {
        AdminServer second(taken, std::make_shared<prometheus::Registry>(), AdminProbes{});
        ADD_FAILURE() << "bound a port in use";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("admin"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace relay::service
