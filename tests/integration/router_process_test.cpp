// The router as separate processes on the real broker: killed with SIGKILL mid-load and restarted, and
// rebalanced between two instances. Nothing acknowledged is lost, redeliveries repeat their
// idempotency key, and duplicates are still recognised by whichever instance owns the partition after
// the move (its state restored from the changelog).
#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <thread>

#include "relay/http/client.hpp"
#include "router_test_util.hpp"
#include "test_support.hpp"

extern char** environ;

namespace relay::test {
namespace {

using namespace std::chrono_literals;
using Source = std::pair<std::int32_t, std::int64_t>;

class RouterProcess {
   public:
    explicit RouterProcess(const std::string& yaml) {
        config_ =
            std::filesystem::temp_directory_path() / fmt::format("router-{}-{}.yaml", ::getpid(), counter_++);
        std::ofstream(config_) << yaml;
        const std::string binary = RELAY_ROUTER_BINARY;
        std::vector<std::string> args{binary, "--config", config_.string()};
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        if (posix_spawn(&pid_, binary.c_str(), nullptr, nullptr, argv.data(), environ) != 0) pid_ = -1;
    }
    ~RouterProcess() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        std::filesystem::remove(config_);
    }
    void kill_hard() {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }
    /// SIGTERM; the exit code (-1 if it had to be killed).
    int terminate() {
        ::kill(pid_, SIGTERM);
        int status = 0;
        for (int i = 0; i < 300; ++i) {
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
            }
            std::this_thread::sleep_for(100ms);
        }
        kill_hard();
        return -1;
    }
    [[nodiscard]] bool started() const { return pid_ > 0; }

   private:
    static inline int counter_ = 0;
    std::filesystem::path config_;
    pid_t pid_ = -1;
};

int free_port() {
    // Bind port 0, read the port, close: good enough for a test on loopback.
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

/// relay_router_partitions from an instance's /metrics (-1 if it does not answer yet).
int owned_partitions(int admin_port) {
    try {
        http::BlockingClient admin("127.0.0.1", static_cast<std::uint16_t>(admin_port));
        const auto response = admin.get("/metrics");
        const std::string& body = response.body();
        const auto at = body.find("\nrelay_router_partitions ");
        if (at == std::string::npos) return -1;
        return std::stoi(body.substr(at + 25));
    } catch (const std::exception&) {
        return -1;
    }
}

bool wait_for(const std::function<bool()>& condition, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition()) return true;
        std::this_thread::sleep_for(200ms);
    }
    return condition();
}

struct Sent {
    std::string ref;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    Source source;
};

std::vector<Sent> send_originals(const RouterTopics& topics, std::uint64_t first_seed, int count) {
    std::vector<Sent> sent;
    for (int i = 0; i < count; ++i) {
        const auto bundle =
            generated_bundle(first_seed + static_cast<std::uint64_t>(i), "1234", "sim_listing_1", "INTAKE");
        auto headers = inbound_headers(bundle, "1234");
        const auto source = produce_record(topics.inbound, bundle.referral_ref, bundle.body, headers);
        sent.push_back({bundle.referral_ref, bundle.body, std::move(headers), source});
    }
    return sent;
}

/// Sends every message again, byte for byte (an Ocean retry after a lost 200, or a topic replay).
std::set<Source> send_again(const RouterTopics& topics, const std::vector<Sent>& sent) {
    std::set<Source> sources;
    for (const auto& s : sent) sources.insert(produce_record(topics.inbound, s.ref, s.body, s.headers));
    return sources;
}

/// Events keyed by the inbound record they are about.
std::map<Source, ConsumedRecord> events_by_source(const RouterTopics& topics,
                                                  std::size_t at_least,
                                                  std::chrono::milliseconds timeout = 60s) {
    std::map<Source, ConsumedRecord> out;
    for (auto& e : consume_all(kafka_bootstrap(), topics.events, at_least, timeout)) {
        const auto body = boost::json::parse(e.value);
        const auto& source = body.at("source");
        out.emplace(Source{static_cast<std::int32_t>(source.at("partition").as_int64()),
                           source.at("offset").as_int64()},
                    std::move(e));
    }
    return out;
}

/// Every event on the topic (read until it has been quiet for a moment): after a crash the router
/// re-processes what it had not committed, so the count of events is not known in advance, and reading
/// "the first N" could leave out the newest.
std::map<Source, ConsumedRecord> every_event(const RouterTopics& topics) {
    return events_by_source(topics, std::numeric_limits<std::size_t>::max(), 3s);
}

bool all_decided_now(const RouterTopics& topics, const std::set<Source>& sources) {
    const auto events = every_event(topics);
    return std::all_of(sources.begin(), sources.end(), [&](const Source& s) { return events.contains(s); });
}

TEST(RouterProcess, SigkillMidLoadThenRestartLosesNothingAndStillKnowsWhatItSaw) {
    const RouterTopics topics = router_topics("kill");
    const std::string yaml = router_yaml(topics, 3);
    auto first = std::make_unique<RouterProcess>(yaml);
    ASSERT_TRUE(first->started());
    const auto batch1 = send_originals(topics, 1000, 30);
    ASSERT_TRUE(
        wait_for([&] { return consume_all(kafka_bootstrap(), topics.events, 30, 2s).size() >= 30; }, 60s));

    // The updater records that it pushed an accept for the first referral (its echo comes later).
    std::string pushed = R"({"referral_ref":")" + batch1[0].ref + R"(","tasks":[{"status":"accepted"}]})";
    produce_record(topics.inbound, batch1[0].ref, pushed, {{"kind", "relay-pushed"}});

    // Mid-load: more messages, and the router dies without any chance to commit.
    const auto batch2 = send_originals(topics, 2000, 40);
    std::this_thread::sleep_for(150ms);
    first->kill_hard();
    RouterProcess second(yaml);
    ASSERT_TRUE(second.started());

    // Every message of both batches is delivered to both destinations at least once, and a
    // redelivery after the crash repeats the idempotency key.
    std::map<std::pair<std::string, std::string>, std::set<std::string>> keys;  // (ref, destination) → keys
    ASSERT_TRUE(wait_for(
        [&] {
            keys.clear();
            for (const auto& d : consume_all(kafka_bootstrap(), topics.deliveries, 140, 2s))
                keys[{d.header("referral-ref"), d.header("destination")}].insert(d.header("idempotency-key"));
            return keys.size() >= 140;
        },
        90s));
    for (const auto* batch : {&batch1, &batch2}) {
        for (const auto& s : *batch) {
            for (const char* destination : {"intake", "simple"}) {
                const auto it = keys.find({s.ref, destination});
                ASSERT_NE(it, keys.end()) << s.ref << " never reached " << destination;
                EXPECT_EQ(it->second.size(), 1U) << "redeliveries keep their idempotency key";
            }
        }
    }

    // The restarted router restored what it had seen: the same messages again are duplicates.
    const std::size_t before = consume_all(kafka_bootstrap(), topics.deliveries, 1'000, 3s).size();
    std::vector<Sent> all = batch1;
    all.insert(all.end(), batch2.begin(), batch2.end());
    const auto again = send_again(topics, all);
    ASSERT_TRUE(wait_for([&] { return all_decided_now(topics, again); }, 60s));
    const auto events = every_event(topics);
    for (const auto& source : again) EXPECT_EQ(events.at(source).header("outcome"), "duplicate");
    EXPECT_EQ(consume_all(kafka_bootstrap(), topics.deliveries, before + 1, 3s).size(), before)
        << "no duplicate was delivered again";

    // ... and what was pushed before the crash: Ocean's echo of it is recognised, not delivered.
    const auto echo = echo_bundle(1000, "1234", "sim_listing_1", "INTAKE", "accepted");
    ASSERT_EQ(echo.referral_ref, batch1[0].ref);
    const Source echo_source =
        produce_record(topics.inbound, echo.referral_ref, echo.body, inbound_headers(echo, "1234"));
    ASSERT_TRUE(wait_for([&] { return all_decided_now(topics, {echo_source}); }, 60s));
    EXPECT_EQ(every_event(topics).at(echo_source).header("outcome"), "echo");
    EXPECT_EQ(second.terminate(), 0);
}

TEST(RouterProcess, ARebalanceMovesTheStateWithThePartitions) {
    const RouterTopics topics = router_topics("rebalance");
    const std::string group = topics.prefix + "group";
    const int port_a = free_port();
    auto a = std::make_unique<RouterProcess>(router_yaml(topics, 4, group, port_a));
    ASSERT_TRUE(a->started());
    ASSERT_TRUE(wait_for([&] { return owned_partitions(port_a) == 4; }, 60s));
    const auto sent = send_originals(topics, 3000, 24);
    ASSERT_TRUE(
        wait_for([&] { return consume_all(kafka_bootstrap(), topics.events, 24, 2s).size() >= 24; }, 60s));

    // A second instance joins: the cooperative rebalance gives it some partitions, and their state.
    const int port_b = free_port();
    RouterProcess b(router_yaml(topics, 4, group, port_b));
    ASSERT_TRUE(b.started());
    ASSERT_TRUE(wait_for(
        [&] {
            return owned_partitions(port_b) > 0 && owned_partitions(port_a) > 0 &&
                   owned_partitions(port_a) + owned_partitions(port_b) == 4;
        },
        90s));
    auto again = send_again(topics, sent);
    ASSERT_TRUE(wait_for([&] { return all_decided_now(topics, again); }, 60s));
    auto events = every_event(topics);
    std::set<std::string> deciders;
    for (const auto& source : again) {
        EXPECT_EQ(events.at(source).header("outcome"), "duplicate");
        deciders.insert(std::string(boost::json::parse(events.at(source).value).at("router").as_string()));
    }
    EXPECT_EQ(deciders.size(), 2U) << "both instances decided some of the duplicates";

    // The first instance leaves cleanly: the second takes everything, with the state.
    EXPECT_EQ(a->terminate(), 0);
    ASSERT_TRUE(wait_for([&] { return owned_partitions(port_b) == 4; }, 90s));
    again = send_again(topics, sent);
    ASSERT_TRUE(wait_for([&] { return all_decided_now(topics, again); }, 60s));
    events = every_event(topics);
    for (const auto& source : again) EXPECT_EQ(events.at(source).header("outcome"), "duplicate");
    EXPECT_EQ(consume_all(kafka_bootstrap(), topics.deliveries, 49, 3s).size(), 48U)
        << "24 referrals to 2 destinations, once";
    EXPECT_EQ(b.terminate(), 0);
}

}  // namespace
}  // namespace relay::test
