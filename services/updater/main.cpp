// ocean-relay updater: hub decisions from relay.updates.v1 → Ocean's $process-messages, in order per
// referral, with per-site OAuth2 tokens, retries in memory and dead letters.
#include <fmt/format.h>

#include "relay/service/main.hpp"
#include "service.hpp"
#include "service_config.hpp"

int main(int argc, char** argv) {
    using namespace relay;
    return service::run_main(
        argc,
        argv,
        {"updater",
         "ocean-relay updater: hub updates from Kafka → Ocean's $process-messages, with retries and dead "
         "letters",
         [](const std::string& path) {
             auto config = updater::load_service_config_file(path);
             auto summary =
                 fmt::format("{} Ocean site(s) at {}", config.ocean.sites.size(), config.ocean.base_url);
             return service::load_service<updater::UpdaterService>(std::move(config), std::move(summary));
         }});
}
