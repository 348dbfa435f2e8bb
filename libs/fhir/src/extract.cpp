#include "relay/fhir/extract.hpp"

#include "relay/fhir/references.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

namespace relay::fhir {

namespace ondemand = simdjson::ondemand;

const char* to_string(Dialect dialect) {
    switch (dialect) {
        case Dialect::kV0_10:
            return "0.10";
        case Dialect::kV0_11:
            return "0.11";
        case Dialect::kUnknown:
            return "unknown";
    }
    return "unknown";
}

const char* to_string(ReferralRefSource source) {
    switch (source) {
        case ReferralRefSource::kNone:
            return "none";
        case ReferralRefSource::kReferralIdentifierExtension:
            return "ext-referral-identifier";
        case ReferralRefSource::kMessageHeaderIdExtension:
            return "ext-id-message-header";
        case ReferralRefSource::kServiceRequestIdentifier:
            return "servicerequest-identifier";
        case ReferralRefSource::kServiceRequestId:
            return "servicerequest-id";
    }
    return "none";
}

const char* to_string(ExtractErrorCode code) {
    switch (code) {
        case ExtractErrorCode::kInvalidJson:
            return "invalid_json";
        case ExtractErrorCode::kNotABundle:
            return "not_a_bundle";
        case ExtractErrorCode::kNotAMessage:
            return "not_a_message_bundle";
        case ExtractErrorCode::kNoMessageHeader:
            return "no_message_header";
        case ExtractErrorCode::kNoEventCode:
            return "no_event_code";
        case ExtractErrorCode::kUnexpectedType:
            return "unexpected_json_type";
        case ExtractErrorCode::kDuplicateKey:
            return "duplicate_key";
        case ExtractErrorCode::kInvalidFact:
            return "invalid_value";
    }
    return "unknown";
}

namespace {

constexpr std::string_view kExtReferralIdentifier = "ext-referral-identifier";
constexpr std::string_view kExtIdMessageHeader = "ext-id-message-header";
constexpr std::string_view kSysReferralRef = "id-ereferral-reference";
constexpr std::string_view kSysListingRef = "id-referral-target-reference";
constexpr std::string_view kSysExternalService = "id-referral-target-external-service";
constexpr std::string_view kSysSiteNumber = "id-site-number";

// The identifiers of interest on one resource (all others, patient identifiers included, are skipped).
struct Identifiers {
    std::string_view referral_ref, listing_ref, external_service, site_number;

    void take(std::string_view system, std::string_view value) {
        if (value.empty()) return;
        if (system_is(system, kSysReferralRef) && referral_ref.empty()) referral_ref = value;
        if (system_is(system, kSysListingRef) && listing_ref.empty()) listing_ref = value;
        if (system_is(system, kSysExternalService) && external_service.empty()) external_service = value;
        if (system_is(system, kSysSiteNumber) && site_number.empty()) site_number = value;
    }
};

// A reference (Reference.reference and, for v0.10, Reference.identifier).
struct Ref {
    std::string_view reference;
    Identifiers identifier;
};

// What one entry told us, collected before we know its resourceType (field order is free in JSON).
struct EntryScratch {
    std::string_view full_url, resource_type, id;
    Identifiers identifiers;
    std::string_view ext_referral_identifier, ext_id_message_header;
    std::string_view event_code;
    bool has_event_coding = false;
    Ref receiver;            // MessageHeader.destination[0].receiver
    Ref performer;           // ServiceRequest.performer[0]
    std::string_view focus;  // MessageHeader.focus[0].reference
};

struct Role {
    std::string_view full_url, id;
    Identifiers identifiers;
};

struct ServiceRequest {
    std::string_view full_url, id;
    Identifiers identifiers;
    Ref performer;
};

// Where the pass is, for error messages: only fixed names and indices, never payload values.
struct Where {
    long entry = -1;
    std::string_view field;

    [[nodiscard]] std::string expression() const {
        if (entry < 0) return field.empty() ? "Bundle" : fmt::format("Bundle.{}", field);
        if (field.empty()) return fmt::format("Bundle.entry[{}]", entry);
        return fmt::format("Bundle.entry[{}].{}", entry, field);
    }
};



// A member the relay reads that appears twice in one object: JSON leaves the meaning open (first?
// last?), and two readers could disagree, so such a bundle is refused rather than guessed at.
struct DuplicateKey {
    std::string_view key;
};

// Remembers which of up to 32 members of one object were seen.
class Once {
   public:
    void operator()(unsigned bit, std::string_view key) {
        const std::uint32_t mask = 1U << bit;
        if ((seen_ & mask) != 0) throw DuplicateKey{key};
        seen_ |= mask;
    }

   private:
    std::uint32_t seen_ = 0;
};

std::string_view get_str(ondemand::value value) {
    return value.get_string().value();
}

void read_identifier_object(ondemand::value value, Identifiers& out) {
    std::string_view system, id_value;
    Once once;
    for (auto field : value.get_object()) {
        const std::string_view key = field.unescaped_key().value();
        if (key == "system") {
            once(0, key);
            system = get_str(field.value());
        } else if (key == "value") {
            once(1, key);
            id_value = get_str(field.value());
        }
    }
    out.take(system, id_value);
}

// R4 allows 0..* on most resources and 0..1 (a single object) on QuestionnaireResponse.
void read_identifiers(ondemand::value value, Identifiers& out) {
    if (value.type().value() == ondemand::json_type::array) {
        for (auto item : value.get_array()) read_identifier_object(item.value(), out);
    } else {
        read_identifier_object(value, out);
    }
}

void read_reference(ondemand::value value, Ref& out) {
    Once once;
    for (auto field : value.get_object()) {
        const std::string_view key = field.unescaped_key().value();
        if (key == "reference") {
            once(0, key);
            out.reference = get_str(field.value());
        } else if (key == "identifier") {
            once(1, key);
            read_identifiers(field.value(), out.identifier);
        }
    }
}

void read_extensions(ondemand::value value, EntryScratch& scratch) {
    for (auto item : value.get_array()) {
        std::string_view url, value_string;
        Identifiers value_identifier;
        Once once;
        for (auto field : item.get_object()) {
            const std::string_view key = field.unescaped_key().value();
            if (key == "url") {
                once(0, key);
                url = get_str(field.value());
            } else if (key == "valueString") {
                once(1, key);
                value_string = get_str(field.value());
            } else if (key == "valueIdentifier") {
                once(2, key);
                read_identifier_object(field.value(), value_identifier);
            }
        }
        if (system_is(url, kExtReferralIdentifier) && scratch.ext_referral_identifier.empty()) {
            scratch.ext_referral_identifier = value_identifier.referral_ref;
        } else if (system_is(url, kExtIdMessageHeader) && scratch.ext_id_message_header.empty()) {
            scratch.ext_id_message_header = value_string;
        }
    }
}

void read_resource(ondemand::value value, EntryScratch& scratch, Where& where) {
    Once once;
    for (auto field : value.get_object()) {
        const std::string_view key = field.unescaped_key().value();
        if (key == "resourceType") {
            once(0, key);
            where.field = "resource.resourceType";
            scratch.resource_type = get_str(field.value());
        } else if (key == "id") {
            once(1, key);
            where.field = "resource.id";
            scratch.id = get_str(field.value());
        } else if (key == "identifier") {
            once(2, key);
            where.field = "resource.identifier";
            read_identifiers(field.value(), scratch.identifiers);
        } else if (key == "extension") {
            once(3, key);
            where.field = "resource.extension";
            read_extensions(field.value(), scratch);
        } else if (key == "eventCoding") {
            once(4, key);
            where.field = "resource.eventCoding";
            scratch.has_event_coding = true;
            Once coding_once;
            for (auto coding : field.value().get_object()) {
                if (coding.unescaped_key().value() == "code") {
                    coding_once(0, "code");
                    scratch.event_code = get_str(coding.value());
                }
            }
        } else if (key == "destination") {
            once(5, key);
            where.field = "resource.destination";
            for (auto destination : field.value().get_array()) {
                Once destination_once;
                for (auto d : destination.get_object()) {
                    if (d.unescaped_key().value() == "receiver") {
                        destination_once(0, "receiver");
                        read_reference(d.value(), scratch.receiver);
                    }
                }
                break;  // the first destination is the one this message was sent to
            }
        } else if (key == "focus") {
            once(6, key);
            where.field = "resource.focus";
            // MessageHeader.focus is an array; Task.focus (an echoed Task) is a single Reference.
            if (field.value().type().value() != ondemand::json_type::array) continue;
            for (auto focus : field.value().get_array()) {
                Ref ref;
                read_reference(focus.value(), ref);
                scratch.focus = ref.reference;
                break;
            }
        } else if (key == "performer") {
            once(7, key);
            where.field = "resource.performer";
            if (field.value().type().value() == ondemand::json_type::array) {
                for (auto performer : field.value().get_array()) {
                    read_reference(performer.value(), scratch.performer);
                    break;
                }
            }
        }
    }
}

}  // namespace

// RFC 8259 §6: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? — any size, any exponent.
bool is_json_number(std::string_view token) {
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t' || token.back() == '\n' ||
                              token.back() == '\r')) {
        token.remove_suffix(1);
    }
    std::size_t i = 0;
    const auto digits = [&] {
        const std::size_t start = i;
        while (i < token.size() && token[i] >= '0' && token[i] <= '9') ++i;
        return i > start;
    };
    if (i < token.size() && token[i] == '-') ++i;
    if (i < token.size() && token[i] == '0') {
        ++i;
    } else if (!digits()) {
        return false;
    }
    if (i < token.size() && token[i] == '.') {
        ++i;
        if (!digits()) return false;
    }
    if (i < token.size() && (token[i] == 'e' || token[i] == 'E')) {
        ++i;
        if (i < token.size() && (token[i] == '+' || token[i] == '-')) ++i;
        if (!digits()) return false;
    }
    return i == token.size();
}

bool is_safe_ref(std::string_view s) {
    if (s.empty() || s.size() > 128 || s == "." || s == "..") return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
               c == '.' || c == ':' || c == '-';
    });
}

bool is_site_number(std::string_view s) {
    return !s.empty() && s.size() <= 16 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_external_service_id(std::string_view s) {
    if (s.empty() || s.size() > 128) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c == 0x7f) return false;
        // C1 controls (U+0080–U+009F) are C2 80–C2 9F in UTF-8 (well-formed: simdjson checked it).
        if (c == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) < 0xa0) return false;
    }
    return true;
}

bool is_event_code(std::string_view s) {
    return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    });
}

bool is_message_id(std::string_view s) {
    return !s.empty() && s.size() <= 256 && std::all_of(s.begin(), s.end(), [](char c) {
        return c > 0x20 && c < 0x7f && c != '"' && c != '\\';
    });
}

bool cpu_supported() {
#if defined(RELAY_ONDEMAND_TARGET_X86_64_V3)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") &&
           __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("pclmul");
#else
    return true;
#endif
}

const char* kernel_name() {
    return SIMDJSON_STRINGIFY(SIMDJSON_BUILTIN_IMPLEMENTATION);
}

namespace {

const char* referral_ref_expression(ReferralRefSource source) {
    switch (source) {
        case ReferralRefSource::kReferralIdentifierExtension:
            return "Bundle.entry[0].resource.extension.valueIdentifier.value";
        case ReferralRefSource::kMessageHeaderIdExtension:
            return "Bundle.entry[0].resource.extension.valueString";
        case ReferralRefSource::kServiceRequestIdentifier:
            return "ServiceRequest.identifier.value";
        case ReferralRefSource::kServiceRequestId:
        case ReferralRefSource::kNone:
            break;
    }
    return "ServiceRequest.id";
}

// Every fact is checked before it can reach a Kafka key, a header, a log line or a metric label. The
// message names the fact and its rule, never its value.
std::optional<ExtractError> check_facts(const InboundFacts& facts) {
    const auto invalid = [](std::string expression, std::string_view what) {
        return ExtractError{ExtractErrorCode::kInvalidFact, std::move(expression), std::string(what)};
    };
    if (!is_event_code(facts.event_code)) {
        return invalid("Bundle.entry[0].resource.eventCoding.code",
                       "the event code must be 1-64 characters of a-z, 0-9 and '-'");
    }
    if (!facts.referral_ref.empty() && !is_safe_ref(facts.referral_ref)) {
        return invalid(referral_ref_expression(facts.referral_ref_source),
                       "the referral ref must be 1-128 characters of A-Z, a-z, 0-9, '_', '.', ':' and '-'");
    }
    if (!facts.site_number.empty() && !is_site_number(facts.site_number)) {
        return invalid("PractitionerRole.identifier.value",
                       "the site number (id-site-number) must be 1-16 digits");
    }
    if (!facts.listing_ref.empty() && !is_safe_ref(facts.listing_ref)) {
        return invalid("PractitionerRole.identifier.value",
                       "the listing ref (id-referral-target-reference) must be 1-128 characters of A-Z, a-z, "
                       "0-9, '_', '.', ':' and '-'");
    }
    if (!facts.external_service_id.empty() && !is_external_service_id(facts.external_service_id)) {
        return invalid("PractitionerRole.identifier.value",
                       "the External Service ID (id-referral-target-external-service) must be 1-128 bytes "
                       "without control characters");
    }
    if (!facts.message_header_id.empty() && !is_message_id(facts.message_header_id)) {
        return invalid("Bundle.entry[0].resource.id",
                       "the MessageHeader id or fullUrl must be 1-256 printable characters without spaces");
    }
    if (!facts.bundle_id.empty() && !is_message_id(facts.bundle_id)) {
        return invalid("Bundle.id", "Bundle.id must be 1-256 printable characters without spaces");
    }
    return std::nullopt;
}

}  // namespace

struct Extractor::Parsers {
    simdjson::ondemand::parser on_demand;
    simdjson::dom::parser validator;
};

namespace {

// A copy of `json` in which every number that is well-formed by the grammar is replaced by a 0 and
// spaces (same length), strings untouched: what the DOM then refuses is not well-formed JSON.
simdjson::padded_string zero_numbers(std::string_view json) {
    simdjson::padded_string copy(json);
    char* out = copy.data();
    std::size_t i = 0;
    while (i < json.size()) {
        const char c = json[i];
        if (c == '"') {
            for (++i; i < json.size() && json[i] != '"'; ++i) {
                if (json[i] == '\\') ++i;
            }
            ++i;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            std::size_t end = i;
            while (end < json.size() && (json[end] == '-' || json[end] == '+' || json[end] == '.' ||
                                         json[end] == 'e' || json[end] == 'E' || (json[end] >= '0' && json[end] <= '9'))) {
                ++end;
            }
            if (is_json_number(json.substr(i, end - i))) {
                out[i] = '0';
                for (std::size_t k = i + 1; k < end; ++k) out[k] = ' ';
            }
            i = end;
        } else {
            ++i;
        }
    }
    return copy;
}

// Well-formed JSON (RFC 8259). simdjson's DOM refuses numbers that do not fit 64 bits or a double
// (`18446744073709551616`, `1e309`), which are valid JSON: those documents are walked again and their
// numbers checked by grammar only.
simdjson::error_code check_well_formed(simdjson::dom::parser& dom_parser, simdjson::padded_string_view json) {
    simdjson::dom::element ignored;
    const auto error = dom_parser.parse(json.data(), json.length(), false).get(ignored);
    if (error != simdjson::NUMBER_ERROR) return error;
    const simdjson::padded_string zeroed = zero_numbers(json);
    return dom_parser.parse(zeroed.data(), zeroed.size(), false).get(ignored);
}

}  // namespace

Extractor::Extractor(bool strict_json) : parsers_(std::make_unique<Parsers>()), strict_json_(strict_json) {}
Extractor::~Extractor() = default;

std::variant<InboundFacts, ExtractError> Extractor::extract_unpadded(std::string_view json) {
    simdjson::padded_string padded(json);
    return extract(padded);
}

std::variant<InboundFacts, ExtractError> Extractor::extract(simdjson::padded_string_view json) {
    Where where;
    InboundFacts facts;
    std::string_view resource_type, bundle_type, bundle_id;
    bool saw_entry = false;
    EntryScratch header;
    std::vector<Role> roles;
    std::vector<ServiceRequest> service_requests;
    std::optional<ExtractError> structural;

    auto fail = [&](ExtractErrorCode code, std::string message) {
        return ExtractError{code, where.expression(), std::move(message)};
    };

    try {
        ondemand::document doc = parsers_->on_demand.iterate(json);
        ondemand::object bundle;
        if (const auto error = doc.get_object().get(bundle); error != simdjson::SUCCESS) {
            const bool well_formed =
                !strict_json_ ||
                check_well_formed(parsers_->validator, json) == simdjson::SUCCESS;
            if (error == simdjson::INCORRECT_TYPE && well_formed) {
                return ExtractError{ExtractErrorCode::kNotABundle, "Bundle", "the body is not a JSON object"};
            }
            return ExtractError{
                ExtractErrorCode::kInvalidJson,
                "Bundle",
                fmt::format("the body is not well-formed JSON ({})", simdjson::error_message(error))};
        }
        Once bundle_once;
        for (auto field : bundle) {
            const std::string_view key = field.unescaped_key().value();
            if (key == "resourceType") {
                bundle_once(0, key);
                where.field = "resourceType";
                resource_type = get_str(field.value());
            } else if (key == "type") {
                bundle_once(1, key);
                where.field = "type";
                bundle_type = get_str(field.value());
            } else if (key == "id") {
                bundle_once(2, key);
                where.field = "id";
                bundle_id = get_str(field.value());
            } else if (key == "entry") {
                bundle_once(3, key);
                where.field = "entry";
                long index = 0;
                ondemand::array entries = field.value().get_array();  // throws INCORRECT_TYPE at Bundle.entry
                for (auto entry_value : entries) {
                    saw_entry = true;
                    where.entry = index;
                    EntryScratch scratch;
                    Once entry_once;
                    for (auto entry_field : entry_value.get_object()) {
                        const std::string_view entry_key = entry_field.unescaped_key().value();
                        if (entry_key == "fullUrl") {
                            entry_once(0, entry_key);
                            where.field = "fullUrl";
                            scratch.full_url = get_str(entry_field.value());
                        } else if (entry_key == "resource") {
                            entry_once(1, entry_key);
                            where.field = "resource";
                            read_resource(entry_field.value(), scratch, where);
                        }
                    }
                    where.field = {};
                    if (index == 0) {
                        if (scratch.resource_type != "MessageHeader") {
                            where.field = "resource.resourceType";
                            structural = fail(ExtractErrorCode::kNoMessageHeader,
                                              "the first entry of a message Bundle must be a MessageHeader");
                            break;
                        }
                        header = scratch;
                    } else if (scratch.resource_type == "PractitionerRole") {
                        roles.push_back(Role{scratch.full_url, scratch.id, scratch.identifiers});
                    } else if (scratch.resource_type == "ServiceRequest") {
                        service_requests.push_back(ServiceRequest{
                            scratch.full_url, scratch.id, scratch.identifiers, scratch.performer});
                    }
                    ++index;
                }
                where.entry = -1;
                if (structural) break;
            }
        }
    } catch (const DuplicateKey& duplicate) {
        return fail(ExtractErrorCode::kDuplicateKey,
                    fmt::format("the member '{}' appears more than once in one object", duplicate.key));
    } catch (const simdjson::simdjson_error& e) {
        if (e.error() == simdjson::INCORRECT_TYPE) {
            return fail(ExtractErrorCode::kUnexpectedType, "a field has an unexpected JSON type");
        }
        return ExtractError{
            ExtractErrorCode::kInvalidJson,
            where.expression(),
            fmt::format("the body is not well-formed JSON ({})", simdjson::error_message(e.error()))};
    }

    // On-Demand checks only what it reads; a full structural check of the rest costs one more pass.
    if (strict_json_) {
        const auto error = check_well_formed(parsers_->validator, json);
        if (error != simdjson::SUCCESS) {
            return ExtractError{
                ExtractErrorCode::kInvalidJson,
                "Bundle",
                fmt::format("the body is not well-formed JSON ({})", simdjson::error_message(error))};
        }
    }
    if (structural) return *structural;

    if (resource_type != "Bundle") {
        return ExtractError{
            ExtractErrorCode::kNotABundle, "Bundle.resourceType", "resourceType must be \"Bundle\""};
    }
    if (bundle_type != "message") {
        return ExtractError{ExtractErrorCode::kNotAMessage, "Bundle.type", "Bundle.type must be \"message\""};
    }
    if (!saw_entry) {
        return ExtractError{ExtractErrorCode::kNoMessageHeader,
                            "Bundle.entry",
                            "a message Bundle needs at least one entry, a MessageHeader"};
    }
    if (!header.has_event_coding || header.event_code.empty()) {
        return ExtractError{ExtractErrorCode::kNoEventCode,
                            "Bundle.entry[0].resource.eventCoding.code",
                            "MessageHeader.eventCoding.code is required"};
    }

    facts.event_code = header.event_code;
    facts.bundle_id = bundle_id;
    facts.message_header_id = header.id.empty() ? header.full_url : header.id;

    // The referral's ServiceRequest: the MessageHeader focus if it names one, else the first.
    const ServiceRequest* referral = nullptr;
    for (const auto& sr : service_requests) {
        if (refers_to(header.focus, "ServiceRequest", sr.full_url, sr.id)) {
            referral = &sr;
            break;
        }
    }
    if (referral == nullptr && !service_requests.empty()) referral = &service_requests.front();

    if (!header.ext_referral_identifier.empty()) {
        facts.referral_ref = header.ext_referral_identifier;
        facts.referral_ref_source = ReferralRefSource::kReferralIdentifierExtension;
        facts.dialect = Dialect::kV0_11;
    } else if (!header.ext_id_message_header.empty()) {
        facts.referral_ref = header.ext_id_message_header;
        facts.referral_ref_source = ReferralRefSource::kMessageHeaderIdExtension;
        facts.dialect = Dialect::kV0_10;
    } else if (referral != nullptr && !referral->identifiers.referral_ref.empty()) {
        facts.referral_ref = referral->identifiers.referral_ref;
        facts.referral_ref_source = ReferralRefSource::kServiceRequestIdentifier;
    } else if (referral != nullptr && !referral->id.empty()) {
        facts.referral_ref = referral->id;
        facts.referral_ref_source = ReferralRefSource::kServiceRequestId;
    }

    // The target listing: MessageHeader.destination.receiver, else the referral's performer, else the
    // only PractitionerRole that carries a listing ref.
    const Role* target = nullptr;
    for (const auto& role : roles) {
        if (refers_to(header.receiver.reference, "PractitionerRole", role.full_url, role.id)) {
            target = &role;
            break;
        }
    }
    if (target == nullptr && referral != nullptr) {
        for (const auto& role : roles) {
            if (refers_to(referral->performer.reference, "PractitionerRole", role.full_url, role.id)) {
                target = &role;
                break;
            }
        }
    }
    if (target == nullptr) {
        for (const auto& role : roles) {
            if (!role.identifiers.listing_ref.empty()) {
                if (target != nullptr) {
                    target = nullptr;  // ambiguous: do not guess
                    break;
                }
                target = &role;
            }
        }
    }
    if (target != nullptr) {
        facts.listing_ref = target->identifiers.listing_ref;
        facts.site_number = target->identifiers.site_number;
        facts.external_service_id = target->identifiers.external_service;
    }
    if (facts.external_service_id.empty())
        facts.external_service_id = header.receiver.identifier.external_service;
    if (facts.external_service_id.empty() && referral != nullptr) {
        facts.external_service_id = referral->performer.identifier.external_service;
    }
    if (facts.listing_ref.empty()) facts.listing_ref = header.receiver.identifier.listing_ref;
    if (auto invalid = check_facts(facts)) return *invalid;
    return facts;
}

}  // namespace relay::fhir
