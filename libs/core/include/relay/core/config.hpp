#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "relay/core/secret.hpp"

namespace relay {

/// A configuration mistake found at start-up. The message names the key (as a dotted path) and the
/// problem; it never repeats a secret.
class ConfigError : public std::runtime_error {
   public:
    using std::runtime_error::runtime_error;
};

/// Looks up environment variables; replaceable in tests.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup process_env();

/// Strict reader over a YAML document.
///
/// Every scalar read at path `a.b[2].c` can be overridden by the environment variable
/// `<PREFIX>_A_B_2_C` (upper case, non-alphanumerics as `_`). Each key read is recorded, and
/// `check_no_unknown_keys()` rejects whatever the document holds that nobody read, so a misspelt key
/// is an error instead of a silently ignored setting.
class ConfigReader {
   public:
    ConfigReader(YAML::Node root, std::string env_prefix, EnvLookup env = process_env());

    /// Parses a file; throws ConfigError on I/O or YAML syntax errors (with line and column).
    static ConfigReader from_file(const std::string& path,
                                  std::string env_prefix,
                                  EnvLookup env = process_env());
    static ConfigReader from_string(const std::string& yaml,
                                    std::string env_prefix,
                                    EnvLookup env = process_env());

    class Node;
    Node root();

    void check_no_unknown_keys() const;

    class Node {
       public:
        [[nodiscard]] const std::string& path() const { return path_; }
        [[nodiscard]] bool has(std::string_view key) const;

        std::string string(std::string_view key, std::string fallback);
        std::optional<std::string> optional_string(std::string_view key);
        std::string required_string(std::string_view key);
        /// One of `allowed`; the error lists them.
        std::string choice(std::string_view key,
                           std::string fallback,
                           const std::vector<std::string>& allowed);
        std::int64_t integer(std::string_view key, std::int64_t fallback, std::int64_t min, std::int64_t max);
        bool boolean(std::string_view key, bool fallback);
        /// A decimal number from `min` to `max` (probabilities, rates, scales).
        double number(std::string_view key, double fallback, double min, double max);
        /// "250ms", "5s", "2m", "1h".
        std::chrono::milliseconds duration(std::string_view key,
                                           std::chrono::milliseconds fallback,
                                           std::chrono::milliseconds min = std::chrono::milliseconds(0));
        /// "20MiB", "64KiB", "1GiB", "512" (bytes).
        std::uint64_t bytes(std::string_view key,
                            std::uint64_t fallback,
                            std::uint64_t min,
                            std::uint64_t max);
        std::vector<std::string> string_list(std::string_view key, std::vector<std::string> fallback);
        /// A secret given as {file: path} | {env: NAME} | {value: literal}; nullopt if the key is absent.
        std::optional<Secret> secret(std::string_view key);
        Secret required_secret(std::string_view key);

        /// A nested map (absent → an empty map whose reads return the fallbacks).
        Node child(std::string_view key);
        /// Items of a sequence of maps.
        std::vector<Node> list(std::string_view key);
        /// A free-form string→string map (e.g. librdkafka properties) whose keys are not checked.
        std::vector<std::pair<std::string, std::string>> string_map(std::string_view key);

        /// Raises ConfigError for this key with `problem`.
        [[noreturn]] void fail(std::string_view key, std::string_view problem) const;

       private:
        friend class ConfigReader;
        Node(ConfigReader* reader, YAML::Node node, std::string path)
            : reader_(reader), node_(std::move(node)), path_(std::move(path)) {}
        std::string key_path(std::string_view key) const;
        std::optional<std::string> scalar(std::string_view key);

        ConfigReader* reader_;
        YAML::Node node_;
        std::string path_;
    };

   private:
    void mark(const std::string& path);
    void mark_opaque(const std::string& path);
    std::optional<std::string> env_override(const std::string& path) const;
    void check_node(const YAML::Node& node, const std::string& path) const;

    YAML::Node root_;
    std::string env_prefix_;
    EnvLookup env_;
    std::set<std::string> seen_;
    std::set<std::string> opaque_;
};

/// 1-63 characters of a-z, 0-9 and '-': names that become URL path segments, Kafka keys and metric labels.
bool is_valid_name(std::string_view name);
/// A legal Kafka topic name (1-249 characters of a-z, A-Z, 0-9, '.', '_', '-').
bool is_valid_topic_name(std::string_view topic);

/// Parses "250ms" / "5s" / "2m" / "1h"; nullopt if malformed.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);
/// Parses "20MiB" / "64KiB" / "1GiB" / "512"; nullopt if malformed.
std::optional<std::uint64_t> parse_bytes(std::string_view text);

}  // namespace relay
