// ocean-relay delivery: relay.deliveries.v1 → the hub systems, in order per referral, with retries
// through delay tiers, dead letters and an outcome per record.
#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>

#include "relay/core/log.hpp"
#include "service.hpp"

namespace {

relay::delivery::DeliveryService* g_service = nullptr;

extern "C" void on_signal(int /*signal*/) {
    // Only an atomic store: safe in a signal handler.
    if (g_service != nullptr) g_service->stop();
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "ocean-relay delivery: delivery records from Kafka → hub systems, with retries and dead letters"};
    std::string config_path;
    bool check_only = false;
    app.add_option("-c,--config",
                   config_path,
                   "YAML configuration file (RELAY_* environment variables override keys)")
        ->required();
    app.add_flag("--check-config", check_only, "validate the configuration and exit");
    CLI11_PARSE(app, argc, argv);

    relay::log::set_service("delivery");
    try {
        auto config = relay::delivery::load_service_config_file(config_path);
        relay::log::set_level(config.log_level);
        if (check_only) {
            std::cout << "configuration OK: " << config.delivery.destinations.size() << " destination(s), "
                      << config.delivery.retry_tiers.size() << " retry tier(s)\n";
            return 0;
        }
        relay::delivery::DeliveryService service(std::move(config));
        g_service = &service;
        std::signal(SIGTERM, on_signal);
        std::signal(SIGINT, on_signal);
        const int code = service.run();
        g_service = nullptr;
        relay::log::info("delivery stopped", {{"exit_code", code}});
        return code;
    } catch (const relay::ConfigError& e) {
        relay::log::error("configuration error", {{"error", e.what()}});
        std::cerr << "configuration error: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        relay::log::error("delivery failed", {{"error", e.what()}});
        return 1;
    }
}
