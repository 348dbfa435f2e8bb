// The admin listener every process runs: GET/HEAD /metrics, /healthz, /readyz; query strings ignored;
// 404 for other paths, 405 (Allow: GET, HEAD) for other methods; bodies refused before they are read.
// It serves on a thread of its own, so a probe is answered while the service's own thread is busy
// (restoring a partition's state, for instance).
#pragma once

#include <prometheus/registry.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <optional>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "relay/http/server.hpp"

namespace relay::service {

/// A probe's answer: 200 with `body` when `ok`, else 503 with it.
struct ProbeResult {
    bool ok = true;
    std::string body;
};

struct AdminProbes {
    /// Liveness: false only when a restart is the cure.
    std::function<ProbeResult()> health;
    /// Readiness: whether to send this process work.
    std::function<ProbeResult()> ready;
    /// Called before each scrape, to refresh gauges that are computed rather than kept.
    std::function<void()> before_scrape;
};

/// `{"status":"<word>"}`
std::string status_body(std::string_view word);

class AdminServer {
   public:
    /// Binds at once (throws ConfigError naming the listener if it cannot) and serves on its own thread.
    AdminServer(http::ListenerConfig listener, std::shared_ptr<prometheus::Registry> registry, AdminProbes probes);
    ~AdminServer();
    AdminServer(const AdminServer&) = delete;
    AdminServer& operator=(const AdminServer&) = delete;

    [[nodiscard]] std::uint16_t port() const;
    /// Closes the listener and joins the thread (also done by the destructor).
    void stop();

   private:
    boost::asio::awaitable<http::Response> handle(http::Request& request);
    http::Response answer(const http::Request& request);

    std::shared_ptr<prometheus::Registry> registry_;
    AdminProbes probes_;
    boost::asio::io_context ioc_{1};
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
    std::unique_ptr<http::Server> server_;
    std::thread thread_;
};

}  // namespace relay::service
