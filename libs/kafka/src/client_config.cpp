#include "client_config.hpp"

#include <array>

#include "relay/core/config.hpp"

namespace relay::kafka::detail {

void set(rd_kafka_conf_t* conf, const std::string& name, const std::string& value) {
    std::array<char, 512> error{};
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), error.data(), error.size()) !=
        RD_KAFKA_CONF_OK) {
        throw ConfigError("kafka property '" + name + "': " + error.data());
    }
}

rd_kafka_conf_t* make_conf(const ClientConfig& client) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    try {
        set(conf, "bootstrap.servers", client.bootstrap_servers);
        set(conf, "client.id", client.client_id);
        for (const auto& [name, value] : client.properties) set(conf, name, value);
    } catch (...) {
        rd_kafka_conf_destroy(conf);
        throw;
    }
    return conf;
}

}  // namespace relay::kafka::detail
