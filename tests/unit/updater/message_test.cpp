// Ocean's FHIR message for each update type (services/updater/src/message.hpp, ocean-api.md §3.7):
// shape (event code, both referral-ref extensions, Task / Appointment / Communication), the echo of the
// latest inbound bundle, deterministic ids, PHI-free errors.
//
// External validation (ctest wiring in tests/unit/updater/CMakeLists.txt): UpdaterSamples writes every
// update type built over both real Ocean fixtures to $RELAY_UPDATER_FHIR_SAMPLES_DIR (validated by HAPI
// FHIR against base R4, label fhir) and update requests to $RELAY_UPDATER_REQUEST_SAMPLES_DIR (valid) and
// ...-invalid (each must fail), checked against libs/hub/schemas/update.schema.json.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "updater_test_util.hpp"

namespace {

namespace json = boost::json;
namespace fs = std::filesystem;
using namespace relay::hub;
using namespace relay::updater;
using namespace updater_test;

constexpr std::string_view kBackPain = "ereferral_back_pain.bundle.json";
constexpr std::string_view kBackPainRef = "71db1a5c-89ce-41d5-bc71-8466f6c2f182";

struct Parsed {
    json::value root;
    [[nodiscard]] const json::array& entries() const { return root.at("entry").as_array(); }
    [[nodiscard]] const json::object& header() const { return entries()[0].at("resource").as_object(); }
    [[nodiscard]] const json::object& resource(std::size_t i) const {
        return entries()[i].at("resource").as_object();
    }
    /// The entry the header's first focus names.
    [[nodiscard]] const json::object& focus() const {
        const auto ref = header().at("focus").as_array()[0].at("reference").as_string();
        for (const auto& e : entries()) {
            if (e.as_object().contains("fullUrl") && e.at("fullUrl").as_string() == ref)
                return e.at("resource").as_object();
        }
        ADD_FAILURE() << "focus not in the bundle";
        return header();
    }
    [[nodiscard]] std::size_t count(std::string_view type) const {
        std::size_t n = 0;
        for (const auto& e : entries()) n += e.at("resource").at("resourceType").as_string() == type ? 1 : 0;
        return n;
    }
    [[nodiscard]] const json::object* find_url(std::string_view url) const {
        for (const auto& e : entries()) {
            if (e.as_object().contains("fullUrl") && e.at("fullUrl").as_string() == url)
                return &e.at("resource").as_object();
        }
        return nullptr;
    }
};

Parsed parsed(const BuiltMessage& m) {
    return Parsed{json::parse(m.bundle)};
}

std::string s(const json::value& v) {
    return std::string(v.as_string());
}

const BuiltMessage& by_name(const std::vector<std::pair<std::string, BuiltMessage>>& all,
                            std::string_view name) {
    for (const auto& [n, m] : all) {
        if (n == name) return m;
    }
    throw std::runtime_error("no such step");
}

class MessageTest : public ::testing::Test {
   protected:
    void SetUp() override {
        fixture_ = fixture(std::string(kBackPain));
        all_ = build_every_type(fixture_);
    }
    std::string fixture_;
    std::vector<std::pair<std::string, BuiltMessage>> all_;
};

TEST_F(MessageTest, HeaderOfEveryTypeCarriesBothReferralRefExtensionsAndTheEvent) {
    const std::map<std::string, std::string> events = {
        {"accept", "notify-update-process-request"},
        {"decline", "notify-update-process-request"},
        {"reopen", "notify-update-process-request"},
        {"complete", "notify-update-process-request"},
        {"received", "notify-update-process-request"},
        {"forward", "notify-update-process-request"},
        {"switch_type", "notify-update-process-request"},
        {"booking_instructions", "notify-add-appointment"},
        {"message", "send-communication-from-provider"},
        {"message_attachment", "send-communication-from-provider"},
        {"book", "notify-add-appointment"},
        {"change_booking", "notify-add-appointment"},
        {"cancel_booking", "notify-add-appointment"}};
    ASSERT_EQ(all_.size(), events.size());
    for (const auto& [name, m] : all_) {
        SCOPED_TRACE(name);
        const auto p = parsed(m);
        EXPECT_EQ(p.root.at("resourceType"), "Bundle");
        EXPECT_EQ(p.root.at("type"), "message");
        EXPECT_FALSE(p.root.as_object().contains("total"));  // bdl-1: total only for searches/histories
        EXPECT_EQ(p.root.at("timestamp"), "2026-11-24T10:15:00-05:00");
        const auto& h = p.header();
        EXPECT_EQ(h.at("resourceType"), "MessageHeader");
        EXPECT_EQ(s(p.entries()[0].at("fullUrl")), "urn:uuid:" + s(h.at("id")));
        EXPECT_EQ(
            h.at("meta").at("profile").as_array()[0],
            "http://ehealthontario.ca/fhir/StructureDefinition/ca-on-eReferral-profile-MessageHeader|1.0.1");
        const auto& ext = h.at("extension").as_array();
        ASSERT_EQ(ext.size(), 2U);
        EXPECT_EQ(ext[0].at("url"),
                  "http://ehealthontario.ca/fhir/StructureDefinition/ext-referral-identifier");
        // The system Ocean used (its host embedded) comes back as it was.
        EXPECT_EQ(ext[0].at("valueIdentifier").at("system"),
                  "http://localhost:8081/svc/fhir/v1/NamingSystem/id-ereferral-reference");
        EXPECT_EQ(s(ext[0].at("valueIdentifier").at("value")), kBackPainRef);
        EXPECT_EQ(ext[1].at("url"),
                  "http://ehealthontario.ca/fhir/StructureDefinition/ext-id-message-header");
        EXPECT_EQ(s(ext[1].at("valueString")), kBackPainRef);
        EXPECT_EQ(h.at("eventCoding").at("system"),
                  "https://ehealthontario.ca/fhir/CodeSystem/message-event-code");
        EXPECT_EQ(s(h.at("eventCoding").at("code")), events.at(name));
        EXPECT_EQ(m.event, events.at(name));
        EXPECT_EQ(h.at("sender").at("reference"), "Organization/ocean-relay");
        EXPECT_EQ(h.at("source").at("name"), "ocean-relay");
        EXPECT_EQ(s(p.focus().at("resourceType")), m.focus_type);
        EXPECT_EQ(s(p.focus().at("id")), m.focus_id);
        EXPECT_EQ(p.count("MessageHeader"), 1U);
    }
}

TEST_F(MessageTest, EchoesEveryInboundResourceButTheHeaderWithIdsFromFullUrls) {
    const json::value in = json::parse(fixture_);
    const auto p = parsed(by_name(all_, "accept"));
    const auto& inbound = in.at("entry").as_array();
    ASSERT_EQ(p.entries().size(), inbound.size() + 1);  // - header + header + Task
    for (std::size_t i = 1; i < inbound.size(); ++i) {
        const auto& echoed = p.entries()[i].as_object();
        EXPECT_EQ(echoed.at("fullUrl"), inbound[i].at("fullUrl"));
        const auto& r = echoed.at("resource").as_object();
        EXPECT_EQ(s(echoed.at("fullUrl")), "urn:uuid:" + s(r.at("id")));
        // Everything else as Ocean sent it.
        json::object without_id = r;
        without_id.erase("id");
        EXPECT_EQ(json::value(without_id), inbound[i].at("resource"));
    }
}

TEST_F(MessageTest, TaskActions) {
    struct Expect {
        std::string name, status, reason;
    };
    for (const auto& e : std::vector<Expect>{{"accept", "accepted", ""},
                                             {"decline", "rejected", "Outside our catchment area"},
                                             {"reopen", "accepted", ""},
                                             {"complete", "completed", ""},
                                             {"received", "received", ""}}) {
        SCOPED_TRACE(e.name);
        const auto& m = by_name(all_, e.name);
        const auto p = parsed(m);
        const auto& t = p.focus();
        EXPECT_EQ(t.at("resourceType"), "Task");
        EXPECT_EQ(s(t.at("status")), e.status);
        EXPECT_EQ(m.task_status, e.status);
        EXPECT_EQ(t.at("intent"), "order");
        EXPECT_EQ(t.at("code").at("coding").as_array()[0].at("system"),
                  "http://terminology.hl7.org/CodeSystem/v3-TaskOutcome");
        EXPECT_EQ(t.at("code").at("coding").as_array()[0].at("code"), "process-request");
        EXPECT_EQ(s(t.at("basedOn").as_array()[0].at("reference")), "urn:uuid:" + std::string(kBackPainRef));
        EXPECT_EQ(t.at("for").at("reference"), "urn:uuid:a5f0e549-754c-4a09-a96f-555e981aa3d1");
        EXPECT_EQ(t.at("owner").at("reference"), "urn:uuid:163dd763-3947-442a-82d5-3d0c598142bd");
        if (e.reason.empty())
            EXPECT_FALSE(t.contains("statusReason"));
        else
            EXPECT_EQ(s(t.at("statusReason").at("text")), e.reason);
        EXPECT_EQ(p.count("Task"), 1U);
    }
    const auto accept_bundle = parsed(by_name(all_, "accept"));
    const auto& accept = accept_bundle.focus();
    ASSERT_TRUE(accept.contains("extension"));
    EXPECT_EQ(
        accept.at("extension").as_array()[0].at("url"),
        "https://ocean.cognisantmd.com/svc/v1/Structure-Definition/ext-accept-service-request-import|1.0");
    EXPECT_EQ(accept.at("extension").as_array()[0].at("valueBoolean"), true);
    EXPECT_FALSE(parsed(by_name(all_, "complete")).focus().contains("extension"));
}

TEST_F(MessageTest, ReopenReplacesTheDeclinedTaskKeepingItsId) {
    const auto decline = parsed(by_name(all_, "decline"));
    const auto reopen = parsed(by_name(all_, "reopen"));  // built over the decline message
    EXPECT_EQ(reopen.focus().at("id"), decline.focus().at("id"));
    EXPECT_EQ(reopen.count("Task"), 1U);
    EXPECT_EQ(reopen.focus().at("status"), "accepted");
    EXPECT_FALSE(reopen.focus().contains("statusReason"));
}

TEST_F(MessageTest, ReplacesOceansEchoedTaskWithTheSameId) {
    // ocean-sim's echo carries the Task without id, by fullUrl (v0.11).
    json::value in = json::parse(fixture_);
    in.at("entry").as_array().push_back(json::parse(
        R"({"fullUrl":"urn:uuid:11111111-2222-4333-8444-555555555555","resource":{"resourceType":"Task","status":"accepted","intent":"order","code":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-TaskOutcome","code":"process-request"}]}}})"));
    const auto m = must_build(request("u-complete", std::string(kBackPainRef), R"("action":"complete")"),
                              json::serialize(in));
    const auto p = parsed(m);
    EXPECT_EQ(p.count("Task"), 1U);
    EXPECT_EQ(p.focus().at("id"), "11111111-2222-4333-8444-555555555555");
    EXPECT_EQ(p.header().at("focus").as_array()[0].at("reference"),
              "urn:uuid:11111111-2222-4333-8444-555555555555");
    EXPECT_EQ(p.focus().at("status"), "completed");
}

TEST_F(MessageTest, FirstTaskEventIsConfigurable) {
    MessageOptions options;
    options.first_task_event = "notify-add-process-request";
    const auto first =
        must_build(request("u1", std::string(kBackPainRef), R"("action":"accept")"), fixture_, options);
    EXPECT_EQ(first.event, "notify-add-process-request");
    const auto next =
        must_build(request("u2", std::string(kBackPainRef), R"("action":"complete")"), first.bundle, options);
    EXPECT_EQ(next.event, "notify-update-process-request");
}

TEST_F(MessageTest, Forward) {
    const auto p = parsed(by_name(all_, "forward"));
    const auto& t = p.focus();
    EXPECT_EQ(t.at("status"), "requested");
    EXPECT_EQ(s(t.at("statusReason").at("text")), "Better fit");
    const auto new_sr_url = s(t.at("basedOn").as_array()[0].at("reference"));
    EXPECT_NE(new_sr_url, "urn:uuid:" + std::string(kBackPainRef));
    const auto* sr = p.find_url(new_sr_url);
    ASSERT_NE(sr, nullptr);
    EXPECT_EQ(sr->at("resourceType"), "ServiceRequest");
    EXPECT_EQ(s(sr->at("replaces").as_array()[0].at("reference")), "urn:uuid:" + std::string(kBackPainRef));
    EXPECT_EQ(sr->at("status"), "active");
    EXPECT_FALSE(sr->contains("identifier"));  // the old referral ref is not the new referral's
    const auto* role = p.find_url(s(sr->at("performer").as_array()[0].at("reference")));
    ASSERT_NE(role, nullptr);
    EXPECT_EQ(role->at("identifier").as_array()[0].at("system"),
              "http://localhost:8081/svc/fhir/v1/NamingSystem/id-referral-target-reference");
    EXPECT_EQ(role->at("identifier").as_array()[0].at("value"), "lakeside_clinic-11112222");
    EXPECT_EQ(t.at("owner").at("reference"), sr->at("performer").as_array()[0].at("reference"));
    // The old ServiceRequest is still there (echoed).
    EXPECT_NE(p.find_url("urn:uuid:" + std::string(kBackPainRef)), nullptr);
    EXPECT_EQ(p.count("ServiceRequest"), 2U);
}

TEST_F(MessageTest, SwitchType) {
    const auto t_bundle = parsed(by_name(all_, "switch_type"));
    const auto& t = t_bundle.focus();
    EXPECT_EQ(t.at("status"), "received");  // no Task yet: acknowledged, no folder change
    EXPECT_EQ(
        t.at("extension").as_array()[0].at("url"),
        "http://ehealthontario.ca/fhir/StructureDefinition/ca-on-eConsult-ext-patient-needs-to-be-seen");
    EXPECT_EQ(t.at("extension").as_array()[0].at("valueBoolean"), false);  // eConsult: need not be seen
    const auto back =
        must_build(request("u-back", std::string(kBackPainRef), R"("action":"switch_type","econsult":false)"),
                   by_name(all_, "accept").bundle);
    const auto t2_bundle = parsed(back);
    const auto& t2 = t2_bundle.focus();
    EXPECT_EQ(t2.at("status"), "accepted");  // the current status is kept
    EXPECT_EQ(t2.at("extension").as_array()[0].at("valueBoolean"), true);
}

TEST_F(MessageTest, BookChangeCancel) {
    const auto book = parsed(by_name(all_, "book"));
    const auto& a = book.focus();
    EXPECT_EQ(a.at("resourceType"), "Appointment");
    EXPECT_EQ(a.at("meta").at("profile").as_array()[0],
              "http://ehealthontario.ca/fhir/StructureDefinition/ca-on-eReferral-profile-Appointment|1.0.0");
    EXPECT_EQ(a.at("status"), "booked");
    EXPECT_EQ(a.at("start"), "2026-12-01T09:30:00-05:00");
    EXPECT_EQ(a.at("end"), "2026-12-01T10:00:00-05:00");
    EXPECT_EQ(a.at("minutesDuration"), 30);
    EXPECT_EQ(a.at("appointmentType").at("coding").as_array()[0].at("system"),
              "http://terminology.hl7.org/CodeSystem/v2-0276");
    EXPECT_EQ(a.at("appointmentType").at("coding").as_array()[0].at("code"), "ROUTINE");
    EXPECT_EQ(a.at("appointmentType").at("text"), "Initial consult");
    EXPECT_EQ(s(a.at("basedOn").as_array()[0].at("reference")), "urn:uuid:" + std::string(kBackPainRef));
    EXPECT_EQ(a.at("patientInstruction"), "Bring your health card");
    const auto& participant = a.at("participant").as_array()[0];
    EXPECT_EQ(participant.at("actor").at("reference"), "urn:uuid:a5f0e549-754c-4a09-a96f-555e981aa3d1");
    EXPECT_EQ(participant.at("status"), "tentative");
    EXPECT_EQ(participant.at("required"), "required");
    const auto& ext = a.at("extension").as_array()[0];
    EXPECT_EQ(ext.at("url"),
              "https://ocean.cognisantmd.com/svc/fhir/v1/StructureDefinition/"
              "ext-ontario-clinical-wait-time-appointment-milestones");
    EXPECT_EQ(ext.at("valueCoding").at("code"), "wait-2");

    const auto change = parsed(by_name(all_, "change_booking"));
    EXPECT_EQ(change.count("Appointment"), 1U);  // the booked one is replaced, not repeated
    EXPECT_EQ(change.focus().at("id"), a.at("id"));
    EXPECT_EQ(change.focus().at("start"), "2026-12-02T13:00:00-05:00");
    EXPECT_EQ(change.focus().at("minutesDuration"), 45);
    EXPECT_EQ(change.focus().at("participant").as_array()[0].at("status"), "accepted");

    const auto cancel = parsed(by_name(all_, "cancel_booking"));
    EXPECT_EQ(cancel.count("Appointment"), 1U);
    EXPECT_EQ(cancel.focus().at("id"), a.at("id"));
    EXPECT_EQ(cancel.focus().at("status"), "cancelled");
    EXPECT_EQ(cancel.focus().at("start"), "2026-12-02T13:00:00-05:00");  // as Ocean knows it
    EXPECT_EQ(cancel.focus().at("cancelationReason").at("text"), "Clinic closed that day");
}

TEST_F(MessageTest, BookingInstructionsOnly) {
    const auto p = parsed(by_name(all_, "booking_instructions"));
    const auto& a = p.focus();
    EXPECT_EQ(a.at("status"), "proposed");
    EXPECT_FALSE(a.contains("start"));
    EXPECT_FALSE(a.contains("end"));
    EXPECT_EQ(a.at("patientInstruction"), "Please call 555-0100 to book");
    // Base R4 needs a participant (1..*): the Patient, needs-action.
    EXPECT_EQ(a.at("participant").as_array()[0].at("status"), "needs-action");
    MessageOptions ocean_labs;
    ocean_labs.instructions_with_patient_participant = false;
    const auto bare = must_build(
        request(
            "u-i", std::string(kBackPainRef), R"("action":"booking_instructions","instructions":"Call us")"),
        fixture_,
        ocean_labs);
    EXPECT_FALSE(parsed(bare).focus().contains("participant"));
}

TEST_F(MessageTest, Message) {
    const auto c_bundle = parsed(by_name(all_, "message_attachment"));
    const auto& c = c_bundle.focus();
    EXPECT_EQ(c.at("resourceType"), "Communication");
    EXPECT_EQ(c.at("status"), "completed");
    EXPECT_EQ(s(c.at("basedOn").as_array()[0].at("reference")), "urn:uuid:" + std::string(kBackPainRef));
    EXPECT_EQ(c.at("sent"), "2026-11-24T10:15:00-05:00");
    EXPECT_EQ(c.at("sender").at("reference"), "urn:uuid:163dd763-3947-442a-82d5-3d0c598142bd");
    const auto& payload = c.at("payload").as_array();
    ASSERT_EQ(payload.size(), 2U);
    EXPECT_EQ(payload[0].at("contentString"), "Requisition attached.");
    EXPECT_EQ(payload[1].at("contentAttachment").at("contentType"), "application/pdf");
    EXPECT_EQ(payload[1].at("contentAttachment").at("data"), "JVBERi0xLjQKJcOkw7zDtsOfCg==");
    EXPECT_EQ(payload[1].at("contentAttachment").at("title"), "requisition.pdf");
    EXPECT_EQ(parsed(by_name(all_, "message")).focus().at("payload").as_array().size(), 1U);
}

TEST_F(MessageTest, SameUpdateSameBytesOtherUpdateOtherIds) {
    const auto again = build_every_type(fixture_);
    ASSERT_EQ(again.size(), all_.size());
    std::set<std::string> ids;
    for (std::size_t i = 0; i < all_.size(); ++i) {
        EXPECT_EQ(again[i].second.bundle, all_[i].second.bundle) << all_[i].first;
        EXPECT_TRUE(ids.insert(all_[i].second.bundle_id).second);
        EXPECT_TRUE(ids.insert(all_[i].second.message_header_id).second);
    }
    const auto other =
        must_build(request("upd-accept-2", std::string(kBackPainRef), R"("action":"accept")"), fixture_);
    EXPECT_NE(other.message_header_id, by_name(all_, "accept").message_header_id);
    EXPECT_EQ(update_uuid("a", "task"), update_uuid("a", "task"));
    EXPECT_NE(update_uuid("a", "task"), update_uuid("a", "appointment"));
    EXPECT_NE(update_uuid("ab", "c"), update_uuid("a", "bc"));
    EXPECT_EQ(update_uuid("a", "task")[14], '5');  // version 5
}

TEST_F(MessageTest, OptionsAreUsed) {
    MessageOptions o;
    o.header_profile =
        "http://ehealthontario.ca/fhir/StructureDefinition/ca-on-eReferral-profile-MessageHeader|1.1.0";
    o.sender_reference = "Organization/hub-7";
    o.author_reference = "PractitionerRole/desk-1";
    o.source_name = "hub";
    o.source_endpoint = "https://hub.example/fhir/$process-message";
    o.message_event = "send-communication";
    o.task_code_system = "https://example.org/task-code";
    const auto m = must_build(
        request("u-m", std::string(kBackPainRef), R"("action":"message","text":"hi")"), fixture_, o);
    const auto p = parsed(m);
    EXPECT_EQ(s(p.header().at("meta").at("profile").as_array()[0]), o.header_profile);
    EXPECT_EQ(p.header().at("sender").at("reference"), "Organization/hub-7");
    EXPECT_EQ(p.header().at("author").at("reference"), "PractitionerRole/desk-1");
    EXPECT_EQ(s(p.header().at("source").at("endpoint")), o.source_endpoint);
    EXPECT_EQ(p.header().at("eventCoding").at("code"), "send-communication");
    const auto t = must_build(request("u-t", std::string(kBackPainRef), R"("action":"accept")"), fixture_, o);
    EXPECT_EQ(s(parsed(t).focus().at("code").at("coding").as_array()[0].at("system")), o.task_code_system);
    o.header_profile.clear();
    o.appointment_profile.clear();
    const auto b =
        must_build(request("u-b", std::string(kBackPainRef), every_type()[9].members), fixture_, o);
    EXPECT_FALSE(parsed(b).header().contains("meta"));
    EXPECT_FALSE(parsed(b).focus().contains("meta"));
}

TEST_F(MessageTest, AnnotationWithoutTextIsMarkedAbsent) {
    // The miscellaneous fixture has a ServiceRequest.note with only authorReference and time.
    const auto misc = fixture("ereferral_miscellaneous.bundle.json");
    const auto m = must_build(request("u-a", referral_ref_of(misc), R"("action":"accept")"), misc);
    const std::string marked =
        R"("_text":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/data-absent-reason","valueCode":"unknown"}]})";
    EXPECT_NE(m.bundle.find(marked), std::string::npos);
    MessageOptions raw;
    raw.mark_absent_annotation_text = false;
    EXPECT_EQ(must_build(request("u-a", referral_ref_of(misc), R"("action":"accept")"), misc, raw)
                  .bundle.find(marked),
              std::string::npos);
}

TEST_F(MessageTest, ErrorsAreCodedAndFreeOfPatientData) {
    const auto build = [&](const std::string& members,
                           const std::string& latest,
                           const std::string& ref = std::string(kBackPainRef)) {
        return build_update_message(must_parse(request("u-e", ref, members)), latest, MessageOptions{});
    };
    auto r = build(R"("action":"accept")", "not json");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error->code, "latest-bundle-invalid");
    r = build(R"("action":"accept")", R"({"resourceType":"Patient"})");
    EXPECT_EQ(r.error->code, "latest-bundle-invalid");
    r = build(R"("action":"accept")", fixture_, "another-referral");
    EXPECT_EQ(r.error->code, "referral-mismatch");
    r = build(
        R"("action":"change_booking","appointment":{"start":"2026-12-02T13:00:00Z","end":"2026-12-02T14:00:00Z","confirmed":true})",
        fixture_);
    EXPECT_EQ(r.error->code, "no-appointment");
    r = build(R"("action":"cancel_booking")", fixture_);
    EXPECT_EQ(r.error->code, "no-appointment");

    // No Patient: a booking cannot name its participant.
    json::value in = json::parse(fixture_);
    auto& entries = in.at("entry").as_array();
    for (auto it = entries.begin(); it != entries.end();) {
        it = it->at("resource").at("resourceType") == "Patient" ? entries.erase(it) : it + 1;
    }
    const auto steps = every_type();
    const auto book =
        std::find_if(steps.begin(), steps.end(), [](const Step& s) { return s.name == "book"; });
    ASSERT_NE(book, steps.end());
    r = build(book->members, json::serialize(in));
    EXPECT_EQ(r.error->code, "no-patient");
    // No ServiceRequest at all.
    for (auto it = entries.begin(); it != entries.end();) {
        it = it->at("resource").at("resourceType") == "ServiceRequest" ? entries.erase(it) : it + 1;
    }
    r = build(R"("action":"accept")", json::serialize(in));
    EXPECT_EQ(r.error->code, "no-service-request");
    EXPECT_EQ(r.error->message.find("DKTest"), std::string::npos);
}

// Writes the samples the ctest wiring validates (see the top of this file).
TEST(UpdaterSamples, WriteForExternalValidators) {
    const char* fhir_dir = std::getenv("RELAY_UPDATER_FHIR_SAMPLES_DIR");
    const char* request_dir = std::getenv("RELAY_UPDATER_REQUEST_SAMPLES_DIR");
    if (fhir_dir == nullptr && request_dir == nullptr) GTEST_SKIP() << "no sample directories set";
    const auto write = [](const fs::path& path, const std::string& text) {
        std::ofstream out(path, std::ios::binary);
        out << text;
        ASSERT_TRUE(out.good()) << path;
    };
    std::size_t written = 0;
    if (fhir_dir != nullptr) {
        fs::remove_all(fhir_dir);
        fs::create_directories(fhir_dir);
        for (const auto& name : fixture_names()) {
            const auto stem = name.substr(0, name.find('.'));
            for (const auto& [step, m] : build_every_type(fixture(name))) {
                write(fs::path(fhir_dir) / (stem + "-" + step + ".json"), m.bundle);
                ++written;
            }
        }
    }
    if (request_dir != nullptr) {
        const fs::path valid(request_dir);
        const fs::path invalid(std::string(request_dir) + "-invalid");
        for (const auto& dir : {valid, invalid}) {
            fs::remove_all(dir);
            fs::create_directories(dir);
        }
        for (const auto& step : every_type()) {
            const auto text =
                request("upd-" + step.name, "09eb136e-fcdb-454f-8cd7-a415c19cda40", step.members);
            EXPECT_TRUE(parse_update(text).ok());
            write(valid / (step.name + ".json"), text);
        }
        write(valid / "minimal.json", R"({"update_id":"u","referral_ref":"r","action":"complete"})");
        // The Open API requests (the fetcher sends them): the same schema.
        const std::vector<std::pair<std::string, std::string>> open_api = {
            {"open-api-message",
             R"({"update_id":"u","referral_ref":"r","action":"open_api_message","site":"1234","text":"See attached","attachment":{"content_type":"application/pdf","data":"JVBERi0xLjQK","title":"consult.pdf"}})"},
            {"open-api-attachment",
             R"({"update_id":"u","referral_ref":"r","action":"open_api_attachment","attachment":{"content_type":"application/pdf","data":"JVBERi0xLjQK"}})"},
            {"eform-link",
             R"({"update_id":"u","action":"eform_link","patient_ref":"690","form_refs":["phq9","gad7"],"expiry_hours":72})"},
        };
        for (const auto& [name, text] : open_api) {
            EXPECT_TRUE(parse_update(text).ok()) << name;
            write(valid / (name + ".json"), text);
        }
        // Each rejected by parse_update and by the schema.
        const std::vector<std::pair<std::string, std::string>> bad = {
            {"no-update-id", R"({"referral_ref":"r","action":"accept"})"},
            {"unknown-action", R"({"update_id":"u","referral_ref":"r","action":"launch"})"},
            {"unknown-member", R"({"update_id":"u","referral_ref":"r","action":"accept","colour":"blue"})"},
            {"misplaced-member", R"({"update_id":"u","referral_ref":"r","action":"accept","reason":"x"})"},
            {"decline-without-reason", R"({"update_id":"u","referral_ref":"r","action":"decline"})"},
            {"blank-reason", R"({"update_id":"u","referral_ref":"r","action":"decline","reason":"  "})"},
            {"bad-ref", R"({"update_id":"u","referral_ref":"a b","action":"accept"})"},
            {"bad-time",
             R"({"update_id":"u","referral_ref":"r","action":"accept","requested_at":"2026-11-24"})"},
            {"book-without-end",
             R"({"update_id":"u","referral_ref":"r","action":"book","appointment":{"start":"2026-12-01T09:30:00Z","confirmed":true}})"},
            {"bad-milestone",
             R"({"update_id":"u","referral_ref":"r","action":"book","appointment":{"start":"2026-12-01T09:30:00Z","end":"2026-12-01T10:30:00Z","confirmed":true,"wait_time_milestone":"wait-9"}})"},
            {"cancel-with-times",
             R"({"update_id":"u","referral_ref":"r","action":"cancel_booking","appointment":{"start":"2026-12-01T09:30:00Z"}})"},
            {"forward-without-listing", R"({"update_id":"u","referral_ref":"r","action":"forward"})"},
            {"switch-not-bool",
             R"({"update_id":"u","referral_ref":"r","action":"switch_type","econsult":"yes"})"},
            {"attachment-without-data",
             R"({"update_id":"u","referral_ref":"r","action":"message","text":"t","attachment":{"content_type":"text/plain"}})"},
            {"bad-content-type",
             R"({"update_id":"u","referral_ref":"r","action":"message","text":"t","attachment":{"content_type":"pdf","data":"aGk="}})"},
            {"open-api-attachment-without-attachment",
             R"({"update_id":"u","referral_ref":"r","action":"open_api_attachment"})"},
            {"eform-link-with-referral",
             R"({"update_id":"u","referral_ref":"r","action":"eform_link","patient_ref":"p","form_refs":["phq9"]})"},
            {"eform-link-without-forms", R"({"update_id":"u","action":"eform_link","patient_ref":"p"})"},
            {"eform-link-empty-forms",
             R"({"update_id":"u","action":"eform_link","patient_ref":"p","form_refs":[]})"},
            {"eform-link-bad-expiry",
             R"({"update_id":"u","action":"eform_link","patient_ref":"p","form_refs":["phq9"],"expiry_hours":0})"},
            {"message-without-referral", R"({"update_id":"u","action":"open_api_message","text":"t"})"},
        };
        for (const auto& [name, text] : bad) {
            EXPECT_FALSE(parse_update(text).ok()) << name;
            write(invalid / (name + ".json"), text);
        }
        written += bad.size();
    }
    EXPECT_GT(written, 0U);
}

}  // namespace
