#pragma once

#include <memory>
#include <string>

#include "config.hpp"
#include "ingress.hpp"
#include "relay/core/config.hpp"
#include "relay/http/client.hpp"

namespace relay::test {

/// An ingress built from YAML (listeners on loopback port 0), started, and shut down on destruction.
class RunningIngress {
   public:
    explicit RunningIngress(const std::string& yaml);
    ~RunningIngress();

    ingress::Ingress& ingress() { return *ingress_; }
    [[nodiscard]] std::uint16_t port() const { return ingress_->public_port(); }
    [[nodiscard]] std::uint16_t admin_port() const { return ingress_->admin_port(); }
    [[nodiscard]] const ingress::IngressConfig& config() const { return config_; }
    http::BlockingClient client() const { return http::BlockingClient("127.0.0.1", port()); }
    /// Shuts down and waits; returns whether every in-flight request finished.
    bool stop();

   private:
    ingress::IngressConfig config_;
    std::unique_ptr<ingress::Ingress> ingress_;
    bool stopped_ = false;
};

ingress::IngressConfig parse_ingress_config(const std::string& yaml);

/// A minimal v0.11 message bundle whose target listing is on `site` (the integration's own, or it is 403).
std::string small_bundle(const std::string& ref,
                         const std::string& event = "add-service-request",
                         const std::string& site = "1234");

}  // namespace relay::test
