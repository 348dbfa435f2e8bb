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
    /// webhook (FHIR) | open_api_challenge | open_api_notification (Ocean's Open API / Patient
    /// Engagement webhook, counted apart from the FHIR webhooks)
    std::string kind = "webhook";
    /// FHIR: original | duplicate | resend_new | resend_update | echo; Open API: challenge |
    /// patient_engagement | open_ereferral
    std::string variant;
    std::string
        referral_ref;        ///< the referral ref (Open API: the notification's `ref`, a patient ref for PE)
    std::string event;       ///< FHIR event code, or the notification's `type`
    std::string session_id;  ///< Patient Engagement: customProperties.oceanSessionId
    std::string dialect;
    int attempt = 1;
    int status = 0;          ///< HTTP status, 0 when there was no response
    std::string outcome;     ///< delivered | retrying | gave_up (a challenge: also invalid)
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
    /// The Open API webhook is configured: its totals appear in the summary (as "open_api").
    void enable_open_api();

    struct Summary {
        std::uint64_t attempts = 0;
        std::uint64_t delivered = 0;            ///< messages that ended with a 2xx
        std::uint64_t gave_up = 0;              ///< messages Ocean would stop retrying
        std::map<int, std::uint64_t> statuses;  ///< every attempt's status (0 = no response)
        std::map<std::string, std::uint64_t> delivered_by_variant;
        /// Ocean's Open API / Patient Engagement webhook (kept apart from the FHIR totals above).
        struct OpenApi {
            bool enabled = false;
            std::string challenge = "not_sent";    ///< not_sent | passed | invalid
            std::uint64_t challenge_failures = 0;  ///< challenge attempts not answered with the echo
            std::uint64_t attempts = 0;            ///< notification attempts
            std::uint64_t delivered = 0;           ///< notifications answered with a 2xx
            std::uint64_t gave_up = 0;             ///< notifications given up (or never sent: invalid)
            std::map<std::string, std::uint64_t> delivered_by_type;
            std::map<int, std::uint64_t> statuses;  ///< every attempt's status, challenges included
        } open_api;
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
