// The delivery service on the real broker, in-process, delivering over TLS to pos-sim with a test CA
// made by the openssl CLI: verified TLS with the destination's CA file, mutual TLS with a client
// certificate, a server the system trust store does not know (never delivered: a verification failure
// is not success), and a mutual-TLS route called without a client certificate (refused, dead-lettered).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <thread>

#include "delivery_test_util.hpp"
#include "relay/core/log.hpp"
#include "service.hpp"

namespace relay::test {
namespace {

using namespace std::chrono_literals;

/// The service on its own thread, stopped (as by SIGTERM) when it goes out of scope.
class RunningDelivery {
   public:
    explicit RunningDelivery(const std::string& yaml) {
        auto reader = ConfigReader::from_string(
            yaml, "RELAY", [](const std::string&) { return std::optional<std::string>(); });
        auto config = delivery_service::load_service_config(reader);
        log::set_level(config.log_level);
        service_ = std::make_unique<delivery_service::DeliveryService>(std::move(config));
        thread_ = std::thread([this] { exit_code_ = service_->run(); });
    }
    ~RunningDelivery() { stop(); }
    RunningDelivery(const RunningDelivery&) = delete;
    RunningDelivery& operator=(const RunningDelivery&) = delete;
    int stop() {
        if (thread_.joinable()) {
            service_->stop();
            thread_.join();
        }
        return exit_code_;
    }

   private:
    std::unique_ptr<delivery_service::DeliveryService> service_;
    std::thread thread_;
    int exit_code_ = -1;
};

/// pos-sim on a TLS listener (its certificate signed by the test CA; client certificates from the same
/// CA are verified, and required by routes that say so), on a thread of its own.
class TlsPosSim {
   public:
    TlsPosSim(const std::filesystem::path& pki, const std::string& routes_yaml) {
        const std::string yaml = fmt::format(R"(
listener:
  address: 127.0.0.1
  port: 0
  tls: {{cert_file: "{0}/server.pem", key_file: "{0}/server.key", client_ca_file: "{0}/ca.pem"}}
admin: {{address: 127.0.0.1, port: 0}}
routes:
{1}
)",
                                             pki.string(),
                                             routes_yaml);
        auto parse = [&] {
            auto reader = ConfigReader::from_string(
                yaml, "RELAY_POS", [](const std::string&) { return std::optional<std::string>(); });
            return pos_sim::load_pos_sim_config(reader);
        };
        sim_ = std::make_unique<pos_sim::PosSim>(parse());
        server_ = std::make_unique<http::Server>(ioc_, parse().listener, sim_->handler());
        server_->start();
        thread_ = std::thread([this] { ioc_.run(); });
    }
    ~TlsPosSim() {
        server_->stop_accepting();
        ioc_.stop();
        thread_.join();
    }
    TlsPosSim(const TlsPosSim&) = delete;
    TlsPosSim& operator=(const TlsPosSim&) = delete;

    [[nodiscard]] std::string url(const std::string& route) const {
        return fmt::format("https://127.0.0.1:{}/{}", server_->port(), route);
    }
    pos_sim::PosSim& sim() { return *sim_; }

   private:
    boost::asio::io_context ioc_;
    std::unique_ptr<pos_sim::PosSim> sim_;
    std::unique_ptr<http::Server> server_;
    std::thread thread_;
};

std::string destination(const std::string& id, const std::string& url, const std::string& tls) {
    return fmt::format(
        "  - id: {}\n    url: {}\n    timeout: 3s\n    connect_timeout: 2s\n"
        "    breaker: {{consecutive_failures: 100000, minimum_calls: 100000}}\n"
        "    retry: {{initial: 200ms, max_delay: 800ms, multiplier: 2, max_attempts: 100, max_age: 5m}}\n{}",
        id,
        url,
        tls.empty() ? "" : "    tls: " + tls + "\n");
}

/// Every event so far (the topic read to its end, waiting a moment for stragglers).
std::vector<ConsumedRecord> all_events(const DeliveryTopics& topics) {
    return read_topic(topics.events, std::numeric_limits<std::size_t>::max(), 1500ms);
}

std::size_t count_outcome(const std::vector<ConsumedRecord>& events, const std::string& outcome) {
    return static_cast<std::size_t>(std::count_if(events.begin(), events.end(), [&](const ConsumedRecord& e) {
        return e.header("outcome") == outcome;
    }));
}

class DeliveryTls : public ::testing::Test {
   protected:
    /// A test CA, a server certificate for IP 127.0.0.1 and a client certificate, both signed by it.
    static void SetUpTestSuite() {
        pki_ = std::filesystem::temp_directory_path() / fmt::format("relay-delivery-tls-{}", ::getpid());
        std::filesystem::create_directories(pki_);
        std::ofstream(pki_ / "server.ext") << "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n";
        std::ofstream(pki_ / "client.ext") << "extendedKeyUsage=clientAuth\n";
        const std::string key = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
        const std::vector<std::string> steps{
            fmt::format(
                "openssl req -x509 {1} -days 1 -subj /CN=relay-test-ca "
                "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign "
                "-keyout '{0}/ca.key' -out '{0}/ca.pem'",
                pki_.string(),
                key),
            fmt::format("openssl req {1} -subj /CN=127.0.0.1 -keyout '{0}/server.key' -out '{0}/server.csr'",
                        pki_.string(),
                        key),
            fmt::format("openssl x509 -req -in '{0}/server.csr' -CA '{0}/ca.pem' -CAkey '{0}/ca.key' "
                        "-CAcreateserial -days 1 -extfile '{0}/server.ext' -out '{0}/server.pem'",
                        pki_.string()),
            fmt::format(
                "openssl req {1} -subj /CN=ocean-relay -keyout '{0}/client.key' -out '{0}/client.csr'",
                pki_.string(),
                key),
            fmt::format("openssl x509 -req -in '{0}/client.csr' -CA '{0}/ca.pem' -CAkey '{0}/ca.key' "
                        "-CAcreateserial -days 1 -extfile '{0}/client.ext' -out '{0}/client.pem'",
                        pki_.string()),
        };
        for (const auto& step : steps) {
            const std::string command = step + " >/dev/null 2>&1";
            ASSERT_EQ(std::system(command.c_str()), 0) << "openssl failed: " << step;
        }
    }
    static void TearDownTestSuite() { std::filesystem::remove_all(pki_); }

    static std::string file(const std::string& name) { return (pki_ / name).string(); }

    static inline std::filesystem::path pki_;
};

TEST_F(DeliveryTls, VerifiedTlsWithTheDestinationsCaFileDelivers) {
    TlsPosSim pos(pki_, "  - name: open");
    const auto topics = delivery_topics("tls-ca");
    RunningDelivery delivery(delivery_yaml(
        topics, destination("hub", pos.url("open"), fmt::format("{{ca_file: \"{}\"}}", file("ca.pem")))));
    const auto sent = produce_referrals(topics, "hub", "tls", 3, 2);
    ASSERT_TRUE(
        eventually([&] { return check_delivered_in_order(received(pos.sim(), "open"), sent).empty(); }, 30s))
        << check_delivered_in_order(received(pos.sim(), "open"), sent);
    for (const auto& [key, r] : received(pos.sim(), "open")) EXPECT_EQ(r.times, 1) << key;
    EXPECT_EQ(delivery.stop(), 0);
}

TEST_F(DeliveryTls, MutualTlsWithTheClientCertificateDelivers) {
    TlsPosSim pos(pki_, "  - name: mtls\n    require_client_certificate: true");
    const auto topics = delivery_topics("tls-mutual");
    RunningDelivery delivery(delivery_yaml(
        topics,
        destination("hub",
                    pos.url("mtls"),
                    fmt::format("{{ca_file: \"{}\", client_cert_file: \"{}\", client_key_file: \"{}\"}}",
                                file("ca.pem"),
                                file("client.pem"),
                                file("client.key")))));
    const auto sent = produce_referrals(topics, "hub", "mtls", 3, 2);
    ASSERT_TRUE(
        eventually([&] { return check_delivered_in_order(received(pos.sim(), "mtls"), sent).empty(); }, 30s))
        << check_delivered_in_order(received(pos.sim(), "mtls"), sent);
    for (const auto& [key, r] : received(pos.sim(), "mtls")) EXPECT_EQ(r.times, 1) << key;
    const auto events = all_events(topics);
    EXPECT_EQ(count_outcome(events, "delivered"), sent.size());
    EXPECT_EQ(count_outcome(events, "dead-lettered"), 0U);
    EXPECT_EQ(delivery.stop(), 0);
}

TEST_F(DeliveryTls, AServerTheSystemTrustStoreDoesNotKnowIsNeverDeliveredAndWaitsInRetry) {
    TlsPosSim pos(pki_, "  - name: open");
    const auto topics = delivery_topics("tls-untrusted");
    // No ca_file: the system's trust store, which does not know the test CA.
    RunningDelivery delivery(delivery_yaml(topics, destination("hub", pos.url("open"), "")));
    const auto sent = produce_referrals(topics, "hub", "untrusted", 3, 1);
    // A certificate that does not verify is never "delivered"; the records wait in retry (the fix — a
    // renewed certificate or a corrected CA file — happens elsewhere, and they then go through without a
    // replay), with the verification failure as the reason.
    std::vector<ConsumedRecord> events;
    ASSERT_TRUE(eventually([&] { return count_outcome(events = all_events(topics), "retry-scheduled") >= sent.size(); }, 30s));
    EXPECT_EQ(count_outcome(events, "delivered"), 0U);
    EXPECT_EQ(count_outcome(events, "dead-lettered"), 0U);
    EXPECT_TRUE(received(pos.sim(), "open").empty()) << "pos-sim never saw a request";
    for (const auto& e : events) {
        if (e.header("outcome") != "retry-scheduled") continue;
        const auto body = boost::json::parse(e.value).as_object();
        EXPECT_NE(std::string(body.at("excerpt").as_string()).find("certificate verify failed"), std::string::npos)
            << e.value;
    }
    EXPECT_EQ(delivery.stop(), 0);
}

TEST_F(DeliveryTls, AMutualTlsRouteRefusesACallerWithoutAClientCertificate) {
    TlsPosSim pos(pki_, "  - name: mtls\n    require_client_certificate: true");
    const auto topics = delivery_topics("tls-nocert");
    RunningDelivery delivery(delivery_yaml(
        topics, destination("hub", pos.url("mtls"), fmt::format("{{ca_file: \"{}\"}}", file("ca.pem")))));
    const auto sent = produce_referrals(topics, "hub", "nocert", 3, 1);
    // pos-sim answers 403: a permanent refusal, dead-lettered at the first attempt.
    const auto dlq = read_topic(topics.dlq, sent.size(), 30s);
    ASSERT_EQ(dlq.size(), sent.size());
    for (const auto& d : dlq) {
        EXPECT_EQ(d.header("dlq-status"), "403");
        EXPECT_EQ(d.header("attempt"), "1");
        EXPECT_NE(d.header("dlq-excerpt").find("client_certificate_required"), std::string::npos)
            << d.header("dlq-excerpt");
    }
    EXPECT_TRUE(received(pos.sim(), "mtls").empty());
    EXPECT_EQ(count_outcome(all_events(topics), "delivered"), 0U);
    EXPECT_EQ(delivery.stop(), 0);
}

}  // namespace
}  // namespace relay::test
