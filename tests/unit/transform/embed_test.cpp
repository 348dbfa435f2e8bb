// Documents embedded in a rendered referral (relay/transform/embed.hpp), over the real Ocean fixtures:
// each document the referral names by URL gets its bytes where that URL is, in every format that has a
// place for them; nothing else changes. (The embedded FHIR bundles and hub JSON are also validated by
// HAPI FHIR and the hub JSON Schema: render_samples.cpp writes them.)
#include "relay/transform/embed.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "relay/core/encoding.hpp"
#include "relay/transform/referral.hpp"
#include "test_support.hpp"

namespace {

namespace json = boost::json;
using namespace relay;
using namespace relay::transform;

struct Parsed {
    std::string bundle;
    Referral referral;
};

Parsed fixture_referral() {
    Parsed out;
    out.bundle = test::read_fixture("ocean-fhir-v0.11.1/ereferral_back_pain.bundle.json");
    ReferralParser parser;
    auto parsed = parser.parse(out.bundle);
    EXPECT_TRUE(parsed.referral.has_value());
    out.referral = *parsed.referral;
    return out;
}

std::vector<DocumentContent> documents_of(const Referral& referral) {
    std::vector<DocumentContent> documents;
    for (const auto& a : referral.attachments)
        if (!a.url.empty()) documents.push_back({a.url, std::string("%PDF-1.4\n\x01\x02 ") + a.id, "application/pdf"});
    return documents;
}

/// Every attachment object of a FHIR bundle's DocumentReferences.
std::vector<json::object> fhir_attachments(const json::value& bundle) {
    std::vector<json::object> out;
    for (const auto& e : bundle.at("entry").as_array()) {
        const auto& r = e.at("resource").as_object();
        if (r.at("resourceType") != "DocumentReference") continue;
        for (const auto& c : r.at("content").as_array()) out.push_back(c.at("attachment").as_object());
    }
    return out;
}

TEST(EmbedDocuments, FhirBundlesCarryTheBytesWhereTheUrlIs) {
    const Parsed p = fixture_referral();
    const auto documents = documents_of(p.referral);
    ASSERT_FALSE(documents.empty()) << "the fixture points to its letter by URL";
    for (const Format format : {Format::kFhirR4, Format::kOceanFhir}) {
        const std::string payload = render(format, p.referral, p.bundle);
        const auto embedded = embed_documents(format, payload, documents);
        ASSERT_TRUE(embedded.has_value()) << to_string(format);
        EXPECT_EQ(embedded->embedded, documents.size()) << to_string(format);
        std::size_t with_data = 0;
        for (const auto& a : fhir_attachments(json::parse(embedded->payload))) {
            if (!a.contains("data")) continue;
            ++with_data;
            const std::string url(a.at("url").as_string());
            for (const auto& d : documents) {
                if (d.url != url) continue;
                EXPECT_EQ(base64_decode(a.at("data").as_string()).value_or(""), d.bytes);
                EXPECT_EQ(a.at("size").as_int64(), static_cast<std::int64_t>(d.bytes.size()));
            }
        }
        EXPECT_EQ(with_data, documents.size());
        // Nothing but the attachments changed.
        json::value before = json::parse(payload);
        json::value after = json::parse(embedded->payload);
        for (auto* v : {&before, &after})
            for (auto& e : v->at("entry").as_array())
                if (e.at("resource").at("resourceType") == "DocumentReference") e.as_object().erase("resource");
        EXPECT_EQ(before, after) << to_string(format);
    }
}

TEST(EmbedDocuments, HubJsonCarriesTheBytesInItsInlineForm) {
    const Parsed p = fixture_referral();
    const auto documents = documents_of(p.referral);
    const auto embedded = embed_documents(Format::kHubJson, render(Format::kHubJson, p.referral, p.bundle), documents);
    ASSERT_TRUE(embedded.has_value());
    EXPECT_EQ(embedded->embedded, documents.size());
    std::size_t with_data = 0;
    const json::value hub = json::parse(embedded->payload);
    for (const auto& a : hub.at("attachments").as_array()) {
        if (a.at("data_base64").is_null()) continue;
        ++with_data;
        for (const auto& d : documents) {
            if (a.at("url").as_string() == d.url) {
                EXPECT_EQ(base64_decode(a.at("data_base64").as_string()).value_or(""), d.bytes);
            }
        }
    }
    EXPECT_EQ(with_data, documents.size());
}

TEST(EmbedDocuments, DataAlwaysHasAMediaType) {
    // R4's att-1: an Attachment with data SHALL have a contentType; the served one fills a missing one.
    const std::string bundle =
        R"({"resourceType":"Bundle","entry":[{"resource":{"resourceType":"DocumentReference","content":[)"
        R"({"attachment":{"url":"https://o.example/a"}},{"attachment":{"url":"https://o.example/b","contentType":"image/png"}}]}}]})";
    const auto embedded = embed_documents(
        Format::kFhirR4, bundle, {{"https://o.example/a", "A", "application/pdf"}, {"https://o.example/b", "B", ""}});
    ASSERT_TRUE(embedded.has_value());
    EXPECT_EQ(embedded->embedded, 2U);
    const auto attachments = fhir_attachments(json::parse(embedded->payload));
    EXPECT_EQ(attachments.at(0).at("contentType"), "application/pdf");
    EXPECT_EQ(attachments.at(1).at("contentType"), "image/png") << "the payload's own stays";
    const auto none = embed_documents(Format::kHubJson, R"({"attachments":[{"url":"u","content_type":""}]})", {{"u", "x", ""}});
    ASSERT_TRUE(none.has_value());
    EXPECT_EQ(json::parse(none->payload).at("attachments").at(0).at("content_type"), "application/octet-stream");
}

TEST(EmbedDocuments, OnlyNamedDocumentsAndOnlyFormatsWithAPlace) {
    const Parsed p = fixture_referral();
    const std::string payload = render(Format::kFhirR4, p.referral, p.bundle);
    // A document the payload does not name is not placed anywhere.
    const auto none = embed_documents(Format::kFhirR4, payload, {{"https://elsewhere.example/doc", "x"}});
    ASSERT_TRUE(none.has_value());
    EXPECT_EQ(none->embedded, 0U);
    EXPECT_EQ(json::parse(none->payload), json::parse(payload));
    EXPECT_FALSE(can_embed_documents(Format::kOpenApi));
    EXPECT_FALSE(embed_documents(Format::kOpenApi, "{}", documents_of(p.referral)).has_value());
    EXPECT_FALSE(embed_documents(Format::kFhirR4, "not json", documents_of(p.referral)).has_value());
    EXPECT_FALSE(embed_documents(Format::kHubJson, "[1]", documents_of(p.referral)).has_value());
}

}  // namespace
