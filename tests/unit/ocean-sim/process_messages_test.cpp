// read_update_message on its own: a $process-messages body in, the update to apply or the refusal out,
// with no server, no token and nothing applied.
#include "process_messages.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <variant>

#include "generator.hpp"
#include "referral_state.hpp"

namespace {

namespace json = boost::json;
using namespace relay::ocean_sim;
namespace bhttp = boost::beast::http;

constexpr std::string_view kSite = "4321";
constexpr std::string_view kListing = "harbourfront_clinic-73632721";
constexpr std::string_view kOtherListing = "lakeside_clinic-11112222";
constexpr std::string_view kListingSystem =
    "https://ocean.cognisantmd.com/svc/fhir/v1/NamingSystem/id-referral-target-reference";

json::object task(std::string_view status) {
    return json::object{
        {"resourceType", "Task"},
        {"id", "task-1"},
        {"status", status},
        {"intent", "order"},
        {"code", json::object{{"coding", json::array{json::object{{"code", "process-request"}}}}}}};
}

json::object booking(std::string_view start) {
    return json::object{{"resourceType", "Appointment"},
                        {"id", "appt-1"},
                        {"status", "booked"},
                        {"start", start},
                        {"participant",
                         json::array{json::object{{"actor", json::object{{"reference", "Patient/p1"}}},
                                                  {"status", "accepted"}}}}};
}

/// A receiver's update message: MessageHeader (with `header_extra` members) first, then `focus`.
std::string message(std::string_view event,
                    std::string_view referral_ref,
                    const json::object& focus,
                    const json::object& header_extra = {}) {
    json::object header{
        {"resourceType", "MessageHeader"},
        {"id", "mh-1"},
        {"extension",
         json::array{json::object{
             {"url", "http://ehealthontario.ca/fhir/StructureDefinition/ext-referral-identifier"},
             {"valueIdentifier", json::object{{"value", referral_ref}}}}}},
        {"eventCoding", json::object{{"code", event}}},
        {"focus",
         json::array{json::object{{"reference",
                                   std::string(focus.at("resourceType").as_string()) + "/" +
                                       std::string(focus.at("id").as_string())}}}}};
    for (const auto& extra : header_extra) header[extra.key()] = extra.value();
    return json::serialize(json::object{
        {"resourceType", "Bundle"},
        {"type", "message"},
        {"entry", json::array{json::object{{"resource", header}}, json::object{{"resource", focus}}}}});
}

class ProcessMessagesTest : public ::testing::Test {
   protected:
    void SetUp() override {
        ReferralSpec spec;
        spec.seed = 11;
        spec.site_number = std::string(kSite);
        spec.listing_ref = std::string(kListing);
        spec.request_url = "https://relay.example/ocean/fhir/$process-message";
        const GeneratedReferral sent = generate(spec);
        ref_ = sent.referral_ref;
        state_.record_sent(sent, kListing, kSite);
    }

    /// The refusal, or a test failure when the message was accepted.
    static UpdateRefusal refusal_of(const UpdateReading& reading) {
        if (const auto* refusal = std::get_if<UpdateRefusal>(&reading.result)) return *refusal;
        ADD_FAILURE() << "the message was accepted";
        return {};
    }

    ReferralState state_;
    std::string ref_;
};

TEST_F(ProcessMessagesTest, AValidStatusUpdateIsReadAndNothingIsApplied) {
    const std::string state_before = state_.to_json();
    const UpdateReading reading =
        read_update_message(message("notify-update-process-request", ref_, task("accepted")), state_);

    const auto* update = std::get_if<ReceiverUpdate>(&reading.result);
    ASSERT_NE(update, nullptr) << refusal_of(reading).diagnostics;
    EXPECT_EQ(update->event, "notify-update-process-request");
    EXPECT_EQ(update->referral_ref, ref_);
    EXPECT_EQ(update->resource, "Task");
    EXPECT_EQ(update->status, "accepted");
    ASSERT_TRUE(update->task);
    EXPECT_EQ(update->task->status, "accepted");
    EXPECT_FALSE(update->appointment);
    EXPECT_FALSE(update->communication);
    EXPECT_FALSE(update->forward);
    EXPECT_EQ(reading.event, "notify-update-process-request");
    EXPECT_EQ(reading.referral_ref, ref_);
    EXPECT_EQ(reading.folder_before, Folder::kNew);
    // Reading is not applying.
    EXPECT_EQ(state_.to_json(), state_before);
}

TEST_F(ProcessMessagesTest, ABookingIsRead) {
    const UpdateReading reading = read_update_message(
        message("notify-add-appointment", ref_, booking("2026-12-01T09:30:00-05:00")), state_);

    const auto* update = std::get_if<ReceiverUpdate>(&reading.result);
    ASSERT_NE(update, nullptr) << refusal_of(reading).diagnostics;
    EXPECT_EQ(update->resource, "Appointment");
    ASSERT_TRUE(update->appointment);
    EXPECT_EQ(update->appointment->start, "2026-12-01T09:30:00-05:00");
    EXPECT_EQ(update->appointment->participant_status, "accepted");
}

TEST_F(ProcessMessagesTest, ABodyThatIsNotJsonIsAStructureError) {
    const UpdateReading reading = read_update_message("{\"resourceType\": \"Bundle\"", state_);

    const UpdateRefusal refusal = refusal_of(reading);
    EXPECT_EQ(refusal.status, bhttp::status::bad_request);
    EXPECT_EQ(refusal.code, "structure");
    EXPECT_EQ(refusal.expression, "Bundle");
    EXPECT_EQ(refusal.outcome, UpdateOutcome::kMalformed);
    EXPECT_TRUE(reading.event.empty());
    EXPECT_TRUE(reading.referral_ref.empty());
    EXPECT_FALSE(reading.folder_before);
}

TEST_F(ProcessMessagesTest, ABookingWithoutATimeIsAValueErrorAtItsStart) {
    const UpdateReading reading =
        read_update_message(message("notify-add-appointment", ref_, booking("next tuesday")), state_);

    const UpdateRefusal refusal = refusal_of(reading);
    EXPECT_EQ(refusal.status, bhttp::status::bad_request);
    EXPECT_EQ(refusal.code, "value");
    EXPECT_EQ(refusal.expression, "Bundle.entry[1].resource.start");
    EXPECT_EQ(refusal.outcome, UpdateOutcome::kMalformed);
    // How far reading got, for the update log.
    EXPECT_EQ(reading.event, "notify-add-appointment");
    EXPECT_EQ(reading.referral_ref, ref_);
    EXPECT_EQ(reading.folder_before, Folder::kNew);
}

TEST_F(ProcessMessagesTest, AnEventOnlyOceanSendsIsNotSupported) {
    const UpdateReading reading =
        read_update_message(message("notify-add-service-request", ref_, task("accepted")), state_);

    const UpdateRefusal refusal = refusal_of(reading);
    EXPECT_EQ(refusal.status, bhttp::status::bad_request);
    EXPECT_EQ(refusal.code, "not-supported");
    EXPECT_EQ(refusal.expression, "Bundle.entry[0].resource.eventCoding.code");
    EXPECT_EQ(reading.event, "notify-add-service-request");
    EXPECT_TRUE(reading.referral_ref.empty());
}

TEST_F(ProcessMessagesTest, AReferralOceanNeverSentIsNotFound) {
    const UpdateReading reading = read_update_message(
        message("notify-update-process-request", "no-such-referral", task("accepted")), state_);

    const UpdateRefusal refusal = refusal_of(reading);
    EXPECT_EQ(refusal.status, bhttp::status::not_found);
    EXPECT_EQ(refusal.code, "not-found");
    EXPECT_EQ(refusal.expression, "Bundle.entry[0].resource.extension");
    EXPECT_EQ(refusal.outcome, UpdateOutcome::kRefused);
    EXPECT_EQ(reading.referral_ref, "no-such-referral");
    EXPECT_FALSE(reading.folder_before);
}

TEST_F(ProcessMessagesTest, AnotherListingAsAuthorIsForbidden) {
    const json::object author{
        {"author",
         json::object{{"identifier", json::object{{"system", kListingSystem}, {"value", kOtherListing}}}}}};
    const UpdateReading reading =
        read_update_message(message("notify-update-process-request", ref_, task("accepted"), author), state_);

    const UpdateRefusal refusal = refusal_of(reading);
    EXPECT_EQ(refusal.status, bhttp::status::forbidden);
    EXPECT_EQ(refusal.code, "forbidden");
    EXPECT_EQ(refusal.expression, "Bundle.entry[0].resource.author");
    EXPECT_EQ(refusal.outcome, UpdateOutcome::kRefused);
}

}  // namespace
