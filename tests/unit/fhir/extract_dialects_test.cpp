// Extractor on hand-written bundles: the v0.10.0 dialect (ocean-api.md §3.3), the referral-ref fallback
// order, reference resolution, identifier-system matching and JSON field order.
#include <gtest/gtest.h>

#include <string>

#include "fhir_test_util.hpp"
#include "relay/fhir/extract.hpp"

using fhir_test::entry;
using fhir_test::extract;
using fhir_test::facts_of;
using fhir_test::identifier;
using fhir_test::message_bundle;
using fhir_test::message_header;
using fhir_test::naming_system;
using relay::fhir::Dialect;
using relay::fhir::ReferralRefSource;

namespace {

constexpr const char* kReferralRef = "36739a27-0a88-455f-a6c9-13eb45e02efc";
constexpr const char* kListingRef = "bayshore_healthcare-73632721";
constexpr const char* kExtIdMessageHeader =
    "http://ehealthontario.ca/fhir/StructureDefinition/ext-id-message-header";
constexpr const char* kExtReferralIdentifier =
    "http://ehealthontario.ca/fhir/StructureDefinition/ext-referral-identifier";

std::string ext_id_message_header(const std::string& value) {
    return R"("extension":[{"url":")" + std::string(kExtIdMessageHeader) + R"(","valueString":")" + value +
           R"("}])";
}

std::string external_service(const std::string& value) {
    return identifier(naming_system("id-referral-target-external-service"), value);
}

// The target listing as v0.10 sends it: a PractitionerRole with listing ref and site number, and
// optionally the External Service ID.
std::string target_role(const std::string& id,
                        bool with_external_service,
                        const std::string& listing = kListingRef) {
    std::string identifiers = identifier(naming_system("id-referral-target-reference"), listing) + "," +
                              identifier(naming_system("id-site-number"), "2998");
    if (with_external_service) identifiers += "," + external_service("Test");
    return R"({"resourceType":"PractitionerRole","id":")" + id + R"(","identifier":[)" + identifiers + "]}";
}

// The referrer's PractitionerRole: no listing identifiers.
std::string referrer_role() {
    return R"({"resourceType":"PractitionerRole","id":"referrer-role","identifier":[)" +
           identifier("http://infoway-inforoute.ca/fhir/NamingSystem/ca-on-license-physician", "12345") +
           "]}";
}

std::string service_request(const std::string& id, const std::string& more = "") {
    std::string out =
        R"({"resourceType":"ServiceRequest","id":")" + id + R"(","status":"active","intent":"proposal")";
    if (!more.empty()) out += "," + more;
    return out + "}";
}

// A v0.10.0-shaped add-service-request (no fullUrl, ids, Type/id references, ext-id-message-header).
// `receiver_extra` and `performer_extra` are added inside destination[0].receiver and performer[0].
std::string v0_10_bundle(bool external_service_on_role,
                         const std::string& receiver_extra = "",
                         const std::string& performer_extra = "") {
    const std::string header = message_header(
        ext_id_message_header(kReferralRef) +
        R"(,"destination":[{"endpoint":"https://relay.example/ocean/2998/fhir","receiver":{"reference":"PractitionerRole/target-role")" +
        receiver_extra + R"(}}],"sender":{"reference":"Organization/cognisant-md"},)" +
        R"("focus":[{"reference":"ServiceRequest/)" + kReferralRef + R"("}])");
    const std::string sr = service_request(
        kReferralRef,
        R"("identifier":[)" + identifier(naming_system("id-ereferral-reference"), kReferralRef) +
            R"(],"performer":[{"reference":"PractitionerRole/target-role")" + performer_extra + "}]");
    return message_bundle({entry(header),
                           entry(fhir_test::patient("Doe")),
                           entry(referrer_role()),
                           entry(sr),
                           entry(target_role("target-role", external_service_on_role))});
}

class ExtractorTest : public ::testing::Test {
   protected:
    void SetUp() override { RELAY_REQUIRE_EXTRACTOR_CPU(); }
};

}  // namespace

// --- v0.10.0 ------------------------------------------------------------------------------------

TEST_F(ExtractorTest, V0_10BundleResolvesEveryFact) {
    const auto facts = facts_of(extract(v0_10_bundle(true)));
    EXPECT_EQ(facts.dialect, Dialect::kV0_10);
    EXPECT_EQ(facts.event_code, "add-service-request");
    EXPECT_EQ(facts.referral_ref, kReferralRef);
    EXPECT_EQ(facts.referral_ref_source, ReferralRefSource::kMessageHeaderIdExtension);
    EXPECT_EQ(facts.listing_ref, kListingRef);
    EXPECT_EQ(facts.site_number, "2998");
    EXPECT_EQ(facts.external_service_id, "Test");
    EXPECT_EQ(facts.message_header_id, "mh-1");
    EXPECT_EQ(facts.bundle_id, "bundle-1");
}

TEST_F(ExtractorTest, V0_10ExternalServiceIdOnlyOnTheReceiverIdentifier) {
    const auto facts =
        facts_of(extract(v0_10_bundle(false, R"(,"identifier":)" + external_service("Receiver-Svc"))));
    EXPECT_EQ(facts.dialect, Dialect::kV0_10);
    EXPECT_EQ(facts.external_service_id, "Receiver-Svc");
    EXPECT_EQ(facts.listing_ref, kListingRef);
    EXPECT_EQ(facts.site_number, "2998");
}

TEST_F(ExtractorTest, V0_10ExternalServiceIdOnlyOnTheServiceRequestPerformer) {
    const auto facts =
        facts_of(extract(v0_10_bundle(false, "", R"(,"identifier":)" + external_service("Performer-Svc"))));
    EXPECT_EQ(facts.dialect, Dialect::kV0_10);
    EXPECT_EQ(facts.external_service_id, "Performer-Svc");
    EXPECT_EQ(facts.listing_ref, kListingRef);
}

TEST_F(ExtractorTest, ExternalServiceIdOnTheTargetRoleWinsOverTheReferences) {
    const auto facts =
        facts_of(extract(v0_10_bundle(true,
                                      R"(,"identifier":)" + external_service("Receiver-Svc"),
                                      R"(,"identifier":)" + external_service("Performer-Svc"))));
    EXPECT_EQ(facts.external_service_id, "Test");
}

TEST_F(ExtractorTest, ReceiverIdentifierWinsOverPerformerIdentifier) {
    const auto facts =
        facts_of(extract(v0_10_bundle(false,
                                      R"(,"identifier":)" + external_service("Receiver-Svc"),
                                      R"(,"identifier":)" + external_service("Performer-Svc"))));
    EXPECT_EQ(facts.external_service_id, "Receiver-Svc");
}

TEST_F(ExtractorTest, NoExternalServiceIdAnywhereLeavesItEmpty) {
    EXPECT_EQ(facts_of(extract(v0_10_bundle(false))).external_service_id, "");
}

// --- referral ref fallback order (ocean-api.md §3.3 "Parser rule") --------------------------------

TEST_F(ExtractorTest, ReferralIdentifierExtensionWinsOverMessageHeaderIdExtension) {
    const std::string header =
        message_header(R"("extension":[{"url":")" + std::string(kExtIdMessageHeader) +
                       R"(","valueString":"from-v0-10-ext"},)" + R"({"url":")" + kExtReferralIdentifier +
                       R"(","valueIdentifier":)" +
                       identifier(naming_system("id-ereferral-reference"), "from-v0-11-ext") + "}]");
    const auto facts = facts_of(extract(message_bundle({entry(header), entry(service_request("sr-id"))})));
    EXPECT_EQ(facts.referral_ref, "from-v0-11-ext");
    EXPECT_EQ(facts.referral_ref_source, ReferralRefSource::kReferralIdentifierExtension);
    EXPECT_EQ(facts.dialect, Dialect::kV0_11);
}

TEST_F(ExtractorTest, ReferralIdentifierExtensionWithAnotherSystemIsIgnored) {
    const std::string header = message_header(
        R"("extension":[{"url":")" + std::string(kExtReferralIdentifier) + R"(","valueIdentifier":)" +
        identifier(naming_system("id-form-reference"), "not-a-referral") + "}]");
    const auto facts = facts_of(extract(message_bundle({entry(header), entry(service_request("sr-id"))})));
    EXPECT_EQ(facts.referral_ref, "sr-id");
    EXPECT_EQ(facts.referral_ref_source, ReferralRefSource::kServiceRequestId);
}

TEST_F(ExtractorTest, WithoutExtensionsTheServiceRequestIdentifierIsUsed) {
    const std::string sr =
        service_request("sr-resource-id",
                        R"("identifier":[)" + identifier("urn:other", "x") + "," +
                            identifier(naming_system("id-ereferral-reference"), "sr-identifier-value") + "]");
    const auto facts = facts_of(extract(message_bundle({entry(message_header()), entry(sr)})));
    EXPECT_EQ(facts.referral_ref, "sr-identifier-value");
    EXPECT_EQ(facts.referral_ref_source, ReferralRefSource::kServiceRequestIdentifier);
    EXPECT_EQ(facts.dialect, Dialect::kUnknown);
}

TEST_F(ExtractorTest, WithoutExtensionsOrIdentifierTheServiceRequestIdIsUsed) {
    const auto facts = facts_of(
        extract(message_bundle({entry(message_header()), entry(service_request("sr-resource-id"))})));
    EXPECT_EQ(facts.referral_ref, "sr-resource-id");
    EXPECT_EQ(facts.referral_ref_source, ReferralRefSource::kServiceRequestId);
}

TEST_F(ExtractorTest, WithoutAnyServiceRequestThereIsNoReferralRef) {
    const auto facts =
        facts_of(extract(message_bundle({entry(message_header()), entry(fhir_test::patient("Doe"))})));
    EXPECT_EQ(facts.referral_ref, "");
    EXPECT_EQ(facts.referral_ref_source, ReferralRefSource::kNone);
    EXPECT_EQ(facts.dialect, Dialect::kUnknown);
    EXPECT_EQ(facts.event_code, "add-service-request");
}

TEST_F(ExtractorTest, TheServiceRequestInFocusIsTheReferralNotTheFirstOne) {
    const auto facts = facts_of(
        extract(message_bundle({entry(message_header(R"("focus":[{"reference":"ServiceRequest/sr-2"}])")),
                                entry(service_request("sr-1")),
                                entry(service_request("sr-2"))})));
    EXPECT_EQ(facts.referral_ref, "sr-2");
}

TEST_F(ExtractorTest, FocusByUrnUuidMatchesTheEntryFullUrl) {
    const auto facts = facts_of(extract(message_bundle(
        {entry(message_header(R"("focus":[{"reference":"urn:uuid:bbbbbbbb-0000-0000-0000-000000000002"}])")),
         entry(R"({"resourceType":"ServiceRequest","identifier":[)" +
                   identifier(naming_system("id-ereferral-reference"), "ref-1") + "]}",
               "urn:uuid:aaaaaaaa-0000-0000-0000-000000000001"),
         entry(R"({"resourceType":"ServiceRequest","identifier":[)" +
                   identifier(naming_system("id-ereferral-reference"), "ref-2") + "]}",
               "urn:uuid:bbbbbbbb-0000-0000-0000-000000000002")})));
    EXPECT_EQ(facts.referral_ref, "ref-2");
}

TEST_F(ExtractorTest, AnEchoedTaskWithASingleFocusReferenceIsAccepted) {
    // Ocean's notify-update-service-request echoes the receiver's Task, whose focus is one Reference
    // (not an array like MessageHeader.focus): it must not make the bundle unreadable.
    const auto facts = facts_of(extract(message_bundle(
        {entry(message_header(R"("focus":[{"reference":"ServiceRequest/sr-2"}])")),
         entry(service_request("sr-2")),
         entry(R"({"resourceType":"Task","id":"t-1","status":"accepted","intent":"order",)"
               R"("focus":{"reference":"ServiceRequest/sr-1"}})")})));
    EXPECT_EQ(facts.referral_ref, "sr-2");
}

// --- reference resolution to the target listing -------------------------------------------------

namespace {

// Two listing PractitionerRoles (role-1 → listing-1, role-2 → listing-2); the MessageHeader's
// receiver is `receiver` (a JSON Reference object).
std::string two_listings_with_receiver(const std::string& receiver, const std::string& role2_full_url = "") {
    const std::string header = message_header(R"("destination":[{"receiver":)" + receiver + "}]");
    return message_bundle({entry(header),
                           entry(target_role("role-1", false, "listing-1")),
                           entry(target_role("role-2", false, "listing-2"), role2_full_url)});
}

}  // namespace

TEST_F(ExtractorTest, ReceiverByTypeAndId) {
    EXPECT_EQ(facts_of(extract(two_listings_with_receiver(R"({"reference":"PractitionerRole/role-2"})")))
                  .listing_ref,
              "listing-2");
}

TEST_F(ExtractorTest, ReceiverByBareId) {
    EXPECT_EQ(facts_of(extract(two_listings_with_receiver(R"({"reference":"role-2"})"))).listing_ref,
              "listing-2");
}

TEST_F(ExtractorTest, ReceiverByAbsoluteUrl) {
    EXPECT_EQ(
        facts_of(extract(two_listings_with_receiver(
                     R"({"reference":"https://test.cognisantmd.com/svc/fhir/v1/PractitionerRole/role-2"})")))
            .listing_ref,
        "listing-2");
}

TEST_F(ExtractorTest, ReceiverByFullUrl) {
    EXPECT_EQ(facts_of(extract(two_listings_with_receiver(
                           R"({"reference":"urn:uuid:0f0f0f0f-1111-2222-3333-444444444444"})",
                           "urn:uuid:0f0f0f0f-1111-2222-3333-444444444444")))
                  .listing_ref,
              "listing-2");
}

TEST_F(ExtractorTest, UrnUuidReferenceMatchesABareUuidFullUrl) {
    // Ocean writes the MessageHeader's fullUrl as a bare uuid; a role could be written the same way.
    EXPECT_EQ(facts_of(extract(two_listings_with_receiver(
                           R"({"reference":"urn:uuid:0f0f0f0f-1111-2222-3333-444444444444"})",
                           "0f0f0f0f-1111-2222-3333-444444444444")))
                  .listing_ref,
              "listing-2");
}

TEST_F(ExtractorTest, ReferenceToAnotherResourceTypeDoesNotResolve) {
    // "Location/role-2" is not the PractitionerRole role-2; with two listings and no other hint the
    // extractor does not guess.
    const auto facts = facts_of(extract(two_listings_with_receiver(R"({"reference":"Location/role-2"})")));
    EXPECT_EQ(facts.listing_ref, "");
    EXPECT_EQ(facts.site_number, "");
}

TEST_F(ExtractorTest, DanglingReceiverFallsBackToTheReferralPerformer) {
    const std::string header =
        message_header(R"("destination":[{"receiver":{"reference":"PractitionerRole/missing"}}])");
    const std::string sr =
        service_request("sr-1", R"("performer":[{"reference":"PractitionerRole/role-2"}])");
    const auto facts = facts_of(extract(message_bundle({entry(header),
                                                        entry(target_role("role-1", false, "listing-1")),
                                                        entry(sr),
                                                        entry(target_role("role-2", false, "listing-2"))})));
    EXPECT_EQ(facts.listing_ref, "listing-2");
}

TEST_F(ExtractorTest, WithoutReferencesTheOnlyListingRoleIsTheTarget) {
    const auto facts =
        facts_of(extract(message_bundle({entry(message_header()),
                                         entry(referrer_role()),
                                         entry(target_role("role-1", true, "only-listing"))})));
    EXPECT_EQ(facts.listing_ref, "only-listing");
    EXPECT_EQ(facts.site_number, "2998");
    EXPECT_EQ(facts.external_service_id, "Test");
}

TEST_F(ExtractorTest, WithoutReferencesTwoListingRolesAreAmbiguous) {
    const auto facts = facts_of(extract(message_bundle({entry(message_header()),
                                                        entry(target_role("role-1", false, "listing-1")),
                                                        entry(target_role("role-2", false, "listing-2"))})));
    EXPECT_EQ(facts.listing_ref, "");
}

TEST_F(ExtractorTest, ListingRefOnTheReceiverIdentifierIsTheLastResort) {
    const std::string header =
        message_header(R"("destination":[{"receiver":{"identifier":)" +
                       identifier(naming_system("id-referral-target-reference"), "receiver-listing") + "}}]");
    EXPECT_EQ(facts_of(extract(message_bundle({entry(header)}))).listing_ref, "receiver-listing");
}

// --- identifier systems -------------------------------------------------------------------------

TEST_F(ExtractorTest, IdentifierSystemsMatchOnTheLastSegmentWhateverTheHost) {
    for (const std::string host : {"https://ocean.cognisantmd.com",
                                   "https://test.cognisantmd.com",
                                   "https://staging.cognisantmd.com",
                                   "http://localhost:8081"}) {
        const std::string role = R"({"resourceType":"PractitionerRole","id":"r","identifier":[)" +
                                 identifier(naming_system("id-referral-target-reference", host), "L") + "," +
                                 identifier(naming_system("id-site-number", host), "4321") + "]}";
        const auto facts = facts_of(extract(message_bundle({entry(message_header()), entry(role)})));
        EXPECT_EQ(facts.listing_ref, "L") << host;
        EXPECT_EQ(facts.site_number, "4321") << host;
    }
}

TEST_F(ExtractorTest, ASystemThatOnlyEndsWithTheNameDoesNotMatch) {
    const std::string role = R"({"resourceType":"PractitionerRole","id":"r","identifier":[)" +
                             identifier(naming_system("id-referral-target-reference"), "L") + "," +
                             identifier(naming_system("xid-site-number"), "9999") + "," +
                             identifier("https://example.org/my-id-site-number", "8888") + "," +
                             identifier(naming_system("id-site-number-v2"), "7777") + "]}";
    EXPECT_EQ(facts_of(extract(message_bundle({entry(message_header()), entry(role)}))).site_number, "");
}

TEST_F(ExtractorTest, ARealSystemAfterALookalikeStillMatches) {
    const std::string role = R"({"resourceType":"PractitionerRole","id":"r","identifier":[)" +
                             identifier(naming_system("id-referral-target-reference"), "L") + "," +
                             identifier(naming_system("xid-site-number"), "9999") + "," +
                             identifier(naming_system("id-site-number"), "1234") + "]}";
    EXPECT_EQ(facts_of(extract(message_bundle({entry(message_header()), entry(role)}))).site_number, "1234");
}

TEST_F(ExtractorTest, EmptyIdentifierValuesAreSkipped) {
    const std::string role = R"({"resourceType":"PractitionerRole","id":"r","identifier":[)" +
                             identifier(naming_system("id-referral-target-reference"), "L") + "," +
                             identifier(naming_system("id-site-number"), "") + "," +
                             identifier(naming_system("id-site-number"), "5555") + "]}";
    EXPECT_EQ(facts_of(extract(message_bundle({entry(message_header()), entry(role)}))).site_number, "5555");
}

// --- JSON shape ---------------------------------------------------------------------------------

TEST_F(ExtractorTest, FieldOrderDoesNotMatter) {
    // resourceType last in every object, fullUrl after resource, Bundle.type before resourceType.
    const std::string json =
        std::string(R"({"entry":[)") +
        R"({"resource":{"focus":[{"reference":"urn:uuid:sr"}],)"
        R"("destination":[{"receiver":{"reference":"urn:uuid:role"}}],)"
        R"("eventCoding":{"code":"notify-update-service-request","system":"https://ehealthontario.ca/fhir/CodeSystem/message-event-code"},)"
        R"("extension":[{"valueIdentifier":{"value":"ref-x","system":")" +
        naming_system("id-ereferral-reference") + R"("},"url":")" + kExtReferralIdentifier +
        R"("}],"id":"mh-x","resourceType":"MessageHeader"},"fullUrl":"mh-x"},)"
        R"({"resource":{"identifier":[{"value":"listing-x","system":")" +
        naming_system("id-referral-target-reference") + R"("},{"value":"1111","system":")" +
        naming_system("id-site-number") +
        R"("}],"resourceType":"PractitionerRole"},"fullUrl":"urn:uuid:role"},)"
        R"({"resource":{"performer":[{"reference":"urn:uuid:role"}],"resourceType":"ServiceRequest"},"fullUrl":"urn:uuid:sr"}],)"
        R"("type":"message","id":"bundle-x","resourceType":"Bundle"})";
    const auto facts = facts_of(extract(json));
    EXPECT_EQ(facts.event_code, "notify-update-service-request");
    EXPECT_EQ(facts.referral_ref, "ref-x");
    EXPECT_EQ(facts.listing_ref, "listing-x");
    EXPECT_EQ(facts.site_number, "1111");
    EXPECT_EQ(facts.message_header_id, "mh-x");
    EXPECT_EQ(facts.bundle_id, "bundle-x");
}

TEST_F(ExtractorTest, MessageHeaderWithoutIdIsIdentifiedByItsFullUrl) {
    const std::string header =
        R"({"resourceType":"MessageHeader","eventCoding":{"code":"add-service-request"}})";
    EXPECT_EQ(facts_of(extract(message_bundle({entry(header, "638d6ac1-26ef-4f5b-a62f-633992b62070")})))
                  .message_header_id,
              "638d6ac1-26ef-4f5b-a62f-633992b62070");
}

TEST_F(ExtractorTest, QuestionnaireResponseIdentifierAsASingleObjectIsAccepted) {
    const std::string qr = R"({"resourceType":"QuestionnaireResponse","identifier":)" +
                           identifier(naming_system("id-form-reference"), "quickReferral") +
                           R"(,"status":"completed"})";
    const auto facts = facts_of(
        extract(message_bundle({entry(message_header()), entry(qr), entry(service_request("sr-1"))})));
    EXPECT_EQ(facts.referral_ref, "sr-1");
}

TEST_F(ExtractorTest, EscapedStringsAreUnescaped) {
    const std::string header =
        R"({"resourceType":"MessageHeader","id":"mh\u002d1","eventCoding":{"code":"add-service\u002drequest"}})";
    const auto facts = facts_of(extract(message_bundle({entry(header)})));
    EXPECT_EQ(facts.event_code, "add-service-request");
    EXPECT_EQ(facts.message_header_id, "mh-1");
}

TEST_F(ExtractorTest, UnknownMembersAndNestedStructuresAreSkipped) {
    const std::string header = message_header(
        R"("meta":{"profile":["p|1.0.1"],"security":[{"code":"HTEST"}]},"reason":{"text":"Initial"},"source":{"endpoint":"x"},"text":{"div":"<div>[{}]</div>"})");
    const std::string json =
        R"({"resourceType":"Bundle","meta":{"security":[{"code":"HTEST"}]},"timestamp":"2024-12-13T15:17:46.139-05:00",)"
        R"("type":"message","entry":[)" +
        entry(header) + "," + entry(service_request("sr-1", R"("note":[{"text":"<b>x</b>"}])")) + "]}";
    const auto facts = facts_of(extract(json));
    EXPECT_EQ(facts.referral_ref, "sr-1");
    EXPECT_EQ(facts.bundle_id, "");
}
