#include "pushed.hpp"

#include <boost/json.hpp>

#include "relay/transform/referral.hpp"

namespace relay::updater {

namespace json = boost::json;

std::optional<std::string> pushed_update_json(std::string_view built_bundle, std::string* why) {
    transform::ReferralParser parser;
    const transform::ParseResult parsed = parser.parse(built_bundle);
    if (!parsed.referral) {
        if (why != nullptr) *why = parsed.error ? parsed.error->code : "not-a-referral";
        return std::nullopt;
    }
    const transform::Referral& r = *parsed.referral;
    json::array tasks;
    for (const auto& t : r.tasks)
        tasks.push_back(json::object{{"status", t.status}, {"status_reason", t.status_reason}});
    json::array appointments;
    for (const auto& a : r.appointments)
        appointments.push_back(json::object{{"id", a.id},
                                            {"status", a.status},
                                            {"start", a.start},
                                            {"end", a.end},
                                            {"patient_status", a.patient_status}});
    json::array communications;
    for (const auto& c : r.communications) communications.push_back(json::object{{"id", c.id}});
    return json::serialize(json::object{{"referral_ref", r.referral_ref},
                                        {"tasks", std::move(tasks)},
                                        {"appointments", std::move(appointments)},
                                        {"communications", std::move(communications)}});
}

}  // namespace relay::updater
