#include "config.hpp"

#include "relay/service/kafka_section.hpp"

#include "relay/fhir/events.hpp"
#include "relay/fhir/extract.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "relay/auth/config.hpp"
#include "relay/contracts/notifications.hpp"

namespace relay::ingress {
namespace {

constexpr std::uint64_t kKafkaHeadroom = 1ULL << 20;  // headers and record-batch overhead above the body

std::string substitute(std::string pattern, const IntegrationConfig& integration) {
    auto replace = [&](std::string_view token, const std::string& value) {
        for (auto pos = pattern.find(token); pos != std::string::npos; pos = pattern.find(token)) {
            pattern.replace(pos, token.size(), value);
        }
    };
    replace("{site}", integration.site);
    replace("{name}", integration.name);
    return pattern;
}

http::ListenerConfig read_listener(ConfigReader::Node node,
                                   std::string default_name,
                                   std::uint16_t default_port) {
    http::ListenerConfig listener;
    listener.name = node.string("name", std::move(default_name));
    listener.address = node.string("address", "0.0.0.0");
    listener.port = static_cast<std::uint16_t>(node.integer("port", default_port, 0, 65535));
    if (node.has("tls")) {
        auto tls = node.child("tls");
        listener.tls = http::TlsFiles{tls.required_string("cert_file"), tls.required_string("key_file")};
    }
    return listener;
}

}  // namespace

std::vector<std::string> default_accepted_events() {
    return fhir::default_handled_events();
}

kafka::TopicSpec IngressConfig::inbound_topic_spec() const {
    kafka::TopicSpec spec;
    spec.name = kafka.inbound_topic;
    spec.partitions = kafka.partitions;
    spec.replication_factor = kafka.replication_factor;
    spec.max_message_bytes = kafka.producer.message_max_bytes;
    spec.configs = kafka.topic_configs;
    return spec;
}

std::vector<kafka::TopicSpec> IngressConfig::hub_topic_specs() const {
    std::vector<kafka::TopicSpec> specs;
    if (!hub_api) return specs;
    for (const std::string* topic : {&hub_api->topic, &hub_api->open_api_topic}) {
        if (topic->empty()) continue;
        kafka::TopicSpec spec = inbound_topic_spec();
        spec.name = *topic;
        specs.push_back(std::move(spec));
    }
    return specs;
}

std::vector<kafka::TopicSpec> IngressConfig::notification_topic_specs() const {
    std::vector<kafka::TopicSpec> specs;
    for (const auto& integration : integrations) {
        if (!integration.open_api) continue;
        const std::string& topic = integration.open_api->topic;
        if (std::any_of(specs.begin(), specs.end(), [&](const auto& s) { return s.name == topic; })) continue;
        kafka::TopicSpec spec = inbound_topic_spec();
        spec.name = topic;
        specs.push_back(std::move(spec));
    }
    return specs;
}

std::vector<std::string> IngressConfig::topics() const {
    std::vector<std::string> out{kafka.inbound_topic};
    for (const auto& spec : hub_topic_specs()) out.push_back(spec.name);
    for (const auto& spec : notification_topic_specs()) out.push_back(spec.name);
    return out;
}

namespace {

HubApiConfig read_hub_api(ConfigReader::Node node,
                          const std::string& topic_prefix,
                          std::uint64_t listener_body_limit,
                          bool have_signing_key,
                          ConfigReader::Node auth_node) {
    HubApiConfig hub;
    hub.path_prefix = node.string("path_prefix", hub.path_prefix);
    while (hub.path_prefix.size() > 1 && hub.path_prefix.back() == '/') hub.path_prefix.pop_back();
    if (hub.path_prefix.size() < 2 || hub.path_prefix.front() != '/' ||
        hub.path_prefix.find_first_of("?#{} ") != std::string::npos) {
        node.fail("path_prefix", "must be a path starting with '/', such as /hub/v1");
    }
    hub.topic = topic_prefix + node.string("topic", hub.topic);
    if (!is_valid_topic_name(hub.topic)) node.fail("topic", "is not a valid Kafka topic name");
    const std::string open_api_topic = node.string("open_api_topic", hub.open_api_topic);
    hub.open_api_topic = open_api_topic.empty() ? std::string() : topic_prefix + open_api_topic;
    if (!hub.open_api_topic.empty() && !is_valid_topic_name(hub.open_api_topic))
        node.fail("open_api_topic", "is not a valid Kafka topic name (or \"\" for none)");
    if (hub.open_api_topic == hub.topic) node.fail("open_api_topic", "must differ from hub_api.topic");
    hub.max_body_bytes = node.bytes("max_body_bytes", hub.max_body_bytes, 1024, 256ULL << 20);
    if (hub.max_body_bytes > listener_body_limit) {
        // The listeners read at most limits.max_body; a larger hub limit could never be reached.
        node.fail("max_body_bytes", "must not exceed limits.max_body");
    }
    std::set<std::string> names, client_ids;
    for (auto& system_node : node.list("systems")) {
        HubSystemConfig system;
        system.name = system_node.required_string("name");
        if (!is_valid_name(system.name)) {
            system_node.fail("name", "must be 1-63 characters of a-z, 0-9 and '-'");
        }
        if (!names.insert(system.name).second) {
            system_node.fail("name", fmt::format("'{}' is used twice", system.name));
        }
        system.auth = auth::read_policy(system_node.child("auth"));
        // A hub system's updates change referrals in Ocean: an unauthenticated one would accept anyone's
        // (and, tried last, everyone whose credentials are wrong), so it must be asked for by name.
        const bool open_door = system.auth.scheme == auth::Scheme::kNone && !system.auth.signature_key;
        const bool allow_unauthenticated = system_node.boolean("allow_unauthenticated", false);
        if (open_door && !allow_unauthenticated) {
            system_node.fail("auth",
                             "is required (api_key, bearer, basic, oauth2 or a signature); set "
                             "allow_unauthenticated: true only for a closed test network");
        }
        system.sites = system_node.string_list("sites", {});
        for (const auto& site : system.sites) {
            if (!fhir::is_site_number(site)) {
                system_node.fail("sites", "must be Ocean site numbers (digits)");
            }
        }
        if (system.auth.scheme == auth::Scheme::kOAuth2) {
            if (!have_signing_key) {
                auth_node.fail("token_signing_key",
                               fmt::format("is required because hub system '{}' uses oauth2", system.name));
            }
            // The shared token endpoint finds the system by client id: an id must name one system.
            for (const auto& client : system.auth.oauth_clients) {
                if (!client_ids.insert(client.client_id).second) {
                    system_node.fail(
                        "auth", fmt::format("client_id '{}' is used by two hub systems", client.client_id));
                }
            }
        }
        hub.systems.push_back(std::move(system));
    }
    if (hub.systems.empty()) node.fail("systems", "configure at least one hub system");
    return hub;
}

// A webhook key travels in a URL (query parameter or path segment) and a header: unreserved URL
// characters only, so that no encoding can make two spellings of one key.
bool is_webhook_key(std::string_view key) {
    if (key.size() < 16 || key.size() > 256) return false;
    return std::all_of(key.begin(), key.end(), [](unsigned char c) {
        return std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~';
    });
}

bool is_header_name(std::string_view name) {
    if (name.empty() || name.size() > 64) return false;
    return std::all_of(name.begin(), name.end(), [](unsigned char c) {
        return std::isalnum(c) != 0 || c == '-' || c == '_';
    });
}

OpenApiConfig read_open_api(ConfigReader::Node node,
                            const IntegrationConfig& integration,
                            const std::string& topic_prefix,
                            std::uint64_t listener_body_limit) {
    OpenApiConfig open_api;
    open_api.path = substitute(node.string("path", "/ocean/{name}/openapi/webhook"), integration);
    while (open_api.path.size() > 1 && open_api.path.back() == '/') open_api.path.pop_back();
    if (open_api.path.size() < 2 || open_api.path.front() != '/' ||
        open_api.path.find_first_of("?#{} %") != std::string::npos) {
        node.fail("path", "must be a path starting with '/', such as /ocean/{name}/openapi/webhook");
    }
    // Each key is a secret: {file: PATH}, {env: NAME} or {value: ...}.
    const auto key_nodes = node.list("keys");
    for (std::size_t i = 0; i < key_nodes.size(); ++i) {
        ConfigReader::Node item = key_nodes[i];
        const std::string key_name = fmt::format("keys[{}]", i);
        auto file = item.optional_string("file");
        auto env = item.optional_string("env");
        auto value = item.optional_string("value");
        if ((file ? 1 : 0) + (env ? 1 : 0) + (value ? 1 : 0) != 1) {
            node.fail(key_name, "must give exactly one of file, env or value");
        }
        Secret secret = file  ? Secret::from_file(*file, item.path())
                        : env ? Secret::from_env(*env, item.path())
                              : Secret::from_value(*value);
        if (!is_webhook_key(secret.reveal())) {
            // Never the value: only what it must be.
            node.fail(key_name, "must be 16-256 characters of A-Z, a-z, 0-9, '-', '.', '_' and '~'");
        }
        open_api.keys.push_back(std::move(secret));
    }
    if (open_api.keys.empty()) node.fail("keys", "configure at least one key ({file: PATH}, {env: NAME} or {value: ...})");
    if (open_api.keys.size() > 4) node.fail("keys", "at most 4 keys (two are enough to rotate)");
    open_api.key_parameter = node.string("key_parameter", open_api.key_parameter);
    if (!is_header_name(open_api.key_parameter)) {
        node.fail("key_parameter", "must be 1-64 characters of A-Z, a-z, 0-9, '-' and '_'");
    }
    open_api.key_header = node.string("key_header", open_api.key_header);
    if (!is_header_name(open_api.key_header)) {
        node.fail("key_header", "must be an HTTP header name (1-64 characters of A-Z, a-z, 0-9, '-' and '_')");
    }
    open_api.replay_window = node.duration("replay_window", open_api.replay_window);
    if (open_api.replay_window > std::chrono::hours(24 * 4)) node.fail("replay_window", "must be at most 96h");
    open_api.replay_memory =
        static_cast<std::size_t>(node.integer("replay_memory", 100'000, 0, 10'000'000));
    auto rate = node.child("rate_limit");
    open_api.rate_per_minute = rate.number("per_minute", open_api.rate_per_minute, 1, 1'000'000);
    open_api.rate_burst = rate.number("burst", open_api.rate_burst, 1, 1'000'000);
    open_api.rate_max_tracked = static_cast<std::size_t>(rate.integer("max_tracked", 20'000, 1, 10'000'000));
    open_api.max_body_bytes = node.bytes(
        "max_body_bytes", std::min<std::uint64_t>(open_api.max_body_bytes, listener_body_limit), 1024, 256ULL << 20);
    if (open_api.max_body_bytes > listener_body_limit) node.fail("max_body_bytes", "must not exceed limits.max_body");
    open_api.topic = topic_prefix + node.string("topic", std::string(contracts::notification::kDefaultTopic));
    if (!is_valid_topic_name(open_api.topic)) node.fail("topic", "is not a valid Kafka topic name");
    return open_api;
}

}  // namespace

std::array<unsigned char, 16> address_bytes(const boost::asio::ip::address& address) {
    if (address.is_v6()) return address.to_v6().to_bytes();
    return boost::asio::ip::make_address_v6(boost::asio::ip::v4_mapped, address.to_v4()).to_bytes();
}

bool in_networks(const std::array<unsigned char, 16>& address,
                 const std::vector<std::pair<std::array<unsigned char, 16>, unsigned>>& networks) {
    for (const auto& [network, prefix] : networks) {
        bool match = true;
        for (unsigned bit = 0; bit < prefix && match; bit += 8) {
            const unsigned bits = std::min(8U, prefix - bit);
            const auto mask = static_cast<unsigned char>(0xFF << (8 - bits));
            match = (address[bit / 8] & mask) == (network[bit / 8] & mask);
        }
        if (match) return true;
    }
    return false;
}

IngressConfig load_config(ConfigReader& reader) {
    IngressConfig config;
    auto root = reader.root();

    auto service = root.child("service");
    config.log_level = service.choice("log_level", "info", {"debug", "info", "warn", "error"});
    config.threads = static_cast<int>(service.integer("threads", 0, 0, 256));

    auto limits_node = root.child("limits");
    const http::Limits limits = service::read_http_limits(limits_node);
    config.max_body_memory =
        root.child("limits").bytes("max_body_memory", config.max_body_memory, 1ULL << 20, 64ULL << 30);
    if (config.max_body_memory < limits.body_limit + http::kBodyPadding) {
        root.child("limits").fail("max_body_memory", "must be at least limits.max_body");
    }

    auto listeners = root.list("listeners");
    int index = 0;
    for (auto& node : listeners) {
        auto listener = read_listener(node, fmt::format("public-{}", index++), 8080);
        listener.limits = limits;
        config.listeners.push_back(std::move(listener));
    }
    if (config.listeners.empty()) {
        http::ListenerConfig listener;
        listener.name = "public";
        listener.limits = limits;
        config.listeners.push_back(listener);
    }
    config.admin = read_listener(root.child("admin"), "admin", 9090);
    config.admin.limits.body_limit = 64 * 1024;

    auto kafka_node = root.child("kafka");
    auto& kafka = config.kafka;
    // The keys every process reads the same way; then the ingress's own.
    const service::KafkaClientSection common =
        service::read_kafka_client_section(kafka_node, "ocean-relay-ingress", std::chrono::milliseconds(1));
    kafka.embedded = common.embedded;
    kafka.producer.client = common.client;
    kafka.producer.linger = common.linger;
    kafka.create_topics = common.create_topics;
    kafka.partitions = common.partitions;
    kafka.replication_factor = common.replication_factor;
    kafka.producer.compression =
        kafka_node.choice("compression", "lz4", {"none", "gzip", "snappy", "lz4", "zstd"});
    kafka.ack_timeout = kafka_node.duration("ack_timeout", kafka.ack_timeout, std::chrono::milliseconds(100));
    // librdkafka stops trying shortly after the ingress has answered 503, so a late write is unlikely.
    kafka.producer.delivery_timeout = kafka.ack_timeout + std::chrono::milliseconds(500);
    kafka.retry_after = std::chrono::duration_cast<std::chrono::seconds>(
        kafka_node.duration("retry_after", std::chrono::seconds(10), std::chrono::seconds(1)));
    kafka.topic_configs = kafka_node.string_map("topic_configs");
    kafka.readiness_interval =
        kafka_node.duration("readiness_interval", kafka.readiness_interval, std::chrono::milliseconds(100));
    // The broker must accept the largest body we accept, with room for headers and batch framing.
    kafka.producer.message_max_bytes = limits.body_limit + kKafkaHeadroom;

    auto topics = root.child("topics");
    const std::string prefix = topics.string("prefix", "");
    kafka.inbound_topic = prefix + topics.string("inbound", "ocean.inbound.v1");
    if (!is_valid_topic_name(kafka.inbound_topic)) topics.fail("inbound", "is not a valid Kafka topic name");

    auto auth_node = root.child("auth");
    config.token_signing_key = auth_node.secret("token_signing_key");
    config.token_issuer = auth_node.string("token_issuer", "ocean-relay");
    config.token_leeway = std::chrono::duration_cast<std::chrono::seconds>(
        auth_node.duration("token_leeway", std::chrono::seconds(30)));
    if (config.token_signing_key && config.token_signing_key->reveal().size() < 32) {
        auth_node.fail("token_signing_key", "must be at least 32 bytes");
    }
    config.auth_failures = auth::read_failure_limits(auth_node.child("failures"));
    for (const auto& cidr : auth_node.child("failures").string_list("trusted_proxies", {})) {
        const auto slash = cidr.find('/');
        boost::system::error_code ec;
        const auto address = boost::asio::ip::make_address(cidr.substr(0, slash), ec);
        unsigned prefix = address.is_v4() ? 32 : 128;
        if (!ec && slash != std::string::npos) {
            const std::string bits = cidr.substr(slash + 1);
            if (bits.empty() || bits.size() > 3 || !std::all_of(bits.begin(), bits.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
                std::stoul(bits) > prefix) {
                ec = boost::asio::error::invalid_argument;
            } else {
                prefix = static_cast<unsigned>(std::stoul(bits));
            }
        }
        if (ec) auth_node.child("failures").fail("trusted_proxies", fmt::format("'{}' is not an address or CIDR range", cidr));
        config.trusted_proxies.emplace_back(address_bytes(address), address.is_v4() ? prefix + 96 : prefix);
    }

    auto fhir = root.child("fhir");
    config.strict_json = fhir.boolean("strict_json", true);
    const auto accepted_events = fhir.string_list("accepted_events", default_accepted_events());
    const auto ignored_events = fhir.string_list("ignored_events", {});

    auto shutdown = root.child("shutdown");
    config.drain_delay = shutdown.duration("drain_delay", config.drain_delay);
    config.grace_period =
        shutdown.duration("grace_period", config.grace_period, std::chrono::milliseconds(100));

    std::set<std::string> names, paths;
    for (auto& node : root.list("integrations")) {
        IntegrationConfig integration;
        integration.site = node.required_string("site");
        integration.name = node.string("name", integration.site);
        if (!is_valid_name(integration.name))
            node.fail("name", "must be 1-63 characters of a-z, 0-9 and '-'");
        if (!names.insert(integration.name).second)
            node.fail("name", fmt::format("'{}' is used twice", integration.name));
        if (!fhir::is_site_number(integration.site)) node.fail("site", "must be an Ocean site number (1-16 digits)");
        integration.fhir_path = substitute(node.string("fhir_path", "/ocean/{site}/fhir"), integration);
        integration.token_path =
            substitute(node.string("token_path", "/ocean/{site}/oauth2/token"), integration);
        integration.auth = auth::read_policy(node.child("auth"));
        integration.accepted_events = node.string_list("accepted_events", accepted_events);
        integration.ignored_events = node.string_list("ignored_events", ignored_events);
        integration.enforce_site = node.boolean("enforce_site", true);
        if (integration.fhir_path.empty() || integration.fhir_path.front() != '/') {
            node.fail("fhir_path", "must start with '/'");
        }
        if (integration.token_path.empty() || integration.token_path.front() != '/') {
            node.fail("token_path", "must start with '/'");
        }
        if (!paths.insert(integration.fhir_path).second)
            node.fail("fhir_path", fmt::format("'{}' is used twice", integration.fhir_path));
        if (integration.auth.scheme == auth::Scheme::kOAuth2) {
            if (!paths.insert(integration.token_path).second) {
                node.fail("token_path", fmt::format("'{}' is used twice", integration.token_path));
            }
            if (!config.token_signing_key) {
                auth_node.fail(
                    "token_signing_key",
                    fmt::format("is required because integration '{}' uses oauth2", integration.name));
            }
        }
        if (node.has("open_api")) {
            auto open_api_node = node.child("open_api");
            integration.open_api = read_open_api(open_api_node, integration, prefix, limits.body_limit);
            if (!paths.insert(integration.open_api->path).second) {
                open_api_node.fail("path", fmt::format("'{}' is used twice", integration.open_api->path));
            }
            if (integration.open_api->topic == kafka.inbound_topic) {
                open_api_node.fail("topic", "must differ from topics.inbound");
            }
        }
        config.integrations.push_back(std::move(integration));
    }
    if (config.integrations.empty()) root.fail("integrations", "configure at least one integration");
    // The key may be the last segment below an Open API path: no other route may live there.
    for (std::size_t i = 0; i < config.integrations.size(); ++i) {
        const auto& open_api = config.integrations[i].open_api;
        if (!open_api) continue;
        for (const auto& path : paths) {
            if (path.starts_with(open_api->path + "/")) {
                root.list("integrations")[i].child("open_api").fail(
                    "path", fmt::format("has the path '{}' below it, where the key segment goes", path));
            }
        }
    }

    if (root.has("hub_api")) {
        config.hub_api = read_hub_api(root.child("hub_api"),
                                      prefix,
                                      limits.body_limit,
                                      config.token_signing_key.has_value(),
                                      auth_node);
        const std::string& hub_prefix = config.hub_api->path_prefix;
        for (const auto& path : paths) {
            if (path == hub_prefix || path.starts_with(hub_prefix + "/")) {
                root.child("hub_api").fail("path_prefix",
                                           fmt::format("overlaps the integration path '{}'", path));
            }
        }
        if (config.hub_api->topic == kafka.inbound_topic) {
            root.child("hub_api").fail("topic", "must differ from topics.inbound");
        }
        for (const auto& integration : config.integrations) {
            if (integration.open_api && integration.open_api->topic == config.hub_api->topic) {
                root.child("hub_api").fail("topic", "must differ from the Open API notification topics");
            }
        }
    }

    reader.check_no_unknown_keys();
    return config;
}

IngressConfig load_config_file(const std::string& path) {
    auto reader = ConfigReader::from_file(path, "RELAY");
    return load_config(reader);
}

}  // namespace relay::ingress
