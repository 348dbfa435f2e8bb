// ocean-relay router: Ocean's inbound bundles → deduplicated, routed, rendered delivery records.
#include <fmt/format.h>

#include "config.hpp"
#include "relay/service/main.hpp"
#include "router.hpp"

int main(int argc, char** argv) {
    using namespace relay;
    return service::run_main(
        argc,
        argv,
        {"router",
         "ocean-relay router: Ocean's bundles from Kafka → dedup, echo suppression, routing, rendering",
         [](const std::string& path) {
             auto config = router::load_config_file(path);
             auto summary =
                 fmt::format("{} destination(s), {} route(s)", config.destinations.size(), config.routes.size());
             return service::load_service<router::Router>(std::move(config), std::move(summary));
         }});
}
