// Tests of the renderers (fhir-r4, open-api, hub-json).
//
// Golden files: tests/golden/transform/<input-name>.<format>.json, one per renderer and input (the real
// Ocean fixtures, generated bundles of both dialects, hand-built referrals). They are stored
// pretty-printed (2-space indent, keys in output order) so a change reviews as a readable diff; the test
// pretty-prints the renderer's compact output the same way and compares the bytes, so key order, every
// value and every escape are checked (only insignificant whitespace is not).
//
//   Update them after an intended change:  RELAY_UPDATE_GOLDEN=1
//   build/<dir>/tests/unit/transform/transform_render_test then review `git diff tests/golden/transform`.
//
// External validation (ctest wiring in tests/unit/transform/CMakeLists.txt): RenderSamples writes every
// normalised bundle to $RELAY_TRANSFORM_FHIR_SAMPLES_DIR (validated by HAPI FHIR, label fhir) and every
// hub JSON to $RELAY_TRANSFORM_HUB_SAMPLES_DIR (validated against schemas/hub-referral.schema.json by
// tests/tools/validate-json-schema.py).
#include "relay/transform/render.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>

#include "render_samples.hpp"
#include "render_test_util.hpp"

namespace {

namespace json = boost::json;
namespace fs = std::filesystem;
using namespace relay::transform;
using render_test::full_referral;
using render_test::minimal_referral;
using render_test::random_referral;

json::value parse_strict(const std::string& text) {
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    EXPECT_FALSE(ec) << "not valid JSON (or not UTF-8): " << ec.message();
    return v;
}

const fs::path kGoldenDir = fs::path(RELAY_SOURCE_DIR) / "tests/golden/transform";

bool updating_goldens() {
    const char* v = std::getenv("RELAY_UPDATE_GOLDEN");
    return v != nullptr && std::string_view(v) == "1";
}

/// Compares `rendered` (compact) with the pretty golden file, or rewrites it under RELAY_UPDATE_GOLDEN=1.
void expect_golden(const std::string& name, Format format, const std::string& rendered) {
    const fs::path path = kGoldenDir / (name + "." + to_string(format) + ".json");
    const std::string actual = render_test::pretty(parse_strict(rendered));
    if (updating_goldens()) {
        render_test::write_file(path, actual);
        return;
    }
    if (!fs::exists(path)) {
        ADD_FAILURE() << path << " missing: run with RELAY_UPDATE_GOLDEN=1 to create it";
        return;
    }
    const std::string expected = render_test::read_file(path);
    if (expected == actual) return;
    // Point at the first differing line rather than dumping two large documents.
    std::size_t line = 1;
    std::size_t i = 0;
    while (i < expected.size() && i < actual.size() && expected[i] == actual[i]) {
        if (expected[i] == '\n') ++line;
        ++i;
    }
    const auto line_at = [](const std::string& s, std::size_t at) {
        const std::size_t begin = s.rfind('\n', at == 0 ? 0 : at - 1);
        const std::size_t from = begin == std::string::npos ? 0 : begin + 1;
        return s.substr(from, s.find('\n', from) - from);
    };
    ADD_FAILURE() << path.filename() << " differs at line " << line
                  << "\n  golden:   " << line_at(expected, i) << "\n  rendered: " << line_at(actual, i)
                  << "\n(RELAY_UPDATE_GOLDEN=1 rewrites the goldens after an intended change)";
}

// ---------------------------------------------------------------------------------------------------
// formats

TEST(RenderFormat, NamesRoundTripAndContentTypes) {
    for (const Format f : {Format::kOceanFhir, Format::kFhirR4, Format::kOpenApi, Format::kHubJson}) {
        ASSERT_EQ(parse_format(to_string(f)), f);
    }
    EXPECT_FALSE(parse_format("fhir").has_value());
    EXPECT_FALSE(parse_format("").has_value());
    EXPECT_FALSE(parse_format("FHIR-R4").has_value());
    EXPECT_STREQ(content_type(Format::kOceanFhir), "application/fhir+json");
    EXPECT_STREQ(content_type(Format::kFhirR4), "application/fhir+json");
    EXPECT_STREQ(content_type(Format::kOpenApi), "application/json");
    EXPECT_STREQ(content_type(Format::kHubJson), "application/json");
}

TEST(RenderFormat, DispatchesAndPassesTheOriginalThrough) {
    const Referral r = full_referral();
    const std::string original = "{\"resourceType\":\"Bundle\",  \"odd\" : 1}";
    EXPECT_EQ(render(Format::kOceanFhir, r, original), original);
    EXPECT_EQ(render(Format::kFhirR4, r, original), render_fhir_r4(r));
    EXPECT_EQ(render(Format::kOpenApi, r, original), render_open_api(r));
    EXPECT_EQ(render(Format::kHubJson, r, original), render_hub_json(r));
}

// ---------------------------------------------------------------------------------------------------
// fhir-r4: structure (the parser-based round trip is in render_roundtrip_test.cpp)

void walk(const json::value& v,
          const std::string& path,
          const std::function<void(const std::string&, const json::value&)>& f) {
    f(path, v);
    if (v.is_object()) {
        for (const auto& kv : v.get_object()) walk(kv.value(), path + "." + std::string(kv.key()), f);
    } else if (v.is_array()) {
        std::size_t i = 0;
        for (const auto& e : v.get_array()) walk(e, path + "[" + std::to_string(i++) + "]", f);
    }
}

/// The structural promises of the normalised bundle, for any referral.
void expect_normalised_shape(const Referral& r) {
    const json::value bundle = parse_strict(render_fhir_r4(r));
    ASSERT_TRUE(bundle.is_object());
    EXPECT_EQ(bundle.at("resourceType"), "Bundle");
    EXPECT_EQ(bundle.at("type"), "message");
    const auto& entries = bundle.at("entry").as_array();
    ASSERT_FALSE(entries.empty());
    EXPECT_EQ(entries[0].at("resource").at("resourceType"), "MessageHeader");

    std::set<std::string> full_urls;
    for (const auto& e : entries) {
        const std::string url(e.at("fullUrl").as_string());
        EXPECT_TRUE(url.starts_with("urn:uuid:") && url.size() == 45) << url;
        EXPECT_TRUE(full_urls.insert(url).second) << "duplicate fullUrl " << url;
    }
    // Every reference resolves inside the bundle by fullUrl; no empty string anywhere (FHIR has none).
    walk(bundle, "Bundle", [&](const std::string& path, const json::value& v) {
        if (v.is_string()) {
            EXPECT_FALSE(v.get_string().empty()) << path;
        }
        if (v.is_object() && v.get_object().contains("reference")) {
            const std::string ref(v.at("reference").as_string());
            EXPECT_TRUE(full_urls.contains(ref)) << path << " → " << ref;
        }
    });
    const auto& header = entries[0].at("resource");
    EXPECT_EQ(header.at("eventCoding").at("system"),
              "https://ehealthontario.ca/fhir/CodeSystem/message-event-code");
    const auto& ext = header.at("extension").at(0);
    EXPECT_EQ(ext.at("url"), "http://ehealthontario.ca/fhir/StructureDefinition/ext-referral-identifier");
    EXPECT_EQ(ext.at("valueIdentifier").at("value"), json::value(r.referral_ref));
    EXPECT_EQ(ext.at("valueIdentifier").at("system"),
              "https://ocean.cognisantmd.com/svc/fhir/v1/NamingSystem/id-ereferral-reference");

    std::vector<std::string> types;
    for (const auto& e : entries) types.emplace_back(e.at("resource").at("resourceType").as_string());
    const auto count = [&](std::string_view t) { return std::count(types.begin(), types.end(), t); };
    EXPECT_EQ(count("ServiceRequest"), 1);
    EXPECT_EQ(count("Patient"), 1);
    EXPECT_EQ(count("DocumentReference"), static_cast<long>(r.attachments.size()));
    EXPECT_EQ(count("Task"), static_cast<long>(r.tasks.size()));
    EXPECT_EQ(count("Appointment"), static_cast<long>(r.appointments.size()));
    EXPECT_EQ(count("Communication"), static_cast<long>(r.communications.size()));
    EXPECT_EQ(count("QuestionnaireResponse"), r.form ? 1 : 0);
    // Annotation.text is 1..1: present as a value or as a data-absent-reason extension.
    for (const auto& e : entries) {
        const auto& res = e.at("resource").as_object();
        if (res.at("resourceType") != "ServiceRequest" || !res.contains("note")) continue;
        for (const auto& note : res.at("note").as_array()) {
            EXPECT_TRUE(note.as_object().contains("text") || note.as_object().contains("_text"));
        }
    }
}

TEST(RenderFhirR4, ShapeOfHandBuiltReferrals) {
    expect_normalised_shape(full_referral());
    expect_normalised_shape(minimal_referral());
}

TEST(RenderFhirR4, ShapeOfRandomReferrals) {
    for (std::uint64_t seed = 0; seed < 300; ++seed) {
        SCOPED_TRACE(seed);
        expect_normalised_shape(random_referral(seed, /*fhir_safe=*/false));
    }
}

TEST(RenderFhirR4, IdsAreDeterministicAndStablePerReferral) {
    const Referral r = full_referral();
    EXPECT_EQ(render_fhir_r4(r), render_fhir_r4(r));

    // A later message about the same referral: the referral's resources keep their fullUrls.
    Referral later = r;
    later.message_header_id = "9e8d7c6b-5a49-4382-9716-05f4e3d2c1b0";
    later.bundle_id = "another";
    const auto urls = [](const Referral& x) {
        std::map<std::string, std::string> out;
        const json::value b = parse_strict(render_fhir_r4(x));
        std::size_t i = 0;
        for (const auto& e : b.at("entry").as_array()) {
            out[std::string(e.at("resource").at("resourceType").as_string()) + "#" + std::to_string(i++)] =
                std::string(e.at("fullUrl").as_string());
        }
        return out;
    };
    const auto a = urls(r);
    const auto b = urls(later);
    ASSERT_EQ(a.size(), b.size());
    for (const auto& [key, url] : a) {
        if (key.starts_with("MessageHeader")) {
            EXPECT_NE(url, b.at(key)) << "each message has its own header";
        } else {
            EXPECT_EQ(url, b.at(key)) << key;
        }
    }
    // Another referral shares no id.
    Referral other = r;
    other.referral_ref = "00000000-1111-4222-8333-444444444444";
    other.message_header_id = "other-message";
    const auto c = urls(other);
    for (const auto& [key, url] : a) EXPECT_NE(url, c.at(key)) << key;
}

TEST(RenderFhirR4, KeepsHiddenItemsTheirVisibilityAndNotesTheirHtml) {
    const json::value b = parse_strict(render_fhir_r4(full_referral()));
    const json::object* qr = nullptr;
    const json::object* sr = nullptr;
    for (const auto& e : b.at("entry").as_array()) {
        const auto& res = e.at("resource").as_object();
        if (res.at("resourceType") == "QuestionnaireResponse") qr = &res;
        if (res.at("resourceType") == "ServiceRequest") sr = &res;
    }
    ASSERT_NE(qr, nullptr);
    ASSERT_NE(sr, nullptr);
    const auto& items = qr->at("item").as_array();
    ASSERT_EQ(items.size(), 5U);
    EXPECT_FALSE(items[0].as_object().contains("extension"));
    EXPECT_EQ(items[3].at("extension").at(0).at("valueString"), "hidden");
    EXPECT_EQ(
        items[3].at("extension").at(0).at("url"),
        "https://ocean.cognisantmd.com/svc/fhir/v1/StructureDefinition/ext-ocean-eform-item-visibility");
    EXPECT_EQ(items[4].at("answer").at(1).at("valueString"), "Latex");
    EXPECT_EQ(qr->at("identifier").at("value"), "quickReferral");

    const auto& notes = sr->at("note").as_array();
    ASSERT_EQ(notes.size(), 2U);
    EXPECT_EQ(notes[0].at("text"), json::value(full_referral().notes[0].html));
    EXPECT_EQ(notes[1].at("_text").at("extension").at(0).at("valueCode"), "unknown");
    EXPECT_EQ(sr->at("requester").at("reference"),
              b.at("entry").at(0).at("resource").at("author").at("reference"))
        << "the submitter authored it";
}

// ---------------------------------------------------------------------------------------------------
// hub-json: lossless (read back into the model) for every referral, tricky strings included

std::string s(const json::value& v) {
    return std::string(v.as_string());
}
std::vector<std::string> strs(const json::value& v) {
    std::vector<std::string> out;
    for (const auto& e : v.as_array()) out.push_back(s(e));
    return out;
}
HumanName name_of(const json::value& v) {
    return {s(v.at("family")), strs(v.at("given")), strs(v.at("prefix")), s(v.at("text"))};
}
Address address_of(const json::value& v) {
    return {s(v.at("use")),
            s(v.at("type")),
            strs(v.at("lines")),
            s(v.at("city")),
            s(v.at("province")),
            s(v.at("postal_code")),
            s(v.at("country"))};
}
std::optional<Address> optional_address_of(const json::value& v) {
    if (v.is_null()) return std::nullopt;
    return address_of(v);
}
std::vector<Telecom> telecom_of(const json::value& v) {
    std::vector<Telecom> out;
    for (const auto& t : v.as_array()) out.push_back({s(t.at("system")), s(t.at("value")), s(t.at("use"))});
    return out;
}
std::vector<Coding> codings_of(const json::value& v) {
    std::vector<Coding> out;
    for (const auto& c : v.as_array())
        out.push_back({s(c.at("system")), s(c.at("code")), s(c.at("display"))});
    return out;
}
std::vector<Identifier> identifiers_of(const json::value& v) {
    std::vector<Identifier> out;
    for (const auto& i : v.as_array())
        out.push_back({s(i.at("system")), s(i.at("value")), s(i.at("type_code"))});
    return out;
}
Clinician clinician_of(const json::value& v) {
    Clinician c;
    c.name = name_of(v.at("name"));
    c.licence = s(v.at("licence"));
    c.billing_number = s(v.at("billing_number"));
    c.username = s(v.at("username"));
    c.other_identifiers = identifiers_of(v.at("other_identifiers"));
    c.telecom = telecom_of(v.at("telecom"));
    c.location_name = s(v.at("location_name"));
    c.address = optional_address_of(v.at("address"));
    c.specialty = codings_of(v.at("specialty"));
    return c;
}

/// The hub JSON read back into the model: it must carry every field.
Referral from_hub(const json::value& h) {
    Referral r;
    const auto& m = h.at("message");
    const std::string dialect = s(m.at("source_dialect"));
    r.dialect = dialect == "0.10"   ? relay::fhir::Dialect::kV0_10
                : dialect == "0.11" ? relay::fhir::Dialect::kV0_11
                                    : relay::fhir::Dialect::kUnknown;
    r.event = s(h.at("event"));
    r.bundle_id = s(m.at("bundle_id"));
    r.message_header_id = s(m.at("message_header_id"));
    r.timestamp = s(m.at("timestamp"));
    r.reason = s(m.at("reason"));
    r.source_endpoint = s(m.at("source_endpoint"));
    r.test_data = m.at("test_data").as_bool();
    r.referral_ref = s(h.at("referral_ref"));
    r.status = s(h.at("status"));
    r.intent = s(h.at("intent"));
    r.priority = s(h.at("priority"));
    r.authored_on = s(h.at("authored_on"));
    r.categories = codings_of(h.at("categories"));
    r.order_details = strs(h.at("order_details"));
    for (const auto& n : h.at("notes").as_array())
        r.notes.push_back({s(n.at("html")), s(n.at("text")), s(n.at("time"))});
    const auto& p = h.at("patient");
    r.patient.health_number = s(p.at("health_number"));
    r.patient.health_number_version = s(p.at("health_number_version"));
    r.patient.mrn = s(p.at("mrn"));
    r.patient.other_identifiers = identifiers_of(p.at("other_identifiers"));
    r.patient.name = name_of(p.at("name"));
    r.patient.gender = s(p.at("gender"));
    r.patient.birth_date = s(p.at("birth_date"));
    r.patient.telecom = telecom_of(p.at("telecom"));
    for (const auto& a : p.at("addresses").as_array()) r.patient.addresses.push_back(address_of(a));
    r.patient.language = s(p.at("language"));
    r.referrer = clinician_of(h.at("referrer"));
    if (!h.at("submitter").is_null()) r.submitter = clinician_of(h.at("submitter"));
    r.target.listing_ref = s(h.at("listing_ref"));
    r.target.site_number = s(h.at("site_number"));
    r.target.external_service_id = s(h.at("external_service_id"));
    const auto& l = h.at("listing");
    r.target.name = s(l.at("name"));
    r.target.location_name = s(l.at("location_name"));
    r.target.address = optional_address_of(l.at("address"));
    r.target.telecom = telecom_of(l.at("telecom"));
    r.target.specialty = codings_of(l.at("specialty"));
    if (!h.at("form").is_null()) {
        const auto& f = h.at("form");
        Form form{s(f.at("form_ref")), s(f.at("status")), s(f.at("authored")), {}};
        for (const auto& i : f.at("items").as_array()) {
            form.items.push_back(
                {s(i.at("link_id")), s(i.at("text")), strs(i.at("answers")), i.at("hidden").as_bool()});
        }
        r.form = form;
    }
    for (const auto& a : h.at("attachments").as_array()) {
        Attachment x;
        x.id = s(a.at("id"));
        x.status = s(a.at("status"));
        x.content_type = s(a.at("content_type"));
        x.title = s(a.at("title"));
        x.url = s(a.at("url"));
        x.data_base64 = a.at("data_base64").is_null() ? "" : s(a.at("data_base64"));
        x.size = a.at("size").to_number<std::uint64_t>();
        x.created = s(a.at("created"));
        x.description = s(a.at("description"));
        r.attachments.push_back(x);
    }
    for (const auto& t : h.at("tasks").as_array()) {
        r.tasks.push_back({s(t.at("id")),
                           s(t.at("status")),
                           s(t.at("business_status")),
                           s(t.at("status_reason")),
                           s(t.at("code")),
                           s(t.at("authored_on")),
                           s(t.at("last_modified"))});
    }
    for (const auto& a : h.at("appointments").as_array()) {
        r.appointments.push_back({s(a.at("id")),
                                  s(a.at("status")),
                                  s(a.at("start")),
                                  s(a.at("end")),
                                  s(a.at("patient_status")),
                                  s(a.at("instructions")),
                                  s(a.at("description"))});
    }
    for (const auto& c : h.at("messages").as_array()) {
        r.communications.push_back({s(c.at("id")),
                                    s(c.at("status")),
                                    s(c.at("sent")),
                                    strs(c.at("contents")),
                                    c.at("attachment_count").to_number<std::size_t>()});
    }
    return r;
}

TEST(RenderHubJson, CarriesEveryFieldOfHandBuiltReferrals) {
    for (const Referral& r : {full_referral(), minimal_referral()}) {
        const json::value h = parse_strict(render_hub_json(r));
        EXPECT_EQ(h.at("format"), "ocean-relay.hub-referral.v1");
        EXPECT_EQ(from_hub(h), r);
    }
}

TEST(RenderHubJson, CarriesEveryFieldOfRandomReferralsWithTrickyStrings) {
    for (std::uint64_t seed = 0; seed < 300; ++seed) {
        const Referral r = random_referral(seed, /*fhir_safe=*/false);
        ASSERT_EQ(from_hub(parse_strict(render_hub_json(r))), r) << "seed " << seed;
    }
}

TEST(RenderHubJson, EscapesControlCharactersAndKeepsUnicode) {
    Referral r = minimal_referral();
    r.patient.name.family = std::string("a\"b\\c\x01\n\x1f") + "é🙂\xe2\x80\xa8";
    const std::string out = render_hub_json(r);
    EXPECT_NE(out.find(R"(a\"b\\c\u0001\n\u001f)"), std::string::npos) << out;
    EXPECT_NE(out.find("é🙂"), std::string::npos);
    EXPECT_EQ(out.find('\x01'), std::string::npos);
}

// ---------------------------------------------------------------------------------------------------
// open-api: the mapping documented in render_open_api.cpp

TEST(RenderOpenApi, MapsTheReferral) {
    const Referral r = full_referral();
    const json::value o = parse_strict(render_open_api(r));
    EXPECT_EQ(o.at("referralRef"), json::value(r.referral_ref));
    EXPECT_EQ(o.at("referralTargetRef"), "harbourfront_clinic-73632721");
    EXPECT_EQ(o.at("externalServiceId"), "Ext Svc/1");
    EXPECT_EQ(o.at("description"), "Harbourfront Community Clinic");
    EXPECT_EQ(o.at("referrer").at("firstName"), "Daniel");
    EXPECT_EQ(o.at("referrer").at("surname"), "Kelpford");
    EXPECT_EQ(o.at("referrer").at("professionalId"), "95643");
    EXPECT_EQ(o.at("referrer").at("billingNum"), "030170");
    EXPECT_EQ(o.at("referrer").at("address").at("line2"), "Suite 5080");
    EXPECT_EQ(o.at("referrer").at("address").at("fax"), "613-555-0102");
    EXPECT_EQ(o.at("assistant").at("surname"), "Reefton");
    EXPECT_EQ(o.at("services"), json::array{"HOME_AND_COMMUNITY_CARE"});
    EXPECT_FALSE(o.as_object().contains("encryptedPtData"));
    const auto& p = o.at("patient");
    EXPECT_EQ(p.at("firstName"), "Hélène");
    EXPECT_EQ(p.at("secondName"), "Marie");
    EXPECT_EQ(p.at("surname"), "Tidewell");
    EXPECT_EQ(p.at("healthNumber"), "9876543217");
    EXPECT_EQ(p.at("healthNumberVersion"), "AB");
    EXPECT_EQ(p.at("healthNumberProvince"), "ON");
    EXPECT_EQ(p.at("externalPatientRef"), "MRN-000123");
    EXPECT_EQ(p.at("mobilePhone"), "416-555-0177");
    EXPECT_EQ(p.at("address").at("line1"), "12 Harbourview Rd");
    EXPECT_EQ(o.at("creationDate"), json::value(r.authored_on));
    EXPECT_EQ(o.at("modificationDate"), json::value(r.timestamp));
    // The last Task declined it, though an appointment had been booked before.
    EXPECT_EQ(o.at("status"), "DECLINED");
    EXPECT_EQ(o.at("cancellationReason"), "Outside our catchment");
    ASSERT_EQ(o.at("appointments").as_array().size(), 1U);
    EXPECT_EQ(o.at("appointments").at(0).at("date"), "2025-04-01T09:00:00-04:00");
    EXPECT_EQ(o.at("bookingComments"), "We will call you");
    ASSERT_EQ(o.at("externalConversation").as_array().size(), 1U);
    EXPECT_EQ(o.at("externalConversation").at(0).at("message"), "Please send the MRI report.\nThanks");
    EXPECT_EQ(o.at("communicationType"), "E_REFERRAL");
    EXPECT_EQ(o.at("srcSiteName"), "Coral Reef Family Health Team");
}

TEST(RenderOpenApi, DerivesOceansFolderStatus) {
    Referral r = minimal_referral();
    const auto status = [&] {
        return std::string(parse_strict(render_open_api(r)).at("status").as_string());
    };
    EXPECT_EQ(status(), "NEW");
    r.tasks.push_back({"t", "accepted", "", "", "process-request-consult", "", ""});
    EXPECT_EQ(status(), "PENDING_BOOKING");
    EXPECT_EQ(parse_strict(render_open_api(r)).at("communicationType"), "E_CONSULT");
    r.appointments.push_back(
        {"a", "booked", "2025-01-01T09:00:00-05:00", "2025-01-01T09:30:00-05:00", "tentative", "", ""});
    EXPECT_EQ(status(), "BOOKING_UNCONFIRMED");
    r.appointments[0].patient_status = "accepted";
    EXPECT_EQ(status(), "BOOKED");
    r.tasks[0].status = "completed";
    EXPECT_EQ(status(), "COMPLETED");
    r.status = "revoked";
    EXPECT_EQ(status(), "CANCELLED");
}

TEST(RenderOpenApi, RendersRandomReferralsAsValidJson) {
    for (std::uint64_t seed = 0; seed < 200; ++seed) {
        const json::value o = parse_strict(render_open_api(random_referral(seed, false)));
        ASSERT_TRUE(o.is_object()) << seed;
    }
}

// ---------------------------------------------------------------------------------------------------
// goldens

TEST(RenderGolden, MatchesEveryInput) {
    for (const auto& input : render_samples::golden_inputs()) {
        SCOPED_TRACE(input.name);
        expect_golden(input.name, Format::kFhirR4, render_fhir_r4(input.referral));
        expect_golden(input.name, Format::kOpenApi, render_open_api(input.referral));
        expect_golden(input.name, Format::kHubJson, render_hub_json(input.referral));
    }
}

// ---------------------------------------------------------------------------------------------------
// samples for the external validators (HAPI FHIR, JSON Schema), run by ctest before them

TEST(RenderSamples, WriteForExternalValidators) {
    const char* fhir_dir = std::getenv("RELAY_TRANSFORM_FHIR_SAMPLES_DIR");
    const char* hub_dir = std::getenv("RELAY_TRANSFORM_HUB_SAMPLES_DIR");
    if (fhir_dir == nullptr && hub_dir == nullptr) GTEST_SKIP() << "no sample directories set";
    const std::size_t written =
        render_samples::write_samples(fhir_dir == nullptr ? "" : fhir_dir, hub_dir == nullptr ? "" : hub_dir);
    EXPECT_GT(written, 0U);
}

}  // namespace
