#include "relay/core/log.hpp"

#include <unistd.h>

#include <atomic>
#include <stdexcept>
#include <string>

#include "relay/core/encoding.hpp"
#include "relay/core/time.hpp"

namespace relay::log {
namespace {

std::atomic<int> g_min_level{static_cast<int>(Level::kInfo)};
std::string g_service = "ocean-relay";  // set once at start-up, before threads exist

constexpr std::string_view level_name(Level level) {
    switch (level) {
        case Level::kDebug:
            return "debug";
        case Level::kInfo:
            return "info";
        case Level::kWarn:
            return "warn";
        case Level::kError:
            return "error";
    }
    return "info";
}

}  // namespace

void set_level(Level level) {
    g_min_level.store(static_cast<int>(level));
}

void set_level(std::string_view level) {
    for (Level l : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError}) {
        if (level == level_name(l)) {
            set_level(l);
            return;
        }
    }
    throw std::invalid_argument("log level must be one of debug, info, warn, error");
}

bool enabled(Level level) {
    return static_cast<int>(level) >= g_min_level.load(std::memory_order_relaxed);
}

void set_service(std::string_view service) {
    g_service = service;
}

void write(Level level, std::string_view message, std::initializer_list<Field> fields) {
    if (!enabled(level)) return;
    std::string line;
    line.reserve(160 + message.size());
    line += "{\"ts\":\"";
    line += format_rfc3339_millis(system_now());
    line += "\",\"level\":\"";
    line += level_name(level);
    line += "\",\"service\":";
    append_json_string(line, g_service);
    line += ",\"msg\":";
    append_json_string(line, message);
    for (const Field& field : fields) {
        line += ',';
        append_json_string(line, field.key);
        line += ':';
        if (field.is_int) {
            line += std::to_string(field.int_value);
        } else {
            append_json_string(line, field.str_value);
        }
    }
    line += "}\n";
    // One write(2) per line: atomic for pipes up to PIPE_BUF and never interleaved mid-line in practice.
    const char* data = line.data();
    std::size_t left = line.size();
    while (left > 0) {
        ssize_t n = ::write(STDERR_FILENO, data, left);
        if (n <= 0) break;
        data += n;
        left -= static_cast<std::size_t>(n);
    }
}

}  // namespace relay::log
