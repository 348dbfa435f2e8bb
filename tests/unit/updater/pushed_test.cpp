// The updater's side of the router's echo contract: what it records as pushed for a message is exactly
// what the router reads from Ocean's echo of that message, so the echo is dropped — and a change Ocean
// makes that we did not push is not.
#include "pushed.hpp"

#include <gtest/gtest.h>

#include <string>

#include "relay/transform/referral.hpp"
#include "state.hpp"
#include "updater_test_util.hpp"

namespace updater_test {
namespace {

using relay::router::PartitionStore;
using relay::router::Verdict;

/// Ocean's echo of a message it applied, as Ocean builds it: its own referral as it sent it before (`ocean`),
/// carrying the receiver-side resources the message brought — the referral's one receiver Task (replaced),
/// Appointments and Communications (replaced by id, else added) — sent back as a
/// notify-update-service-request with its own MessageHeader id.
std::string as_oceans_echo(const std::string& ocean, const std::string& message, int n) {
    json::value echo = json::parse(ocean);
    auto& entries = echo.at("entry").as_array();
    const json::value sent = json::parse(message);
    for (const auto& e : sent.at("entry").as_array()) {
        const auto& resource = e.at("resource").as_object();
        const auto type = resource.at("resourceType").as_string();
        if (type != "Task" && type != "Appointment" && type != "Communication") continue;
        const auto* id = resource.if_contains("id");
        bool replaced = false;
        for (auto& mine : entries) {
            const auto& r = mine.at("resource").as_object();
            const bool same_task = type == "Task" && r.at("resourceType").as_string() == "Task";
            const bool same_id = r.at("resourceType").as_string() == type && id != nullptr &&
                                 r.if_contains("id") != nullptr && r.at("id") == *id;
            if (same_task || same_id) {
                mine = e;
                replaced = true;
            }
        }
        if (!replaced) entries.push_back(e);
    }
    auto& header = entries[0].at("resource").as_object();
    header["eventCoding"].as_object()["code"] = "notify-update-service-request";
    header["id"] = "echo-" + std::to_string(n);
    return json::serialize(echo);
}

relay::transform::Referral referral_of(const std::string& bundle) {
    relay::transform::ReferralParser parser;
    auto parsed = parser.parse(bundle);
    EXPECT_TRUE(parsed.referral) << (parsed.error ? parsed.error->code : "");
    return parsed.referral ? *parsed.referral : relay::transform::Referral{};
}

Verdict take(PartitionStore& store, const std::string& bundle, std::int64_t now) {
    const auto referral = referral_of(bundle);
    return store.take(referral, relay::router::idempotency_key(referral), now);
}

TEST(PushedUpdate, DecodesAsTheRouterExpects) {
    const std::string latest = fixture(fixture_names()[0]);
    for (const auto& [name, m] : build_every_type(latest)) {
        SCOPED_TRACE(name);
        std::string why;
        const auto value = pushed_update_json(m.bundle, &why);
        ASSERT_TRUE(value) << why;
        const auto decoded = relay::router::decode_pushed(*value, &why);
        ASSERT_TRUE(decoded) << why;
        EXPECT_EQ(decoded->referral_ref, referral_ref_of(latest));
        if (!m.task_status.empty()) {
            ASSERT_EQ(decoded->tasks.size(), 1U);
            EXPECT_EQ(decoded->tasks[0].status, m.task_status);
        }
        if (!m.appointment_status.empty()) {
            bool found = false;
            for (const auto& a : decoded->appointments) found = found || a.id == m.focus_id;
            EXPECT_TRUE(found) << "the booked appointment is recorded as pushed";
        }
        if (m.focus_type == "Communication") {
            ASSERT_FALSE(decoded->communications.empty());
            EXPECT_EQ(decoded->communications.back().id, m.focus_id);
        }
    }
}

TEST(PushedUpdate, OceansEchoOfEachPushedUpdateIsRecognisedByTheRouter) {
    for (const auto& name : fixture_names()) {
        SCOPED_TRACE(name);
        const std::string latest = fixture(name);
        PartitionStore store(relay::router::DedupPolicy{});
        std::int64_t now = 1'800'000'000;
        ASSERT_EQ(take(store, latest, now), Verdict::kDeliver);
        std::string ocean = latest;  // Ocean's referral as it last sent it
        int n = 0;
        int echoes = 0;
        for (const auto& [step, m] : build_every_type(latest)) {
            SCOPED_TRACE(step);
            // A forward makes a new ServiceRequest: the referral itself changed, so Ocean's reflection of
            // it is news for the hub, not an echo. Every other update only adds receiver-side items.
            if (step == "forward") continue;
            const auto value = pushed_update_json(m.bundle);
            ASSERT_TRUE(value);
            store.record_pushed(*relay::router::decode_pushed(*value), ++now);
            ocean = as_oceans_echo(ocean, m.bundle, ++n);
            EXPECT_EQ(take(store, ocean, ++now), Verdict::kEcho);
            ++echoes;
        }
        EXPECT_EQ(echoes, 12);
    }
}

TEST(PushedUpdate, AChangeMadeInOceanThatWasNotPushedIsDelivered) {
    const std::string latest = fixture(fixture_names()[0]);
    PartitionStore store(relay::router::DedupPolicy{});
    ASSERT_EQ(take(store, latest, 1), Verdict::kDeliver);
    const auto all = build_every_type(latest);
    const BuiltMessage* accept = nullptr;
    for (const auto& [step, m] : all)
        if (step == "accept") accept = &m;
    ASSERT_NE(accept, nullptr);
    // Nothing recorded as pushed: the same accepted Task coming from Ocean is a decision made there.
    EXPECT_EQ(take(store, as_oceans_echo(latest, accept->bundle, 1), 2), Verdict::kDeliver);
}

}  // namespace
}  // namespace updater_test
