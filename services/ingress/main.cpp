// ocean-relay ingress: accepts Ocean's webhooks and publishes them to Kafka.
#include <fmt/format.h>

#include "config.hpp"
#include "ingress.hpp"
#include "relay/service/main.hpp"

int main(int argc, char** argv) {
    using namespace relay;
    return service::run_main(
        argc,
        argv,
        {"ingress",
         "ocean-relay ingress: Ocean webhooks in, Kafka records out (200 only after the broker's ack)",
         [](const std::string& path) {
             auto config = ingress::load_config_file(path);
             auto summary = fmt::format("{} integration(s)", config.integrations.size());
             return service::load_service<ingress::Ingress>(std::move(config), std::move(summary));
         }});
}
