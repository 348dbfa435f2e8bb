#include "relay/core/secret.hpp"

#include <fstream>
#include <sstream>

#include "relay/core/config.hpp"
#include "relay/core/encoding.hpp"

namespace relay {

Secret Secret::from_file(const std::string& path, std::string_view config_key) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw ConfigError(std::string(config_key) + ": cannot read secret file '" + path + "'");
    }
    std::ostringstream buffer;
    buffer << in.rdbuf();
    std::string value = buffer.str();
    if (!value.empty() && value.back() == '\n') value.pop_back();
    if (!value.empty() && value.back() == '\r') value.pop_back();
    if (value.empty()) {
        throw ConfigError(std::string(config_key) + ": secret file '" + path + "' is empty");
    }
    return Secret(std::move(value));
}

Secret Secret::from_env(const std::string& name, std::string_view config_key) {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr || *value == '\0') {
        throw ConfigError(std::string(config_key) + ": environment variable '" + name +
                          "' is unset or empty");
    }
    return Secret(value);
}

bool Secret::equals(std::string_view candidate) const {
    return constant_time_equals(value_, candidate);
}

}  // namespace relay
