// ocean-relay: every role (ingress, router, delivery, updater) in one process, from one file.
#include "all_in_one.hpp"
#include "relay/service/main.hpp"

int main(int argc, char** argv) {
    return relay::service::run_main(
        argc,
        argv,
        {"ocean-relay",
         "ocean-relay, all in one process: Ocean's webhooks in, hub systems out, decisions back to Ocean",
         relay::all_in_one::load});
}
