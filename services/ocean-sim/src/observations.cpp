#include "observations.hpp"

#include <boost/json.hpp>

#include "relay/core/config.hpp"
#include "relay/core/time.hpp"

namespace relay::ocean_sim {

Observations::Observations(std::optional<std::string> jsonl_path) {
    if (jsonl_path) {
        file_.emplace(*jsonl_path, std::ios::app);
        if (!*file_) throw ConfigError("observations_file: cannot open '" + *jsonl_path + "' for writing");
    }
}

void Observations::record(const Observation& o) {
    boost::json::object line;
    line["ts"] = format_rfc3339_millis(system_now());
    line["kind"] = o.kind;
    line["variant"] = o.variant;
    line["referral_ref"] = o.referral_ref;
    line["event"] = o.event;
    line["dialect"] = o.dialect;
    line["attempt"] = o.attempt;
    line["status"] = o.status;
    line["outcome"] = o.outcome;
    if (!o.session_id.empty()) line["session_id"] = o.session_id;
    if (!o.error.empty()) line["error"] = o.error;
    if (!o.message_id.empty()) line["message_id"] = o.message_id;
    const std::string text = boost::json::serialize(line);

    std::lock_guard lock(mutex_);
    if (o.kind != "webhook") {
        auto& open = summary_.open_api;
        open.enabled = true;
        if (o.attempted) ++open.statuses[o.status];
        if (o.kind == "open_api_challenge") {
            if (o.outcome == "delivered") {
                open.challenge = "passed";
            } else {
                if (o.attempted) ++open.challenge_failures;
                if (o.outcome == "invalid" || o.outcome == "gave_up") open.challenge = "invalid";
            }
        } else {
            if (o.attempted) ++open.attempts;
            if (o.outcome == "delivered") {
                ++open.delivered;
                ++open.delivered_by_type[o.event];
            } else if (o.outcome == "gave_up") {
                ++open.gave_up;
            }
        }
        if (file_) {
            *file_ << text << '\n';
            file_->flush();
        }
        return;
    }
    if (o.attempted) {
        ++summary_.attempts;
        ++summary_.statuses[o.status];
    }
    if (o.outcome == "delivered") {
        ++summary_.delivered;
        ++summary_.delivered_by_variant[o.variant];
        delivered_ids_.push_back(o.message_id);
    } else if (o.outcome == "gave_up") {
        ++summary_.gave_up;
    }
    if (file_) {
        *file_ << text << '\n';
        file_->flush();
    }
}

void Observations::enable_open_api() {
    std::lock_guard lock(mutex_);
    summary_.open_api.enabled = true;
}

Observations::Summary Observations::summary() const {
    std::lock_guard lock(mutex_);
    return summary_;
}

std::vector<std::string> Observations::delivered_message_ids() const {
    std::lock_guard lock(mutex_);
    return delivered_ids_;
}

std::string Observations::summary_json() const {
    const Summary s = summary();
    boost::json::object out;
    out["attempts"] = s.attempts;
    out["delivered"] = s.delivered;
    out["gave_up"] = s.gave_up;
    boost::json::object statuses;
    for (const auto& [status, n] : s.statuses) statuses[std::to_string(status)] = n;
    out["statuses"] = std::move(statuses);
    boost::json::object variants;
    for (const auto& [variant, n] : s.delivered_by_variant) variants[variant] = n;
    out["delivered_by_variant"] = std::move(variants);
    if (s.open_api.enabled) {
        const auto& o = s.open_api;
        boost::json::object types;
        for (const auto& [type, n] : o.delivered_by_type) types[type] = n;
        boost::json::object codes;
        for (const auto& [status, n] : o.statuses) codes[std::to_string(status)] = n;
        out["open_api"] = boost::json::object{{"challenge", o.challenge},
                                              {"challenge_failures", o.challenge_failures},
                                              {"attempts", o.attempts},
                                              {"delivered", o.delivered},
                                              {"gave_up", o.gave_up},
                                              {"delivered_by_type", std::move(types)},
                                              {"statuses", std::move(codes)}};
    }
    return boost::json::serialize(out);
}

}  // namespace relay::ocean_sim
