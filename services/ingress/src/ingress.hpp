#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "config.hpp"
#include "metrics.hpp"
#include "relay/auth/authenticator.hpp"
#include "relay/auth/failure_limiter.hpp"
#include "relay/auth/token.hpp"
#include "relay/http/server.hpp"
#include "relay/kafka/embedded_cluster.hpp"
#include "relay/kafka/producer.hpp"
#include "relay/service/admin.hpp"

namespace relay::ingress {

/// The ingress process: Ocean's webhooks in, Kafka records out, 200 only after the broker's ack.
///
/// Lifecycle: construct (connects to Kafka, creates or verifies topics: throws on configuration
/// problems), start() (listeners and I/O threads), then shutdown() from any thread or a signal, and
/// wait(). Shutdown: /readyz fails, after `drain_delay` the listeners close, in-flight requests finish
/// (bounded by `grace_period`), the producer flushes, the threads end.
class Ingress {
   public:
    explicit Ingress(IngressConfig config);
    ~Ingress();
    Ingress(const Ingress&) = delete;
    Ingress& operator=(const Ingress&) = delete;

    void start();
    /// Starts the graceful shutdown; safe from any thread and idempotent.
    void shutdown();
    /// Blocks until shutdown has completed. True if every in-flight request finished in the grace period.
    bool wait();
    /// start(), then wait() for a shutdown(); the process exit code.
    int run();
    /// shutdown(), for the service runtime's signal handling.
    void stop() { shutdown(); }

    [[nodiscard]] std::uint16_t public_port(std::size_t listener = 0) const;
    [[nodiscard]] std::uint16_t admin_port() const;
    [[nodiscard]] std::string kafka_bootstrap() const;
    [[nodiscard]] bool ready() const;
    /// The in-process broker when kafka.embedded is set, else nullptr.
    [[nodiscard]] kafka::EmbeddedCluster* embedded_cluster() { return embedded_.get(); }
    [[nodiscard]] IngressMetrics& metrics() { return *metrics_; }

    struct Route;
    struct HubSystem;
    struct Admitted;

   private:
    /// Before the body: route, method, media type, throttling, header credentials (401/403 without
    /// reading a byte of the body), the route's body limit.
    std::optional<http::Response> admit_public(const http::Request& request, http::RequestContext& context);
    std::optional<http::Response> admit_hub(const http::Request& request,
                                            http::RequestContext& context,
                                            std::string_view path);
    /// Whether the failure limiter blocks this address or credential now: the Retry-After if so.
    std::optional<std::chrono::seconds> throttled(std::string_view address, std::string_view credential);
    void authentication_failed(std::string_view address, std::string_view credential, std::string_view where);
    http::Response refuse_fhir(const auth::AuthResult& result, const IntegrationConfig& integration, unsigned version);

    boost::asio::awaitable<http::Response> handle_public(http::Request& request,
                                                         const http::RequestContext& context);
    boost::asio::awaitable<http::Response> handle_fhir(http::Request& request, const Admitted& admitted);
    /// Ocean's Open API webhook: admission (ingress.cpp) judges method, rate limit, key, media type and
    /// body limit before the body, handle_openapi (openapi.cpp) the body; `key_segment` is the last path segment when the key came as one.
    std::optional<http::Response> admit_openapi(const http::Request& request,
                                                http::RequestContext& context,
                                                const Route& route,
                                                std::string_view key_segment);
    boost::asio::awaitable<http::Response> handle_openapi(http::Request& request, const Admitted& admitted);
    /// The Open API route whose path is `path` without its last segment (the key), else nullptr.
    [[nodiscard]] const Route* openapi_route_with_key(std::string_view path, std::string_view& key_segment) const;
    /// Whether `path` is an Open API webhook (with or without a key segment): its errors are JSON.
    [[nodiscard]] bool is_openapi_target(std::string_view path) const;
    /// Produces one record within kafka.ack_timeout and counts the acknowledgement's time: every path
    /// that stores something (FHIR, hub API, Open API) publishes through it.
    boost::asio::awaitable<kafka::DeliveryResult> publish(const std::string& topic,
                                                          const std::string& key,
                                                          std::string&& value,
                                                          std::vector<kafka::Header>&& headers);
    http::Response handle_token(http::Request& request, const Admitted& admitted);
    /// The hub API (hub_api.hpp): a request whose path is under hub_api.path_prefix.
    boost::asio::awaitable<http::Response> handle_hub(http::Request& request, const Admitted& admitted);
    http::Response handle_hub_token(http::Request& request, const Admitted& admitted);
    [[nodiscard]] bool is_hub_target(std::string_view path) const;
    boost::asio::awaitable<void> shutdown_sequence();
    void readiness_loop();

    IngressConfig config_;
    std::shared_ptr<prometheus::Registry> registry_;
    std::unique_ptr<IngressMetrics> metrics_;
    std::unique_ptr<kafka::EmbeddedCluster> embedded_;
    // Before the producer, which serves its delivery reports on it: the producer goes first, also when
    // the constructor throws.
    boost::asio::io_context ioc_;
    std::unique_ptr<kafka::Producer> producer_;
    std::unique_ptr<auth::TokenSigner> signer_;
    std::unique_ptr<auth::FailureLimiter> failures_;
    std::shared_ptr<http::BodyBudget> body_budget_;
    std::vector<std::unique_ptr<Route>> routes_;
    std::unordered_map<std::string, Route*> routes_by_path_;
    /// Hub systems in the order their credentials are tried: those with credentials first, scheme
    /// none without signature last (it admits anyone).
    std::vector<std::unique_ptr<HubSystem>> hub_systems_;

    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
    std::vector<std::unique_ptr<http::Server>> public_servers_;
    std::unique_ptr<service::AdminServer> admin_server_;
    std::vector<std::thread> threads_;

    std::atomic<bool> draining_{false};
    std::atomic<bool> kafka_ready_{false};
    std::atomic<bool> shutdown_started_{false};
    std::atomic<bool> drained_cleanly_{true};
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopped_ = false;
    std::thread readiness_thread_;
};

}  // namespace relay::ingress
