// ocean-relay updater: hub decisions from relay.updates.v1 → Ocean's $process-messages, in order per
// referral, with per-site OAuth2 tokens, retries in memory and dead letters (issue 6).
#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>

#include "relay/core/log.hpp"
#include "service.hpp"

namespace {

relay::updater::UpdaterService* g_service = nullptr;

extern "C" void on_signal(int /*signal*/) {
    // Only an atomic store: safe in a signal handler.
    if (g_service != nullptr) g_service->stop();
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "ocean-relay updater: hub updates from Kafka → Ocean's $process-messages, with retries and dead "
        "letters"};
    std::string config_path;
    bool check_only = false;
    app.add_option("-c,--config",
                   config_path,
                   "YAML configuration file (RELAY_* environment variables override keys)")
        ->required();
    app.add_flag("--check-config", check_only, "validate the configuration and exit");
    CLI11_PARSE(app, argc, argv);

    relay::log::set_service("updater");
    try {
        auto config = relay::updater::load_service_config_file(config_path);
        relay::log::set_level(config.log_level);
        if (check_only) {
            std::cout << "configuration OK: " << config.ocean.sites.size() << " Ocean site(s) at "
                      << config.ocean.base_url << "\n";
            return 0;
        }
        relay::updater::UpdaterService service(std::move(config));
        g_service = &service;
        std::signal(SIGTERM, on_signal);
        std::signal(SIGINT, on_signal);
        const int code = service.run();
        g_service = nullptr;
        relay::log::info("updater stopped", {{"exit_code", code}});
        return code;
    } catch (const relay::ConfigError& e) {
        relay::log::error("configuration error", {{"error", e.what()}});
        std::cerr << "configuration error: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        relay::log::error("updater failed", {{"error", e.what()}});
        return 1;
    }
}
