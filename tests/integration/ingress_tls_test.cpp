// A TLS listener: a certificate made with the openssl CLI, a real TLS client over loopback.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdlib>
#include <filesystem>

#include "ingress_harness.hpp"

namespace relay::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

class IngressTls : public ::testing::Test {
   protected:
    std::filesystem::path dir =
        std::filesystem::temp_directory_path() / fmt::format("relay-tls-{}", ::getpid());
    void SetUp() override {
        std::filesystem::create_directories(dir);
        const std::string cmd = fmt::format(
            "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "
            "/CN=localhost "
            "-addext subjectAltName=IP:127.0.0.1 -keyout '{0}/key.pem' -out '{0}/cert.pem' >/dev/null 2>&1",
            dir.string());
        ASSERT_EQ(std::system(cmd.c_str()), 0) << "openssl could not make a test certificate";
    }
    void TearDown() override { std::filesystem::remove_all(dir); }

    std::string config(const std::string& cert, const std::string& key) const {
        return fmt::format(R"(
service: {{log_level: error, threads: 1}}
listeners: [{{address: 127.0.0.1, port: 0, tls: {{cert_file: "{}", key_file: "{}"}}}}]
admin: {{address: 127.0.0.1, port: 0}}
kafka: {{embedded: true, partitions: 1}}
integrations: [{{site: "1234"}}]
)",
                           cert,
                           key);
    }
};

TEST_F(IngressTls, AcceptsABundleOverVerifiedTls) {
    RunningIngress running(config((dir / "cert.pem").string(), (dir / "key.pem").string()));
    asio::io_context ioc;
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    ctx.load_verify_file((dir / "cert.pem").string());
    ctx.set_verify_mode(asio::ssl::verify_peer);
    beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
    beast::get_lowest_layer(stream).connect({asio::ip::make_address("127.0.0.1"), running.port()});
    stream.handshake(asio::ssl::stream_base::client);

    bhttp::request<bhttp::string_body> req{bhttp::verb::post, "/ocean/1234/fhir", 11};
    req.set(bhttp::field::host, "localhost");
    req.set(bhttp::field::content_type, "application/fhir+json");
    req.body() = small_bundle("tls-ref");
    req.prepare_payload();
    bhttp::write(stream, req);
    beast::flat_buffer buffer;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(stream, buffer, res);
    EXPECT_EQ(res.result_int(), 200) << res.body();
    EXPECT_NE(res.body().find("accepted as message"), std::string::npos);
}

TEST_F(IngressTls, PlainHttpOnATlsListenerGetsNoAnswer) {
    RunningIngress running(config((dir / "cert.pem").string(), (dir / "key.pem").string()));
    http::BlockingClient client("127.0.0.1", running.port(), std::chrono::seconds(5));
    EXPECT_THROW(client.post("/ocean/1234/fhir", small_bundle("r"), "application/fhir+json"), std::exception);
}

TEST_F(IngressTls, MissingCertificateIsAStartupErrorNamingTheFile) {
    try {
        RunningIngress running(config((dir / "absent.pem").string(), (dir / "key.pem").string()));
        FAIL() << "expected a ConfigError";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("absent.pem"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace relay::test
