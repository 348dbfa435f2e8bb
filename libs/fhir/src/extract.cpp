#include "relay/fhir/extract.hpp"

#include "relay/fhir/references.hpp"

#include <fmt/format.h>

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



std::string_view get_str(ondemand::value value) {
    return value.get_string().value();
}

void read_identifier_object(ondemand::value value, Identifiers& out) {
    std::string_view system, id_value;
    for (auto field : value.get_object()) {
        const std::string_view key = field.unescaped_key().value();
        if (key == "system") {
            system = get_str(field.value());
        } else if (key == "value") {
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
    for (auto field : value.get_object()) {
        const std::string_view key = field.unescaped_key().value();
        if (key == "reference") {
            out.reference = get_str(field.value());
        } else if (key == "identifier") {
            read_identifiers(field.value(), out.identifier);
        }
    }
}

void read_extensions(ondemand::value value, EntryScratch& scratch) {
    for (auto item : value.get_array()) {
        std::string_view url, value_string;
        Identifiers value_identifier;
        for (auto field : item.get_object()) {
            const std::string_view key = field.unescaped_key().value();
            if (key == "url") {
                url = get_str(field.value());
            } else if (key == "valueString") {
                value_string = get_str(field.value());
            } else if (key == "valueIdentifier") {
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
    for (auto field : value.get_object()) {
        const std::string_view key = field.unescaped_key().value();
        if (key == "resourceType") {
            where.field = "resource.resourceType";
            scratch.resource_type = get_str(field.value());
        } else if (key == "id") {
            where.field = "resource.id";
            scratch.id = get_str(field.value());
        } else if (key == "identifier") {
            where.field = "resource.identifier";
            read_identifiers(field.value(), scratch.identifiers);
        } else if (key == "extension") {
            where.field = "resource.extension";
            read_extensions(field.value(), scratch);
        } else if (key == "eventCoding") {
            where.field = "resource.eventCoding";
            scratch.has_event_coding = true;
            for (auto coding : field.value().get_object()) {
                if (coding.unescaped_key().value() == "code") scratch.event_code = get_str(coding.value());
            }
        } else if (key == "destination") {
            where.field = "resource.destination";
            for (auto destination : field.value().get_array()) {
                for (auto d : destination.get_object()) {
                    if (d.unescaped_key().value() == "receiver") read_reference(d.value(), scratch.receiver);
                }
                break;  // the first destination is the one this message was sent to
            }
        } else if (key == "focus") {
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

struct Extractor::Parsers {
    simdjson::ondemand::parser on_demand;
    simdjson::dom::parser validator;
};

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
    const char* json_begin = json.data();

    auto fail = [&](ExtractErrorCode code, std::string message) {
        return ExtractError{code, where.expression(), std::move(message)};
    };

    try {
        ondemand::document doc = parsers_->on_demand.iterate(json);
        ondemand::object bundle;
        if (const auto error = doc.get_object().get(bundle); error != simdjson::SUCCESS) {
            simdjson::dom::element ignored;
            const bool well_formed =
                !strict_json_ ||
                parsers_->validator.parse(json_begin, json.length(), false).get(ignored) == simdjson::SUCCESS;
            if (error == simdjson::INCORRECT_TYPE && well_formed) {
                return ExtractError{ExtractErrorCode::kNotABundle, "Bundle", "the body is not a JSON object"};
            }
            return ExtractError{
                ExtractErrorCode::kInvalidJson,
                "Bundle",
                fmt::format("the body is not well-formed JSON ({})", simdjson::error_message(error))};
        }
        for (auto field : bundle) {
            const std::string_view key = field.unescaped_key().value();
            if (key == "resourceType") {
                where.field = "resourceType";
                resource_type = get_str(field.value());
            } else if (key == "type") {
                where.field = "type";
                bundle_type = get_str(field.value());
            } else if (key == "id") {
                where.field = "id";
                bundle_id = get_str(field.value());
            } else if (key == "entry") {
                where.field = "entry";
                long index = 0;
                ondemand::array entries = field.value().get_array();  // throws INCORRECT_TYPE at Bundle.entry
                for (auto entry_value : entries) {
                    saw_entry = true;
                    where.entry = index;
                    EntryScratch scratch;
                    for (auto entry_field : entry_value.get_object()) {
                        const std::string_view entry_key = entry_field.unescaped_key().value();
                        if (entry_key == "fullUrl") {
                            where.field = "fullUrl";
                            scratch.full_url = get_str(entry_field.value());
                        } else if (entry_key == "resource") {
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
        simdjson::dom::element ignored;
        const auto error = parsers_->validator.parse(json_begin, json.length(), false).get(ignored);
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
    return facts;
}

}  // namespace relay::fhir
