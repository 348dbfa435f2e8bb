#include "relay/service/main.hpp"

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <iostream>
#include <thread>

#include "relay/core/config.hpp"
#include "relay/core/log.hpp"

namespace relay::service {
namespace asio = boost::asio;

const char* version() {
    return RELAY_VERSION;
}

namespace {

/// Turns SIGTERM / SIGINT into process.stop(), on a thread of its own; a second signal is logged (the
/// stop is under way and bounded by the grace period).
class SignalStopper {
   public:
    explicit SignalStopper(Process& process) : process_(process) {
        signals_.async_wait([this](const boost::system::error_code& ec, int signal) { on_signal(ec, signal); });
        thread_ = std::thread([this] { ioc_.run(); });
    }
    ~SignalStopper() {
        ioc_.stop();
        thread_.join();
    }
    SignalStopper(const SignalStopper&) = delete;
    SignalStopper& operator=(const SignalStopper&) = delete;

   private:
    void on_signal(const boost::system::error_code& ec, int signal) {
        if (ec) return;
        if (stops_++ == 0) {
            log::info("stopping", {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}});
            process_.stop();
        } else {
            log::warn("already stopping; waiting for the work in flight (bounded by the grace period)");
        }
        signals_.async_wait([this](const boost::system::error_code& e, int s) { on_signal(e, s); });
    }

    Process& process_;
    asio::io_context ioc_{1};
    asio::signal_set signals_{ioc_, SIGTERM, SIGINT};
    int stops_ = 0;
    std::thread thread_;
};

}  // namespace

int run_main(int argc, char** argv, const Program& program) {
    CLI::App app{program.description};
    std::string config_path;
    bool check_only = false;
    app.add_option("-c,--config", config_path, "YAML configuration file (RELAY_* environment variables override keys)")
        ->required();
    app.add_flag("--check-config", check_only, "validate the configuration and exit");
    app.set_version_flag("--version", std::string("ocean-relay ") + program.name + " " + version());
    CLI11_PARSE(app, argc, argv);

    log::set_service(program.name);
    try {
        LoadedConfig loaded = program.load(config_path);
        log::set_level(loaded.log_level);
        if (check_only) {
            std::cout << "configuration OK";
            if (!loaded.summary.empty()) std::cout << ": " << loaded.summary;
            std::cout << "\n";
            return 0;
        }
        std::unique_ptr<Process> process = loaded.start();
        int code = 0;
        {
            SignalStopper stopper(*process);
            code = process->run();
        }
        process.reset();
        log::info(program.name + " stopped", {{"exit_code", code}});
        return code;
    } catch (const ConfigError& e) {
        log::error("configuration error", {{"error", e.what()}});
        std::cerr << "configuration error: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        log::error(program.name + " failed", {{"error", e.what()}});
        return 1;
    }
}

}  // namespace relay::service
