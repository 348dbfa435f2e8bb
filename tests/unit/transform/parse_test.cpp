// ReferralParser: the two real Ocean v0.11.1 bundles value by value, agreement with the ingress's
// Extractor on every routing fact, round trips of generated bundles of both dialects (expected values
// read from the bundle's JSON with Boost.JSON), echoes, errors and tolerated oddities.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "generator.hpp"
#include "relay/core/encoding.hpp"
#include "relay/fhir/extract.hpp"
#include "relay/transform/referral.hpp"
#include "test_support.hpp"

namespace json = boost::json;
using relay::ocean_sim::Dialect;
using relay::ocean_sim::EchoedAppointment;
using relay::ocean_sim::generate;
using relay::ocean_sim::ReceiverProgress;
using relay::ocean_sim::ReferralSpec;
using relay::transform::ParseResult;
using relay::transform::Referral;
using relay::transform::ReferralParser;

namespace {

constexpr std::string_view kBackPain = "ocean-fhir-v0.11.1/ereferral_back_pain.bundle.json";
constexpr std::string_view kMiscellaneous = "ocean-fhir-v0.11.1/ereferral_miscellaneous.bundle.json";

// --- Boost.JSON navigation (the test's independent reading of a bundle) ---------------------------

json::value parse_json(std::string_view body) {
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    EXPECT_FALSE(ec) << ec.message();
    return v;
}

std::string str(const json::value& v) {
    return std::string(v.as_string());
}

std::string str_or_empty(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v != nullptr && v->is_string() ? str(*v) : std::string();
}

json::array& entries(json::value& bundle) {
    return bundle.at("entry").as_array();
}

json::object& resource_at(json::value& bundle, std::size_t i) {
    return entries(bundle).at(i).at("resource").as_object();
}

std::vector<const json::object*> of_type(const json::value& bundle, std::string_view type) {
    std::vector<const json::object*> out;
    for (const auto& e : bundle.at("entry").as_array()) {
        const auto& r = e.at("resource").as_object();
        if (r.at("resourceType").as_string() == type) out.push_back(&r);
    }
    return out;
}

std::size_t index_of_type(const json::value& bundle, std::string_view type) {
    const auto& list = bundle.at("entry").as_array();
    for (std::size_t i = 0; i < list.size(); ++i) {
        if (list[i].at("resource").at("resourceType").as_string() == type) return i;
    }
    ADD_FAILURE() << "no " << type;
    return 0;
}

/// The resource a reference names: by fullUrl (urn:uuid) or by Type/id (v0.10).
const json::object* by_ref(const json::value& bundle, std::string_view ref) {
    for (const auto& e : bundle.at("entry").as_array()) {
        const auto& r = e.at("resource").as_object();
        const auto* full_url = e.as_object().if_contains("fullUrl");
        if (full_url != nullptr && full_url->as_string() == ref) return &r;
        const auto* id = r.if_contains("id");
        if (id != nullptr && str(r.at("resourceType")) + "/" + str(*id) == ref) return &r;
    }
    return nullptr;
}

const json::object* by_ref_member(const json::value& bundle, const json::object& o, std::string_view key) {
    return by_ref(bundle, o.at(key).at("reference").as_string());
}

/// The value of the first identifier whose system ends with `suffix`.
std::string identifier_value(const json::object& resource, std::string_view suffix) {
    const auto* ids = resource.if_contains("identifier");
    if (ids == nullptr) return {};
    for (const auto& id : ids->as_array()) {
        if (std::string_view(id.at("system").as_string()).ends_with(suffix))
            return str_or_empty(id.as_object(), "value");
    }
    return {};
}

/// The resource's own identity as the parser reports it: id, else fullUrl without urn:uuid:.
std::string own_id(const json::value& bundle, const json::object* resource) {
    for (const auto& e : bundle.at("entry").as_array()) {
        if (&e.at("resource").as_object() != resource) continue;
        if (const auto* id = resource->if_contains("id")) return str(*id);
        std::string full_url = str(e.at("fullUrl"));
        if (full_url.starts_with("urn:uuid:")) full_url.erase(0, 9);
        return full_url;
    }
    return {};
}

// --- specs --------------------------------------------------------------------------------------

ReferralSpec spec(std::uint64_t seed, Dialect dialect) {
    ReferralSpec s;
    s.seed = seed;
    s.dialect = dialect;
    s.site_number = "4321";
    s.listing_ref = "harbourfront_clinic-73632721";
    s.request_url = "https://relay.example/ocean/acme/fhir/$process-message";
    s.ocean_host = "https://test.cognisantmd.com";
    return s;
}

/// A spread of shapes: every combination of dialect, delegate, attachment, echo and External Service
/// ID appears within any 32 consecutive seeds.
ReferralSpec varied_spec(std::uint64_t seed) {
    ReferralSpec s = spec(seed, seed % 2 == 0 ? Dialect::kV0_10 : Dialect::kV0_11);
    s.delegate_submitter = (seed / 2) % 2 == 1;
    s.attachment_bytes = (seed / 4) % 2 == 1 ? 100 + seed * 7 : 0;
    if ((seed / 8) % 2 == 1) {
        ReceiverProgress progress;
        progress.task_status = seed % 3 == 0 ? "rejected" : "accepted";
        progress.decline_reason = "Not a service we offer";
        if (seed % 5 != 0) {
            progress.appointments.push_back(EchoedAppointment{"",
                                                              "booked",
                                                              "2025-07-01T09:00:00-04:00",
                                                              "2025-07-01T09:30:00-04:00",
                                                              "accepted",
                                                              "Bring your health card"});
            progress.appointments.push_back(
                EchoedAppointment{"appt-2", "proposed", "", "", "", "We will call you to book"});
        }
        s.receiver_progress = progress;
        s.event = "notify-update-service-request";
        s.message_sequence = 1;
    }
    if ((seed / 16) % 2 == 1) s.external_service_id = "Svc-" + std::to_string(seed % 7);
    s.test_data_security_tag = seed % 3 == 1;
    if (seed % 11 == 0) s.ocean_host = "http://localhost:8081";
    return s;
}

Referral parse_ok(ReferralParser& parser, std::string_view body) {
    ParseResult result = parser.parse(body);
    EXPECT_FALSE(result.error) << result.error->code << " at " << result.error->expression << ": "
                               << result.error->message;
    EXPECT_TRUE(result.referral.has_value());
    return result.referral ? std::move(*result.referral) : Referral{};
}

std::string warning_codes(const ParseResult& result) {
    std::string out;
    for (const auto& w : result.warnings) out += w.code + "@" + w.expression + " ";
    return out;
}

bool has_warning(const ParseResult& result, std::string_view code, std::string_view expression) {
    return std::any_of(result.warnings.begin(), result.warnings.end(), [&](const auto& w) {
        return w.code == code && w.expression == expression;
    });
}

}  // namespace

// --- the real bundles ---------------------------------------------------------------------------

TEST(ParseFixtures, BackPainMessageAndReferral) {
    ReferralParser parser;
    const std::string body = relay::test::read_fixture(std::string(kBackPain));
    const ParseResult result = parser.parse(body);
    ASSERT_TRUE(result.referral) << result.error->message;
    EXPECT_TRUE(result.warnings.empty()) << warning_codes(result);
    const Referral& r = *result.referral;

    EXPECT_EQ(r.dialect, relay::fhir::Dialect::kV0_11);
    EXPECT_EQ(r.event, "add-service-request");
    EXPECT_EQ(r.bundle_id, "7ea1dd78-8b77-4f8b-968b-d6ab36391350");
    EXPECT_EQ(r.message_header_id, "fdd94a37-22a7-41ce-8140-6604a1f10908");
    EXPECT_EQ(r.timestamp, "2025-05-27T11:45:06.783-04:00");
    EXPECT_EQ(r.reason, "Initial");
    EXPECT_EQ(r.source_endpoint, "http://localhost:8081/svc/fhir/v1/$process-messages");
    EXPECT_FALSE(r.test_data);

    EXPECT_EQ(r.referral_ref, "71db1a5c-89ce-41d5-bc71-8466f6c2f182");
    EXPECT_EQ(r.status, "active");
    EXPECT_EQ(r.intent, "proposal");
    EXPECT_EQ(r.priority, "");  // this bundle has none
    EXPECT_EQ(r.authored_on, "2025-05-27T11:38:00-04:00");
    ASSERT_EQ(r.categories.size(), 1U);
    EXPECT_EQ(r.categories[0],
              (relay::transform::Coding{
                  "http://snomed.info/sct", "410223002", "MENTAL_HEALTH_ASSESSMENT_AND_REFERRAL"}));
    EXPECT_TRUE(r.order_details.empty());
    ASSERT_EQ(r.notes.size(), 1U);
    EXPECT_EQ(r.notes[0].html, "<b>Reason for Referral:</b> Back pain with no red flags&nbsp;");
    EXPECT_EQ(r.notes[0].text, "Reason for Referral: Back pain with no red flags");
    EXPECT_EQ(r.notes[0].time, "2025-05-27T11:38:00-04:00");
    EXPECT_TRUE(r.tasks.empty());
    EXPECT_TRUE(r.appointments.empty());
    EXPECT_TRUE(r.communications.empty());
}

TEST(ParseFixtures, BackPainPeopleAndListing) {
    ReferralParser parser;
    const Referral r = parse_ok(parser, relay::test::read_fixture(std::string(kBackPain)));

    // Ocean's dev server sent the HCN and MRN slots without values.
    EXPECT_EQ(r.patient.health_number, "");
    EXPECT_EQ(r.patient.health_number_version, "");
    EXPECT_EQ(r.patient.mrn, "");
    EXPECT_TRUE(r.patient.other_identifiers.empty());
    EXPECT_EQ(r.patient.name.family, "DKTest");
    EXPECT_EQ(r.patient.name.text, "DKTest");
    EXPECT_TRUE(r.patient.name.given.empty());
    EXPECT_EQ(r.patient.gender, "male");
    EXPECT_EQ(r.patient.birth_date, "");
    ASSERT_EQ(r.patient.addresses.size(), 2U);
    EXPECT_EQ(r.patient.addresses[0].use, "home");
    EXPECT_EQ(r.patient.addresses[0].type, "postal");

    EXPECT_EQ(r.target.listing_ref, "autorouter_test49721437");
    EXPECT_EQ(r.target.site_number, "1234");
    EXPECT_EQ(r.target.external_service_id, "");
    EXPECT_EQ(r.target.name, "Autorouter Test");
    ASSERT_TRUE(r.target.address);
    EXPECT_EQ(r.target.address->lines, std::vector<std::string>{"3080 Yonge St"});
    EXPECT_EQ(r.target.address->city, "Toronto");
    EXPECT_EQ(r.target.address->province, "ON");
    EXPECT_EQ(r.target.address->postal_code, "M4P 0C6");
    ASSERT_EQ(r.target.specialty.size(), 2U);
    EXPECT_EQ(r.target.specialty[0].code, "410223002");
    EXPECT_EQ(r.target.specialty[1].code, "49634009");
    EXPECT_EQ(r.target.specialty[1].system,
              "https://fhir.infoway-inforoute.ca/CodeSystem/snomedctcaextension");

    // Sender, author and requester are one role: no delegate.
    EXPECT_EQ(r.referrer.name.family, "Kavanagh");
    EXPECT_EQ(r.referrer.name.given, std::vector<std::string>{"Doug"});
    EXPECT_EQ(r.referrer.licence, "");
    ASSERT_TRUE(r.referrer.address);
    EXPECT_EQ(r.referrer.address->use, "work");
    EXPECT_EQ(r.referrer.address->type, "physical");
    EXPECT_TRUE(r.referrer.address->lines.empty());
    EXPECT_FALSE(r.submitter);
}

TEST(ParseFixtures, BackPainFormAndLetter) {
    ReferralParser parser;
    const std::string body = relay::test::read_fixture(std::string(kBackPain));
    const Referral r = parse_ok(parser, body);

    ASSERT_TRUE(r.form);
    EXPECT_EQ(r.form->form_ref, "quickReferral");
    EXPECT_EQ(r.form->status, "completed");
    EXPECT_EQ(r.form->authored, "");
    const auto bundle = parse_json(body);
    const auto& items = of_type(bundle, "QuestionnaireResponse").at(0)->at("item").as_array();
    ASSERT_EQ(r.form->items.size(), items.size());
    ASSERT_EQ(r.form->items.size(), 25U);
    const auto hidden =
        std::count_if(r.form->items.begin(), r.form->items.end(), [](const auto& i) { return i.hidden; });
    EXPECT_EQ(hidden, 17);
    EXPECT_EQ(r.form->items[0].link_id, "allergies");
    EXPECT_EQ(r.form->items[0].text, "Allergies:");
    EXPECT_TRUE(r.form->items[0].hidden);
    EXPECT_EQ(r.form->items[5].link_id, "includeCPP");
    EXPECT_FALSE(r.form->items[5].hidden);
    EXPECT_EQ(r.form->items[5].text, "Include CPP:");
    const auto& rfr = r.form->items.back();
    EXPECT_EQ(rfr.link_id, "rfr");
    EXPECT_FALSE(rfr.hidden);
    EXPECT_EQ(rfr.answers, std::vector<std::string>{"back pain with no red flags"});
    for (std::size_t i = 0; i + 1 < r.form->items.size(); ++i) {
        EXPECT_TRUE(r.form->items[i].answers.empty()) << r.form->items[i].link_id;
        EXPECT_EQ(r.form->items[i].link_id, str(items[i].at("linkId")));
        EXPECT_EQ(r.form->items[i].hidden, items[i].as_object().contains("extension"));
    }

    ASSERT_EQ(r.attachments.size(), 1U);
    const auto& letter = r.attachments[0];
    EXPECT_EQ(letter.id, "2c94573d-5538-44d1-ada8-ee567b4bc52f");
    EXPECT_EQ(letter.status, "current");
    EXPECT_EQ(letter.content_type, "application/pdf");
    EXPECT_EQ(letter.title, "DKTest--2025-05-27.pdf");
    EXPECT_EQ(
        letter.url,
        "http://localhost:8081/svc/fhir/v1/ServiceRequest/71db1a5c-89ce-41d5-bc71-8466f6c2f182/$letter");
    EXPECT_EQ(letter.data_base64, "");
    EXPECT_EQ(letter.size, 0U);
    EXPECT_EQ(letter.created, "2025-05-27T11:38:00-04:00");
}

TEST(ParseFixtures, MiscellaneousDelegateAndSender) {
    ReferralParser parser;
    const ParseResult result = parser.parse(relay::test::read_fixture(std::string(kMiscellaneous)));
    ASSERT_TRUE(result.referral) << result.error->message;
    EXPECT_TRUE(result.warnings.empty()) << warning_codes(result);
    const Referral& r = *result.referral;

    EXPECT_EQ(r.referral_ref, "09eb136e-fcdb-454f-8cd7-a415c19cda40");
    EXPECT_EQ(r.bundle_id, "ddeb0003-f1f5-4c72-b73a-e7757887ccf8");
    EXPECT_EQ(r.message_header_id, "638d6ac1-26ef-4f5b-a62f-633992b62070");
    EXPECT_TRUE(r.test_data);
    EXPECT_EQ(r.priority, "routine");
    ASSERT_EQ(r.categories.size(), 1U);
    EXPECT_EQ(r.categories[0].display, "MISCELLANEOUS");

    // MessageHeader.sender is the physician's role (licence, billing, username on the practitioner)...
    EXPECT_EQ(r.referrer.name.family, "Kavanagh");
    EXPECT_EQ(r.referrer.name.given, std::vector<std::string>{"Doug"});
    EXPECT_EQ(r.referrer.licence, "95643");
    EXPECT_EQ(r.referrer.billing_number, "030170");
    EXPECT_EQ(r.referrer.username, "dkavanagh");
    EXPECT_TRUE(r.referrer.other_identifiers.empty());  // the licence repeated on the role is not "other"
    ASSERT_EQ(r.referrer.telecom.size(), 2U);
    EXPECT_EQ(r.referrer.telecom[0], (relay::transform::Telecom{"phone", "416-782-4444", "work"}));
    EXPECT_EQ(r.referrer.telecom[1], (relay::transform::Telecom{"fax", "416-782-4445", "work"}));
    ASSERT_TRUE(r.referrer.address);
    EXPECT_EQ(r.referrer.address->lines, (std::vector<std::string>{"3080 Yonge St.", "Suite 5080"}));
    EXPECT_EQ(r.referrer.address->postal_code, "M4N 3N1");
    // ...while author and requester are another role: the delegate, of whom Ocean sends little.
    ASSERT_TRUE(r.submitter);
    EXPECT_EQ(r.submitter->name, relay::transform::HumanName{});
    EXPECT_EQ(r.submitter->licence, "");
    ASSERT_TRUE(r.submitter->address);
    EXPECT_EQ(r.submitter->address->type, "physical");

    EXPECT_EQ(r.target.listing_ref, "ocean_autorouter_loc80783874");
    EXPECT_EQ(r.target.site_number, "1234");
    EXPECT_EQ(r.target.name, "ocean-autorouter-localhost");
    ASSERT_TRUE(r.target.address);
    EXPECT_EQ(r.target.address->postal_code, "M4N 3N1");

    EXPECT_EQ(r.patient.name.family, "DKtest");
    EXPECT_EQ(r.patient.gender, "unknown");

    // A note without text (only its time) is kept as sent.
    ASSERT_EQ(r.notes.size(), 1U);
    EXPECT_EQ(r.notes[0].html, "");
    EXPECT_EQ(r.notes[0].text, "");
    EXPECT_EQ(r.notes[0].time, "2024-12-13T15:17:00-05:00");

    ASSERT_TRUE(r.form);
    EXPECT_EQ(r.form->items.size(), 25U);
    EXPECT_TRUE(std::none_of(r.form->items.begin(), r.form->items.end(), [](const auto& i) {
        return i.hidden || !i.answers.empty();
    }));
    EXPECT_EQ(r.form->items[2].link_id, "reason_for_referral");
    EXPECT_EQ(r.form->items[2].text, "Reason for Referral:");

    ASSERT_EQ(r.attachments.size(), 1U);
    EXPECT_EQ(r.attachments[0].title, "DKtest--2024-12-13.pdf");
}

TEST(ParseFixtures, EveryFixtureParsesWithoutWarnings) {
    ReferralParser parser;
    for (const auto& [name, body] : relay::test::ocean_fixtures()) {
        const ParseResult result = parser.parse(body);
        EXPECT_TRUE(result.referral) << name;
        EXPECT_TRUE(result.warnings.empty()) << name << ": " << warning_codes(result);
    }
}

TEST(ParseFixtures, NumbersOfAnySizeAreApproximatedNotRefused) {
    // Valid JSON that simdjson's DOM cannot hold as it is: the ingress stores such a bundle, so the router
    // must route it rather than call it malformed.
    ReferralParser parser;
    std::string body = relay::test::read_fixture(std::string(kBackPain));
    const auto last_brace = body.rfind('}');
    body.insert(last_brace, R"(,"extraNumbers":[18446744073709551616,-9223372036854775809,1e309,-1e309,0.5,12])");
    const ParseResult result = parser.parse(body);
    ASSERT_TRUE(result.referral) << result.error->code;
    EXPECT_TRUE(has_warning(result, "number-out-of-range", "Bundle")) << warning_codes(result);
    // What is not a number by the grammar stays malformed, however it looks.
    std::string malformed = relay::test::read_fixture(std::string(kBackPain));
    malformed.insert(malformed.rfind('}'), R"(,"x":1-2-3-4-5-6-7-8-9-0-1-2-3-4-5-6-7-8-9)");
    EXPECT_FALSE(parser.parse(malformed).referral);
    // Numbers inside strings are text, and untouched.
    EXPECT_EQ(result.referral->referral_ref, parser.parse(relay::test::read_fixture(std::string(kBackPain))).referral->referral_ref);
    // Numbers that fit are not a reason to warn.
    std::string plain = relay::test::read_fixture(std::string(kBackPain));
    plain.insert(plain.rfind('}'), R"(,"extraNumbers":[18446744073709551615,-9223372036854775808,1e308,1e-400,-0.5e-999])");
    EXPECT_TRUE(parser.parse(plain).warnings.empty()) << warning_codes(parser.parse(plain));
}

// --- agreement with the ingress's Extractor -----------------------------------------------------

namespace {

void expect_agrees(ReferralParser& parser,
                   relay::fhir::Extractor& extractor,
                   const std::string& body,
                   const std::string& label) {
    const auto facts_or_error = extractor.extract_unpadded(body);
    ASSERT_TRUE(std::holds_alternative<relay::fhir::InboundFacts>(facts_or_error)) << label;
    const auto& facts = std::get<relay::fhir::InboundFacts>(facts_or_error);
    const ParseResult result = parser.parse(body);
    ASSERT_TRUE(result.referral) << label << ": " << result.error->code << " " << result.error->expression;
    const Referral& r = *result.referral;
    EXPECT_EQ(r.referral_ref, facts.referral_ref) << label;
    EXPECT_EQ(r.target.site_number, facts.site_number) << label;
    EXPECT_EQ(r.target.listing_ref, facts.listing_ref) << label;
    EXPECT_EQ(r.target.external_service_id, facts.external_service_id) << label;
    EXPECT_EQ(r.event, facts.event_code) << label;
    EXPECT_EQ(r.bundle_id, facts.bundle_id) << label;
    EXPECT_EQ(r.message_header_id, facts.message_header_id) << label;
    EXPECT_EQ(r.dialect, facts.dialect) << label;
}

}  // namespace

TEST(ParseAgreesWithExtractor, RealFixtures) {
    ReferralParser parser;
    relay::fhir::Extractor extractor;
    for (const auto path : {kBackPain, kMiscellaneous}) {
        expect_agrees(parser, extractor, relay::test::read_fixture(std::string(path)), std::string(path));
    }
}

TEST(ParseAgreesWithExtractor, GeneratedBundlesOfBothDialects) {
    ReferralParser parser;
    relay::fhir::Extractor extractor;
    int v10 = 0, v11 = 0;
    for (std::uint64_t seed = 0; seed < 256; ++seed) {
        const ReferralSpec s = varied_spec(seed);
        const auto generated = generate(s);
        expect_agrees(parser, extractor, generated.body, "seed " + std::to_string(seed));
        // And both equal what the generator meant.
        const Referral r = parse_ok(parser, generated.body);
        EXPECT_EQ(r.referral_ref, generated.referral_ref);
        EXPECT_EQ(r.target.site_number, s.site_number);
        EXPECT_EQ(r.target.listing_ref, s.listing_ref);
        EXPECT_EQ(r.target.external_service_id, s.external_service_id);
        EXPECT_EQ(r.event, s.event);
        EXPECT_EQ(r.bundle_id, generated.bundle_id);
        EXPECT_EQ(r.message_header_id, generated.message_header_id);
        EXPECT_EQ(r.dialect,
                  s.dialect == Dialect::kV0_10 ? relay::fhir::Dialect::kV0_10 : relay::fhir::Dialect::kV0_11);
        (s.dialect == Dialect::kV0_10 ? v10 : v11)++;
    }
    EXPECT_EQ(v10, 128);
    EXPECT_EQ(v11, 128);
}

TEST(ParseAgreesWithExtractor, FallbackRulesOnReshapedBundles) {
    // The precedence rules past the first choice: referral ref from the ServiceRequest, target from
    // the performer, then from the only role with a listing ref; External Service ID from v0.10's
    // receiver/performer identifiers.
    ReferralParser parser;
    relay::fhir::Extractor extractor;
    std::vector<std::pair<std::string, std::string>> bodies;
    for (const auto path : {kBackPain, kMiscellaneous}) {
        auto bundle = parse_json(relay::test::read_fixture(std::string(path)));
        auto& header = resource_at(bundle, 0);
        header.erase("extension");
        bodies.emplace_back(std::string(path) + " without ext", json::serialize(bundle));
        header.at("destination").at(0).as_object().erase("receiver");
        bodies.emplace_back(std::string(path) + " without receiver", json::serialize(bundle));
        auto& sr = resource_at(bundle, index_of_type(bundle, "ServiceRequest"));
        sr.erase("performer");
        bodies.emplace_back(std::string(path) + " without performer", json::serialize(bundle));
        sr["id"] = "sr-id-only";
        sr.erase("identifier");
        bodies.emplace_back(std::string(path) + " ref from SR.id", json::serialize(bundle));
    }
    for (std::uint64_t seed = 0; seed < 8; ++seed) {
        for (const Dialect dialect : {Dialect::kV0_10, Dialect::kV0_11}) {
            ReferralSpec s = spec(seed, dialect);
            s.external_service_id = "Ext-" + std::to_string(seed);
            s.delegate_submitter = seed % 2 == 1;
            auto bundle = parse_json(generate(s).body);
            auto& header = resource_at(bundle, 0);
            // The receiver names a role that does not exist: the performer decides.
            header.at("destination").at(0).at("receiver").as_object()["reference"] = "PractitionerRole/none";
            bodies.emplace_back("generated receiver dangling " + std::to_string(seed),
                                json::serialize(bundle));
            // Without the role's External Service ID the v0.10 receiver/performer identifiers give it.
            for (auto& e : entries(bundle)) {
                auto& r = e.at("resource").as_object();
                if (r.at("resourceType") != "PractitionerRole") continue;
                if (auto* ids = r.if_contains("identifier")) {
                    auto& list = ids->as_array();
                    list.erase(std::remove_if(list.begin(),
                                              list.end(),
                                              [](const json::value& id) {
                                                  return std::string_view(id.at("system").as_string())
                                                      .ends_with("id-referral-target-external-service");
                                              }),
                               list.end());
                }
            }
            bodies.emplace_back("generated without role ext id " + std::to_string(seed),
                                json::serialize(bundle));
        }
    }
    for (const auto& [label, body] : bodies) expect_agrees(parser, extractor, body, label);

    // Spot checks that the reshaping really exercised the fallbacks.
    const Referral no_ext = parse_ok(parser, bodies[0].second);
    EXPECT_EQ(no_ext.referral_ref, "71db1a5c-89ce-41d5-bc71-8466f6c2f182");
    EXPECT_EQ(no_ext.dialect, relay::fhir::Dialect::kUnknown);
    const Referral only_role = parse_ok(parser, bodies[2].second);
    EXPECT_EQ(only_role.target.listing_ref, "autorouter_test49721437");
    const Referral sr_id = parse_ok(parser, bodies[3].second);
    EXPECT_EQ(sr_id.referral_ref, "sr-id-only");
}

// --- generated bundles: round trips against the bundle's own JSON -------------------------------

namespace {

void expect_clinician(const json::value& bundle,
                      const json::object& role,
                      const relay::transform::Clinician& c,
                      const std::string& label) {
    const json::object* practitioner = by_ref_member(bundle, role, "practitioner");
    ASSERT_NE(practitioner, nullptr) << label;
    const auto& name = practitioner->at("name").at(0).as_object();
    EXPECT_EQ(c.name.family, str(name.at("family"))) << label;
    EXPECT_EQ(c.name.given, std::vector<std::string>{str(name.at("given").at(0))}) << label;
    EXPECT_EQ(c.licence, identifier_value(*practitioner, "ca-on-license-physician")) << label;
    EXPECT_EQ(c.billing_number, identifier_value(*practitioner, "ca-on-ohip-billing-id")) << label;
    EXPECT_EQ(c.username, identifier_value(*practitioner, "id-practitioner-username")) << label;
    const auto* telecom = role.if_contains("telecom");
    if (telecom == nullptr) telecom = practitioner->if_contains("telecom");
    const std::size_t telecoms = telecom != nullptr ? telecom->as_array().size() : 0;
    ASSERT_EQ(c.telecom.size(), telecoms) << label;
    for (std::size_t i = 0; i < telecoms; ++i) {
        EXPECT_EQ(c.telecom[i].value, str(telecom->at(i).at("value"))) << label;
        EXPECT_EQ(c.telecom[i].system, str(telecom->at(i).at("system"))) << label;
    }
    const json::object* location = by_ref(bundle, role.at("location").at(0).at("reference").as_string());
    ASSERT_NE(location, nullptr);
    ASSERT_TRUE(c.address) << label;
    const auto& address = location->at("address").as_object();
    EXPECT_EQ(c.address->type, str(address.at("type"))) << label;
    EXPECT_EQ(c.address->city, str_or_empty(address, "city")) << label;
    EXPECT_EQ(c.address->postal_code, str_or_empty(address, "postalCode")) << label;
}

}  // namespace

TEST(ParseGenerated, RoundTripsAgainstTheBundleJson) {
    ReferralParser parser;
    for (std::uint64_t seed = 0; seed < 64; ++seed) {
        const ReferralSpec s = varied_spec(seed);
        const auto generated = generate(s);
        const std::string label = "seed " + std::to_string(seed);
        const ParseResult result = parser.parse(generated.body);
        ASSERT_TRUE(result.referral) << label << ": " << result.error->code;
        EXPECT_TRUE(result.warnings.empty()) << label << ": " << warning_codes(result);
        const Referral& r = *result.referral;
        const auto bundle = parse_json(generated.body);
        const bool v10 = s.dialect == Dialect::kV0_10;

        EXPECT_EQ(r.timestamp, generated.timestamp) << label;
        EXPECT_EQ(r.test_data, s.test_data_security_tag) << label;
        EXPECT_EQ(r.source_endpoint, s.ocean_host + "/svc/fhir/v1/$process-messages") << label;
        EXPECT_EQ(r.reason, !v10 && s.event == "add-service-request" ? "Initial" : "") << label;

        // The referral.
        const auto& sr = *of_type(bundle, "ServiceRequest").at(0);
        EXPECT_EQ(r.status, str(sr.at("status")));
        EXPECT_EQ(r.intent, str(sr.at("intent")));
        EXPECT_EQ(r.priority, str(sr.at("priority")));
        EXPECT_EQ(r.authored_on, str(sr.at("authoredOn")));
        std::vector<relay::transform::Coding> categories;
        for (const auto& c : sr.at("category").as_array()) {
            for (const auto& coding : c.at("coding").as_array()) {
                categories.push_back(
                    {str(coding.at("system")), str(coding.at("code")), str(coding.at("display"))});
            }
        }
        EXPECT_EQ(r.categories, categories) << label;
        EXPECT_EQ(r.categories.size(), v10 ? 2U : 1U) << label;
        if (v10) {
            ASSERT_EQ(r.order_details.size(), 1U) << label;
            EXPECT_EQ(r.order_details[0], str(sr.at("orderDetail").at(0).at("coding").at(0).at("display")));
        } else {
            EXPECT_TRUE(r.order_details.empty()) << label;
        }

        // The patient.
        const auto& patient = *of_type(bundle, "Patient").at(0);
        const auto& hcn = patient.at("identifier").at(0).as_object();
        EXPECT_EQ(r.patient.health_number, str(hcn.at("value"))) << label;
        EXPECT_EQ(r.patient.health_number.size(), 10U) << label;
        EXPECT_EQ(r.patient.health_number_version, str(hcn.at("extension").at(0).at("valueString"))) << label;
        EXPECT_EQ(r.patient.health_number_version.size(), 2U) << label;
        EXPECT_EQ(r.patient.mrn, "") << label;
        EXPECT_TRUE(r.patient.other_identifiers.empty()) << label;
        const auto& name = patient.at("name").at(0).as_object();
        EXPECT_EQ(r.patient.name.family, str(name.at("family"))) << label;
        EXPECT_EQ(r.patient.name.given, std::vector<std::string>{str(name.at("given").at(0))}) << label;
        EXPECT_EQ(r.patient.name.text, str(name.at("text"))) << label;
        EXPECT_EQ(r.patient.gender, str(patient.at("gender"))) << label;
        EXPECT_EQ(r.patient.birth_date, str(patient.at("birthDate"))) << label;
        ASSERT_EQ(r.patient.telecom.size(), 3U) << label;
        EXPECT_EQ(r.patient.telecom[1].use, "mobile");
        EXPECT_EQ(r.patient.telecom[1].value, str(patient.at("telecom").at(1).at("value")));
        EXPECT_EQ(r.patient.telecom[2].system, "email");
        ASSERT_EQ(r.patient.addresses.size(), 2U) << label;
        const auto& home = patient.at("address").at(0).as_object();
        EXPECT_EQ(r.patient.addresses[0].lines, std::vector<std::string>{str(home.at("line").at(0))});
        EXPECT_EQ(r.patient.addresses[0].city, str(home.at("city")));
        EXPECT_EQ(r.patient.addresses[0].province, "ON");
        EXPECT_EQ(r.patient.addresses[0].postal_code, str(home.at("postalCode")));

        // The people: the physician is the referrer in both dialects; the delegate, when there is
        // one, is the submitter.
        const auto& header = *of_type(bundle, "MessageHeader").at(0);
        const json::object* physician_role = nullptr;
        for (const auto* role : of_type(bundle, "PractitionerRole")) {
            if (!identifier_value(*role, "ca-on-license-physician").empty()) physician_role = role;
        }
        ASSERT_NE(physician_role, nullptr);
        if (!v10) {
            EXPECT_EQ(by_ref_member(bundle, header, "sender"), physician_role) << label;
        }
        expect_clinician(bundle, *physician_role, r.referrer, label + " referrer");
        EXPECT_EQ(r.referrer.licence.empty(), false) << label;
        const json::object* requester = by_ref_member(bundle, sr, "requester");
        if (s.delegate_submitter) {
            ASSERT_NE(requester, physician_role) << label;
            ASSERT_TRUE(r.submitter) << label;
            expect_clinician(bundle, *requester, *r.submitter, label + " submitter");
            EXPECT_NE(r.submitter->name, r.referrer.name) << label;
        } else {
            EXPECT_EQ(requester, physician_role) << label;
            EXPECT_FALSE(r.submitter) << label;
        }

        // The listing.
        EXPECT_EQ(r.target.name, str(header.at("destination").at(0).at("name"))) << label;
        const json::object* target_role =
            by_ref(bundle, header.at("destination").at(0).at("receiver").at("reference").as_string());
        ASSERT_NE(target_role, nullptr);
        const json::object* listing_location =
            by_ref(bundle, target_role->at("location").at(0).at("reference").as_string());
        ASSERT_NE(listing_location, nullptr);
        ASSERT_TRUE(r.target.address) << label;
        EXPECT_EQ(r.target.address->lines,
                  std::vector<std::string>{str(listing_location->at("address").at("line").at(0))});
        EXPECT_EQ(r.target.address->city, str(listing_location->at("address").at("city")));
        EXPECT_EQ(r.target.specialty.size(), target_role->at("specialty").as_array().size());

        // The note's text is the form's plain answers (the note is their HTML rendering).
        ASSERT_TRUE(r.form) << label;
        auto answer_of = [&](std::string_view link_id) -> std::string {
            for (const auto& item : r.form->items) {
                if (item.link_id == link_id) return item.answers.empty() ? "" : item.answers[0];
            }
            return "<missing>";
        };
        const std::string reason = answer_of("rfr");
        const std::string history = answer_of("hx");
        ASSERT_FALSE(reason.empty()) << label;
        ASSERT_EQ(r.notes.size(), 1U) << label;
        EXPECT_EQ(r.notes[0].text,
                  "Reason for Referral: " + reason + (history.empty() ? "" : "\nHistory: " + history))
            << label;
        EXPECT_EQ(r.notes[0].html, str(sr.at("note").at(0).at("text"))) << label;

        // The form, item by item.
        const auto& items = of_type(bundle, "QuestionnaireResponse").at(0)->at("item").as_array();
        ASSERT_EQ(r.form->items.size(), items.size()) << label;
        EXPECT_EQ(r.form->form_ref, "quickReferral");
        std::size_t hidden = 0;
        for (std::size_t i = 0; i < items.size(); ++i) {
            const auto& item = items[i].as_object();
            const auto& parsed = r.form->items[i];
            EXPECT_EQ(parsed.link_id, str(item.at("linkId")));
            EXPECT_EQ(parsed.text, str_or_empty(item, "text"));
            EXPECT_EQ(parsed.hidden, item.contains("extension"));
            EXPECT_EQ(parsed.answers.size(), item.contains("answer") ? 1U : 0U);
            if (parsed.hidden) ++hidden;
        }
        EXPECT_EQ(hidden, v10 ? 0U : 9U) << label;  // v0.10 items carry no visibility extension

        // Documents, in bundle order: the letter, then the inline attachment.
        const auto documents = of_type(bundle, "DocumentReference");
        ASSERT_EQ(r.attachments.size(), documents.size()) << label;
        ASSERT_EQ(r.attachments.size(), s.attachment_bytes > 0 ? 2U : 1U) << label;
        EXPECT_EQ(r.attachments[0].id, own_id(bundle, documents[0])) << label;
        EXPECT_TRUE(r.attachments[0].url.ends_with("/ServiceRequest/" + generated.referral_ref + "/$letter"))
            << label;
        if (s.attachment_bytes > 0) {
            const auto& inline_doc = r.attachments[1];
            EXPECT_EQ(inline_doc.id, own_id(bundle, documents[1])) << label;
            EXPECT_EQ(inline_doc.size, s.attachment_bytes) << label;
            EXPECT_EQ(inline_doc.url, "");
            EXPECT_EQ(inline_doc.data_base64,
                      str(documents[1]->at("content").at(0).at("attachment").at("data")));
            const auto decoded = relay::base64_decode(inline_doc.data_base64);
            ASSERT_TRUE(decoded);
            EXPECT_EQ(decoded->size(), s.attachment_bytes);
            EXPECT_TRUE(decoded->starts_with("%PDF-"));
        }

        // The receiver's side, on echoes.
        if (s.receiver_progress) {
            const auto& progress = *s.receiver_progress;
            ASSERT_EQ(r.tasks.size(), 1U) << label;
            EXPECT_EQ(r.tasks[0].id, own_id(bundle, of_type(bundle, "Task").at(0)));
            EXPECT_EQ(r.tasks[0].status, progress.task_status);
            EXPECT_EQ(r.tasks[0].status_reason,
                      progress.task_status == "rejected" ? progress.decline_reason : "");
            EXPECT_EQ(r.tasks[0].code, "process-request");
            ASSERT_EQ(r.appointments.size(), progress.appointments.size()) << label;
            const auto appointments = of_type(bundle, "Appointment");
            for (std::size_t i = 0; i < progress.appointments.size(); ++i) {
                const auto& want = progress.appointments[i];
                const auto& got = r.appointments[i];
                EXPECT_EQ(got.id, want.id.empty() ? own_id(bundle, appointments[i]) : want.id);
                EXPECT_EQ(got.status, want.status);
                EXPECT_EQ(got.start, want.start);
                EXPECT_EQ(got.end, want.end);
                EXPECT_EQ(got.instructions, want.instructions);
                EXPECT_EQ(got.patient_status,
                          want.participant_status.empty() ? "needs-action" : want.participant_status);
            }
        } else {
            EXPECT_TRUE(r.tasks.empty()) << label;
            EXPECT_TRUE(r.appointments.empty()) << label;
        }
        EXPECT_TRUE(r.communications.empty());
    }
}

TEST(ParseGenerated, ResendKeepsTheReferralAndChangesTheMessage) {
    ReferralParser parser;
    const ReferralSpec first = spec(7, Dialect::kV0_11);
    const Referral a = parse_ok(parser, generate(first).body);
    const Referral b = parse_ok(parser, generate(relay::ocean_sim::resend_as_update(first)).body);
    EXPECT_EQ(a.referral_ref, b.referral_ref);
    EXPECT_EQ(a.patient, b.patient);
    EXPECT_EQ(a.referrer, b.referrer);
    EXPECT_EQ(a.target, b.target);
    EXPECT_NE(a.message_header_id, b.message_header_id);
    EXPECT_EQ(b.event, "notify-update-service-request");
}

TEST(ParseGenerated, CommunicationsOfAnEcho) {
    ReferralParser parser;
    for (const Dialect dialect : {Dialect::kV0_10, Dialect::kV0_11}) {
        auto bundle = parse_json(generate(spec(3, dialect)).body);
        json::object communication{
            {"resourceType", "Communication"},
            {"id", "comm-1"},
            {"status", "completed"},
            {"sent", "2025-03-01T10:00:00-05:00"},
            {"payload",
             json::array{
                 json::object{{"contentString", "Please send the imaging"}},
                 json::object{{"contentAttachment",
                               json::object{{"contentType", "application/pdf"}, {"data", "JVBERi0="}}}},
                 json::object{{"contentString", "Thanks"}}}}};
        entries(bundle).push_back(json::object{{"resource", std::move(communication)}});
        const Referral r = parse_ok(parser, json::serialize(bundle));
        ASSERT_EQ(r.communications.size(), 1U);
        EXPECT_EQ(r.communications[0].id, "comm-1");
        EXPECT_EQ(r.communications[0].status, "completed");
        EXPECT_EQ(r.communications[0].sent, "2025-03-01T10:00:00-05:00");
        EXPECT_EQ(r.communications[0].contents,
                  (std::vector<std::string>{"Please send the imaging", "Thanks"}));
        EXPECT_EQ(r.communications[0].attachment_count, 1U);
    }
}

TEST(ParseGenerated, OneParserReusedGivesTheSameAsFreshOnes) {
    ReferralParser reused;
    std::vector<std::string> bodies;
    for (std::uint64_t seed = 0; seed < 12; ++seed) bodies.push_back(generate(varied_spec(seed)).body);
    bodies.push_back(relay::test::read_fixture(std::string(kMiscellaneous)));
    std::vector<Referral> first;
    for (const auto& body : bodies) first.push_back(parse_ok(reused, body));
    // A failing parse in between must not leave anything behind.
    EXPECT_TRUE(reused.parse("{\"resourceType\":\"Bundle\"").error);
    for (std::size_t i = bodies.size(); i-- > 0;) {
        ReferralParser fresh;
        EXPECT_EQ(parse_ok(reused, bodies[i]), first[i]) << i;
        EXPECT_EQ(parse_ok(fresh, bodies[i]), first[i]) << i;
    }
}

// --- identity rules ---------------------------------------------------------------------------------

TEST(ParseReferences, AbsoluteAndTypeIdReferencesResolve) {
    // A v0.11 bundle rewritten to absolute fullUrls referenced by Type/id resolves the same people.
    ReferralParser parser;
    const std::string original = generate(spec(5, Dialect::kV0_11)).body;
    const Referral want = parse_ok(parser, original);
    auto bundle = parse_json(original);
    std::vector<std::pair<std::string, std::string>> renames;  // urn:uuid:x -> Type/x
    for (auto& e : entries(bundle)) {
        auto& full_url = e.as_object()["fullUrl"];
        std::string url = str(full_url);
        auto& r = e.at("resource").as_object();
        if (!url.starts_with("urn:uuid:")) continue;
        const std::string id = url.substr(9);
        const std::string type = str(r.at("resourceType"));
        renames.emplace_back(url, type + "/" + id);
        full_url = "https://test.cognisantmd.com/svc/fhir/v1/" + type + "/" + id;
    }
    std::string body = json::serialize(bundle);
    for (const auto& [from, to] : renames) {
        for (auto at = body.find("\"" + from + "\""); at != std::string::npos;
             at = body.find("\"" + from + "\"")) {
            body.replace(at + 1, from.size(), to);
        }
    }
    const ParseResult result = parser.parse(body);
    ASSERT_TRUE(result.referral);
    EXPECT_TRUE(result.warnings.empty()) << warning_codes(result);
    const Referral& got = *result.referral;
    EXPECT_EQ(got.patient, want.patient);
    EXPECT_EQ(got.referrer, want.referrer);
    EXPECT_EQ(got.target, want.target);
    EXPECT_EQ(got.form, want.form);
}

TEST(ParseReferences, IdentifierSystemsMatchBySuffixUnderAnyHost) {
    ReferralParser parser;
    auto s = spec(9, Dialect::kV0_11);
    s.ocean_host = "http://ocean.internal.example:8443/some/prefix";
    s.external_service_id = "Svc-A";
    const Referral r = parse_ok(parser, generate(s).body);
    EXPECT_EQ(r.target.site_number, "4321");
    EXPECT_EQ(r.target.listing_ref, "harbourfront_clinic-73632721");
    EXPECT_EQ(r.target.external_service_id, "Svc-A");
    EXPECT_FALSE(r.patient.health_number.empty());
    EXPECT_FALSE(r.referrer.username.empty());

    // A system that merely ends with the same letters is another system.
    auto bundle = parse_json(generate(spec(9, Dialect::kV0_11)).body);
    auto& patient = resource_at(bundle, index_of_type(bundle, "Patient"));
    patient.at("identifier").at(0).as_object()["system"] =
        "https://example.org/NamingSystem/not-ca-on-patient-hcn";
    const Referral other = parse_ok(parser, json::serialize(bundle));
    EXPECT_EQ(other.patient.health_number, "");
    ASSERT_EQ(other.patient.other_identifiers.size(), 1U);
    EXPECT_EQ(other.patient.other_identifiers[0].type_code, "JHN");
}

TEST(ParseReferences, MrnAndVersionCodeOnThePrimitive) {
    ReferralParser parser;
    auto bundle = parse_json(generate(spec(4, Dialect::kV0_10)).body);
    auto& patient = resource_at(bundle, index_of_type(bundle, "Patient"));
    auto& ids = patient.at("identifier").as_array();
    ids.at(1).as_object()["value"] = "MRN-778";
    auto& hcn = ids.at(0).as_object();
    json::value version = hcn["extension"];
    hcn.erase("extension");
    hcn["_value"] = json::object{{"extension", version}};
    patient["communication"] = json::array{json::object{
        {"language",
         json::object{
             {"coding", json::array{json::object{{"system", "urn:ietf:bcp:47"}, {"code", "fr"}}}}}}}};
    const Referral r = parse_ok(parser, json::serialize(bundle));
    EXPECT_EQ(r.patient.mrn, "MRN-778");
    EXPECT_EQ(r.patient.health_number_version, str(version.at(0).at("valueString")));
    EXPECT_EQ(r.patient.language, "fr");
}

// --- errors -------------------------------------------------------------------------------------

namespace {

struct ErrorCase {
    std::string label, body, code, expression;
};

std::string minimal_header_entry(std::string_view extra = "") {
    return std::string(
               R"({"resource":{"resourceType":"MessageHeader","eventCoding":{"code":"add-service-request"})") +
           std::string(extra) + "}}";
}

}  // namespace

TEST(ParseErrors, PreciseCodeAndLocation) {
    const std::string backpain = relay::test::read_fixture(std::string(kBackPain));
    auto no_sr = parse_json(backpain);
    entries(no_sr).erase(entries(no_sr).begin() +
                         static_cast<std::ptrdiff_t>(index_of_type(no_sr, "ServiceRequest")));
    auto no_ref = parse_json(backpain);
    resource_at(no_ref, 0).erase("extension");
    resource_at(no_ref, index_of_type(no_ref, "ServiceRequest")).erase("identifier");
    auto no_event = parse_json(backpain);
    resource_at(no_event, 0).at("eventCoding").as_object().erase("code");
    auto bad_extension = parse_json(backpain);
    resource_at(bad_extension, 0)["extension"] = json::object{{"url", "x"}};
    auto bad_entry = parse_json(backpain);
    entries(bad_entry).at(3) = "PHI-MARKER";
    auto bad_full_url = parse_json(backpain);
    entries(bad_full_url).at(2).as_object()["fullUrl"] = 42;
    auto bad_receiver = parse_json(backpain);
    resource_at(bad_receiver, 0).at("destination").at(0).as_object()["receiver"] = "PHI-MARKER";
    auto bad_identifier = parse_json(backpain);
    resource_at(bad_identifier, 1).at("identifier").as_array().at(0).as_object()["value"] = 12345;

    const std::vector<ErrorCase> cases = {
        {"empty", "", "invalid-json", "Bundle"},
        {"truncated", backpain.substr(0, backpain.size() / 2), "invalid-json", "Bundle"},
        {"garbage", "PHI-MARKER", "invalid-json", "Bundle"},
        {"array", "[1,2]", "not-a-bundle", "Bundle"},
        {"string", "\"PHI-MARKER\"", "not-a-bundle", "Bundle"},
        {"patient", R"({"resourceType":"PHI-MARKER"})", "not-a-bundle", "Bundle.resourceType"},
        {"no resourceType", R"({"type":"message"})", "not-a-bundle", "Bundle.resourceType"},
        {"resourceType number", R"({"resourceType":7})", "unexpected-type", "Bundle.resourceType"},
        {"collection", R"({"resourceType":"Bundle","type":"PHI-MARKER"})", "not-a-message", "Bundle.type"},
        {"type number", R"({"resourceType":"Bundle","type":1})", "unexpected-type", "Bundle.type"},
        {"no entry", R"({"resourceType":"Bundle","type":"message"})", "no-message-header", "Bundle.entry"},
        {"empty entry",
         R"({"resourceType":"Bundle","type":"message","entry":[]})",
         "no-message-header",
         "Bundle.entry"},
        {"entry object",
         R"({"resourceType":"Bundle","type":"message","entry":{}})",
         "unexpected-type",
         "Bundle.entry"},
        {"first not header",
         R"({"resourceType":"Bundle","type":"message","entry":[{"resource":{"resourceType":"Patient"}}]})",
         "no-message-header",
         "Bundle.entry[0].resource.resourceType"},
        {"header without resource",
         R"({"resourceType":"Bundle","type":"message","entry":[{"fullUrl":"x"}]})",
         "no-message-header",
         "Bundle.entry[0].resource.resourceType"},
        {"resource not object",
         R"({"resourceType":"Bundle","type":"message","entry":[{"resource":["PHI-MARKER"]}]})",
         "unexpected-type",
         "Bundle.entry[0].resource"},
        {"header only",
         R"({"resourceType":"Bundle","type":"message","entry":[)" + minimal_header_entry() + "]}",
         "no-service-request",
         "Bundle.entry"},
        {"event missing",
         json::serialize(no_event),
         "no-event-code",
         "Bundle.entry[0].resource.eventCoding.code"},
        {"event not object",
         R"({"resourceType":"Bundle","type":"message","entry":[{"resource":{"resourceType":"MessageHeader","eventCoding":"PHI-MARKER"}}]})",
         "unexpected-type",
         "Bundle.entry[0].resource.eventCoding"},
        {"no service request", json::serialize(no_sr), "no-service-request", "Bundle.entry"},
        {"no referral ref",
         json::serialize(no_ref),
         "no-referral-ref",
         "Bundle.entry[8].resource.identifier"},
        {"extension object",
         json::serialize(bad_extension),
         "unexpected-type",
         "Bundle.entry[0].resource.extension"},
        {"entry string", json::serialize(bad_entry), "unexpected-type", "Bundle.entry[3]"},
        {"fullUrl number", json::serialize(bad_full_url), "unexpected-type", "Bundle.entry[2].fullUrl"},
        {"receiver string",
         json::serialize(bad_receiver),
         "unexpected-type",
         "Bundle.entry[0].resource.destination[0].receiver"},
        {"identifier value number",
         json::serialize(bad_identifier),
         "unexpected-type",
         "Bundle.entry[1].resource.identifier[0].value"},
    };
    ReferralParser parser;
    for (const auto& c : cases) {
        const ParseResult result = parser.parse(c.body);
        ASSERT_TRUE(result.error) << c.label;
        EXPECT_FALSE(result.referral) << c.label;
        EXPECT_EQ(result.error->code, c.code) << c.label << ": " << result.error->message;
        EXPECT_EQ(result.error->expression, c.expression) << c.label;
        EXPECT_FALSE(result.error->message.empty()) << c.label;
        EXPECT_EQ(result.error->message.find("PHI-MARKER"), std::string::npos) << c.label;
        EXPECT_EQ(result.error->message.find("71db1a5c"), std::string::npos) << c.label;
    }
}

TEST(ParseErrors, ToleratedOdditiesAreWarnings) {
    const std::string backpain = relay::test::read_fixture(std::string(kBackPain));
    const std::size_t sr = index_of_type(parse_json(backpain), "ServiceRequest");
    ReferralParser parser;

    {  // A wrong type in a field that is not about routing: the field is dropped, with a warning.
        auto bundle = parse_json(backpain);
        resource_at(bundle, 1)["name"] = 5;
        resource_at(bundle, 1)["gender"] = json::array{"PHI-MARKER"};
        const ParseResult result = parser.parse(json::serialize(bundle));
        ASSERT_TRUE(result.referral);
        EXPECT_TRUE(has_warning(result, "unexpected-type", "Bundle.entry[1].resource.name"))
            << warning_codes(result);
        EXPECT_TRUE(has_warning(result, "unexpected-type", "Bundle.entry[1].resource.gender"))
            << warning_codes(result);
        EXPECT_EQ(result.referral->patient.name, relay::transform::HumanName{});
        EXPECT_EQ(result.referral->patient.gender, "");
        EXPECT_EQ(result.referral->referral_ref, "71db1a5c-89ce-41d5-bc71-8466f6c2f182");
    }
    {  // A dangling subject: the Bundle's only Patient stands in, with two warnings.
        auto bundle = parse_json(backpain);
        resource_at(bundle, sr).at("subject").as_object()["reference"] = "urn:uuid:PHI-MARKER";
        const ParseResult result = parser.parse(json::serialize(bundle));
        ASSERT_TRUE(result.referral);
        const std::string at = "Bundle.entry[" + std::to_string(sr) + "].resource.subject";
        EXPECT_TRUE(has_warning(result, "dangling-reference", at)) << warning_codes(result);
        EXPECT_TRUE(has_warning(result, "patient-not-subject", at)) << warning_codes(result);
        EXPECT_EQ(result.referral->patient.name.family, "DKTest");
    }
    {  // A subject of the wrong JSON type.
        auto bundle = parse_json(backpain);
        resource_at(bundle, sr)["subject"] = "PHI-MARKER";
        const ParseResult result = parser.parse(json::serialize(bundle));
        ASSERT_TRUE(result.referral);
        EXPECT_TRUE(has_warning(
            result, "unexpected-type", "Bundle.entry[" + std::to_string(sr) + "].resource.subject"))
            << warning_codes(result);
    }
    {  // A second Patient and a resource type the model does not map.
        auto bundle = parse_json(backpain);
        json::value second = entries(bundle).at(1);
        second.at("fullUrl") = "urn:uuid:00000000-0000-4000-8000-000000000001";
        second.at("resource").at("name").at(0).as_object()["family"] = "PHI-MARKER";
        entries(bundle).push_back(second);
        entries(bundle).push_back(json::object{
            {"fullUrl", "urn:uuid:00000000-0000-4000-8000-000000000002"},
            {"resource", json::object{{"resourceType", "Organization"}, {"name", "PHI-MARKER"}}}});
        const ParseResult result = parser.parse(json::serialize(bundle));
        ASSERT_TRUE(result.referral);
        EXPECT_TRUE(has_warning(result, "extra-patient", "Bundle.entry[10].resource"))
            << warning_codes(result);
        EXPECT_TRUE(has_warning(result, "unknown-resource-type", "Bundle.entry[11].resource.resourceType"))
            << warning_codes(result);
        EXPECT_EQ(result.referral->patient.name.family, "DKTest");  // the subject, not the second one
    }
    {  // A dangling practitioner and location on the referrer's role; a dangling supportingInfo.
        auto bundle = parse_json(backpain);
        resource_at(bundle, 3).at("practitioner").as_object()["reference"] = "Practitioner/PHI-MARKER";
        resource_at(bundle, 3).at("location").at(0).as_object()["reference"] = "urn:uuid:gone";
        resource_at(bundle, sr)
            .at("supportingInfo")
            .as_array()
            .push_back(json::object{{"reference", "urn:uuid:gone"}});
        const ParseResult result = parser.parse(json::serialize(bundle));
        ASSERT_TRUE(result.referral);
        EXPECT_TRUE(has_warning(result, "dangling-reference", "Bundle.entry[3].resource.practitioner"))
            << warning_codes(result);
        EXPECT_TRUE(has_warning(result, "dangling-reference", "Bundle.entry[3].resource.location[0]"))
            << warning_codes(result);
        EXPECT_TRUE(has_warning(result,
                                "dangling-reference",
                                "Bundle.entry[" + std::to_string(sr) + "].resource.supportingInfo[2]"))
            << warning_codes(result);
        EXPECT_EQ(result.referral->referrer.name, relay::transform::HumanName{});
        EXPECT_FALSE(result.referral->referrer.address);
    }
    {  // An entry without a resource is skipped.
        auto bundle = parse_json(backpain);
        entries(bundle).push_back(json::object{{"fullUrl", "urn:uuid:x"}});
        const ParseResult result = parser.parse(json::serialize(bundle));
        ASSERT_TRUE(result.referral);
        EXPECT_TRUE(has_warning(result, "entry-without-resource", "Bundle.entry[10]"))
            << warning_codes(result);
    }
}

TEST(ParseErrors, WarningsNeverRepeatPayloadValues) {
    // Put the marker in every string of the fixture that the parser reads and make it wrong or
    // dangling in many ways: no warning or error text may contain it.
    const std::string backpain = relay::test::read_fixture(std::string(kBackPain));
    ReferralParser parser;
    const auto original = parse_json(backpain);
    const std::size_t count = original.at("entry").as_array().size();
    for (std::size_t i = 0; i < count; ++i) {
        for (const auto& key : resource_at(const_cast<json::value&>(original), i)) {
            for (const json::value& replacement : {json::value("PHI-MARKER"),
                                                   json::value(json::array{"PHI-MARKER", 1}),
                                                   json::value(json::object{{"reference", "PHI-MARKER"}}),
                                                   json::value(17),
                                                   json::value(nullptr)}) {
                auto bundle = original;
                resource_at(bundle, i)[key.key()] = replacement;
                const ParseResult result = parser.parse(json::serialize(bundle));
                EXPECT_NE(result.referral.has_value(), result.error.has_value());
                if (result.error) {
                    EXPECT_EQ(result.error->message.find("PHI-MARKER"), std::string::npos);
                }
                for (const auto& w : result.warnings) {
                    EXPECT_EQ(w.message.find("PHI-MARKER"), std::string::npos)
                        << w.code << " " << w.expression;
                    EXPECT_EQ(w.expression.find("PHI-MARKER"), std::string::npos);
                }
            }
        }
    }
}

TEST(ParseErrors, NeverCrashesOnMangledInput) {
    ReferralParser parser;
    const std::string body = generate(varied_spec(27)).body;
    // Every prefix length class, and single-byte corruptions across the body.
    for (std::size_t len = 0; len < body.size(); len += 1 + len / 16) {
        const ParseResult result = parser.parse(std::string_view(body).substr(0, len));
        ASSERT_TRUE(result.error) << len;
        EXPECT_EQ(result.error->code, "invalid-json");
    }
    std::size_t parsed = 0;
    for (std::size_t at = 0; at < body.size(); at += 7) {
        for (const char c : {'"', '{', ']', '0', ',', '\0'}) {
            std::string mangled = body;
            mangled[at] = c;
            const ParseResult result = parser.parse(mangled);
            EXPECT_NE(result.referral.has_value(), result.error.has_value());
            if (result.referral) ++parsed;
        }
    }
    EXPECT_GT(parsed, 0U);  // some corruptions (inside strings) still leave a readable referral
    // Deep nesting is refused, not a stack overflow.
    const std::string deep = std::string(100000, '[') + std::string(100000, ']');
    EXPECT_TRUE(parser.parse(deep).error);
}

TEST(ParseReferences, UrnUuidReferenceFindsABareUuidFullUrl) {
    // Ocean writes the MessageHeader's fullUrl as a bare uuid; a urn:uuid: reference must still find
    // an entry written that way (and the other way round).
    ReferralParser parser;
    relay::fhir::Extractor extractor;
    auto bundle = parse_json(relay::test::read_fixture(std::string(kBackPain)));
    auto& target_entry = entries(bundle).at(2).as_object();
    target_entry["fullUrl"] = "163dd763-3947-442a-82d5-3d0c598142bd";  // was urn:uuid:163dd763-…
    auto& patient_entry = entries(bundle).at(1).as_object();
    patient_entry["fullUrl"] = "a5f0e549-754c-4a09-a96f-555e981aa3d1";
    const std::size_t sr = index_of_type(bundle, "ServiceRequest");
    resource_at(bundle, sr).at("performer").at(0).as_object()["reference"] = "urn:uuid:00000000-dead";
    const std::string body = json::serialize(bundle);
    const ParseResult result = parser.parse(body);
    ASSERT_TRUE(result.referral);
    EXPECT_EQ(result.referral->target.name, "Autorouter Test");
    ASSERT_TRUE(result.referral->target.address);  // found through the receiver, not a fallback
    EXPECT_EQ(result.referral->target.address->postal_code, "M4P 0C6");
    EXPECT_EQ(result.referral->patient.name.family, "DKTest");
    EXPECT_FALSE(has_warning(result, "patient-not-subject", "Bundle.entry[8].resource.subject"));
    expect_agrees(parser, extractor, body, "bare target fullUrl");
}

TEST(ParseReferences, PerformerDecidesBetweenTwoListingsWhenTheReceiverDangles) {
    // A forwarded referral carries a second listing role; with the receiver unusable, the referral's
    // performer picks the target (without it the choice would be ambiguous and left empty).
    ReferralParser parser;
    relay::fhir::Extractor extractor;
    for (const Dialect dialect : {Dialect::kV0_10, Dialect::kV0_11}) {
        auto bundle = parse_json(generate(spec(21, dialect)).body);
        const std::size_t role_index = [&] {
            for (std::size_t i = 0; i < entries(bundle).size(); ++i) {
                const auto& r = resource_at(bundle, i);
                if (r.at("resourceType") == "PractitionerRole" &&
                    !identifier_value(r, "id-site-number").empty())
                    return i;
            }
            return std::size_t{0};
        }();
        ASSERT_NE(role_index, 0U);
        json::value other = entries(bundle).at(role_index);
        auto& other_resource = other.at("resource").as_object();
        for (auto& id : other_resource.at("identifier").as_array()) {
            auto& o = id.as_object();
            if (std::string_view(o.at("system").as_string()).ends_with("id-referral-target-reference"))
                o["value"] = "other_listing-1";
            if (std::string_view(o.at("system").as_string()).ends_with("id-site-number")) o["value"] = "9999";
        }
        if (dialect == Dialect::kV0_10) {
            other_resource["id"] = "other_listing-1";
        } else {
            other.as_object()["fullUrl"] = "urn:uuid:00000000-0000-4000-8000-0000000000aa";
        }
        // The forward target first, so that "the first role" would be the wrong answer too.
        entries(bundle).insert(entries(bundle).begin() + 1, other);
        resource_at(bundle, 0).at("destination").at(0).at("receiver").as_object()["reference"] =
            "PractitionerRole/none";
        const std::string body = json::serialize(bundle);
        const ParseResult result = parser.parse(body);
        ASSERT_TRUE(result.referral);
        EXPECT_EQ(result.referral->target.listing_ref, "harbourfront_clinic-73632721");
        EXPECT_EQ(result.referral->target.site_number, "4321");
        EXPECT_TRUE(
            has_warning(result, "dangling-reference", "Bundle.entry[0].resource.destination[0].receiver"))
            << warning_codes(result);
        expect_agrees(parser, extractor, body, "two listings");
    }
}

TEST(ParseGenerated, AttachmentSizeFromDataWhenNotSent) {
    ReferralParser parser;
    for (const std::size_t bytes : {1U, 2U, 3U, 4U, 1000U, 4097U}) {
        auto s = spec(13, Dialect::kV0_11);
        s.attachment_bytes = bytes;
        auto bundle = parse_json(generate(s).body);
        auto documents = of_type(bundle, "DocumentReference");
        ASSERT_EQ(documents.size(), 2U);
        auto& attachment =
            const_cast<json::object*>(documents[1])->at("content").at(0).at("attachment").as_object();
        attachment.erase("size");
        Referral r = parse_ok(parser, json::serialize(bundle));
        ASSERT_EQ(r.attachments.size(), 2U);
        EXPECT_EQ(r.attachments[1].size, bytes);
        // R5 writes size as an integer64 string.
        attachment["size"] = std::to_string(bytes + 5);
        r = parse_ok(parser, json::serialize(bundle));
        EXPECT_EQ(r.attachments[1].size, bytes + 5);
    }
}
