#pragma once

#include <string>
#include <string_view>

namespace relay {

/// A credential loaded from a file or an environment variable. It cannot be streamed or formatted, so
/// it does not end up in a log line by accident; comparisons are constant-time.
class Secret {
   public:
    Secret() = default;

    /// Reads the whole file; one trailing newline is dropped (files written by `echo` or Kubernetes).
    /// Throws ConfigError naming the path (never the content) if the file is unreadable or empty.
    static Secret from_file(const std::string& path, std::string_view config_key);
    /// Throws ConfigError naming the variable if it is unset or empty.
    static Secret from_env(const std::string& name, std::string_view config_key);
    static Secret from_value(std::string value) { return Secret(std::move(value)); }

    [[nodiscard]] bool empty() const { return value_.empty(); }
    [[nodiscard]] bool equals(std::string_view candidate) const;
    /// The raw bytes, for keying an HMAC. Never log them.
    [[nodiscard]] std::string_view reveal() const { return value_; }

   private:
    explicit Secret(std::string value) : value_(std::move(value)) {}
    std::string value_;
};

}  // namespace relay
