#pragma once

#include <array>
#include <string>
#include <string_view>

namespace relay {

/// Equality for secrets and credential ids that reveals neither where the values differ nor how long
/// they are: both are HMAC-SHA256'd under a key drawn at random once per process and the fixed-size
/// digests are compared in constant time. (`constant_time_equals` returns early on a length mismatch,
/// which is only right when the length is public, as for a MAC.)
bool secret_equals(std::string_view a, std::string_view b);

/// A credential loaded from a file or an environment variable. It cannot be streamed or formatted, so
/// it does not end up in a log line by accident; comparisons reveal neither the value nor its length.
class Secret {
   public:
    Secret();
    Secret(const Secret&) = default;
    Secret& operator=(const Secret&) = default;
    /// A moved-from secret is empty (its cached digest is reset with its value).
    Secret(Secret&& other) noexcept;
    Secret& operator=(Secret&& other) noexcept;
    ~Secret() = default;

    /// Reads the whole file; one trailing newline is dropped (files written by `echo` or Kubernetes).
    /// Throws ConfigError naming the path (never the content) if the file is unreadable or empty.
    static Secret from_file(const std::string& path, std::string_view config_key);
    /// Throws ConfigError naming the variable if it is unset or empty.
    static Secret from_env(const std::string& name, std::string_view config_key);
    static Secret from_value(std::string value) { return Secret(std::move(value)); }

    [[nodiscard]] bool empty() const { return value_.empty(); }
    /// Compares keyed digests (see `secret_equals`); the secret's own digest is computed once, so the
    /// time taken depends on the candidate's length only.
    [[nodiscard]] bool equals(std::string_view candidate) const;
    /// The raw bytes, for keying an HMAC. Never log them.
    [[nodiscard]] std::string_view reveal() const { return value_; }

   private:
    explicit Secret(std::string value);
    std::string value_;
    std::array<unsigned char, 32> digest_{};
};

}  // namespace relay
