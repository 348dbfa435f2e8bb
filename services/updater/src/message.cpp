#include "message.hpp"

#include <array>
#include <boost/json.hpp>
#include <boost/uuid/name_generator_sha1.hpp>
#include <boost/uuid/uuid.hpp>
#include <utility>
#include <vector>

#include "relay/fhir/references.hpp"

namespace relay::updater {

namespace json = boost::json;

namespace {

constexpr std::string_view kEventSystem = "https://ehealthontario.ca/fhir/CodeSystem/message-event-code";
constexpr std::string_view kReferralIdentifierExt =
    "http://ehealthontario.ca/fhir/StructureDefinition/ext-referral-identifier";
constexpr std::string_view kMessageHeaderIdExt =
    "http://ehealthontario.ca/fhir/StructureDefinition/ext-id-message-header";
constexpr std::string_view kDataAbsentReason = "http://hl7.org/fhir/StructureDefinition/data-absent-reason";
constexpr std::string_view kAppointmentTypeSystem = "http://terminology.hl7.org/CodeSystem/v2-0276";
constexpr std::string_view kReferralRefName = "id-ereferral-reference";
constexpr std::string_view kListingRefName = "id-referral-target-reference";
constexpr std::string_view kUrnUuid = "urn:uuid:";

struct Failure {
    BuildError error;
};

[[noreturn]] void fail(std::string code, std::string message) {
    throw Failure{BuildError{std::move(code), std::move(message)}};
}

std::string str(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

bool starts_with(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

bool is_uuid(std::string_view s) {
    if (s.size() != 36) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return false;
        }
    }
    return true;
}

json::object reference(std::string_view ref) {
    return json::object{{"reference", ref}};
}

json::object coding(std::string_view system, std::string_view code) {
    return json::object{{"system", system}, {"code", code}};
}

/// One entry of the latest inbound bundle, as echoed.
struct Entry {
    std::string full_url;  ///< as Ocean sent it ("" if none)
    std::string type;
    std::string id;  ///< the resource's id, else the uuid of a urn:uuid fullUrl, else ""
    json::object resource;
    bool dropped = false;  ///< replaced by this update

    /// How the new resources refer to this one: the fullUrl when there is one, else Type/id.
    [[nodiscard]] std::string ref() const {
        if (!full_url.empty() &&
            (starts_with(full_url, kUrnUuid) || full_url.find("://") != std::string::npos))
            return full_url;
        return type + "/" + id;
    }
};

class Latest {
   public:
    Latest(std::string_view text, std::string_view referral_ref) {
        boost::system::error_code ec;
        root_ = json::parse(text, ec);
        if (ec || !root_.is_object())
            fail("latest-bundle-invalid", "the latest inbound bundle is not a JSON object");
        // The resources are moved out of the parsed bundle (nothing reads root_ afterwards): a copy of
        // each was most of a message's cost (benchmarks/README.md, "The updater").
        auto& bundle = root_.as_object();
        if (str(bundle, "resourceType") != "Bundle")
            fail("latest-bundle-invalid", "the latest inbound bundle is not a Bundle");
        auto* entries = bundle.if_contains("entry");
        if (entries == nullptr || !entries->is_array())
            fail("latest-bundle-invalid", "the latest inbound bundle has no entry list");
        for (auto& e : entries->as_array()) {
            auto* r = e.is_object() ? e.as_object().if_contains("resource") : nullptr;
            if (r == nullptr || !r->is_object() || str(r->as_object(), "resourceType").empty())
                fail("latest-bundle-invalid", "an entry of the latest inbound bundle has no resource");
            Entry entry;
            entry.full_url = str(e.as_object(), "fullUrl");
            entry.resource = std::move(r->as_object());
            entry.type = str(entry.resource, "resourceType");
            entry.id = str(entry.resource, "id");
            if (entry.id.empty() && starts_with(entry.full_url, kUrnUuid))
                entry.id = entry.full_url.substr(kUrnUuid.size());
            if (entry.type == "MessageHeader") {
                if (!header_) header_ = std::move(entry.resource);
                continue;
            }
            entries_.push_back(std::move(entry));
        }
        // The referral ref the bundle is about must be the update's (a wrong bundle echoed to Ocean would
        // overwrite another referral's data).
        const auto bundle_ref = referral_ref_of_header();
        if (!bundle_ref.empty() && bundle_ref != referral_ref)
            fail("referral-mismatch", "the latest inbound bundle is about another referral");
        service_request_ = find_service_request(referral_ref);
        if (service_request_ == nullptr)
            fail("no-service-request", "the latest inbound bundle has no ServiceRequest for the referral");
    }

    std::vector<Entry>& entries() { return entries_; }
    [[nodiscard]] const Entry& service_request() const { return *service_request_; }

    /// The system Ocean uses for referral refs (its host embedded), from the header extension or the
    /// ServiceRequest identifier; empty when neither shows one.
    [[nodiscard]] std::string referral_system() const {
        if (header_) {
            if (const auto* ext = header_->if_contains("extension"); ext != nullptr && ext->is_array()) {
                for (const auto& e : ext->as_array()) {
                    if (!e.is_object() || str(e.as_object(), "url") != kReferralIdentifierExt) continue;
                    const auto* id = e.as_object().if_contains("valueIdentifier");
                    if (id != nullptr && id->is_object()) {
                        auto system = str(id->as_object(), "system");
                        if (fhir::system_is(system, kReferralRefName)) return system;
                    }
                }
            }
        }
        if (const auto* ids = service_request_->resource.if_contains("identifier");
            ids != nullptr && ids->is_array()) {
            for (const auto& id : ids->as_array()) {
                if (!id.is_object()) continue;
                auto system = str(id.as_object(), "system");
                if (fhir::system_is(system, kReferralRefName)) return system;
            }
        }
        return {};
    }

    /// The entry a reference names (fullUrl, Type/id, bare id), or nullptr.
    Entry* resolve(std::string_view ref) {
        if (ref.empty()) return nullptr;
        for (auto& e : entries_) {
            if (fhir::refers_to(ref, e.type, e.full_url, str(e.resource, "id"))) return &e;
            if (!e.id.empty() && ref == e.type + "/" + e.id) return &e;
        }
        return nullptr;
    }

    /// The referral's Patient: the ServiceRequest's subject, else the only Patient.
    Entry* patient() {
        if (const auto* s = service_request_->resource.if_contains("subject");
            s != nullptr && s->is_object()) {
            if (auto* e = resolve(str(s->as_object(), "reference")); e != nullptr && e->type == "Patient")
                return e;
        }
        return last_of("Patient");
    }

    /// The listing's PractitionerRole (the inbound header's destination receiver, else the
    /// ServiceRequest's performer), or nullptr.
    Entry* receiver_role() {
        if (header_) {
            if (const auto* d = header_->if_contains("destination"); d != nullptr && d->is_array()) {
                for (const auto& dest : d->as_array()) {
                    const auto* r = dest.is_object() ? dest.as_object().if_contains("receiver") : nullptr;
                    if (r == nullptr || !r->is_object()) continue;
                    if (auto* e = resolve(str(r->as_object(), "reference"));
                        e != nullptr && e->type == "PractitionerRole")
                        return e;
                }
            }
        }
        if (const auto* p = service_request_->resource.if_contains("performer");
            p != nullptr && p->is_array()) {
            for (const auto& perf : p->as_array()) {
                if (!perf.is_object()) continue;
                if (auto* e = resolve(str(perf.as_object(), "reference"));
                    e != nullptr && e->type == "PractitionerRole")
                    return e;
            }
        }
        return nullptr;
    }

    /// The referral's requester (the referrer's PractitionerRole), or nullptr.
    Entry* requester() {
        const auto* r = service_request_->resource.if_contains("requester");
        if (r == nullptr || !r->is_object()) return nullptr;
        return resolve(str(r->as_object(), "reference"));
    }

    Entry* last_of(std::string_view type) {
        for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
            if (it->type == type) return &*it;
        }
        return nullptr;
    }

    /// The receiver's Task: the last Task whose code is process-request*, else the last Task.
    Entry* receiver_task() {
        Entry* any = nullptr;
        for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
            if (it->type != "Task") continue;
            if (any == nullptr) any = &*it;
            const auto* code = it->resource.if_contains("code");
            const auto* codings =
                code != nullptr && code->is_object() ? code->as_object().if_contains("coding") : nullptr;
            if (codings == nullptr || !codings->is_array()) continue;
            for (const auto& c : codings->as_array()) {
                if (c.is_object() && starts_with(str(c.as_object(), "code"), "process-request")) return &*it;
            }
        }
        return any;
    }

    /// The Appointment with this id (or fullUrl uuid); with an empty id, the last one not cancelled.
    Entry* appointment(std::string_view id) {
        for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
            if (it->type != "Appointment") continue;
            if (id.empty() ? str(it->resource, "status") != "cancelled" : it->id == id) return &*it;
        }
        return nullptr;
    }

   private:
    [[nodiscard]] std::string referral_ref_of_header() const {
        if (!header_) return {};
        const auto* ext = header_->if_contains("extension");
        if (ext == nullptr || !ext->is_array()) return {};
        for (const auto& e : ext->as_array()) {
            if (!e.is_object()) continue;
            const auto url = str(e.as_object(), "url");
            if (url == kReferralIdentifierExt) {
                const auto* id = e.as_object().if_contains("valueIdentifier");
                if (id != nullptr && id->is_object()) return str(id->as_object(), "value");
            } else if (url == kMessageHeaderIdExt) {
                return str(e.as_object(), "valueString");
            }
        }
        return {};
    }

    /// The ServiceRequest of the referral: identified by the ref (identifier, id, fullUrl uuid), else the
    /// header's focus, else the only ServiceRequest.
    Entry* find_service_request(std::string_view referral_ref) {
        std::size_t count = 0;
        Entry* only = nullptr;
        for (auto& e : entries_) {
            if (e.type != "ServiceRequest") continue;
            ++count;
            only = &e;
            if (e.id == referral_ref) return &e;
            if (const auto* ids = e.resource.if_contains("identifier"); ids != nullptr && ids->is_array()) {
                for (const auto& id : ids->as_array()) {
                    if (id.is_object() && fhir::system_is(str(id.as_object(), "system"), kReferralRefName) &&
                        str(id.as_object(), "value") == referral_ref)
                        return &e;
                }
            }
        }
        if (header_) {
            if (const auto* f = header_->if_contains("focus"); f != nullptr && f->is_array()) {
                for (const auto& focus : f->as_array()) {
                    if (!focus.is_object()) continue;
                    if (auto* e = resolve(str(focus.as_object(), "reference"));
                        e != nullptr && e->type == "ServiceRequest")
                        return e;
                }
            }
        }
        return count == 1 ? only : nullptr;
    }

    json::value root_;
    std::optional<json::object> header_;
    std::vector<Entry> entries_;
    Entry* service_request_ = nullptr;
};

/// `resource` with "id" right after "resourceType" (FHIR's usual order).
json::object with_id(json::object resource, std::string_view id) {
    json::object out;
    out.reserve(resource.size() + 1);
    for (auto& [key, value] : resource) {
        out[key] = std::move(value);
        if (key == "resourceType") out["id"] = id;
    }
    return out;
}

/// Annotation without text (Annotation.text is 1..1 in R4): data-absent-reason on `_text`.
void mark_absent_note_text(json::object& resource) {
    auto* notes = resource.if_contains("note");
    if (notes == nullptr || !notes->is_array()) return;
    for (auto& note : notes->as_array()) {
        if (!note.is_object()) continue;
        auto& n = note.as_object();
        if (n.contains("text") || n.contains("_text")) continue;
        n["_text"] = json::object{
            {"extension", json::array{json::object{{"url", kDataAbsentReason}, {"valueCode", "unknown"}}}}};
    }
}

/// A fullUrl for a new resource with this id: urn:uuid:{id} when the id is a uuid, else a derived uuid.
std::string new_full_url(std::string_view update_id, std::string_view role, std::string_view id) {
    if (is_uuid(id)) return std::string(kUrnUuid) + std::string(id);
    return std::string(kUrnUuid) + update_uuid(update_id, role, id);
}

struct NewEntry {
    std::string full_url;
    json::object resource;
};

class Builder {
   public:
    Builder(const Update& update, Latest& latest, const MessageOptions& options)
        : u_(update), latest_(latest), o_(options) {}

    BuiltMessage build() {
        BuiltMessage out;
        switch (u_.action) {
            case Action::kAccept:
            case Action::kReopen:
                task("accepted", {}, out);
                break;
            case Action::kDecline:
                task("rejected", u_.reason, out);
                break;
            case Action::kComplete:
                task("completed", {}, out);
                break;
            case Action::kReceived:
                task("received", {}, out);
                break;
            case Action::kSwitchType:
                task(current_task_status(), {}, out);
                break;
            case Action::kForward:
                forward(out);
                break;
            case Action::kBook:
            case Action::kChangeBooking:
                booking(out);
                break;
            case Action::kCancelBooking:
                cancel(out);
                break;
            case Action::kBookingInstructions:
                instructions(out);
                break;
            case Action::kMessage:
                communication(out);
                break;
            case Action::kOpenApiMessage:
            case Action::kOpenApiAttachment:
            case Action::kEformLink:
                break;  // refused before a Builder is made (build_update_message)
        }
        out.bundle_id = update_uuid(u_.update_id, "bundle");
        out.message_header_id = update_uuid(u_.update_id, "message-header");
        out.bundle = serialize(out);
        return out;
    }

   private:
    /// The status a type switch keeps: the receiver's current Task status, else "received"
    /// (acknowledged, no folder change, §3.6).
    std::string current_task_status() {
        if (const auto* t = latest_.receiver_task()) {
            auto status = str(t->resource, "status");
            if (!status.empty()) return status;
        }
        return "received";
    }

    std::string sr_ref() const { return latest_.service_request().ref(); }

    void task(const std::string& status,
              const std::string& reason,
              BuiltMessage& out,
              const std::string& based_on = {},
              const std::string& owner = {}) {
        Entry* previous = latest_.receiver_task();
        std::string id;
        std::string full_url;
        if (previous != nullptr && !previous->id.empty() && is_fhir_id(previous->id)) {
            id = previous->id;
            full_url =
                previous->full_url.empty() ? new_full_url(u_.update_id, "task", id) : previous->full_url;
        } else {
            id = update_uuid(u_.update_id, "task");
            full_url = std::string(kUrnUuid) + id;
        }
        std::string code = "process-request";
        if (previous != nullptr) {
            previous->dropped = true;
            if (const auto* c = previous->resource.if_contains("code"); c != nullptr && c->is_object()) {
                if (const auto* cs = c->as_object().if_contains("coding"); cs != nullptr && cs->is_array()) {
                    for (const auto& coding : cs->as_array()) {
                        if (coding.is_object() &&
                            starts_with(str(coding.as_object(), "code"), "process-request")) {
                            code = str(coding.as_object(), "code");
                            break;
                        }
                    }
                }
            }
        }
        json::object t;
        t["resourceType"] = "Task";
        t["id"] = id;
        json::array extensions;
        if (u_.action == Action::kAccept && u_.import_to_emr)
            extensions.push_back(json::object{{"url", o_.import_extension_url}, {"valueBoolean", true}});
        if (u_.action == Action::kSwitchType)
            // The IG's PatientNeedsToBeSeen: false = handle as an eConsult.
            extensions.push_back(
                json::object{{"url", o_.econsult_extension_url}, {"valueBoolean", !u_.econsult}});
        if (!extensions.empty()) t["extension"] = std::move(extensions);
        const std::string based = based_on.empty() ? sr_ref() : based_on;
        t["basedOn"] = json::array{reference(based)};
        t["status"] = status;
        if (!reason.empty()) t["statusReason"] = json::object{{"text", reason}};
        t["intent"] = "order";
        t["code"] = json::object{{"coding", json::array{coding(o_.task_code_system, code)}}};
        t["focus"] = reference(based);
        if (auto* patient = latest_.patient()) t["for"] = reference(patient->ref());
        if (!u_.requested_at.empty()) t["lastModified"] = u_.requested_at;
        if (!owner.empty()) {
            t["owner"] = reference(owner);
        } else if (auto* role = latest_.receiver_role()) {
            t["owner"] = reference(role->ref());
        }
        out.event = previous == nullptr ? o_.first_task_event : o_.task_event;
        out.focus_type = "Task";
        out.focus_id = id;
        out.task_status = status;
        focus_ = full_url;
        added_.push_back(NewEntry{full_url, std::move(t)});
    }

    void forward(BuiltMessage& out) {
        const auto& old = latest_.service_request();
        std::string prefix = latest_.referral_system();
        if (prefix.empty())
            prefix = o_.ocean_host + "/svc/fhir/v1/NamingSystem/" + std::string(kReferralRefName);
        prefix.resize(prefix.size() - kReferralRefName.size());

        const std::string role_id = update_uuid(u_.update_id, "forward-listing");
        json::object role{{"resourceType", "PractitionerRole"},
                          {"id", role_id},
                          {"identifier",
                           json::array{json::object{{"system", prefix + std::string(kListingRefName)},
                                                    {"value", u_.listing_ref}}}},
                          {"active", true}};
        const std::string role_url = std::string(kUrnUuid) + role_id;

        // The new ServiceRequest is the old one re-addressed: same patient, requester, category,
        // supporting documents and notes; a new id (Ocean's new referral ref), replaces the old one.
        const std::string sr_id = update_uuid(u_.update_id, "forward-service-request");
        json::object sr;
        for (const auto& [key, value] : old.resource) {
            if (key == "id" || key == "identifier" || key == "replaces" || key == "performer") continue;
            sr[key] = value;
            if (key == "resourceType") sr["id"] = sr_id;
        }
        // Other identifiers stay; the referral ref is the old referral's, not the new one's.
        if (const auto* ids = old.resource.if_contains("identifier"); ids != nullptr && ids->is_array()) {
            json::array kept;
            for (const auto& id : ids->as_array()) {
                if (id.is_object() && fhir::system_is(str(id.as_object(), "system"), kReferralRefName))
                    continue;
                kept.push_back(id);
            }
            if (!kept.empty()) sr["identifier"] = std::move(kept);
        }
        sr["replaces"] = json::array{reference(old.ref())};
        sr["status"] = "active";
        sr["performer"] = json::array{reference(role_url)};
        if (o_.mark_absent_annotation_text) mark_absent_note_text(sr);
        const std::string sr_url = std::string(kUrnUuid) + sr_id;
        added_.push_back(NewEntry{sr_url, std::move(sr)});
        added_.push_back(NewEntry{role_url, std::move(role)});
        task("requested", u_.reason, out, sr_url, role_url);
    }

    json::object appointment_start(const std::string& id) {
        json::object a;
        a["resourceType"] = "Appointment";
        a["id"] = id;
        if (!o_.appointment_profile.empty())
            a["meta"] = json::object{{"profile", json::array{json::string(o_.appointment_profile)}}};
        return a;
    }

    std::string patient_ref(std::string_view what) {
        auto* patient = latest_.patient();
        if (patient == nullptr)
            fail("no-patient",
                 std::string("the latest inbound bundle has no Patient for the ") + std::string(what));
        return patient->ref();
    }

    void booking(BuiltMessage& out) {
        const auto& req = *u_.appointment;
        std::string id;
        std::string full_url;
        Entry* existing = nullptr;
        if (u_.action == Action::kChangeBooking) {
            existing = latest_.appointment(req.id);
            if (existing == nullptr && req.id.empty())
                fail("no-appointment", "the latest inbound bundle has no appointment to change");
            id = req.id.empty() ? existing->id : req.id;
        } else {
            id = req.id.empty() ? update_uuid(u_.update_id, "appointment") : req.id;
            existing = latest_.appointment(id);
            if (existing != nullptr && existing->id != id) existing = nullptr;
        }
        if (existing != nullptr) {
            existing->dropped = true;
            full_url = existing->full_url;
        }
        if (full_url.empty()) full_url = new_full_url(u_.update_id, "appointment", id);
        if (!is_fhir_id(id)) fail("appointment-id", "the appointment to change has no usable id");

        std::int64_t start = 0;
        std::int64_t end = 0;
        parse_rfc3339(req.start, start);
        parse_rfc3339(req.end, end);
        json::object a = appointment_start(id);
        if (!req.wait_time_milestone.empty())
            a["extension"] = json::array{
                json::object{{"url", o_.wait_time_extension_url},
                             {"valueCoding", coding(o_.wait_time_code_system, req.wait_time_milestone)}}};
        a["status"] = "booked";
        json::object type{{"coding", json::array{coding(kAppointmentTypeSystem, "ROUTINE")}}};
        if (!req.type_text.empty()) type["text"] = req.type_text;
        a["appointmentType"] = std::move(type);
        a["start"] = req.start;
        a["end"] = req.end;
        a["minutesDuration"] = (end - start + 59) / 60;
        a["basedOn"] = json::array{reference(sr_ref())};
        if (!req.instructions.empty()) a["patientInstruction"] = req.instructions;
        // §3.6 [I]: the patient's tentative / accepted is Booking Unconfirmed / Confirmed.
        a["participant"] = json::array{json::object{{"actor", reference(patient_ref("booking"))},
                                                    {"required", "required"},
                                                    {"status", req.confirmed ? "accepted" : "tentative"}}};
        out.event = u_.action == Action::kChangeBooking ? o_.booking_change_event : o_.booking_event;
        finish_appointment(std::move(a), full_url, id, "booked", out);
    }

    void cancel(BuiltMessage& out) {
        const std::string wanted = u_.appointment ? u_.appointment->id : std::string();
        Entry* existing = latest_.appointment(wanted);
        if (existing == nullptr && wanted.empty())
            fail("no-appointment", "the latest inbound bundle has no appointment to cancel");
        json::object a;
        std::string full_url;
        std::string id = wanted;
        if (existing != nullptr) {
            existing->dropped = true;
            id = existing->id;
            if (!is_fhir_id(id)) fail("appointment-id", "the appointment to cancel has no usable id");
            full_url = existing->full_url;
            // The appointment as Ocean knows it, cancelled: times, participants and type stay.
            a = existing->resource.contains("id") ? existing->resource : with_id(existing->resource, id);
            a.erase("cancelationReason");
        } else {
            a = appointment_start(id);
            a["basedOn"] = json::array{reference(sr_ref())};
            a["participant"] = json::array{json::object{{"actor", reference(patient_ref("cancellation"))},
                                                        {"required", "required"},
                                                        {"status", "needs-action"}}};
        }
        if (full_url.empty()) full_url = new_full_url(u_.update_id, "appointment", id);
        a["status"] = "cancelled";
        if (!u_.reason.empty()) a["cancelationReason"] = json::object{{"text", u_.reason}};
        out.event = o_.booking_change_event;
        finish_appointment(std::move(a), full_url, id, "cancelled", out);
    }

    void instructions(BuiltMessage& out) {
        const std::string id = update_uuid(u_.update_id, "appointment");
        json::object a = appointment_start(id);
        a["status"] = "proposed";
        a["description"] = u_.instructions;
        a["basedOn"] = json::array{reference(sr_ref())};
        a["patientInstruction"] = u_.instructions;
        if (o_.instructions_with_patient_participant)
            a["participant"] =
                json::array{json::object{{"actor", reference(patient_ref("booking instructions"))},
                                         {"required", "required"},
                                         {"status", "needs-action"}}};
        out.event = o_.booking_instructions_event;
        finish_appointment(std::move(a), std::string(kUrnUuid) + id, id, "proposed", out);
    }

    void finish_appointment(json::object a,
                            std::string full_url,
                            const std::string& id,
                            const std::string& status,
                            BuiltMessage& out) {
        out.focus_type = "Appointment";
        out.focus_id = id;
        out.appointment_status = status;
        focus_ = full_url;
        added_.push_back(NewEntry{std::move(full_url), std::move(a)});
    }

    void communication(BuiltMessage& out) {
        const std::string id = update_uuid(u_.update_id, "communication");
        json::object c;
        c["resourceType"] = "Communication";
        c["id"] = id;
        c["basedOn"] = json::array{reference(sr_ref())};
        c["status"] = "completed";
        if (auto* patient = latest_.patient()) c["subject"] = reference(patient->ref());
        if (!u_.requested_at.empty()) c["sent"] = u_.requested_at;
        if (auto* requester = latest_.requester()) c["recipient"] = json::array{reference(requester->ref())};
        if (auto* role = latest_.receiver_role())
            c["sender"] = reference(role->ref());
        else
            c["sender"] = reference(o_.sender_reference);
        json::array payload{json::object{{"contentString", u_.text}}};
        if (u_.attachment) {
            json::object att{{"contentType", u_.attachment->content_type}, {"data", u_.attachment->data}};
            if (!u_.attachment->title.empty()) att["title"] = u_.attachment->title;
            payload.push_back(json::object{{"contentAttachment", std::move(att)}});
        }
        c["payload"] = std::move(payload);
        out.event = o_.message_event;
        out.focus_type = "Communication";
        out.focus_id = id;
        focus_ = std::string(kUrnUuid) + id;
        added_.push_back(NewEntry{focus_, std::move(c)});
    }

    json::object header(const BuiltMessage& out, const std::string& referral_system) const {
        json::object h;
        h["resourceType"] = "MessageHeader";
        h["id"] = out.message_header_id;
        if (!o_.header_profile.empty())
            h["meta"] = json::object{{"profile", json::array{json::string(o_.header_profile)}}};
        h["extension"] = json::array{
            json::object{
                {"url", kReferralIdentifierExt},
                {"valueIdentifier", json::object{{"system", referral_system}, {"value", u_.referral_ref}}}},
            json::object{{"url", kMessageHeaderIdExt}, {"valueString", u_.referral_ref}}};
        h["eventCoding"] = coding(kEventSystem, out.event);
        h["sender"] = reference(o_.sender_reference);
        if (!o_.author_reference.empty()) h["author"] = reference(o_.author_reference);
        h["source"] = json::object{{"name", o_.source_name}, {"endpoint", o_.source_endpoint}};
        h["focus"] = json::array{reference(focus_)};
        return h;
    }

    std::string serialize(const BuiltMessage& out) {
        std::string system = latest_.referral_system();
        if (system.empty())
            system = o_.ocean_host + "/svc/fhir/v1/NamingSystem/" + std::string(kReferralRefName);

        json::array entries;
        entries.push_back(json::object{{"fullUrl", std::string(kUrnUuid) + out.message_header_id},
                                       {"resource", header(out, system)}});
        for (auto& e : latest_.entries()) {
            if (e.dropped) continue;
            // The last use of the latest bundle's resources: moved, not copied.
            json::object resource = std::move(e.resource);
            if (!resource.contains("id") && !e.id.empty() && is_fhir_id(e.id))
                resource = with_id(std::move(resource), e.id);
            if (o_.mark_absent_annotation_text) mark_absent_note_text(resource);
            json::object entry;
            if (!e.full_url.empty()) entry["fullUrl"] = e.full_url;
            entry["resource"] = std::move(resource);
            entries.push_back(std::move(entry));
        }
        for (auto& n : added_) {
            entries.push_back(json::object{{"fullUrl", n.full_url}, {"resource", std::move(n.resource)}});
        }
        json::object bundle;
        bundle["resourceType"] = "Bundle";
        bundle["id"] = out.bundle_id;
        bundle["type"] = "message";
        if (!u_.requested_at.empty()) bundle["timestamp"] = u_.requested_at;
        bundle["entry"] = std::move(entries);
        return json::serialize(bundle);
    }

    const Update& u_;
    Latest& latest_;
    const MessageOptions& o_;
    std::string focus_;
    std::vector<NewEntry> added_;
};

}  // namespace

std::string update_uuid(std::string_view update_id, std::string_view role, std::string_view key) {
    // The updater's own namespace (a fixed random uuid), distinct from the transform's.
    static constexpr boost::uuids::uuid kNamespace = {
        {0x8e, 0x21, 0x5a, 0x07, 0xc3, 0x9b, 0x4f, 0x14, 0x9d, 0x62, 0x0b, 0x7a, 0xe1, 0x48, 0x35, 0xc9}};
    std::string name;
    name.reserve(update_id.size() + role.size() + key.size() + 2);
    name.append(update_id).append(1, '\x1f').append(role).append(1, '\x1f').append(key);
    const boost::uuids::uuid u = boost::uuids::name_generator_sha1(kNamespace)(name.data(), name.size());
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out(36, '-');
    std::size_t pos = 0;
    for (std::size_t i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) ++pos;
        out[pos++] = kHex[u.data[i] >> 4];
        out[pos++] = kHex[u.data[i] & 0x0f];
    }
    return out;
}

BuildResult build_update_message(const Update& update,
                                 std::string_view latest_inbound_bundle,
                                 const MessageOptions& options) {
    BuildResult result;
    if (hub::is_open_api(update.action)) {
        // The hub API publishes these to the Open API requests topic; one here was misrouted.
        result.error = BuildError{"open-api-request", "an Open API request is not a FHIR update"};
        return result;
    }
    try {
        Latest latest(latest_inbound_bundle, update.referral_ref);
        Builder builder(update, latest, options);
        result.message = builder.build();
    } catch (const Failure& f) {
        result.error = f.error;
    }
    return result;
}

}  // namespace relay::updater
