// A tiny service for run_main's tests (service_main_test.cpp): its Program::load reads a `fixture:`
// section, and its Process::run blocks until stop(), waits `stop_delay` (a drain) and returns `exit_code`.
#include <fmt/format.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "relay/core/config.hpp"
#include "relay/core/log.hpp"
#include "relay/service/main.hpp"

namespace {

struct FixtureConfig {
    std::string log_level = "info";
    std::string name;
    int exit_code = 0;
    std::chrono::milliseconds stop_delay{0};
    bool fail_at_start = false;
};

class FixtureProcess : public relay::service::Process {
   public:
    explicit FixtureProcess(FixtureConfig config) : config_(std::move(config)) {}

    int run() override {
        relay::log::info("fixture running", {{"name", config_.name}});
        std::unique_lock lock(mutex_);
        stopped_.wait(lock, [this] { return stop_calls_ > 0; });
        lock.unlock();
        std::this_thread::sleep_for(config_.stop_delay);  // the work in flight, drained
        lock.lock();
        relay::log::info("fixture run returns",
                         {{"stop_calls", stop_calls_}, {"exit_code", config_.exit_code}});
        return config_.exit_code;
    }

    void stop() override {
        std::lock_guard lock(mutex_);
        ++stop_calls_;
        stopped_.notify_all();
    }

   private:
    FixtureConfig config_;
    std::mutex mutex_;
    std::condition_variable stopped_;
    int stop_calls_ = 0;
};

relay::service::LoadedConfig load(const std::string& path) {
    auto reader = relay::ConfigReader::from_file(path, "RELAY");
    auto root = reader.root();
    FixtureConfig config;
    config.log_level = root.choice("log_level", "info", {"debug", "info", "warn", "error"});
    auto fixture = root.child("fixture");
    config.name = fixture.required_string("name");
    config.exit_code = static_cast<int>(fixture.integer("exit_code", 0, 0, 125));
    config.stop_delay = fixture.duration("stop_delay", std::chrono::milliseconds(0));
    config.fail_at_start = fixture.boolean("fail_at_start", false);
    reader.check_no_unknown_keys();

    relay::service::LoadedConfig loaded;
    loaded.log_level = config.log_level;
    loaded.summary = fmt::format("fixture '{}', exit code {}", config.name, config.exit_code);
    loaded.start = [config]() -> std::unique_ptr<relay::service::Process> {
        // What only shows when starting (a port in use, a topic missing) is a configuration error too.
        if (config.fail_at_start) throw relay::ConfigError("fixture.fail_at_start: refused to start");
        return std::make_unique<FixtureProcess>(config);
    };
    return loaded;
}

}  // namespace

int main(int argc, char** argv) {
    const relay::service::Program program{"fixture", "run_main's test fixture", load};
    return relay::service::run_main(argc, argv, program);
}
