// What every process's main() does: the command line, logging, configuration errors (exit 2 naming
// the key), SIGTERM / SIGINT → a graceful stop, and the exit code.
#pragma once

#include <functional>
#include <memory>
#include <string>

namespace relay::service {

/// A running process: run() blocks until it has stopped; stop() may be called from any thread.
class Process {
   public:
    virtual ~Process() = default;
    /// 0 after a clean stop, 1 after a failure.
    virtual int run() = 0;
    virtual void stop() = 0;
};

/// A configuration that was read and validated.
struct LoadedConfig {
    std::string log_level = "info";
    /// One line for --check-config ("2 destination(s), 3 route(s)").
    std::string summary;
    /// Starts the process (binds, connects); throws ConfigError for what only shows at start.
    std::function<std::unique_ptr<Process>()> start;
};

struct Program {
    std::string name;         ///< "router": the log's service name and the binary's role
    std::string description;  ///< one line for --help
    /// Reads and validates the file (RELAY_* environment variables override keys); throws ConfigError.
    std::function<LoadedConfig(const std::string& path)> load;
};

/// A Process over any service class with `int run()` and a thread-safe `void stop()`.
template <typename Service>
class ServiceProcess : public Process {
   public:
    template <typename Config>
    explicit ServiceProcess(Config config) : service_(std::move(config)) {}
    int run() override { return service_.run(); }
    void stop() override { service_.stop(); }

   private:
    Service service_;
};

/// The LoadedConfig of a service whose configuration has a `log_level`.
template <typename Service, typename Config>
LoadedConfig load_service(Config config, std::string summary) {
    auto shared = std::make_shared<Config>(std::move(config));
    LoadedConfig loaded;
    loaded.log_level = shared->log_level;
    loaded.summary = std::move(summary);
    loaded.start = [shared]() -> std::unique_ptr<Process> {
        return std::make_unique<ServiceProcess<Service>>(std::move(*shared));
    };
    return loaded;
}

/// Parses `--config` (required), `--check-config`, `--version`, `--help`; returns the exit code.
int run_main(int argc, char** argv, const Program& program);

/// The relay's version, as built.
const char* version();

}  // namespace relay::service
