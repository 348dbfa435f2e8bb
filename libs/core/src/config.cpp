#include "relay/core/config.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <limits>

namespace relay {
namespace {

bool parse_u64(std::string_view text, std::uint64_t& out) {
    if (text.empty()) return false;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && ptr == text.data() + text.size();
}

bool parse_i64(std::string_view text, std::int64_t& out) {
    if (text.empty()) return false;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && ptr == text.data() + text.size();
}

/// A map key as text. YAML also allows a list or a map as a key (`? [a, b]`); a configuration does not, and
/// yaml-cpp's conversion would throw its own exception that names no key.
std::string key_text(const YAML::Node& key, const std::string& path) {
    if (key.IsSequence() || key.IsMap()) {
        throw ConfigError(fmt::format("{}: keys must be single values, not a list or a map",
                                      path.empty() ? "configuration" : path));
    }
    return key.as<std::string>();
}

}  // namespace

EnvLookup process_env() {
    return [](const std::string& name) -> std::optional<std::string> {
        const char* value = std::getenv(name.c_str());
        if (value == nullptr) return std::nullopt;
        return std::string(value);
    };
}

bool is_valid_name(std::string_view name) {
    if (name.empty() || name.size() > 63) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    });
}

bool is_valid_topic_name(std::string_view topic) {
    if (topic.empty() || topic.size() > 249) return false;
    return std::all_of(topic.begin(), topic.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
    });
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
    struct Unit {
        std::string_view suffix;
        std::uint64_t millis;
    };
    static constexpr Unit kUnits[] = {{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}};
    for (const Unit& unit : kUnits) {
        if (text.size() > unit.suffix.size() && text.ends_with(unit.suffix)) {
            std::uint64_t n = 0;
            if (!parse_u64(text.substr(0, text.size() - unit.suffix.size()), n)) continue;
            // Refuse what would overflow milliseconds instead of wrapping to a surprising value.
            constexpr std::uint64_t kMaxMillis =
                static_cast<std::uint64_t>(std::chrono::milliseconds::max().count());
            if (n > kMaxMillis / unit.millis) return std::nullopt;
            return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(n * unit.millis));
        }
    }
    return std::nullopt;
}

std::optional<std::uint64_t> parse_bytes(std::string_view text) {
    struct Unit {
        std::string_view suffix;
        std::uint64_t factor;
    };
    static constexpr Unit kUnits[] = {
        {"GiB", 1ULL << 30}, {"MiB", 1ULL << 20}, {"KiB", 1ULL << 10}, {"B", 1}};
    for (const Unit& unit : kUnits) {
        if (text.ends_with(unit.suffix)) {
            std::uint64_t n = 0;
            if (!parse_u64(text.substr(0, text.size() - unit.suffix.size()), n)) return std::nullopt;
            if (n > std::numeric_limits<std::uint64_t>::max() / unit.factor) return std::nullopt;
            return n * unit.factor;
        }
    }
    std::uint64_t n = 0;
    if (parse_u64(text, n)) return n;
    return std::nullopt;
}

ConfigReader::ConfigReader(YAML::Node root, std::string env_prefix, EnvLookup env)
    : root_(std::move(root)), env_prefix_(std::move(env_prefix)), env_(std::move(env)) {
    if (root_.IsNull() || !root_.IsDefined()) root_ = YAML::Node(YAML::NodeType::Map);
    if (!root_.IsMap()) throw ConfigError("configuration: the document must be a YAML map");
}

ConfigReader ConfigReader::from_file(const std::string& path, std::string env_prefix, EnvLookup env) {
    try {
        return ConfigReader(YAML::LoadFile(path), std::move(env_prefix), std::move(env));
    } catch (const YAML::BadFile&) {
        throw ConfigError(fmt::format("configuration: cannot read file '{}'", path));
    } catch (const YAML::ParserException& e) {
        throw ConfigError(fmt::format(
            "configuration: '{}' line {} column {}: {}", path, e.mark.line + 1, e.mark.column + 1, e.msg));
    }
}

ConfigReader ConfigReader::from_string(const std::string& yaml, std::string env_prefix, EnvLookup env) {
    try {
        return ConfigReader(YAML::Load(yaml), std::move(env_prefix), std::move(env));
    } catch (const YAML::ParserException& e) {
        throw ConfigError(
            fmt::format("configuration: line {} column {}: {}", e.mark.line + 1, e.mark.column + 1, e.msg));
    }
}

ConfigReader::Node ConfigReader::root() {
    return Node(this, root_, "");
}

void ConfigReader::mark(const std::string& path) {
    // Marking "a.b[0].c" also marks "a", "a.b", "a.b[0]".
    for (std::size_t i = 0; i < path.size(); ++i) {
        if (path[i] == '.' || path[i] == '[') seen_.insert(path.substr(0, i));
    }
    seen_.insert(path);
}

void ConfigReader::mark_opaque(const std::string& path) {
    mark(path);
    opaque_.insert(path);
}

std::optional<std::string> ConfigReader::env_override(const std::string& path) const {
    std::string name = env_prefix_;
    name += '_';
    for (char c : path) {
        if (std::isalnum(static_cast<unsigned char>(c))) {
            name += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        } else if (c != ']' && !name.ends_with('_')) {
            name += '_';
        }
    }
    return env_(name);
}

void ConfigReader::check_no_unknown_keys() const {
    check_node(root_, "");
}

void ConfigReader::check_node(const YAML::Node& node, const std::string& path) const {
    if (opaque_.contains(path)) return;
    if (node.IsMap()) {
        std::set<std::string> keys;
        for (const auto& item : node) {
            const std::string key = key_text(item.first, path);
            const std::string child = path.empty() ? key : path + "." + key;
            if (!seen_.contains(child)) {
                throw ConfigError(fmt::format("{}: unknown key", child));
            }
            // yaml-cpp keeps a repeated key and every lookup finds the first: the later one would be
            // silently ignored.
            if (!keys.insert(key).second) throw ConfigError(fmt::format("{}: repeated key", child));
            check_node(item.second, child);
        }
    } else if (node.IsSequence()) {
        for (std::size_t i = 0; i < node.size(); ++i) {
            check_node(node[i], fmt::format("{}[{}]", path, i));
        }
    }
}

std::string ConfigReader::Node::key_path(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

void ConfigReader::Node::fail(std::string_view key, std::string_view problem) const {
    throw ConfigError(fmt::format("{}: {}", key_path(key), problem));
}

bool ConfigReader::Node::has(std::string_view key) const {
    return node_.IsMap() && node_[std::string(key)].IsDefined() && !node_[std::string(key)].IsNull();
}

std::optional<std::string> ConfigReader::Node::scalar(std::string_view key) {
    const std::string path = key_path(key);
    reader_->mark(path);
    if (auto env = reader_->env_override(path)) return env;
    if (!has(key)) return std::nullopt;
    const YAML::Node value = node_[std::string(key)];
    if (!value.IsScalar()) fail(key, "must be a single value, not a list or a map");
    return value.Scalar();
}

std::string ConfigReader::Node::string(std::string_view key, std::string fallback) {
    if (auto v = scalar(key)) return *v;
    return fallback;
}

std::optional<std::string> ConfigReader::Node::optional_string(std::string_view key) {
    return scalar(key);
}

std::string ConfigReader::Node::required_string(std::string_view key) {
    auto v = scalar(key);
    if (!v || v->empty()) fail(key, "is required");
    return *v;
}

std::string ConfigReader::Node::choice(std::string_view key,
                                       std::string fallback,
                                       const std::vector<std::string>& allowed) {
    std::string v = string(key, std::move(fallback));
    for (const auto& a : allowed) {
        if (a == v) return v;
    }
    fail(key, fmt::format("must be one of {}, got '{}'", fmt::join(allowed, ", "), v));
}

std::int64_t ConfigReader::Node::integer(std::string_view key,
                                         std::int64_t fallback,
                                         std::int64_t min,
                                         std::int64_t max) {
    auto v = scalar(key);
    if (!v) return fallback;
    std::int64_t n = 0;
    if (!parse_i64(*v, n) || n < min || n > max) {
        fail(key, fmt::format("must be an integer from {} to {}, got '{}'", min, max, *v));
    }
    return n;
}

bool ConfigReader::Node::boolean(std::string_view key, bool fallback) {
    auto v = scalar(key);
    if (!v) return fallback;
    if (*v == "true") return true;
    if (*v == "false") return false;
    fail(key, fmt::format("must be true or false, got '{}'", *v));
}

double ConfigReader::Node::number(std::string_view key, double fallback, double min, double max) {
    auto v = scalar(key);
    if (!v) return fallback;
    double value = 0;
    const auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), value);
    if (ec != std::errc() || ptr != v->data() + v->size() || value < min || value > max) {
        fail(key, fmt::format("must be a number from {} to {}, got '{}'", min, max, *v));
    }
    return value;
}

std::chrono::milliseconds ConfigReader::Node::duration(std::string_view key,
                                                       std::chrono::milliseconds fallback,
                                                       std::chrono::milliseconds min) {
    auto v = scalar(key);
    if (!v) return fallback;
    auto d = parse_duration(*v);
    if (!d) fail(key, fmt::format("must be a duration such as 250ms, 5s, 2m or 1h, got '{}'", *v));
    if (*d < min) fail(key, fmt::format("must be at least {}ms", min.count()));
    return *d;
}

std::uint64_t ConfigReader::Node::bytes(std::string_view key,
                                        std::uint64_t fallback,
                                        std::uint64_t min,
                                        std::uint64_t max) {
    auto v = scalar(key);
    if (!v) return fallback;
    auto n = parse_bytes(*v);
    if (!n) fail(key, fmt::format("must be a size such as 512KiB or 20MiB, got '{}'", *v));
    if (*n < min || *n > max) fail(key, fmt::format("must be from {} to {} bytes, got {}", min, max, *n));
    return *n;
}

std::vector<std::string> ConfigReader::Node::string_list(std::string_view key,
                                                         std::vector<std::string> fallback) {
    const std::string path = key_path(key);
    reader_->mark(path);
    if (auto env = reader_->env_override(path)) {
        // Comma-separated in the environment.
        std::vector<std::string> items;
        std::string_view rest = *env;
        while (!rest.empty()) {
            auto comma = rest.find(',');
            auto item = rest.substr(0, comma);
            if (!item.empty()) items.emplace_back(item);
            if (comma == std::string_view::npos) break;
            rest.remove_prefix(comma + 1);
        }
        return items;
    }
    if (!has(key)) return fallback;
    const YAML::Node value = node_[std::string(key)];
    if (!value.IsSequence()) fail(key, "must be a list");
    std::vector<std::string> items;
    for (std::size_t i = 0; i < value.size(); ++i) {
        if (!value[i].IsScalar()) fail(key, fmt::format("item {} must be a single value", i));
        items.push_back(value[i].Scalar());
        reader_->mark(fmt::format("{}[{}]", path, i));
    }
    return items;
}

std::optional<Secret> ConfigReader::Node::secret(std::string_view key) {
    const std::string path = key_path(key);
    reader_->mark(path);
    if (!has(key)) {
        // Environment-only secrets: <PREFIX>_<PATH>_FILE or _ENV.
        Node empty(reader_, YAML::Node(YAML::NodeType::Map), path);
        if (auto file = empty.optional_string("file")) return Secret::from_file(*file, path);
        if (auto env = empty.optional_string("env")) return Secret::from_env(*env, path);
        return std::nullopt;
    }
    Node spec = child(key);
    auto file = spec.optional_string("file");
    auto env = spec.optional_string("env");
    auto value = spec.optional_string("value");
    const int given = (file ? 1 : 0) + (env ? 1 : 0) + (value ? 1 : 0);
    if (given != 1) fail(key, "must give exactly one of file, env or value");
    if (file) return Secret::from_file(*file, path);
    if (env) return Secret::from_env(*env, path);
    if (value->empty()) fail(key, "value is empty");
    return Secret::from_value(*value);
}

Secret ConfigReader::Node::required_secret(std::string_view key) {
    auto s = secret(key);
    if (!s) fail(key, "is required (give {file: path}, {env: NAME} or {value: ...})");
    return *s;
}

ConfigReader::Node ConfigReader::Node::child(std::string_view key) {
    const std::string path = key_path(key);
    reader_->mark(path);
    if (!has(key)) return Node(reader_, YAML::Node(YAML::NodeType::Map), path);
    YAML::Node value = node_[std::string(key)];
    if (!value.IsMap()) fail(key, "must be a map");
    return Node(reader_, value, path);
}

std::vector<ConfigReader::Node> ConfigReader::Node::list(std::string_view key) {
    const std::string path = key_path(key);
    reader_->mark(path);
    std::vector<Node> items;
    if (!has(key)) return items;
    YAML::Node value = node_[std::string(key)];
    if (!value.IsSequence()) fail(key, "must be a list");
    for (std::size_t i = 0; i < value.size(); ++i) {
        const std::string item_path = fmt::format("{}[{}]", path, i);
        if (!value[i].IsMap()) throw ConfigError(item_path + ": must be a map");
        reader_->mark(item_path);
        items.push_back(Node(reader_, value[i], item_path));
    }
    return items;
}

std::vector<std::pair<std::string, std::string>> ConfigReader::Node::string_map(std::string_view key) {
    const std::string path = key_path(key);
    reader_->mark_opaque(path);
    std::vector<std::pair<std::string, std::string>> items;
    if (!has(key)) return items;
    YAML::Node value = node_[std::string(key)];
    if (!value.IsMap()) fail(key, "must be a map of names to values");
    for (const auto& item : value) {
        if (!item.second.IsScalar()) fail(key, "values must be single values");
        items.emplace_back(key_text(item.first, path), item.second.Scalar());
    }
    return items;
}

}  // namespace relay
