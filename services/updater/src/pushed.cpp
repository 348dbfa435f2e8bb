#include "pushed.hpp"

#include "relay/transform/pushed.hpp"
#include "relay/transform/referral.hpp"

namespace relay::updater {

std::optional<std::string> pushed_update_json(std::string_view built_bundle, std::string* why) {
    transform::ReferralParser parser;
    const transform::ParseResult parsed = parser.parse(built_bundle);
    if (!parsed.referral) {
        if (why != nullptr) *why = parsed.error ? parsed.error->code : "not-a-referral";
        return std::nullopt;
    }
    const transform::Referral& r = *parsed.referral;
    return transform::encode_pushed(
        transform::PushedUpdate{r.referral_ref, r.tasks, r.appointments, r.communications});
}

}  // namespace relay::updater
