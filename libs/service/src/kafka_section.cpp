#include "relay/service/kafka_section.hpp"

namespace relay::service {

kafka::TopicSpec KafkaSection::topic(const std::string& name) const {
    kafka::TopicSpec spec;
    spec.name = name;
    spec.partitions = partitions;
    spec.replication_factor = replication_factor;
    spec.max_message_bytes = message_max_bytes;
    return spec;
}

std::shared_ptr<const kafka::AtRest> read_at_rest(ConfigReader::Node& node) {
    std::vector<kafka::AtRest::Key> keys;
    for (ConfigReader::Node& entry : node.list("keys")) {
        kafka::AtRest::Key key;
        key.id = entry.required_string("id");
        key.material = entry.required_secret("key");
        keys.push_back(std::move(key));
    }
    std::string seal_with = node.string("seal_with", "");
    std::vector<std::string> topics = node.string_list("topics", {"*"});
    return std::make_shared<const kafka::AtRest>(std::move(keys), std::move(seal_with), std::move(topics), node.path());
}

KafkaClientSection read_kafka_client_section(ConfigReader::Node& node,
                                             const std::string& client_id,
                                             std::chrono::milliseconds linger) {
    KafkaClientSection kafka;
    kafka.embedded = node.boolean("embedded", false);
    kafka.client.bootstrap_servers = node.string("bootstrap_servers", kafka.embedded ? "" : "127.0.0.1:9092");
    kafka.client.client_id = node.string("client_id", client_id);
    kafka.client.properties = node.string_map("properties");
    kafka.create_topics = node.boolean("create_topics", true);
    kafka.partitions = static_cast<int>(node.integer("partitions", 12, 1, 10'000));
    kafka.replication_factor = static_cast<int>(node.integer("replication_factor", kafka.embedded ? 1 : 3, 1, 16));
    kafka.linger = node.duration("linger", linger, std::chrono::milliseconds(0));
    if (node.has("at_rest")) {
        ConfigReader::Node at_rest = node.child("at_rest");
        kafka.client.at_rest = read_at_rest(at_rest);
    }
    if (!kafka.embedded && kafka.client.bootstrap_servers.empty())
        node.fail("bootstrap_servers", "is required unless kafka.embedded is true");
    return kafka;
}

KafkaSection read_kafka_section(ConfigReader::Node& node, const KafkaDefaults& defaults) {
    using std::chrono::milliseconds;
    KafkaSection kafka;
    static_cast<KafkaClientSection&>(kafka) = read_kafka_client_section(node, defaults.client_id, defaults.linger);
    kafka.group_id = node.string("group_id", defaults.group_id);
    kafka.verify_topics = node.boolean("verify_topics", true);
    kafka.produce_timeout = node.duration("produce_timeout", kafka.produce_timeout, milliseconds(1'000));
    kafka.max_in_flight = static_cast<std::size_t>(
        node.integer("max_in_flight", static_cast<std::int64_t>(defaults.max_in_flight), 1, 1'000'000));
    kafka.commit_interval = node.duration("commit_interval", kafka.commit_interval, milliseconds(10));
    kafka.restore_timeout = node.duration("restore_timeout", kafka.restore_timeout, milliseconds(1'000));
    kafka.session_timeout = node.duration("session_timeout", kafka.session_timeout, milliseconds(6'000));
    kafka.message_max_bytes = node.bytes("message_max_bytes", kafka.message_max_bytes, 1ULL << 20, 1ULL << 30);
    kafka.fetch_wait = node.duration(
        "fetch_wait", kafka.embedded ? milliseconds(10) : kafka.fetch_wait, milliseconds(1));
    if (kafka.group_id.empty()) node.fail("group_id", "must not be empty");
    return kafka;
}

std::string read_topic(ConfigReader::Node& node,
                       const std::string& prefix,
                       std::string_view key,
                       std::string fallback) {
    std::string topic = prefix + node.string(key, std::move(fallback));
    if (!is_valid_topic_name(topic)) node.fail(key, "is not a valid Kafka topic name");
    return topic;
}

http::Limits read_http_limits(ConfigReader::Node& node, const http::Limits& defaults) {
    http::Limits limits = defaults;
    limits.body_limit = node.bytes("max_body", defaults.body_limit, 1024, 256ULL << 20);
    limits.header_limit = node.bytes("max_header", defaults.header_limit, 1024, 1ULL << 20);
    limits.idle_timeout = node.duration("idle_timeout", defaults.idle_timeout, std::chrono::milliseconds(100));
    limits.header_timeout = node.duration("header_timeout", defaults.header_timeout, std::chrono::milliseconds(100));
    limits.body_timeout = node.duration("body_timeout", defaults.body_timeout, std::chrono::milliseconds(100));
    limits.write_timeout = node.duration("write_timeout", defaults.write_timeout, std::chrono::milliseconds(100));
    limits.max_connections = static_cast<std::size_t>(
        node.integer("max_connections", static_cast<std::int64_t>(defaults.max_connections), 1, 1'000'000));
    limits.read_buffer = node.bytes("read_buffer", defaults.read_buffer, 4096, 16ULL << 20);
    return limits;
}

http::ListenerConfig read_admin_listener(ConfigReader::Node& node, std::uint16_t default_port) {
    http::ListenerConfig admin;
    admin.name = "admin";
    admin.address = node.string("address", "0.0.0.0");
    admin.port = static_cast<std::uint16_t>(node.integer("port", default_port, 0, 65535));
    // The admin endpoints take no body; this only bounds what a confused client sends.
    admin.limits.body_limit = 64 * 1024;
    return admin;
}

}  // namespace relay::service
