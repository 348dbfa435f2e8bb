// Patient Engagement results (Ocean's decrypted OceanPatient + PtUpdate, ocean-api.md §5.2) → the
// PatientEngagement struct → FHIR R4 collection Bundle and hub JSON (mapping in
// libs/transform/include/relay/transform/patient_engagement.hpp).
//
// Golden files: tests/golden/transform/pe-<name>.{fhir-r4,hub-json}.json, stored pretty-printed like the
// referral goldens; RELAY_UPDATE_GOLDEN=1 rewrites them. HAPI FHIR (label fhir) and the JSON Schema
// (hub-patient-engagement.schema.json) check the same outputs: render_samples.cpp writes them.
#include "relay/transform/patient_engagement.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "ocean_json_samples.hpp"
#include "relay/core/encoding.hpp"
#include "render_test_util.hpp"

namespace {

namespace json = boost::json;
namespace fs = std::filesystem;
using namespace relay::transform;
using ocean_json_samples::data;
using ocean_json_samples::engagement_context;

const fs::path kGoldenDir = fs::path(RELAY_SOURCE_DIR) / "tests/golden/transform";

void expect_golden(const std::string& file, const std::string& rendered) {
    const fs::path path = kGoldenDir / file;
    const std::string actual = render_test::pretty(json::parse(rendered));
    const char* update = std::getenv("RELAY_UPDATE_GOLDEN");
    if (update != nullptr && std::string_view(update) == "1") {
        render_test::write_file(path, actual);
        return;
    }
    ASSERT_TRUE(fs::exists(path)) << path << " missing: run with RELAY_UPDATE_GOLDEN=1 to create it";
    EXPECT_TRUE(render_test::read_file(path) == actual)
        << path.filename() << " differs (RELAY_UPDATE_GOLDEN=1 rewrites it after an intended change)";
}

std::string warning_codes(const PatientEngagementResult& r) {
    std::string out;
    for (const auto& w : r.warnings) out += w.code + " at " + w.expression + "\n";
    return out;
}

void expect_no_value_in_texts(const PatientEngagementResult& r, const std::vector<std::string>& values) {
    std::vector<std::string> texts;
    if (r.error) texts.insert(texts.end(), {r.error->code, r.error->expression, r.error->message});
    for (const auto& w : r.warnings) texts.insert(texts.end(), {w.code, w.expression, w.message});
    for (const auto& text : texts) {
        for (const auto& value : values) {
            EXPECT_EQ(text.find(value), std::string::npos) << "a payload value appears in: " << text;
        }
    }
}

TypedValue v(AnswerType type, std::string value) {
    return TypedValue{type, std::move(value)};
}

// ---------------------------------------------------------------------------------------------------
// parse

TEST(PatientEngagementParse, MapsEveryMember) {
    const PatientEngagementResult result = parse_patient_engagement(
        data("pe-ocean-patient.json"), data("pe-pt-update.json"), engagement_context());
    ASSERT_TRUE(result.engagement) << result.error->code << " at " << result.error->expression;
    // The one odd member of the sample: an EMR field update that is a list.
    ASSERT_EQ(result.warnings.size(), 1U) << warning_codes(result);
    EXPECT_EQ(result.warnings[0].expression, "PtUpdate.emrFieldUpdates.tags");
    const PatientEngagement& e = *result.engagement;

    EXPECT_EQ(e.site_number, "4321");
    EXPECT_EQ(e.patient_ref, "690");
    EXPECT_EQ(e.session_id, "1759442545187t415674");
    EXPECT_EQ(e.note_id, "note-31337");
    EXPECT_EQ(e.authored, "2025-10-02T18:02:25.187Z");
    EXPECT_EQ(e.reason_for_visit, "Follow-up: mood");

    const Patient& p = e.patient;
    EXPECT_EQ(p.name.given, std::vector<std::string>{"Desmond"});
    EXPECT_EQ(p.name.family, "Okafor-Lindqvist");
    EXPECT_EQ(p.health_number, "1234567897");
    EXPECT_EQ(p.health_number_version, "ZX");
    EXPECT_EQ(p.mrn, "MRN-90210");
    EXPECT_EQ(p.birth_date, "1971-11-23");
    EXPECT_EQ(p.gender, "male");
    EXPECT_EQ(p.language, "en-CA");
    EXPECT_EQ(p.telecom,
              (std::vector<Telecom>{{"phone", "519-555-0123", "mobile"},
                                    {"email", "d.okafor@example.org", "home"}}));
    EXPECT_EQ(p.addresses,
              (std::vector<Address>{{"home", "", {"88 Willow Lane"}, "", "", "", ""},
                                    {"home", "", {}, "Port Elgin", "ON", "N0H 2C0", ""}}));

    ASSERT_TRUE(e.progress_note);
    EXPECT_EQ(e.progress_note->title, "PHQ-9 & GAD-7");
    EXPECT_EQ(e.progress_note->text,
              "PHQ-9 completed by the patient.\nTotal score: 7 (mild).\nGAD-7 total: 4.");
    EXPECT_EQ(e.progress_note->note_type, "FORM");

    ASSERT_EQ(e.forms.size(), 2U);
    EXPECT_EQ(e.forms[0].form_ref, "phq9");
    EXPECT_EQ(e.forms[0].items,
              (std::vector<CompletedFormItem>{
                  {"q1", {v(AnswerType::kString, "1")}, false},
                  {"q2", {v(AnswerType::kInteger, "1")}, false},
                  {"q9", {v(AnswerType::kInteger, "0")}, false},
                  {"difficulty", {v(AnswerType::kString, "Somewhat difficult")}, false},
                  {"total", {v(AnswerType::kInteger, "7")}, true},
                  {"completedOn", {v(AnswerType::kDate, "2025-03-01")}, false},
                  {"consent", {v(AnswerType::kBoolean, "true")}, false},
                  {"weightKg", {v(AnswerType::kDecimal, "72.5")}, false},
                  {"symptoms", {v(AnswerType::kString, "sleep"), v(AnswerType::kString, "appetite")}, false},
                  {"comments", {}, false},
                  {"skipped", {}, false},
              }));
    EXPECT_EQ(e.forms[1].form_ref, "gad7");
    EXPECT_EQ(
        e.forms[1].items,
        (std::vector<CompletedFormItem>{{"total", {v(AnswerType::kInteger, "4")}, false},
                                        {"score_scaled", {v(AnswerType::kDecimal, "12345678901")}, true}}));

    EXPECT_EQ(e.emr_field_updates,
              (std::vector<EmrFieldUpdate>{{"smoker", v(AnswerType::kBoolean, "false")},
                                           {"weight", v(AnswerType::kDecimal, "72.5")},
                                           {"phone", v(AnswerType::kString, "519-555-0199")}}));
}

TEST(PatientEngagementParse, EitherDocumentAloneAndThePtUpdateInsideThePatient) {
    // Only the update: the identifiers come from the context.
    const PatientEngagement update_only = ocean_json_samples::engagement_update_only();
    EXPECT_EQ(update_only.patient, Patient{});
    EXPECT_EQ(update_only.patient_ref, "690");
    EXPECT_EQ(update_only.forms.size(), 2U);

    // Only the patient, with the context empty: OceanPatient's own ref and site.
    const PatientEngagementResult patient_only =
        parse_patient_engagement(data("pe-ocean-patient.json"), "", {});
    ASSERT_TRUE(patient_only.engagement);
    EXPECT_EQ(patient_only.engagement->patient_ref, "690");
    EXPECT_EQ(patient_only.engagement->site_number, "4321");
    EXPECT_TRUE(patient_only.engagement->forms.empty());
    EXPECT_FALSE(patient_only.engagement->progress_note);

    // OceanPatient.ptUpdate carries the update when no separate one is given.
    json::object patient = json::parse(data("pe-ocean-patient.json")).as_object();
    patient["ptUpdate"] = json::parse(data("pe-pt-update.json"));
    const PatientEngagementResult embedded =
        parse_patient_engagement(json::serialize(patient), "", engagement_context());
    ASSERT_TRUE(embedded.engagement);
    EXPECT_EQ(*embedded.engagement, ocean_json_samples::engagement_full());
    EXPECT_EQ(embedded.warnings.size(), 1U);
    EXPECT_EQ(embedded.warnings[0].expression, "OceanPatient.ptUpdate.emrFieldUpdates.tags");

    // A bare demographics object, in render_open_api's spelling.
    const PatientEngagementResult bare = parse_patient_engagement(
        R"({"firstName":"Ada","surname":"Brightwater","healthNumber":"1112223334","gender":"female"})",
        "",
        {});
    ASSERT_TRUE(bare.engagement);
    EXPECT_EQ(bare.engagement->patient.health_number, "1112223334");
    EXPECT_EQ(bare.engagement->patient.gender, "female");
}

TEST(PatientEngagementParse, ToleratesMissingAndOddMembers) {
    const PatientEngagementResult result = parse_patient_engagement(
        R"({"demographics":{"sex":"Zephyrine","birthDate":"Zephyrine"},"ptUpdate":"ignored when a PtUpdate is given"})",
        R"({"progressNote":{"title":null,"text":"","noteType":[3]},
            "completedForms":{"f1":{"a":{"nested":"Zephyrine"},"b":[1,{"x":2},"Zephyrine"]},"f2":{}},
            "formMetadata":{"f1":{"a":{"hidden":"true"},"b":{"hidden":7}}},
            "emrFieldUpdates":"Zephyrine","extra":[1,2]})",
        {});
    ASSERT_TRUE(result.engagement) << result.error->code << " at " << result.error->expression;
    const PatientEngagement& e = *result.engagement;
    EXPECT_FALSE(e.progress_note);  // nothing in it
    ASSERT_EQ(e.forms.size(), 2U);
    EXPECT_EQ(e.forms[0].items,
              (std::vector<CompletedFormItem>{
                  {"a", {}, true},
                  {"b", {v(AnswerType::kInteger, "1"), v(AnswerType::kString, "Zephyrine")}, false}}));
    EXPECT_TRUE(e.forms[1].items.empty());
    EXPECT_TRUE(e.emr_field_updates.empty());
    EXPECT_EQ(e.patient.gender, "");
    EXPECT_EQ(e.patient.birth_date, "");
    std::vector<std::string> expressions;
    for (const auto& w : result.warnings) expressions.push_back(w.expression);
    for (const char* expected : {"OceanPatient.demographics.sex",
                                 "OceanPatient.demographics.birthDate",
                                 "PtUpdate.progressNote.noteType",
                                 "PtUpdate.completedForms.f1.a",
                                 "PtUpdate.completedForms.f1.b[1]",
                                 "PtUpdate.formMetadata.f1.b.hidden",
                                 "PtUpdate.emrFieldUpdates"}) {
        EXPECT_NE(std::find(expressions.begin(), expressions.end(), expected), expressions.end())
            << "no warning at " << expected << "; got:\n"
            << warning_codes(result);
    }
    expect_no_value_in_texts(result, {"Zephyrine"});
    // Renders all the same.
    EXPECT_NO_THROW((void)json::parse(render_patient_engagement_fhir_r4(e)));
    EXPECT_NO_THROW((void)json::parse(render_patient_engagement_hub_json(e)));
}

TEST(PatientEngagementParse, ShapeErrorsAreValuesWithoutPayloadValues) {
    const std::string phi = "Zephyrine 5550001119";
    struct Case {
        std::string patient;
        std::string update;
        const char* code;
        const char* expression;
    };
    const std::vector<Case> cases = {
        {"", "", "no-data", ""},
        {R"({"demographics":{"firstName":"Zephyrine")", "", "invalid-json", "OceanPatient"},
        {"", R"({"completedForms":{"phq9":{"q1":"Zephyrine"})", "invalid-json", "PtUpdate"},
        {R"(["Zephyrine"])", "", "unexpected-type", "OceanPatient"},
        {R"({"demographics":"Zephyrine 5550001119"})", "", "unexpected-type", "OceanPatient.demographics"},
        {"", R"("Zephyrine")", "unexpected-type", "PtUpdate"},
        {"", R"({"completedForms":["Zephyrine"]})", "unexpected-type", "PtUpdate.completedForms"},
        {"",
         R"({"completedForms":{"phq9":"Zephyrine 5550001119"}})",
         "unexpected-type",
         "PtUpdate.completedForms.phq9"},
        {"", R"({"progressNote":"Zephyrine 5550001119"})", "unexpected-type", "PtUpdate.progressNote"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.patient + " | " + c.update);
        const PatientEngagementResult result =
            parse_patient_engagement(c.patient, c.update, engagement_context());
        EXPECT_FALSE(result.engagement);
        ASSERT_TRUE(result.error);
        EXPECT_EQ(result.error->code, c.code);
        EXPECT_EQ(result.error->expression, c.expression);
        EXPECT_FALSE(result.error->message.empty());
        expect_no_value_in_texts(result, {"Zephyrine", "5550001119"});
    }
    // The caller's own time is checked too, and not echoed.
    PatientEngagementContext context = engagement_context();
    context.authored = "yesterday-ish";
    const PatientEngagementResult bad_time = parse_patient_engagement("", data("pe-pt-update.json"), context);
    ASSERT_TRUE(bad_time.engagement);
    EXPECT_EQ(bad_time.engagement->authored, "");
    expect_no_value_in_texts(bad_time, {"yesterday"});
}

// ---------------------------------------------------------------------------------------------------
// FHIR R4

const json::object& resource_of(const json::value& bundle, std::size_t i) {
    return bundle.at("entry").as_array().at(i).at("resource").as_object();
}

TEST(PatientEngagementFhir, ACollectionWithThePatientAFormResponseEachAndTheNote) {
    const PatientEngagement e = ocean_json_samples::engagement_full();
    const json::value bundle = json::parse(render_patient_engagement_fhir_r4(e));
    EXPECT_EQ(bundle.at("resourceType").as_string(), "Bundle");
    EXPECT_EQ(bundle.at("type").as_string(), "collection");
    EXPECT_EQ(bundle.at("timestamp").as_string(), "2025-10-02T18:02:25.187Z");
    EXPECT_EQ(bundle.at("identifier").at("system").as_string(),
              "https://ocean-relay.example/fhir/NamingSystem/ocean-session-id");
    EXPECT_EQ(bundle.at("identifier").at("value").as_string(), "1759442545187t415674");
    const json::array& entries = bundle.at("entry").as_array();
    ASSERT_EQ(entries.size(), 4U);
    for (const auto& entry : entries) EXPECT_TRUE(entry.at("fullUrl").as_string().starts_with("urn:uuid:"));
    const json::string& patient_url = entries[0].at("fullUrl").as_string();

    const json::object& patient = resource_of(bundle, 0);
    EXPECT_EQ(patient.at("resourceType").as_string(), "Patient");
    const json::array& ids = patient.at("identifier").as_array();
    ASSERT_EQ(ids.size(), 3U);
    EXPECT_EQ(ids[0].at("system").as_string(),
              "https://fhir.infoway-inforoute.ca/NamingSystem/ca-on-patient-hcn");
    EXPECT_EQ(ids[0].at("value").as_string(), "1234567897");
    EXPECT_EQ(ids[0].at("extension").at(0).at("url").as_string(),
              "http://ehealthontario.ca/fhir/StructureDefinition/ext-id-health-card-version-code");
    EXPECT_EQ(ids[0].at("extension").at(0).at("valueString").as_string(), "ZX");
    EXPECT_EQ(ids[1].at("value").as_string(), "MRN-90210");
    EXPECT_EQ(ids[2].at("system").as_string(),
              "https://ocean-relay.example/fhir/NamingSystem/sites/4321/patient-ref");
    EXPECT_EQ(ids[2].at("value").as_string(), "690");
    EXPECT_EQ(patient.at("gender").as_string(), "male");
    EXPECT_EQ(patient.at("birthDate").as_string(), "1971-11-23");
    EXPECT_EQ(patient.at("name").at(0).at("family").as_string(), "Okafor-Lindqvist");

    const json::object& phq9 = resource_of(bundle, 1);
    EXPECT_EQ(phq9.at("resourceType").as_string(), "QuestionnaireResponse");
    EXPECT_EQ(phq9.at("questionnaire").as_string(), "https://ocean-relay.example/fhir/Questionnaire/phq9");
    EXPECT_EQ(phq9.at("status").as_string(), "completed");
    EXPECT_EQ(phq9.at("subject").at("reference").as_string(), patient_url);
    EXPECT_EQ(phq9.at("authored").as_string(), "2025-10-02T18:02:25.187Z");
    EXPECT_EQ(phq9.at("identifier").at("value").as_string(), "1759442545187t415674");
    const json::array& items = phq9.at("item").as_array();
    std::vector<std::string> link_ids;
    for (const auto& item : items) link_ids.emplace_back(item.at("linkId").as_string());
    // `total` is hidden (formMetadata): left out.
    EXPECT_EQ(link_ids,
              (std::vector<std::string>{"q1",
                                        "q2",
                                        "q9",
                                        "difficulty",
                                        "completedOn",
                                        "consent",
                                        "weightKg",
                                        "symptoms",
                                        "comments",
                                        "skipped"}));
    EXPECT_EQ(items[0].at("answer").at(0).at("valueString").as_string(), "1");
    EXPECT_EQ(items[1].at("answer").at(0).at("valueInteger").as_int64(), 1);
    EXPECT_EQ(items[4].at("answer").at(0).at("valueDate").as_string(), "2025-03-01");
    EXPECT_EQ(items[5].at("answer").at(0).at("valueBoolean").as_bool(), true);
    EXPECT_DOUBLE_EQ(items[6].at("answer").at(0).at("valueDecimal").as_double(), 72.5);
    EXPECT_EQ(items[7].at("answer").as_array().size(), 2U);
    EXPECT_FALSE(items[8].as_object().contains("answer"));

    const json::object& gad7 = resource_of(bundle, 2);
    EXPECT_EQ(gad7.at("questionnaire").as_string(), "https://ocean-relay.example/fhir/Questionnaire/gad7");
    EXPECT_EQ(gad7.at("item").as_array().size(), 1U);  // score_scaled hidden

    const json::object& note = resource_of(bundle, 3);
    EXPECT_EQ(note.at("resourceType").as_string(), "DocumentReference");
    EXPECT_EQ(note.at("status").as_string(), "current");
    EXPECT_EQ(note.at("type").at("text").as_string(), "FORM");
    EXPECT_EQ(note.at("description").as_string(), "PHQ-9 & GAD-7");
    EXPECT_EQ(note.at("date").as_string(), "2025-10-02T18:02:25.187Z");
    EXPECT_EQ(note.at("subject").at("reference").as_string(), patient_url);
    const json::object& attachment = note.at("content").at(0).at("attachment").as_object();
    EXPECT_EQ(attachment.at("contentType").as_string(), "text/plain; charset=utf-8");
    EXPECT_EQ(relay::base64_decode(attachment.at("data").as_string()), e.progress_note->text);
    const json::array& related = note.at("context").at("related").as_array();
    ASSERT_EQ(related.size(), 2U);
    EXPECT_EQ(related[0].at("reference").as_string(), entries[1].at("fullUrl").as_string());
    EXPECT_EQ(related[1].at("reference").as_string(), entries[2].at("fullUrl").as_string());

    // Deterministic: the same results give the same bytes.
    EXPECT_EQ(render_patient_engagement_fhir_r4(e), render_patient_engagement_fhir_r4(e));
}

TEST(PatientEngagementFhir, OptionsSetTheBasesAndKeepHiddenItems) {
    PatientEngagementFhirOptions options;
    options.questionnaire_base = "https://forms.hub.example/Questionnaire/";
    options.identifier_base = "https://hub.example/ns/";
    options.include_hidden_items = true;
    PatientEngagement e = ocean_json_samples::engagement_full();
    e.forms[1].form_ref = "gad 7/v2";
    const json::value bundle = json::parse(render_patient_engagement_fhir_r4(e, options));
    EXPECT_EQ(bundle.at("identifier").at("system").as_string(), "https://hub.example/ns/ocean-session-id");
    const json::object& phq9 = resource_of(bundle, 1);
    EXPECT_EQ(phq9.at("questionnaire").as_string(), "https://forms.hub.example/Questionnaire/phq9");
    EXPECT_EQ(phq9.at("item").as_array().size(), 11U);
    const json::object& total = phq9.at("item").at(4).as_object();
    EXPECT_EQ(total.at("linkId").as_string(), "total");
    EXPECT_EQ(total.at("extension").at(0).at("valueString").as_string(), "hidden");
    EXPECT_EQ(resource_of(bundle, 2).at("questionnaire").as_string(),
              "https://forms.hub.example/Questionnaire/gad%207%2Fv2");
}

TEST(PatientEngagementFhir, WithoutPatientDataOrNoteOrTime) {
    PatientEngagement e = ocean_json_samples::engagement_update_only();
    e.progress_note.reset();
    e.authored = "2025-10-02";  // a date only: no Bundle.timestamp, QuestionnaireResponse.authored kept
    const json::value bundle = json::parse(render_patient_engagement_fhir_r4(e));
    EXPECT_FALSE(bundle.as_object().contains("timestamp"));
    ASSERT_EQ(bundle.at("entry").as_array().size(), 3U);
    const json::object& patient = resource_of(bundle, 0);
    ASSERT_EQ(patient.at("identifier").as_array().size(), 1U);
    EXPECT_EQ(patient.at("identifier").at(0).at("value").as_string(), "690");
    EXPECT_EQ(resource_of(bundle, 1).at("authored").as_string(), "2025-10-02");
}

// ---------------------------------------------------------------------------------------------------
// hub JSON

TEST(PatientEngagementHub, EveryKeyAlwaysPresentAndTypedAnswers) {
    const json::value hub =
        json::parse(render_patient_engagement_hub_json(ocean_json_samples::engagement_full()));
    EXPECT_EQ(hub.at("format").as_string(), "ocean-relay.hub-patient-engagement.v1");
    EXPECT_EQ(hub.at("site_number").as_string(), "4321");
    EXPECT_EQ(hub.at("patient_ref").as_string(), "690");
    EXPECT_EQ(hub.at("session_id").as_string(), "1759442545187t415674");
    EXPECT_EQ(hub.at("note_id").as_string(), "note-31337");
    EXPECT_EQ(hub.at("reason_for_visit").as_string(), "Follow-up: mood");
    EXPECT_EQ(hub.at("patient").at("health_number").as_string(), "1234567897");
    EXPECT_EQ(hub.at("progress_note").at("note_type").as_string(), "FORM");
    const json::array& items = hub.at("forms").at(0).at("items").as_array();
    EXPECT_EQ(items.size(), 11U);  // hidden items kept, flagged
    EXPECT_EQ(items[4].at("item_ref").as_string(), "total");
    EXPECT_EQ(items[4].at("hidden").as_bool(), true);
    EXPECT_EQ(items[4].at("answers").at(0).at("type").as_string(), "integer");
    EXPECT_EQ(items[4].at("answers").at(0).at("value").as_string(), "7");
    EXPECT_EQ(hub.at("emr_field_updates").at(0).at("type").as_string(), "boolean");

    const json::value empty = json::parse(render_patient_engagement_hub_json(PatientEngagement{}));
    EXPECT_TRUE(empty.at("progress_note").is_null());
    EXPECT_TRUE(empty.at("forms").as_array().empty());
    EXPECT_EQ(empty.at("authored").as_string(), "");
}

// ---------------------------------------------------------------------------------------------------
// goldens

TEST(PatientEngagementGolden, MatchesEverySample) {
    const PatientEngagement full = ocean_json_samples::engagement_full();
    expect_golden("pe-full.fhir-r4.json", render_patient_engagement_fhir_r4(full));
    expect_golden("pe-full.hub-json.json", render_patient_engagement_hub_json(full));
    PatientEngagementFhirOptions with_hidden;
    with_hidden.include_hidden_items = true;
    expect_golden("pe-full-with-hidden.fhir-r4.json", render_patient_engagement_fhir_r4(full, with_hidden));
    const PatientEngagement update_only = ocean_json_samples::engagement_update_only();
    expect_golden("pe-update-only.fhir-r4.json", render_patient_engagement_fhir_r4(update_only));
    expect_golden("pe-update-only.hub-json.json", render_patient_engagement_hub_json(update_only));
}

}  // namespace
