#include "relay/transform/pushed.hpp"

#include <boost/json.hpp>

namespace relay::transform {

namespace json = boost::json;

namespace {

std::string str(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

}  // namespace

std::string encode_pushed(const PushedUpdate& pushed) {
    json::array tasks;
    for (const auto& t : pushed.tasks)
        tasks.push_back(json::object{{"status", t.status}, {"status_reason", t.status_reason}});
    json::array appointments;
    for (const auto& a : pushed.appointments)
        appointments.push_back(json::object{{"id", a.id},
                                            {"status", a.status},
                                            {"start", a.start},
                                            {"end", a.end},
                                            {"patient_status", a.patient_status}});
    json::array communications;
    for (const auto& c : pushed.communications) communications.push_back(json::object{{"id", c.id}});
    return json::serialize(json::object{{"referral_ref", pushed.referral_ref},
                                        {"tasks", std::move(tasks)},
                                        {"appointments", std::move(appointments)},
                                        {"communications", std::move(communications)}});
}

std::optional<PushedUpdate> decode_pushed(std::string_view text, std::string* why) {
    auto fail = [why](const char* reason) -> std::optional<PushedUpdate> {
        if (why != nullptr) *why = reason;
        return std::nullopt;
    };
    boost::system::error_code ec;
    const json::value root = json::parse(text, ec);
    if (ec || !root.is_object()) return fail("not a JSON object");
    const auto& o = root.as_object();
    PushedUpdate pushed;
    pushed.referral_ref = str(o, "referral_ref");
    if (pushed.referral_ref.empty()) return fail("referral_ref is missing");
    auto array_of = [&o](std::string_view key) -> const json::array* {
        const auto* v = o.if_contains(key);
        return v != nullptr && v->is_array() ? &v->as_array() : nullptr;
    };
    if (const auto* tasks = array_of("tasks")) {
        for (const auto& t : *tasks) {
            if (!t.is_object()) return fail("tasks[] must be objects");
            Task task;
            task.status = str(t.as_object(), "status");
            task.status_reason = str(t.as_object(), "status_reason");
            pushed.tasks.push_back(std::move(task));
        }
    }
    if (const auto* appointments = array_of("appointments")) {
        for (const auto& a : *appointments) {
            if (!a.is_object()) return fail("appointments[] must be objects");
            const auto& ao = a.as_object();
            Appointment appointment;
            appointment.id = str(ao, "id");
            appointment.status = str(ao, "status");
            appointment.start = str(ao, "start");
            appointment.end = str(ao, "end");
            appointment.patient_status = str(ao, "patient_status");
            pushed.appointments.push_back(std::move(appointment));
        }
    }
    if (const auto* communications = array_of("communications")) {
        for (const auto& c : *communications) {
            if (!c.is_object()) return fail("communications[] must be objects");
            Communication communication;
            communication.id = str(c.as_object(), "id");
            pushed.communications.push_back(std::move(communication));
        }
    }
    return pushed;
}

}  // namespace relay::transform
