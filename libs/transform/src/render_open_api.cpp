// Ocean's Open API Referral JSON (ocean-api.md §4.4) with the patient data in the clear: a `patient`
// object where Ocean has `encryptedPtData` + the wrapped one-time keys (which are left out). The patient
// object uses the camelCase names ocean-sim's Open API encrypts (§4.4 does not publish PtData).
// Absent values are null, as Ocean's Java API writes them.
//
// Mapping from the canonical referral ([I] = inferred, the Open API's semantics are not public):
//   referralRef           ← referral_ref
//   referralTargetRef     ← target.listing_ref
//   externalServiceId     ← target.external_service_id (null when not configured)
//   description           ← target.name (the listing title) [I]
//   referrer              ← referrer as ClinicianData: firstName/surname ← name, professionalId ← licence
//                           (CPSO), billingNum ← billing_number, address ← the role's Location address
//                           plus phone/fax/email/website (work, else any) from telecom
//   assistant             ← submitter (the delegate), same shape; null when none
//   services              ← distinct category displays (Ocean health service types), else order_details
//   patient               ← firstName (first given), secondName (other given), title (first prefix),
//                           surname, birthDate, gender, healthNumber, healthNumberProvince ("ON" when a
//                           health number is set: Ocean's system is Ontario's), healthNumberVersion,
//                           externalPatientRef (mrn), homePhone, mobilePhone, email, language, address
//                           (the first non-empty one)
//   creationDate, sentDate ← authored_on; modificationDate ← timestamp (this message)
//   status                ← Ocean's folder, derived [I]: revoked/cancelled ServiceRequest → CANCELLED;
//                           the last Task: rejected/cancelled → DECLINED, completed → COMPLETED; an
//                           appointment with a date (not cancelled): participant accepted → BOOKED, else
//                           BOOKING_UNCONFIRMED; a Task accepted/in-progress/on-hold/ready →
//                           PENDING_BOOKING; else NEW
//   appointments          ← appointments with a start, not cancelled: {wtType WAIT_2 [I], apptType
//                           INITIAL [I], date ← start, hasTime true}
//   bookingComments       ← the last non-empty appointment instructions
//   externalConversation  ← communications: {ref ← id, message ← contents joined by "\n", commentDate ←
//                           sent, targetSiteNum ← site_number, targetRtRef ← listing_ref}
//   communicationType     ← E_CONSULT when a Task's code is process-request-consult, else E_REFERRAL
//   cancellationReason    ← the last Task's status_reason when DECLINED, else null
//   srcSiteName           ← the referrer's location_name; srcSiteNum, externalRef, sourceExternalRef,
//                           masterReferralRef: null (not in a FHIR message); master false
// Not carried by the Open API shape (use fhir-r4 or hub-json for them): notes, eForm answers, the
// documents (Open API serves attachments by ref on a separate endpoint), bookingFileRefs ([]),
// internalConversation ([]).
#include <string_view>

#include "relay/transform/render.hpp"
#include "render_common.hpp"

namespace relay::transform {

namespace {

using namespace detail;

void put_or_null(json::object& parent, std::string_view key, std::string_view value) {
    if (value.empty()) {
        parent[key] = nullptr;
    } else {
        parent[key] = value;
    }
}

/// A work contact if there is one, else the first of that system.
std::string_view contact(const std::vector<Telecom>& telecom, std::string_view system) {
    const std::string_view work = telecom_value(telecom, system, "work");
    return work.empty() ? telecom_value(telecom, system) : work;
}

void address_data(json::object& out, const Address* a, const std::vector<Telecom>& telecom) {
    out.reserve(10);
    const auto line = [&](std::size_t i) {
        return a != nullptr && a->lines.size() > i ? std::string_view(a->lines[i]) : std::string_view{};
    };
    put_or_null(out, "line1", line(0));
    // More than two lines: the rest joined onto line2, so nothing is dropped.
    if (a != nullptr && a->lines.size() > 2) {
        std::string rest(a->lines[1]);
        for (std::size_t i = 2; i < a->lines.size(); ++i) rest.append(", ").append(a->lines[i]);
        out["line2"] = rest;
    } else {
        put_or_null(out, "line2", line(1));
    }
    put_or_null(out, "city", a != nullptr ? std::string_view(a->city) : std::string_view{});
    put_or_null(out, "province", a != nullptr ? std::string_view(a->province) : std::string_view{});
    put_or_null(out, "country", a != nullptr ? std::string_view(a->country) : std::string_view{});
    put_or_null(out, "postalCode", a != nullptr ? std::string_view(a->postal_code) : std::string_view{});
    put_or_null(out, "phone", contact(telecom, "phone"));
    put_or_null(out, "fax", contact(telecom, "fax"));
    put_or_null(out, "email", contact(telecom, "email"));
    put_or_null(out, "website", contact(telecom, "url"));
}

std::string joined(const std::vector<std::string>& parts, std::size_t from, std::string_view separator) {
    std::string out;
    for (std::size_t i = from; i < parts.size(); ++i) {
        if (parts[i].empty()) continue;
        if (!out.empty()) out.append(separator);
        out.append(parts[i]);
    }
    return out;
}

void clinician_data(json::object& out, const Clinician& c) {
    out.reserve(7);
    put_or_null(out, "firstName", first_given(c.name));
    put_or_null(out, "surname", c.name.family);
    put_or_null(out, "professionalId", c.licence);
    put_or_null(out, "billingNum", c.billing_number);
    out["signature"] = nullptr;
    out["clinicianType"] = nullptr;
    address_data(set_object(out, "address"), c.address ? &*c.address : nullptr, c.telecom);
}

void patient_data(json::object& out, const Patient& p) {
    out.reserve(16);
    put_or_null(out, "firstName", first_given(p.name));
    put_or_null(out, "secondName", joined(p.name.given, 1, " "));
    put_or_null(
        out, "title", p.name.prefix.empty() ? std::string_view{} : std::string_view(p.name.prefix[0]));
    put_or_null(out, "surname", p.name.family);
    put_or_null(out, "birthDate", p.birth_date);
    put_or_null(out, "gender", p.gender);
    put_or_null(out, "healthNumber", p.health_number);
    put_or_null(out, "healthNumberProvince", p.health_number.empty() ? std::string_view{} : "ON");
    put_or_null(out, "healthNumberVersion", p.health_number_version);
    put_or_null(out, "externalPatientRef", p.mrn);
    put_or_null(out, "homePhone", telecom_value(p.telecom, "phone", "home"));
    put_or_null(out, "mobilePhone", telecom_value(p.telecom, "phone", "mobile"));
    put_or_null(out, "email", telecom_value(p.telecom, "email"));
    put_or_null(out, "language", p.language);
    const Address* address = nullptr;
    for (const auto& a : p.addresses) {
        if (!a.lines.empty() || !a.city.empty() || !a.postal_code.empty()) {
            address = &a;
            break;
        }
    }
    if (address != nullptr) {
        // The patient's own phone belongs on the patient; the AddressData gets none of the telecom.
        address_data(set_object(out, "address"), address, {});
    } else {
        out["address"] = nullptr;
    }
}

const char* folder_status(const Referral& r) {
    if (r.status == "revoked" || r.status == "cancelled") return "CANCELLED";
    const std::string_view task =
        r.tasks.empty() ? std::string_view{} : std::string_view(r.tasks.back().status);
    if (task == "rejected" || task == "cancelled") return "DECLINED";
    if (task == "completed") return "COMPLETED";
    bool booked = false;
    bool confirmed = false;
    for (const auto& a : r.appointments) {
        if (a.start.empty() || a.status == "cancelled") continue;
        booked = true;
        confirmed = confirmed || a.patient_status == "accepted";
    }
    if (booked) return confirmed ? "BOOKED" : "BOOKING_UNCONFIRMED";
    if (task == "accepted" || task == "in-progress" || task == "on-hold" || task == "ready") {
        return "PENDING_BOOKING";
    }
    return "NEW";
}

json::value build(const Referral& r, json::storage_ptr sp) {
    json::value root(json::object_kind, std::move(sp));
    json::object& out = root.get_object();
    out.reserve(28);
    put_or_null(out, "referralRef", r.referral_ref);
    put_or_null(out, "referralTargetRef", r.target.listing_ref);
    put_or_null(out, "externalServiceId", r.target.external_service_id);
    put_or_null(out, "description", r.target.name);
    clinician_data(set_object(out, "referrer"), r.referrer);
    if (r.submitter) {
        clinician_data(set_object(out, "assistant"), *r.submitter);
    } else {
        out["assistant"] = nullptr;
    }

    json::array& services = set_array(out, "services");
    const auto add_service = [&](std::string_view s) {
        if (s.empty()) return;
        for (const auto& existing : services) {
            if (existing.get_string() == s) return;
        }
        services.emplace_back(s);
    };
    for (const auto& c : r.categories) add_service(c.display);
    if (services.empty()) {
        for (const auto& d : r.order_details) add_service(d);
    }

    patient_data(set_object(out, "patient"), r.patient);
    out["externalRef"] = nullptr;
    out["sourceExternalRef"] = nullptr;
    out["masterReferralRef"] = nullptr;
    out["master"] = false;
    put_or_null(out, "creationDate", r.authored_on);
    put_or_null(out, "modificationDate", r.timestamp);
    put_or_null(out, "sentDate", r.authored_on);
    const char* status = folder_status(r);
    out["status"] = status;

    json::array& appointments = set_array(out, "appointments");
    std::string_view booking_comments;
    for (const auto& a : r.appointments) {
        if (!a.instructions.empty()) booking_comments = a.instructions;
        if (a.start.empty() || a.status == "cancelled") continue;
        json::object& o = add_object(appointments);
        o["wtType"] = "WAIT_2";
        o["apptType"] = "INITIAL";
        o["date"] = a.start;
        o["hasTime"] = true;
    }
    put_or_null(out, "bookingComments", booking_comments);
    set_array(out, "bookingFileRefs");
    out["bookingUrl"] = nullptr;
    set_array(out, "internalConversation");
    json::array& conversation = set_array(out, "externalConversation");
    conversation.reserve(r.communications.size());
    for (const auto& c : r.communications) {
        json::object& o = add_object(conversation);
        put_or_null(o, "ref", c.id);
        put_or_null(o, "message", joined(c.contents, 0, "\n"));
        put_or_null(o, "commentDate", c.sent);
        put_or_null(o, "targetSiteNum", r.target.site_number);
        put_or_null(o, "targetRtRef", r.target.listing_ref);
    }
    bool consult = false;
    for (const auto& t : r.tasks) consult = consult || t.code == "process-request-consult";
    out["communicationType"] = consult ? "E_CONSULT" : "E_REFERRAL";
    put_or_null(out,
                "cancellationReason",
                std::string_view(status) == "DECLINED" ? std::string_view(r.tasks.back().status_reason)
                                                       : std::string_view{});
    put_or_null(out, "srcSiteName", r.referrer.location_name);
    out["srcSiteNum"] = nullptr;
    return root;
}

}  // namespace

std::string render_open_api(const Referral& referral) {
    const std::size_t hint = payload_bytes(referral, /*with_attachment_data=*/false) + 2048;
    Arena arena(hint * 2);
    const json::value root = build(referral, arena.storage());
    return serialize(root, hint);
}

}  // namespace relay::transform
