#include "relay/service/admin.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/beast/http.hpp>
#include <future>

#include "relay/core/encoding.hpp"
#include "relay/metrics/metrics.hpp"

namespace relay::service {
namespace bhttp = boost::beast::http;
namespace asio = boost::asio;

namespace {

http::Response json_response(bhttp::status status, unsigned version, std::string body) {
    http::Response res{status, version};
    res.set(bhttp::field::content_type, "application/json");
    res.body() = std::move(body);
    return res;
}

std::string json_error(std::string_view error, std::string_view message) {
    std::string out = "{\"error\":";
    append_json_string(out, error);
    out += ",\"message\":";
    append_json_string(out, message);
    out += '}';
    return out;
}

http::Response probe_response(const std::function<ProbeResult()>& probe, unsigned version, std::string_view ok_word) {
    ProbeResult result = probe ? probe() : ProbeResult{true, status_body(ok_word)};
    if (result.body.empty()) result.body = status_body(result.ok ? ok_word : "unavailable");
    return json_response(result.ok ? bhttp::status::ok : bhttp::status::service_unavailable,
                         version,
                         std::move(result.body));
}

}  // namespace

std::string status_body(std::string_view word) {
    std::string out = "{\"status\":";
    append_json_string(out, word);
    out += '}';
    return out;
}

AdminServer::AdminServer(http::ListenerConfig listener,
                         std::shared_ptr<prometheus::Registry> registry,
                         AdminProbes probes)
    : registry_(std::move(registry)), probes_(std::move(probes)) {
    auto handler = [this](http::Request& request, const http::RequestContext&) { return handle(request); };
    http::ServerHooks hooks;
    hooks.error_body = [](int /*status*/, std::string_view code, std::string_view message, std::string_view) {
        return std::pair<std::string, std::string>("application/json", json_error(code, message));
    };
    // No body is read or charged to the process's body budget.
    hooks.admission = [](const http::Request& request, http::RequestContext& context) -> std::optional<http::Response> {
        if (context.content_length.value_or(0) == 0 && request.count(bhttp::field::transfer_encoding) == 0)
            return std::nullopt;
        return json_response(bhttp::status::payload_too_large,
                             request.version(),
                             json_error("payload_too_large", "admin endpoints take no body"));
    };
    server_ = std::make_unique<http::Server>(ioc_, std::move(listener), std::move(handler), std::move(hooks));
    server_->start();
    work_.emplace(ioc_.get_executor());
    thread_ = std::thread([this] { ioc_.run(); });
}

asio::awaitable<http::Response> AdminServer::handle(http::Request& request) {
    http::Response res = answer(request);
    // HEAD: the status and header fields of GET without the content (RFC 9110 9.3.2); a body sent here
    // would be read as the start of the next response on a kept-alive connection.
    if (request.method() == bhttp::verb::head) res.body().clear();
    co_return res;
}

http::Response AdminServer::answer(const http::Request& request) {
    std::string_view target(request.target().data(), request.target().size());
    if (const auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
    const unsigned version = request.version();
    if (target != "/metrics" && target != "/healthz" && target != "/readyz")
        return json_response(bhttp::status::not_found, version, json_error("not_found", "unknown admin path"));
    if (request.method() != bhttp::verb::get && request.method() != bhttp::verb::head) {
        auto res =
            json_response(bhttp::status::method_not_allowed, version, json_error("method_not_allowed", "use GET"));
        res.set(bhttp::field::allow, "GET, HEAD");
        return res;
    }
    if (target == "/metrics") {
        if (probes_.before_scrape) probes_.before_scrape();
        http::Response res{bhttp::status::ok, version};
        res.set(bhttp::field::content_type, metrics::kContentType);
        res.body() = metrics::serialize(*registry_);
        return res;
    }
    if (target == "/healthz") return probe_response(probes_.health, version, "ok");
    return probe_response(probes_.ready, version, "ready");
}

AdminServer::~AdminServer() {
    stop();
}

std::uint16_t AdminServer::port() const {
    return server_->port();
}

void AdminServer::stop() {
    if (!thread_.joinable()) return;
    std::promise<void> closed;
    asio::post(ioc_, [this, &closed] {
        // stop_accepting() posts the close: wait for it (handlers of this one-thread io_context run in
        // order), or ioc_.stop() below may leave the socket listening with nobody accepting.
        server_->stop_accepting();
        asio::post(ioc_, [&closed] { closed.set_value(); });
    });
    closed.get_future().wait();
    work_.reset();
    ioc_.stop();
    thread_.join();
}

}  // namespace relay::service
