# The whole loop on the real broker, every service as its own process and every role in the one
# ocean-relay process: ocean-sim → ingress → router → delivery → pos-sim → hub API → updater →
# ocean-sim, with Ocean's echoes suppressed.
relay_add_test(loop_test
  SOURCES loop_test.cpp process_util.cpp
  DEPS relay_test_support relay::http relay::kafka Boost::json fmt::fmt
  LABELS kafka
  FIXTURES kafka)
target_compile_definitions(loop_test PRIVATE
  RELAY_INGRESS_BINARY="$<TARGET_FILE:ocean-relay-ingress>"
  RELAY_ROUTER_BINARY="$<TARGET_FILE:ocean-relay-router>"
  RELAY_DELIVERY_BINARY="$<TARGET_FILE:ocean-relay-delivery>"
  RELAY_UPDATER_BINARY="$<TARGET_FILE:ocean-relay-updater>"
  RELAY_ALL_IN_ONE_BINARY="$<TARGET_FILE:ocean-relay>"
  RELAY_POS_SIM_BINARY="$<TARGET_FILE:pos-sim>"
  RELAY_OCEAN_SIM_BINARY="$<TARGET_FILE:ocean-sim>")
add_dependencies(loop_test ocean-relay ocean-relay-ingress ocean-relay-router ocean-relay-delivery ocean-relay-updater pos-sim ocean-sim)
