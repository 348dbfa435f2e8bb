// The flat "hub JSON": one object per referral message, no references to resolve, every key always
// present ("" for an unknown string, [] for an empty list, null for an absent optional object), so a
// simple hub system can read it with a fixed mapping. Documented and enforced by
// libs/transform/schemas/hub-referral.schema.json (JSON Schema 2020-12, additionalProperties false);
// `format` names the version of that contract: any change to the keys is a new version.
//
// Attachments carry their inline data (`data_base64`, as Ocean sent it) rather than dropping it above
// some size: Ocean sends an inline attachment without a URL, so the message is the only copy a hub will
// ever get. By-URL documents (the referral letter, `$letter`) have `data_base64: null` and are fetched
// from `url` with the site's Bearer token.
#include "relay/transform/render.hpp"
#include "render_common.hpp"

namespace relay::transform {

namespace {

using namespace detail;

constexpr std::string_view kHubFormat = "ocean-relay.hub-referral.v1";

void strings(json::object& parent, std::string_view key, const std::vector<std::string>& values) {
    json::array& out = set_array(parent, key);
    out.reserve(values.size());
    for (const auto& v : values) out.emplace_back(v);
}

void name(json::object& parent, const HumanName& n) {
    json::object& out = set_object(parent, "name");
    out.reserve(4);
    put_always(out, "family", n.family);
    strings(out, "given", n.given);
    strings(out, "prefix", n.prefix);
    put_always(out, "text", n.text);
}

void address(json::object& out, const Address& a) {
    out.reserve(7);
    put_always(out, "use", a.use);
    put_always(out, "type", a.type);
    strings(out, "lines", a.lines);
    put_always(out, "city", a.city);
    put_always(out, "province", a.province);
    put_always(out, "postal_code", a.postal_code);
    put_always(out, "country", a.country);
}

void optional_address(json::object& parent, const std::optional<Address>& a) {
    if (a) {
        address(set_object(parent, "address"), *a);
    } else {
        parent["address"] = nullptr;
    }
}

void telecom(json::object& parent, const std::vector<Telecom>& telecom) {
    json::array& out = set_array(parent, "telecom");
    out.reserve(telecom.size());
    for (const auto& t : telecom) {
        json::object& o = add_object(out);
        put_always(o, "system", t.system);
        put_always(o, "value", t.value);
        put_always(o, "use", t.use);
    }
}

void codings(json::object& parent, std::string_view key, const std::vector<Coding>& codings) {
    json::array& out = set_array(parent, key);
    out.reserve(codings.size());
    for (const auto& c : codings) {
        json::object& o = add_object(out);
        put_always(o, "system", c.system);
        put_always(o, "code", c.code);
        put_always(o, "display", c.display);
    }
}

void identifiers(json::object& parent, const std::vector<Identifier>& ids) {
    json::array& out = set_array(parent, "other_identifiers");
    out.reserve(ids.size());
    for (const auto& id : ids) {
        json::object& o = add_object(out);
        put_always(o, "system", id.system);
        put_always(o, "value", id.value);
        put_always(o, "type_code", id.type_code);
    }
}

void clinician(json::object& out, const Clinician& c) {
    out.reserve(9);
    name(out, c.name);
    put_always(out, "licence", c.licence);
    put_always(out, "billing_number", c.billing_number);
    put_always(out, "username", c.username);
    identifiers(out, c.other_identifiers);
    telecom(out, c.telecom);
    put_always(out, "location_name", c.location_name);
    optional_address(out, c.address);
    codings(out, "specialty", c.specialty);
}

void patient(json::object& out, const Patient& p) {
    out.reserve(11);
    put_always(out, "health_number", p.health_number);
    put_always(out, "health_number_version", p.health_number_version);
    put_always(out, "mrn", p.mrn);
    identifiers(out, p.other_identifiers);
    name(out, p.name);
    put_always(out, "birth_date", p.birth_date);
    put_always(out, "gender", p.gender);
    put_always(out, "language", p.language);
    telecom(out, p.telecom);
    json::array& addresses = set_array(out, "addresses");
    addresses.reserve(p.addresses.size());
    for (const auto& a : p.addresses) address(add_object(addresses), a);
}

}  // namespace

namespace detail {

void hub_patient(json::object& out, const Patient& p) { patient(out, p); }

}  // namespace detail

namespace {

const char* dialect_name(fhir::Dialect d) {
    switch (d) {
        case fhir::Dialect::kV0_10:
            return "0.10";
        case fhir::Dialect::kV0_11:
            return "0.11";
        case fhir::Dialect::kUnknown:
            break;
    }
    return "";
}

json::value build(const Referral& r, json::storage_ptr sp) {
    json::value root(json::object_kind, std::move(sp));
    json::object& out = root.get_object();
    out.reserve(24);
    out["format"] = kHubFormat;
    put_always(out, "referral_ref", r.referral_ref);
    put_always(out, "event", r.event);
    put_always(out, "site_number", r.target.site_number);
    put_always(out, "listing_ref", r.target.listing_ref);
    put_always(out, "external_service_id", r.target.external_service_id);
    put_always(out, "status", r.status);
    put_always(out, "intent", r.intent);
    put_always(out, "priority", r.priority);
    put_always(out, "authored_on", r.authored_on);
    codings(out, "categories", r.categories);
    strings(out, "order_details", r.order_details);

    json::object& message = set_object(out, "message");
    message.reserve(7);
    put_always(message, "bundle_id", r.bundle_id);
    put_always(message, "message_header_id", r.message_header_id);
    put_always(message, "timestamp", r.timestamp);
    put_always(message, "reason", r.reason);
    put_always(message, "source_endpoint", r.source_endpoint);
    message["source_dialect"] = dialect_name(r.dialect);
    message["test_data"] = r.test_data;

    json::object& listing = set_object(out, "listing");
    listing.reserve(5);
    put_always(listing, "name", r.target.name);
    put_always(listing, "location_name", r.target.location_name);
    optional_address(listing, r.target.address);
    telecom(listing, r.target.telecom);
    codings(listing, "specialty", r.target.specialty);

    patient(set_object(out, "patient"), r.patient);
    clinician(set_object(out, "referrer"), r.referrer);
    if (r.submitter) {
        clinician(set_object(out, "submitter"), *r.submitter);
    } else {
        out["submitter"] = nullptr;
    }

    json::array& notes = set_array(out, "notes");
    notes.reserve(r.notes.size());
    for (const auto& n : r.notes) {
        json::object& o = add_object(notes);
        put_always(o, "html", n.html);
        put_always(o, "text", n.text);
        put_always(o, "time", n.time);
    }

    if (r.form) {
        json::object& form = set_object(out, "form");
        form.reserve(4);
        put_always(form, "form_ref", r.form->form_ref);
        put_always(form, "status", r.form->status);
        put_always(form, "authored", r.form->authored);
        json::array& items = set_array(form, "items");
        items.reserve(r.form->items.size());
        for (const auto& item : r.form->items) {
            json::object& o = add_object(items);
            o.reserve(4);
            put_always(o, "link_id", item.link_id);
            put_always(o, "text", item.text);
            strings(o, "answers", item.answers);
            o["hidden"] = item.hidden;
        }
    } else {
        out["form"] = nullptr;
    }

    json::array& attachments = set_array(out, "attachments");
    attachments.reserve(r.attachments.size());
    for (const auto& a : r.attachments) {
        json::object& o = add_object(attachments);
        o.reserve(9);
        put_always(o, "id", a.id);
        put_always(o, "status", a.status);
        put_always(o, "content_type", a.content_type);
        put_always(o, "title", a.title);
        put_always(o, "description", a.description);
        put_always(o, "url", a.url);
        o["size"] = a.size;
        put_always(o, "created", a.created);
        if (a.data_base64.empty()) {
            o["data_base64"] = nullptr;
        } else {
            put_always(o, "data_base64", a.data_base64);
        }
    }

    json::array& tasks = set_array(out, "tasks");
    tasks.reserve(r.tasks.size());
    for (const auto& t : r.tasks) {
        json::object& o = add_object(tasks);
        o.reserve(7);
        put_always(o, "id", t.id);
        put_always(o, "status", t.status);
        put_always(o, "business_status", t.business_status);
        put_always(o, "status_reason", t.status_reason);
        put_always(o, "code", t.code);
        put_always(o, "authored_on", t.authored_on);
        put_always(o, "last_modified", t.last_modified);
    }

    json::array& appointments = set_array(out, "appointments");
    appointments.reserve(r.appointments.size());
    for (const auto& a : r.appointments) {
        json::object& o = add_object(appointments);
        o.reserve(7);
        put_always(o, "id", a.id);
        put_always(o, "status", a.status);
        put_always(o, "start", a.start);
        put_always(o, "end", a.end);
        put_always(o, "patient_status", a.patient_status);
        put_always(o, "instructions", a.instructions);
        put_always(o, "description", a.description);
    }

    json::array& messages = set_array(out, "messages");
    messages.reserve(r.communications.size());
    for (const auto& c : r.communications) {
        json::object& o = add_object(messages);
        o.reserve(5);
        put_always(o, "id", c.id);
        put_always(o, "status", c.status);
        put_always(o, "sent", c.sent);
        strings(o, "contents", c.contents);
        o["attachment_count"] = static_cast<std::uint64_t>(c.attachment_count);
    }
    return root;
}

}  // namespace

std::string render_hub_json(const Referral& referral) {
    const std::size_t hint = payload_bytes(referral) + 4096;
    Arena arena(hint * 2);
    const json::value root = build(referral, arena.storage());
    return serialize(root, hint);
}

}  // namespace relay::transform
