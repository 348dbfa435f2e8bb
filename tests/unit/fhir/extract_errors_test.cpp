// Extractor rejections: every ExtractErrorCode with its FHIRPath-like expression, strict vs lenient
// JSON checking, and no payload value in any error.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "fhir_test_util.hpp"
#include "relay/fhir/extract.hpp"

using fhir_test::entry;
using fhir_test::error_of;
using fhir_test::extract;
using fhir_test::facts_of;
using fhir_test::message_bundle;
using fhir_test::message_header;
using relay::fhir::ExtractErrorCode;

namespace {

constexpr const char* kMarker = "ZZPHIMARKER7731";

class ExtractorErrorTest : public ::testing::Test {
   protected:
    void SetUp() override { RELAY_REQUIRE_EXTRACTOR_CPU(); }
};

// A valid message bundle with a Patient whose name and health number are the marker.
std::string valid_bundle() {
    return message_bundle({entry(message_header()),
                           entry(fhir_test::patient(kMarker)),
                           entry(R"({"resourceType":"ServiceRequest","id":"sr-1"})")});
}

}  // namespace

// --- not JSON -----------------------------------------------------------------------------------

TEST_F(ExtractorErrorTest, EmptyBodyIsInvalidJson) {
    EXPECT_EQ(error_of(extract("")).code, ExtractErrorCode::kInvalidJson);
    EXPECT_EQ(error_of(extract("   ")).code, ExtractErrorCode::kInvalidJson);
}

TEST_F(ExtractorErrorTest, TruncatedBodyIsInvalidJson) {
    const std::string json = valid_bundle();
    for (bool strict : {true, false}) {
        const auto error = error_of(extract(json.substr(0, json.size() / 2), strict));
        EXPECT_EQ(error.code, ExtractErrorCode::kInvalidJson) << "strict " << strict;
        EXPECT_FALSE(error.message.empty());
    }
}

TEST_F(ExtractorErrorTest, MalformedObjectIsInvalidJson) {
    for (bool strict : {true, false}) {
        EXPECT_EQ(error_of(extract("{resourceType: Bundle}", strict)).code, ExtractErrorCode::kInvalidJson)
            << strict;
        EXPECT_EQ(error_of(extract(R"({"resourceType":"Bundle)", strict)).code,
                  ExtractErrorCode::kInvalidJson)
            << strict;
        EXPECT_EQ(error_of(extract(R"("abc)", strict)).code, ExtractErrorCode::kInvalidJson) << strict;
    }
}

TEST_F(ExtractorErrorTest, NonJsonBodyIsInvalidJsonWhenStrict) {
    // Regression test for a bug this suite found (now fixed).
    for (const char* body : {"<Bundle/>", "[1,2", "nul", "42 43"}) {
        EXPECT_EQ(error_of(extract(body, true)).code, ExtractErrorCode::kInvalidJson) << body;
    }
}

TEST_F(ExtractorErrorTest, NonObjectBodyIsRejectedInBothModes) {
    for (const char* body : {"<Bundle/>", "[1,2", "nul", "42 43", "[1,2]"}) {
        for (bool strict : {true, false}) {
            const auto result = extract(body, strict);
            ASSERT_TRUE(std::holds_alternative<relay::fhir::ExtractError>(result)) << body;
            const auto code = std::get<relay::fhir::ExtractError>(result).code;
            EXPECT_TRUE(code == ExtractErrorCode::kInvalidJson || code == ExtractErrorCode::kNotABundle)
                << body;
        }
    }
}

TEST_F(ExtractorErrorTest, TrailingGarbageIsInvalidJsonWhenStrict) {
    const auto error = error_of(extract("{} x", true));
    EXPECT_EQ(error.code, ExtractErrorCode::kInvalidJson);
    EXPECT_EQ(error.expression, "Bundle");
    EXPECT_EQ(error_of(extract(valid_bundle() + " x", true)).code, ExtractErrorCode::kInvalidJson);
    EXPECT_EQ(error_of(extract(valid_bundle() + "{}", true)).code, ExtractErrorCode::kInvalidJson);
}

TEST_F(ExtractorErrorTest, TrailingScalarGarbageIsRejectedEvenWhenLenient) {
    // simdjson's structural index notices a scalar after the root, so lenient mode rejects these too.
    EXPECT_EQ(error_of(extract("{} x", false)).code, ExtractErrorCode::kInvalidJson);
    EXPECT_EQ(error_of(extract(valid_bundle() + " x", false)).code, ExtractErrorCode::kInvalidJson);
    EXPECT_EQ(error_of(extract(valid_bundle() + " 1", false)).code, ExtractErrorCode::kInvalidJson);
    EXPECT_EQ(error_of(extract(valid_bundle() + "]", false)).code, ExtractErrorCode::kInvalidJson);
}

TEST_F(ExtractorErrorTest, TrailingBracesAreOnlyNoticedWhenStrict) {
    // The documented trade-off of strict_json=false: On-Demand validates only what it reads, so a
    // second object or a stray '}' after a valid bundle goes unnoticed; strict mode rejects both.
    EXPECT_EQ(facts_of(extract(valid_bundle() + "{}", false)).referral_ref, "sr-1");
    EXPECT_EQ(facts_of(extract(valid_bundle() + "}", false)).referral_ref, "sr-1");
    EXPECT_EQ(error_of(extract(valid_bundle() + "}", true)).code, ExtractErrorCode::kInvalidJson);
    EXPECT_EQ(error_of(extract(R"({"a":1}})", true)).code, ExtractErrorCode::kInvalidJson);
}

TEST_F(ExtractorErrorTest, MismatchedBracketsInASkippedResourceAreInvalidJsonWhenStrict) {
    const std::string json = message_bundle({entry(message_header()),
                                             entry(R"({"resourceType":"Patient","x":[1,2})"),
                                             entry(R"({"resourceType":"ServiceRequest","id":"sr-1"})")});
    const auto error = error_of(extract(json, true));
    EXPECT_EQ(error.code, ExtractErrorCode::kInvalidJson);
}

TEST_F(ExtractorErrorTest, MismatchedBracketsInASkippedResourceWhenLenient) {
    // Lenient mode (strict_json=false) still notices "[1,2}" because On-Demand loses its place in the
    // structure; it names the entry being read.
    const std::string json = message_bundle({entry(message_header()),
                                             entry(R"({"resourceType":"Patient","x":[1,2})"),
                                             entry(R"({"resourceType":"ServiceRequest","id":"sr-1"})")});
    const auto error = error_of(extract(json, false));
    EXPECT_EQ(error.code, ExtractErrorCode::kInvalidJson);
    EXPECT_TRUE(error.expression.starts_with("Bundle.entry[1]")) << error.expression;
}

TEST_F(ExtractorErrorTest, ObjectClosedByABracketInASkippedValueIsOnlyCaughtWhenStrict) {
    // The documented trade-off of strict_json=false: {"a":1] inside a value nobody reads is skipped
    // by bracket counting and the bundle is accepted; strict mode rejects it.
    const std::string json = message_bundle({entry(message_header()),
                                             entry(R"({"resourceType":"Patient","x":{"a":1]})"),
                                             entry(R"({"resourceType":"ServiceRequest","id":"sr-1"})")});
    EXPECT_EQ(error_of(extract(json, true)).code, ExtractErrorCode::kInvalidJson);
    EXPECT_EQ(facts_of(extract(json, false)).referral_ref, "sr-1");
}

// --- not a Bundle / not a message ---------------------------------------------------------------

TEST_F(ExtractorErrorTest, TopLevelArrayIsNotABundle) {
    const auto error = error_of(extract("[" + valid_bundle() + "]"));
    EXPECT_EQ(error.code, ExtractErrorCode::kNotABundle);
    EXPECT_EQ(error.expression, "Bundle");
}

TEST_F(ExtractorErrorTest, TopLevelScalarIsNotABundle) {
    EXPECT_EQ(error_of(extract(R"("Bundle")")).code, ExtractErrorCode::kNotABundle);
    EXPECT_EQ(error_of(extract("42")).code, ExtractErrorCode::kNotABundle);
}

TEST_F(ExtractorErrorTest, PatientResourceIsNotABundle) {
    const auto error = error_of(extract(fhir_test::patient(kMarker)));
    EXPECT_EQ(error.code, ExtractErrorCode::kNotABundle);
    EXPECT_EQ(error.expression, "Bundle.resourceType");
}

TEST_F(ExtractorErrorTest, MissingResourceTypeIsNotABundle) {
    const auto error = error_of(extract(R"({"type":"message","entry":[)" + entry(message_header()) + "]}"));
    EXPECT_EQ(error.code, ExtractErrorCode::kNotABundle);
    EXPECT_EQ(error.expression, "Bundle.resourceType");
}

TEST_F(ExtractorErrorTest, CollectionBundleIsNotAMessage) {
    const auto error = error_of(extract(R"({"resourceType":"Bundle","type":"collection","entry":[)" +
                                        entry(message_header()) + "]}"));
    EXPECT_EQ(error.code, ExtractErrorCode::kNotAMessage);
    EXPECT_EQ(error.expression, "Bundle.type");
}

TEST_F(ExtractorErrorTest, BundleWithoutTypeIsNotAMessage) {
    EXPECT_EQ(
        error_of(extract(R"({"resourceType":"Bundle","entry":[)" + entry(message_header()) + "]}")).code,
        ExtractErrorCode::kNotAMessage);
}

// --- no MessageHeader ---------------------------------------------------------------------------

TEST_F(ExtractorErrorTest, BundleWithoutEntryHasNoMessageHeader) {
    const auto error = error_of(extract(R"({"resourceType":"Bundle","type":"message"})"));
    EXPECT_EQ(error.code, ExtractErrorCode::kNoMessageHeader);
    EXPECT_EQ(error.expression, "Bundle.entry");
}

TEST_F(ExtractorErrorTest, EmptyEntryListHasNoMessageHeader) {
    const auto error = error_of(extract(R"({"resourceType":"Bundle","type":"message","entry":[]})"));
    EXPECT_EQ(error.code, ExtractErrorCode::kNoMessageHeader);
    EXPECT_EQ(error.expression, "Bundle.entry");
}

TEST_F(ExtractorErrorTest, FirstEntryPatientHasNoMessageHeader) {
    const auto error =
        error_of(extract(message_bundle({entry(fhir_test::patient(kMarker)), entry(message_header())})));
    EXPECT_EQ(error.code, ExtractErrorCode::kNoMessageHeader);
    EXPECT_EQ(error.expression, "Bundle.entry[0].resource.resourceType");
}

TEST_F(ExtractorErrorTest, FirstEntryWithoutResourceHasNoMessageHeader) {
    const auto error =
        error_of(extract(message_bundle({R"({"fullUrl":"urn:uuid:x"})", entry(message_header())})));
    EXPECT_EQ(error.code, ExtractErrorCode::kNoMessageHeader);
    EXPECT_EQ(error.expression, "Bundle.entry[0].resource.resourceType");
}

// --- no event code ------------------------------------------------------------------------------

TEST_F(ExtractorErrorTest, MessageHeaderWithoutEventCodingHasNoEventCode) {
    const auto error =
        error_of(extract(message_bundle({entry(R"({"resourceType":"MessageHeader","id":"mh-1"})")})));
    EXPECT_EQ(error.code, ExtractErrorCode::kNoEventCode);
    EXPECT_EQ(error.expression, "Bundle.entry[0].resource.eventCoding.code");
}

TEST_F(ExtractorErrorTest, EventCodingWithoutCodeHasNoEventCode) {
    const auto error = error_of(extract(message_bundle({entry(
        R"({"resourceType":"MessageHeader","eventCoding":{"system":"https://ehealthontario.ca/fhir/CodeSystem/message-event-code"}})")})));
    EXPECT_EQ(error.code, ExtractErrorCode::kNoEventCode);
    EXPECT_EQ(error.expression, "Bundle.entry[0].resource.eventCoding.code");
}

TEST_F(ExtractorErrorTest, EmptyEventCodeHasNoEventCode) {
    EXPECT_EQ(error_of(extract(message_bundle(
                           {entry(R"({"resourceType":"MessageHeader","eventCoding":{"code":""}})")})))
                  .code,
              ExtractErrorCode::kNoEventCode);
}

// --- wrong JSON types ---------------------------------------------------------------------------

TEST_F(ExtractorErrorTest, EntryThatIsAStringIsAnUnexpectedType) {
    const auto error = error_of(extract(R"({"resourceType":"Bundle","type":"message","entry":"x"})"));
    EXPECT_EQ(error.code, ExtractErrorCode::kUnexpectedType);
    EXPECT_TRUE(error.expression.starts_with("Bundle.entry")) << error.expression;
}

TEST_F(ExtractorErrorTest, EntryThatIsAStringIsLocatedAtBundleEntry) {
    // Regression test for a bug this suite found (now fixed).
    const auto error = error_of(extract(R"({"resourceType":"Bundle","type":"message","entry":"x"})"));
    EXPECT_EQ(error.expression, "Bundle.entry");
}

TEST_F(ExtractorErrorTest, EntryItemThatIsANumberIsAnUnexpectedType) {
    const auto error = error_of(extract(message_bundle({entry(message_header()), "1"})));
    EXPECT_EQ(error.code, ExtractErrorCode::kUnexpectedType);
    EXPECT_EQ(error.expression, "Bundle.entry[1]");
}

TEST_F(ExtractorErrorTest, ResourceTypeThatIsANumberIsAnUnexpectedType) {
    const auto error = error_of(extract(R"({"resourceType":5,"type":"message"})"));
    EXPECT_EQ(error.code, ExtractErrorCode::kUnexpectedType);
    EXPECT_EQ(error.expression, "Bundle.resourceType");
}

TEST_F(ExtractorErrorTest, IdentifierValueThatIsANumberNamesTheEntryAndField) {
    const std::string role =
        R"({"resourceType":"PractitionerRole","identifier":[{"system":"x","value":1234}]})";
    const auto error = error_of(
        extract(message_bundle({entry(message_header()), entry(fhir_test::patient(kMarker)), entry(role)})));
    EXPECT_EQ(error.code, ExtractErrorCode::kUnexpectedType);
    EXPECT_EQ(error.expression, "Bundle.entry[2].resource.identifier");
}

TEST_F(ExtractorErrorTest, EventCodingThatIsAStringIsAnUnexpectedType) {
    const auto error = error_of(extract(
        message_bundle({entry(R"({"resourceType":"MessageHeader","eventCoding":"add-service-request"})")})));
    EXPECT_EQ(error.code, ExtractErrorCode::kUnexpectedType);
    EXPECT_EQ(error.expression, "Bundle.entry[0].resource.eventCoding");
}

TEST_F(ExtractorErrorTest, FullUrlThatIsAnObjectIsAnUnexpectedType) {
    const auto error =
        error_of(extract(message_bundle({R"({"fullUrl":{},"resource":)" + message_header() + "}"})));
    EXPECT_EQ(error.code, ExtractErrorCode::kUnexpectedType);
    EXPECT_EQ(error.expression, "Bundle.entry[0].fullUrl");
}

// --- error text ---------------------------------------------------------------------------------

TEST_F(ExtractorErrorTest, NoErrorEverRepeatsAPayloadValue) {
    const std::string p = fhir_test::patient(kMarker);
    const std::string mh = message_header();
    const std::vector<std::pair<std::string, std::string>> bodies = {
        {"truncated after the marker", valid_bundle().substr(0, valid_bundle().find(kMarker) + 8)},
        {"trailing garbage", valid_bundle() + std::string(" ") + kMarker},
        {"patient at top level", p},
        {"array", "[" + p + "]"},
        {"collection", R"({"resourceType":"Bundle","type":"collection","entry":[)" + entry(p) + "]}"},
        {"type is the marker",
         std::string(R"({"resourceType":"Bundle","type":")") + kMarker + R"(","entry":[)" + entry(p) + "]}"},
        {"resourceType is the marker",
         std::string(R"({"resourceType":")") + kMarker + R"(","type":"message"})"},
        {"first entry patient", message_bundle({entry(p), entry(mh)})},
        {"no event code", message_bundle({entry(R"({"resourceType":"MessageHeader"})"), entry(p)})},
        {"wrong type after patient",
         message_bundle({entry(mh), entry(p), entry(R"({"resourceType":"X","identifier":[{"value":7}]})")})},
        {"marker as a key",
         message_bundle(
             {entry(mh), entry(std::string(R"({"resourceType":"Patient",")") + kMarker + R"(":[1,2})")})},
        {"unquoted marker",
         message_bundle(
             {entry(mh), entry(std::string(R"({"resourceType":"Patient","name":)") + kMarker + "}")})},
    };
    for (const auto& [name, body] : bodies) {
        for (bool strict : {true, false}) {
            const auto result = extract(body, strict);
            if (!strict && std::holds_alternative<relay::fhir::InboundFacts>(result))
                continue;  // lenient skips unread values
            ASSERT_TRUE(std::holds_alternative<relay::fhir::ExtractError>(result))
                << name << " strict " << strict;
            const auto& error = std::get<relay::fhir::ExtractError>(result);
            EXPECT_EQ(error.message.find(kMarker), std::string::npos) << name << ": " << error.message;
            EXPECT_EQ(error.expression.find(kMarker), std::string::npos) << name << ": " << error.expression;
            EXPECT_FALSE(error.message.empty()) << name;
        }
    }
}

TEST(ExtractErrorCode, NamesAreStable) {
    EXPECT_STREQ(relay::fhir::to_string(ExtractErrorCode::kInvalidJson), "invalid_json");
    EXPECT_STREQ(relay::fhir::to_string(ExtractErrorCode::kNotABundle), "not_a_bundle");
    EXPECT_STREQ(relay::fhir::to_string(ExtractErrorCode::kNotAMessage), "not_a_message_bundle");
    EXPECT_STREQ(relay::fhir::to_string(ExtractErrorCode::kNoMessageHeader), "no_message_header");
    EXPECT_STREQ(relay::fhir::to_string(ExtractErrorCode::kNoEventCode), "no_event_code");
    EXPECT_STREQ(relay::fhir::to_string(ExtractErrorCode::kUnexpectedType), "unexpected_json_type");
    EXPECT_STREQ(relay::fhir::to_string(relay::fhir::Dialect::kV0_10), "0.10");
    EXPECT_STREQ(relay::fhir::to_string(relay::fhir::Dialect::kV0_11), "0.11");
    EXPECT_STREQ(relay::fhir::to_string(relay::fhir::ReferralRefSource::kReferralIdentifierExtension),
                 "ext-referral-identifier");
}

// --- facts that reach Kafka keys, headers and logs are bounded and charset-checked ------------

namespace {

std::string bundle_with_ref(const std::string& ref) {
    return message_bundle({entry(message_header()),
                           entry(R"({"resourceType":"ServiceRequest","id":"sr-1","identifier":[)" +
                                 fhir_test::identifier(fhir_test::naming_system("id-ereferral-reference"), ref) + "]}")});
}

std::string bundle_with_target(const std::string& listing, const std::string& site, const std::string& service) {
    return message_bundle(
        {entry(message_header(R"("destination":[{"receiver":{"reference":"PractitionerRole/pr-1"}}])")),
         entry(R"({"resourceType":"ServiceRequest","id":"sr-1"})"),
         entry(R"({"resourceType":"PractitionerRole","id":"pr-1","identifier":[)" +
               fhir_test::identifier(fhir_test::naming_system("id-referral-target-reference"), listing) + "," +
               fhir_test::identifier(fhir_test::naming_system("id-site-number"), site) + "," +
               fhir_test::identifier(fhir_test::naming_system("id-referral-target-external-service"), service) +
               "]}")});
}

}  // namespace

TEST_F(ExtractorErrorTest, ReferralRefsOutsideTheSafeSetAreRefusedWithoutRepeatingThem) {
    EXPECT_EQ(facts_of(extract(bundle_with_ref("09eb136e-fcdb-454f-8cd7-a415c19cda40"))).referral_ref,
              "09eb136e-fcdb-454f-8cd7-a415c19cda40");
    const std::vector<std::string> bad = {R"(a\nb)", R"(quo\"te)", R"(esc\u001b[31m)", R"(nul\u0000)", ".", "..",
                                          "has space", std::string(129, 'r'), std::string(1 << 20, 'r'),
                                          kMarker + std::string(" x")};
    for (const auto& ref : bad) {
        const auto error = error_of(extract(bundle_with_ref(ref)));
        EXPECT_EQ(error.code, ExtractErrorCode::kInvalidFact) << ref.substr(0, 40);
        EXPECT_EQ(error.expression, "ServiceRequest.identifier.value");
        EXPECT_EQ(error.message.find(kMarker), std::string::npos);
        EXPECT_LT(error.message.size(), 200U);
    }
}

TEST_F(ExtractorErrorTest, SiteListingAndServiceIdAreBounded) {
    const auto ok = facts_of(extract(bundle_with_target("bayshore_healthcare-73632721", "1234", "Santé mentale")));
    EXPECT_EQ(ok.listing_ref, "bayshore_healthcare-73632721");
    EXPECT_EQ(ok.site_number, "1234");
    EXPECT_EQ(ok.external_service_id, "Santé mentale");
    EXPECT_EQ(facts_of(extract(bundle_with_target("l-1", "1234", R"(svc \"quoted\")"))).external_service_id,
              "svc \"quoted\"");
    EXPECT_EQ(error_of(extract(bundle_with_target("listing 1", "1234", "Test"))).code, ExtractErrorCode::kInvalidFact);
    EXPECT_EQ(error_of(extract(bundle_with_target("l-1", "12a4", "Test"))).code, ExtractErrorCode::kInvalidFact);
    EXPECT_EQ(error_of(extract(bundle_with_target("l-1", "1234", R"(Te\nst)"))).code, ExtractErrorCode::kInvalidFact);
    EXPECT_EQ(error_of(extract(bundle_with_target("l-1", "1234", R"(Te\u0085st)"))).code, ExtractErrorCode::kInvalidFact);
    EXPECT_EQ(error_of(extract(bundle_with_target("l-1", "1234", std::string(129, 's')))).code,
              ExtractErrorCode::kInvalidFact);
}

TEST_F(ExtractorErrorTest, EventCodesAreFhirCodes) {
    auto with_event = [](const std::string& code) {
        return message_bundle({entry(R"({"resourceType":"MessageHeader","id":"mh-1","eventCoding":{"code":")" + code +
                                     R"("}})"),
                               entry(R"({"resourceType":"ServiceRequest","id":"sr-1"})")});
    };
    EXPECT_EQ(facts_of(extract(with_event("some-future-event"))).event_code, "some-future-event");
    for (const std::string& bad :
         std::vector<std::string>{"Add Service", R"(add\nservice)", "add_service", std::string(65, 'a')}) {
        const auto error = error_of(extract(with_event(bad)));
        EXPECT_EQ(error.code, ExtractErrorCode::kInvalidFact) << bad;
        EXPECT_EQ(error.expression, "Bundle.entry[0].resource.eventCoding.code");
    }
}

TEST_F(ExtractorErrorTest, DuplicateMembersTheRelayReadsAreRefused) {
    // Two readers of JSON may take the first or the last of a repeated member: refused, so the ingress
    // and the router can never disagree on a referral's ref, event or target.
    const std::vector<std::string> bundles = {
        R"({"resourceType":"Bundle","type":"message","type":"collection","entry":[]})",
        message_bundle({entry(R"({"resourceType":"MessageHeader","id":"mh-1","eventCoding":{"code":"a","code":"b"}})")}),
        message_bundle({entry(message_header()),
                        entry(R"({"resourceType":"ServiceRequest","id":"sr-1","id":"sr-2"})")}),
        message_bundle({entry(message_header()),
                        entry(R"({"resourceType":"ServiceRequest","id":"sr-1","identifier":[{"system":")" +
                              fhir_test::naming_system("id-ereferral-reference") + R"(","value":"r-1","value":"r-2"}]})")}),
    };
    for (const auto& json : bundles) {
        for (bool strict : {true, false}) {
            EXPECT_EQ(error_of(extract(json, strict)).code, ExtractErrorCode::kDuplicateKey) << json;
        }
    }
    // Members the relay does not read may repeat (JSON allows it; FHIR validators judge them).
    EXPECT_EQ(facts_of(extract(message_bundle({entry(message_header(R"("text":"a","text":"b")")),
                                               entry(R"({"resourceType":"ServiceRequest","id":"sr-1"})")})))
                  .referral_ref,
              "sr-1");
}

TEST_F(ExtractorErrorTest, NumbersOfAnySizeAndExponentAreValidJson) {
    for (const std::string& number : std::vector<std::string>{"18446744073709551616", "123456789012345678901234567890", "1e309", "-1e309",
                                     "-9223372036854775809", "1E+400", "0.1e-400"}) {
        const std::string json = message_bundle(
            {entry(message_header()),
             entry(R"({"resourceType":"ServiceRequest","id":"sr-1","extension":[{"url":"x","valueDecimal":)" + number +
                   "}]}"),
             entry(R"({"resourceType":"Observation","valueQuantity":{"value":)" + number + "}}")});
        EXPECT_EQ(facts_of(extract(json, true)).referral_ref, "sr-1") << number;
    }
    // Not numbers by the grammar stay malformed.
    for (const std::string& bad : std::vector<std::string>{"01", "1.", "-", "1e", "+1", ".5"}) {
        const std::string json = message_bundle(
            {entry(message_header()), entry(R"({"resourceType":"Observation","valueQuantity":{"value":)" + bad + "}}")});
        EXPECT_EQ(error_of(extract(json, true)).code, ExtractErrorCode::kInvalidJson) << bad;
    }
}
