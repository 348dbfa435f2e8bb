# The delivery service as a separate process on the real broker (SIGKILL mid-load and restart, a DLQ
# replay with the relayctl binary, SIGTERM draining), and over TLS to pos-sim (a test CA, mutual TLS).
relay_add_test(delivery_process_test
  SOURCES delivery_process_test.cpp delivery_test_util.cpp process_util.cpp
  DEPS relay_delivery_objs relay_pos_sim_objs relay_test_support
  LABELS kafka
  FIXTURES kafka)
target_compile_definitions(delivery_process_test PRIVATE
  RELAY_DELIVERY_BINARY="$<TARGET_FILE:ocean-relay-delivery>"
  RELAY_RELAYCTL_BINARY="$<TARGET_FILE:relayctl>")
add_dependencies(delivery_process_test ocean-relay-delivery relayctl)

relay_add_test(delivery_tls_test
  SOURCES delivery_tls_test.cpp delivery_test_util.cpp
  DEPS relay_delivery_objs relay_pos_sim_objs relay_test_support
  LABELS kafka
  FIXTURES kafka)
