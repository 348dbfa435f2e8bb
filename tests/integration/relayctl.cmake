# relayctl (the DLQ operator CLI) on the real broker: its commands in-process, and the binary's exit codes.
relay_add_test(relayctl_test
  SOURCES relayctl_test.cpp
  DEPS relay_relayctl_objs relay_test_support
  LABELS kafka
  FIXTURES kafka)
target_compile_definitions(relayctl_test PRIVATE RELAY_RELAYCTL_BINARY="$<TARGET_FILE:relayctl>")
add_dependencies(relayctl_test relayctl)
