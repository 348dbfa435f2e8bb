#include "relay/hub/update.hpp"

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cctype>
#include <utility>

#include "relay/core/encoding.hpp"

namespace relay::hub {

namespace json = boost::json;

namespace {

constexpr std::size_t kMaxText = 65536;
constexpr std::size_t kMaxRef = 128;

struct ActionName {
    Action action;
    const char* name;
};
constexpr std::array<ActionName, 15> kActions = {{
    {Action::kAccept, "accept"},
    {Action::kDecline, "decline"},
    {Action::kComplete, "complete"},
    {Action::kReopen, "reopen"},
    {Action::kForward, "forward"},
    {Action::kSwitchType, "switch_type"},
    {Action::kBook, "book"},
    {Action::kChangeBooking, "change_booking"},
    {Action::kCancelBooking, "cancel_booking"},
    {Action::kBookingInstructions, "booking_instructions"},
    {Action::kMessage, "message"},
    {Action::kReceived, "received"},
    {Action::kOpenApiMessage, "open_api_message"},
    {Action::kOpenApiAttachment, "open_api_attachment"},
    {Action::kEformLink, "eform_link"},
}};

constexpr std::size_t kMaxFormRefs = 20;
constexpr std::size_t kMaxFileName = 255;
constexpr std::size_t kMaxFormRef = 64;
constexpr int kMaxExpiryHours = 720;

constexpr std::array<std::string_view, 4> kMilestones = {"wait-1", "wait-1a", "wait-1b", "wait-2"};

bool is_blank(std::string_view s) {
    for (const char c : s) {
        if (std::isspace(static_cast<unsigned char>(c)) == 0) return false;
    }
    return true;
}

bool is_mime_token(std::string_view s) {
    if (s.empty()) return false;
    for (const char c : s) {
        const bool ok = std::isalnum(static_cast<unsigned char>(c)) != 0 ||
                        std::string_view("!#$&^_.+-").find(c) != std::string_view::npos;
        if (!ok) return false;
    }
    return true;
}

bool is_content_type(std::string_view s) {
    const auto slash = s.find('/');
    return slash != std::string_view::npos && is_mime_token(s.substr(0, slash)) &&
           is_mime_token(s.substr(slash + 1));
}

/// Which members each action allows besides the common ones.
bool allowed(Action action, std::string_view key) {
    switch (action) {
        case Action::kAccept:
            return key == "import_to_emr";
        case Action::kDecline:
            return key == "reason";
        case Action::kComplete:
        case Action::kReopen:
        case Action::kReceived:
            return false;
        case Action::kForward:
            return key == "listing_ref" || key == "reason";
        case Action::kSwitchType:
            return key == "econsult";
        case Action::kBook:
        case Action::kChangeBooking:
            return key == "appointment";
        case Action::kCancelBooking:
            return key == "appointment" || key == "reason";
        case Action::kBookingInstructions:
            return key == "instructions";
        case Action::kMessage:
        case Action::kOpenApiMessage:
            return key == "text" || key == "attachment";
        case Action::kOpenApiAttachment:
            return key == "attachment";
        case Action::kEformLink:
            return key == "patient_ref" || key == "form_refs" || key == "expiry_hours";
    }
    return false;
}

constexpr std::array<std::string_view, 5> kCommon = {
    "update_id", "referral_ref", "action", "site", "requested_at"};
constexpr std::array<std::string_view, 11> kActionMembers = {"import_to_emr",
                                                             "reason",
                                                             "listing_ref",
                                                             "econsult",
                                                             "appointment",
                                                             "instructions",
                                                             "text",
                                                             "attachment",
                                                             "patient_ref",
                                                             "form_refs",
                                                             "expiry_hours"};

bool is_form_ref(std::string_view s) {
    return !s.empty() && s.size() <= kMaxFormRef && std::all_of(s.begin(), s.end(), [](char c) {
               return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.' || c == ':' ||
                      c == '-';
           });
}

/// An unknown member as errors name it. Its name is the caller's text and did not pass validation: it
/// could be anything, patient data included (`"JaneDoe": ...`), and error texts reach logs and the DLQ,
/// so it is never repeated. The caller knows what it sent; the path says where.
std::string member_name(std::string_view /*key*/) {
    return "(unknown member)";
}

class Reader {
   public:
    std::vector<FieldError> errors;

    void fail(std::string field, std::string code, std::string message) {
        errors.push_back(FieldError{std::move(field), std::move(code), std::move(message)});
    }

    /// A string member: absent → nullopt (and an error when required); wrong type → error.
    std::optional<std::string> string(const json::object& o,
                                      std::string_view key,
                                      const std::string& field,
                                      bool required) {
        const auto* v = o.if_contains(key);
        if (v == nullptr) {
            if (required) fail(field, "required", "is required");
            return std::nullopt;
        }
        if (!v->is_string()) {
            fail(field, "type", "must be a string");
            return std::nullopt;
        }
        return std::string(v->as_string());
    }

    std::optional<std::string> ref(const json::object& o,
                                   std::string_view key,
                                   const std::string& field,
                                   bool required) {
        auto s = string(o, key, field, required);
        if (s && !is_ref(*s)) {
            fail(field, "format", "must be 1..128 of A-Z a-z 0-9 _ . : - (not . or ..)");
            return std::nullopt;
        }
        return s;
    }

    std::optional<std::string> text(const json::object& o,
                                    std::string_view key,
                                    const std::string& field,
                                    bool required) {
        auto s = string(o, key, field, required);
        if (!s) return s;
        if (s->size() > kMaxText) {
            fail(field, "format", "is longer than 65536 bytes");
            return std::nullopt;
        }
        if (is_blank(*s)) {
            fail(field, "value", "must not be empty or only whitespace");
            return std::nullopt;
        }
        return s;
    }

    std::optional<bool> boolean(const json::object& o,
                                std::string_view key,
                                const std::string& field,
                                bool required) {
        const auto* v = o.if_contains(key);
        if (v == nullptr) {
            if (required) fail(field, "required", "is required");
            return std::nullopt;
        }
        if (!v->is_bool()) {
            fail(field, "type", "must be true or false");
            return std::nullopt;
        }
        return v->as_bool();
    }

    std::optional<std::string> date_time(const json::object& o,
                                         std::string_view key,
                                         const std::string& field,
                                         bool required,
                                         std::int64_t& epoch) {
        auto s = string(o, key, field, required);
        if (s && !parse_rfc3339(*s, epoch)) {
            fail(field, "format", "must be an RFC 3339 date-time with seconds and an offset");
            return std::nullopt;
        }
        return s;
    }

    /// An object member; absent → nullptr (error when required).
    const json::object* object(const json::object& o,
                               std::string_view key,
                               const std::string& field,
                               bool required) {
        const auto* v = o.if_contains(key);
        if (v == nullptr) {
            if (required) fail(field, "required", "is required");
            return nullptr;
        }
        if (!v->is_object()) {
            fail(field, "type", "must be an object");
            return nullptr;
        }
        return &v->as_object();
    }

    void only(const json::object& o,
              std::initializer_list<std::string_view> keys,
              const std::string& prefix) {
        for (const auto& [key, value] : o) {
            bool known = false;
            for (const auto k : keys) known = known || k == key;
            if (!known) fail(prefix + member_name(key), "unknown", "is not a known member");
        }
    }
};

std::optional<AppointmentRequest> read_appointment(Reader& r, const json::object& a, Action action) {
    AppointmentRequest out;
    const std::size_t before = r.errors.size();
    if (action == Action::kCancelBooking) {
        r.only(a, {"id"}, "appointment.");
    } else {
        r.only(a,
               {"id", "start", "end", "confirmed", "type_text", "instructions", "wait_time_milestone"},
               "appointment.");
    }
    if (auto id = r.string(a, "id", "appointment.id", false)) {
        if (!is_fhir_id(*id))
            r.fail("appointment.id", "format", "must be a FHIR id (1..64 of A-Z a-z 0-9 - .)");
        else
            out.id = std::move(*id);
    }
    if (action != Action::kCancelBooking) {
        std::int64_t start = 0;
        std::int64_t end = 0;
        auto s = r.date_time(a, "start", "appointment.start", true, start);
        auto e = r.date_time(a, "end", "appointment.end", true, end);
        if (s && e && end <= start) r.fail("appointment.end", "value", "must be after appointment.start");
        if (s) out.start = std::move(*s);
        if (e) out.end = std::move(*e);
        if (auto c = r.boolean(a, "confirmed", "appointment.confirmed", true)) out.confirmed = *c;
        if (auto t = r.text(a, "type_text", "appointment.type_text", false)) out.type_text = std::move(*t);
        if (auto t = r.text(a, "instructions", "appointment.instructions", false))
            out.instructions = std::move(*t);
        if (auto m = r.string(a, "wait_time_milestone", "appointment.wait_time_milestone", false)) {
            bool known = false;
            for (const auto k : kMilestones) known = known || k == *m;
            if (!known)
                r.fail(
                    "appointment.wait_time_milestone", "value", "must be wait-1, wait-1a, wait-1b or wait-2");
            else
                out.wait_time_milestone = std::move(*m);
        }
    }
    if (r.errors.size() != before) return std::nullopt;
    return out;
}

std::optional<AttachmentRequest> read_attachment(Reader& r, const json::object& a) {
    AttachmentRequest out;
    const std::size_t before = r.errors.size();
    r.only(a, {"content_type", "data", "title"}, "attachment.");
    if (auto c = r.string(a, "content_type", "attachment.content_type", true)) {
        if (!is_content_type(*c))
            r.fail("attachment.content_type", "format", "must be a MIME type (type/subtype)");
        else
            out.content_type = std::move(*c);
    }
    if (auto d = r.string(a, "data", "attachment.data", true)) {
        const auto decoded = base64_decode(*d);
        if (!decoded || decoded->empty())
            r.fail("attachment.data", "format", "must be non-empty standard base64");
        else
            out.data = std::move(*d);
    }
    if (auto t = r.text(a, "title", "attachment.title", false)) out.title = std::move(*t);
    if (r.errors.size() != before) return std::nullopt;
    return out;
}

std::vector<std::string> read_form_refs(Reader& r, const json::object& o) {
    std::vector<std::string> out;
    const auto* v = o.if_contains("form_refs");
    if (v == nullptr) {
        r.fail("form_refs", "required", "is required");
        return out;
    }
    if (!v->is_array() || v->as_array().empty() || v->as_array().size() > kMaxFormRefs) {
        r.fail("form_refs", "type", "must be an array of 1..20 form refs");
        return out;
    }
    for (const auto& item : v->as_array()) {
        if (!item.is_string() || !is_form_ref(item.as_string())) {
            r.fail("form_refs", "format", "every form ref must be 1..64 of A-Z a-z 0-9 _ . : -");
            return {};
        }
        out.emplace_back(item.as_string());
    }
    return out;
}

std::optional<int> read_expiry_hours(Reader& r, const json::object& o) {
    const auto* v = o.if_contains("expiry_hours");
    if (v == nullptr) return std::nullopt;
    // 72 and 72.0 are the same number in JSON.
    const bool integral_double = v->is_double() && v->as_double() > -1e9 && v->as_double() < 1e9 &&
                                 v->as_double() == static_cast<double>(static_cast<std::int64_t>(v->as_double()));
    if (!v->is_int64() && !v->is_uint64() && !integral_double) {
        r.fail("expiry_hours", "type", "must be an integer");
        return std::nullopt;
    }
    const std::int64_t hours = v->is_int64()    ? v->as_int64()
                               : v->is_uint64() ? static_cast<std::int64_t>(std::min<std::uint64_t>(v->as_uint64(), 1u << 30))
                                                : static_cast<std::int64_t>(v->as_double());
    if (hours < 1 || hours > kMaxExpiryHours) {
        r.fail("expiry_hours", "value", "must be 1..720");
        return std::nullopt;
    }
    return static_cast<int>(hours);
}

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
    y -= m <= 2 ? 1 : 0;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

}  // namespace

const char* to_string(Action action) {
    for (const auto& a : kActions) {
        if (a.action == action) return a.name;
    }
    return "unknown";
}

std::optional<Action> parse_action(std::string_view text) {
    for (const auto& a : kActions) {
        if (text == a.name) return a.action;
    }
    return std::nullopt;
}

bool is_open_api(Action action) {
    return action == Action::kOpenApiMessage || action == Action::kOpenApiAttachment ||
           action == Action::kEformLink;
}

bool is_ref(std::string_view s) {
    // "." and ".." are path segments with a meaning of their own wherever a ref lands in a URL or a path.
    if (s.empty() || s.size() > kMaxRef || s == "." || s == "..") return false;
    for (const char c : s) {
        const bool ok =
            std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.' || c == ':' || c == '-';
        if (!ok) return false;
    }
    return true;
}

bool is_fhir_id(std::string_view s) {
    if (s.empty() || s.size() > 64) return false;
    for (const char c : s) {
        if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '-' && c != '.') return false;
    }
    return true;
}

bool parse_rfc3339(std::string_view t, std::int64_t& epoch_seconds) {
    // YYYY-MM-DDThh:mm:ss[.f+](Z|±hh:mm)
    const auto digits = [&](std::size_t at, std::size_t n, int& out) {
        if (at + n > t.size()) return false;
        out = 0;
        for (std::size_t i = at; i < at + n; ++i) {
            if (t[i] < '0' || t[i] > '9') return false;
            out = out * 10 + (t[i] - '0');
        }
        return true;
    };
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    if (!digits(0, 4, year) || t.size() < 20 || t[4] != '-' || !digits(5, 2, month) || t[7] != '-' ||
        !digits(8, 2, day) || t[10] != 'T' || !digits(11, 2, hour) || t[13] != ':' ||
        !digits(14, 2, minute) || t[16] != ':' || !digits(17, 2, second))
        return false;
    std::size_t at = 19;
    if (t[at] == '.') {
        const std::size_t first = ++at;
        while (at < t.size() && t[at] >= '0' && t[at] <= '9') ++at;
        if (at == first || at - first > 9) return false;
    }
    int offset = 0;
    if (at < t.size() && t[at] == 'Z') {
        ++at;
    } else if (at < t.size() && (t[at] == '+' || t[at] == '-')) {
        int oh = 0, om = 0;
        if (!digits(at + 1, 2, oh) || at + 3 >= t.size() || t[at + 3] != ':' || !digits(at + 4, 2, om) ||
            oh > 23 || om > 59)
            return false;
        offset = (oh * 60 + om) * 60 * (t[at] == '-' ? -1 : 1);
        at += 6;
    } else {
        return false;
    }
    if (at != t.size()) return false;
    static constexpr std::array<int, 12> kDays = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (year < 1 || month < 1 || month > 12 || day < 1 || day > kDays[static_cast<std::size_t>(month - 1)] ||
        hour > 23 || minute > 59 || second > 59)
        return false;
    const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (month == 2 && day == 29 && !leap) return false;
    epoch_seconds = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
                    hour * 3600 + minute * 60 + second - offset;
    return true;
}

std::string ParseUpdateResult::error_text() const {
    std::string out;
    for (const auto& e : errors) {
        if (!out.empty()) out += "; ";
        out += e.field + ": " + e.message + " (" + e.code + ")";
    }
    return out;
}

ParseUpdateResult parse_update(std::string_view text) {
    ParseUpdateResult result;
    Reader r;
    boost::system::error_code ec;
    const json::value root = json::parse(text, ec);
    if (ec) {
        result.errors.push_back({"$", "json", "is not valid JSON (UTF-8)"});
        return result;
    }
    if (!root.is_object()) {
        result.errors.push_back({"$", "type", "must be a JSON object"});
        return result;
    }
    const auto& o = root.as_object();
    Update u;
    if (auto v = r.ref(o, "update_id", "update_id", true)) u.update_id = std::move(*v);
    // An eForm link is about a patient, not a referral: it names patient_ref and no referral_ref.
    const auto* action_value = o.if_contains("action");
    const bool about_patient = action_value != nullptr && action_value->is_string() &&
                               action_value->as_string() == to_string(Action::kEformLink);
    if (about_patient && o.contains("referral_ref")) {
        r.fail("referral_ref", "not-allowed", "is not allowed for action eform_link (use patient_ref)");
    } else if (!about_patient) {
        if (auto v = r.ref(o, "referral_ref", "referral_ref", true)) u.referral_ref = std::move(*v);
    }
    std::optional<Action> action;
    if (auto v = r.string(o, "action", "action", true)) {
        action = parse_action(*v);
        if (!action)
            r.fail("action",
                   "value",
                   "must be accept, decline, complete, reopen, forward, switch_type, book, change_booking, "
                   "cancel_booking, booking_instructions, message, received, open_api_message, "
                   "open_api_attachment or eform_link");
    }
    if (auto v = r.string(o, "site", "site", false)) {
        if (v->empty() || v->size() > 16 ||
            !std::all_of(v->begin(), v->end(), [](char c) { return c >= '0' && c <= '9'; })) {
            r.fail("site", "format", "must be an Ocean site number (1..16 digits)");
        } else {
            u.site = std::move(*v);
        }
    }
    std::int64_t epoch = 0;
    if (auto v = r.date_time(o, "requested_at", "requested_at", false, epoch)) u.requested_at = std::move(*v);

    for (const auto& [key, value] : o) {
        bool common = false;
        for (const auto k : kCommon) common = common || k == key;
        if (common) continue;
        bool known = false;
        for (const auto k : kActionMembers) known = known || k == key;
        if (!known)
            r.fail(member_name(key), "unknown", "is not a known member");
        else if (action && !allowed(*action, key))
            r.fail(std::string(key),
                   "not-allowed",
                   std::string("is not allowed for action ") + to_string(*action));
    }

    if (action) {
        u.action = *action;
        switch (*action) {
            case Action::kAccept:
                if (auto b = r.boolean(o, "import_to_emr", "import_to_emr", false)) u.import_to_emr = *b;
                break;
            case Action::kDecline:
                if (auto t = r.text(o, "reason", "reason", true)) u.reason = std::move(*t);
                break;
            case Action::kComplete:
            case Action::kReopen:
            case Action::kReceived:
                break;
            case Action::kForward:
                if (auto v = r.ref(o, "listing_ref", "listing_ref", true)) u.listing_ref = std::move(*v);
                if (auto t = r.text(o, "reason", "reason", false)) u.reason = std::move(*t);
                break;
            case Action::kSwitchType:
                if (auto b = r.boolean(o, "econsult", "econsult", true)) u.econsult = *b;
                break;
            case Action::kBook:
            case Action::kChangeBooking:
            case Action::kCancelBooking: {
                const bool required = *action != Action::kCancelBooking;
                if (const auto* a = r.object(o, "appointment", "appointment", required))
                    u.appointment = read_appointment(r, *a, *action);
                if (*action == Action::kCancelBooking) {
                    if (auto t = r.text(o, "reason", "reason", false)) u.reason = std::move(*t);
                }
                break;
            }
            case Action::kBookingInstructions:
                if (auto t = r.text(o, "instructions", "instructions", true)) u.instructions = std::move(*t);
                break;
            case Action::kMessage:
            case Action::kOpenApiMessage:
                if (auto t = r.text(o, "text", "text", true)) u.text = std::move(*t);
                if (const auto* a = r.object(o, "attachment", "attachment", false))
                    u.attachment = read_attachment(r, *a);
                break;
            case Action::kOpenApiAttachment:
                if (const auto* a = r.object(o, "attachment", "attachment", true))
                    u.attachment = read_attachment(r, *a);
                break;
            case Action::kEformLink:
                if (auto v = r.ref(o, "patient_ref", "patient_ref", true)) u.patient_ref = std::move(*v);
                u.form_refs = read_form_refs(r, o);
                if (auto h = read_expiry_hours(r, o)) u.expiry_hours = *h;
                break;
        }
    }
    // Over the Open API the title is the file's name, sent (encrypted) in a request header.
    if (is_open_api(u.action) && u.attachment && u.attachment->title.size() > kMaxFileName)
        r.fail("attachment.title", "format", "is longer than 255 bytes (a file name, for the Open API)");
    result.errors = std::move(r.errors);
    if (result.errors.empty()) result.update = std::move(u);
    return result;
}

std::string to_json(const Update& u) {
    json::object o;
    o["update_id"] = u.update_id;
    if (u.action != Action::kEformLink) o["referral_ref"] = u.referral_ref;
    o["action"] = to_string(u.action);
    if (!u.site.empty()) o["site"] = u.site;
    if (!u.requested_at.empty()) o["requested_at"] = u.requested_at;
    switch (u.action) {
        case Action::kAccept:
            if (u.import_to_emr) o["import_to_emr"] = true;
            break;
        case Action::kDecline:
            o["reason"] = u.reason;
            break;
        case Action::kComplete:
        case Action::kReopen:
        case Action::kReceived:
            break;
        case Action::kForward:
            o["listing_ref"] = u.listing_ref;
            if (!u.reason.empty()) o["reason"] = u.reason;
            break;
        case Action::kSwitchType:
            o["econsult"] = u.econsult;
            break;
        case Action::kBook:
        case Action::kChangeBooking:
        case Action::kCancelBooking:
            if (u.appointment) {
                const auto& a = *u.appointment;
                json::object ao;
                if (!a.id.empty()) ao["id"] = a.id;
                if (u.action != Action::kCancelBooking) {
                    ao["start"] = a.start;
                    ao["end"] = a.end;
                    ao["confirmed"] = a.confirmed;
                    if (!a.type_text.empty()) ao["type_text"] = a.type_text;
                    if (!a.instructions.empty()) ao["instructions"] = a.instructions;
                    if (!a.wait_time_milestone.empty()) ao["wait_time_milestone"] = a.wait_time_milestone;
                }
                o["appointment"] = std::move(ao);
            }
            if (u.action == Action::kCancelBooking && !u.reason.empty()) o["reason"] = u.reason;
            break;
        case Action::kBookingInstructions:
            o["instructions"] = u.instructions;
            break;
        case Action::kMessage:
        case Action::kOpenApiMessage:
        case Action::kOpenApiAttachment:
            if (u.action != Action::kOpenApiAttachment) o["text"] = u.text;
            if (u.attachment) {
                json::object ao{{"content_type", u.attachment->content_type}, {"data", u.attachment->data}};
                if (!u.attachment->title.empty()) ao["title"] = u.attachment->title;
                o["attachment"] = std::move(ao);
            }
            break;
        case Action::kEformLink: {
            o["patient_ref"] = u.patient_ref;
            json::array forms;
            for (const auto& f : u.form_refs) forms.emplace_back(f);
            o["form_refs"] = std::move(forms);
            if (u.expiry_hours > 0) o["expiry_hours"] = u.expiry_hours;
            break;
        }
    }
    return json::serialize(o);
}

}  // namespace relay::hub
