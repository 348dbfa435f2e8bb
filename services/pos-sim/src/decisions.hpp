#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "relay/core/config.hpp"
#include "relay/core/secret.hpp"
#include "relay/http/async_client.hpp"

namespace relay::pos_sim {

/// The hub system deciding on what it received, so the whole loop can run unattended: after
/// `delay`, each new referral gets one decision POSTed to the relay's hub API as JSON
///   {"referral_ref", "action": accept|decline|book|message, "reason"?, "appointment"?: {start, end},
///   "message"?}
/// (the hub API's exact shape arrives with it; this caller is ready and configurable).
struct DecisionConfig {
    std::string target_url;
    std::string auth_header;  ///< e.g. "Authorization"; empty = none
    Secret auth_value;        ///< e.g. "Bearer …"
    std::chrono::milliseconds delay{1000};
    double accept = 0.6, decline = 0.2, book = 0.1, message = 0.1;  ///< the mix (normalised)
    std::uint64_t seed = 1;
};

/// nullopt if the `decisions` section is absent. Throws ConfigError naming the key.
std::optional<DecisionConfig> read_decision_config(ConfigReader::Node node);

/// Sends decisions; records what it sent and the answers. Thread-safe.
class DecisionMaker {
   public:
    DecisionMaker(boost::asio::any_io_executor executor, DecisionConfig config);

    /// Schedules a decision for `referral_ref` (call once per new referral).
    void decide_later(std::string referral_ref);

    struct Sent {
        std::string referral_ref;
        std::string action;
        int status = 0;  ///< 0 = no response
    };
    [[nodiscard]] std::vector<Sent> sent() const;

   private:
    boost::asio::any_io_executor executor_;
    DecisionConfig config_;
    http::Url target_;
    std::shared_ptr<http::AsyncClient> client_;
    mutable std::mutex mutex_;
    std::mt19937_64 rng_;
    std::vector<Sent> sent_;
};

}  // namespace relay::pos_sim
