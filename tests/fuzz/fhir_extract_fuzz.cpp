// fhir::Extractor::extract over arbitrary bytes, strict and lenient, each over a padded copy of the input.
//
// Invariants: no exception escapes; every fact is a piece of the input (never longer than it); on failure
// the error has a code, a location and a message of bounded size (never a copy of the payload); a bundle the
// strict extractor accepts, the lenient one accepts with the same facts; a strict refusal other than invalid
// JSON is the lenient refusal too.
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include "fuzz_check.hpp"
#include "relay/fhir/extract.hpp"

namespace {

using relay::fhir::ExtractError;
using relay::fhir::ExtractErrorCode;
using relay::fhir::InboundFacts;

bool same_facts(const InboundFacts& a, const InboundFacts& b) {
    return a.event_code == b.event_code && a.referral_ref == b.referral_ref &&
           a.referral_ref_source == b.referral_ref_source && a.site_number == b.site_number &&
           a.listing_ref == b.listing_ref && a.external_service_id == b.external_service_id &&
           a.message_header_id == b.message_header_id && a.bundle_id == b.bundle_id && a.dialect == b.dialect;
}

void check_result(const std::variant<InboundFacts, ExtractError>& result, std::size_t size) {
    if (const auto* facts = std::get_if<InboundFacts>(&result)) {
        FUZZ_CHECK(!facts->event_code.empty());
        for (const auto* field : {&facts->event_code,
                                  &facts->referral_ref,
                                  &facts->site_number,
                                  &facts->listing_ref,
                                  &facts->external_service_id,
                                  &facts->message_header_id,
                                  &facts->bundle_id}) {
            FUZZ_CHECK(field->size() <= size);
        }
        FUZZ_CHECK(facts->referral_ref.empty() ==
                   (facts->referral_ref_source == relay::fhir::ReferralRefSource::kNone));
        FUZZ_CHECK(relay::fhir::to_string(facts->dialect) != nullptr);
        FUZZ_CHECK(relay::fhir::to_string(facts->referral_ref_source) != nullptr);
    } else {
        const auto& error = std::get<ExtractError>(result);
        FUZZ_CHECK(!error.expression.empty() && error.expression.size() <= 256);
        FUZZ_CHECK(!error.message.empty() && error.message.size() <= 512);
        FUZZ_CHECK(relay::fhir::to_string(error.code) != nullptr);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static relay::fhir::Extractor strict(true);
    static relay::fhir::Extractor lenient(false);

    // A fresh padded copy per call: the padding bytes past the input are readable but not part of it.
    const simdjson::padded_string padded(reinterpret_cast<const char*>(data), size);
    const auto strict_result = strict.extract(simdjson::padded_string_view(padded));
    const auto lenient_result = lenient.extract(simdjson::padded_string_view(padded));
    check_result(strict_result, size);
    check_result(lenient_result, size);

    if (const auto* facts = std::get_if<InboundFacts>(&strict_result)) {
        const auto* lenient_facts = std::get_if<InboundFacts>(&lenient_result);
        FUZZ_CHECK(lenient_facts != nullptr);
        FUZZ_CHECK(same_facts(*facts, *lenient_facts));
    } else if (std::get<ExtractError>(strict_result).code != ExtractErrorCode::kInvalidJson) {
        const auto* lenient_error = std::get_if<ExtractError>(&lenient_result);
        FUZZ_CHECK(lenient_error != nullptr);
        FUZZ_CHECK(lenient_error->code == std::get<ExtractError>(strict_result).code);
    }

    // The convenience entry point pads by itself and agrees with the padded one.
    const auto unpadded =
        strict.extract_unpadded(std::string_view(reinterpret_cast<const char*>(data), size));
    FUZZ_CHECK(unpadded.index() == strict_result.index());
    if (const auto* facts = std::get_if<InboundFacts>(&unpadded)) {
        FUZZ_CHECK(same_facts(*facts, std::get<InboundFacts>(strict_result)));
    }
    return 0;
}
