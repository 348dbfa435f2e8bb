// Every built message applied by ocean-sim's $process-messages, in process (OceanApi::respond, no
// sockets), over the two real Ocean fixtures: Ocean's folder rules (ocean-api.md §3.6) move the referral
// as the hub meant. Each message is built over the previous one, as Ocean's echo would carry it.
#include <gtest/gtest.h>

#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <memory>
#include <string>

#include "ocean_api.hpp"
#include "referral_state.hpp"
#include "updater_test_util.hpp"

namespace {

namespace json = boost::json;
namespace bhttp = boost::beast::http;
using namespace relay::ocean_sim;
using namespace updater_test;

constexpr std::string_view kClientId = "updater-test-client-0123456789abcdef";
constexpr std::string_view kClientSecret = "updater-test-secret-0123456789abcdef";

/// The target listing ref of a fixture (id-referral-target-reference on a PractitionerRole).
std::string listing_of(const std::string& bundle) {
    const json::value b = json::parse(bundle);
    for (const auto& e : b.at("entry").as_array()) {
        const auto& r = e.at("resource").as_object();
        if (r.at("resourceType") != "PractitionerRole" || !r.contains("identifier")) continue;
        for (const auto& id : r.at("identifier").as_array()) {
            const std::string system(id.at("system").as_string());
            if (system.ends_with("/id-referral-target-reference"))
                return std::string(id.at("value").as_string());
        }
    }
    return {};
}

class OceanSimApply : public ::testing::TestWithParam<std::string> {
   protected:
    void SetUp() override {
        OceanApiConfig config;
        config.clients.push_back(
            {std::string(kClientId), relay::Secret::from_value(std::string(kClientSecret))});
        config.signing_key = relay::Secret::from_value("updater-test-signing-key-0123456789");
        api_ = std::make_unique<OceanApi>(std::move(config), state_);
        fixture_ = fixture(GetParam());
        ref_ = referral_ref_of(fixture_);
        GeneratedReferral sent;
        sent.referral_ref = ref_;
        sent.body = fixture_;
        sent.event = "add-service-request";
        state_.record_sent(sent, listing_of(fixture_), "1234");
        latest_ = fixture_;

        relay::http::Request req{bhttp::verb::post, "/svc/oauth2/token", 11};
        req.set(bhttp::field::content_type, "application/x-www-form-urlencoded");
        req.body() = "grant_type=client_credentials&client_id=" + std::string(kClientId) +
                     "&client_secret=" + std::string(kClientSecret);
        req.prepare_payload();
        const auto res = api_->respond(req);
        ASSERT_EQ(res.result_int(), 200U) << res.body();
        token_ = std::string(json::parse(res.body()).at("access_token").as_string());
    }

    /// Builds `members` over the latest bundle, posts it, and makes it the latest (Ocean's echo).
    json::value post(const std::string& name, const std::string& members) {
        const auto built = must_build(request("sim-" + name, ref_, members), latest_);
        relay::http::Request req{bhttp::verb::post, "/svc/fhir/v1/$process-messages", 11};
        req.set(bhttp::field::content_type, "application/fhir+json");
        req.set(bhttp::field::authorization, "Bearer " + token_);
        req.body() = built.bundle;
        req.prepare_payload();
        const auto res = api_->respond(req);
        EXPECT_EQ(res.result_int(), 200U) << name << ": " << res.body();
        latest_ = built.bundle;
        return json::parse(res.body());
    }

    Folder folder() { return state_.find(ref_)->folder; }

    ReferralState state_;
    std::unique_ptr<OceanApi> api_;
    std::string fixture_, ref_, latest_, token_;
};

TEST_P(OceanSimApply, FolderRules) {
    ASSERT_EQ(folder(), Folder::kNew);
    post("received", R"("action":"received")");
    EXPECT_EQ(folder(), Folder::kNew);  // acknowledged, still New (§3.6)
    EXPECT_EQ(state_.find(ref_)->task_status, "received");
    post("accept", R"("action":"accept","import_to_emr":true)");
    EXPECT_EQ(folder(), Folder::kPendingBooking);

    post("instructions", R"("action":"booking_instructions","instructions":"Call us to book")");
    EXPECT_EQ(folder(), Folder::kPendingBooking);

    post(
        "book",
        R"("action":"book","appointment":{"start":"2026-12-01T09:30:00-05:00","end":"2026-12-01T10:00:00-05:00","confirmed":false,"wait_time_milestone":"wait-2"})");
    EXPECT_EQ(folder(), Folder::kBookingUnconfirmed);

    post(
        "change",
        R"("action":"change_booking","appointment":{"start":"2026-12-02T13:00:00-05:00","end":"2026-12-02T13:45:00-05:00","confirmed":true})");
    EXPECT_EQ(folder(), Folder::kBookingConfirmed);
    auto view = state_.find(ref_);
    // The change replaced the booking Ocean holds (same Appointment id), next to the instructions.
    ASSERT_EQ(view->appointments.size(), 2U);
    EXPECT_EQ(view->appointments[1].start, "2026-12-02T13:00:00-05:00");
    EXPECT_EQ(view->appointments[1].participant_status, "accepted");

    post("cancel", R"("action":"cancel_booking","reason":"Clinic closed")");
    EXPECT_EQ(folder(), Folder::kPendingBooking);
    EXPECT_EQ(state_.find(ref_)->appointments[1].status, "cancelled");

    post(
        "message",
        R"("action":"message","text":"Please send the imaging report","attachment":{"content_type":"application/pdf","data":"JVBERi0xLjQK","title":"r.pdf"})");
    view = state_.find(ref_);
    ASSERT_EQ(view->communications.size(), 1U);
    EXPECT_EQ(view->communications[0].attachments, 1U);
    EXPECT_EQ(view->communications[0].event, "send-communication-from-provider");
    EXPECT_EQ(folder(), Folder::kPendingBooking);

    post("decline", R"("action":"decline","reason":"Outside our catchment area")");
    EXPECT_EQ(folder(), Folder::kDeclined);
    EXPECT_EQ(state_.find(ref_)->decline_reason, "Outside our catchment area");

    post("reopen", R"("action":"reopen")");
    EXPECT_EQ(folder(), Folder::kPendingBooking);
    EXPECT_EQ(state_.find(ref_)->history.back().change, "reopen");

    post("switch", R"("action":"switch_type","econsult":true)");
    EXPECT_EQ(folder(), Folder::kPendingBooking);
    EXPECT_EQ(state_.find(ref_)->task_status, "accepted");

    post("complete", R"("action":"complete")");
    EXPECT_EQ(folder(), Folder::kCompleted);

    post("reopen-again", R"("action":"reopen")");
    EXPECT_EQ(folder(), Folder::kPendingBooking);

    post("forward", R"("action":"forward","listing_ref":"lakeside_clinic-11112222")");
    view = state_.find(ref_);
    ASSERT_TRUE(view->forwarded_to.has_value());
    EXPECT_EQ(*view->forwarded_to, "lakeside_clinic-11112222");
    ASSERT_TRUE(view->forwarded_service_request.has_value());
    const auto forwarded = state_.find(*view->forwarded_service_request);
    ASSERT_TRUE(forwarded.has_value());
    EXPECT_EQ(forwarded->listing_ref, "lakeside_clinic-11112222");
    EXPECT_EQ(forwarded->folder, Folder::kNew);

    for (const auto& u : api_->updates().snapshot()) {
        EXPECT_EQ(u.outcome, UpdateOutcome::kAccepted) << u.event << " " << u.reason;
    }
}

INSTANTIATE_TEST_SUITE_P(RealFixtures,
                         OceanSimApply,
                         ::testing::Values("ereferral_back_pain.bundle.json",
                                           "ereferral_miscellaneous.bundle.json"),
                         [](const auto& info) { return info.param.substr(0, info.param.find('.')); });

}  // namespace
