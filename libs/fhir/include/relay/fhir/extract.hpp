#pragma once

#include <simdjson.h>

#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace relay::fhir {

/// Which Ontario eReferral IG dialect the MessageHeader carries the referral ref in.
enum class Dialect { kUnknown, kV0_10, kV0_11 };
const char* to_string(Dialect dialect);

/// Where the referral ref was found, in the order of preference (ocean-api.md §3.3 "Parser rule").
enum class ReferralRefSource {
    kNone,
    kReferralIdentifierExtension,
    kMessageHeaderIdExtension,
    kServiceRequestIdentifier,
    kServiceRequestId
};
const char* to_string(ReferralRefSource source);

/// The routing facts of an Ocean FHIR message bundle. None of them is patient data: codes, refs and
/// ids only, so they may go in Kafka headers and log lines.
struct InboundFacts {
    std::string event_code;    ///< MessageHeader.eventCoding.code
    std::string referral_ref;  ///< Ocean referral ref (ServiceRequest id); empty if none found
    ReferralRefSource referral_ref_source = ReferralRefSource::kNone;
    std::string site_number;          ///< id-site-number of the target listing PractitionerRole
    std::string listing_ref;          ///< id-referral-target-reference of the target listing
    std::string external_service_id;  ///< id-referral-target-external-service, when the admin set one
    std::string message_header_id;    ///< MessageHeader.id or its entry's fullUrl
    std::string bundle_id;            ///< Bundle.id
    Dialect dialect = Dialect::kUnknown;
};

enum class ExtractErrorCode {
    kInvalidJson,      ///< not well-formed JSON
    kNotABundle,       ///< not a JSON object with resourceType "Bundle"
    kNotAMessage,      ///< Bundle.type is not "message"
    kNoMessageHeader,  ///< no entries, or the first entry is not a MessageHeader
    kNoEventCode,      ///< MessageHeader.eventCoding.code missing
    kUnexpectedType,   ///< a field we read has the wrong JSON type
    kDuplicateKey,     ///< a member the relay reads appears twice in one object
    kInvalidFact,      ///< a routing fact outside its bounds or character set (see the checks below)
};
const char* to_string(ExtractErrorCode code);

struct ExtractError {
    ExtractErrorCode code;
    std::string expression;  ///< FHIRPath-like location, e.g. "Bundle.entry[0].resource.resourceType"
    std::string message;     ///< precise and PHI-free: never repeats a value from the payload
};

/// The bounds of the routing facts, which go into Kafka keys and headers, log lines and routing rules:
/// no control character ever passes. Measured on Ocean's payloads: referral refs are
/// UUIDs (36), listing refs slugs with digits (`autorouter_test49721437`, `bayshore_healthcare-73632721`),
/// sites 4–7 digits, External Service IDs short free text typed by an Ocean admin (`Test`).
/// Referral and listing refs: 1–128 of [A-Za-z0-9_.:-], not "." or "..".
bool is_safe_ref(std::string_view s);
/// Site numbers: 1–16 digits.
bool is_site_number(std::string_view s);
/// External Service IDs: 1–128 bytes of text typed by an Ocean admin (UTF-8, quotes allowed) without
/// control characters (C0, DEL, C1).
bool is_external_service_id(std::string_view s);
/// Event codes: 1–64 of [a-z0-9-] (a FHIR code of Ocean's message-event-code system).
bool is_event_code(std::string_view s);
/// Ids and fullUrls kept as headers (MessageHeader id, Bundle id): 1–256 printable ASCII, no space,
/// quote or backslash.
bool is_message_id(std::string_view s);

/// A JSON number by RFC 8259's grammar (`-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`), of any
/// size and exponent.
bool is_json_number(std::string_view token);

/// simdjson 3.0's On-Demand runs on the kernel the translation unit was compiled for; the build
/// compiles the extractor for x86-64-v3 (AVX2) unless RELAY_ONDEMAND_ARCH is emptied. False when this
/// CPU cannot run it (the ingress refuses to start with a clear message instead of crashing).
bool cpu_supported();
/// The simdjson kernel the extractor was compiled with ("haswell", "westmere", "fallback", ...).
const char* kernel_name();

/// Reads the routing facts in one forward pass of simdjson On-Demand over the caller's buffer (no DOM,
/// no copy of the body). Not thread-safe: keep one per thread; it reuses its parser's memory.
class Extractor {
   public:
    /// When `strict_json` is set, a body that On-Demand did not fully look at is also checked to be
    /// well-formed JSON (On-Demand validates only what it reads).
    explicit Extractor(bool strict_json = true);
    ~Extractor();
    Extractor(const Extractor&) = delete;
    Extractor& operator=(const Extractor&) = delete;

    /// `json` must have at least simdjson::SIMDJSON_PADDING readable bytes after its end.
    std::variant<InboundFacts, ExtractError> extract(simdjson::padded_string_view json);

    /// Convenience for callers without padding: copies into a padded buffer first.
    std::variant<InboundFacts, ExtractError> extract_unpadded(std::string_view json);

   private:
    // The parsers live behind a pointer: simdjson's On-Demand types depend on the kernel a translation
    // unit is compiled for, and only extract.cpp is compiled for AVX2. Keeping them out of this header
    // keeps every caller's view of Extractor identical (no ODR violation).
    struct Parsers;
    std::unique_ptr<Parsers> parsers_;
    bool strict_json_;
};

}  // namespace relay::fhir
