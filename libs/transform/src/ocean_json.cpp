#include "ocean_json.hpp"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <string>

namespace relay::transform::detail {

namespace dom = simdjson::dom;

namespace {

bool digits(std::string_view s, std::size_t from, std::size_t count) {
    if (s.size() < from + count) return false;
    for (std::size_t i = from; i < from + count; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
    }
    return true;
}

/// The length of the FHIR date at the start of `s` (4, 7 or 10), 0 if none.
std::size_t date_prefix(std::string_view s) {
    if (!digits(s, 0, 4)) return 0;
    if (s.size() < 7 || s[4] != '-' || !digits(s, 5, 2)) return 4;
    if (s[5] > '1' || (s[5] == '1' && s[6] > '2') || (s[5] == '0' && s[6] == '0')) return 0;
    if (s.size() < 10 || s[7] != '-' || !digits(s, 8, 2)) return 7;
    if (s[8] > '3' || (s[8] == '3' && s[9] > '1') || (s[8] == '0' && s[9] == '0')) return 0;
    return 10;
}

/// The length of "Thh:mm[:ss[.f+]]" at `s[from]`, 0 if none; `seconds` tells whether they were there.
std::size_t time_part(std::string_view s, std::size_t from, bool& seconds) {
    seconds = false;
    if (s.size() < from + 6 || (s[from] != 'T' && s[from] != ' ') || !digits(s, from + 1, 2) ||
        s[from + 3] != ':' || !digits(s, from + 4, 2)) {
        return 0;
    }
    if (s[from + 1] > '2' || s[from + 4] > '5') return 0;
    std::size_t end = from + 6;
    if (s.size() >= end + 3 && s[end] == ':' && digits(s, end + 1, 2)) {
        seconds = true;
        end += 3;
        if (s.size() > end + 1 && s[end] == '.' && digits(s, end + 1, 1)) {
            ++end;
            while (end < s.size() && s[end] >= '0' && s[end] <= '9') ++end;
        }
    }
    return end - from;
}

/// The offset at `s[from]` in FHIR's spelling ("Z", "+hh:mm"), repairing "+hhmm"; nullopt if none.
std::optional<std::string> offset_part(std::string_view s, std::size_t from) {
    const std::string_view rest = s.substr(from);
    if (rest == "Z") return std::string("Z");
    if (rest.size() < 5 || (rest[0] != '+' && rest[0] != '-') || !digits(rest, 1, 2)) return std::nullopt;
    if (rest.size() == 6 && rest[3] == ':' && digits(rest, 4, 2)) return std::string(rest);
    if (rest.size() == 5 && digits(rest, 3, 2))
        return fmt::format("{}:{}", rest.substr(0, 3), rest.substr(3));
    return std::nullopt;
}

}  // namespace

std::string normalised_date_time(std::string_view s) {
    const std::size_t date = date_prefix(s);
    if (date == 0) return {};
    if (s.size() == date) return std::string(s);
    if (date != 10) return {};
    bool seconds = false;
    const std::size_t time = time_part(s, date, seconds);
    if (time == 0) return {};
    if (s.size() == date + time) return std::string(s.substr(0, date));  // no offset: the date only
    const auto offset = offset_part(s, date + time);
    if (!offset) return {};
    std::string out(s.substr(0, date + time));
    out[date] = 'T';
    if (!seconds) out += ":00";  // FHIR's dateTime needs seconds once it has a time
    out += *offset;
    return out;
}

namespace {

std::string from_epoch_millis(std::int64_t ms) {
    using namespace std::chrono;
    const sys_time<milliseconds> t{milliseconds{ms}};
    const auto day = floor<days>(t);
    const year_month_day ymd{day};
    const hh_mm_ss<milliseconds> hms{t - day};
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                       static_cast<int>(ymd.year()),
                       static_cast<unsigned>(ymd.month()),
                       static_cast<unsigned>(ymd.day()),
                       hms.hours().count(),
                       hms.minutes().count(),
                       hms.seconds().count(),
                       hms.subseconds().count());
}

std::string date_time_of(Reader& r, dom::element value, const Path& at) {
    std::string_view s;
    if (value.get_string().get(s) == simdjson::SUCCESS) {
        if (s.empty()) return {};
        std::string out = normalised_date_time(s);
        if (out.empty()) r.warn("invalid-date", at, "not a date or date-time FHIR can carry; dropped");
        return out;
    }
    std::int64_t ms = 0;
    if (value.get_int64().get(ms) == simdjson::SUCCESS) {
        // Years 1 to 9999 only (FHIR's range).
        if (ms >= -62135596800000LL && ms <= 253402300799999LL) return from_epoch_millis(ms);
        r.warn("invalid-date", at, "epoch milliseconds outside years 1-9999; dropped");
        return {};
    }
    r.wrong_type(Severity::kWarning, at, "a string or epoch milliseconds", value);
    return {};
}

bool is_bcp47(std::string_view s) {
    // language[-subtag]*: 2-3 letters, then subtags of 1-8 alphanumerics.
    std::size_t i = 0;
    while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i])) != 0) ++i;
    if (i < 2 || i > 3) return false;
    while (i < s.size()) {
        if (s[i] != '-') return false;
        const std::size_t start = ++i;
        while (i < s.size() && std::isalnum(static_cast<unsigned char>(s[i])) != 0) ++i;
        if (i - start < 1 || i - start > 8) return false;
    }
    return true;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string gender_of(std::string_view sex) {
    const std::string s = lower(sex);
    if (s == "m" || s == "male") return "male";
    if (s == "f" || s == "female") return "female";
    if (s == "o" || s == "x" || s == "other") return "other";
    if (s == "u" || s == "unknown") return "unknown";
    return {};
}

std::string language_of(std::string_view language) {
    const std::string l = lower(language);
    if (l == "english") return "en";
    if (l == "french" || l == "français" || l == "francais") return "fr";
    if (is_bcp47(language)) return std::string(language);
    return {};
}

/// Infoway's naming system of a Canadian province's health card number [P] (Ontario's is the one the
/// FHIR parse and renderer use; the others follow Infoway's pattern).
std::string health_card_system(std::string_view province) {
    const std::string p = lower(province);
    if (p == "on") return "https://fhir.infoway-inforoute.ca/NamingSystem/ca-on-patient-hcn";
    static constexpr std::array<std::string_view, 12> kProvinces = {
        "ab", "bc", "mb", "nb", "nl", "ns", "nt", "nu", "pe", "qc", "sk", "yt"};
    for (const auto known : kProvinces) {
        if (p == known) {
            return fmt::format("https://fhir.infoway-inforoute.ca/NamingSystem/ca-{}-patient-healthcare-id",
                               p);
        }
    }
    return {};
}

void read_address(Reader& r, dom::object a, const Path& at, Address& out) {
    for (const std::string_view key : {"line1", "street", "streetAddress", "address", "line2"}) {
        std::string line = text_member(r, a, key, at);
        if (!line.empty()) out.lines.push_back(std::move(line));
    }
    out.city = text_member(r, a, "city", at);
    out.province = text_member_of(r, a, {"province", "state", "prov"}, at);
    out.postal_code = text_member_of(r, a, {"postalCode", "postal", "zip"}, at);
    out.country = text_member(r, a, "country", at);
}

/// The first of `keys` present in `o` (for a warning's path), else the first key.
std::string_view present_key(dom::object o, std::initializer_list<std::string_view> keys) {
    for (const auto key : keys) {
        if (Reader::member(o, key)) return key;
    }
    return *keys.begin();
}

void add_telecom(Patient& p, std::string system, std::string value, std::string use) {
    if (value.empty()) return;
    p.telecom.push_back(Telecom{std::move(system), std::move(value), std::move(use)});
}

}  // namespace

bool is_fhir_date(std::string_view s) {
    const std::size_t n = date_prefix(s);
    return n != 0 && n == s.size();
}

bool is_fhir_date_time(std::string_view s) {
    return !s.empty() && normalised_date_time(s) == s;
}

bool is_fhir_instant(std::string_view s) {
    bool seconds = false;
    return is_fhir_date_time(s) && s.size() > 10 && time_part(s, 10, seconds) != 0 && seconds;
}

std::string date_time_member(Reader& r, dom::object o, std::string_view key, const Path& parent) {
    const auto value = Reader::member(o, key);
    if (!value) return {};
    return date_time_of(r, *value, parent.member(key));
}

std::string date_member(Reader& r, dom::object o, std::string_view key, const Path& parent) {
    std::string out = date_time_member(r, o, key, parent);
    if (out.size() > 10) out.resize(10);
    return out;
}

std::string text_member(Reader& r, dom::object o, std::string_view key, const Path& parent) {
    const auto value = Reader::member(o, key);
    if (!value) return {};
    std::string_view s;
    if (value->get_string().get(s) == simdjson::SUCCESS) return std::string(s);
    std::int64_t i = 0;
    std::uint64_t u = 0;
    if (value->get_int64().get(i) == simdjson::SUCCESS) return std::to_string(i);
    if (value->get_uint64().get(u) == simdjson::SUCCESS) return std::to_string(u);
    r.wrong_type(Severity::kWarning, parent.member(key), "a string", *value);
    return {};
}

std::string text_member_of(Reader& r,
                           dom::object o,
                           std::initializer_list<std::string_view> keys,
                           const Path& parent) {
    for (const auto key : keys) {
        std::string out = text_member(r, o, key, parent);
        if (!out.empty()) return out;
    }
    return {};
}

std::string html_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

void read_patient_data(Reader& r, dom::object root, const Path& at, PatientData& out) {
    dom::object d = root;
    Path d_at = at;
    const Path demographics_at = at.member("demographics");
    if (const auto wrapped = Reader::member(root, "demographics")) {
        const auto object = r.object(*wrapped, demographics_at, Severity::kFatal);
        if (!object) return;
        d = *object;
        d_at = demographics_at;
        out.wrapped = true;
        out.ref = text_member(r, root, "ref", at);
        out.site_number = text_member(r, root, "siteNum", at);
    }
    Patient& p = out.patient;
    // The wrapper's references and reasons first (OceanPatient), the demographics' as a fallback.
    p.mrn = text_member(r, root, "externalPatientRef", at);
    if (p.mrn.empty() && out.wrapped) p.mrn = text_member(r, d, "externalPatientRef", d_at);
    out.reason_for_visit = text_member(r, root, "reasonForVisit", at);
    out.appointment_reason = text_member(r, root, "apptReason", at);

    std::string first = text_member(r, d, "firstName", d_at);
    std::string second = text_member_of(r, d, {"secondName", "middleName"}, d_at);
    if (!first.empty()) p.name.given.push_back(std::move(first));
    if (!second.empty()) p.name.given.push_back(std::move(second));
    p.name.family = text_member_of(r, d, {"surname", "lastName"}, d_at);
    std::string title = text_member(r, d, "title", d_at);
    if (!title.empty()) p.name.prefix.push_back(std::move(title));

    std::string hn = text_member_of(r, d, {"hn", "healthNumber"}, d_at);
    const std::string province = text_member_of(r, d, {"hnProv", "healthNumberProvince"}, d_at);
    std::string version = text_member_of(r, d, {"hnVC", "healthNumberVersion"}, d_at);
    if (!hn.empty()) {
        const std::string system = health_card_system(province.empty() ? "ON" : province);
        if (province.empty() || lower(province) == "on") {
            p.health_number = std::move(hn);
            p.health_number_version = std::move(version);
        } else if (!system.empty()) {
            p.other_identifiers.push_back(Identifier{system, std::move(hn), "JHN"});
        } else {
            r.warn("invalid-code",
                   d_at.member(present_key(d, {"hnProv", "healthNumberProvince"})),
                   "not a Canadian province code: the health card number was dropped");
        }
    }

    p.birth_date = date_member(r, d, "birthDate", d_at);
    const std::string sex = text_member_of(r, d, {"sex", "gender"}, d_at);
    if (!sex.empty()) {
        p.gender = gender_of(sex);
        if (p.gender.empty()) {
            r.warn("invalid-code",
                   d_at.member(present_key(d, {"sex", "gender"})),
                   "not a sex FHIR's gender can carry; dropped");
        }
    }
    const std::string language = text_member(r, d, "language", d_at);
    if (!language.empty()) {
        p.language = language_of(language);
        if (p.language.empty()) {
            r.warn("invalid-code", d_at.member("language"), "not a BCP-47 language code; dropped");
        }
    }

    add_telecom(p, "phone", text_member_of(r, d, {"homePhone", "phone"}, d_at), "home");
    add_telecom(p, "phone", text_member_of(r, d, {"mobilePhone", "cellPhone"}, d_at), "mobile");
    add_telecom(p, "phone", text_member_of(r, d, {"workPhone", "businessPhone"}, d_at), "work");
    add_telecom(p, "email", text_member(r, d, "email", d_at), "home");

    Address home;
    home.use = "home";
    std::optional<Address> second_address;
    for (const std::string_view key : {"address", "address2"}) {
        const auto value = Reader::member(d, key);
        if (!value) continue;
        const Path a_at = d_at.member(key);
        std::string_view line;
        dom::object object;
        if (value->get_string().get(line) == simdjson::SUCCESS) {
            if (!line.empty()) home.lines.emplace_back(line);
        } else if (value->get_object().get(object) == simdjson::SUCCESS) {
            if (key == "address") {
                read_address(r, object, a_at, home);
            } else {
                read_address(r, object, a_at, second_address.emplace());
                second_address->use = "home";
            }
        } else {
            r.wrong_type(Severity::kWarning, a_at, "a string or an object", *value);
        }
    }
    if (!home.lines.empty() || !home.city.empty() || !home.province.empty() || !home.postal_code.empty() ||
        !home.country.empty()) {
        p.addresses.push_back(std::move(home));
    }
    if (second_address && (!second_address->lines.empty() || !second_address->city.empty() ||
                           !second_address->postal_code.empty())) {
        p.addresses.push_back(std::move(*second_address));
    }
}

}  // namespace relay::transform::detail
