// The update request format (libs/hub/include/relay/hub/update.hpp): every action parses, the canonical JSON
// reads back to the same update, and bad input is rejected with the field named and no value echoed.
#include "relay/hub/update.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using namespace relay::hub;

std::string with(const std::string& members) {
    return R"({"update_id":"u-1","referral_ref":"09eb136e-fcdb-454f-8cd7-a415c19cda40",)" + members + "}";
}

const FieldError* error_on(const ParseUpdateResult& r, const std::string& field) {
    for (const auto& e : r.errors) {
        if (e.field == field) return &e;
    }
    return nullptr;
}

TEST(ParseUpdate, EveryActionParsesAndRoundTrips) {
    const std::vector<std::string> inputs = {
        with(
            R"("action":"accept","import_to_emr":true,"site":"1234","requested_at":"2026-11-24T10:00:00-05:00")"),
        with(R"("action":"accept")"),
        with(R"("action":"decline","reason":"Outside our catchment area")"),
        with(R"("action":"complete")"),
        with(R"("action":"reopen")"),
        with(R"("action":"forward","listing_ref":"ocean_autorouter_loc80783874","reason":"Better fit")"),
        with(R"("action":"switch_type","econsult":true)"),
        with(
            R"("action":"book","appointment":{"start":"2026-12-01T09:30:00-05:00","end":"2026-12-01T10:00:00-05:00","confirmed":false,"type_text":"Consult","instructions":"Bring your health card","wait_time_milestone":"wait-1a"})"),
        with(
            R"("action":"change_booking","appointment":{"id":"appt-1","start":"2026-12-02T09:30:00Z","end":"2026-12-02T10:00:00.5Z","confirmed":true})"),
        with(R"("action":"cancel_booking","appointment":{"id":"appt-1"},"reason":"Clinic closed")"),
        with(R"("action":"cancel_booking")"),
        with(R"("action":"booking_instructions","instructions":"Call us to book")"),
        with(
            R"("action":"message","text":"Please send the MRI report","attachment":{"content_type":"application/pdf","data":"JVBERi0xLjQK","title":"request.pdf"})"),
        with(R"("action":"received")"),
    };
    for (const auto& input : inputs) {
        const auto r = parse_update(input);
        ASSERT_TRUE(r.ok()) << input << " -> " << r.error_text();
        const auto again = parse_update(to_json(*r.update));
        ASSERT_TRUE(again.ok()) << again.error_text();
        EXPECT_EQ(to_json(*again.update), to_json(*r.update));
    }
    const auto book = parse_update(inputs[7]);
    EXPECT_EQ(book.update->action, Action::kBook);
    EXPECT_EQ(book.update->appointment->wait_time_milestone, "wait-1a");
    EXPECT_FALSE(book.update->appointment->confirmed);
    EXPECT_TRUE(parse_update(inputs[0]).update->import_to_emr);
}

TEST(ParseUpdate, OpenApiRequestsParseAndRoundTrip) {
    const auto message = parse_update(with(
        R"("action":"open_api_message","site":"1234","text":"See attached","attachment":{"content_type":"application/pdf","data":"JVBERi0xLjQK","title":"consult.pdf"})"));
    ASSERT_TRUE(message.ok()) << message.error_text();
    EXPECT_EQ(message.update->action, Action::kOpenApiMessage);
    EXPECT_TRUE(is_open_api(message.update->action));
    EXPECT_EQ(message.update->subject_ref(), "09eb136e-fcdb-454f-8cd7-a415c19cda40");
    EXPECT_EQ(message.update->attachment->title, "consult.pdf");

    const auto attachment = parse_update(
        with(R"("action":"open_api_attachment","attachment":{"content_type":"image/png","data":"iVBORw0KGgo="})"));
    ASSERT_TRUE(attachment.ok()) << attachment.error_text();
    EXPECT_TRUE(attachment.update->text.empty());
    EXPECT_EQ(parse_update(to_json(*attachment.update)).update->attachment->content_type, "image/png");

    const auto link = parse_update(
        R"({"update_id":"u-2","action":"eform_link","patient_ref":"690","form_refs":["phq9","gad7"],"expiry_hours":48})");
    ASSERT_TRUE(link.ok()) << link.error_text();
    EXPECT_EQ(link.update->subject_ref(), "690");
    EXPECT_TRUE(link.update->referral_ref.empty());
    EXPECT_EQ(link.update->form_refs, (std::vector<std::string>{"phq9", "gad7"}));
    EXPECT_EQ(link.update->expiry_hours, 48);
    const auto again = parse_update(to_json(*link.update));
    ASSERT_TRUE(again.ok()) << again.error_text();
    EXPECT_EQ(to_json(*again.update), to_json(*link.update));
    EXPECT_EQ(to_json(*link.update).find("referral_ref"), std::string::npos);

    EXPECT_FALSE(is_open_api(Action::kMessage));
    EXPECT_FALSE(is_open_api(Action::kAccept));
}

TEST(ParseUpdate, OpenApiRequestMistakesAreNamed) {
    EXPECT_EQ(error_on(parse_update(with(R"("action":"open_api_attachment")")), "attachment")->code, "required");
    EXPECT_EQ(error_on(parse_update(with(R"("action":"open_api_message")")), "text")->code, "required");
    // The title is a file name over the Open API (a header): 255 bytes at most there, not for FHIR.
    const std::string long_title(256, 't');
    const std::string attachment = R"("attachment":{"content_type":"text/plain","data":"aGk=","title":")" + long_title + R"("})";
    EXPECT_EQ(error_on(parse_update(with(R"("action":"open_api_attachment",)" + attachment)), "attachment.title")->code,
              "format");
    EXPECT_TRUE(parse_update(with(R"("action":"message","text":"t",)" + attachment)).ok());
    // A form link is about a patient: a referral ref is refused, a patient ref and forms are required.
    EXPECT_EQ(error_on(parse_update(with(R"("action":"eform_link","patient_ref":"p","form_refs":["a"])")),
                       "referral_ref")
                  ->code,
              "not-allowed");
    auto r = parse_update(R"({"update_id":"u","action":"eform_link"})");
    EXPECT_EQ(error_on(r, "patient_ref")->code, "required");
    EXPECT_EQ(error_on(r, "form_refs")->code, "required");
    EXPECT_EQ(error_on(r, "referral_ref"), nullptr);
    r = parse_update(R"({"update_id":"u","action":"eform_link","patient_ref":"p","form_refs":["ok","no spaces"]})");
    EXPECT_EQ(error_on(r, "form_refs")->code, "format");
    EXPECT_EQ(r.error_text().find("no spaces"), std::string::npos);
    r = parse_update(R"({"update_id":"u","action":"eform_link","patient_ref":"p","form_refs":["a"],"expiry_hours":721})");
    EXPECT_EQ(error_on(r, "expiry_hours")->code, "value");
    r = parse_update(R"({"update_id":"u","action":"eform_link","patient_ref":"p","form_refs":["a"],"expiry_hours":"2"})");
    EXPECT_EQ(error_on(r, "expiry_hours")->code, "type");
    // Members of the Open API actions stay out of the others.
    EXPECT_EQ(error_on(parse_update(with(R"("action":"accept","form_refs":["a"])")), "form_refs")->code,
              "not-allowed");
}

TEST(ParseUpdate, RequiredMembersAreNamed) {
    const auto r = parse_update(R"({"action":"decline"})");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(error_on(r, "update_id")->code, "required");
    EXPECT_EQ(error_on(r, "referral_ref")->code, "required");
    EXPECT_EQ(error_on(r, "reason")->code, "required");

    EXPECT_EQ(error_on(parse_update(with(R"("action":"forward")")), "listing_ref")->code, "required");
    EXPECT_EQ(error_on(parse_update(with(R"("action":"switch_type")")), "econsult")->code, "required");
    EXPECT_EQ(error_on(parse_update(with(R"("action":"book")")), "appointment")->code, "required");
    EXPECT_EQ(error_on(parse_update(with(R"("action":"book","appointment":{})")), "appointment.start")->code,
              "required");
    EXPECT_EQ(
        error_on(parse_update(with(R"("action":"book","appointment":{})")), "appointment.confirmed")->code,
        "required");
    EXPECT_EQ(error_on(parse_update(with(R"("action":"message")")), "text")->code, "required");
    EXPECT_EQ(error_on(parse_update(with(R"("action":"booking_instructions")")), "instructions")->code,
              "required");
}

TEST(ParseUpdate, UnknownAndMisplacedMembersAreErrors) {
    auto r = parse_update(with(R"("action":"accept","reason":"x")"));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(error_on(r, "reason")->code, "not-allowed");
    // An unknown member's name is the caller's text: never repeated, even when it looks harmless.
    r = parse_update(with(R"("action":"accept","colour":"blue")"));
    EXPECT_EQ(error_on(r, "(unknown member)")->code, "unknown");
    EXPECT_EQ(r.error_text().find("colour"), std::string::npos) << r.error_text();
    r = parse_update(
        with(R"("action":"cancel_booking","appointment":{"id":"a","start":"2026-12-01T09:30:00Z"})"));
    EXPECT_EQ(error_on(r, "appointment.(unknown member)")->code, "unknown");
    r = parse_update(with(
        R"("action":"message","text":"hi","attachment":{"content_type":"text/plain","data":"aGk=","size":2})"));
    EXPECT_EQ(error_on(r, "attachment.(unknown member)")->code, "unknown");
    // A member name that is not a field name (it could be anything, even patient data) is not repeated.
    r = parse_update(with(R"("action":"accept","Jane Doe 1234-567-890":"x")"));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error_text().find("Jane"), std::string::npos) << r.error_text();
    EXPECT_EQ(error_on(r, "(unknown member)")->code, "unknown");
}

TEST(ParseUpdate, FormatsAndValuesAreChecked) {
    const std::string secret = "Jane Doe 1234-567-890";
    const std::vector<std::pair<std::string, std::string>> cases = {
        {with(R"("action":"launch")"), "action"},
        {R"({"update_id":"has space","referral_ref":"r","action":"accept"})", "update_id"},
        {R"({"update_id":"u","referral_ref":"","action":"accept"})", "referral_ref"},
        {R"({"update_id":"u","referral_ref":".","action":"accept"})", "referral_ref"},
        {R"({"update_id":"u","referral_ref":"..","action":"accept"})", "referral_ref"},
        {with(R"("action":"accept","site":"12a4")"), "site"},
        {with(R"("action":"accept","site":"12345678901234567")"), "site"},
        {with(R"("action":"accept","import_to_emr":"yes")"), "import_to_emr"},
        {with(R"("action":"decline","reason":"   ")"), "reason"},
        {with(R"("action":"decline","reason":7)"), "reason"},
        {with(R"("action":"accept","requested_at":"2026-11-24")"), "requested_at"},
        {with(R"("action":"accept","requested_at":"2026-02-29T10:00:00Z")"), "requested_at"},
        {with(R"("action":"accept","requested_at":"2026-11-24T10:00:00")"), "requested_at"},
        {with(
             R"("action":"book","appointment":{"start":"2026-12-01T10:00:00Z","end":"2026-12-01T09:00:00Z","confirmed":true})"),
         "appointment.end"},
        {with(
             R"("action":"book","appointment":{"start":"2026-12-01T10:00:00-01:00","end":"2026-12-01T09:30:00Z","confirmed":true})"),
         "appointment.end"},
        {with(
             R"("action":"book","appointment":{"id":"not_a_fhir_id","start":"2026-12-01T09:00:00Z","end":"2026-12-01T10:00:00Z","confirmed":true})"),
         "appointment.id"},
        {with(
             R"("action":"book","appointment":{"start":"2026-12-01T09:00:00Z","end":"2026-12-01T10:00:00Z","confirmed":true,"wait_time_milestone":"wait-3"})"),
         "appointment.wait_time_milestone"},
        {with(R"("action":"message","text":"hi","attachment":{"content_type":"pdf","data":"aGk="})"),
         "attachment.content_type"},
        {with(
             R"("action":"message","text":"hi","attachment":{"content_type":"text/plain","data":"not base64!"})"),
         "attachment.data"},
        {with(R"("action":"message","text":"hi","attachment":{"content_type":"text/plain","data":""})"),
         "attachment.data"},
        {with(R"("action":"message","text":)" + std::string("\"") + secret + "\",\"attachment\":[]"),
         "attachment"},
    };
    for (const auto& [input, field] : cases) {
        const auto r = parse_update(input);
        ASSERT_FALSE(r.ok()) << input;
        EXPECT_NE(error_on(r, field), nullptr) << input << " -> " << r.error_text();
        EXPECT_EQ(r.error_text().find(secret), std::string::npos);
        EXPECT_EQ(r.error_text().find("catchment"), std::string::npos);
    }
}

TEST(ParseUpdate, NotJsonOrNotAnObject) {
    EXPECT_EQ(parse_update("{").errors.at(0).code, "json");
    EXPECT_EQ(parse_update("[1]").errors.at(0).code, "type");
    EXPECT_EQ(parse_update("\"x\"").errors.at(0).field, "$");
}

TEST(ParseUpdate, Rfc3339) {
    std::int64_t a = 0;
    std::int64_t b = 0;
    ASSERT_TRUE(parse_rfc3339("2026-12-01T09:30:00-05:00", a));
    ASSERT_TRUE(parse_rfc3339("2026-12-01T14:30:00Z", b));
    EXPECT_EQ(a, b);
    ASSERT_TRUE(parse_rfc3339("1970-01-01T00:00:01.123456789Z", a));
    EXPECT_EQ(a, 1);
    EXPECT_TRUE(parse_rfc3339("2024-02-29T00:00:00Z", a));
    EXPECT_FALSE(parse_rfc3339("2024-02-30T00:00:00Z", a));
    EXPECT_FALSE(parse_rfc3339("2024-13-01T00:00:00Z", a));
    EXPECT_FALSE(parse_rfc3339("2024-01-01T24:00:00Z", a));
    EXPECT_FALSE(parse_rfc3339("2024-01-01T10:00Z", a));
    EXPECT_FALSE(parse_rfc3339("2024-01-01T10:00:00.Z", a));
    EXPECT_FALSE(parse_rfc3339("2024-01-01T10:00:00+0500", a));
    EXPECT_FALSE(parse_rfc3339("2024-01-01T10:00:00Zx", a));
}

}  // namespace
