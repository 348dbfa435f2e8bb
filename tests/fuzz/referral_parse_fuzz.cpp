// transform::ReferralParser::parse over arbitrary bytes.
//
// Invariants: it never throws; exactly one of referral and error is set; the error code is one of the
// documented ones and never "internal" (only allocation failure may produce it); a referral has its
// event and referral ref; parsing the same bytes again with the same (reused) parser gives the same
// result; and where the ingress's Extractor also accepts the bytes, the routing facts agree with it
// (the ingress keys records on the Extractor's facts, the router deduplicates on the parser's).
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include "fuzz_check.hpp"
#include "relay/fhir/extract.hpp"
#include "relay/transform/referral.hpp"

namespace {

bool documented_error(std::string_view code) {
    for (const std::string_view known : {"invalid-json",
                                         "not-a-bundle",
                                         "not-a-message",
                                         "no-message-header",
                                         "no-event-code",
                                         "no-service-request",
                                         "no-referral-ref",
                                         "unexpected-type"}) {
        if (code == known) return true;
    }
    return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static relay::transform::ReferralParser parser;
    static relay::fhir::Extractor extractor(true);
    const std::string_view input(reinterpret_cast<const char*>(data), size);

    const relay::transform::ParseResult result = parser.parse(input);
    FUZZ_CHECK(result.referral.has_value() != result.error.has_value());
    if (result.error) {
        FUZZ_CHECK(documented_error(result.error->code));
        FUZZ_CHECK(result.error->expression.starts_with("Bundle"));
        FUZZ_CHECK(!result.error->message.empty());
    }
    for (const auto& warning : result.warnings) {
        FUZZ_CHECK(!warning.code.empty());
        FUZZ_CHECK(warning.expression.starts_with("Bundle"));
    }

    const relay::transform::ParseResult again = parser.parse(input);
    FUZZ_CHECK(again.referral == result.referral);
    FUZZ_CHECK(again.error.has_value() == result.error.has_value());
    FUZZ_CHECK(again.warnings.size() == result.warnings.size());
    if (again.error) FUZZ_CHECK(again.error->code == result.error->code);

    if (!result.referral) return 0;
    const relay::transform::Referral& r = *result.referral;
    FUZZ_CHECK(!r.event.empty() && r.event.size() <= size);
    FUZZ_CHECK(!r.referral_ref.empty() && r.referral_ref.size() <= size);
    for (const auto& note : r.notes) {
        FUZZ_CHECK(note.html.size() <= size);
        // Tags dropped, entities decoded, whitespace collapsed: the text never outgrows its HTML.
        FUZZ_CHECK(note.text.size() <= note.html.size());
    }

    const auto facts_or_error = extractor.extract_unpadded(input);
    if (const auto* facts = std::get_if<relay::fhir::InboundFacts>(&facts_or_error)) {
        FUZZ_CHECK(r.event == facts->event_code);
        FUZZ_CHECK(r.referral_ref == facts->referral_ref);
        FUZZ_CHECK(r.dialect == facts->dialect);
        FUZZ_CHECK(r.target.listing_ref == facts->listing_ref);
        FUZZ_CHECK(r.target.site_number == facts->site_number);
        FUZZ_CHECK(r.target.external_service_id == facts->external_service_id);
        FUZZ_CHECK(r.bundle_id == facts->bundle_id);
        FUZZ_CHECK(r.message_header_id == facts->message_header_id);
    }
    return 0;
}
