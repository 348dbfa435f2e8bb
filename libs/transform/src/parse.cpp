// ReferralParser: an Ocean FHIR message Bundle (v0.10.0 or v0.11.1) → the canonical Referral.
//
// One simdjson DOM parse, then one pass over the entries that indexes them (fullUrl, resourceType, id,
// routing identifiers) in a flat vector reused across calls. References resolve against that index;
// every resource is then read in place, so nothing of the payload is copied except into the Referral.
//
// The routing facts (referral ref, dialect, target listing, event, ids) follow relay::fhir::Extractor's
// rules exactly (libs/fhir/src/extract.cpp): the ingress routes on the Extractor's facts and the router
// deduplicates on ours, so for the same bytes they must agree (a test checks it).
#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "parse_json.hpp"
#include "relay/fhir/extract.hpp"
#include "relay/fhir/references.hpp"
#include "relay/transform/referral.hpp"

namespace relay::transform {

namespace {

namespace dom = simdjson::dom;
using detail::Path;
using detail::Reader;
using detail::Severity;

constexpr Severity kFatal = Severity::kFatal;
constexpr Severity kWarn = Severity::kWarning;

// Extension urls and identifier systems: Ocean's embed its host, so they match on the last path
// segment (ocean-api.md §3.4).
constexpr std::string_view kExtReferralIdentifier = "ext-referral-identifier";
constexpr std::string_view kExtIdMessageHeader = "ext-id-message-header";
constexpr std::string_view kExtHealthCardVersion = "ext-id-health-card-version-code";
constexpr std::string_view kExtItemVisibility = "ext-ocean-eform-item-visibility";
constexpr std::string_view kSysReferralRef = "id-ereferral-reference";
constexpr std::string_view kSysListingRef = "id-referral-target-reference";
constexpr std::string_view kSysExternalService = "id-referral-target-external-service";
constexpr std::string_view kSysSiteNumber = "id-site-number";
constexpr std::string_view kSysHealthNumber = "ca-on-patient-hcn";
constexpr std::string_view kSysMrn = "id-external-patient-reference";
constexpr std::string_view kSysLicence = "ca-on-license-physician";
constexpr std::string_view kSysBilling = "ca-on-ohip-billing-id";
constexpr std::string_view kSysUsername = "id-practitioner-username";
constexpr std::string_view kSysFormRef = "id-form-reference";

constexpr std::string_view kDanglingReference = "dangling-reference";

using fhir::refers_to;
using fhir::strip_urn;
using fhir::system_is;

/// The routing identifiers of one resource or reference: the first non-empty value per system.
struct RoutingIds {
    std::string_view referral_ref, listing_ref, external_service, site_number;

    void take(std::string_view system, std::string_view value) {
        if (value.empty()) return;
        if (system_is(system, kSysReferralRef) && referral_ref.empty()) referral_ref = value;
        if (system_is(system, kSysListingRef) && listing_ref.empty()) listing_ref = value;
        if (system_is(system, kSysExternalService) && external_service.empty()) external_service = value;
        if (system_is(system, kSysSiteNumber) && site_number.empty()) site_number = value;
    }
};

enum class Kind : std::uint8_t {
    kOther,
    kMessageHeader,
    kServiceRequest,
    kPatient,
    kPractitionerRole,
    kPractitioner,
    kLocation,
    kDocumentReference,
    kQuestionnaireResponse,
    kTask,
    kAppointment,
    kCommunication,
};

Kind kind_of(std::string_view type) {
    static constexpr std::array<std::pair<std::string_view, Kind>, 11> kKinds = {{
        {"MessageHeader", Kind::kMessageHeader},
        {"ServiceRequest", Kind::kServiceRequest},
        {"Patient", Kind::kPatient},
        {"PractitionerRole", Kind::kPractitionerRole},
        {"Practitioner", Kind::kPractitioner},
        {"Location", Kind::kLocation},
        {"DocumentReference", Kind::kDocumentReference},
        {"QuestionnaireResponse", Kind::kQuestionnaireResponse},
        {"Task", Kind::kTask},
        {"Appointment", Kind::kAppointment},
        {"Communication", Kind::kCommunication},
    }};
    for (const auto& [name, kind] : kKinds) {
        if (type == name) return kind;
    }
    return Kind::kOther;
}

struct Entry {
    std::string_view full_url, type, id;
    dom::object resource;
    long index = 0;  // position in Bundle.entry (entries without a resource are not indexed)
    Kind kind = Kind::kOther;
    RoutingIds ids;
};

/// A Reference as read: its `reference` and, for v0.10's receiver/performer, its identifier(s).
struct Ref {
    std::string_view reference;
    RoutingIds ids;
};

// The locations of one entry's resource, for messages (self-referencing: not copyable).
struct At {
    Path entry;
    Path resource;
    At(const Path& bundle, long index) : entry{&bundle, "entry", index}, resource{&entry, "resource", -1} {}
    At(const At&) = delete;
    At& operator=(const At&) = delete;
};

std::uint64_t decoded_base64_size(std::string_view data) {
    std::uint64_t symbols = 0;
    for (char c : data) {
        if (c != '=' && c != ' ' && c != '\n' && c != '\r' && c != '\t') ++symbols;
    }
    return symbols * 3 / 4;
}

std::string number_text(dom::element value) {
    std::int64_t i = 0;
    std::uint64_t u = 0;
    double d = 0;
    if (value.get_int64().get(i) == simdjson::SUCCESS) return std::to_string(i);
    if (value.get_uint64().get(u) == simdjson::SUCCESS) return std::to_string(u);
    if (value.get_double().get(d) == simdjson::SUCCESS) return fmt::format("{}", d);
    return {};
}

class BundleReader {
   public:
    BundleReader(std::vector<Entry>& entries, ParseResult& result)
        : entries_(entries), result_(result), r_(result) {}

    void read(dom::element root) {
        dom::object bundle;
        if (root.get_object().get(bundle) != simdjson::SUCCESS) {
            r_.fail("not-a-bundle", bundle_, "the body is not a JSON object");
            return;
        }
        const auto resource_type = Reader::member(bundle, "resourceType");
        const std::string_view type_name =
            resource_type ? r_.string(*resource_type, bundle_.member("resourceType"), kFatal) : "";
        if (r_.failed()) return;
        if (type_name != "Bundle") {
            r_.fail("not-a-bundle", bundle_.member("resourceType"), "resourceType must be \"Bundle\"");
            return;
        }
        if (r_.string(bundle, "type", bundle_, kFatal) != "message") {
            if (!r_.failed())
                r_.fail("not-a-message", bundle_.member("type"), "Bundle.type must be \"message\"");
            return;
        }
        Referral& out = referral_;
        out.bundle_id = r_.string(bundle, "id", bundle_, kFatal);
        out.timestamp = r_.string(bundle, "timestamp", bundle_);
        if (const auto meta = r_.object(bundle, "meta", bundle_)) {
            const Path meta_at = bundle_.member("meta");
            out.last_updated = r_.string(*meta, "lastUpdated", meta_at);
            r_.each_object(*meta, "security", meta_at, [&](dom::object coding, const Path& at) {
                if (r_.string(coding, "code", at) == "HTEST") out.test_data = true;
            });
        }
        const auto entries = r_.array(bundle, "entry", bundle_, kFatal);
        if (r_.failed()) return;
        if (!entries || entries->size() == 0) {
            r_.fail("no-message-header",
                    bundle_.member("entry"),
                    "a message Bundle needs at least one entry, a MessageHeader");
            return;
        }
        index_entries(*entries);
        if (r_.failed()) return;
        if (entries_.empty() || entries_.front().index != 0 ||
            entries_.front().kind != Kind::kMessageHeader) {
            const At at(bundle_, 0);
            r_.fail("no-message-header",
                    at.resource.member("resourceType"),
                    "the first entry of a message Bundle must be a MessageHeader");
            return;
        }
        read_message_header(entries_.front());
        if (r_.failed()) return;
        if (!find_referral()) return;
        if (!read_referral_ref()) return;
        find_target();
        if (r_.failed()) return;
        read_referral();
        if (r_.failed()) return;
        result_.referral = std::move(referral_);
    }

   private:
    // -- the index ------------------------------------------------------------------------------

    void index_entries(dom::array entries) {
        entries_.clear();
        long index = -1;
        for (dom::element element : entries) {
            ++index;
            const Path entry_at{&bundle_, "entry", index};
            const auto entry = r_.object(element, entry_at, kFatal);
            if (!entry) return;
            Entry e;
            e.index = index;
            e.full_url = r_.string(*entry, "fullUrl", entry_at, kFatal);
            const auto resource = Reader::member(*entry, "resource");
            if (!resource) {
                r_.warn("entry-without-resource", entry_at, "the entry has no resource; it was ignored");
                continue;
            }
            const Path resource_at = entry_at.member("resource");
            const auto object = r_.object(*resource, resource_at, kFatal);
            if (!object) return;
            e.resource = *object;
            e.type = r_.string(e.resource, "resourceType", resource_at, kFatal);
            e.id = r_.string(e.resource, "id", resource_at, kFatal);
            if (r_.failed()) return;
            if (e.type.empty()) {
                r_.warn("no-resource-type", resource_at, "the resource has no resourceType; it was ignored");
                continue;
            }
            e.kind = kind_of(e.type);
            // The Extractor reads the identifiers of every resource; their JSON types are as binding here.
            r_.each_object(
                e.resource,
                "identifier",
                resource_at,
                [&](dom::object identifier, const Path& at) {
                    e.ids.take(r_.string(identifier, "system", at, kFatal),
                               r_.string(identifier, "value", at, kFatal));
                },
                kFatal,
                /*single_ok=*/true);
            if (r_.failed()) return;
            if (e.kind == Kind::kOther) {
                r_.warn("unknown-resource-type",
                        resource_at.member("resourceType"),
                        "a resource of a type the referral model does not map was ignored");
            } else if (e.kind == Kind::kMessageHeader && index > 0) {
                r_.warn(
                    "extra-message-header", resource_at, "a MessageHeader after the first entry was ignored");
            }
            entries_.push_back(e);
        }
    }

    const Entry* find(std::string_view ref, std::string_view type) const {
        if (ref.empty()) return nullptr;
        for (const Entry& e : entries_) {
            if (e.type == type && refers_to(ref, type, e.full_url, e.id)) return &e;
        }
        return nullptr;
    }

    const Entry* find_any(std::string_view ref) const {
        if (ref.empty()) return nullptr;
        for (const Entry& e : entries_) {
            if (refers_to(ref, e.type, e.full_url, e.id)) return &e;
        }
        return nullptr;
    }

    /// The entry of type `type` that `ref` names; a reference that names nothing, or a resource of
    /// another type, is reported at `at` (the Reference's location).
    const Entry* resolve(std::string_view ref, std::string_view type, const Path& at) {
        if (ref.empty()) return nullptr;
        if (const Entry* e = find(ref, type)) return e;
        if (find_any(ref) != nullptr) {
            r_.warn("reference-type-mismatch", at, "the reference names a resource of an unexpected type");
        } else {
            r_.warn(kDanglingReference, at, "the reference names no entry of the Bundle");
        }
        return nullptr;
    }

    Ref read_ref(dom::object o, std::string_view key, const Path& parent, Severity severity = kWarn) {
        Ref ref;
        const auto object = r_.object(o, key, parent, severity);
        if (!object) return ref;
        const Path at = parent.member(key);
        ref.reference = r_.string(*object, "reference", at, severity);
        r_.each_object(
            *object,
            "identifier",
            at,
            [&](dom::object identifier, const Path& id_at) {
                ref.ids.take(r_.string(identifier, "system", id_at, severity),
                             r_.string(identifier, "value", id_at, severity));
            },
            severity,
            /*single_ok=*/true);
        return ref;
    }

    // -- the message ----------------------------------------------------------------------------

    void read_message_header(const Entry& header) {
        const At at(bundle_, header.index);
        const Path& h = at.resource;
        Referral& out = referral_;

        const auto event = r_.object(header.resource, "eventCoding", h, kFatal);
        if (event) out.event = r_.string(*event, "code", h.member("eventCoding"), kFatal);
        if (r_.failed()) return;
        if (out.event.empty()) {
            r_.fail("no-event-code",
                    h.member("eventCoding").member("code"),
                    "MessageHeader.eventCoding.code is required");
            return;
        }
        out.message_header_id = header.id.empty() ? header.full_url : header.id;

        r_.each_object(
            header.resource,
            "extension",
            h,
            [&](dom::object extension, const Path& ext_at) {
                const std::string_view url = r_.string(extension, "url", ext_at, kFatal);
                const std::string_view value_string = r_.string(extension, "valueString", ext_at, kFatal);
                RoutingIds value_identifier;
                if (const auto vi = r_.object(extension, "valueIdentifier", ext_at, kFatal)) {
                    const Path vi_at = ext_at.member("valueIdentifier");
                    value_identifier.take(r_.string(*vi, "system", vi_at, kFatal),
                                          r_.string(*vi, "value", vi_at, kFatal));
                }
                if (system_is(url, kExtReferralIdentifier) && ext_referral_identifier_.empty()) {
                    ext_referral_identifier_ = value_identifier.referral_ref;
                } else if (system_is(url, kExtIdMessageHeader) && ext_id_message_header_.empty()) {
                    ext_id_message_header_ = value_string;
                }
            },
            kFatal);
        if (r_.failed()) return;

        Path destination_at;
        if (const auto destination =
                r_.first_object(header.resource, "destination", h, destination_at, kFatal)) {
            out.target.name = r_.string(*destination, "name", destination_at);
            receiver_ = read_ref(*destination, "receiver", destination_at, kFatal);
        }
        if (r_.failed()) return;

        // MessageHeader.focus is 0..*; a lone Reference is tolerated like the Extractor does (ignored).
        if (const auto focus = Reader::member(header.resource, "focus")) {
            dom::array items;
            if (focus->get_array().get(items) == simdjson::SUCCESS) {
                for (dom::element item : items) {
                    const Path focus_at{&h, "focus", 0};
                    if (const auto ref = r_.object(item, focus_at, kFatal)) {
                        focus_ = r_.string(*ref, "reference", focus_at, kFatal);
                    }
                    break;
                }
            } else {
                r_.warn(
                    detail::kUnexpectedType, h.member("focus"), "expected an array; the focus was ignored");
            }
        }
        if (r_.failed()) return;

        sender_ = read_ref(header.resource, "sender", h).reference;
        author_ = read_ref(header.resource, "author", h).reference;
        if (const auto reason = r_.object(header.resource, "reason", h)) {
            out.reason = r_.string(*reason, "text", h.member("reason"));
        }
        if (const auto source = r_.object(header.resource, "source", h)) {
            out.source_endpoint = r_.string(*source, "endpoint", h.member("source"));
        }
    }

    // The referral's ServiceRequest: the MessageHeader focus if it names one, else the first.
    bool find_referral() {
        referral_entry_ = find(focus_, "ServiceRequest");
        if (referral_entry_ == nullptr && !focus_.empty() && find_any(focus_) == nullptr) {
            const At at(bundle_, 0);
            r_.warn(kDanglingReference,
                    at.resource.member("focus").at(0),
                    "the reference names no entry of the Bundle");
        }
        if (referral_entry_ == nullptr) {
            for (const Entry& e : entries_) {
                if (e.kind == Kind::kServiceRequest) {
                    referral_entry_ = &e;
                    break;
                }
            }
        }
        if (referral_entry_ == nullptr) {
            r_.fail("no-service-request",
                    bundle_.member("entry"),
                    "the Bundle has no ServiceRequest (the referral)");
            return false;
        }
        // SR.performer[0] takes part in finding the target listing, so its JSON types are binding.
        const At at(bundle_, referral_entry_->index);
        if (const auto performer = Reader::member(referral_entry_->resource, "performer")) {
            dom::array items;
            if (performer->get_array().get(items) == simdjson::SUCCESS) {
                for (dom::element item : items) {
                    const Path performer_at{&at.resource, "performer", 0};
                    if (const auto object = r_.object(item, performer_at, kFatal)) {
                        const Path ref_at{&at.resource, "performer", 0};
                        performer_.reference = r_.string(*object, "reference", ref_at, kFatal);
                        r_.each_object(
                            *object,
                            "identifier",
                            ref_at,
                            [&](dom::object identifier, const Path& id_at) {
                                performer_.ids.take(r_.string(identifier, "system", id_at, kFatal),
                                                    r_.string(identifier, "value", id_at, kFatal));
                            },
                            kFatal,
                            /*single_ok=*/true);
                    }
                    break;
                }
            } else {
                r_.warn(detail::kUnexpectedType,
                        at.resource.member("performer"),
                        "expected an array; the performer was ignored");
            }
        }
        return !r_.failed();
    }

    // ocean-api.md §3.3 "Parser rule": the extension of either dialect, then the ServiceRequest.
    bool read_referral_ref() {
        Referral& out = referral_;
        if (!ext_referral_identifier_.empty()) {
            out.referral_ref = ext_referral_identifier_;
            out.dialect = fhir::Dialect::kV0_11;
        } else if (!ext_id_message_header_.empty()) {
            out.referral_ref = ext_id_message_header_;
            out.dialect = fhir::Dialect::kV0_10;
        } else if (!referral_entry_->ids.referral_ref.empty()) {
            out.referral_ref = referral_entry_->ids.referral_ref;
        } else if (!referral_entry_->id.empty()) {
            out.referral_ref = referral_entry_->id;
        }
        if (out.referral_ref.empty()) {
            const At at(bundle_, referral_entry_->index);
            r_.fail(
                "no-referral-ref",
                at.resource.member("identifier"),
                "no referral ref: neither a MessageHeader extension nor the ServiceRequest's identifier or "
                "id carries one");
            return false;
        }
        return true;
    }

    // The target listing: MessageHeader.destination[0].receiver, else the referral's performer, else
    // the only PractitionerRole that carries a listing ref.
    void find_target() {
        target_ = find(receiver_.reference, "PractitionerRole");
        if (target_ == nullptr && !receiver_.reference.empty()) {
            const At at(bundle_, 0);
            const Path receiver_at{&at.resource, "destination", 0};
            resolve(receiver_.reference, "PractitionerRole", receiver_at.member("receiver"));
        }
        if (target_ == nullptr) target_ = find(performer_.reference, "PractitionerRole");
        if (target_ == nullptr) {
            for (const Entry& e : entries_) {
                if (e.kind != Kind::kPractitionerRole || e.ids.listing_ref.empty()) continue;
                if (target_ != nullptr) {
                    target_ = nullptr;  // ambiguous: do not guess
                    break;
                }
                target_ = &e;
            }
        }
        Listing& listing = referral_.target;
        if (target_ != nullptr) {
            listing.listing_ref = target_->ids.listing_ref;
            listing.site_number = target_->ids.site_number;
            listing.external_service_id = target_->ids.external_service;
        } else {
            const At at(bundle_, 0);
            r_.warn("no-target-listing",
                    at.resource.member("destination"),
                    "no PractitionerRole of the Bundle could be identified as the target listing");
        }
        if (listing.external_service_id.empty()) listing.external_service_id = receiver_.ids.external_service;
        if (listing.external_service_id.empty())
            listing.external_service_id = performer_.ids.external_service;
        if (listing.listing_ref.empty()) listing.listing_ref = receiver_.ids.listing_ref;
    }

    // -- the referral ---------------------------------------------------------------------------

    void read_referral() {
        const Entry& sr = *referral_entry_;
        const At at(bundle_, sr.index);
        const Path& p = at.resource;
        Referral& out = referral_;

        out.status = r_.string(sr.resource, "status", p);
        out.intent = r_.string(sr.resource, "intent", p);
        out.priority = r_.string(sr.resource, "priority", p);
        out.authored_on = r_.string(sr.resource, "authoredOn", p);
        r_.each_object(sr.resource, "category", p, [&](dom::object codeable, const Path& c_at) {
            read_codings(codeable, c_at, out.categories);
        });
        r_.each_object(sr.resource, "orderDetail", p, [&](dom::object codeable, const Path& c_at) {
            std::string_view text = r_.string(codeable, "text", c_at);
            if (text.empty()) {
                // v0.10 has only coding[].display ("Home and Community Care").
                r_.each_object(codeable, "coding", c_at, [&](dom::object coding, const Path& coding_at) {
                    if (text.empty()) text = r_.string(coding, "display", coding_at);
                    if (text.empty()) text = r_.string(coding, "code", coding_at);
                });
            }
            if (!text.empty()) out.order_details.emplace_back(text);
        });
        r_.each_object(sr.resource, "note", p, [&](dom::object note, const Path& n_at) {
            Note& n = out.notes.emplace_back();
            n.html = r_.string(note, "text", n_at);
            n.text = html_to_text(n.html);
            n.time = r_.string(note, "time", n_at);
        });

        if (target_ != nullptr) read_listing(*target_, out.target);
        read_people(sr, p);
        read_patient(sr, p);
        read_form(sr, p);
        for (const Entry& e : entries_) {
            switch (e.kind) {
                case Kind::kDocumentReference:
                    read_attachment(e, out.attachments.emplace_back());
                    break;
                case Kind::kTask:
                    read_task(e, out.tasks.emplace_back());
                    break;
                case Kind::kAppointment:
                    read_appointment(e, out.appointments.emplace_back());
                    break;
                case Kind::kCommunication:
                    read_communication(e, out.communications.emplace_back());
                    break;
                default:
                    break;
            }
        }
    }

    void read_listing(const Entry& role, Listing& out) {
        const At at(bundle_, role.index);
        r_.each_object(role.resource, "specialty", at.resource, [&](dom::object codeable, const Path& c_at) {
            read_codings(codeable, c_at, out.specialty);
        });
        read_telecoms(role.resource, at.resource, out.telecom);
        if (const Entry* location = role_location(role, at.resource)) {
            const At loc_at(bundle_, location->index);
            out.location_name = r_.string(location->resource, "name", loc_at.resource);
            if (const auto address = r_.object(location->resource, "address", loc_at.resource)) {
                out.address = read_address(*address, loc_at.resource.member("address"));
            }
            if (out.telecom.empty()) read_telecoms(location->resource, loc_at.resource, out.telecom);
        }
    }

    const Entry* role_location(const Entry& role, const Path& role_at) {
        Path first_at;
        const auto first = r_.first_object(role.resource, "location", role_at, first_at);
        if (!first) return nullptr;
        const std::string_view ref = r_.string(*first, "reference", first_at);
        return resolve(ref, "Location", first_at);
    }

    // The referrer is the MessageHeader.sender's PractitionerRole; the submitter, the requester (or
    // MessageHeader.author) when that is someone else: the delegate who typed the referral in.
    void read_people(const Entry& sr, const Path& sr_at) {
        const At header_at(bundle_, 0);
        const Path& h = header_at.resource;

        const Entry* sender = find(sender_, "PractitionerRole");
        // v0.10's sender is Ocean itself ("Organization/cognisant-md"), which the Bundle does not carry.
        if (sender == nullptr && !sender_.empty() && find_any(sender_) == nullptr &&
            !sender_.starts_with("Organization/")) {
            r_.warn(kDanglingReference, h.member("sender"), "the reference names no entry of the Bundle");
        }
        const Path requester_at = sr_at.member("requester");
        const Entry* submitter =
            resolve(read_ref(sr.resource, "requester", sr_at).reference, "PractitionerRole", requester_at);
        if (submitter == nullptr) submitter = resolve(author_, "PractitionerRole", h.member("author"));

        const Entry* referrer = sender;
        if (referrer == nullptr) {
            // Without a sender role (v0.10) the requester is the referrer, unless the Bundle carries
            // exactly one more clinician's role: then the requester typed the referral in for that one
            // (the delegate shape: the physician's role rides along, the delegate's is the requester).
            referrer = submitter;
            submitter = nullptr;
            if (referrer != nullptr) {
                const Entry* other = nullptr;
                int others = 0;
                for (const Entry& e : entries_) {
                    if (e.kind != Kind::kPractitionerRole || &e == referrer || &e == target_ ||
                        !e.ids.listing_ref.empty()) {
                        continue;
                    }
                    other = &e;
                    ++others;
                }
                if (others == 1) {
                    submitter = referrer;
                    referrer = other;
                }
            }
        }
        if (submitter == referrer) submitter = nullptr;
        if (referrer != nullptr) {
            read_clinician(*referrer, referral_.referrer);
        } else {
            r_.warn("no-referrer",
                    h.member("sender"),
                    "neither MessageHeader.sender nor the requester names a PractitionerRole of the Bundle");
        }
        if (submitter != nullptr) read_clinician(*submitter, referral_.submitter.emplace());
    }

    void read_clinician(const Entry& role, Clinician& out) {
        const At at(bundle_, role.index);
        const Path& p = at.resource;
        read_clinician_identifiers(role.resource, p, out);
        r_.each_object(role.resource, "specialty", p, [&](dom::object codeable, const Path& c_at) {
            read_codings(codeable, c_at, out.specialty);
        });
        read_telecoms(role.resource, p, out.telecom);

        const Path practitioner_at = p.member("practitioner");
        const Ref practitioner_ref = read_ref(role.resource, "practitioner", p);
        if (const Entry* practitioner =
                resolve(practitioner_ref.reference, "Practitioner", practitioner_at)) {
            const At pr_at(bundle_, practitioner->index);
            read_clinician_identifiers(practitioner->resource, pr_at.resource, out);
            out.name = read_preferred_name(practitioner->resource, pr_at.resource);
            if (out.telecom.empty()) read_telecoms(practitioner->resource, pr_at.resource, out.telecom);
        }
        if (const Entry* location = role_location(role, p)) {
            const At loc_at(bundle_, location->index);
            out.location_name = r_.string(location->resource, "name", loc_at.resource);
            if (const auto address = r_.object(location->resource, "address", loc_at.resource)) {
                out.address = read_address(*address, loc_at.resource.member("address"));
            }
        }
    }

    // Role and practitioner often repeat the licence: the first value per named system wins, a repeat
    // is dropped, a different value is kept as another identifier.
    void read_clinician_identifiers(dom::object resource, const Path& p, Clinician& out) {
        r_.each_object(
            resource,
            "identifier",
            p,
            [&](dom::object object, const Path& id_at) {
                Identifier id = read_identifier(object, id_at);
                if (id.value.empty()) return;
                std::string* named = nullptr;
                if (system_is(id.system, kSysLicence)) {
                    named = &out.licence;
                } else if (system_is(id.system, kSysBilling)) {
                    named = &out.billing_number;
                } else if (system_is(id.system, kSysUsername)) {
                    named = &out.username;
                }
                if (named != nullptr && named->empty()) {
                    *named = std::move(id.value);
                    return;
                }
                if (named != nullptr && *named == id.value) return;
                if (std::find(out.other_identifiers.begin(), out.other_identifiers.end(), id) ==
                    out.other_identifiers.end()) {
                    out.other_identifiers.push_back(std::move(id));
                }
            },
            kWarn,
            /*single_ok=*/true);
    }

    void read_patient(const Entry& sr, const Path& sr_at) {
        const Path subject_at = sr_at.member("subject");
        const Entry* patient =
            resolve(read_ref(sr.resource, "subject", sr_at).reference, "Patient", subject_at);
        if (patient == nullptr) {
            for (const Entry& e : entries_) {
                if (e.kind == Kind::kPatient) {
                    patient = &e;
                    r_.warn("patient-not-subject",
                            subject_at,
                            "ServiceRequest.subject names no Patient; the Bundle's first Patient was used");
                    break;
                }
            }
        }
        for (const Entry& e : entries_) {
            if (e.kind == Kind::kPatient && &e != patient) {
                const At at(bundle_, e.index);
                r_.warn("extra-patient",
                        at.resource,
                        "a second Patient was ignored (only the subject is mapped)");
            }
        }
        if (patient == nullptr) return;

        const At at(bundle_, patient->index);
        const Path& p = at.resource;
        Patient& out = referral_.patient;
        r_.each_object(
            patient->resource,
            "identifier",
            p,
            [&](dom::object object, const Path& id_at) {
                Identifier id = read_identifier(object, id_at);
                if (id.value.empty()) return;  // Ocean sends the MRN slot empty on new referrals
                if (system_is(id.system, kSysHealthNumber) && out.health_number.empty()) {
                    out.health_number = std::move(id.value);
                    out.health_number_version = health_card_version(object, id_at);
                } else if (system_is(id.system, kSysMrn) && out.mrn.empty()) {
                    out.mrn = std::move(id.value);
                } else {
                    out.other_identifiers.push_back(std::move(id));
                }
            },
            kWarn,
            /*single_ok=*/true);
        out.name = read_preferred_name(patient->resource, p);
        out.gender = r_.string(patient->resource, "gender", p);
        out.birth_date = r_.string(patient->resource, "birthDate", p);
        read_telecoms(patient->resource, p, out.telecom);
        r_.each_object(patient->resource, "address", p, [&](dom::object address, const Path& a_at) {
            out.addresses.push_back(read_address(address, a_at));
        });
        Path communication_at;
        if (const auto communication =
                r_.first_object(patient->resource, "communication", p, communication_at)) {
            if (const auto language = r_.object(*communication, "language", communication_at)) {
                const Path language_at = communication_at.member("language");
                Path coding_at;
                if (const auto coding = r_.first_object(*language, "coding", language_at, coding_at)) {
                    out.language = r_.string(*coding, "code", coding_at);
                }
            }
        }
    }

    // The version code is an extension on the HCN identifier in Ocean's payload; FHIR also allows it
    // on the value's primitive element (_value), so that is read too.
    std::string health_card_version(dom::object identifier, const Path& id_at) {
        std::string version;
        auto scan = [&](dom::object holder, const Path& holder_at) {
            r_.each_object(holder, "extension", holder_at, [&](dom::object extension, const Path& ext_at) {
                if (version.empty() &&
                    system_is(r_.string(extension, "url", ext_at), kExtHealthCardVersion)) {
                    version = r_.string(extension, "valueString", ext_at);
                }
            });
        };
        scan(identifier, id_at);
        if (version.empty()) {
            if (const auto value_ext = r_.object(identifier, "_value", id_at))
                scan(*value_ext, id_at.member("_value"));
        }
        return version;
    }

    void read_form(const Entry& sr, const Path& sr_at) {
        const Entry* form = nullptr;
        // The eForm is one of the referral's supportingInfo; else the Bundle's first.
        r_.each_object(sr.resource, "supportingInfo", sr_at, [&](dom::object ref, const Path& ref_at) {
            const std::string_view reference = r_.string(ref, "reference", ref_at);
            if (reference.empty()) return;
            const Entry* e = find_any(reference);
            if (e == nullptr) {
                r_.warn(kDanglingReference, ref_at, "the reference names no entry of the Bundle");
            } else if (form == nullptr && e->kind == Kind::kQuestionnaireResponse) {
                form = e;
            }
        });
        for (const Entry& e : entries_) {
            if (e.kind != Kind::kQuestionnaireResponse) continue;
            if (form == nullptr) {
                form = &e;
            } else if (&e != form) {
                const At at(bundle_, e.index);
                r_.warn("extra-questionnaire-response",
                        at.resource,
                        "a second QuestionnaireResponse was ignored (only the referral's eForm is mapped)");
            }
        }
        if (form == nullptr) return;

        const At at(bundle_, form->index);
        const Path& p = at.resource;
        Form& out = referral_.form.emplace();
        r_.each_object(
            form->resource,
            "identifier",
            p,
            [&](dom::object identifier, const Path& id_at) {
                if (out.form_ref.empty() && system_is(r_.string(identifier, "system", id_at), kSysFormRef)) {
                    out.form_ref = r_.string(identifier, "value", id_at);
                }
            },
            kWarn,
            /*single_ok=*/true);
        out.status = r_.string(form->resource, "status", p);
        out.authored = r_.string(form->resource, "authored", p);
        read_items(form->resource, p, out.items);
    }

    // Ocean's items are flat; nested ones (item.item, answer.item) are flattened in document order so
    // that nothing a form carries is lost.
    void read_items(dom::object holder, const Path& holder_at, std::vector<FormItem>& out) {
        r_.each_object(holder, "item", holder_at, [&](dom::object item, const Path& item_at) {
            const std::size_t slot = out.size();
            out.emplace_back();
            {
                FormItem& f = out[slot];
                f.link_id = r_.string(item, "linkId", item_at);
                f.text = r_.string(item, "text", item_at);
                r_.each_object(item, "extension", item_at, [&](dom::object extension, const Path& ext_at) {
                    if (system_is(r_.string(extension, "url", ext_at), kExtItemVisibility) &&
                        r_.string(extension, "valueString", ext_at) == "hidden") {
                        f.hidden = true;
                    }
                });
            }
            r_.each_object(item, "answer", item_at, [&](dom::object answer, const Path& answer_at) {
                std::string text = answer_text(answer);
                if (!text.empty()) out[slot].answers.push_back(std::move(text));
                read_items(answer, answer_at, out);
            });
            read_items(item, item_at, out);
        });
    }

    // answer.value[x] as text: strings as they are, numbers and booleans spelled out, a Coding by its
    // display (else code), a Quantity as "value unit", an Attachment by title (else url), a Reference by
    // display (else reference).
    static std::string answer_text(dom::object answer) {
        for (const auto field : answer) {
            if (!field.key.starts_with("value")) continue;
            const dom::element value = field.value;
            std::string_view s;
            bool b = false;
            dom::object o;
            if (value.get_string().get(s) == simdjson::SUCCESS) return std::string(s);
            if (value.get_bool().get(b) == simdjson::SUCCESS) return b ? "true" : "false";
            if (value.is_number()) return number_text(value);
            if (value.get_object().get(o) != simdjson::SUCCESS) continue;
            dom::element quantity;
            if (o.at_key("value").get(quantity) == simdjson::SUCCESS && quantity.is_number()) {
                std::string text = number_text(quantity);
                std::string_view unit;
                if (o.at_key("unit").get(unit) == simdjson::SUCCESS ||
                    o.at_key("code").get(unit) == simdjson::SUCCESS) {
                    if (!unit.empty()) text += ' ';
                    text += unit;
                }
                return text;
            }
            for (const std::string_view key : {"display", "code", "title", "url", "reference"}) {
                if (o.at_key(key).get(s) == simdjson::SUCCESS && !s.empty()) return std::string(s);
            }
        }
        return {};
    }

    void read_attachment(const Entry& doc, Attachment& out) {
        const At at(bundle_, doc.index);
        const Path& p = at.resource;
        out.id = doc.id.empty() ? strip_urn(doc.full_url) : doc.id;
        out.status = r_.string(doc.resource, "status", p);
        out.description = r_.string(doc.resource, "description", p);
        const auto contents = r_.array(doc.resource, "content", p);
        if (contents && contents->size() > 1) {
            r_.warn("extra-attachment-content",
                    p.member("content"),
                    "a DocumentReference with more than one content: only the first is mapped");
        }
        Path content_at;
        if (const auto content = r_.first_object(doc.resource, "content", p, content_at)) {
            if (const auto attachment = r_.object(*content, "attachment", content_at)) {
                const Path a_at = content_at.member("attachment");
                out.content_type = r_.string(*attachment, "contentType", a_at);
                out.title = r_.string(*attachment, "title", a_at);
                out.url = r_.string(*attachment, "url", a_at);
                out.data_base64 = r_.string(*attachment, "data", a_at);
                out.created = r_.string(*attachment, "creation", a_at);
                out.size = attachment_size(*attachment, a_at, out.data_base64);
            }
        }
        if (out.created.empty()) out.created = r_.string(doc.resource, "date", p);
    }

    std::uint64_t attachment_size(dom::object attachment, const Path& a_at, std::string_view data) {
        const auto size = Reader::member(attachment, "size");
        if (size) {
            std::uint64_t u = 0;
            std::string_view s;
            if (size->get_uint64().get(u) == simdjson::SUCCESS) return u;
            // R5 makes size an integer64, which FHIR JSON writes as a string.
            if (size->get_string().get(s) == simdjson::SUCCESS && !s.empty() &&
                std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
                s.size() < 20) {
                return std::stoull(std::string(s));
            }
            r_.warn(detail::kUnexpectedType,
                    a_at.member("size"),
                    "expected a non-negative integer; the size was derived from the data");
        }
        return decoded_base64_size(data);
    }

    void read_task(const Entry& task, Task& out) {
        const At at(bundle_, task.index);
        const Path& p = at.resource;
        out.id = task.id.empty() ? strip_urn(task.full_url) : task.id;
        out.status = r_.string(task.resource, "status", p);
        out.business_status = concept_text_or_code(task.resource, "businessStatus", p, /*text_first=*/true);
        if (const auto reason = r_.object(task.resource, "statusReason", p)) {
            out.status_reason = r_.string(*reason, "text", p.member("statusReason"));
        }
        out.code = concept_text_or_code(task.resource, "code", p, /*text_first=*/false);
        out.authored_on = r_.string(task.resource, "authoredOn", p);
        out.last_modified = r_.string(task.resource, "lastModified", p);
    }

    void read_appointment(const Entry& appointment, Appointment& out) {
        const At at(bundle_, appointment.index);
        const Path& p = at.resource;
        out.id = appointment.id.empty() ? strip_urn(appointment.full_url) : appointment.id;
        out.status = r_.string(appointment.resource, "status", p);
        out.start = r_.string(appointment.resource, "start", p);
        out.end = r_.string(appointment.resource, "end", p);
        out.instructions = r_.string(appointment.resource, "patientInstruction", p);
        out.description = r_.string(appointment.resource, "description", p);
        bool found = false;
        r_.each_object(
            appointment.resource, "participant", p, [&](dom::object participant, const Path& pa_at) {
                if (found) return;
                const auto actor = r_.object(participant, "actor", pa_at);
                if (!actor) return;
                const Path actor_at = pa_at.member("actor");
                const std::string_view reference = r_.string(*actor, "reference", actor_at);
                const bool is_patient = find(reference, "Patient") != nullptr ||
                                        reference.starts_with("Patient/") ||
                                        r_.string(*actor, "type", actor_at) == "Patient";
                if (!is_patient) return;
                found = true;
                out.patient_status = r_.string(participant, "status", pa_at);
            });
    }

    void read_communication(const Entry& communication, Communication& out) {
        const At at(bundle_, communication.index);
        const Path& p = at.resource;
        out.id = communication.id.empty() ? strip_urn(communication.full_url) : communication.id;
        out.status = r_.string(communication.resource, "status", p);
        out.sent = r_.string(communication.resource, "sent", p);
        r_.each_object(communication.resource, "payload", p, [&](dom::object payload, const Path& pl_at) {
            const std::string_view content = r_.string(payload, "contentString", pl_at);
            if (!content.empty()) out.contents.emplace_back(content);
            if (Reader::member(payload, "contentAttachment")) ++out.attachment_count;
        });
    }

    // -- datatypes ------------------------------------------------------------------------------

    std::string concept_text_or_code(dom::object o, std::string_view key, const Path& p, bool text_first) {
        const auto codeable = r_.object(o, key, p);
        if (!codeable) return {};
        const Path c_at = p.member(key);
        const std::string_view text = r_.string(*codeable, "text", c_at);
        if (text_first && !text.empty()) return std::string(text);
        Path coding_at;
        if (const auto coding = r_.first_object(*codeable, "coding", c_at, coding_at)) {
            const std::string_view code = r_.string(*coding, "code", coding_at);
            if (!code.empty()) return std::string(code);
        }
        return std::string(text);
    }

    void read_codings(dom::object codeable, const Path& c_at, std::vector<Coding>& out) {
        r_.each_object(codeable, "coding", c_at, [&](dom::object coding, const Path& at) {
            out.push_back(Coding{std::string(r_.string(coding, "system", at)),
                                 std::string(r_.string(coding, "code", at)),
                                 std::string(r_.string(coding, "display", at))});
        });
    }

    Identifier read_identifier(dom::object identifier, const Path& at) {
        Identifier out;
        out.system = r_.string(identifier, "system", at);
        out.value = r_.string(identifier, "value", at);
        if (const auto type = r_.object(identifier, "type", at)) {
            const Path type_at = at.member("type");
            Path coding_at;
            if (const auto coding = r_.first_object(*type, "coding", type_at, coding_at)) {
                out.type_code = r_.string(*coding, "code", coding_at);
            }
        }
        return out;
    }

    void read_telecoms(dom::object resource, const Path& p, std::vector<Telecom>& out) {
        r_.each_object(resource, "telecom", p, [&](dom::object telecom, const Path& at) {
            out.push_back(Telecom{std::string(r_.string(telecom, "system", at)),
                                  std::string(r_.string(telecom, "value", at)),
                                  std::string(r_.string(telecom, "use", at))});
        });
    }

    Address read_address(dom::object address, const Path& at) {
        Address out;
        out.use = r_.string(address, "use", at);
        out.type = r_.string(address, "type", at);
        r_.each_string(address, "line", at, [&](std::string_view line) { out.lines.emplace_back(line); });
        out.city = r_.string(address, "city", at);
        out.province = r_.string(address, "state", at);
        out.postal_code = r_.string(address, "postalCode", at);
        out.country = r_.string(address, "country", at);
        return out;
    }

    HumanName read_name(dom::object name, const Path& at) {
        HumanName out;
        out.family = r_.string(name, "family", at);
        r_.each_string(name, "given", at, [&](std::string_view given) { out.given.emplace_back(given); });
        r_.each_string(name, "prefix", at, [&](std::string_view prefix) { out.prefix.emplace_back(prefix); });
        out.text = r_.string(name, "text", at);
        return out;
    }

    /// The name with use "official", else the first.
    HumanName read_preferred_name(dom::object resource, const Path& p) {
        std::optional<HumanName> first;
        std::optional<HumanName> official;
        r_.each_object(resource, "name", p, [&](dom::object name, const Path& at) {
            if (official) return;
            if (r_.string(name, "use", at) == "official") {
                official = read_name(name, at);
            } else if (!first) {
                first = read_name(name, at);
            }
        });
        if (official) return std::move(*official);
        if (first) return std::move(*first);
        return {};
    }

    std::vector<Entry>& entries_;
    ParseResult& result_;
    Reader r_;
    const Path bundle_{nullptr, "Bundle", -1};
    Referral referral_;

    // What the MessageHeader said, kept for the steps that need the whole index.
    std::string_view ext_referral_identifier_, ext_id_message_header_;
    std::string_view focus_, sender_, author_;
    Ref receiver_, performer_;
    const Entry* referral_entry_ = nullptr;
    const Entry* target_ = nullptr;
};

}  // namespace

struct ReferralParser::Impl {
    simdjson::dom::parser json;
    std::vector<Entry> entries;
};

ReferralParser::ReferralParser() : impl_(std::make_unique<Impl>()) {}
ReferralParser::~ReferralParser() = default;

namespace {

// Whether a number by the grammar that from_chars found out of range is too large rather than too small:
// its decimal magnitude (position of the first significant digit, plus the exponent) is positive.
bool overflows(std::string_view token) {
    if (!token.empty() && token.front() == '-') token.remove_prefix(1);
    const auto e = token.find_first_of("eE");
    const std::string_view mantissa = token.substr(0, e);
    long long exponent = 0;
    if (e != std::string_view::npos) {
        std::string_view digits = token.substr(e + 1);
        const bool negative = !digits.empty() && digits.front() == '-';
        if (!digits.empty() && (digits.front() == '-' || digits.front() == '+')) digits.remove_prefix(1);
        for (const char c : digits) exponent = std::min<long long>(exponent * 10 + (c - '0'), 1LL << 40);
        if (negative) exponent = -exponent;
    }
    const auto dot = mantissa.find('.');
    const std::string_view integer = mantissa.substr(0, dot);
    const auto first_significant = integer.find_first_not_of('0');
    long long magnitude = 0;
    if (first_significant != std::string_view::npos) {
        magnitude = static_cast<long long>(integer.size() - first_significant);
    } else if (dot != std::string_view::npos) {
        const std::string_view fraction = mantissa.substr(dot + 1);
        const auto nonzero = fraction.find_first_not_of('0');
        if (nonzero == std::string_view::npos) return false;  // zero
        magnitude = -static_cast<long long>(nonzero);
    }
    return magnitude + exponent > 0;
}

// Whether simdjson's DOM can hold this number token: integers within 64 bits (signed or unsigned),
// other numbers within a double's range.
bool fits_the_dom(std::string_view token) {
    const bool integer = token.find_first_of(".eE") == std::string_view::npos;
    if (integer) {
        const bool negative = !token.empty() && token.front() == '-';
        const std::string_view digits = negative ? token.substr(1) : token;
        // 2^63 = 9223372036854775808 (19 digits), 2^64 - 1 = 18446744073709551615 (20 digits).
        if (digits.size() < 19) return true;
        if (negative) return digits.size() == 19 && digits <= "9223372036854775808";
        return digits.size() < 20 || (digits.size() == 20 && digits <= "18446744073709551615");
    }
    double value = 0;
    const auto [end, error] = std::from_chars(token.data(), token.data() + token.size(), value);
    if (error == std::errc()) return std::isfinite(value);
    // Out of range: too small is fine (the DOM reads it as 0), too large is not.
    return !overflows(token);
}

// A copy of `json` in which every number the DOM cannot hold is written as the nearest double (an
// infinite one as the largest finite double). JSON itself bounds no number (RFC 8259 §6): such bundles
// are routed, their out-of-range values approximated in formats rendered from the model (the ocean-fhir
// format passes the original bytes on untouched). nullopt when no number needed it.
std::optional<std::string> with_representable_numbers(std::string_view json) {
    std::string out;
    bool changed = false;
    std::size_t copied = 0;
    std::size_t i = 0;
    while (i < json.size()) {
        const char c = json[i];
        if (c == '"') {
            for (++i; i < json.size() && json[i] != '"'; ++i) {
                if (json[i] == '\\') ++i;
            }
            ++i;
            continue;
        }
        if (c != '-' && (c < '0' || c > '9')) {
            ++i;
            continue;
        }
        std::size_t end = i;
        while (end < json.size() && (json[end] == '-' || json[end] == '+' || json[end] == '.' || json[end] == 'e' ||
                                     json[end] == 'E' || (json[end] >= '0' && json[end] <= '9'))) {
            ++end;
        }
        const std::string_view token = json.substr(i, end - i);
        // Only numbers by the grammar are rewritten: anything else is left for the parser to refuse.
        if (fhir::is_json_number(token) && !fits_the_dom(token)) {
            double value = 0;
            const auto [rest, error] = std::from_chars(token.data(), token.data() + token.size(), value);
            // Out of range: from_chars leaves the value alone; the largest double of the right sign stands in.
            if (error != std::errc() || !std::isfinite(value)) {
                value = std::copysign(std::numeric_limits<double>::max(), token.front() == '-' ? -1.0 : 1.0);
            }
            out.append(json.substr(copied, i - copied));
            out += fmt::format("{:.17g}", value);
            copied = end;
            changed = true;
        }
        i = end;
    }
    if (!changed) return std::nullopt;
    out.append(json.substr(copied));
    return out;
}

}  // namespace

ParseResult ReferralParser::parse(std::string_view bundle_json) {
    ParseResult result;
    dom::element root;
    // The DOM parser copies the input into its own padded buffer, reused across calls.
    auto error = impl_->json.parse(bundle_json.data(), bundle_json.size()).get(root);
    std::optional<std::string> tamed;
    if (error == simdjson::NUMBER_ERROR && (tamed = with_representable_numbers(bundle_json))) {
        error = impl_->json.parse(tamed->data(), tamed->size()).get(root);
        if (error == simdjson::SUCCESS) {
            result.warnings.push_back(ParseWarning{
                "number-out-of-range", "Bundle", "a number beyond 64 bits or a double's range was approximated"});
        }
    }
    if (error != simdjson::SUCCESS) {
        result.error =
            ParseError{"invalid-json",
                       "Bundle",
                       fmt::format("the body is not well-formed JSON ({})", simdjson::error_message(error))};
        return result;
    }
    try {
        BundleReader(impl_->entries, result).read(root);
    } catch (const std::exception&) {
        // Only allocation (and std::stoull, on input checked beforehand) can throw past the error-code
        // API; the caller gets an error rather than an exception.
        result.referral.reset();
        result.error = ParseError{"internal", "Bundle", "an internal error stopped the parse"};
    }
    if (result.error) result.referral.reset();
    return result;
}

}  // namespace relay::transform
