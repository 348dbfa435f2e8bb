// The public edge as an attacker meets it: the ingress binary as its own process (its memory read from
// /proc), raw bytes over loopback sockets. Each test names the attack it stands for.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "process_util.hpp"
#include "relay/core/encoding.hpp"

namespace relay::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// AddressSanitizer keeps freed memory in quarantine and maps shadow memory: resident memory then says
// nothing about the server's own bounds, so the memory assertions hold in the release build only.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kMemoryIsMeaningful = false;
#else
constexpr bool kMemoryIsMeaningful = true;
#endif

/// A raw TCP connection to loopback: what is sent is exactly what the test wrote.
class RawConnection {
   public:
    explicit RawConnection(int port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(static_cast<std::uint16_t>(port));
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    }
    ~RawConnection() {
        if (fd_ >= 0) ::close(fd_);
    }
    RawConnection(const RawConnection&) = delete;
    RawConnection& operator=(const RawConnection&) = delete;

    [[nodiscard]] bool connected() const { return connected_; }

    /// Sends everything it can; false once the peer closed or reset the connection.
    bool send(std::string_view data) {
        while (!data.empty()) {
            const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
            if (n <= 0) return false;
            data.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }

    /// Whatever arrives within `limit`, until the peer closes (closed() then says so).
    std::string read_for(std::chrono::milliseconds limit) {
        std::string out;
        const auto deadline = Clock::now() + limit;
        char buffer[16384];
        while (Clock::now() < deadline) {
            pollfd p{fd_, POLLIN, 0};
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            if (::poll(&p, 1, static_cast<int>(std::max<long>(1, left.count()))) <= 0) continue;
            const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
            if (n <= 0) {
                closed_ = true;
                break;
            }
            out.append(buffer, static_cast<std::size_t>(n));
        }
        return out;
    }

    /// Reads until a whole response head ("\r\n\r\n") has arrived or `limit` passed.
    std::string read_head(std::chrono::milliseconds limit = 5s) {
        std::string out;
        const auto deadline = Clock::now() + limit;
        char c = 0;
        while (Clock::now() < deadline && out.find("\r\n\r\n") == std::string::npos) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            if (::recv(fd_, &c, 1, 0) <= 0) {
                closed_ = true;
                break;
            }
            out.push_back(c);
        }
        return out;
    }

    [[nodiscard]] bool closed() const { return closed_; }

   private:
    int fd_ = -1;
    bool connected_ = false;
    bool closed_ = false;
};

int status_of(const std::string& response) {
    if (response.rfind("HTTP/1.1 ", 0) != 0 || response.size() < 12) return 0;
    return std::stoi(response.substr(9, 3));
}

std::size_t count(const std::string& haystack, const std::string& needle) {
    std::size_t n = 0;
    for (auto at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
    return n;
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

const std::string kBasic = "Basic " + base64_encode("ocean:s3cret-pass");

// Site 1234 authenticates with Basic; site 5678 with scheme none (Ocean's connectivity testing), so its
// requests pass admission and reach the body: what an authenticated peer may cost.
std::string config_yaml(int port, int admin, const std::string& extra_limits = "", const std::string& extra = "") {
    return fmt::format(R"(
service: {{log_level: info, threads: 2}}
listeners: [{{address: 127.0.0.1, port: {}}}]
admin: {{address: 127.0.0.1, port: {}}}
kafka: {{embedded: true, partitions: 2, ack_timeout: 5s}}
limits: {{max_body: 20MiB, max_header: 16KiB, max_body_memory: 64MiB, header_timeout: 5s, body_timeout: 30s{}}}
auth:
  failures: {{window: 60s, max_per_address: 20, max_per_credential: 0}}
integrations:
  - site: "1234"
    auth: {{scheme: basic, username: ocean, password: {{value: "s3cret-pass"}}}}
  - site: "5678"
{})",
                       port,
                       admin,
                       extra_limits,
                       extra);
}

class IngressEdge : public ::testing::Test {
   protected:
    void start(const std::string& extra_limits = "", const std::string& extra = "") {
        port_ = free_port();
        admin_ = free_port();
        process_ = std::make_unique<ChildProcess>(
            scratch_, "ingress", RELAY_INGRESS_BINARY, config_yaml(port_, admin_, extra_limits, extra));
        ASSERT_TRUE(wait_ready(*process_, admin_)) << "the ingress did not become ready";
        baseline_kib_ = proc_status_kib(process_->pid(), "VmRSS");
        ASSERT_GT(baseline_kib_, 0);
    }
    /// How far the process's peak resident memory rose above what it used once ready, in MiB.
    [[nodiscard]] double peak_growth_mib() const {
        if (!kMemoryIsMeaningful) return 0;
        return static_cast<double>(proc_status_kib(process_->pid(), "VmHWM") - baseline_kib_) / 1024.0;
    }
    [[nodiscard]] std::string log() const { return read_file(process_->log_path()); }

    ScratchDir scratch_{"relay-edge"};
    std::unique_ptr<ChildProcess> process_;
    int port_ = 0;
    int admin_ = 0;
    long baseline_kib_ = 0;
};

// Sends `header` then `feed` over and over (up to `total` bytes) on `connections` sockets at once;
// returns the status each connection was answered with (0: none before it closed).
std::vector<int> flood(int port, int connections, const std::string& header, const std::string& feed, std::size_t total) {
    std::vector<int> statuses(static_cast<std::size_t>(connections), 0);
    std::vector<std::thread> threads;
    for (int i = 0; i < connections; ++i) {
        threads.emplace_back([&, i] {
            RawConnection c(port);
            if (!c.connected()) return;
            bool open = c.send(header);
            for (std::size_t sent = 0; open && sent < total; sent += feed.size()) open = c.send(feed);
            statuses[static_cast<std::size_t>(i)] = status_of(c.read_head(3s));
        });
    }
    for (auto& t : threads) t.join();
    return statuses;
}

TEST_F(IngressEdge, LongChunkExtensionsAreRefusedWithinTheHeaderLimitOnEveryListener) {
    start();
    const std::string extension(64 * 1024, 'x');
    for (const int port : {port_, admin_}) {
        const std::string path = port == port_ ? "/ocean/5678/fhir" : "/metrics";
        const auto statuses = flood(port,
                                    40,
                                    fmt::format("POST {} HTTP/1.1\r\nHost: relay\r\nContent-Type: application/fhir+json\r\n"
                                                "Transfer-Encoding: chunked\r\n\r\n1;ext=",
                                                path),
                                    extension,
                                    8U << 20);
        // The public route reads the chunks and stops at the framing limit; the admin port takes no body
        // at all and refuses it from the headers.
        for (const int status : statuses) EXPECT_EQ(status, port == port_ ? 400 : 413) << "port " << port;
    }
    // 2 x 40 peers x 8 MiB offered: what the process kept of it is bounded by a read buffer each.
    EXPECT_LT(peak_growth_mib(), 48.0);
    EXPECT_FALSE(process_->exited());
}

TEST_F(IngressEdge, HugeTrailersAndManyChunkLinesCountAgainstTheHeaderLimit) {
    start();
    // One trailer field after the other, never ending.
    const auto trailers = flood(port_,
                                20,
                                "POST /ocean/5678/fhir HTTP/1.1\r\nHost: relay\r\nContent-Type: application/fhir+json\r\n"
                                "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n",
                                "X-Trailer: " + std::string(1000, 't') + "\r\n",
                                4U << 20);
    for (const int status : trailers) EXPECT_EQ(status, 400);
    // Small chunks, each line short, together far beyond max_header (16 KiB).
    const auto lines = flood(port_,
                             20,
                             "POST /ocean/5678/fhir HTTP/1.1\r\nHost: relay\r\nContent-Type: application/fhir+json\r\n"
                             "Transfer-Encoding: chunked\r\n\r\n",
                             "1;e=" + std::string(200, 'y') + "\r\n \r\n",
                             1U << 20);
    for (const int status : lines) EXPECT_EQ(status, 400);
    EXPECT_LT(peak_growth_mib(), 48.0);
}

TEST_F(IngressEdge, UnauthenticatedBodiesAreNeverRead) {
    start();
    // 50 peers without credentials each announce and send 19 MiB: every one is answered 401 (or 429 once
    // the address has failed too often) without the body being read, so no body memory is spent.
    const std::string body_block(1U << 20, 'a');
    const auto statuses = flood(port_,
                                50,
                                "POST /ocean/1234/fhir HTTP/1.1\r\nHost: relay\r\nContent-Type: application/fhir+json\r\n"
                                "Content-Length: 19922944\r\n\r\n",
                                body_block,
                                19U << 20);
    for (const int status : statuses) EXPECT_TRUE(status == 401 || status == 429) << status;
    EXPECT_LT(peak_growth_mib(), 48.0);
}

TEST_F(IngressEdge, UnauthorisedRequestGets401BeforeItsBodyAndNo100Continue) {
    start();
    RawConnection c(port_);
    ASSERT_TRUE(c.send(
        "POST /ocean/1234/fhir HTTP/1.1\r\nHost: relay\r\nContent-Type: application/fhir+json\r\n"
        "Content-Length: 10485760\r\nExpect: 100-continue\r\n\r\n"));
    const std::string head = c.read_head();
    EXPECT_EQ(status_of(head), 401) << head;
    EXPECT_NE(head.find("WWW-Authenticate: Basic"), std::string::npos) << head;
    EXPECT_NE(head.find("Connection: close"), std::string::npos) << head;

    // With credentials, the same request is told to go on.
    RawConnection ok(port_);
    ASSERT_TRUE(ok.send(
        "POST /ocean/1234/fhir HTTP/1.1\r\nHost: relay\r\nContent-Type: application/fhir+json\r\n"
        "Authorization: " + kBasic + "\r\nContent-Length: 10485760\r\nExpect: 100-continue\r\n\r\n"));
    EXPECT_EQ(status_of(ok.read_head()), 100);
}

TEST_F(IngressEdge, BodiesBeyondTheMemoryBudgetGet503WithRetryAfter) {
    start();
    // Budget 64 MiB: three 19 MiB bodies fit, the rest are told to come back. The bodies trickle, so
    // all of them are in flight at once.
    constexpr int kPeers = 8;
    std::vector<std::unique_ptr<RawConnection>> peers;
    std::vector<int> statuses;
    for (int i = 0; i < kPeers; ++i) {
        auto c = std::make_unique<RawConnection>(port_);
        ASSERT_TRUE(c->send(
            "POST /ocean/5678/fhir HTTP/1.1\r\nHost: relay\r\nContent-Type: application/fhir+json\r\n"
            "Content-Length: 19922944\r\n\r\n{\"resourceType\":"));
        peers.push_back(std::move(c));
    }
    int refused = 0;
    for (auto& c : peers) {
        const std::string head = c->read_head(1500ms);
        if (status_of(head) == 503) {
            ++refused;
            EXPECT_NE(head.find("Retry-After: "), std::string::npos) << head;
        } else {
            EXPECT_EQ(head, "") << "an admitted body is still being read";
        }
    }
    EXPECT_EQ(refused, kPeers - 3);
    const auto used = metric(admin_, "relay_ingress_body_memory_bytes");
    ASSERT_TRUE(used.has_value());
    EXPECT_LE(*used, 64.0 * 1024 * 1024);
    EXPECT_GT(*used, 3 * 19.0 * 1024 * 1024);
    EXPECT_LT(peak_growth_mib(), 32.0) << "admitted bodies take memory as their bytes arrive, not as announced";
}

TEST_F(IngressEdge, ASmuggledSecondRequestIsNeverAnswered) {
    start();
    const std::string smuggled =
        "GET /metrics HTTP/1.1\r\nHost: relay\r\n\r\n";
    for (const std::string framing : {"Transfer-Encoding: gzip\r\n",
                                      "Transfer-Encoding: chunked, identity\r\n",
                                      "Transfer-Encoding: xchunked\r\n",
                                      "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                                      "Transfer-Encoding: chunked\r\nContent-Length: 46\r\n"}) {
        RawConnection c(port_);
        ASSERT_TRUE(c.send("POST /ocean/5678/fhir HTTP/1.1\r\nHost: relay\r\nContent-Type: application/fhir+json\r\n" +
                           framing + "\r\n" + smuggled));
        const std::string all = c.read_for(2s);
        EXPECT_EQ(status_of(all), 400) << framing << all;
        EXPECT_EQ(count(all, "HTTP/1.1 "), 1U) << framing << all;
        EXPECT_TRUE(c.closed()) << framing;
    }
}

TEST_F(IngressEdge, GuessersAreSlowedDownAndLoggedOncePerEpisode) {
    start();
    const std::string bad = "Basic " + base64_encode("ocean:guess");
    auto attempt = [&](const std::string& authorization) {
        RawConnection c(port_);
        c.send("POST /ocean/1234/fhir HTTP/1.1\r\nHost: relay\r\nContent-Type: application/fhir+json\r\n"
               "Authorization: " + authorization + "\r\nContent-Length: 2\r\n\r\n{}");
        return c.read_head();
    };
    for (int i = 0; i < 20; ++i) EXPECT_EQ(status_of(attempt(bad)), 401) << i;
    for (int i = 0; i < 30; ++i) {
        const std::string head = attempt(bad);
        EXPECT_EQ(status_of(head), 429) << i;
        EXPECT_NE(head.find("Retry-After: "), std::string::npos);
    }
    // The right password from the same address waits too: a block answers before credentials are judged.
    EXPECT_EQ(status_of(attempt(kBasic)), 429);
    const auto throttled = metric(admin_, "relay_ingress_auth_throttled_total", {{"scope", "address"}});
    ASSERT_TRUE(throttled.has_value());
    EXPECT_EQ(*throttled, 31.0);
    std::this_thread::sleep_for(200ms);
    const std::string text = log();
    EXPECT_EQ(count(text, "authentication failures: blocking"), 1U) << "one line per episode, not per attempt";
    EXPECT_EQ(count(text, "guess"), 0U);
}

TEST_F(IngressEdge, AnEightMebibyteReferralRefIs400NotAnError) {
    start();
    // Ocean retries a 5xx for 96 hours; a malformed bundle must get a 4xx naming the field.
    const std::string ref(8U << 20, 'r');
    const std::string body =
        R"({"resourceType":"Bundle","type":"message","entry":[{"resource":{"resourceType":"MessageHeader",)"
        R"("extension":[{"url":"http://ehealthontario.ca/fhir/StructureDefinition/ext-id-message-header","valueString":")" +
        ref + R"("}],"eventCoding":{"code":"add-service-request"}}}]})";
    RawConnection c(port_);
    ASSERT_TRUE(c.send(fmt::format("POST /ocean/5678/fhir HTTP/1.1\r\nHost: relay\r\nContent-Type: application/fhir+json\r\n"
                                   "Content-Length: {}\r\n\r\n",
                                   body.size()) +
                       body));
    const std::string answer = c.read_for(3s);
    EXPECT_EQ(status_of(answer), 400) << answer.substr(0, 300);
    EXPECT_NE(answer.find("Bundle.entry[0].resource.extension.valueString"), std::string::npos);
    EXPECT_LT(answer.size(), 2048U) << "the ref is not repeated";
    EXPECT_EQ(count(log(), "rrrrrrrrrrrrrrrr"), 0U) << "nor logged";
}

TEST_F(IngressEdge, BehindATrustedProxyEachForwardedClientIsCountedOnItsOwn) {
    start("", "");
    process_.reset();
    // The same process with loopback as its load balancer.
    process_ = std::make_unique<ChildProcess>(
        scratch_,
        "ingress-proxied",
        RELAY_INGRESS_BINARY,
        config_yaml(port_, admin_).replace(config_yaml(port_, admin_).find("max_per_credential: 0}"),
                                           22,
                                           "max_per_credential: 0, trusted_proxies: [127.0.0.0/8]}"));
    ASSERT_TRUE(wait_ready(*process_, admin_));
    const std::string bad = "Basic " + base64_encode("ocean:guess");
    auto attempt = [&](const std::string& forwarded_for) {
        RawConnection c(port_);
        c.send("POST /ocean/1234/fhir HTTP/1.1\r\nHost: relay\r\nContent-Type: application/fhir+json\r\n"
               "X-Forwarded-For: " + forwarded_for + "\r\nAuthorization: " + bad + "\r\nContent-Length: 2\r\n\r\n{}");
        return status_of(c.read_head());
    };
    for (int i = 0; i < 20; ++i) EXPECT_EQ(attempt("203.0.113.7"), 401);
    EXPECT_EQ(attempt("203.0.113.7"), 429);
    // A forged entry to the left of the client's own address changes nothing.
    EXPECT_EQ(attempt("198.51.100.1, 203.0.113.7"), 429);
    // Another client behind the same balancer is not blocked by the first one's guesses.
    EXPECT_EQ(attempt("203.0.113.8"), 401);
}

TEST_F(IngressEdge, PastMaxConnectionsNewPeersGet503) {
    start(", max_connections: 4");
    std::vector<std::unique_ptr<RawConnection>> idle;
    for (int i = 0; i < 4; ++i) {
        idle.push_back(std::make_unique<RawConnection>(port_));
        ASSERT_TRUE(idle.back()->connected());
    }
    std::this_thread::sleep_for(200ms);  // let the server count them
    RawConnection extra(port_);
    const std::string head = extra.read_head(3s);
    EXPECT_EQ(status_of(head), 503) << head;
    EXPECT_NE(head.find("Retry-After: "), std::string::npos) << head;
}

}  // namespace
}  // namespace relay::test
