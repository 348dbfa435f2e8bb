#include "all_in_one.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

// The services' headers share names (config.hpp, service.hpp): each is named by its directory.
#include "../../delivery/src/service.hpp"
#include "../../delivery/src/service_config.hpp"
#include "../../fetcher/src/config.hpp"
#include "../../fetcher/src/fetcher.hpp"
#include "../../ingress/src/config.hpp"
#include "../../ingress/src/ingress.hpp"
#include "../../launch/src/config.hpp"
#include "../../launch/src/launch_service.hpp"
#include "../../router/src/config.hpp"
#include "../../router/src/router.hpp"
#include "../../updater/src/service.hpp"
#include "../../updater/src/service_config.hpp"
#include "relay/core/config.hpp"
#include "relay/core/log.hpp"
#include "relay/kafka/embedded_cluster.hpp"

namespace relay::all_in_one {
namespace {

/// Every role's configuration, loaded.
struct Roles {
    std::string log_level = "info";
    bool embedded = false;
    std::optional<ingress::IngressConfig> ingress;
    std::optional<router::RouterConfig> router;
    std::optional<delivery_service::DeliveryServiceConfig> delivery;
    std::optional<updater::UpdaterServiceConfig> updater;
    std::optional<fetcher::FetcherConfig> fetcher;
    std::optional<launch::LaunchConfig> launch;
};

/// The keys of a Kafka client (service::read_kafka_client_section): the only shared ones the ingress
/// takes; the workers take every key.
bool is_client_key(const std::string& key) {
    static const std::set<std::string> keys{
        "embedded", "bootstrap_servers", "properties", "at_rest", "linger", "create_topics", "partitions", "replication_factor"};
    return keys.contains(key);
}

/// Copies each shared `kafka:` key into the role's own `kafka:` section where the role does not set it.
YAML::Node with_shared_kafka(const YAML::Node& role, const YAML::Node& shared, bool client_keys_only) {
    YAML::Node merged = YAML::Clone(role);
    if (!shared || !shared.IsMap()) return merged;
    YAML::Node kafka = merged["kafka"];
    if (!kafka || kafka.IsNull()) kafka = YAML::Node(YAML::NodeType::Map);
    for (const auto& entry : shared) {
        const auto key = entry.first.as<std::string>();
        if (key == "client_id" || key == "group_id") continue;  // each role keeps its own
        if (client_keys_only && !is_client_key(key)) continue;
        if (!kafka[key]) kafka[key] = YAML::Clone(entry.second);
    }
    merged["kafka"] = kafka;
    return merged;
}

std::string upper(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return s;
}

template <typename Config, typename Load>
std::optional<Config> load_role(const YAML::Node& root, const char* role, const YAML::Node& shared, Load load) {
    const YAML::Node section = root[role];
    if (!section) return std::nullopt;
    if (!section.IsMap()) throw ConfigError(fmt::format("{}: must be a mapping (that role's configuration)", role));
    // The launch role has no Kafka: the shared section is not its to take.
    const bool uses_kafka = std::string_view(role) != "launch";
    ConfigReader reader(uses_kafka ? with_shared_kafka(section, shared, std::string_view(role) == "ingress") : section,
                        "RELAY_" + upper(role));
    try {
        return load(reader);
    } catch (const ConfigError& e) {
        throw ConfigError(fmt::format("{}.{}", role, e.what()));
    }
}

/// One embedded broker for every role, with every role's topics created before any role starts.
void use_embedded_broker(Roles& roles, kafka::EmbeddedCluster& cluster, int partitions) {
    std::set<std::string> created;
    auto create = [&](const kafka::TopicSpec& spec) {
        if (created.insert(spec.name).second) cluster.create_topic(spec.name, spec.partitions > 0 ? spec.partitions : partitions);
    };
    const std::string bootstrap = cluster.bootstrap_servers();
    if (roles.ingress) {
        auto& k = roles.ingress->kafka;
        create(roles.ingress->inbound_topic_spec());
        for (const auto& spec : roles.ingress->hub_topic_specs()) create(spec);
        for (const auto& spec : roles.ingress->notification_topic_specs()) create(spec);
        k.embedded = false;
        k.verify_topics = false;
        k.producer.client.bootstrap_servers = bootstrap;
    }
    auto worker = [&](service::KafkaSection& k, const std::vector<kafka::TopicSpec>& specs) {
        for (const auto& spec : specs) create(spec);
        k.embedded = false;
        k.verify_topics = false;  // the mock cluster has no admin API; the topics exist already
        k.client.bootstrap_servers = bootstrap;
    };
    if (roles.router) worker(roles.router->kafka, roles.router->topic_specs());
    if (roles.delivery) worker(roles.delivery->kafka, roles.delivery->topic_specs());
    if (roles.updater) worker(roles.updater->kafka, roles.updater->topic_specs());
    if (roles.fetcher) worker(roles.fetcher->kafka, roles.fetcher->topic_specs());
}

/// Runs every role on a thread of its own; one stopping for a failure stops the others.
class AllInOne : public service::Process {
   public:
    explicit AllInOne(std::shared_ptr<Roles> roles) : roles_(std::move(roles)) {
        if (roles_->embedded) {
            embedded_ = std::make_unique<kafka::EmbeddedCluster>(1);
            use_embedded_broker(*roles_, *embedded_, 3);
            log::warn("using the embedded Kafka broker: in memory, NOT durable; for trying ocean-relay only",
                      {{"bootstrap_servers", embedded_->bootstrap_servers()}});
        }
        // Consumers first, so the ingress takes traffic only once every record has somewhere to go.
        if (roles_->fetcher)
            add("fetcher", std::make_unique<service::ServiceProcess<fetcher::FetcherService>>(std::move(*roles_->fetcher)));
        if (roles_->updater)
            add("updater", std::make_unique<service::ServiceProcess<updater::UpdaterService>>(std::move(*roles_->updater)));
        if (roles_->delivery)
            add("delivery",
                std::make_unique<service::ServiceProcess<delivery_service::DeliveryService>>(std::move(*roles_->delivery)));
        if (roles_->router)
            add("router", std::make_unique<service::ServiceProcess<router::Router>>(std::move(*roles_->router)));
        if (roles_->launch)
            add("launch", std::make_unique<service::ServiceProcess<launch::LaunchService>>(std::move(*roles_->launch)));
        if (roles_->ingress)
            add("ingress", std::make_unique<service::ServiceProcess<ingress::Ingress>>(std::move(*roles_->ingress)));
    }

    ~AllInOne() override {
        // The ingress goes first (it stops taking traffic), the updater last.
        while (!roles_running_.empty()) roles_running_.pop_back();
    }

    int run() override {
        std::vector<std::thread> threads;
        std::vector<int> codes(roles_running_.size(), 0);
        for (std::size_t i = 0; i < roles_running_.size(); ++i) {
            threads.emplace_back([this, i, &codes] {
                codes[i] = roles_running_[i].process->run();
                if (codes[i] != 0) {
                    log::error("a role stopped with a failure: stopping the others", {{"role", roles_running_[i].name}});
                    stop();
                }
            });
        }
        for (auto& t : threads) t.join();
        return *std::max_element(codes.begin(), codes.end());
    }

    void stop() override {
        std::lock_guard lock(stop_mutex_);
        // The ingress first: it stops taking webhooks while the workers still consume what it wrote.
        for (auto it = roles_running_.rbegin(); it != roles_running_.rend(); ++it) it->process->stop();
    }

   private:
    struct Role {
        std::string name;
        std::unique_ptr<service::Process> process;
    };
    void add(std::string name, std::unique_ptr<service::Process> process) {
        roles_running_.push_back({std::move(name), std::move(process)});
    }

    std::shared_ptr<Roles> roles_;
    std::unique_ptr<kafka::EmbeddedCluster> embedded_;  ///< outlives every role (declared before them)
    std::vector<Role> roles_running_;
    std::mutex stop_mutex_;
};

}  // namespace

service::LoadedConfig load(const std::string& path) {
    YAML::Node root;
    try {
        root = YAML::LoadFile(path);
    } catch (const YAML::Exception& e) {
        throw ConfigError(fmt::format("{}: {}", path, e.what()));
    }
    if (!root.IsMap()) throw ConfigError(path + ": must be a mapping with a section per role");
    static const std::set<std::string> known{"log_level", "kafka", "ingress", "router", "delivery", "updater", "fetcher", "launch"};
    for (const auto& entry : root) {
        const auto key = entry.first.as<std::string>();
        if (!known.contains(key))
            throw ConfigError(fmt::format("{}: unknown key (expected log_level, kafka, ingress, router, delivery, updater, fetcher, launch)", key));
    }
    auto roles = std::make_shared<Roles>();
    if (root["log_level"]) roles->log_level = root["log_level"].as<std::string>();
    const YAML::Node shared = root["kafka"];
    if (shared && !shared.IsMap()) throw ConfigError("kafka: must be a mapping");
    if (shared)
        for (const auto& entry : shared)
            if (const auto key = entry.first.as<std::string>(); key == "client_id" || key == "group_id")
                throw ConfigError(fmt::format("kafka.{}: set it in a role's own kafka section (each role has its own)", key));
    roles->embedded = shared && shared["embedded"] && shared["embedded"].as<bool>(false);
    roles->ingress = load_role<ingress::IngressConfig>(root, "ingress", shared, [](ConfigReader& r) { return ingress::load_config(r); });
    roles->router = load_role<router::RouterConfig>(root, "router", shared, [](ConfigReader& r) { return router::load_config(r); });
    roles->delivery = load_role<delivery_service::DeliveryServiceConfig>(
        root, "delivery", shared, [](ConfigReader& r) { return delivery_service::load_service_config(r); });
    roles->updater = load_role<updater::UpdaterServiceConfig>(
        root, "updater", shared, [](ConfigReader& r) { return updater::load_service_config(r); });
    roles->fetcher = load_role<fetcher::FetcherConfig>(
        root, "fetcher", shared, [](ConfigReader& r) { return fetcher::load_config(r); });
    roles->launch = load_role<launch::LaunchConfig>(
        root, "launch", shared, [](ConfigReader& r) { return launch::load_config(r); });
    std::vector<std::string> present;
    if (roles->ingress) present.emplace_back("ingress");
    if (roles->router) present.emplace_back("router");
    if (roles->delivery) present.emplace_back("delivery");
    if (roles->updater) present.emplace_back("updater");
    if (roles->fetcher) present.emplace_back("fetcher");
    if (roles->launch) present.emplace_back("launch");
    if (present.empty())
        throw ConfigError("no role configured: add an ingress, router, delivery, updater, fetcher or launch section");

    service::LoadedConfig loaded;
    loaded.log_level = roles->log_level;
    loaded.summary = fmt::format("roles {}{}", fmt::join(present, ", "), roles->embedded ? " on the embedded broker" : "");
    loaded.start = [roles]() -> std::unique_ptr<service::Process> { return std::make_unique<AllInOne>(roles); };
    return loaded;
}

}  // namespace relay::all_in_one
