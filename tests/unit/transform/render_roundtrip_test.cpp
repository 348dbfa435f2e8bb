// The property of the normalised bundle: canonical → fhir-r4 → canonical loses nothing.
// `ReferralParser::parse(render_fhir_r4(r)) == r` except `dialect`, which becomes kV0_11 (the normalised
// bundle is the v0.11.1 shape). Checked over generated bundles (seeds × dialects × options), the real
// Ocean fixtures, and randomised hand-built referrals with hostile strings (render_test_util.cpp; kept
// to what FHIR can carry, see the file comment of render_fhir_r4.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "generator.hpp"
#include "relay/transform/render.hpp"
#include "render_samples.hpp"
#include "render_test_util.hpp"

namespace {

using namespace relay::transform;

Referral parse_ok(ReferralParser& parser, const std::string& body) {
    ParseResult result = parser.parse(body);
    if (!result.referral) {
        ADD_FAILURE() << "parse failed: "
                      << (result.error ? result.error->code + " at " + result.error->expression : "");
        return {};
    }
    return std::move(*result.referral);
}

/// The lines that differ between the two referrals' pretty hub JSON: the hub JSON carries every field,
/// so this names exactly what did not survive.
std::string hub_diff(const Referral& expected, const Referral& actual) {
    const auto lines = [](const Referral& r) {
        std::vector<std::string> out;
        std::istringstream in(render_test::pretty(boost::json::parse(render_hub_json(r))));
        for (std::string line; std::getline(in, line);) out.push_back(line);
        return out;
    };
    const auto a = lines(expected);
    const auto b = lines(actual);
    std::string out;
    for (std::size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
        const std::string x = i < a.size() ? a[i] : "";
        const std::string y = i < b.size() ? b[i] : "";
        if (x != y) out += "  - " + x + "\n  + " + y + "\n";
        if (out.size() > 4000) break;
    }
    return out;
}

/// Renders, parses back and compares; also the second render is byte-identical (a fixed point).
void expect_round_trip(ReferralParser& parser, const Referral& original) {
    const std::string rendered = render_fhir_r4(original);
    const ParseResult back = parser.parse(rendered);
    ASSERT_TRUE(back.referral.has_value())
        << (back.error ? back.error->code + " at " + back.error->expression + ": " + back.error->message
                       : "");
    for (const auto& w : back.warnings) ADD_FAILURE() << "parse warning " << w.code << " at " << w.expression;
    Referral expected = original;
    expected.dialect = relay::fhir::Dialect::kV0_11;
    // A header without an id is identified by its entry's fullUrl (the parser's documented fallback).
    if (expected.message_header_id.empty()) {
        expected.message_header_id = std::string(back.referral->message_header_id);
        EXPECT_TRUE(expected.message_header_id.starts_with("urn:uuid:"));
    }
    const Referral& actual = *back.referral;
    // Field by field first, so a failure names the field; then the whole.
    EXPECT_EQ(actual.event, expected.event);
    EXPECT_EQ(actual.bundle_id, expected.bundle_id);
    EXPECT_EQ(actual.message_header_id, expected.message_header_id);
    EXPECT_EQ(actual.timestamp, expected.timestamp);
    EXPECT_EQ(actual.reason, expected.reason);
    EXPECT_EQ(actual.source_endpoint, expected.source_endpoint);
    EXPECT_EQ(actual.test_data, expected.test_data);
    EXPECT_EQ(actual.referral_ref, expected.referral_ref);
    EXPECT_EQ(actual.status, expected.status);
    EXPECT_EQ(actual.intent, expected.intent);
    EXPECT_EQ(actual.priority, expected.priority);
    EXPECT_EQ(actual.authored_on, expected.authored_on);
    EXPECT_TRUE(actual.categories == expected.categories) << "categories";
    EXPECT_EQ(actual.order_details, expected.order_details);
    EXPECT_TRUE(actual.notes == expected.notes) << "notes";
    EXPECT_TRUE(actual.patient == expected.patient) << "patient";
    EXPECT_TRUE(actual.referrer == expected.referrer) << "referrer";
    EXPECT_TRUE(actual.submitter == expected.submitter) << "submitter";
    EXPECT_TRUE(actual.target == expected.target) << "target";
    EXPECT_TRUE(actual.form == expected.form) << "form";
    EXPECT_TRUE(actual.attachments == expected.attachments) << "attachments";
    EXPECT_TRUE(actual.tasks == expected.tasks) << "tasks";
    EXPECT_TRUE(actual.appointments == expected.appointments) << "appointments";
    EXPECT_TRUE(actual.communications == expected.communications) << "communications";
    EXPECT_TRUE(actual == expected) << "differences (hub JSON lines, expected vs parsed back):\n"
                                    << hub_diff(expected, actual);
    EXPECT_TRUE(render_fhir_r4(actual) == rendered) << "rendering is not a fixed point";
}

TEST(RenderRoundTrip, GeneratedBundlesOfBothDialectsAndEveryOption) {
    ReferralParser parser;
    for (const auto dialect : {relay::ocean_sim::Dialect::kV0_10, relay::ocean_sim::Dialect::kV0_11}) {
        for (std::uint64_t seed = 0; seed < 48; ++seed) {
            relay::ocean_sim::ReferralSpec spec = render_samples::generated_spec(seed, dialect);
            // The options vary with the seed's bits, so every combination occurs for both dialects.
            spec.delegate_submitter = (seed & 1) != 0;
            spec.attachment_bytes = (seed & 2) != 0 ? 100 + seed * 37 : 0;
            spec.test_data_security_tag = (seed & 4) != 0;
            spec.external_service_id = (seed & 8) != 0 ? "Ext-Service 9" : "";
            if ((seed & 16) != 0) spec = relay::ocean_sim::resend_as_update(spec);
            if ((seed & 32) != 0) {
                relay::ocean_sim::ReceiverProgress progress;
                progress.task_status = seed % 3 == 0 ? "rejected" : "accepted";
                progress.decline_reason = "Outside our catchment";
                progress.appointments.push_back({"",
                                                 "booked",
                                                 "2026-12-01T09:00:00-05:00",
                                                 "2026-12-01T09:30:00-05:00",
                                                 "accepted",
                                                 "Bring your card"});
                progress.appointments.push_back({"", "proposed", "", "", "", "We will call"});
                spec.receiver_progress = progress;
            }
            SCOPED_TRACE(testing::Message()
                         << "seed " << seed << " v" << relay::ocean_sim::to_string(dialect));
            expect_round_trip(parser, parse_ok(parser, relay::ocean_sim::generate(spec).body));
        }
    }
}

TEST(RenderRoundTrip, RealOceanFixtures) {
    ReferralParser parser;
    for (const auto& input : render_samples::golden_inputs()) {
        SCOPED_TRACE(input.name);
        expect_round_trip(parser, input.referral);
    }
}

TEST(RenderRoundTrip, RandomReferralsWithHostileStrings) {
    ReferralParser parser;
    for (std::uint64_t seed = 0; seed < 500; ++seed) {
        Referral r = render_test::random_referral(seed, /*fhir_safe=*/true);
        for (auto& note : r.notes) note.text = html_to_text(note.html);
        SCOPED_TRACE(testing::Message() << "seed " << seed);
        expect_round_trip(parser, r);
        if (HasFailure()) break;  // one seed's diff is enough to read
    }
}

}  // namespace
