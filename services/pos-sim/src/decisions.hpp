#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "relay/core/config.hpp"
#include "relay/core/secret.hpp"
#include "relay/http/async_client.hpp"

namespace relay::pos_sim {

/// The hub system deciding on what it received, so the whole loop can run unattended: `delay` after the
/// first delivery of a referral on a deciding route, one decision goes to the relay's hub API (README,
/// "The hub API"):
///   accept  → POST {hub_url}/referrals/{ref}/accept        {"update_id"}
///   decline → POST {hub_url}/referrals/{ref}/decline       {"update_id", "reason"}
///   book    → POST {hub_url}/referrals/{ref}/appointments  {"update_id", "appointment": {start, end,
///                                                           confirmed, type_text}}
///   message → POST {hub_url}/referrals/{ref}/messages      {"update_id", "text"}
/// The update id is derived from the seed and the referral, and sent as `Idempotency-Key` too, so a
/// retried call (5xx or no answer: up to `attempts`) is the same update.
struct DecisionConfig {
    std::string hub_url;      ///< the hub API's base URL, e.g. http://127.0.0.1:8080/hub/v1
    std::string auth_header;  ///< e.g. "X-Api-Key" or "Authorization"; empty = none
    Secret auth_value;        ///< e.g. the key, or "Bearer …"
    std::chrono::milliseconds delay{1000};
    double accept = 0.6, decline = 0.2, book = 0.1, message = 0.1;  ///< the mix (normalised)
    double book_confirmed = 0.5;   ///< share of bookings the patient has confirmed
    std::set<std::string> routes;  ///< routes whose deliveries are decided on; empty = every route
    int attempts = 5;
    std::chrono::milliseconds retry_delay{500};
    std::uint64_t seed = 1;
};

/// nullopt if the `decisions` section is absent. Throws ConfigError naming the key.
std::optional<DecisionConfig> read_decision_config(ConfigReader::Node node);

/// Sends decisions; records what it sent and the answers. Thread-safe.
class DecisionMaker {
   public:
    DecisionMaker(boost::asio::any_io_executor executor, DecisionConfig config);

    /// Schedules a decision for `referral_ref` if this is the first delivery of it on a deciding route.
    void on_delivery(const std::string& route, const std::string& referral_ref);

    struct Sent {
        std::string referral_ref;
        std::string action;  ///< accept | decline | book | message
        std::string update_id;
        bool confirmed = false;  ///< book: the patient confirmed
        std::string appointment_start;
        int status = -1;  ///< -1 = not answered yet, 0 = no response after every attempt
        int attempts = 0;
        std::string answered_at;  ///< when the hub API's answer came (RFC 3339), empty before
    };
    [[nodiscard]] std::vector<Sent> sent() const;

   private:
    void record_answer(std::size_t index, int status, int attempts);

    boost::asio::any_io_executor executor_;
    DecisionConfig config_;
    http::Url base_;
    std::shared_ptr<http::AsyncClient> client_;
    mutable std::mutex mutex_;
    std::mt19937_64 rng_;
    std::set<std::string> decided_;
    std::vector<Sent> sent_;
};

}  // namespace relay::pos_sim
