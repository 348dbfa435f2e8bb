// The ocean-sim referral generator: determinism, the ingress extraction of its bundles, inline
// attachments, resend variants, synthetic people only, spec validation.
#include "generator.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <variant>

#include "generator_test_util.hpp"
#include "relay/core/encoding.hpp"
#include "relay/fhir/extract.hpp"

using relay::ocean_sim::Dialect;
using relay::ocean_sim::generate;
using relay::ocean_sim::GeneratedReferral;
using relay::ocean_sim::ReferralSpec;
using sim_test::parse;
using sim_test::resource;
using sim_test::resources_of;
using sim_test::spec;
using sim_test::str;

namespace {

constexpr Dialect kDialects[] = {Dialect::kV0_10, Dialect::kV0_11};

std::string patient_name(const GeneratedReferral& r) {
    const auto bundle = parse(r.body);
    const auto* patient = resources_of(bundle, "Patient").at(0);
    return str(patient->at("name").at(0).at("text"));
}

std::string health_number(const boost::json::value& bundle) {
    const auto* patient = resources_of(bundle, "Patient").at(0);
    return str(patient->at("identifier").at(0).at("value"));
}

}  // namespace

// --- determinism --------------------------------------------------------------------------------

TEST(GeneratorDeterminism, SameSpecGivesByteIdenticalOutput) {
    for (const Dialect dialect : kDialects) {
        for (const std::uint64_t seed : {0ULL, 1ULL, 42ULL, 0xfeedfacecafebeefULL}) {
            auto s = spec(seed, dialect);
            s.attachment_bytes = 4096;
            s.delegate_submitter = seed % 2 == 0;
            s.external_service_id = "Svc-7";
            const auto a = generate(s);
            const auto b = generate(s);
            EXPECT_EQ(a.body, b.body) << "seed " << seed;
            EXPECT_EQ(a.referral_ref, b.referral_ref);
            EXPECT_EQ(a.message_header_id, b.message_header_id);
        }
    }
}

TEST(GeneratorDeterminism, DifferentSeedsGiveDifferentReferralsAndPeople) {
    std::set<std::string> refs, names, health_numbers, header_ids;
    constexpr int kSeeds = 64;
    for (int seed = 1; seed <= kSeeds; ++seed) {
        const auto r = generate(spec(static_cast<std::uint64_t>(seed), Dialect::kV0_11));
        refs.insert(r.referral_ref);
        header_ids.insert(r.message_header_id);
        names.insert(patient_name(r));
        health_numbers.insert(health_number(parse(r.body)));
    }
    EXPECT_EQ(refs.size(), static_cast<std::size_t>(kSeeds));
    EXPECT_EQ(header_ids.size(), static_cast<std::size_t>(kSeeds));
    EXPECT_EQ(health_numbers.size(), static_cast<std::size_t>(kSeeds));
    // 24 x 24 name combinations: a few birthday-paradox collisions are expected, not many.
    EXPECT_GT(names.size(), static_cast<std::size_t>(kSeeds * 3 / 4));
}

TEST(GeneratorDeterminism, ReferralRefIsAUuidAndReferralRefOfAgrees) {
    const std::regex uuid("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
    for (const Dialect dialect : kDialects) {
        const auto s = spec(7, dialect);
        const auto r = generate(s);
        EXPECT_TRUE(std::regex_match(r.referral_ref, uuid)) << r.referral_ref;
        EXPECT_EQ(r.referral_ref, relay::ocean_sim::referral_ref_of(s));
    }
    // The dialect does not change who the referral is about.
    EXPECT_EQ(generate(spec(7, Dialect::kV0_10)).referral_ref,
              generate(spec(7, Dialect::kV0_11)).referral_ref);
    EXPECT_EQ(patient_name(generate(spec(7, Dialect::kV0_10))),
              patient_name(generate(spec(7, Dialect::kV0_11))));
}

TEST(GeneratorDeterminism, PinnedReferralRefIsUsedEverywhere) {
    const std::string ref = "36739a27-0a88-455f-a6c9-13eb45e02efc";
    for (const Dialect dialect : kDialects) {
        auto s = spec(3, dialect);
        s.referral_ref = ref;
        const auto r = generate(s);
        EXPECT_EQ(r.referral_ref, ref);
        const auto bundle = parse(r.body);
        const auto* sr = resources_of(bundle, "ServiceRequest").at(0);
        EXPECT_EQ(str(sr->at("identifier").at(0).at("value")), ref);
        const auto* letter = resources_of(bundle, "DocumentReference").at(0);
        EXPECT_EQ(str(letter->at("content").at(0).at("attachment").at("url")),
                  std::string(sim_test::kHost) + "/svc/fhir/v1/ServiceRequest/" + ref + "/$letter");
        if (dialect == Dialect::kV0_10) {
            EXPECT_EQ(str(sr->at("id")), ref);
            EXPECT_EQ(str(letter->at("id")), "referral-" + ref);
        } else {
            for (const auto& e : sim_test::entries(bundle)) {
                if (e.at("resource").at("resourceType") == "ServiceRequest") {
                    EXPECT_EQ(str(e.at("fullUrl")), "urn:uuid:" + ref);
                }
            }
        }
    }
}

// --- the ingress extraction ---------------------------------------------------------------------

struct ExtractCase {
    Dialect dialect;
    std::uint64_t seed;
    std::string external_service_id;
    bool delegate;
    std::string event;
};

void PrintTo(const ExtractCase& c, std::ostream* os) {
    *os << "v" << to_string(c.dialect) << "/seed " << c.seed << "/esid '" << c.external_service_id << "'"
        << (c.delegate ? "/delegate" : "") << "/" << c.event;
}

class GeneratorExtraction : public ::testing::TestWithParam<ExtractCase> {
   protected:
    void SetUp() override {
        if (!relay::fhir::cpu_supported()) GTEST_SKIP() << "CPU cannot run the extractor";
    }
};

// "The generator's bundles pass the ingress extraction": the strict extractor reads every routing fact.
TEST_P(GeneratorExtraction, StrictExtractorReadsEveryRoutingFact) {
    const auto& c = GetParam();
    auto s = spec(c.seed, c.dialect);
    s.external_service_id = c.external_service_id;
    s.delegate_submitter = c.delegate;
    s.event = c.event;
    s.test_data_security_tag = c.seed % 3 == 0;
    const auto r = generate(s);

    relay::fhir::Extractor extractor(/*strict_json=*/true);
    const auto result = extractor.extract_unpadded(r.body);
    ASSERT_TRUE(std::holds_alternative<relay::fhir::InboundFacts>(result))
        << std::get<relay::fhir::ExtractError>(result).message;
    const auto& facts = std::get<relay::fhir::InboundFacts>(result);
    EXPECT_EQ(facts.event_code, c.event);
    EXPECT_EQ(facts.referral_ref, r.referral_ref);
    EXPECT_EQ(facts.site_number, sim_test::kSite);
    EXPECT_EQ(facts.listing_ref, sim_test::kListing);
    EXPECT_EQ(facts.external_service_id, c.external_service_id);
    EXPECT_EQ(facts.message_header_id, r.message_header_id);
    EXPECT_EQ(facts.bundle_id, r.bundle_id);
    if (c.dialect == Dialect::kV0_10) {
        EXPECT_EQ(facts.dialect, relay::fhir::Dialect::kV0_10);
        EXPECT_EQ(facts.referral_ref_source, relay::fhir::ReferralRefSource::kMessageHeaderIdExtension);
    } else {
        EXPECT_EQ(facts.dialect, relay::fhir::Dialect::kV0_11);
        EXPECT_EQ(facts.referral_ref_source, relay::fhir::ReferralRefSource::kReferralIdentifierExtension);
    }
}

std::vector<ExtractCase> extract_cases() {
    std::vector<ExtractCase> out;
    for (const Dialect dialect : kDialects) {
        for (const std::uint64_t seed : {1ULL, 2ULL, 3ULL, 17ULL, 1000003ULL}) {
            for (const char* esid : {"", "Test", "svc \"quoted\" ünïcode"}) {
                for (const bool delegate : {false, true}) {
                    const char* event =
                        seed % 2 == 0 ? "notify-update-service-request" : "add-service-request";
                    out.push_back({dialect, seed, esid, delegate, event});
                }
            }
        }
    }
    return out;
}

INSTANTIATE_TEST_SUITE_P(DialectsSeedsListings, GeneratorExtraction, ::testing::ValuesIn(extract_cases()));

// --- inline attachments -------------------------------------------------------------------------

namespace {

// The attachment DocumentReference (the second one; the first is the referral letter).
const boost::json::object& attachment_of(const boost::json::value& bundle) {
    const auto docs = resources_of(bundle, "DocumentReference");
    EXPECT_EQ(docs.size(), 2u);
    return docs.at(1)->at("content").at(0).at("attachment").as_object();
}

}  // namespace

TEST(GeneratorAttachment, DecodesToExactlyTheRequestedSize) {
    for (const Dialect dialect : kDialects) {
        for (const std::size_t size : {1u, 2u, 3u, 4u, 5u, 57u, 1000u, 65536u, 1048577u}) {
            auto s = spec(11, dialect);
            s.attachment_bytes = size;
            const auto r = generate(s);
            const auto bundle = parse(r.body);
            const auto& attachment = attachment_of(bundle);
            const auto decoded = relay::base64_decode(attachment.at("data").as_string());
            ASSERT_TRUE(decoded.has_value()) << size;
            EXPECT_EQ(decoded->size(), size);
            EXPECT_EQ(attachment.at("size").to_number<std::size_t>(), size);
            EXPECT_EQ(decoded->substr(0, 4), std::string("%PDF").substr(0, std::min<std::size_t>(size, 4)));
            EXPECT_EQ(str(attachment.at("contentType")), "application/pdf");
        }
    }
}

TEST(GeneratorAttachment, IsReferencedAndIdentified) {
    for (const Dialect dialect : kDialects) {
        auto s = spec(12, dialect);
        s.attachment_bytes = 100;
        const auto bundle = parse(generate(s).body);
        const auto* sr = resources_of(bundle, "ServiceRequest").at(0);
        EXPECT_EQ(sr->at("supportingInfo").as_array().size(), 3u);  // letter, attachment, eForm
        const auto* doc = resources_of(bundle, "DocumentReference").at(1);
        EXPECT_TRUE(
            str(doc->at("identifier").at(0).at("system")).ends_with("/NamingSystem/id-attachment-reference"));
        // Without attachment_bytes there is only the letter.
        EXPECT_EQ(resources_of(parse(generate(spec(12, dialect)).body), "DocumentReference").size(), 1u);
    }
}

TEST(GeneratorAttachment, TenMebibytesStayValidAndExtractable) {
    constexpr std::size_t kSize = 10u * 1024u * 1024u;
    auto s = spec(99, Dialect::kV0_11);
    s.attachment_bytes = kSize;
    const auto started = std::chrono::steady_clock::now();
    const auto r = generate(s);
    const auto elapsed = std::chrono::steady_clock::now() - started;
    // Reported, not asserted: timing depends on the machine.
    RecordProperty("generate_10MiB_ms",
                   static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()));
    EXPECT_GT(r.body.size(), kSize * 4 / 3);

    const auto bundle = parse(r.body);
    const auto decoded = relay::base64_decode(attachment_of(bundle).at("data").as_string());
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(decoded->size(), kSize);

    if (relay::fhir::cpu_supported()) {
        relay::fhir::Extractor extractor(true);
        const auto result = extractor.extract_unpadded(r.body);
        ASSERT_TRUE(std::holds_alternative<relay::fhir::InboundFacts>(result));
        EXPECT_EQ(std::get<relay::fhir::InboundFacts>(result).referral_ref, r.referral_ref);
    }
    // The attachment has its own random stream: the rest of the bundle is what it is without it.
    EXPECT_EQ(r.referral_ref, generate(spec(99, Dialect::kV0_11)).referral_ref);
}

// --- resend variants ----------------------------------------------------------------------------

TEST(GeneratorResend, AsNewKeepsTheReferralAndChangesTheMessage) {
    for (const Dialect dialect : kDialects) {
        const auto original_spec = spec(5, dialect);
        const auto original = generate(original_spec);
        const auto again_spec = relay::ocean_sim::resend_as_new(original_spec);
        const auto again = generate(again_spec);

        EXPECT_EQ(again_spec.message_sequence, 1u);
        EXPECT_EQ(again.referral_ref, original.referral_ref);
        EXPECT_EQ(again.event, "add-service-request");
        EXPECT_NE(again.message_header_id, original.message_header_id);
        EXPECT_NE(again.bundle_id, original.bundle_id);
        EXPECT_NE(again.timestamp, original.timestamp);
        // Every entry but the MessageHeader is the same resource, byte for byte.
        const auto a = parse(original.body), b = parse(again.body);
        ASSERT_EQ(sim_test::entries(a).size(), sim_test::entries(b).size());
        for (std::size_t i = 1; i < sim_test::entries(a).size(); ++i) {
            EXPECT_EQ(sim_test::entries(a).at(i), sim_test::entries(b).at(i)) << "entry " << i;
        }
        // Pinned: even a changed seed keeps the referral ref.
        auto reseeded = again_spec;
        reseeded.seed = 6;
        EXPECT_EQ(generate(reseeded).referral_ref, original.referral_ref);
    }
}

TEST(GeneratorResend, AsUpdateSendsNotifyUpdateServiceRequest) {
    for (const Dialect dialect : kDialects) {
        const auto original_spec = spec(5, dialect);
        const auto update_spec = relay::ocean_sim::resend_as_update(original_spec);
        const auto update = generate(update_spec);
        const auto second = generate(relay::ocean_sim::resend_as_update(update_spec));
        EXPECT_EQ(update.event, "notify-update-service-request");
        EXPECT_EQ(update.referral_ref, generate(original_spec).referral_ref);
        EXPECT_EQ(second.referral_ref, update.referral_ref);
        EXPECT_NE(second.message_header_id, update.message_header_id);

        const auto header = resource(parse(update.body), 0);
        EXPECT_EQ(str(header.at("eventCoding").at("code")), "notify-update-service-request");
        // "Initial" is for the first send of a referral only.
        EXPECT_FALSE(header.contains("reason"));
    }
    EXPECT_EQ(str(resource(parse(generate(spec(5, Dialect::kV0_11)).body), 0).at("reason").at("text")),
              "Initial");
}

TEST(GeneratorEcho, CarriesTheReceiversTaskAndAppointmentsWithStableIds) {
    for (const Dialect dialect : kDialects) {
        auto echo_spec = relay::ocean_sim::resend_as_update(spec(8, dialect));
        relay::ocean_sim::ReceiverProgress progress;
        progress.task_status = "rejected";
        progress.decline_reason = "Outside our catchment";
        progress.appointments.push_back({"", "booked", "2026-12-01T09:00:00-05:00", "2026-12-01T09:30:00-05:00",
                                         "accepted", "Bring your health card"});
        echo_spec.receiver_progress = progress;
        const auto echoed = generate(echo_spec);
        const auto bundle = parse(echoed.body);

        const auto tasks = resources_of(bundle, "Task");
        ASSERT_EQ(tasks.size(), 1U) << relay::ocean_sim::to_string(dialect);
        const auto& task = *tasks[0];
        EXPECT_EQ(str(task.at("status")), "rejected");
        EXPECT_EQ(str(task.at("statusReason").at("text")), "Outside our catchment");
        const std::string focus = str(task.at("focus").at("reference"));
        if (dialect == Dialect::kV0_11) {
            EXPECT_EQ(focus, "urn:uuid:" + echoed.referral_ref);
        } else {
            EXPECT_EQ(focus, "ServiceRequest/" + echoed.referral_ref);
        }
        const auto appointments = resources_of(bundle, "Appointment");
        ASSERT_EQ(appointments.size(), 1U);
        EXPECT_EQ(str(appointments[0]->at("status")), "booked");
        EXPECT_EQ(str(appointments[0]->at("start")), "2026-12-01T09:00:00-05:00");
        EXPECT_EQ(str(appointments[0]->at("participant").at(0).at("status")), "accepted");
        EXPECT_EQ(str(appointments[0]->at("basedOn").at(0).at("reference")), focus);

        // The next echo names the same Task and Appointment (ids are the referral's, not the message's).
        auto later_spec = relay::ocean_sim::resend_as_update(echo_spec);
        later_spec.receiver_progress->task_status = "accepted";
        const auto later = parse(generate(later_spec).body);
        const auto later_tasks = resources_of(later, "Task");
        ASSERT_EQ(later_tasks.size(), 1U);
        EXPECT_EQ(str(later_tasks[0]->at("status")), "accepted");
        EXPECT_FALSE(later_tasks[0]->contains("statusReason"));
        const auto& entry_list = sim_test::entries(bundle);
        const auto& later_list = sim_test::entries(later);
        auto full_url_of = [](const boost::json::array& list, std::string_view type) {
            for (const auto& e : list) {
                if (e.at("resource").at("resourceType").as_string() != type) continue;
                const auto& o = e.as_object();
                return o.contains("fullUrl") ? str(o.at("fullUrl")) : str(e.at("resource").at("id"));
            }
            return std::string();
        };
        EXPECT_EQ(full_url_of(entry_list, "Task"), full_url_of(later_list, "Task"));
        EXPECT_EQ(full_url_of(entry_list, "Appointment"), full_url_of(later_list, "Appointment"));

        // Without progress (a plain resend) there is no Task.
        EXPECT_TRUE(resources_of(parse(generate(relay::ocean_sim::resend_as_update(spec(8, dialect))).body), "Task")
                        .empty());
    }
}

// --- synthetic people only ----------------------------------------------------------------------

namespace {

bool luhn_valid(const std::string& digits) {
    int sum = 0;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        int d = digits[digits.size() - 1 - i] - '0';
        if (i % 2 == 1) {
            d *= 2;
            if (d > 9) d -= 9;
        }
        sum += d;
    }
    return sum % 10 == 0;
}

bool in(std::span<const std::string_view> list, const boost::json::value& v) {
    const std::string_view s = v.as_string();
    return std::find(list.begin(), list.end(), s) != list.end();
}

}  // namespace

TEST(GeneratorPeople, NamesComeFromTheBuiltInListsAndContactsAreFictional) {
    const auto given = relay::ocean_sim::synthetic_given_names();
    const auto family = relay::ocean_sim::synthetic_family_names();
    const std::regex phone_re(R"(^\d{3}-555-01\d{2}$)");
    const std::regex postal_re(R"(^[KLMNP]\d[A-Z] \d[A-Z]\d$)");
    const std::regex date_re(R"(^(19[3-9]\d|20[01]\d)-\d{2}-\d{2}$)");
    for (const Dialect dialect : kDialects) {
        for (std::uint64_t seed = 0; seed < 40; ++seed) {
            auto s = spec(seed, dialect);
            s.delegate_submitter = true;
            const auto bundle = parse(generate(s).body);
            std::size_t people = 0;
            for (const char* type : {"Patient", "Practitioner"}) {
                for (const auto* r : resources_of(bundle, type)) {
                    for (const auto& name : r->at("name").as_array()) {
                        ++people;
                        EXPECT_TRUE(in(family, name.at("family"))) << name;
                        for (const auto& g : name.at("given").as_array()) EXPECT_TRUE(in(given, g)) << name;
                    }
                    if (const auto* telecoms = r->if_contains("telecom")) {
                        for (const auto& t : telecoms->as_array()) {
                            const std::string value = str(t.at("value"));
                            if (t.at("system") == "email") {
                                EXPECT_TRUE(value.ends_with("@example.com") ||
                                            value.ends_with("@example.org"))
                                    << value;
                            } else {
                                EXPECT_TRUE(std::regex_match(value, phone_re)) << value;
                            }
                        }
                    }
                }
            }
            EXPECT_EQ(people, 3u);  // patient, referrer, delegate

            const auto* patient = resources_of(bundle, "Patient").at(0);
            const auto& hcn = patient->at("identifier").at(0);
            EXPECT_EQ(str(hcn.at("system")),
                      "https://fhir.infoway-inforoute.ca/NamingSystem/ca-on-patient-hcn");
            const std::string number = str(hcn.at("value"));
            EXPECT_TRUE(std::regex_match(number, std::regex(R"(^[1-9]\d{9}$)"))) << number;
            EXPECT_TRUE(luhn_valid(number)) << number;
            EXPECT_EQ(str(hcn.at("extension").at(0).at("url")),
                      "http://ehealthontario.ca/fhir/StructureDefinition/ext-id-health-card-version-code");
            EXPECT_TRUE(
                std::regex_match(str(hcn.at("extension").at(0).at("valueString")), std::regex("^[A-Z]{2}$")));
            EXPECT_TRUE(std::regex_match(str(patient->at("birthDate")), date_re));
            EXPECT_TRUE(std::regex_match(str(patient->at("address").at(0).at("postalCode")), postal_re));
        }
    }
}

// --- JSON correctness ---------------------------------------------------------------------------

TEST(GeneratorJson, FreeTextIsEscapedForJsonAndForTheHtmlNote) {
    bool saw_quote = false, saw_ampersand = false, saw_less_than = false, saw_non_ascii = false;
    for (std::uint64_t seed = 0; seed < 300; ++seed) {
        const auto r = generate(spec(seed, Dialect::kV0_11));
        const auto bundle = parse(r.body);  // also rejects invalid UTF-8
        const auto* sr = resources_of(bundle, "ServiceRequest").at(0);
        const std::string note = str(sr->at("note").at(0).at("text"));
        EXPECT_TRUE(note.starts_with("<b>Reason for Referral:</b> ")) << note;
        EXPECT_NE(note.find("&nbsp;"), std::string::npos);
        if (note.find("\"locking\"") != std::string::npos) {
            saw_quote = true;
            EXPECT_NE(r.body.find(R"(\"locking\")"), std::string::npos);
        }
        if (note.find("headaches &amp; dizziness") != std::string::npos) saw_ampersand = true;
        if (note.find("(&lt; 3 months old)") != std::string::npos) saw_less_than = true;
        for (unsigned char c : r.body) saw_non_ascii |= c >= 0x80;
    }
    EXPECT_TRUE(saw_quote);
    EXPECT_TRUE(saw_ampersand);
    EXPECT_TRUE(saw_less_than);
    EXPECT_TRUE(saw_non_ascii);
}

TEST(GeneratorJson, TimesAreTorontoLocalWithTheRightOffset) {
    const std::regex stamp(R"(^(\d{4})-(\d{2})-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}(-0[45]:00)$)");
    std::set<std::string> offsets;
    for (std::uint64_t seed = 0; seed < 60; ++seed) {
        const auto r = generate(spec(seed, Dialect::kV0_11));
        std::smatch m;
        ASSERT_TRUE(std::regex_match(r.timestamp, m, stamp)) << r.timestamp;
        const int month = std::stoi(m[2]);
        // Away from the changeover months the offset is certain.
        if (month >= 4 && month <= 10) {
            EXPECT_EQ(m[3], "-04:00") << r.timestamp;
        }
        if (month == 12 || month <= 2) {
            EXPECT_EQ(m[3], "-05:00") << r.timestamp;
        }
        offsets.insert(m[3]);
        const auto bundle = parse(r.body);
        EXPECT_EQ(str(bundle.at("timestamp")), r.timestamp);
        EXPECT_EQ(str(bundle.at("meta").at("lastUpdated")), r.timestamp);
    }
    EXPECT_EQ(offsets.size(), 2u);
}

TEST(GeneratorJson, PositionIsWrittenAsPlainDecimals) {
    for (const Dialect dialect : kDialects) {
        const auto r = generate(spec(21, dialect));
        EXPECT_EQ(r.body.find("ocean-sim:decimal"), std::string::npos);
        const auto bundle = parse(r.body);
        const auto& position = resources_of(bundle, "Location").back()->at("position");
        EXPECT_TRUE(position.at("latitude").is_double());
        EXPECT_GT(position.at("latitude").as_double(), 41.0);
        EXPECT_LT(position.at("longitude").as_double(), -74.0);
        EXPECT_TRUE(
            std::regex_search(r.body, std::regex(R"("longitude":-\d{2}\.\d+,"latitude":\d{2}\.\d+[,}])")));
    }
}

// --- spec handling ------------------------------------------------------------------------------

TEST(GeneratorSpec, RequiredFieldsAreChecked) {
    auto no_site = spec(1, Dialect::kV0_11);
    no_site.site_number.clear();
    EXPECT_THROW(generate(no_site), std::invalid_argument);
    auto no_listing = spec(1, Dialect::kV0_11);
    no_listing.listing_ref.clear();
    EXPECT_THROW(generate(no_listing), std::invalid_argument);
    auto no_url = spec(1, Dialect::kV0_10);
    no_url.request_url.clear();
    EXPECT_THROW(generate(no_url), std::invalid_argument);
    auto empty_ref = spec(1, Dialect::kV0_10);
    empty_ref.referral_ref = "";
    EXPECT_THROW(generate(empty_ref), std::invalid_argument);
}

TEST(GeneratorSpec, DialectNames) {
    using relay::ocean_sim::parse_dialect;
    EXPECT_EQ(parse_dialect("0.10"), Dialect::kV0_10);
    EXPECT_EQ(parse_dialect("v0.10.0"), Dialect::kV0_10);
    EXPECT_EQ(parse_dialect("0.11.1"), Dialect::kV0_11);
    EXPECT_EQ(parse_dialect("v0.11"), Dialect::kV0_11);
    EXPECT_EQ(parse_dialect("0.12"), std::nullopt);
    EXPECT_STREQ(to_string(Dialect::kV0_10), relay::fhir::to_string(relay::fhir::Dialect::kV0_10));
    EXPECT_STREQ(to_string(Dialect::kV0_11), relay::fhir::to_string(relay::fhir::Dialect::kV0_11));
}

TEST(GeneratorSpec, DefaultsToOceanProductionHostAndAddServiceRequest) {
    ReferralSpec s;
    EXPECT_EQ(s.ocean_host, "https://ocean.cognisantmd.com");
    EXPECT_EQ(s.event, "add-service-request");
    EXPECT_EQ(s.attachment_bytes, 0u);
    EXPECT_FALSE(s.referral_ref.has_value());
}
