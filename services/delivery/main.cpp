// ocean-relay delivery: relay.deliveries.v1 → the hub systems, in order per referral, with retries
// through delay tiers, dead letters and an outcome per record.
#include <fmt/format.h>

#include "relay/service/main.hpp"
#include "service.hpp"
#include "service_config.hpp"

int main(int argc, char** argv) {
    using namespace relay;
    return service::run_main(
        argc,
        argv,
        {"delivery",
         "ocean-relay delivery: delivery records from Kafka → hub systems, with retries and dead letters",
         [](const std::string& path) {
             auto config = delivery_service::load_service_config_file(path);
             auto summary = fmt::format("{} destination(s), {} retry tier(s)",
                                        config.delivery.destinations.size(),
                                        config.delivery.retry_tiers.size());
             return service::load_service<delivery_service::DeliveryService>(std::move(config),
                                                                             std::move(summary));
         }});
}
