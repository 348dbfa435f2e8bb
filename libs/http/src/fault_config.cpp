#include "relay/http/fault_config.hpp"

#include <fmt/format.h>

namespace relay::http {

std::vector<FaultRule> read_fault_rules(std::vector<ConfigReader::Node> nodes) {
    std::vector<FaultRule> rules;
    for (auto& node : nodes) {
        FaultRule rule;
        const std::string kind =
            node.choice("kind", "status", {"status", "latency", "timeout", "reset", "expired_token", "down"});
        if (kind == "status") rule.kind = FaultRule::Kind::kStatus;
        if (kind == "latency") rule.kind = FaultRule::Kind::kLatency;
        if (kind == "timeout") rule.kind = FaultRule::Kind::kTimeout;
        if (kind == "reset") rule.kind = FaultRule::Kind::kReset;
        if (kind == "expired_token") rule.kind = FaultRule::Kind::kExpiredToken;
        if (kind == "down") rule.kind = FaultRule::Kind::kDown;
        rule.path_prefix = node.string("path_prefix", "");
        rule.probability = node.number("probability", 1, 0, 1);
        rule.status = static_cast<int>(node.integer("status", 503, 100, 599));
        rule.delay = node.duration("delay", std::chrono::milliseconds(0));
        rule.retry_after = std::chrono::duration_cast<std::chrono::seconds>(
            node.duration("retry_after", std::chrono::seconds(0)));
        rules.push_back(rule);
    }
    return rules;
}

}  // namespace relay::http
