#include "api_faults.hpp"

#include <utility>

#include "relay/http/fault_config.hpp"

namespace relay::ocean_sim {

namespace bhttp = boost::beast::http;

std::vector<ApiFaultRule> read_api_fault_rules(std::vector<ConfigReader::Node> nodes) {
    std::vector<std::optional<bhttp::verb>> methods;
    for (auto& node : nodes) {
        const std::string method = node.choice("method", "any", {"any", "GET", "POST", "PUT", "DELETE"});
        methods.push_back(method == "any" ? std::nullopt
                                          : std::optional<bhttp::verb>(bhttp::string_to_verb(method)));
    }
    const auto rules = http::read_fault_rules(std::move(nodes));
    std::vector<ApiFaultRule> out;
    for (std::size_t i = 0; i < rules.size(); ++i) out.push_back(ApiFaultRule{rules[i], methods[i]});
    return out;
}

ApiFaults::ApiFaults(const std::vector<ApiFaultRule>& rules, std::uint64_t seed) {
    std::vector<http::FaultRule> pending;
    std::optional<bhttp::verb> method;
    const auto flush = [&] {
        if (pending.empty()) return;
        // The first group draws from `seed` itself: without methods nothing changes.
        groups_.push_back(
            Group{method, std::make_unique<http::FaultInjector>(std::move(pending), seed + groups_.size())});
        pending.clear();
    };
    for (const auto& rule : rules) {
        if (!pending.empty() && rule.method != method) flush();
        method = rule.method;
        pending.push_back(rule.rule);
    }
    flush();
    if (groups_.empty())
        groups_.push_back(
            Group{std::nullopt, std::make_unique<http::FaultInjector>(std::vector<http::FaultRule>{}, seed)});
}

http::Handler ApiFaults::wrap(http::Handler inner) {
    http::Handler handler = std::move(inner);
    // The first group is the outermost: its rules are tried first.
    for (auto group = groups_.rbegin(); group != groups_.rend(); ++group) {
        http::Handler faulty = group->injector->wrap(handler);
        if (!group->method) {
            handler = std::move(faulty);
            continue;
        }
        // Not a coroutine: it hands over the awaitable of one handler or the other.
        handler = [method = *group->method, faulty = std::move(faulty), plain = std::move(handler)](
                      http::Request& request, const http::RequestContext& context) {
            if (request.method() == method) return faulty(request, context);
            return plain(request, context);
        };
    }
    return handler;
}

std::map<std::string, std::uint64_t> ApiFaults::injected() const {
    std::map<std::string, std::uint64_t> out;
    for (const auto& group : groups_)
        for (const auto& [kind, n] : group.injector->injected()) out[kind] += n;
    return out;
}

}  // namespace relay::ocean_sim
