// ocean-relay fetcher: Ocean's Open API / Patient Engagement notifications → the patient and the note
// they name, fetched from Ocean's Open API with the site's credentials, decrypted, rendered → the
// delivery service's topic.
#include <fmt/format.h>

#include "config.hpp"
#include "fetcher.hpp"
#include "relay/service/main.hpp"

int main(int argc, char** argv) {
    using namespace relay;
    return service::run_main(
        argc,
        argv,
        {"fetcher",
         "ocean-relay fetcher: Ocean's Open API / Patient Engagement notifications → fetched, decrypted, "
         "rendered deliveries",
         [](const std::string& path) {
             auto config = fetcher::load_config_file(path);
             auto summary = fmt::format("{} Ocean site(s) at {}, {} eForm destination(s)",
                                        config.ocean.sites.size(),
                                        config.ocean.base_url,
                                        config.eform_destinations.size());
             return service::load_service<fetcher::FetcherService>(std::move(config), std::move(summary));
         }});
}
