#include "referral_state.hpp"

#include <boost/json.hpp>
#include <utility>

#include "relay/core/config.hpp"
#include "relay/core/encoding.hpp"
#include "relay/core/time.hpp"

namespace relay::ocean_sim {

namespace json = boost::json;

namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string str_of(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    if (v == nullptr || !v->is_string()) return {};
    return std::string(v->as_string());
}

const json::object* first_object(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    if (v == nullptr || !v->is_array() || v->as_array().empty() || !v->as_array()[0].is_object())
        return nullptr;
    return &v->as_array()[0].as_object();
}

std::string first_given(const json::object& name) {
    const auto* g = name.if_contains("given");
    if (g == nullptr || !g->is_array() || g->as_array().empty() || !g->as_array()[0].is_string()) return {};
    return std::string(g->as_array()[0].as_string());
}

// The Open API's patient data is not public (§4.4 only names encryptedPtData) [P]: a flat object with
// the demographics an EMR import needs, named in the Open API's camelCase style.
std::string patient_json_of(const json::object& patient) {
    json::object out;
    if (const auto* name = first_object(patient, "name")) {
        out["firstName"] = first_given(*name);
        out["surname"] = str_of(*name, "family");
    }
    out["birthDate"] = str_of(patient, "birthDate");
    out["gender"] = str_of(patient, "gender");
    if (const auto* ids = patient.if_contains("identifier"); ids != nullptr && ids->is_array()) {
        for (const auto& id : ids->as_array()) {
            if (!id.is_object() || !ends_with(str_of(id.as_object(), "system"), "ca-on-patient-hcn"))
                continue;
            out["healthNumber"] = str_of(id.as_object(), "value");
            out["healthNumberProvince"] = "ON";
            if (const auto* ext = first_object(id.as_object(), "extension"))
                out["healthNumberVersion"] = str_of(*ext, "valueString");
        }
    }
    if (const auto* telecom = patient.if_contains("telecom"); telecom != nullptr && telecom->is_array()) {
        for (const auto& t : telecom->as_array()) {
            if (!t.is_object()) continue;
            const auto system = str_of(t.as_object(), "system");
            const auto use = str_of(t.as_object(), "use");
            const auto value = str_of(t.as_object(), "value");
            if (system == "phone" && use == "home") out["homePhone"] = value;
            if (system == "phone" && use == "mobile") out["mobilePhone"] = value;
            if (system == "email") out["email"] = value;
        }
    }
    if (const auto* a = first_object(patient, "address")) {
        json::object address;
        const auto* lines = a->if_contains("line");
        if (lines != nullptr && lines->is_array() && !lines->as_array().empty() &&
            lines->as_array()[0].is_string())
            address["line1"] = lines->as_array()[0].as_string();
        address["city"] = str_of(*a, "city");
        address["province"] = str_of(*a, "state");
        address["postalCode"] = str_of(*a, "postalCode");
        out["address"] = std::move(address);
    }
    return json::serialize(out);
}

void add_history(ReferralView& view, std::string event, std::string change, std::string detail) {
    view.modified_at = format_rfc3339_millis(system_now());
    view.history.push_back(
        HistoryEntry{view.modified_at, std::move(event), std::move(change), std::move(detail), view.folder});
}

json::object booking_json(const Booking& b) {
    return json::object{{"id", b.id},
                        {"status", b.status},
                        {"start", b.start},
                        {"end", b.end},
                        {"participant_status", b.participant_status}};
}

}  // namespace

const char* to_string(Folder folder) {
    switch (folder) {
        case Folder::kNew:
            return "New";
        case Folder::kPendingBooking:
            return "Pending Booking";
        case Folder::kBookingUnconfirmed:
            return "Booking Unconfirmed";
        case Folder::kBookingConfirmed:
            return "Booking Confirmed";
        case Folder::kDeclined:
            return "Declined";
        case Folder::kCompleted:
            return "Completed";
        case Folder::kCancelled:
            return "Cancelled";
    }
    return "?";
}

bool is_terminal(Folder folder) {
    return folder == Folder::kDeclined || folder == Folder::kCompleted || folder == Folder::kCancelled;
}

TaskStatusEffect task_status_effect(Folder current, std::string_view s) {
    TaskStatusEffect effect;
    effect.folder = current;
    if (s == "requested" || s == "received") {
        // "No action, stays New" (§3.6): not an active status, so it does not re-open either.
        effect.in_table = true;
    } else if (s == "accepted" || s == "in-progress" || s == "on-hold" || s == "ready") {
        effect.in_table = true;
        effect.reopened = is_terminal(current);
        // [I] A booked referral stays booked: the appointment, not the Task, decides between
        // Pending Booking and Booking (Un)confirmed.
        if (current != Folder::kBookingUnconfirmed && current != Folder::kBookingConfirmed)
            effect.folder = Folder::kPendingBooking;
    } else if (s == "rejected" || s == "cancelled") {
        effect.in_table = true;
        effect.folder = Folder::kDeclined;
    } else if (s == "completed") {
        effect.in_table = true;
        effect.folder = Folder::kCompleted;
    }
    return effect;
}

void ReferralState::record_sent(const GeneratedReferral& sent,
                                std::string_view listing_ref,
                                std::string_view site,
                                std::string_view external_service_id) {
    // Parse outside the lock: the body can be large (inline attachments).
    std::string patient;
    std::string referrer_first;
    std::string referrer_surname;
    std::vector<std::pair<std::string, StoredDocument>> documents;
    boost::system::error_code ec;
    const json::value root = json::parse(sent.body, ec);
    if (!ec && root.is_object()) {
        const auto* entries = root.as_object().if_contains("entry");
        if (entries != nullptr && entries->is_array()) {
            for (const auto& entry : entries->as_array()) {
                if (!entry.is_object()) continue;
                const auto* r = entry.as_object().if_contains("resource");
                if (r == nullptr || !r->is_object()) continue;
                const auto& resource = r->as_object();
                const auto type = str_of(resource, "resourceType");
                if (type == "Patient" && patient.empty()) {
                    patient = patient_json_of(resource);
                } else if (type == "Practitioner" && referrer_surname.empty()) {
                    if (const auto* name = first_object(resource, "name")) {
                        referrer_first = first_given(*name);
                        referrer_surname = str_of(*name, "family");
                    }
                } else if (type == "DocumentReference") {
                    StoredDocument doc;
                    doc.referral_ref = sent.referral_ref;
                    doc.content_type = "application/pdf";
                    doc.is_letter = true;
                    if (const auto* content = first_object(resource, "content")) {
                        if (const auto* a = content->if_contains("attachment");
                            a != nullptr && a->is_object()) {
                            const auto type_text = str_of(a->as_object(), "contentType");
                            if (!type_text.empty()) doc.content_type = type_text;
                            if (auto data = base64_decode(str_of(a->as_object(), "data"));
                                data && !data->empty()) {
                                doc.bytes = std::move(*data);
                                doc.is_letter = false;
                            }
                        }
                    }
                    // v0.11 resources have no id, only a urn:uuid fullUrl (§3.3): that uuid is the document
                    // id.
                    auto id = str_of(resource, "id");
                    if (id.empty()) {
                        id = str_of(entry.as_object(), "fullUrl");
                        if (id.rfind("urn:uuid:", 0) == 0) id.erase(0, 9);
                    }
                    documents.emplace_back(std::move(id), std::move(doc));
                }
            }
        }
    }

    std::lock_guard lock(mutex_);
    auto it = referrals_.find(sent.referral_ref);
    if (it == referrals_.end()) {
        ReferralView view;
        view.ref = sent.referral_ref;
        view.site = std::string(site);
        view.listing_ref = std::string(listing_ref);
        view.external_service_id = std::string(external_service_id);
        view.dialect = sent.dialect;
        view.created_at = format_rfc3339_millis(system_now());
        view.patient_json = std::move(patient);
        view.referrer_first_name = std::move(referrer_first);
        view.referrer_surname = std::move(referrer_surname);
        it = referrals_.emplace(view.ref, std::move(view)).first;
        ++listings_[std::string(listing_ref)];
    } else if (!patient.empty()) {
        // A resend or an update: the referral keeps its folder (§3.11), demographics may have changed.
        it->second.patient_json = std::move(patient);
    }
    ++it->second.messages_sent;
    add_history(it->second, sent.event, "sent", sent.message_header_id);
    for (auto& [id, doc] : documents) {
        if (!id.empty()) documents_.insert_or_assign(id, std::move(doc));
    }
}

std::optional<ReferralView> ReferralState::find(std::string_view ref) const {
    std::lock_guard lock(mutex_);
    const auto it = referrals_.find(ref);
    if (it == referrals_.end()) return std::nullopt;
    return it->second;
}

bool ReferralState::contains(std::string_view ref) const {
    std::lock_guard lock(mutex_);
    return referrals_.find(ref) != referrals_.end();
}

bool ReferralState::known_listing(std::string_view listing_ref) const {
    std::lock_guard lock(mutex_);
    return listings_.find(listing_ref) != listings_.end();
}

std::optional<StoredDocument> ReferralState::find_document(std::string_view id) const {
    std::lock_guard lock(mutex_);
    const auto it = documents_.find(id);
    if (it == documents_.end()) return std::nullopt;
    return it->second;
}

std::size_t ReferralState::size() const {
    std::lock_guard lock(mutex_);
    return referrals_.size();
}

bool ReferralState::modify(std::string_view ref, const std::function<void(ReferralView&)>& change) {
    std::lock_guard lock(mutex_);
    const auto it = referrals_.find(ref);
    if (it == referrals_.end()) return false;
    change(it->second);
    it->second.modified_at = format_rfc3339_millis(system_now());
    return true;
}

void ReferralState::add_forwarded(const ReferralView& from,
                                  std::string_view new_ref,
                                  std::string_view listing_ref) {
    std::lock_guard lock(mutex_);
    if (referrals_.find(new_ref) != referrals_.end()) return;
    ReferralView view;
    view.ref = std::string(new_ref);
    // [I] The target listing's site is not in the update; a forward inside the same site is the common
    // case (assign to another clinician/clinic of the site).
    view.site = from.site;
    view.listing_ref = std::string(listing_ref);
    view.dialect = from.dialect;
    view.created_at = format_rfc3339_millis(system_now());
    view.patient_json = from.patient_json;
    view.referrer_first_name = from.referrer_first_name;
    view.referrer_surname = from.referrer_surname;
    view.forwarded_from = from.ref;
    add_history(view, "forward", "created", from.ref);
    referrals_.emplace(view.ref, std::move(view));
    ++listings_[std::string(listing_ref)];
}

bool ReferralState::cancel_by_sender(std::string_view ref) {
    std::lock_guard lock(mutex_);
    const auto it = referrals_.find(ref);
    if (it == referrals_.end()) return false;
    it->second.folder = Folder::kCancelled;
    add_history(it->second, "revoke-service-request", "status", "cancelled by sender");
    return true;
}

std::string ReferralState::to_json() const {
    json::array out;
    std::lock_guard lock(mutex_);
    for (const auto& [ref, v] : referrals_) {
        json::object o;
        o["ref"] = ref;
        o["site"] = v.site;
        o["listing_ref"] = v.listing_ref;
        o["external_service_id"] = v.external_service_id;
        o["folder"] = to_string(v.folder);
        o["decline_reason"] = v.decline_reason;
        json::array bookings;
        for (const auto& b : v.appointments) bookings.emplace_back(booking_json(b));
        o["appointments"] = std::move(bookings);
        o["communications"] = v.communications.size();
        o["forwarded_to"] = v.forwarded_to ? json::value(*v.forwarded_to) : json::value(nullptr);
        o["messages_sent"] = v.messages_sent;
        json::array history;
        for (const auto& h : v.history) {
            history.emplace_back(json::object{{"at", h.at},
                                              {"event", h.event},
                                              {"change", h.change},
                                              {"detail", h.detail},
                                              {"folder", to_string(h.folder)}});
        }
        o["history"] = std::move(history);
        out.emplace_back(std::move(o));
    }
    return json::serialize(out);
}

const char* to_string(UpdateOutcome outcome) {
    switch (outcome) {
        case UpdateOutcome::kAccepted:
            return "accepted";
        case UpdateOutcome::kIgnored:
            return "ignored";
        case UpdateOutcome::kRefused:
            return "refused";
        case UpdateOutcome::kMalformed:
            return "malformed";
    }
    return "?";
}

namespace {

json::object record_json(const UpdateRecord& r) {
    json::array changes;
    for (const auto& c : r.changes) changes.emplace_back(json::string(c));
    return json::object{
        {"seq", r.seq},
        {"at", r.at},
        {"event", r.event},
        {"referral_ref", r.referral_ref},
        {"resource", r.resource},
        {"status", r.status},
        {"folder_before", r.folder_before ? json::value(to_string(*r.folder_before)) : json::value(nullptr)},
        {"folder_after", r.folder_after ? json::value(to_string(*r.folder_after)) : json::value(nullptr)},
        {"changes", std::move(changes)},
        {"outcome", to_string(r.outcome)},
        {"http_status", r.http_status},
        {"reason", r.reason}};
}

}  // namespace

std::uint64_t UpdateLog::add(UpdateRecord record) {
    std::lock_guard lock(mutex_);
    record.seq = next_seq_++;
    if (record.at.empty()) record.at = format_rfc3339_millis(system_now());
    const auto seq = record.seq;
    if (file_) {
        *file_ << json::serialize(record_json(record)) << '\n';
        file_->flush();
    }
    records_.push_back(std::move(record));
    while (records_.size() > capacity_) {
        records_.pop_front();
        ++dropped_;
    }
    return seq;
}

std::vector<UpdateRecord> UpdateLog::snapshot() const {
    std::lock_guard lock(mutex_);
    return {records_.begin(), records_.end()};
}

void UpdateLog::write_to(const std::string& path) {
    std::lock_guard lock(mutex_);
    file_.emplace(path, std::ios::app);
    if (!*file_) throw ConfigError("api.updates_file: cannot open '" + path + "' for writing");
}

std::string UpdateLog::to_json() const {
    json::array updates;
    std::lock_guard lock(mutex_);
    for (const auto& r : records_) updates.emplace_back(record_json(r));
    json::object out{{"received", next_seq_ - 1}, {"dropped", dropped_}, {"updates", std::move(updates)}};
    return json::serialize(out);
}

ReceiverProgress receiver_progress(const ReferralView& view) {
    ReceiverProgress progress;
    progress.task_status = view.task_status;
    if (view.folder == Folder::kDeclined) progress.decline_reason = view.decline_reason;
    progress.appointments.reserve(view.appointments.size());
    for (const Booking& b : view.appointments)
        progress.appointments.push_back(
            EchoedAppointment{b.id, b.status, b.start, b.end, b.participant_status, b.instructions});
    return progress;
}

}  // namespace relay::ocean_sim
