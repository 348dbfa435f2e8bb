#pragma once

#include <librdkafka/rdkafka.h>

#include <string>

#include "relay/kafka/producer.hpp"

namespace relay::kafka::detail {

/// Sets one property; throws ConfigError naming it (and librdkafka's reason) when refused.
void set(rd_kafka_conf_t* conf, const std::string& name, const std::string& value);

/// A configuration with the bootstrap servers, client id and extra properties of `client`.
rd_kafka_conf_t* make_conf(const ClientConfig& client);

}  // namespace relay::kafka::detail
