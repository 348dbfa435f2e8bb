// OpenApiReferralParser: Ocean's Open API Referral JSON + decrypted patient data → the canonical
// Referral (mapping in libs/transform/include/relay/transform/open_api_referral.hpp). Every mapped field
// of a full sample, tolerance of missing and odd members, errors as values that never carry a payload
// value, and that the result routes and renders like a FHIR-borne referral. The renderer goldens and the
// HAPI FHIR / JSON Schema checks of these referrals run with the others (render_samples.cpp).
#include "relay/transform/open_api_referral.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "ocean_json_samples.hpp"
#include "relay/transform/render.hpp"

namespace {

namespace json = boost::json;
using namespace relay::transform;
using ocean_json_samples::data;

constexpr std::string_view kRef = "5b0f3a1e-7c2d-4e8a-9f61-2d3c4b5a6e7f";

/// Every text a result can show an operator: codes, expressions and messages.
std::vector<std::string> texts_of(const ParseResult& r) {
    std::vector<std::string> out;
    if (r.error) out.insert(out.end(), {r.error->code, r.error->expression, r.error->message});
    for (const auto& w : r.warnings) out.insert(out.end(), {w.code, w.expression, w.message});
    return out;
}

void expect_no_value_in_texts(const ParseResult& r, const std::vector<std::string>& values) {
    for (const auto& text : texts_of(r)) {
        for (const auto& value : values) {
            EXPECT_EQ(text.find(value), std::string::npos) << "a payload value appears in: " << text;
        }
    }
}

std::string warning_codes(const ParseResult& r) {
    std::string out;
    for (const auto& w : r.warnings) out += w.code + " at " + w.expression + "\n";
    return out;
}

TEST(OpenApiReferral, MapsEveryMemberOfAFullReferral) {
    const ParseResult result = parse_open_api_referral(
        data("open-api-referral-full.json"), data("open-api-patient-wrapped.json"), "4321");
    ASSERT_TRUE(result.referral) << result.error->code << " at " << result.error->expression;
    EXPECT_TRUE(result.warnings.empty()) << warning_codes(result);
    const Referral& r = *result.referral;

    // The routing facts: what services/router/src/routing.cpp resolves on.
    EXPECT_EQ(r.referral_ref, kRef);
    EXPECT_EQ(r.target.site_number, "4321");
    EXPECT_EQ(r.target.external_service_id, "MSK Intake");
    EXPECT_EQ(r.target.listing_ref, "lakeshore_msk_clinic-48213907");
    EXPECT_EQ(r.target.name, "Lakeshore MSK Clinic - Physiotherapy");

    EXPECT_EQ(r.event, "add-service-request");
    EXPECT_EQ(r.dialect, relay::fhir::Dialect::kUnknown);
    EXPECT_EQ(r.bundle_id, "");
    EXPECT_EQ(r.message_header_id, "");
    EXPECT_EQ(r.status, "active");
    EXPECT_EQ(r.intent, "proposal");
    EXPECT_EQ(r.priority, "");
    EXPECT_EQ(r.authored_on, "2024-12-11T13:37:00-05:00");    // sentDate
    EXPECT_EQ(r.timestamp, "2024-12-13T15:17:46.139-05:00");  // modificationDate, offset repaired
    EXPECT_EQ(r.categories, (std::vector<Coding>{{"", "", "PHYSIOTHERAPY"}, {"", "", "MUSCULOSKELETAL"}}));
    EXPECT_TRUE(r.order_details.empty());

    // The referrer (ClinicianData) and the assistant (the submitter).
    EXPECT_EQ(r.referrer.name.given, std::vector<std::string>{"Imogen"});
    EXPECT_EQ(r.referrer.name.family, "Vasquez-Thornbury");
    EXPECT_EQ(r.referrer.licence, "98765");
    EXPECT_EQ(r.referrer.billing_number, "123456");
    EXPECT_EQ(r.referrer.location_name, "Harbourview Family Health Team");
    ASSERT_TRUE(r.referrer.address);
    EXPECT_EQ(*r.referrer.address,
              (Address{"work", "", {"200 Harbourview Rd", "Suite 4"}, "Kingsport", "ON", "K7Z 1A1", "CA"}));
    EXPECT_EQ(r.referrer.telecom,
              (std::vector<Telecom>{{"phone", "613-555-0142", "work"},
                                    {"fax", "613-555-0143", "work"},
                                    {"email", "frontdesk@harbourview-fht.example", "work"},
                                    {"url", "https://harbourview-fht.example", "work"}}));
    ASSERT_TRUE(r.submitter);
    EXPECT_EQ(r.submitter->name.given, std::vector<std::string>{"Rowan"});
    EXPECT_EQ(r.submitter->name.family, "Oduya");
    EXPECT_EQ(r.submitter->licence, "");
    EXPECT_FALSE(r.submitter->address);
    EXPECT_TRUE(r.submitter->telecom.empty());

    // The patient (OceanPatient wrapper, §5.2 names).
    const Patient& p = r.patient;
    EXPECT_EQ(p.name.given, (std::vector<std::string>{"Marisol", "Quinn"}));
    EXPECT_EQ(p.name.family, "Abernathy-Lutz");
    EXPECT_EQ(p.name.prefix, std::vector<std::string>{"Ms"});
    EXPECT_EQ(p.health_number, "9876543217");
    EXPECT_EQ(p.health_number_version, "AB");
    EXPECT_EQ(p.mrn, "MRN-55501");
    EXPECT_TRUE(p.other_identifiers.empty());
    EXPECT_EQ(p.birth_date, "1984-03-09");
    EXPECT_EQ(p.gender, "female");
    EXPECT_EQ(p.language, "en");
    EXPECT_EQ(p.telecom,
              (std::vector<Telecom>{{"phone", "613-555-0199", "home"},
                                    {"phone", "613-555-0177", "mobile"},
                                    {"email", "marisol.al@example.com", "home"}}));
    EXPECT_EQ(p.addresses,
              (std::vector<Address>{
                  {"home", "", {"17 Cedar Crescent", "Apt 3"}, "Kingsport", "ON", "K7Z 2B2", "CA"}}));

    // The reason for visit and the internal conversation are notes.
    ASSERT_EQ(r.notes.size(), 2U);
    EXPECT_EQ(r.notes[0],
              (Note{"Left knee pain after a fall, 6 weeks", "Left knee pain after a fall, 6 weeks", ""}));
    EXPECT_EQ(r.notes[1],
              (Note{"Triage: routine, &lt;2 wks&gt; ok",
                    "Triage: routine, <2 wks> ok",
                    "2024-12-12T08:05:00-05:00"}));

    // Ocean's folder BOOKED: the receiver accepted, the timed appointment confirmed.
    ASSERT_EQ(r.tasks.size(), 1U);
    EXPECT_EQ(r.tasks[0].id, "open-api-status");
    EXPECT_EQ(r.tasks[0].status, "accepted");
    EXPECT_EQ(r.tasks[0].code, "process-request");
    EXPECT_EQ(r.tasks[0].status_reason, "");
    EXPECT_EQ(r.tasks[0].last_modified, r.timestamp);
    ASSERT_EQ(r.appointments.size(), 2U);
    EXPECT_EQ(r.appointments[0],
              (Appointment{"open-api-appointment-1",
                           "booked",
                           "2025-01-20T09:30:00-05:00",
                           "2025-01-20T09:30:00-05:00",
                           "accepted",
                           "",
                           ""}));
    EXPECT_EQ(r.appointments[1],
              (Appointment{"open-api-appointment-2",
                           "proposed",
                           "",
                           "",
                           "needs-action",
                           "Please arrive 15 minutes early & bring comfortable clothes.",
                           "Appointment on 2025-02-03 (no time given)"}));

    // Attachments by ref and file name: the booking file, then the message's.
    ASSERT_EQ(r.attachments.size(), 2U);
    EXPECT_EQ(r.attachments[0].id, "f-booking-0001");
    EXPECT_EQ(r.attachments[0].title, "Clinic map.pdf");
    EXPECT_EQ(r.attachments[0].status, "current");
    EXPECT_EQ(r.attachments[0].description, "Ocean attachment (booking)");
    EXPECT_EQ(
        r.attachments[0].url,
        "https://ocean.cognisantmd.com/svc/v1/referrals/5b0f3a1e-7c2d-4e8a-9f61-2d3c4b5a6e7f/attachments/"
        "f-booking-0001");
    EXPECT_EQ(r.attachments[0].data_base64, "");
    EXPECT_EQ(r.attachments[0].size, 0U);
    EXPECT_EQ(r.attachments[1].id, "f-xray-0002");
    EXPECT_EQ(r.attachments[1].title, "xray-report.pdf");
    EXPECT_EQ(r.attachments[1].description, "Ocean attachment (message)");

    // The external conversation: messages; one only encrypted (the fetcher did not decrypt it here).
    ASSERT_EQ(r.communications.size(), 2U);
    EXPECT_EQ(
        r.communications[0],
        (Communication{
            "c-ext-1", "completed", "2024-12-11T13:40:00-05:00", {"Recent X-ray report attached."}, 1}));
    EXPECT_EQ(r.communications[1],
              (Communication{"c-ext-2", "completed", "2024-12-12T10:40:00.000Z", {}, 0}));
}

TEST(OpenApiReferral, DatesAsEpochMillisAndOtherSpellings) {
    const auto parse = [](std::string_view creation) {
        return parse_open_api_referral(
            R"({"referralRef":"r1","creationDate":)" + std::string(creation) + "}", "", "1234");
    };
    EXPECT_EQ(parse("1733942220000").referral->authored_on, "2024-12-11T18:37:00.000Z");
    EXPECT_EQ(parse(R"("2024-12-11")").referral->authored_on, "2024-12-11");
    EXPECT_EQ(parse(R"("2024-12-11T13:37-05:00")").referral->authored_on, "2024-12-11T13:37:00-05:00");
    // Without an offset the zone is unknown: the date is kept, not a guessed instant.
    EXPECT_EQ(parse(R"("2024-12-11 13:37:00")").referral->authored_on, "2024-12-11");
    const ParseResult bad = parse(R"("Dec 11, 2024")");
    ASSERT_TRUE(bad.referral);
    EXPECT_EQ(bad.referral->authored_on, "");
    ASSERT_EQ(bad.warnings.size(), 1U);
    EXPECT_EQ(bad.warnings[0].code, "invalid-date");
    EXPECT_EQ(bad.warnings[0].expression, "Referral.creationDate");
    // A modificationDate that is no instant cannot be Bundle.timestamp.
    const ParseResult day =
        parse_open_api_referral(R"({"referralRef":"r1","modificationDate":"2024-12-13"})", "", "1");
    EXPECT_EQ(day.referral->timestamp, "");
    ASSERT_EQ(day.warnings.size(), 1U);
    EXPECT_EQ(day.warnings[0].expression, "Referral.modificationDate");
}

TEST(OpenApiReferral, FoldersMapToTheReceiversTaskAndBackToTheSameFolder) {
    struct Case {
        const char* folder;
        const char* type;
        const char* sr_status;
        const char* task_status;  // "" = no Task
    };
    const Case cases[] = {
        {"NEW", "E_REFERRAL", "active", ""},
        {"PENDING_BOOKING", "E_REFERRAL", "active", "accepted"},
        {"BOOKING_UNCONFIRMED", "E_REFERRAL", "active", "accepted"},
        {"DECLINED", "E_REFERRAL", "active", "rejected"},
        {"COMPLETED", "E_REFERRAL", "active", "completed"},
        {"CANCELLED", "E_REFERRAL", "revoked", ""},
        {"NEW", "E_CONSULT", "active", "requested"},
        {"SOMETHING_NEWER", "E_REFERRAL", "active", ""},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(std::string(c.folder) + " " + c.type);
        const std::string body = std::string(R"({"referralRef":"r1","status":")") + c.folder +
                                 R"(","communicationType":")" + c.type +
                                 R"(","cancellationReason":"Outside our catchment"})";
        const ParseResult result = parse_open_api_referral(body, "", "1234");
        ASSERT_TRUE(result.referral);
        const Referral& r = *result.referral;
        EXPECT_EQ(r.status, c.sr_status);
        if (std::string_view(c.task_status).empty()) {
            EXPECT_TRUE(r.tasks.empty());
        } else {
            ASSERT_EQ(r.tasks.size(), 1U);
            EXPECT_EQ(r.tasks[0].status, c.task_status);
            EXPECT_EQ(
                r.tasks[0].code,
                std::string_view(c.type) == "E_CONSULT" ? "process-request-consult" : "process-request");
            EXPECT_EQ(r.tasks[0].status_reason,
                      std::string_view(c.folder) == "DECLINED" ? "Outside our catchment" : "");
        }
        // render_open_api derives the folder back from the model (unknown folders are NEW).
        const json::value rendered = json::parse(render_open_api(r));
        const std::string expected_folder =
            std::string_view(c.folder) == "SOMETHING_NEWER"
                ? "NEW"
                : (std::string_view(c.folder) == "BOOKING_UNCONFIRMED" ? "PENDING_BOOKING" : c.folder);
        EXPECT_EQ(rendered.at("status").as_string(), expected_folder);
        EXPECT_EQ(rendered.at("communicationType").as_string(), c.type);
    }
}

TEST(OpenApiReferral, WithoutPatientDataStillMapsRoutesAndRenders) {
    const ParseResult result = parse_open_api_referral(data("open-api-referral-full.json"), "", "4321");
    ASSERT_TRUE(result.referral);
    EXPECT_TRUE(result.warnings.empty()) << warning_codes(result);
    const Referral& r = *result.referral;
    EXPECT_EQ(r.patient, Patient{});
    EXPECT_EQ(r.target.external_service_id, "MSK Intake");
    EXPECT_EQ(r.notes.size(), 1U);  // only the internal note: no reason for visit without patient data
    EXPECT_EQ(r.referrer.licence, "98765");
    for (const Format f : {Format::kFhirR4, Format::kOpenApi, Format::kHubJson}) {
        EXPECT_NO_THROW((void)json::parse(render(f, r, ""))) << to_string(f);
    }
}

TEST(OpenApiReferral, ReadsBareDemographicsInTheSpellingRenderOpenApiWrites) {
    // The decrypted patient block of render_open_api's output (also what ocean-sim encrypts) parses back
    // to the same patient: the two spellings of PtData agree.
    const Referral original = ocean_json_samples::open_api_full();
    json::object rendered = json::parse(render_open_api(original)).as_object();
    const std::string patient = json::serialize(rendered.at("patient"));
    rendered.erase("patient");
    const ParseResult back = parse_open_api_referral(json::serialize(rendered), patient, "4321");
    ASSERT_TRUE(back.referral);
    EXPECT_TRUE(back.warnings.empty()) << warning_codes(back);
    Patient expected = original.patient;
    // render_open_api writes the first non-empty address without use, and home/mobile phones and email.
    EXPECT_EQ(back.referral->patient, expected);
    EXPECT_EQ(back.referral->referral_ref, original.referral_ref);
    EXPECT_EQ(back.referral->target, original.target);
    EXPECT_EQ(back.referral->referrer.name, original.referrer.name);
    EXPECT_EQ(back.referral->referrer.address, original.referrer.address);
    EXPECT_EQ(back.referral->referrer.telecom, original.referrer.telecom);
    EXPECT_EQ(back.referral->categories, original.categories);
    EXPECT_EQ(back.referral->status, original.status);
    EXPECT_EQ(back.referral->tasks.size(), original.tasks.size());
}

TEST(OpenApiReferral, OtherProvincesCardsAndOddDemographics) {
    const ParseResult result = parse_open_api_referral(
        R"({"referralRef":"r1"})",
        R"({"firstName":"Lior","lastName":"Castellanos","healthNumber":"0000111122","healthNumberProvince":"BC",
            "gender":"other","address":"12 Pine St","address2":"Unit 9","phone":"250-555-0101",
            "workPhone":"250-555-0102","language":"fr-CA","birthDate":"1990-07-04T00:00:00Z"})",
        "1234");
    ASSERT_TRUE(result.referral);
    EXPECT_TRUE(result.warnings.empty()) << warning_codes(result);
    const Patient& p = result.referral->patient;
    EXPECT_EQ(p.health_number, "");
    EXPECT_EQ(p.other_identifiers,
              (std::vector<Identifier>{
                  {"https://fhir.infoway-inforoute.ca/NamingSystem/ca-bc-patient-healthcare-id",
                   "0000111122",
                   "JHN"}}));
    EXPECT_EQ(p.name.family, "Castellanos");
    EXPECT_EQ(p.gender, "other");
    EXPECT_EQ(p.birth_date, "1990-07-04");
    EXPECT_EQ(p.language, "fr-CA");
    EXPECT_EQ(p.addresses, (std::vector<Address>{{"home", "", {"12 Pine St", "Unit 9"}, "", "", "", ""}}));
    EXPECT_EQ(p.telecom,
              (std::vector<Telecom>{{"phone", "250-555-0101", "home"}, {"phone", "250-555-0102", "work"}}));
}

TEST(OpenApiReferral, WarningsNameTheSpellingThatWasSent) {
    const ParseResult result =
        parse_open_api_referral(R"({"referralRef":"r1"})",
                                R"({"gender":"Zephyrine","healthNumber":"1","healthNumberProvince":"Atlantis"})",
                                "1234");
    ASSERT_TRUE(result.referral);
    ASSERT_EQ(result.warnings.size(), 2U) << warning_codes(result);
    EXPECT_EQ(result.warnings[0].expression, "PatientData.healthNumberProvince");
    EXPECT_EQ(result.warnings[1].expression, "PatientData.gender");
    expect_no_value_in_texts(result, {"Zephyrine", "Atlantis"});
}

TEST(OpenApiReferral, ToleratesMissingNullAndOddMembers) {
    // Only the ref: everything else absent.
    const ParseResult minimal = parse_open_api_referral(R"({"referralRef":"r-min"})", "", "1234");
    ASSERT_TRUE(minimal.referral);
    EXPECT_TRUE(minimal.warnings.empty());
    EXPECT_EQ(minimal.referral->referral_ref, "r-min");
    EXPECT_EQ(minimal.referral->target.listing_ref, "");
    EXPECT_EQ(minimal.referral->status, "active");
    for (const Format f : {Format::kFhirR4, Format::kOpenApi, Format::kHubJson}) {
        EXPECT_NO_THROW((void)json::parse(render(f, *minimal.referral, ""))) << to_string(f);
    }

    // Nulls everywhere, members of the wrong type where no routing fact is read, unknown members.
    const ParseResult odd = parse_open_api_referral(
        R"({"referralRef":"r-odd","referralTargetRef":null,"externalServiceId":null,"description":7,
            "referrer":"Dr. Nobody","assistant":null,"services":["A",3,null,"B"],"status":null,
            "appointments":[1,{"date":null},{"date":"soon"},{"wtType":"WAIT_1"}],"bookingFileRefs":{"fileRef":"x"},
            "externalConversation":[{"ref":"m1","message":{"text":"hi"},"attachmentRefDtos":[{"fileName":"no-ref.pdf"}]}],
            "internalConversation":null,"creationDate":true,"unknown":[{}]})",
        R"({"demographics":{"firstName":["A"],"hn":12345,"sex":"Q","language":"Klingon!","address":5,"birthDate":"03/09/1984"},
            "reasonForVisit":null})",
        "1234");
    ASSERT_TRUE(odd.referral) << odd.error->code << " at " << odd.error->expression;
    const Referral& r = *odd.referral;
    EXPECT_EQ(r.target.name, "");
    EXPECT_EQ(r.referrer, Clinician{});
    EXPECT_EQ(r.categories, (std::vector<Coding>{{"", "", "A"}, {"", "", "B"}}));
    EXPECT_TRUE(r.appointments.empty());
    EXPECT_TRUE(r.attachments.empty());
    ASSERT_EQ(r.communications.size(), 1U);
    EXPECT_TRUE(r.communications[0].contents.empty());
    EXPECT_EQ(r.communications[0].attachment_count, 1U);
    EXPECT_EQ(r.patient.health_number, "12345");  // digits sent as a number are still the number
    EXPECT_EQ(r.patient.gender, "");
    EXPECT_EQ(r.patient.language, "");
    EXPECT_EQ(r.patient.birth_date, "");
    EXPECT_TRUE(r.patient.name.given.empty());
    std::vector<std::string> expressions;
    for (const auto& w : odd.warnings) expressions.push_back(w.expression);
    for (const char* expected : {"Referral.description",
                                 "Referral.referrer",
                                 "Referral.services[1]",
                                 "Referral.appointments[0]",
                                 "Referral.appointments[2].date",
                                 "Referral.bookingFileRefs",
                                 "Referral.externalConversation[0].message",
                                 "Referral.creationDate",
                                 "PatientData.demographics.firstName",
                                 "PatientData.demographics.sex",
                                 "PatientData.demographics.language",
                                 "PatientData.demographics.address",
                                 "PatientData.demographics.birthDate"}) {
        EXPECT_NE(std::find(expressions.begin(), expressions.end(), expected), expressions.end())
            << "no warning at " << expected << "; got:\n"
            << warning_codes(odd);
    }
    expect_no_value_in_texts(odd, {"Dr. Nobody", "soon", "Klingon", "03/09/1984", "12345", "no-ref.pdf"});
    for (const Format f : {Format::kFhirR4, Format::kOpenApi, Format::kHubJson}) {
        EXPECT_NO_THROW((void)json::parse(render(f, r, ""))) << to_string(f);
    }
}

TEST(OpenApiReferral, RoutingFactsOfTheWrongTypeAreErrors) {
    struct Case {
        const char* body;
        const char* expression;
    };
    const Case cases[] = {
        {R"({"referralRef":42})", "Referral.referralRef"},
        {R"({"referralRef":"r1","referralTargetRef":{"ref":"clinic-1"}})", "Referral.referralTargetRef"},
        {R"({"referralRef":"r1","externalServiceId":["MSK Intake"]})", "Referral.externalServiceId"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.body);
        const ParseResult result = parse_open_api_referral(c.body, "", "1234");
        EXPECT_FALSE(result.referral);
        ASSERT_TRUE(result.error);
        EXPECT_EQ(result.error->code, "unexpected-type");
        EXPECT_EQ(result.error->expression, c.expression);
        expect_no_value_in_texts(result, {"42", "clinic-1", "MSK Intake"});
    }
}

TEST(OpenApiReferral, ShapeErrorsAreValuesWithoutPayloadValues) {
    // Patient data whose values are the PHI that must not leak into any text.
    const std::string phi = R"({"firstName":"Zephyrine","hn":"5550001119","birthDate":"1966-06-06"})";
    const std::vector<std::string> phi_values = {"Zephyrine", "5550001119", "1966-06-06"};
    struct Case {
        std::string referral;
        std::string patient;
        const char* code;
        const char* expression;
    };
    const std::vector<Case> cases = {
        {R"({"referralRef":"r1",)", phi, "invalid-json", "Referral"},
        {R"(["Zephyrine"])", phi, "not-a-referral", "Referral"},
        {R"("Zephyrine")", "", "not-a-referral", "Referral"},
        {R"({"referralTargetRef":"clinic-1"})", phi, "no-referral-ref", "Referral.referralRef"},
        {R"({"referralRef":""})", phi, "no-referral-ref", "Referral.referralRef"},
        {R"({"referralRef":"r1"})",
         R"({"firstName":"Zephyrine","hn":"5550001119")",
         "invalid-json",
         "PatientData"},
        {R"({"referralRef":"r1"})", R"(["Zephyrine","5550001119"])", "unexpected-type", "PatientData"},
        {R"({"referralRef":"r1"})",
         R"({"demographics":"Zephyrine 5550001119"})",
         "unexpected-type",
         "PatientData.demographics"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.referral + " | " + c.patient);
        const ParseResult result = parse_open_api_referral(c.referral, c.patient, "1234");
        EXPECT_FALSE(result.referral);
        ASSERT_TRUE(result.error);
        EXPECT_EQ(result.error->code, c.code);
        EXPECT_EQ(result.error->expression, c.expression);
        EXPECT_FALSE(result.error->message.empty());
        expect_no_value_in_texts(result, phi_values);
    }
}

TEST(OpenApiReferral, TheParserIsReusable) {
    OpenApiReferralParser parser;
    const std::string full = data("open-api-referral-full.json");
    const std::string patient = data("open-api-patient-wrapped.json");
    const ParseResult first = parser.parse(full, patient, "4321");
    ASSERT_TRUE(first.referral);
    EXPECT_TRUE(parser.parse("{", "", "4321").error);
    const ParseResult again = parser.parse(full, patient, "4321");
    ASSERT_TRUE(again.referral);
    EXPECT_EQ(*first.referral, *again.referral);
    EXPECT_EQ(*again.referral, ocean_json_samples::open_api_full());
}

TEST(OpenApiReferral, RendersInEveryFormatAndTheNormalisedBundleReadsBack) {
    const Referral r = ocean_json_samples::open_api_full();
    ReferralParser fhir;
    const ParseResult back = fhir.parse(render_fhir_r4(r));
    ASSERT_TRUE(back.referral) << back.error->code << " at " << back.error->expression;
    for (const auto& w : back.warnings) ADD_FAILURE() << "warning " << w.code << " at " << w.expression;
    Referral expected = r;
    expected.dialect = relay::fhir::Dialect::kV0_11;
    expected.message_header_id = back.referral->message_header_id;  // the header's fullUrl
    EXPECT_EQ(back.referral->patient, expected.patient);
    EXPECT_EQ(back.referral->referrer, expected.referrer);
    EXPECT_EQ(back.referral->submitter, expected.submitter);
    EXPECT_EQ(back.referral->target, expected.target);
    EXPECT_EQ(back.referral->attachments, expected.attachments);
    EXPECT_EQ(back.referral->tasks, expected.tasks);
    EXPECT_EQ(back.referral->appointments, expected.appointments);
    EXPECT_EQ(back.referral->communications, expected.communications);
    EXPECT_EQ(back.referral->notes, expected.notes);
    EXPECT_EQ(*back.referral, expected);

    const json::value hub = json::parse(render_hub_json(r));
    EXPECT_EQ(hub.at("referral_ref").as_string(), kRef);
    EXPECT_EQ(hub.at("site_number").as_string(), "4321");
    EXPECT_EQ(hub.at("external_service_id").as_string(), "MSK Intake");
    EXPECT_EQ(hub.at("patient").at("health_number").as_string(), "9876543217");

    const json::value open_api = json::parse(render_open_api(r));
    EXPECT_EQ(open_api.at("referralRef").as_string(), kRef);
    EXPECT_EQ(open_api.at("status").as_string(), "BOOKED");
    EXPECT_EQ(open_api.at("description").as_string(), "Lakeshore MSK Clinic - Physiotherapy");
    EXPECT_EQ(open_api.at("patient").at("healthNumberVersion").as_string(), "AB");
}

TEST(OpenApiReferral, OptionsSetTheEventAndTheAttachmentHost) {
    OpenApiOptions options;
    options.event = "notify-referral-updated";
    options.ocean_host = "";
    const ParseResult result =
        parse_open_api_referral(data("open-api-referral-full.json"), "", "4321", options);
    ASSERT_TRUE(result.referral);
    EXPECT_EQ(result.referral->event, "notify-referral-updated");
    for (const auto& a : result.referral->attachments) EXPECT_EQ(a.url, "");
    options.ocean_host = "https://test.cognisantmd.com";
    const ParseResult odd_ref = parse_open_api_referral(
        R"({"referralRef":"r/1 2","bookingFileRefs":[{"fileRef":"a?b","fileName":"x"}]})", "", "1", options);
    ASSERT_EQ(odd_ref.referral->attachments.size(), 1U);
    EXPECT_EQ(odd_ref.referral->attachments[0].url,
              "https://test.cognisantmd.com/svc/v1/referrals/r%2F1%202/attachments/a%3Fb");
}

}  // namespace
