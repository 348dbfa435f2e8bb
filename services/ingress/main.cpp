// ocean-relay ingress: accepts Ocean's webhooks and publishes them to Kafka.
#include <CLI/CLI.hpp>
#include <iostream>

#include "config.hpp"
#include "ingress.hpp"
#include "relay/core/log.hpp"

int main(int argc, char** argv) {
    CLI::App app{
        "ocean-relay ingress: Ocean webhooks in, Kafka records out (200 only after the broker's ack)"};
    std::string config_path;
    bool check_only = false;
    app.add_option("-c,--config",
                   config_path,
                   "YAML configuration file (RELAY_* environment variables override keys)")
        ->required();
    app.add_flag("--check-config", check_only, "validate the configuration and exit");
    CLI11_PARSE(app, argc, argv);

    relay::log::set_service("ingress");
    try {
        relay::ingress::IngressConfig config = relay::ingress::load_config_file(config_path);
        if (check_only) {
            std::cout << "configuration OK: " << config.integrations.size() << " integration(s)\n";
            return 0;
        }
        relay::ingress::Ingress ingress(std::move(config));
        return ingress.run();
    } catch (const relay::ConfigError& e) {
        relay::log::error("configuration error", {{"error", e.what()}});
        std::cerr << "configuration error: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        relay::log::error("start-up failed", {{"error", e.what()}});
        return 1;
    }
}
