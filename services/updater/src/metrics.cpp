#include "metrics.hpp"

#include "relay/hub/update.hpp"

namespace relay::updater {

UpdaterMetrics::UpdaterMetrics(std::shared_ptr<prometheus::Registry> registry,
                               const std::vector<std::string>& sites)
    : registry_(std::move(registry)) {
    auto& r = *registry_;
    updates_ = &prometheus::BuildCounter()
                    .Name("relay_updater_updates_total")
                    .Help(
                        "Hub updates by action and final outcome (sent, dead-lettered; skipped: a received "
                        "acknowledgement after a decision; already-sent: read again after Ocean took it)")
                    .Register(r);
    dlq_ = &prometheus::BuildCounter()
                .Name("relay_updater_dead_letters_total")
                .Help("Updates written to the updates DLQ, by reason")
                .Register(r);
    auto& latency = prometheus::BuildHistogram()
                        .Name("relay_updater_ocean_request_duration_seconds")
                        .Help("Time from sending an update to Ocean's answer (token fetch included)")
                        .Register(r);
    auto& attempts = prometheus::BuildCounter()
                         .Name("relay_updater_ocean_attempts_total")
                         .Help("Requests sent to Ocean's $process-messages (first attempts and retries)")
                         .Register(r);
    auto& retries = prometheus::BuildCounter()
                        .Name("relay_updater_ocean_retries_total")
                        .Help("Attempts that failed in a retryable way (5xx, 429, timeout, network, token)")
                        .Register(r);
    auto& tokens = prometheus::BuildCounter()
                       .Name("relay_updater_tokens_refreshed_total")
                       .Help("OAuth2 tokens fetched from Ocean, per site")
                       .Register(r);
    auto& token_failures = prometheus::BuildCounter()
                               .Name("relay_updater_token_failures_total")
                               .Help("Attempts that could not get a token from Ocean's token endpoint")
                               .Register(r);
    const prometheus::Histogram::BucketBoundaries buckets{
        0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
    for (const auto& site : sites) {
        const prometheus::Labels labels{{"site", site}};
        sites_.emplace(site,
                       Site{&latency.Add(labels, buckets),
                            &attempts.Add(labels),
                            &retries.Add(labels),
                            &tokens.Add(labels),
                            &token_failures.Add(labels)});
    }
    for (const auto action : {hub::Action::kAccept,
                              hub::Action::kDecline,
                              hub::Action::kComplete,
                              hub::Action::kReopen,
                              hub::Action::kForward,
                              hub::Action::kSwitchType,
                              hub::Action::kBook,
                              hub::Action::kChangeBooking,
                              hub::Action::kCancelBooking,
                              hub::Action::kBookingInstructions,
                              hub::Action::kMessage,
                              hub::Action::kReceived})
        for (const char* outcome : {"sent", "dead-lettered"})
            updates_->Add({{"action", hub::to_string(action)}, {"outcome", outcome}});
    updates_->Add({{"action", "received"}, {"outcome", "skipped"}});
    auto gauge = [&r](const char* name, const char* help) {
        return &prometheus::BuildGauge().Name(name).Help(help).Register(r).Add({});
    };
    held_ = gauge("relay_updater_held_updates",
                  "Updates in memory: being sent, retrying, waiting for a bundle or behind their referral");
    oldest_held_ = gauge("relay_updater_oldest_held_age_seconds",
                         "Age of the oldest update held in memory (since it was read)");
    bundles_ = gauge("relay_updater_latest_bundles", "Latest inbound bundles held for the owned partitions");
    dlq_records_ = gauge("relay_updater_dlq_records",
                         "Records in the updates dead-letter topic (all partitions, high - low watermark; "
                         "read at most every 10 s, on a scrape)");
    follow_delay_ =
        gauge("relay_updater_bundle_follow_delay_seconds",
              "Time from the router writing a latest bundle to the updater reading it (last one)");
}

void UpdaterMetrics::update(const std::string& action, const std::string& outcome) {
    std::lock_guard lock(mutex_);
    updates_->Add({{"action", action}, {"outcome", outcome}}).Increment();
}

void UpdaterMetrics::dead_letter(const std::string& reason) {
    std::lock_guard lock(mutex_);
    dlq_->Add({{"reason", reason}}).Increment();
}

}  // namespace relay::updater
