// Extractor on the real Ocean v0.11.1 payloads in tests/fixtures/ocean-fhir-v0.11.1.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>
#include <string_view>

#include "fhir_test_util.hpp"
#include "relay/fhir/extract.hpp"
#include "test_support.hpp"

using fhir_test::extract;
using fhir_test::facts_of;

namespace {

struct FixtureCase {
    const char* file;
    const char* referral_ref;
    const char* listing_ref;
    const char* message_header_id;
    const char* bundle_id;
};

void PrintTo(const FixtureCase& c, std::ostream* os) {
    *os << c.file;
}

const FixtureCase kCases[] = {
    {"ereferral_back_pain.bundle.json",
     "71db1a5c-89ce-41d5-bc71-8466f6c2f182",
     "autorouter_test49721437",
     "fdd94a37-22a7-41ce-8140-6604a1f10908",
     "7ea1dd78-8b77-4f8b-968b-d6ab36391350"},
    {"ereferral_miscellaneous.bundle.json",
     "09eb136e-fcdb-454f-8cd7-a415c19cda40",
     "ocean_autorouter_loc80783874",
     "638d6ac1-26ef-4f5b-a62f-633992b62070",
     "ddeb0003-f1f5-4c72-b73a-e7757887ccf8"},
};

std::string fixture(const char* file) {
    return relay::test::read_fixture(std::string("ocean-fhir-v0.11.1/") + file);
}

// Bundle.entry[0].resource.id as read by simdjson's DOM parser, independently of the extractor.
std::string message_header_id_in(const std::string& json) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc = parser.parse(json);
    return std::string(std::string_view(doc["entry"].at(0)["resource"]["id"]));
}

class OceanFixture : public ::testing::TestWithParam<FixtureCase> {
   protected:
    void SetUp() override { RELAY_REQUIRE_EXTRACTOR_CPU(); }
};

}  // namespace

TEST_P(OceanFixture, ExtractsTheRoutingFacts) {
    const FixtureCase& c = GetParam();
    const auto facts = facts_of(extract(fixture(c.file)));
    EXPECT_EQ(facts.event_code, "add-service-request");
    EXPECT_EQ(facts.referral_ref, c.referral_ref);
    EXPECT_EQ(facts.referral_ref_source, relay::fhir::ReferralRefSource::kReferralIdentifierExtension);
    EXPECT_EQ(facts.dialect, relay::fhir::Dialect::kV0_11);
    EXPECT_EQ(facts.listing_ref, c.listing_ref);
    EXPECT_EQ(facts.site_number, "1234");
    EXPECT_EQ(facts.external_service_id, "") << "no External Service ID is set on these listings";
    EXPECT_EQ(facts.message_header_id, c.message_header_id);
    EXPECT_EQ(facts.bundle_id, c.bundle_id);
}

TEST_P(OceanFixture, MessageHeaderIdIsTheOneInTheFile) {
    const std::string json = fixture(GetParam().file);
    EXPECT_EQ(facts_of(extract(json)).message_header_id, message_header_id_in(json));
}

TEST_P(OceanFixture, StrictAndLenientModesAgree) {
    const std::string json = fixture(GetParam().file);
    const auto strict = facts_of(extract(json, true));
    const auto lenient = facts_of(extract(json, false));
    EXPECT_EQ(strict.referral_ref, lenient.referral_ref);
    EXPECT_EQ(strict.listing_ref, lenient.listing_ref);
    EXPECT_EQ(strict.site_number, lenient.site_number);
    EXPECT_EQ(strict.message_header_id, lenient.message_header_id);
}

TEST_P(OceanFixture, PaddedInputGivesTheSameFactsAsUnpadded) {
    const std::string json = fixture(GetParam().file);
    simdjson::padded_string padded(json);
    relay::fhir::Extractor extractor;
    const auto facts = facts_of(extractor.extract(padded));
    EXPECT_EQ(facts.referral_ref, GetParam().referral_ref);
    EXPECT_EQ(facts.listing_ref, GetParam().listing_ref);
}

TEST_P(OceanFixture, OneExtractorCanBeReusedForManyBodies) {
    relay::fhir::Extractor extractor;
    const std::string json = fixture(GetParam().file);
    for (int i = 0; i < 3; ++i) {
        const auto facts = facts_of(extractor.extract_unpadded(json));
        EXPECT_EQ(facts.referral_ref, GetParam().referral_ref) << "round " << i;
        // A rejected body in between must not disturb the next extraction.
        EXPECT_TRUE(std::holds_alternative<relay::fhir::ExtractError>(extractor.extract_unpadded("[1,2]")));
    }
}

INSTANTIATE_TEST_SUITE_P(OceanFhirV0_11_1, OceanFixture, ::testing::ValuesIn(kCases), [](const auto& info) {
    return info.index == 0 ? std::string("back_pain") : std::string("miscellaneous");
});

TEST(OceanFixtures, EveryFixtureIsAnAddServiceRequestForSite1234) {
    RELAY_REQUIRE_EXTRACTOR_CPU();
    const auto fixtures = relay::test::ocean_fixtures();
    ASSERT_EQ(fixtures.size(), 2u);
    for (const auto& [name, json] : fixtures) {
        const auto facts = facts_of(extract(json));
        EXPECT_EQ(facts.event_code, "add-service-request") << name;
        EXPECT_EQ(facts.site_number, "1234") << name;
        EXPECT_EQ(facts.dialect, relay::fhir::Dialect::kV0_11) << name;
        EXPECT_FALSE(facts.referral_ref.empty()) << name;
    }
}

TEST(OceanFixtures, TruncatedFixtureIsInvalidJsonInBothModes) {
    RELAY_REQUIRE_EXTRACTOR_CPU();
    const std::string json = fixture("ereferral_back_pain.bundle.json");
    for (std::size_t cut : {json.size() / 4, json.size() / 2, json.size() - 2}) {
        for (bool strict : {true, false}) {
            const auto error = fhir_test::error_of(extract(json.substr(0, cut), strict));
            EXPECT_EQ(error.code, relay::fhir::ExtractErrorCode::kInvalidJson)
                << "cut " << cut << " strict " << strict;
        }
    }
}

TEST(FhirKernel, NamesTheSimdjsonKernelAndTheCpuCanRunIt) {
    EXPECT_NE(std::string(relay::fhir::kernel_name()), "");
    EXPECT_TRUE(relay::fhir::cpu_supported()) << "this test machine is expected to run the extractor";
}

TEST(FhirKernel, ExtractorBuiltForX86_64V3UsesTheHaswellKernel) {
    if (std::string_view(RELAY_TEST_ONDEMAND_ARCH) != "x86-64-v3")
        GTEST_SKIP() << "extractor not built for x86-64-v3";
    // Regression test for a bug this suite found (now fixed).
    EXPECT_STREQ(relay::fhir::kernel_name(), "haswell");
}
