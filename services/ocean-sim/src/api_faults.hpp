// Fault injection on ocean-sim's API listener: relay::http's fault rules (matched by path prefix), each of
// which may also be limited to one HTTP method. Ocean's Open API reads and writes share their paths
// (GET /svc/v1/referrals/{ref} and POST /svc/v1/referrals/{ref}/messages, GET /svc/v1/patients/{ref} and
// POST /svc/v1/patients/{ref}/formLinks), so a test can fail the writes without failing the reads.
#pragma once

#include <boost/beast/http/verb.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "relay/core/config.hpp"
#include "relay/http/fault_injection.hpp"
#include "relay/http/server.hpp"

namespace relay::ocean_sim {

struct ApiFaultRule {
    http::FaultRule rule;
    std::optional<boost::beast::http::verb> method;  ///< none = every method
};

/// relay::http::read_fault_rules plus `method` (any | GET | POST | PUT | DELETE; default any).
std::vector<ApiFaultRule> read_api_fault_rules(std::vector<ConfigReader::Node> nodes);

/// Wraps a handler with the rules, tried in order; the first that matches the target (and the method)
/// and wins its draw applies, as with relay::http::FaultInjector. Rules without a method are exactly a
/// FaultInjector with `seed`. Thread-safe.
class ApiFaults {
   public:
    ApiFaults(const std::vector<ApiFaultRule>& rules, std::uint64_t seed);

    /// The returned handler refers to this object, which must outlive it.
    [[nodiscard]] http::Handler wrap(http::Handler inner);
    /// How often each kind was injected.
    [[nodiscard]] std::map<std::string, std::uint64_t> injected() const;

   private:
    /// Consecutive rules with the same method share one injector (and its random draws).
    struct Group {
        std::optional<boost::beast::http::verb> method;
        std::unique_ptr<http::FaultInjector> injector;
    };
    std::vector<Group> groups_;
};

}  // namespace relay::ocean_sim
