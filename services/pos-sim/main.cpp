// pos-sim: a hub's point-of-service system, simulated — accepts and records deliveries, misbehaves on
// request, and (with a launch section) takes Ocean's Referral System Launch from the relay.
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <iostream>

#include "pos_sim.hpp"
#include "relay/core/log.hpp"

int main(int argc, char** argv) {
    CLI::App app{
        "pos-sim: a hub system's delivery endpoints, recording every delivery, with fault injection"};
    std::string config_path;
    bool check_only = false;
    app.add_option(
           "-c,--config", config_path, "YAML configuration (RELAY_POS_* environment variables override keys)")
        ->required();
    app.add_flag("--check-config", check_only, "validate the configuration and exit");
    CLI11_PARSE(app, argc, argv);
    relay::log::set_service("pos-sim");
    try {
        auto reader = relay::ConfigReader::from_file(config_path, "RELAY_POS");
        auto config = relay::pos_sim::load_pos_sim_config(reader);
        if (check_only) {
            std::cout << "configuration OK\n";
            return 0;
        }
        relay::log::set_level(config.log_level);
        boost::asio::io_context ioc;
        relay::pos_sim::PosSim sim(config, ioc.get_executor());
        relay::http::Server deliveries(ioc, config.listener, sim.handler());
        relay::http::Server admin(ioc, config.admin, sim.admin_handler());
        deliveries.start();
        admin.start();
        relay::log::info("pos-sim started",
                         {{"port", static_cast<int>(deliveries.port())},
                          {"admin_port", static_cast<int>(admin.port())},
                          {"routes", static_cast<int>(config.routes.size())}});
        boost::asio::signal_set signals(ioc, SIGTERM, SIGINT);
        signals.async_wait([&](boost::system::error_code ec, int) {
            if (ec) return;
            deliveries.stop_accepting();
            deliveries.drain();
            admin.stop_accepting();
            admin.drain();
            ioc.stop();
        });
        ioc.run();
        std::cout << sim.deliveries_json() << std::endl;
        return 0;
    } catch (const relay::ConfigError& e) {
        std::cerr << "configuration error: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "pos-sim failed: " << e.what() << "\n";
        return 1;
    }
}
