// relay::ConfigReader::from_string over arbitrary text, then a walk of the document through every typed
// getter (as a service's configuration reader would), then check_no_unknown_keys.
//
// Invariants: parsing throws only relay::ConfigError or yaml-cpp's YAML::Exception; once parsed, the
// getters and check_no_unknown_keys throw only ConfigError (a configuration mistake, naming the key);
// a getter that returns gives a value in its bounds.
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "fuzz_check.hpp"
#include "relay/core/config.hpp"

namespace {

using relay::ConfigError;
using relay::ConfigReader;

// Environment overrides: variables whose name ends in _FUZZENV have a value, so the override path of
// every getter is reachable from a key named "fuzzenv".
std::optional<std::string> fuzz_env(const std::string& name) {
    if (name.ends_with("_FUZZENV")) return std::string("5s");
    return std::nullopt;
}

/// Each getter on `key` of `node`, each allowed to refuse with ConfigError.
void read_key(ConfigReader::Node& node, const std::string& key) {
    const auto attempt = [](auto&& read) {
        try {
            read();
        } catch (const ConfigError&) {
        }
    };
    attempt([&] { (void)node.string(key, "fallback"); });
    attempt([&] { (void)node.optional_string(key); });
    attempt([&] { FUZZ_CHECK(!node.required_string(key).empty()); });
    attempt([&] {
        const auto v = node.choice(key, "a", {"a", "b", "5s"});
        FUZZ_CHECK(v == "a" || v == "b" || v == "5s");
    });
    attempt([&] {
        const auto v = node.integer(key, 7, -1000, 1'000'000);
        FUZZ_CHECK(v >= -1000 && v <= 1'000'000);
    });
    attempt([&] { (void)node.boolean(key, false); });
    attempt([&] {
        const double v = node.number(key, 0.5, 0.0, 1.0);
        FUZZ_CHECK(v >= 0.0 && v <= 1.0);
    });
    attempt([&] {
        const auto v = node.duration(key, std::chrono::seconds(1), std::chrono::milliseconds(10));
        FUZZ_CHECK(v >= std::chrono::milliseconds(10));
    });
    attempt([&] {
        const auto v = node.bytes(key, 512, 1, std::uint64_t{1} << 40);
        FUZZ_CHECK(v >= 1 && v <= std::uint64_t{1} << 40);
    });
    attempt([&] { (void)node.string_list(key, {}); });
    attempt([&] { (void)node.string_map(key); });
    attempt([&] { (void)node.has(key); });
}

/// Walks the map `yaml` (the same document the reader holds) through `node`, at most `budget` keys in all.
void walk(ConfigReader::Node node, const YAML::Node& yaml, int depth, int& budget) {
    if (!yaml.IsMap() || depth > 16) return;
    std::set<std::string> keys;
    for (const auto& item : yaml) {
        if (--budget < 0) return;
        if (!item.first.IsScalar()) continue;
        const std::string key = item.first.Scalar();
        // A repeated key reads as its first occurrence (check_no_unknown_keys refuses the document).
        if (!keys.insert(key).second) continue;
        read_key(node, key);
        if (item.second.IsMap()) {
            try {
                walk(node.child(key), item.second, depth + 1, budget);
            } catch (const ConfigError&) {
            }
        } else if (item.second.IsSequence()) {
            try {
                const auto items = node.list(key);
                std::size_t i = 0;
                for (const auto& child : items) {
                    FUZZ_CHECK(child.path().ends_with("[" + std::to_string(i) + "]"));
                    walk(child, item.second[i++], depth + 1, budget);
                }
            } catch (const ConfigError&) {
            }
        }
    }
    // Secrets only as literals: {file: ...} and {env: ...} would read the machine's files and environment.
    // (A missing key gives yaml-cpp's invalid node, on which only IsDefined may be called.)
    const YAML::Node secret = yaml["secret"];
    if (secret.IsDefined() && secret.IsMap() && !secret["file"].IsDefined() && !secret["env"].IsDefined()) {
        try {
            FUZZ_CHECK(!node.required_secret("secret").empty());
        } catch (const ConfigError&) {
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    std::optional<ConfigReader> reader;
    YAML::Node yaml;
    try {
        reader.emplace(ConfigReader::from_string(text, "RELAY", fuzz_env));
        // The reader accepted the text, so yaml-cpp parses it again to the same document.
        yaml = YAML::Load(text);
    } catch (const ConfigError&) {
        return 0;
    } catch (const YAML::Exception&) {
        // yaml-cpp's own exceptions while it parses are documented to pass through.
        return 0;
    }
    // Once parsed, the reader's getters and its key check report mistakes as ConfigError only.
    try {
        int budget = 500;
        walk(reader->root(), yaml, 0, budget);
        try {
            reader->check_no_unknown_keys();
        } catch (const ConfigError&) {
        }
    } catch (const YAML::Exception& e) {
        std::fprintf(stderr, "yaml-cpp exception escaped the reader: %s\n", e.what());
        FUZZ_CHECK(false);
    }
    return 0;
}
