// ocean-relay launch: Ocean's Referral System Launch (ocean-api.md §6). Ocean sends a clinician's browser
// to GET /ocean/{integration}/launch (a redirect, or inside an iframe); the service confirms the referral
// with Ocean itself (Open API, the site's credentials) before anything is shown, issues a short-lived,
// one-time, signed launch context without patient data, and sends the browser to the hub system's launch
// URL for the referral's listing / External Service ID. The hub system redeems the context
// (POST /hub/v1/launch/redeem, authenticated as that hub system) for the referral's details, fetched from
// Ocean and decrypted at that moment (nothing rests here), then sends the browser back to the completion
// page, which shows the integration's confirmation message.
//
// One-time use is remembered in this process: run one replica, or give every replica's hub systems the
// replica they launched from (session affinity on the context), until the memory is shared.
#pragma once

#include <cstdint>
#include <memory>

#include "config.hpp"

namespace relay::launch {

class LaunchService {
   public:
    /// Binds both listeners (throws ConfigError naming the listener if it cannot).
    explicit LaunchService(LaunchConfig config);
    ~LaunchService();
    LaunchService(const LaunchService&) = delete;
    LaunchService& operator=(const LaunchService&) = delete;

    /// Serves until stop(); 0 after a clean stop.
    int run();
    /// Thread-safe: stops accepting, lets requests in flight finish, then run() returns.
    void stop();

    [[nodiscard]] std::uint16_t port() const;
    [[nodiscard]] std::uint16_t admin_port() const;

    struct Impl;

   private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace relay::launch
