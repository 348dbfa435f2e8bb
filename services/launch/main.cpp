// ocean-relay launch: Ocean's Referral System Launch → the referral confirmed with Ocean → a signed,
// one-time launch context → the hub system's launch page; the hub system redeems the context.
#include <fmt/format.h>

#include "config.hpp"
#include "launch_service.hpp"
#include "relay/service/main.hpp"

int main(int argc, char** argv) {
    using namespace relay;
    return service::run_main(
        argc,
        argv,
        {"launch",
         "ocean-relay launch: Ocean's Referral System Launch → a signed one-time context → the hub system",
         [](const std::string& path) {
             auto config = launch::load_config_file(path);
             auto summary = fmt::format("{} integration(s), {} hub system(s), Ocean at {}", config.integrations.size(),
                                        config.hub_systems.size(), config.ocean.base_url);
             return service::load_service<launch::LaunchService>(std::move(config), std::move(summary));
         }});
}
