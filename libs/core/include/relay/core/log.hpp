#pragma once

#include <initializer_list>
#include <string_view>

namespace relay::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

/// One structured field of a log line. Values are strings or integers; callers never pass patient data
/// (names, health numbers, birth dates, notes): referral refs, message ids and codes only.
struct Field {
    std::string_view key;
    std::string_view str_value;
    long long int_value = 0;
    bool is_int = false;

    Field(std::string_view k, std::string_view v) : key(k), str_value(v) {}
    Field(std::string_view k, const char* v) : key(k), str_value(v) {}
    Field(std::string_view k, long long v) : key(k), int_value(v), is_int(true) {}
    Field(std::string_view k, int v) : key(k), int_value(v), is_int(true) {}
    Field(std::string_view k, unsigned v) : key(k), int_value(v), is_int(true) {}
    Field(std::string_view k, unsigned long v) : key(k), int_value(static_cast<long long>(v)), is_int(true) {}
    Field(std::string_view k, double v) : key(k), int_value(static_cast<long long>(v)), is_int(true) {}
};

/// Sets the minimum level ("debug", "info", "warn", "error"); throws std::invalid_argument otherwise.
void set_level(std::string_view level);
void set_level(Level level);
bool enabled(Level level);

/// Sets the "service" field written on every line.
void set_service(std::string_view service);

/// Writes one JSON object per line to stderr, with ts, level, service, msg and the fields; a whole line
/// is written with one call so lines from several threads never interleave.
void write(Level level, std::string_view message, std::initializer_list<Field> fields = {});

inline void debug(std::string_view m, std::initializer_list<Field> f = {}) {
    if (enabled(Level::kDebug)) write(Level::kDebug, m, f);
}
inline void info(std::string_view m, std::initializer_list<Field> f = {}) {
    write(Level::kInfo, m, f);
}
inline void warn(std::string_view m, std::initializer_list<Field> f = {}) {
    write(Level::kWarn, m, f);
}
inline void error(std::string_view m, std::initializer_list<Field> f = {}) {
    write(Level::kError, m, f);
}

}  // namespace relay::log
