#pragma once

#include <cstdint>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace relay::ocean_sim {

/// One thing the simulator did and what came of it: a webhook attempt and its answer.
struct Observation {
    std::string kind = "webhook";  ///< webhook
    std::string variant;           ///< original | duplicate | resend_new | resend_update
    std::string referral_ref;
    std::string event;
    std::string dialect;
    int attempt = 1;
    int status = 0;          ///< HTTP status, 0 when there was no response
    std::string outcome;     ///< delivered | retrying | gave_up
    std::string error;       ///< transport error class and text, when there was no response
    std::string message_id;  ///< X-Relay-Message-Id of the relay's 200
    bool attempted = true;   ///< false for a message abandoned without another attempt (stopped)
};

/// What the simulator saw, for assertions, the demo and rehearsals: every observation as a JSON line
/// (to a file when configured) and running totals. Thread-safe.
class Observations {
   public:
    explicit Observations(std::optional<std::string> jsonl_path = std::nullopt);

    void record(const Observation& observation);

    struct Summary {
        std::uint64_t attempts = 0;
        std::uint64_t delivered = 0;            ///< messages that ended with a 2xx
        std::uint64_t gave_up = 0;              ///< messages Ocean would stop retrying
        std::map<int, std::uint64_t> statuses;  ///< every attempt's status (0 = no response)
        std::map<std::string, std::uint64_t> delivered_by_variant;
    };
    [[nodiscard]] Summary summary() const;
    [[nodiscard]] std::string summary_json() const;
    /// Message ids of every delivered message, in order.
    [[nodiscard]] std::vector<std::string> delivered_message_ids() const;

   private:
    mutable std::mutex mutex_;
    std::optional<std::ofstream> file_;
    Summary summary_;
    std::vector<std::string> delivered_ids_;
};

}  // namespace relay::ocean_sim
