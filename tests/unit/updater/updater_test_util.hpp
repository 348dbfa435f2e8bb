// Shared by the updater tests: update requests of every type and the chains that build them over the
// real Ocean fixtures (each message built over the previous one, as Ocean's echo would carry it).
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "message.hpp"
#include "relay/hub/update.hpp"
#include "test_support.hpp"

namespace updater_test {

namespace json = boost::json;
using namespace relay::hub;
using namespace relay::updater;

inline const std::vector<std::string>& fixture_names() {
    static const std::vector<std::string> names = {"ereferral_back_pain.bundle.json",
                                                   "ereferral_miscellaneous.bundle.json"};
    return names;
}

inline std::string fixture(const std::string& name) {
    return relay::test::read_fixture("ocean-fhir-v0.11.1/" + name);
}

/// The referral ref of a bundle (MessageHeader ext-referral-identifier).
inline std::string referral_ref_of(const std::string& bundle) {
    const json::value b = json::parse(bundle);
    const auto& header = b.at("entry").as_array()[0].at("resource").as_object();
    for (const auto& e : header.at("extension").as_array()) {
        if (e.as_object().contains("valueIdentifier"))
            return std::string(e.at("valueIdentifier").at("value").as_string());
    }
    return {};
}

/// An update request for `ref`: `members` is the action and its fields (JSON members, no braces).
inline std::string request(const std::string& update_id, const std::string& ref, const std::string& members) {
    return R"({"update_id":")" + update_id + R"(","referral_ref":")" + ref +
           R"(","requested_at":"2026-11-24T10:15:00-05:00",)" + members + "}";
}

inline Update must_parse(const std::string& text) {
    auto r = parse_update(text);
    EXPECT_TRUE(r.ok()) << r.error_text();
    return r.ok() ? *r.update : Update{};
}

inline BuiltMessage must_build(const std::string& request_text,
                               const std::string& latest,
                               const MessageOptions& options = {}) {
    const auto r = build_update_message(must_parse(request_text), latest, options);
    EXPECT_TRUE(r.ok()) << (r.error ? r.error->code + ": " + r.error->message : std::string());
    return r.ok() ? *r.message : BuiltMessage{};
}

/// One step of a chain: the request, and whether it is built over the fixture (false: over the
/// previous step's message).
struct Step {
    std::string name;
    std::string members;
    bool over_fixture = true;
};

/// Every update type (a referral is first acknowledged as received); the steps after "book" build over the
/// previous message, so change and cancel find the booked Appointment and reopen finds the declined Task.
inline std::vector<Step> every_type() {
    return {
        {"received", R"("action":"received")"},
        {"accept", R"("action":"accept","import_to_emr":true)"},
        {"decline", R"("action":"decline","reason":"Outside our catchment area")"},
        {"reopen", R"("action":"reopen")", false},
        {"complete", R"("action":"complete")"},
        {"forward", R"("action":"forward","listing_ref":"lakeside_clinic-11112222","reason":"Better fit")"},
        {"switch_type", R"("action":"switch_type","econsult":true)"},
        {"booking_instructions",
         R"("action":"booking_instructions","instructions":"Please call 555-0100 to book")"},
        {"message", R"("action":"message","text":"Please send the latest imaging report.")"},
        {"message_attachment",
         R"("action":"message","text":"Requisition attached.","attachment":{"content_type":"application/pdf","data":"JVBERi0xLjQKJcOkw7zDtsOfCg==","title":"requisition.pdf"})"},
        {"book",
         R"("action":"book","appointment":{"start":"2026-12-01T09:30:00-05:00","end":"2026-12-01T10:00:00-05:00","confirmed":false,"type_text":"Initial consult","instructions":"Bring your health card","wait_time_milestone":"wait-2"})"},
        {"change_booking",
         R"("action":"change_booking","appointment":{"start":"2026-12-02T13:00:00-05:00","end":"2026-12-02T13:45:00-05:00","confirmed":true})",
         false},
        {"cancel_booking", R"("action":"cancel_booking","reason":"Clinic closed that day")", false},
    };
}

/// Builds every_type() over `fixture_text`; {name, bundle}.
inline std::vector<std::pair<std::string, BuiltMessage>> build_every_type(
    const std::string& fixture_text, const MessageOptions& options = {}) {
    std::vector<std::pair<std::string, BuiltMessage>> out;
    const std::string ref = referral_ref_of(fixture_text);
    std::string previous = fixture_text;
    for (const auto& step : every_type()) {
        const std::string latest = step.over_fixture ? fixture_text : previous;
        auto built = must_build(request("upd-" + step.name, ref, step.members), latest, options);
        previous = built.bundle;
        out.emplace_back(step.name, std::move(built));
    }
    return out;
}

}  // namespace updater_test
