// The normalised FHIR R4 message Bundle (Ontario eReferral v0.11.1 shape) from the canonical referral.
//
// Shape, in entry order: MessageHeader, Patient, referrer PractitionerRole/Practitioner/Location,
// submitter (same three, when a delegate typed the referral), target listing PractitionerRole/Location,
// DocumentReferences, ServiceRequest, QuestionnaireResponse, Tasks, Appointments, Communications.
// Every entry has a `urn:uuid:` fullUrl (also the MessageHeader, whose bare-uuid fullUrl in Ocean's
// bundles HAPI rejects) derived by name from (referral ref, role[, the resource's own id]), so the same
// referral always gets the same ids; every reference is by fullUrl.
//
// What `ReferralParser::parse(render_fhir_r4(r))` gives back differs from `r` only in:
//  - `dialect`: always kV0_11 (this is the v0.11.1 shape);
//  - FHIR cannot carry these, so they do not round-trip (none occur in Ocean's payloads):
//    * empty values of elements FHIR requires a code for: ServiceRequest.status → "unknown", .intent →
//      "proposal", DocumentReference.status → "current", QuestionnaireResponse.status → "completed",
//      Task.status → "requested", Appointment.status → "proposed", the Appointment participant's status
//      → "needs-action", Communication.status → "unknown";
//    * structures with no value at all (an all-empty Telecom, Coding, Address in a list, Identifier)
//      and empty strings inside lists (given names, address lines, answers, contents): FHIR has no
//      empty strings (ele-1);
//    * a Task/Appointment/Communication/Attachment/MessageHeader id that is not a valid FHIR id
//      ([A-Za-z0-9-.]{1,64}): the resource is written without `id` (the fullUrl still identifies it),
//      so the parser reads the fullUrl's uuid instead; likewise an empty message_header_id reads back
//      as the MessageHeader's fullUrl ("urn:uuid:…", which renders again to the same bytes).
//  ServiceRequest.code is not in the model: it is written only when orderDetail is (FHIR's prr-1), as
//  the text of the first order detail.
//  Elements FHIR requires but the canonical model does not hold are written with the standard
//  data-absent-reason extension instead of a value (MessageHeader.destination.endpoint — the receiver's
//  URL is the delivery's business, not the referral's — and source.endpoint, Annotation.text of a note
//  without text): they read back as "".
#include <string>
#include <string_view>
#include <vector>

#include "relay/transform/render.hpp"
#include "render_common.hpp"

namespace relay::transform {

namespace {

using namespace detail;

constexpr std::string_view kProfilePrefix =
    "http://ehealthontario.ca/fhir/StructureDefinition/ca-on-eReferral-profile-";
constexpr std::string_view kDataAbsentReason = "http://hl7.org/fhir/StructureDefinition/data-absent-reason";
constexpr std::string_view kV2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203";
constexpr std::string_view kHcnSystem = "https://fhir.infoway-inforoute.ca/NamingSystem/ca-on-patient-hcn";
constexpr std::string_view kHcnVersionExt =
    "http://ehealthontario.ca/fhir/StructureDefinition/ext-id-health-card-version-code";
constexpr std::string_view kLicenceSystem =
    "http://infoway-inforoute.ca/fhir/NamingSystem/ca-on-license-physician";
constexpr std::string_view kBillingSystem =
    "https://fhir.infoway-inforoute.ca/NamingSystem/ca-on-ohip-billing-id";
constexpr std::string_view kVisibilityExt =
    "https://ocean.cognisantmd.com/svc/fhir/v1/StructureDefinition/ext-ocean-eform-item-visibility";
constexpr std::string_view kTaskCodeSystem = "http://terminology.hl7.org/CodeSystem/v3-TaskOutcome";

/// "urn:uuid:" + uuid, the only form of fullUrl and reference in the output.
std::string urn(std::string_view uuid) {
    std::string out;
    out.reserve(9 + uuid.size());
    out.append("urn:uuid:").append(uuid);
    return out;
}

/// Each resource's fullUrl, computed once: references reuse these strings.
struct Urls {
    std::string header, patient, referrer_role, referrer, referrer_location, submitter_role, submitter,
        submitter_location, target_role, target_location, service_request, form;
    std::vector<std::string> attachments, tasks, appointments, communications;
};

/// Keys for the resources of one list: their own id, made unique by position when repeated or empty
/// (two entries must never share a fullUrl).
template <typename T>
std::vector<std::string> list_urls(const std::vector<T>& items, std::string_view ref, std::string_view role) {
    std::vector<std::string> out;
    out.reserve(items.size());
    for (std::size_t i = 0; i < items.size(); ++i) {
        bool repeated = items[i].id.empty();
        for (std::size_t j = 0; j < i && !repeated; ++j) repeated = items[j].id == items[i].id;
        // Appended rather than "#" + to_string(i): GCC 12 at -O3 misreports the latter (-Wrestrict).
        std::string position("#");
        position.append(std::to_string(i));
        out.push_back(urn(repeated ? name_uuid(ref, role, position) : name_uuid(ref, role, items[i].id)));
    }
    return out;
}

bool clinician_has_practitioner(const Clinician& c) {
    return !name_empty(c.name) || !c.licence.empty() || !c.billing_number.empty() || !c.username.empty() ||
           !c.other_identifiers.empty();
}

bool clinician_has_location(const Clinician& c) {
    return !c.location_name.empty() || (c.address && !address_empty(*c.address));
}

class BundleWriter {
   public:
    BundleWriter(const Referral& r, json::storage_ptr sp) : r_(r), sp_(std::move(sp)) { make_urls(); }

    json::value write() {
        json::value root(json::object_kind, sp_);
        json::object& bundle = root.get_object();
        bundle.reserve(6);
        bundle["resourceType"] = "Bundle";
        put(bundle, "id", r_.bundle_id);
        if (r_.test_data || !r_.last_updated.empty()) {
            json::object& meta = set_object(bundle, "meta");
            // Ocean's own clock for this message: kept, as the router orders a referral's versions by it.
            put(meta, "lastUpdated", r_.last_updated);
        }
        if (r_.test_data) {
            json::object& security = add_object(set_array(bundle["meta"].as_object(), "security"));
            security["system"] = "http://terminology.hl7.org/CodeSystem/v3-ActReason";
            security["code"] = "HTEST";
            security["display"] = "test health data";
        }
        bundle["type"] = "message";
        put(bundle, "timestamp", r_.timestamp);
        json::array& entries = set_array(bundle, "entry");
        entries.reserve(12 + r_.attachments.size() + r_.tasks.size() + r_.appointments.size() +
                        r_.communications.size());

        message_header(start(entries, urls_.header, "MessageHeader", "1.0.1"));
        patient(start(entries, urls_.patient, "Patient", "1.0.1"));
        clinician(entries, r_.referrer, urls_.referrer_role, urls_.referrer, urls_.referrer_location);
        if (r_.submitter) {
            clinician(
                entries, *r_.submitter, urls_.submitter_role, urls_.submitter, urls_.submitter_location);
        }
        target(entries);
        for (std::size_t i = 0; i < r_.attachments.size(); ++i) {
            document(start(entries, urls_.attachments[i], "DocumentReference", "1.0.0"), r_.attachments[i]);
        }
        service_request(start(entries, urls_.service_request, "ServiceRequest", "1.0.1"));
        if (r_.form) questionnaire_response(start(entries, urls_.form, "QuestionnaireResponse", "1.0.0"));
        for (std::size_t i = 0; i < r_.tasks.size(); ++i) {
            task(start(entries, urls_.tasks[i], "Task", {}), r_.tasks[i]);
        }
        for (std::size_t i = 0; i < r_.appointments.size(); ++i) {
            appointment(start(entries, urls_.appointments[i], "Appointment", "1.0.0"), r_.appointments[i]);
        }
        for (std::size_t i = 0; i < r_.communications.size(); ++i) {
            communication(start(entries, urls_.communications[i], "Communication", {}), r_.communications[i]);
        }
        return root;
    }

   private:
    void make_urls() {
        const std::string_view ref = r_.referral_ref;
        urls_.header = header_url();
        urls_.patient = urn(name_uuid(ref, "Patient"));
        urls_.referrer_role = urn(name_uuid(ref, "PractitionerRole/referrer"));
        urls_.referrer = urn(name_uuid(ref, "Practitioner/referrer"));
        urls_.referrer_location = urn(name_uuid(ref, "Location/referrer"));
        if (r_.submitter) {
            urls_.submitter_role = urn(name_uuid(ref, "PractitionerRole/submitter"));
            urls_.submitter = urn(name_uuid(ref, "Practitioner/submitter"));
            urls_.submitter_location = urn(name_uuid(ref, "Location/submitter"));
        }
        urls_.target_role = urn(name_uuid(ref, "PractitionerRole/target"));
        urls_.target_location = urn(name_uuid(ref, "Location/target"));
        urls_.service_request = urn(name_uuid(ref, "ServiceRequest"));
        urls_.form = urn(name_uuid(ref, "QuestionnaireResponse"));
        urls_.attachments = list_urls(r_.attachments, ref, "DocumentReference");
        urls_.tasks = list_urls(r_.tasks, ref, "Task");
        urls_.appointments = list_urls(r_.appointments, ref, "Appointment");
        urls_.communications = list_urls(r_.communications, ref, "Communication");
    }

    /// Ocean's header id is a uuid (its v0.11 fullUrl, bare): kept as the urn:uuid fullUrl. A header id
    /// that already is a urn:uuid (what the parser reads back from a header without id) is kept as is,
    /// so rendering a parsed rendering gives the same bytes; anything else gets a name-based uuid.
    [[nodiscard]] std::string header_url() const {
        std::string_view id = r_.message_header_id;
        if (id.starts_with("urn:uuid:")) id.remove_prefix(9);
        if (is_uuid(id)) return urn(id);
        return urn(name_uuid(r_.referral_ref, "MessageHeader", r_.message_header_id));
    }

    static bool is_uuid(std::string_view s) {
        if (s.size() != 36) return false;
        for (std::size_t i = 0; i < s.size(); ++i) {
            const char c = s[i];
            const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
            if (dash ? c != '-'
                     : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
                return false;
            }
        }
        return true;
    }

    /// The role that authored the referral: the submitter's when a delegate typed it in.
    [[nodiscard]] const std::string& author_role() const {
        return r_.submitter ? urls_.submitter_role : urls_.referrer_role;
    }
    /// The author's Practitioner fullUrl, or nullptr when that Practitioner is not written.
    [[nodiscard]] const std::string* author_practitioner() const {
        if (r_.submitter) return clinician_has_practitioner(*r_.submitter) ? &urls_.submitter : nullptr;
        return clinician_has_practitioner(r_.referrer) ? &urls_.referrer : nullptr;
    }

    // -- building blocks --

    /// A new entry with its fullUrl; returns the resource with resourceType (and profile) set.
    static json::object& start(json::array& entries,
                               const std::string& full_url,
                               std::string_view type,
                               std::string_view profile_version) {
        json::object& entry = add_object(entries);
        entry.reserve(2);
        entry["fullUrl"] = full_url;
        json::object& resource = set_object(entry, "resource");
        resource.reserve(16);
        resource["resourceType"] = type;
        if (!profile_version.empty()) {
            json::array& profiles = set_array(set_object(resource, "meta"), "profile");
            std::string p;
            p.reserve(kProfilePrefix.size() + type.size() + 1 + profile_version.size());
            p.append(kProfilePrefix).append(type).append("|").append(profile_version);
            profiles.emplace_back(p);
        }
        return resource;
    }

    /// Writes `id` only when FHIR allows it as a resource id (see the file comment).
    static void put_id(json::object& resource, std::string_view id) {
        if (is_fhir_id(id)) resource["id"] = id;
    }

    static void reference(json::object& parent, std::string_view key, std::string_view full_url) {
        set_object(parent, key)["reference"] = full_url;
    }
    static void add_reference(json::array& parent, std::string_view full_url) {
        add_object(parent)["reference"] = full_url;
    }

    /// `key` present with no value: `_key` carries data-absent-reason "unknown", which satisfies a
    /// required (1..1) element FHIR has no value for (allowed on every primitive).
    static void absent(json::object& parent, std::string_view key) {
        std::string underscored;
        underscored.reserve(key.size() + 1);
        underscored.append("_").append(key);
        json::object& ext = add_object(set_array(set_object(parent, underscored), "extension"));
        ext["url"] = kDataAbsentReason;
        ext["valueCode"] = "unknown";
    }

    static void put_or_absent(json::object& parent, std::string_view key, std::string_view value) {
        if (value.empty()) {
            absent(parent, key);
        } else {
            parent[key] = value;
        }
    }

    /// A required code: the fallback (documented above) when the canonical value is empty.
    static void put_code(json::object& parent,
                         std::string_view key,
                         std::string_view value,
                         std::string_view fallback) {
        parent[key] = value.empty() ? fallback : value;
    }

    static bool coding_empty(const Coding& c) {
        return c.system.empty() && c.code.empty() && c.display.empty();
    }

    static void coding(json::object& out, const Coding& c) {
        put(out, "system", c.system);
        put(out, "code", c.code);
        put(out, "display", c.display);
    }

    /// One CodeableConcept per coding (how Ocean sends categories and specialties).
    static void concepts(json::object& parent, std::string_view key, const std::vector<Coding>& codings) {
        bool any = false;
        for (const auto& c : codings) any = any || !coding_empty(c);
        if (!any) return;
        json::array& out = set_array(parent, key);
        out.reserve(codings.size());
        for (const auto& c : codings) {
            if (coding_empty(c)) continue;
            coding(add_object(set_array(add_object(out), "coding")), c);
        }
    }

    /// {"text": text} when text is set.
    static void text_concept(json::object& parent, std::string_view key, std::string_view text) {
        if (!text.empty()) set_object(parent, key)["text"] = text;
    }

    static void strings(json::object& parent, std::string_view key, const std::vector<std::string>& values) {
        bool any = false;
        for (const auto& v : values) any = any || !v.empty();
        if (!any) return;
        json::array& out = set_array(parent, key);
        out.reserve(values.size());
        for (const auto& v : values) {
            if (!v.empty()) out.emplace_back(v);
        }
    }

    static void human_name(json::array& names, const HumanName& n) {
        json::object& out = add_object(names);
        put(out, "text", n.text);
        put(out, "family", n.family);
        strings(out, "given", n.given);
        strings(out, "prefix", n.prefix);
    }

    static void telecoms(json::object& parent, const std::vector<Telecom>& telecom) {
        bool any = false;
        for (const auto& t : telecom) any = any || !(t.system.empty() && t.value.empty() && t.use.empty());
        if (!any) return;
        json::array& out = set_array(parent, "telecom");
        out.reserve(telecom.size());
        for (const auto& t : telecom) {
            if (t.system.empty() && t.value.empty() && t.use.empty()) continue;
            json::object& o = add_object(out);
            put(o, "system", t.system);
            put(o, "value", t.value);
            put(o, "use", t.use);
        }
    }

    static void address(json::object& out, const Address& a) {
        put(out, "use", a.use);
        put(out, "type", a.type);
        strings(out, "line", a.lines);
        put(out, "city", a.city);
        put(out, "state", a.province);
        put(out, "postalCode", a.postal_code);
        put(out, "country", a.country);
    }

    static json::object& identifier(json::array& ids, std::string_view system, std::string_view value) {
        json::object& id = add_object(ids);
        put(id, "system", system);
        put(id, "value", value);
        return id;
    }

    static void type_coding(json::object& identifier, std::string_view code, std::string_view display) {
        json::object& c = add_object(set_array(set_object(identifier, "type"), "coding"));
        c["system"] = kV2_0203;
        c["code"] = code;
        put(c, "display", display);
    }

    static std::string ocean_system(std::string_view suffix) {
        std::string s;
        s.reserve(kOceanNamingSystem.size() + suffix.size());
        s.append(kOceanNamingSystem).append(suffix);
        return s;
    }

    static void other_identifiers(json::array& ids, const std::vector<Identifier>& others) {
        for (const auto& other : others) {
            if (other.system.empty() && other.value.empty() && other.type_code.empty()) continue;
            json::object& id = identifier(ids, other.system, other.value);
            if (!other.type_code.empty()) type_coding(id, other.type_code, {});
        }
    }

    // -- resources --

    void message_header(json::object& h) {
        put_id(h, r_.message_header_id);
        json::object& ext = add_object(set_array(h, "extension"));
        ext["url"] = "http://ehealthontario.ca/fhir/StructureDefinition/ext-referral-identifier";
        json::object& value = set_object(ext, "valueIdentifier");
        value["system"] = ocean_system("id-ereferral-reference");
        put(value, "value", r_.referral_ref);

        json::object& event = set_object(h, "eventCoding");
        event["system"] = "https://ehealthontario.ca/fhir/CodeSystem/message-event-code";
        put(event, "code", r_.event);

        json::object& destination = add_object(set_array(h, "destination"));
        put(destination, "name", r_.target.name);
        absent(destination, "endpoint");
        reference(destination, "receiver", urls_.target_role);

        reference(h, "sender", urls_.referrer_role);
        reference(h, "author", author_role());
        json::object& source = set_object(h, "source");
        source["name"] = "Ocean";
        put_or_absent(source, "endpoint", r_.source_endpoint);
        text_concept(h, "reason", r_.reason);
        add_reference(set_array(h, "focus"), urls_.service_request);
    }

    void patient(json::object& out) { patient_elements(out, r_.patient); }

   public:
    /// The Patient's elements (detail::fhir_patient shares them with the Patient Engagement bundle).
    static void patient_elements(json::object& out, const Patient& p) {
        const bool hcn = !p.health_number.empty() || !p.health_number_version.empty();
        if (hcn || !p.mrn.empty() || !p.other_identifiers.empty()) {
            json::array& ids = set_array(out, "identifier");
            ids.reserve(2 + p.other_identifiers.size());
            if (hcn) {
                json::object& id = add_object(ids);
                if (!p.health_number_version.empty()) {
                    json::object& ext = add_object(set_array(id, "extension"));
                    ext["url"] = kHcnVersionExt;
                    ext["valueString"] = p.health_number_version;
                }
                id["use"] = "official";
                type_coding(id, "JHN", "Jurisdictional health number (Canada)");
                id["system"] = kHcnSystem;
                put(id, "value", p.health_number);
            }
            if (!p.mrn.empty()) {
                json::object& id = identifier(ids, ocean_system("id-external-patient-reference"), p.mrn);
                type_coding(id, "MR", "Medical record number");
            }
            other_identifiers(ids, p.other_identifiers);
        }
        if (!name_empty(p.name)) human_name(set_array(out, "name"), p.name);
        telecoms(out, p.telecom);
        put(out, "gender", p.gender);
        put(out, "birthDate", p.birth_date);
        bool any_address = false;
        for (const auto& a : p.addresses) any_address = any_address || !address_empty(a);
        if (any_address) {
            json::array& addresses = set_array(out, "address");
            for (const auto& a : p.addresses) {
                if (!address_empty(a)) address(add_object(addresses), a);
            }
        }
        if (!p.language.empty()) {
            json::object& language = set_object(add_object(set_array(out, "communication")), "language");
            json::object& c = add_object(set_array(language, "coding"));
            c["system"] = "urn:ietf:bcp:47";
            c["code"] = p.language;
        }
    }

   private:
    /// PractitionerRole (+ Practitioner, + Location when there is something to say in them).
    void clinician(json::array& entries,
                   const Clinician& c,
                   const std::string& role_url,
                   const std::string& practitioner_url,
                   const std::string& location_url) {
        const bool has_practitioner = clinician_has_practitioner(c);
        const bool has_location = clinician_has_location(c);

        json::object& role = start(entries, role_url, "PractitionerRole", "1.0.0");
        // The licence on the role too, as Ocean sends it: readers that look only at the role find it.
        if (!c.licence.empty()) licence(set_array(role, "identifier"), c.licence);
        if (has_practitioner) reference(role, "practitioner", practitioner_url);
        concepts(role, "specialty", c.specialty);
        if (has_location) add_reference(set_array(role, "location"), location_url);
        telecoms(role, c.telecom);

        if (has_practitioner) {
            json::object& practitioner = start(entries, practitioner_url, "Practitioner", "1.0.0");
            if (!c.licence.empty() || !c.billing_number.empty() || !c.username.empty() ||
                !c.other_identifiers.empty()) {
                json::array& ids = set_array(practitioner, "identifier");
                ids.reserve(3 + c.other_identifiers.size());
                if (!c.licence.empty()) licence(ids, c.licence);
                if (!c.billing_number.empty()) identifier(ids, kBillingSystem, c.billing_number);
                if (!c.username.empty())
                    identifier(ids, ocean_system("id-practitioner-username"), c.username);
                other_identifiers(ids, c.other_identifiers);
            }
            if (!name_empty(c.name)) human_name(set_array(practitioner, "name"), c.name);
        }
        if (has_location)
            location(start(entries, location_url, "Location", "1.0.1"), c.location_name, c.address);
    }

    static void licence(json::array& ids, std::string_view value) {
        json::object& id = add_object(ids);
        id["use"] = "official";
        type_coding(id, "MD", "Medical License number");
        id["system"] = kLicenceSystem;
        id["value"] = value;
    }

    static void location(json::object& out, std::string_view name, const std::optional<Address>& a) {
        put(out, "name", name);
        if (a && !address_empty(*a)) address(set_object(out, "address"), *a);
    }

    void target(json::array& entries) {
        const Listing& t = r_.target;
        const bool has_location = !t.location_name.empty() || (t.address && !address_empty(*t.address));
        json::object& role = start(entries, urls_.target_role, "PractitionerRole", "1.0.0");
        if (!t.listing_ref.empty() || !t.site_number.empty() || !t.external_service_id.empty()) {
            json::array& ids = set_array(role, "identifier");
            ids.reserve(3);
            if (!t.listing_ref.empty()) {
                identifier(ids, ocean_system("id-referral-target-reference"), t.listing_ref);
            }
            if (!t.site_number.empty()) identifier(ids, ocean_system("id-site-number"), t.site_number);
            if (!t.external_service_id.empty()) {
                identifier(ids, ocean_system("id-referral-target-external-service"), t.external_service_id);
            }
        }
        concepts(role, "specialty", t.specialty);
        if (has_location) add_reference(set_array(role, "location"), urls_.target_location);
        telecoms(role, t.telecom);
        if (has_location) {
            location(start(entries, urls_.target_location, "Location", "1.0.1"), t.location_name, t.address);
        }
    }

    void document(json::object& out, const Attachment& a) {
        put_id(out, a.id);
        put_code(out, "status", a.status, "current");
        put(out, "description", a.description);
        reference(out, "subject", urls_.patient);
        json::object& attachment = set_object(add_object(set_array(out, "content")), "attachment");
        put(attachment, "contentType", a.content_type);
        put(attachment, "data", a.data_base64);
        put(attachment, "url", a.url);
        if (a.size > 0) attachment["size"] = a.size;
        put(attachment, "title", a.title);
        put(attachment, "creation", a.created);
        if (attachment.empty()) absent_element(attachment);
    }

    /// An element with no value (ele-1 needs a value or children): the data-absent-reason extension.
    static void absent_element(json::object& element) {
        json::object& ext = add_object(set_array(element, "extension"));
        ext["url"] = kDataAbsentReason;
        ext["valueCode"] = "unknown";
    }

    void service_request(json::object& out) {
        json::array& ids = set_array(out, "identifier");
        identifier(ids, ocean_system("id-ereferral-reference"), r_.referral_ref);
        put_code(out, "status", r_.status, "unknown");
        put_code(out, "intent", r_.intent, "proposal");
        concepts(out, "category", r_.categories);
        put(out, "priority", r_.priority);
        bool any_detail = false;
        for (const auto& d : r_.order_details) any_detail = any_detail || !d.empty();
        if (any_detail) {
            // prr-1: orderDetail only with a code. Ocean's v0.10 orderDetail names the health service
            // type requested, so that name is the request's code (as text: it has no coding).
            for (const auto& d : r_.order_details) {
                if (d.empty()) continue;
                set_object(out, "code")["text"] = d;
                break;
            }
            json::array& details = set_array(out, "orderDetail");
            for (const auto& d : r_.order_details) {
                if (d.empty()) continue;
                // Both spellings Ocean used (v0.10 sent coding.display): every reader finds it.
                json::object& detail = add_object(details);
                add_object(set_array(detail, "coding"))["display"] = d;
                detail["text"] = d;
            }
        }
        reference(out, "subject", urls_.patient);
        put(out, "authoredOn", r_.authored_on);
        reference(out, "requester", author_role());
        add_reference(set_array(out, "performer"), urls_.target_role);
        if (!r_.attachments.empty() || r_.form) {
            json::array& supporting = set_array(out, "supportingInfo");
            supporting.reserve(r_.attachments.size() + 1);
            for (const auto& url : urls_.attachments) add_reference(supporting, url);
            if (r_.form) add_reference(supporting, urls_.form);
        }
        if (!r_.notes.empty()) {
            json::array& notes = set_array(out, "note");
            notes.reserve(r_.notes.size());
            const std::string* author = author_practitioner();
            for (const auto& n : r_.notes) {
                json::object& note = add_object(notes);
                if (author != nullptr) reference(note, "authorReference", *author);
                put(note, "time", n.time);
                // Annotation.text is 1..1: a note Ocean sent without text keeps the element, value absent.
                put_or_absent(note, "text", n.html);
            }
        }
    }

    void questionnaire_response(json::object& out) {
        const Form& f = *r_.form;
        if (!f.form_ref.empty()) {
            // 0..1 in R4: a single Identifier.
            json::object& id = set_object(out, "identifier");
            id["system"] = ocean_system("id-form-reference");
            id["value"] = f.form_ref;
        }
        put_code(out, "status", f.status, "completed");
        reference(out, "subject", urls_.patient);
        put(out, "authored", f.authored);
        if (const std::string* author = author_practitioner()) reference(out, "author", *author);
        if (f.items.empty()) return;
        json::array& items = set_array(out, "item");
        items.reserve(f.items.size());
        for (const auto& item : f.items) {
            json::object& o = add_object(items);
            if (item.hidden) {
                json::object& ext = add_object(set_array(o, "extension"));
                ext["url"] = kVisibilityExt;
                ext["valueString"] = "hidden";
            }
            // linkId is 1..1; Ocean always sends one.
            put_or_absent(o, "linkId", item.link_id);
            put(o, "text", item.text);
            bool any = false;
            for (const auto& a : item.answers) any = any || !a.empty();
            if (!any) continue;
            json::array& answers = set_array(o, "answer");
            answers.reserve(item.answers.size());
            for (const auto& a : item.answers) {
                if (!a.empty()) add_object(answers)["valueString"] = a;
            }
        }
    }

    void task(json::object& out, const Task& t) {
        put_id(out, t.id);
        add_reference(set_array(out, "basedOn"), urls_.service_request);
        put_code(out, "status", t.status, "requested");
        text_concept(out, "statusReason", t.status_reason);
        text_concept(out, "businessStatus", t.business_status);
        // Task.intent is 1..1 and not in the model: what Ocean and the receivers send.
        out["intent"] = "order";
        if (!t.code.empty()) {
            json::object& c = add_object(set_array(set_object(out, "code"), "coding"));
            c["system"] = kTaskCodeSystem;
            c["code"] = t.code;
        }
        reference(out, "focus", urls_.service_request);
        reference(out, "for", urls_.patient);
        put(out, "authoredOn", t.authored_on);
        put(out, "lastModified", t.last_modified);
        reference(out, "owner", urls_.target_role);
    }

    void appointment(json::object& out, const Appointment& a) {
        put_id(out, a.id);
        put_code(out, "status", a.status, "proposed");
        put(out, "description", a.description);
        put(out, "start", a.start);
        put(out, "end", a.end);
        put(out, "patientInstruction", a.instructions);
        add_reference(set_array(out, "basedOn"), urls_.service_request);
        json::object& participant = add_object(set_array(out, "participant"));
        reference(participant, "actor", urls_.patient);
        put_code(participant, "status", a.patient_status, "needs-action");
    }

    void communication(json::object& out, const Communication& c) {
        put_id(out, c.id);
        add_reference(set_array(out, "basedOn"), urls_.service_request);
        put_code(out, "status", c.status, "unknown");
        reference(out, "subject", urls_.patient);
        put(out, "sent", c.sent);
        std::size_t contents = 0;
        for (const auto& s : c.contents) contents += s.empty() ? 0 : 1;
        if (contents + c.attachment_count == 0) return;
        json::array& payload = set_array(out, "payload");
        payload.reserve(contents + c.attachment_count);
        for (const auto& s : c.contents) {
            if (!s.empty()) add_object(payload)["contentString"] = s;
        }
        // The model counts attachments but does not hold them: each is present, its data absent.
        for (std::size_t i = 0; i < c.attachment_count; ++i) {
            absent_element(set_object(add_object(payload), "contentAttachment"));
        }
    }

    const Referral& r_;
    json::storage_ptr sp_;
    Urls urls_;
};

}  // namespace

namespace detail {

void fhir_patient(json::object& out, const Patient& patient) { BundleWriter::patient_elements(out, patient); }

}  // namespace detail

std::string render_fhir_r4(const Referral& referral) {
    const std::size_t hint = payload_bytes(referral) * 2 + 8192;
    Arena arena(hint * 2);
    const json::value root = BundleWriter(referral, arena.storage()).write();
    return serialize(root, hint);
}

}  // namespace relay::transform
