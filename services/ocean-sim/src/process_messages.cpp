#include "process_messages.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <map>
#include <regex>
#include <utility>
#include <vector>

namespace relay::ocean_sim {

namespace json = boost::json;
namespace bhttp = boost::beast::http;

namespace {

// Receiver -> Ocean event codes (ocean-api.md §3.5, as the Ocean Labs autorouter sends them).
constexpr std::string_view kNotifyAddProcessRequest = "notify-add-process-request";
constexpr std::string_view kNotifyUpdateProcessRequest = "notify-update-process-request";
constexpr std::string_view kNotifyAddAppointment = "notify-add-appointment";
constexpr std::string_view kNotifyDataCorrection = "notify-data-correction";
constexpr std::array<std::string_view, 7> kReceiverEvents = {kNotifyAddProcessRequest,
                                                             kNotifyUpdateProcessRequest,
                                                             kNotifyAddAppointment,
                                                             "send-communication-from-provider",
                                                             "send-communication-from-requester",
                                                             "send-communication",
                                                             kNotifyDataCorrection};

// FHIR R4 value sets the shapes are checked against.
constexpr std::array<std::string_view, 12> kTaskStatuses = {"draft",
                                                            "requested",
                                                            "received",
                                                            "accepted",
                                                            "rejected",
                                                            "ready",
                                                            "cancelled",
                                                            "in-progress",
                                                            "on-hold",
                                                            "failed",
                                                            "completed",
                                                            "entered-in-error"};
constexpr std::array<std::string_view, 9> kTaskIntents = {"unknown",
                                                          "proposal",
                                                          "plan",
                                                          "order",
                                                          "original-order",
                                                          "reflex-order",
                                                          "filler-order",
                                                          "instance-order",
                                                          "option"};
constexpr std::array<std::string_view, 10> kAppointmentStatuses = {"proposed",
                                                                   "pending",
                                                                   "booked",
                                                                   "arrived",
                                                                   "fulfilled",
                                                                   "cancelled",
                                                                   "noshow",
                                                                   "entered-in-error",
                                                                   "checked-in",
                                                                   "waitlist"};
constexpr std::array<std::string_view, 4> kParticipationStatuses = {
    "accepted", "declined", "tentative", "needs-action"};
constexpr std::array<std::string_view, 8> kCommunicationStatuses = {"preparation",
                                                                    "in-progress",
                                                                    "not-done",
                                                                    "on-hold",
                                                                    "stopped",
                                                                    "completed",
                                                                    "entered-in-error",
                                                                    "unknown"};

template <std::size_t N>
bool one_of(const std::array<std::string_view, N>& set, std::string_view value) {
    return std::find(set.begin(), set.end(), value) != set.end();
}

bool starts_with(std::string_view s, std::string_view prefix) {
    return s.substr(0, prefix.size()) == prefix;
}
bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// A malformed message (400). Every reading step throws its refusal; read_update_message returns it.
[[noreturn]] void malformed(std::string expression, std::string diagnostics, std::string code = "invalid") {
    throw UpdateRefusal{
        bhttp::status::bad_request, std::move(code), std::move(diagnostics), std::move(expression)};
}

std::string entry_path(std::size_t index, std::string_view rest = {}) {
    return fmt::format("Bundle.entry[{}].resource{}", index, rest);
}

const json::value* member(const json::object& o, std::string_view key) {
    return o.if_contains(key);
}

std::string string_member(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

class UpdateBundle {
   public:
    explicit UpdateBundle(std::string_view body) {
        boost::system::error_code ec;
        root_ = json::parse(body, ec);
        if (ec) malformed("Bundle", "the body is not JSON", "structure");
        if (!root_.is_object()) malformed("Bundle", "the body is not a JSON object", "structure");
        const auto& bundle = root_.as_object();
        if (string_member(bundle, "resourceType") != "Bundle")
            malformed("Bundle.resourceType", "not a Bundle");
        if (string_member(bundle, "type") != "message")
            malformed("Bundle.type", "Bundle.type must be 'message'");
        const auto* entries = member(bundle, "entry");
        if (entries == nullptr || !entries->is_array() || entries->as_array().empty())
            malformed("Bundle.entry", "a message Bundle needs entries", "required");
        for (const auto& entry : entries->as_array()) {
            const std::size_t i = resources_.size();
            const auto* r = entry.is_object() ? member(entry.as_object(), "resource") : nullptr;
            if (r == nullptr || !r->is_object())
                malformed(fmt::format("Bundle.entry[{}]", i), "entry without a resource");
            const auto& resource = r->as_object();
            const auto type = string_member(resource, "resourceType");
            if (type.empty())
                malformed(entry_path(i, ".resourceType"), "resourceType is missing", "required");
            resources_.push_back(&resource);
            const auto id = string_member(resource, "id");
            if (!id.empty()) by_ref_.emplace(type + "/" + id, i);
            const auto full_url = string_member(entry.as_object(), "fullUrl");
            if (!full_url.empty()) by_ref_.emplace(full_url, i);
        }
        if (type_of(0) != "MessageHeader")
            malformed(entry_path(0, ".resourceType"), "the first entry must be a MessageHeader");
    }

    [[nodiscard]] std::size_t size() const { return resources_.size(); }
    [[nodiscard]] const json::object& resource(std::size_t i) const { return *resources_[i]; }
    [[nodiscard]] std::string type_of(std::size_t i) const {
        return string_member(*resources_[i], "resourceType");
    }
    [[nodiscard]] const json::object& header() const { return *resources_[0]; }

    /// The entry a reference points to: a fullUrl (urn:uuid:...) or "Type/id" (absolute URLs too).
    [[nodiscard]] std::optional<std::size_t> resolve(std::string_view reference) const {
        if (auto it = by_ref_.find(std::string(reference)); it != by_ref_.end()) return it->second;
        // "https://host/fhir/Type/id" -> "Type/id"
        const auto last = reference.rfind('/');
        if (last == std::string_view::npos || last == 0) return std::nullopt;
        const auto previous = reference.rfind('/', last - 1);
        const auto tail = previous == std::string_view::npos ? reference : reference.substr(previous + 1);
        if (auto it = by_ref_.find(std::string(tail)); it != by_ref_.end()) return it->second;
        return std::nullopt;
    }

    /// The MessageHeader.focus entry of `type`, else the last entry of that type; nullopt if none.
    [[nodiscard]] std::optional<std::size_t> focus_of(std::string_view type) const {
        if (const auto* focus = member(header(), "focus"); focus != nullptr && focus->is_array()) {
            for (const auto& f : focus->as_array()) {
                if (!f.is_object()) continue;
                const auto i = resolve(string_member(f.as_object(), "reference"));
                if (i && *i > 0 && type_of(*i) == type) return i;
            }
        }
        for (std::size_t i = resources_.size(); i-- > 1;) {
            if (type_of(i) == type) return i;
        }
        return std::nullopt;
    }

   private:
    json::value root_;
    std::vector<const json::object*> resources_;
    std::map<std::string, std::size_t> by_ref_;
};

/// id-referral-target-reference in an identifier list (or a single identifier).
std::optional<std::string> listing_identifier(const json::value* identifiers) {
    if (identifiers == nullptr) return std::nullopt;
    const auto check = [](const json::value& id) -> std::optional<std::string> {
        if (!id.is_object()) return std::nullopt;
        if (!ends_with(string_member(id.as_object(), "system"), "id-referral-target-reference"))
            return std::nullopt;
        auto value = string_member(id.as_object(), "value");
        if (value.empty()) return std::nullopt;
        return value;
    };
    if (identifiers->is_array()) {
        for (const auto& id : identifiers->as_array()) {
            if (auto listing = check(id)) return listing;
        }
        return std::nullopt;
    }
    return check(*identifiers);
}

/// The listing a Reference (MessageHeader.sender/author, ServiceRequest.performer) stands for: its own
/// identifier, the identifiers of the PractitionerRole it resolves to, or (v0.10, where the target
/// PractitionerRole's id is the listing ref) a known listing ref as the id.
std::optional<std::string> listing_of_reference(const UpdateBundle& bundle,
                                                const json::value* reference,
                                                const ReferralState& state) {
    if (reference == nullptr || !reference->is_object()) return std::nullopt;
    const auto& ref = reference->as_object();
    if (auto listing = listing_identifier(member(ref, "identifier"))) return listing;
    const auto target = string_member(ref, "reference");
    if (target.empty()) return std::nullopt;
    if (const auto i = bundle.resolve(target)) {
        if (auto listing = listing_identifier(member(bundle.resource(*i), "identifier"))) return listing;
    }
    constexpr std::string_view kRole = "PractitionerRole/";
    if (const auto at = target.find(kRole); at != std::string::npos) {
        const auto id = target.substr(at + kRole.size());
        if (state.known_listing(id)) return id;
    }
    return std::nullopt;
}

std::optional<std::string> referral_ref_of(const json::object& header) {
    const auto* extensions = member(header, "extension");
    if (extensions == nullptr || !extensions->is_array()) return std::nullopt;
    for (const auto& e : extensions->as_array()) {
        if (!e.is_object()) continue;
        const auto url = string_member(e.as_object(), "url");
        if (ends_with(url, "/ext-referral-identifier")) {
            const auto* id = member(e.as_object(), "valueIdentifier");
            if (id != nullptr && id->is_object()) {
                auto value = string_member(id->as_object(), "value");
                if (!value.empty()) return value;
            }
        } else if (ends_with(url, "/ext-id-message-header")) {
            auto value = string_member(e.as_object(), "valueString");
            if (!value.empty()) return value;
        }
    }
    return std::nullopt;
}

bool valid_date_time(std::string_view text) {
    // FHIR dateTime with a time part (a booking needs one): YYYY-MM-DDThh:mm[:ss[.fff]][Z|+hh:mm].
    static const std::regex pattern(
        R"(\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,9})?)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)?)");
    return std::regex_match(text.begin(), text.end(), pattern);
}

TaskUpdate read_task(const UpdateBundle& bundle, std::size_t i) {
    const auto& task = bundle.resource(i);
    TaskUpdate out;
    const auto* status = member(task, "status");
    if (status == nullptr || !status->is_string())
        malformed(entry_path(i, ".status"), "Task.status is required", "required");
    out.status = std::string(status->as_string());
    if (!one_of(kTaskStatuses, out.status))
        malformed(entry_path(i, ".status"), "not a FHIR Task status", "value");
    const auto* intent = member(task, "intent");
    if (intent == nullptr || !intent->is_string())
        malformed(entry_path(i, ".intent"), "Task.intent is required", "required");
    if (!one_of(kTaskIntents, intent->as_string()))
        malformed(entry_path(i, ".intent"), "not a FHIR Task intent", "value");
    // §3.7.2: Ocean Labs always sends Task.code (process-request...); without it Ocean cannot tell a
    // referral task from a consult task.
    const auto* code = member(task, "code");
    const json::value* codings =
        code != nullptr && code->is_object() ? member(code->as_object(), "coding") : nullptr;
    if (codings == nullptr || !codings->is_array() || codings->as_array().empty())
        malformed(entry_path(i, ".code"), "Task.code.coding is required", "required");
    for (std::size_t c = 0; c < codings->as_array().size(); ++c) {
        const auto& coding = codings->as_array()[c];
        if (!coding.is_object() || string_member(coding.as_object(), "code").empty())
            malformed(
                entry_path(i, fmt::format(".code.coding[{}].code", c)), "a coding needs a code", "required");
    }
    if (const auto* reason = member(task, "statusReason")) {
        if (!reason->is_object())
            malformed(entry_path(i, ".statusReason"), "statusReason must be a CodeableConcept");
        const auto* text = member(reason->as_object(), "text");
        if (text != nullptr && !text->is_string())
            malformed(entry_path(i, ".statusReason.text"), "must be a string");
        if (text != nullptr) out.reason = std::string(text->as_string());
    }
    if (const auto* based_on = member(task, "basedOn")) {
        if (!based_on->is_array())
            malformed(entry_path(i, ".basedOn"), "basedOn must be a list of References");
        for (std::size_t b = 0; b < based_on->as_array().size(); ++b) {
            const auto& ref = based_on->as_array()[b];
            if (!ref.is_object() || string_member(ref.as_object(), "reference").empty())
                malformed(entry_path(i, fmt::format(".basedOn[{}].reference", b)),
                          "a Reference needs a reference");
        }
    }
    return out;
}

bool is_patient_actor(const UpdateBundle& bundle, const json::object& participant) {
    const auto* actor = member(participant, "actor");
    if (actor == nullptr || !actor->is_object()) return false;
    const auto reference = string_member(actor->as_object(), "reference");
    if (starts_with(reference, "Patient/") || reference.find("/Patient/") != std::string::npos) return true;
    if (const auto i = bundle.resolve(reference)) return bundle.type_of(*i) == "Patient";
    return string_member(actor->as_object(), "type") == "Patient";
}

Booking read_appointment(const UpdateBundle& bundle, std::size_t i) {
    const auto& appointment = bundle.resource(i);
    Booking out;
    out.id = string_member(appointment, "id");
    const auto* status = member(appointment, "status");
    if (status == nullptr || !status->is_string())
        malformed(entry_path(i, ".status"), "Appointment.status is required", "required");
    out.status = std::string(status->as_string());
    if (!one_of(kAppointmentStatuses, out.status))
        malformed(entry_path(i, ".status"), "not a FHIR Appointment status", "value");
    for (const auto* key : {"start", "end"}) {
        const auto* v = member(appointment, key);
        if (v == nullptr) continue;
        if (!v->is_string() || !valid_date_time(v->as_string()))
            malformed(entry_path(i, std::string(".") + key), "not a dateTime with a time", "value");
        (std::string_view(key) == "start" ? out.start : out.end) = std::string(v->as_string());
    }
    // Same-format instants compare as text; a mixed-offset pair is left alone.
    if (!out.start.empty() && !out.end.empty() && out.start.size() == out.end.size() && out.end < out.start)
        malformed(entry_path(i, ".end"), "Appointment.end is before start", "value");
    out.instructions = string_member(appointment, "patientInstruction");
    if (out.instructions.empty()) out.instructions = string_member(appointment, "description");

    std::optional<std::size_t> patient;
    if (const auto* participants = member(appointment, "participant")) {
        if (!participants->is_array()) malformed(entry_path(i, ".participant"), "participant must be a list");
        for (std::size_t p = 0; p < participants->as_array().size(); ++p) {
            const auto& participant = participants->as_array()[p];
            if (!participant.is_object())
                malformed(entry_path(i, fmt::format(".participant[{}]", p)), "not an object");
            const auto s = string_member(participant.as_object(), "status");
            if (!one_of(kParticipationStatuses, s))
                malformed(entry_path(i, fmt::format(".participant[{}].status", p)),
                          "participant.status must be accepted, declined, tentative or needs-action",
                          "value");
            if (!patient && is_patient_actor(bundle, participant.as_object())) {
                patient = p;
                out.participant_status = s;
            }
        }
    }
    if (out.status == "cancelled" || out.start.empty()) {
        // Cancellation, or booking instructions without a date (§3.7.3 "proposed", participant:[]).
        if (out.start.empty() && out.status != "cancelled" && out.status != "proposed" &&
            out.status != "pending" && out.status != "waitlist")
            malformed(entry_path(i, ".start"), "a booked Appointment needs a start", "required");
        return out;
    }
    if (!patient)
        malformed(entry_path(i, ".participant"), "a booking needs the Patient as a participant", "required");
    // §3.6 [I]: the patient's tentative/accepted decides Booking Unconfirmed/Confirmed.
    if (out.participant_status != "tentative" && out.participant_status != "accepted")
        malformed(entry_path(i, fmt::format(".participant[{}].status", *patient)),
                  "the Patient participant must be tentative or accepted",
                  "value");
    return out;
}

RecordedMessage read_communication(const UpdateBundle& bundle, std::size_t i) {
    const auto& communication = bundle.resource(i);
    RecordedMessage out;
    out.id = string_member(communication, "id");
    const auto status = string_member(communication, "status");
    if (status.empty()) malformed(entry_path(i, ".status"), "Communication.status is required", "required");
    if (!one_of(kCommunicationStatuses, status))
        malformed(entry_path(i, ".status"), "not a FHIR Communication status", "value");
    const auto* payload = member(communication, "payload");
    if (payload == nullptr || !payload->is_array() || payload->as_array().empty())
        malformed(entry_path(i, ".payload"), "a message needs a payload", "required");
    for (std::size_t p = 0; p < payload->as_array().size(); ++p) {
        const auto& item = payload->as_array()[p];
        const json::value* text = item.is_object() ? member(item.as_object(), "contentString") : nullptr;
        const json::value* attachment =
            item.is_object() ? member(item.as_object(), "contentAttachment") : nullptr;
        if (text != nullptr && text->is_string()) {
            if (!out.text.empty()) out.text += "\n";
            out.text += text->as_string();
        } else if (attachment != nullptr && attachment->is_object() &&
                   (member(attachment->as_object(), "data") != nullptr ||
                    member(attachment->as_object(), "url") != nullptr)) {
            ++out.attachments;
        } else {
            malformed(entry_path(i, fmt::format(".payload[{}]", p)),
                      "a payload needs contentString or contentAttachment (with data or url)",
                      "required");
        }
    }
    return out;
}

/// §3.7.3 "Forward": a new ServiceRequest that `replaces` the referral, performer = the new listing.
std::optional<ForwardUpdate> read_forward(const UpdateBundle& bundle,
                                          std::string_view referral_ref,
                                          const ReferralState& state) {
    for (std::size_t i = 1; i < bundle.size(); ++i) {
        if (bundle.type_of(i) != "ServiceRequest") continue;
        const auto& sr = bundle.resource(i);
        const auto* replaces = member(sr, "replaces");
        if (replaces == nullptr) continue;
        if (!replaces->is_array() || replaces->as_array().empty())
            malformed(entry_path(i, ".replaces"), "replaces must be a non-empty list of References");
        bool replaces_referral = false;
        for (const auto& r : replaces->as_array()) {
            const auto reference = r.is_object() ? string_member(r.as_object(), "reference") : std::string();
            if (ends_with(reference, fmt::format("ServiceRequest/{}", referral_ref)))
                replaces_referral = true;
            if (const auto j = bundle.resolve(reference);
                j && string_member(bundle.resource(*j), "id") == referral_ref)
                replaces_referral = true;
        }
        if (!replaces_referral)
            malformed(
                entry_path(i, ".replaces"), "the new ServiceRequest must replace the referral", "value");
        ForwardUpdate forward;
        forward.new_ref = string_member(sr, "id");
        if (forward.new_ref.empty() || forward.new_ref == referral_ref)
            malformed(entry_path(i, ".id"), "the forwarded ServiceRequest needs a new id", "required");
        const auto* performers = member(sr, "performer");
        if (performers != nullptr && performers->is_array()) {
            for (const auto& p : performers->as_array()) {
                if (auto listing = listing_of_reference(bundle, &p, state)) {
                    forward.listing_ref = std::move(*listing);
                    break;
                }
            }
        }
        if (forward.listing_ref.empty())
            malformed(entry_path(i, ".performer"),
                      "the performer must identify the new listing (id-referral-target-reference)",
                      "required");
        return forward;
    }
    return std::nullopt;
}

/// The update a parsed Bundle asks for; `reading` records how far it got, for the log of a refusal.
ReceiverUpdate read_update(const UpdateBundle& bundle,
                           const ReferralState& referrals,
                           UpdateReading& reading) {
    const auto& header = bundle.header();
    ReceiverUpdate update;
    const auto* event = member(header, "eventCoding");
    if (event != nullptr && event->is_object()) update.event = string_member(event->as_object(), "code");
    reading.event = update.event;
    if (update.event.empty())
        malformed(
            entry_path(0, ".eventCoding.code"), "MessageHeader.eventCoding.code is required", "required");
    if (!one_of(kReceiverEvents, update.event))
        malformed(
            entry_path(0, ".eventCoding.code"),
            fmt::format("'{}' is not an event a receiver sends to Ocean (ocean-api.md §3.5)", update.event),
            "not-supported");
    auto ref = referral_ref_of(header);
    if (!ref)
        malformed(entry_path(0, ".extension"),
                  "no referral ref (ext-referral-identifier or ext-id-message-header)",
                  "required");
    update.referral_ref = std::move(*ref);
    reading.referral_ref = update.referral_ref;

    // [P] Ocean's answer for an unknown referral is not public: 404 + not-found, the FHIR norm for a
    // missing resource. Either way it is a 4xx that senders must not retry (§3.9).
    const auto view = referrals.find(update.referral_ref);
    if (!view) throw unknown_referral();
    reading.folder_before = view->folder;

    // §3.6: only the current receiver may update. A sender/author that names another listing is
    // refused; one we cannot map to a listing (e.g. Organization/ocean-relay) is allowed, as the
    // token alone does not say which listing is calling [P].
    for (const auto* key : {"sender", "author"}) {
        const auto listing = listing_of_reference(bundle, member(header, key), referrals);
        if (listing && *listing != view->listing_ref)
            throw UpdateRefusal{bhttp::status::forbidden,
                                "forbidden",
                                "only the referral's current receiver may update it (ocean-api.md §3.6)",
                                entry_path(0, std::string(".") + key),
                                UpdateOutcome::kRefused};
    }

    if (update.event == kNotifyAddProcessRequest || update.event == kNotifyUpdateProcessRequest) {
        const auto task = bundle.focus_of("Task");
        if (!task) malformed("Bundle.entry", "a process-request message needs a Task", "required");
        update.resource = "Task";
        update.task = read_task(bundle, *task);
        update.status = update.task->status;
        update.forward = read_forward(bundle, update.referral_ref, referrals);
        // The IG also allows an Appointment in notify-update-process-request (§3.7.3): only when
        // it is a focus, so echoed resources are not mistaken for a new booking.
        if (const auto* focus = member(header, "focus"); focus != nullptr && focus->is_array()) {
            for (const auto& f : focus->as_array()) {
                if (!f.is_object()) continue;
                const auto i = bundle.resolve(string_member(f.as_object(), "reference"));
                if (i && bundle.type_of(*i) == "Appointment")
                    update.appointment = read_appointment(bundle, *i);
            }
        }
    } else if (update.event == kNotifyAddAppointment) {
        const auto appointment = bundle.focus_of("Appointment");
        if (!appointment)
            malformed("Bundle.entry", "an appointment message needs an Appointment", "required");
        update.resource = "Appointment";
        update.appointment = read_appointment(bundle, *appointment);
        update.status = update.appointment->status;
    } else if (update.event == kNotifyDataCorrection) {
        const auto sr = bundle.focus_of("ServiceRequest");
        if (!sr) malformed("Bundle.entry", "a data correction needs the ServiceRequest", "required");
        update.resource = "ServiceRequest";
        update.data_correction = true;
    } else {
        const auto communication = bundle.focus_of("Communication");
        if (!communication)
            malformed("Bundle.entry", "a communication message needs a Communication", "required");
        update.resource = "Communication";
        update.communication = read_communication(bundle, *communication);
    }
    return update;
}

}  // namespace

UpdateRefusal unknown_referral() {
    return UpdateRefusal{bhttp::status::not_found,
                         "not-found",
                         "no referral with this ref was sent by Ocean",
                         entry_path(0, ".extension"),
                         UpdateOutcome::kRefused};
}

UpdateReading read_update_message(std::string_view body, const ReferralState& referrals) {
    UpdateReading reading;
    try {
        const UpdateBundle bundle(body);
        reading.result = read_update(bundle, referrals, reading);
    } catch (UpdateRefusal& refusal) {
        reading.result = std::move(refusal);
    }
    return reading;
}

}  // namespace relay::ocean_sim
