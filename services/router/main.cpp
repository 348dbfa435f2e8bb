// ocean-relay router: Ocean's inbound bundles → deduplicated, routed, rendered delivery records.
#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>
#include <thread>

#include "config.hpp"
#include "relay/core/log.hpp"
#include "router.hpp"

namespace {

relay::router::Router* g_router = nullptr;

extern "C" void on_signal(int /*signal*/) {
    // Only an atomic store: safe in a signal handler.
    if (g_router != nullptr) g_router->stop();
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "ocean-relay router: Ocean's bundles from Kafka → dedup, echo suppression, routing, rendering"};
    std::string config_path;
    bool check_only = false;
    app.add_option("-c,--config",
                   config_path,
                   "YAML configuration file (RELAY_* environment variables override keys)")
        ->required();
    app.add_flag("--check-config", check_only, "validate the configuration and exit");
    CLI11_PARSE(app, argc, argv);

    relay::log::set_service("router");
    try {
        relay::router::RouterConfig config = relay::router::load_config_file(config_path);
        relay::log::set_level(config.log_level);
        if (check_only) {
            std::cout << "configuration OK: " << config.destinations.size() << " destination(s), "
                      << config.routes.size() << " route(s)\n";
            return 0;
        }
        relay::router::Router router(std::move(config));
        g_router = &router;
        std::signal(SIGTERM, on_signal);
        std::signal(SIGINT, on_signal);
        const int code = router.run();
        g_router = nullptr;
        relay::log::info("router stopped", {{"exit_code", code}});
        return code;
    } catch (const relay::ConfigError& e) {
        relay::log::error("configuration error", {{"error", e.what()}});
        std::cerr << "configuration error: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        relay::log::error("router failed", {{"error", e.what()}});
        return 1;
    }
}
