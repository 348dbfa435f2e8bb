#include "generator.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <utility>
#include <vector>

#include "relay/core/encoding.hpp"

namespace relay::ocean_sim {

namespace json = boost::json;
using namespace std::chrono_literals;

const char* to_string(Dialect dialect) {
    switch (dialect) {
        case Dialect::kV0_10:
            return "0.10";
        case Dialect::kV0_11:
            return "0.11";
    }
    return "unknown";
}

std::optional<Dialect> parse_dialect(std::string_view text) {
    if (text.starts_with('v')) text.remove_prefix(1);
    if (text == "0.10" || text == "0.10.0") return Dialect::kV0_10;
    if (text == "0.11" || text == "0.11.1") return Dialect::kV0_11;
    return std::nullopt;
}

namespace {

// --- deterministic randomness -------------------------------------------------------------------

// splitmix64: tiny, fast, and its output is fixed by its definition, so a seed gives the same bundle on
// every platform and standard library. (std::uniform_int_distribution is not used for the same reason:
// its algorithm is implementation-defined.)
class Rng {
   public:
    explicit Rng(std::uint64_t seed) : state_(seed) {}

    std::uint64_t next() {
        std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }

    /// Uniform in [0, n), n > 0: rejection sampling, so no value is favoured.
    std::uint64_t below(std::uint64_t n) {
        const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
        std::uint64_t x = next();
        while (x >= limit) x = next();
        return x % n;
    }

    int between(int lo, int hi) {  // inclusive
        return lo + static_cast<int>(below(static_cast<std::uint64_t>(hi - lo + 1)));
    }

    template <typename T, std::size_t N>
    const T& pick(const std::array<T, N>& items) {
        return items[below(N)];
    }
    std::string_view pick(std::span<const std::string_view> items) { return items[below(items.size())]; }

    std::string digits(std::size_t n) {
        std::string out;
        for (std::size_t i = 0; i < n; ++i) out += static_cast<char>('0' + below(10));
        return out;
    }

    /// An RFC 4122 version-4 uuid made of this stream's bits.
    std::string uuid() {
        std::array<unsigned char, 16> b{};
        for (std::size_t i = 0; i < b.size(); i += 8) {
            const std::uint64_t x = next();
            for (std::size_t j = 0; j < 8; ++j) b[i + j] = static_cast<unsigned char>(x >> (8 * j));
        }
        b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
        b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
        return format_uuid(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
    }

   private:
    std::uint64_t state_;
};

// Independent streams per concern, so that e.g. a new message_sequence or attachment size changes only
// the message ids or the attachment, never the patient.
enum class Stream : std::uint64_t {
    kReferral = 1,
    kMessage = 2,
    kAttachment = 3,
    kCategory = 4,
    kReceiver = 5,
};

Rng stream(std::uint64_t seed, Stream which, std::uint64_t sub = 0) {
    Rng by_stream(seed ^ (static_cast<std::uint64_t>(which) * 0xd1b54a32d192ed03ULL));
    Rng by_sub(by_stream.next() ^ (sub * 0x9e3779b97f4a7c15ULL));
    return Rng(by_sub.next());
}

// --- built-in synthetic data --------------------------------------------------------------------

// Names: common given names (a few with accents, to exercise UTF-8) and invented sea-themed family
// names, so that a generated person is recognisably synthetic. Family names stay ASCII because
// user names and e-mail addresses are built from them.
constexpr std::array<std::string_view, 24> kGivenNames = {
    "Amira", "Benoît", "Chloe",  "Daniel", "Elena", "Farid",   "Grace",  "Hélène",
    "Isaac", "Jun",    "Kamala", "Liam",   "Maya",  "Noah",    "Olivia", "Priya",
    "Quinn", "Rafael", "Sofia",  "Tomás",  "Uma",   "Valerie", "Wei",    "Zoë"};
constexpr std::array<std::string_view, 24> kFamilyNames = {
    "Tidewell",   "Brinewater", "Coralby",   "Kelpford",   "Saltmeadow", "Reefton",
    "Gullhaven",  "Driftmoor",  "Wavecrest", "Shoalbury",  "Harbourley", "Anchorfield",
    "Seafoamson", "Pearlstone", "Marlinby",  "Currantide", "Estuarine",  "Lagoonfield",
    "Breakwater", "Spraymont",  "Foghollow", "Kelpmoor",   "Dunewick",   "Surfington"};

// Real Ontario cities (a city is not personal data) with their postal-code letter and an area code, so
// that addresses and phone numbers of one person agree.
struct City {
    std::string_view name;
    char postal_prefix;  // first letter of the city's postal codes (the forward sortation area)
    std::string_view area_code;
    double latitude, longitude;
};
constexpr std::array<City, 8> kCities = {{{"Toronto", 'M', "416", 43.6532, -79.3832},
                                          {"Ottawa", 'K', "613", 45.4215, -75.6972},
                                          {"Hamilton", 'L', "905", 43.2557, -79.8711},
                                          {"London", 'N', "519", 42.9849, -81.2453},
                                          {"Kingston", 'K', "613", 44.2312, -76.4860},
                                          {"Sudbury", 'P', "705", 46.4917, -80.9930},
                                          {"Barrie", 'L', "705", 44.3894, -79.6903},
                                          {"Thunder Bay", 'P', "807", 48.3809, -89.2477}}};
constexpr std::array<std::string_view, 10> kStreets = {"Harbourview Rd",
                                                       "Lighthouse Lane",
                                                       "Anchor St",
                                                       "Seagull Cres",
                                                       "Buoy Ave",
                                                       "Tidepool Dr",
                                                       "Mariner Way",
                                                       "Compass Blvd",
                                                       "Sandbar Crt",
                                                       "Kelp Forest Rd"};
constexpr std::array<std::string_view, 6> kClinics = {"Harbourfront Community Clinic",
                                                      "Lighthouse Mental Health Services",
                                                      "Tidewater Home Care",
                                                      "Seaside Physiotherapy",
                                                      "Bayview Specialist Group",
                                                      "Coral Reef Family Health Team"};

// Referral reasons (plain text; the note carries them as HTML). Some contain characters that need
// escaping in JSON ('"') or in HTML ('&', '<'), and one is not ASCII.
constexpr std::array<std::string_view, 8> kReasons = {"Back pain with no red flags",
                                                      "Persistent low mood and poor sleep for 3 months",
                                                      "Knee pain, \"locking\" on stairs",
                                                      "Needs home care assessment after discharge",
                                                      "Recurrent headaches & dizziness",
                                                      "Follow-up of abnormal result (< 3 months old)",
                                                      "Café-au-lait macules, please assess",
                                                      "Shortness of breath on exertion"};
constexpr std::array<std::string_view, 5> kHistories = {"",  // not answered
                                                        "No significant past history",
                                                        "Type 2 diabetes, well controlled",
                                                        "Hypertension on treatment",
                                                        "Asthma since childhood"};

// Ocean "health service types" with the codes Ocean was seen to send (ocean-api.md §3.3). LOINC only
// where a real payload showed one: v0.10 sends SNOMED + LOINC categories, so v0.10 bundles use only the
// rows that have a LOINC code rather than invent terminology.
struct Category {
    std::string_view snomed, display, loinc, order_detail;
};
constexpr std::array<Category, 3> kCategories = {{
    {"385759002", "HOME_AND_COMMUNITY_CARE", "85901-7", "Home and Community Care"},
    {"410223002", "MENTAL_HEALTH_ASSESSMENT_AND_REFERRAL", "", "Mental Health Assessment and Referral"},
    {"49634009", "MISCELLANEOUS", "", "Miscellaneous"},
}};

// --- value formatting ---------------------------------------------------------------------------

// Ocean stamps times in Toronto local time with its UTC offset. Canada's DST rule since 2007: from the
// second Sunday of March 02:00 EST to the first Sunday of November 02:00 EDT.
std::chrono::minutes toronto_offset(std::chrono::sys_seconds t) {
    using namespace std::chrono;
    const year y = year_month_day{floor<days>(t)}.year();
    const sys_seconds dst_start = sys_days{y / March / Sunday[2]} + 7h;   // 02:00 EST = 07:00 UTC
    const sys_seconds dst_end = sys_days{y / November / Sunday[1]} + 6h;  // 02:00 EDT = 06:00 UTC
    return (t >= dst_start && t < dst_end) ? -4h : -5h;
}

/// "2024-12-13T15:17:00-05:00", or with `millis` >= 0 "2024-12-13T15:17:00.139-05:00".
std::string local_time(std::chrono::sys_seconds t, int millis = -1) {
    using namespace std::chrono;
    const minutes offset = toronto_offset(t);
    const sys_seconds local = t + offset;
    const sys_days day = floor<days>(local);
    const year_month_day ymd{day};
    const hh_mm_ss<seconds> hms{local - day};
    const int off = static_cast<int>(offset.count());
    std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                                  static_cast<int>(ymd.year()),
                                  static_cast<unsigned>(ymd.month()),
                                  static_cast<unsigned>(ymd.day()),
                                  hms.hours().count(),
                                  hms.minutes().count(),
                                  hms.seconds().count());
    if (millis >= 0) out += fmt::format(".{:03}", millis);
    out += fmt::format("{}{:02}:{:02}", off < 0 ? '-' : '+', std::abs(off) / 60, std::abs(off) % 60);
    return out;
}

std::string local_date(std::chrono::sys_seconds t) {
    return local_time(t).substr(0, 10);
}

// Ontario health numbers are 10 digits whose last is a Luhn check digit; generating valid ones keeps
// downstream HCN validators from rejecting the synthetic patients.
std::string health_number(Rng& rng) {
    std::string digits = std::to_string(rng.between(1, 9)) + rng.digits(8);
    int sum = 0;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        // Counting from the check digit's left neighbour, every other digit is doubled.
        int d = digits[digits.size() - 1 - i] - '0';
        if (i % 2 == 0) {
            d *= 2;
            if (d > 9) d -= 9;
        }
        sum += d;
    }
    return digits + static_cast<char>('0' + (10 - sum % 10) % 10);
}

std::string postal_code(Rng& rng, char prefix) {
    // Canadian postal codes never use D, F, I, O, Q, U.
    static constexpr std::string_view kLetters = "ABCEGHJKLMNPRSTVWXYZ";
    auto letter = [&] { return kLetters[rng.below(kLetters.size())]; };
    auto digit = [&] { return static_cast<char>('0' + rng.below(10)); };
    return fmt::format("{}{}{} {}{}{}", prefix, digit(), letter(), digit(), letter(), digit());
}

// The 555-0100..0199 block is reserved for fiction in the North American numbering plan.
std::string phone(Rng& rng, std::string_view area_code) {
    return fmt::format("{}-555-01{:02}", area_code, rng.below(100));
}

std::string ascii_lower(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c >= 'a' && c <= 'z') out += c;
    }
    return out;
}

/// `text` as HTML text: Ocean's ServiceRequest.note is HTML.
std::string html_escape(std::string_view text) {
    std::string out;
    for (char c : text) {
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
            default:
                out += c;
        }
    }
    return out;
}

// --- the cast: everything about one referral, drawn from the seed --------------------------------

struct Address {
    std::string line, city, postal_code, area_code;
};

struct Person {
    std::string given, family;
    [[nodiscard]] std::string full() const { return given + " " + family; }
};

struct PatientData {
    Person name;
    std::string gender, birth_date, health_number, version_code, home_phone, mobile_phone, email;
    Address address;
};

struct PhysicianData {
    Person name;
    std::string cpso, ohip_billing, username, phone, fax, email;
    Address office;
};

struct ListingData {
    std::string name;
    Address address;
    double latitude = 0, longitude = 0;
};

// The uuids of the resources (v0.11 fullUrls; v0.10 ids, except where Ocean used other ids).
struct ResourceIds {
    std::string patient, target_role, target_location, referrer_role, referrer, referrer_location,
        delegate_role, delegate, delegate_location, letter, attachment, questionnaire_response;
};

struct Cast {
    std::string referral_ref;
    std::chrono::sys_seconds authored;
    PatientData patient;
    PhysicianData referrer;
    Person delegate;
    Address delegate_address;
    ListingData listing;
    Category category;
    std::string reason, history;
    ResourceIds ids;
};

Address draw_address(Rng& rng) {
    const City& city = rng.pick(kCities);
    return Address{fmt::format("{} {}", rng.between(1, 9999), rng.pick(kStreets)),
                   std::string(city.name),
                   postal_code(rng, city.postal_prefix),
                   std::string(city.area_code)};
}

Person draw_person(Rng& rng) {
    return Person{std::string(rng.pick(synthetic_given_names())),
                  std::string(rng.pick(synthetic_family_names()))};
}

Cast draw_cast(const ReferralSpec& spec) {
    using namespace std::chrono;
    Rng rng = stream(spec.seed, Stream::kReferral);
    Cast cast;
    // Drawn first and always, so the people do not depend on whether the caller pinned the ref.
    const std::string derived_ref = rng.uuid();
    cast.referral_ref = spec.referral_ref.value_or(derived_ref);

    // Authored within 2025, during a (UTC) working day.
    cast.authored = sys_days{2025y / January / 6} + days{rng.below(330)} + hours{rng.between(13, 21)} +
                    minutes{rng.below(60)};

    auto& p = cast.patient;
    p.name = draw_person(rng);
    static constexpr std::array<std::string_view, 6> kGenders = {
        "female", "male", "female", "male", "other", "unknown"};
    p.gender = std::string(rng.pick(kGenders));
    const year_month_day birth{sys_days{1935y / January / 1} + days{rng.below(80 * 365)}};
    p.birth_date = fmt::format("{:04}-{:02}-{:02}",
                               static_cast<int>(birth.year()),
                               static_cast<unsigned>(birth.month()),
                               static_cast<unsigned>(birth.day()));
    p.health_number = health_number(rng);
    p.version_code =
        fmt::format("{}{}", static_cast<char>('A' + rng.below(26)), static_cast<char>('A' + rng.below(26)));
    p.address = draw_address(rng);
    p.home_phone = phone(rng, p.address.area_code);
    p.mobile_phone = phone(rng, p.address.area_code);
    p.email =
        fmt::format("{}.{}@example.com", ascii_lower(p.name.given.substr(0, 1)), ascii_lower(p.name.family));

    auto& r = cast.referrer;
    r.name = draw_person(rng);
    r.cpso = std::to_string(rng.between(10000, 199999));
    r.ohip_billing = rng.digits(6);
    r.username = ascii_lower(r.name.given.substr(0, 1)) + ascii_lower(r.name.family);
    r.office = draw_address(rng);
    r.phone = phone(rng, r.office.area_code);
    r.fax = phone(rng, r.office.area_code);
    r.email = r.username + "@example.org";

    cast.delegate = draw_person(rng);
    cast.delegate_address = r.office;

    const City& listing_city = rng.pick(kCities);
    cast.listing.name = spec.listing_name.empty() ? std::string(rng.pick(kClinics)) : spec.listing_name;
    cast.listing.address = Address{fmt::format("{} {}", rng.between(1, 9999), rng.pick(kStreets)),
                                   std::string(listing_city.name),
                                   postal_code(rng, listing_city.postal_prefix),
                                   std::string(listing_city.area_code)};
    // Within about 2 km of the city centre.
    cast.listing.latitude = listing_city.latitude + static_cast<double>(rng.between(-20000, 20000)) / 1e6;
    cast.listing.longitude = listing_city.longitude + static_cast<double>(rng.between(-20000, 20000)) / 1e6;

    cast.reason = std::string(rng.pick(kReasons));
    cast.history = std::string(rng.pick(kHistories));

    auto& ids = cast.ids;
    for (std::string* id : {&ids.patient,
                            &ids.target_role,
                            &ids.target_location,
                            &ids.referrer_role,
                            &ids.referrer,
                            &ids.referrer_location,
                            &ids.delegate_role,
                            &ids.delegate,
                            &ids.delegate_location,
                            &ids.letter,
                            &ids.attachment,
                            &ids.questionnaire_response}) {
        *id = rng.uuid();
    }

    // Own stream: the eligible rows differ by dialect, and that must not shift the draws above.
    Rng category_rng = stream(spec.seed, Stream::kCategory);
    std::vector<Category> eligible;
    for (const auto& c : kCategories) {
        if (spec.dialect == Dialect::kV0_11 || !c.loinc.empty()) eligible.push_back(c);
    }
    cast.category = eligible[category_rng.below(eligible.size())];
    return cast;
}

// --- the Bundle ---------------------------------------------------------------------------------

constexpr std::string_view kProfilePrefix =
    "http://ehealthontario.ca/fhir/StructureDefinition/ca-on-eReferral-profile-";
constexpr std::string_view kV2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203";
// The v0.10 payload spelled the identifier-type system the pre-R4 way, with a trailing slash.
constexpr std::string_view kV2_0203Legacy = "http://hl7.org/fhir/v2/0203/";
constexpr std::string_view kSnomed = "http://snomed.info/sct";
constexpr std::string_view kSnomedCa = "https://fhir.infoway-inforoute.ca/CodeSystem/snomedctcaextension";
constexpr std::string_view kLoinc = "http://loinc.org";
constexpr std::string_view kFamilyPhysician = "59058001";

// Boost.JSON 1.81 prints every double in exponent form ("-7.94E1"); Ocean writes plain decimals. The
// two Location.position numbers are therefore written as unique placeholder strings and replaced by
// their plain text after serialisation.
struct DecimalSplice {
    std::string placeholder;
    std::string text;
};

json::object reference(std::string_view ref) {
    return json::object{{"reference", ref}};
}

json::object identifier(std::string_view system, std::string_view value) {
    return json::object{{"system", system}, {"value", value}};
}

json::object coding(std::string_view system, std::string_view code, std::string_view display = {}) {
    json::object c;
    if (!system.empty()) c["system"] = system;
    if (!code.empty()) c["code"] = code;
    if (!display.empty()) c["display"] = display;
    return c;
}

json::object codeable(json::object single_coding) {
    return json::object{{"coding", json::array{std::move(single_coding)}}};
}

json::object telecom(std::string_view system, std::string_view value, std::string_view use) {
    return json::object{{"system", system}, {"value", value}, {"use", use}};
}

class BundleWriter {
   public:
    BundleWriter(const ReferralSpec& spec, const Cast& cast)
        : spec_(spec), cast_(cast), v11_(spec.dialect == Dialect::kV0_11) {}

    GeneratedReferral write() {
        Rng message_rng = stream(spec_.seed, Stream::kMessage, spec_.message_sequence);
        const std::string bundle_id = message_rng.uuid();
        const std::string header_id = message_rng.uuid();
        // Each later message about the referral comes an hour after the one before.
        const auto sent = cast_.authored + std::chrono::seconds{message_rng.between(5, 59)} +
                          std::chrono::hours{spec_.message_sequence};
        const std::string timestamp = local_time(sent, static_cast<int>(message_rng.below(1000)));

        std::vector<json::object> entries;
        entries.push_back(entry(message_header(header_id), header_id, /*bare_full_url=*/true));
        const bool delegated = spec_.delegate_submitter;
        const auto& ids = cast_.ids;
        if (v11_) {
            // The real v0.11.1 order: patient, target role, then the people, then the locations of the
            // target, documents, the referral and the form.
            entries.push_back(entry(patient(), ids.patient));
            entries.push_back(entry(target_role(), target_role_id()));
            if (delegated) add_delegate(entries);
            add_referrer(entries);
            entries.push_back(entry(target_location(), ids.target_location));
            add_documents(entries);
            entries.push_back(entry(service_request(), cast_.referral_ref));
            entries.push_back(entry(questionnaire_response(), ids.questionnaire_response));
            add_receiver_progress(entries);
        } else {
            // The real v0.10.0 order: the referral right after the header.
            entries.push_back(entry(service_request(), cast_.referral_ref));
            entries.push_back(entry(patient(), ids.patient));
            add_referrer(entries);
            if (delegated) add_delegate(entries);
            entries.push_back(entry(target_role(), target_role_id()));
            entries.push_back(entry(target_location(), ids.target_location));
            add_documents(entries);
            entries.push_back(entry(questionnaire_response(), ids.questionnaire_response));
            add_receiver_progress(entries);
        }

        json::object bundle;
        bundle["resourceType"] = "Bundle";
        bundle["id"] = bundle_id;
        json::object meta{{"lastUpdated", timestamp}};
        if (spec_.test_data_security_tag) meta["security"] = security();
        bundle["meta"] = std::move(meta);
        bundle["type"] = "message";
        bundle["timestamp"] = timestamp;
        json::array entry_array;
        entry_array.reserve(entries.size());
        for (auto& e : entries) entry_array.emplace_back(std::move(e));
        bundle["entry"] = std::move(entry_array);

        GeneratedReferral out;
        out.referral_ref = cast_.referral_ref;
        out.event = spec_.event;
        out.dialect = spec_.dialect;
        out.bundle_id = bundle_id;
        out.message_header_id = header_id;
        out.timestamp = timestamp;
        out.entry_count = entries.size();
        out.body = json::serialize(bundle);
        for (const auto& splice : splices_) {
            const std::string quoted = "\"" + splice.placeholder + "\"";
            const auto at = out.body.find(quoted);
            if (at != std::string::npos) out.body.replace(at, quoted.size(), splice.text);
        }
        return out;
    }

   private:
    // -- shared pieces --

    [[nodiscard]] std::string naming_system(std::string_view name) const {
        return fmt::format("{}/svc/fhir/v1/NamingSystem/{}", spec_.ocean_host, name);
    }

    [[nodiscard]] std::string profile(std::string_view resource) const {
        if (v11_) {
            // v0.11.1: these four moved to 1.0.1, the rest stayed at 1.0.0.
            const bool newer = resource == "MessageHeader" || resource == "ServiceRequest" ||
                               resource == "Patient" || resource == "Location";
            return fmt::format("{}{}|{}", kProfilePrefix, resource, newer ? "1.0.1" : "1.0.0");
        }
        return fmt::format(
            "{}{}{}1.0.0", kProfilePrefix, resource, spec_.v0_10_encoded_profile_pipe ? "%7C" : "|");
    }

    static json::array security() {
        return json::array{json::object{{"system", "http://terminology.hl7.org/CodeSystem/v3-ActReason"},
                                        {"code", "HTEST"},
                                        {"display", "test health data"}}};
    }

    [[nodiscard]] json::object meta(std::string_view resource) const {
        json::object m{{"profile", json::array{json::string(profile(resource))}}};
        if (spec_.test_data_security_tag) m["security"] = security();
        return m;
    }

    /// A resource's first members: resourceType, id (v0.10 always; v0.11 only MessageHeader), meta.
    [[nodiscard]] json::object start(std::string_view type, std::string_view id) const {
        json::object r;
        r["resourceType"] = type;
        if (!v11_ || type == "MessageHeader") r["id"] = id;
        r["meta"] = meta(type);
        return r;
    }

    /// v0.11 refers by fullUrl (urn:uuid), v0.10 by Type/id.
    [[nodiscard]] json::object ref(std::string_view type, std::string_view id) const {
        return reference(v11_ ? fmt::format("urn:uuid:{}", id) : fmt::format("{}/{}", type, id));
    }

    [[nodiscard]] json::object entry(json::object resource,
                                     std::string_view id,
                                     bool bare_full_url = false) const {
        json::object e;
        // Ocean's v0.11.1 MessageHeader entry has the bare uuid as fullUrl (not a valid absolute URL);
        // every other entry has urn:uuid:. v0.10 entries have no fullUrl.
        if (v11_) e["fullUrl"] = bare_full_url ? std::string(id) : fmt::format("urn:uuid:{}", id);
        e["resource"] = std::move(resource);
        return e;
    }

    [[nodiscard]] std::string target_role_id() const {
        // v0.10 used the listing ref as the target PractitionerRole's id.
        return v11_ ? cast_.ids.target_role : spec_.listing_ref;
    }
    [[nodiscard]] std::string letter_id() const {
        return v11_ ? cast_.ids.letter : "referral-" + cast_.referral_ref;
    }
    [[nodiscard]] std::string_view author_role_id() const {
        return spec_.delegate_submitter ? cast_.ids.delegate_role : cast_.ids.referrer_role;
    }
    [[nodiscard]] std::string_view author_practitioner_id() const {
        return spec_.delegate_submitter ? cast_.ids.delegate : cast_.ids.referrer;
    }
    [[nodiscard]] std::string_view v2_0203() const { return v11_ ? kV2_0203 : kV2_0203Legacy; }

    [[nodiscard]] json::object external_service_identifier() const {
        return identifier(naming_system("id-referral-target-external-service"), spec_.external_service_id);
    }

    [[nodiscard]] json::object licence_identifier() const {
        json::object id;
        id["use"] = "official";
        id["type"] = v11_ ? codeable(coding(kV2_0203, "MD", "Medical License number"))
                          : codeable(coding(kV2_0203Legacy, "LN", "License Number"));
        id["system"] = "http://infoway-inforoute.ca/fhir/NamingSystem/ca-on-license-physician";
        id["value"] = cast_.referrer.cpso;
        return id;
    }

    [[nodiscard]] json::array office_telecom() const {
        return json::array{telecom("phone", cast_.referrer.phone, "work"),
                           telecom("fax", cast_.referrer.fax, "work"),
                           telecom("email", cast_.referrer.email, "work")};
    }

    static json::object address(const Address& a, std::string_view use, std::string_view type) {
        return json::object{{"use", use},
                            {"type", type},
                            {"line", json::array{json::string(a.line)}},
                            {"city", a.city},
                            {"state", "ON"},
                            {"postalCode", a.postal_code}};
    }

    // -- resources --

    json::object message_header(const std::string& header_id) {
        json::object h = start("MessageHeader", header_id);
        if (v11_) {
            h["extension"] = json::array{json::object{
                {"url", "http://ehealthontario.ca/fhir/StructureDefinition/ext-referral-identifier"},
                {"valueIdentifier",
                 identifier(naming_system("id-ereferral-reference"), cast_.referral_ref)}}};
        } else {
            h["extension"] = json::array{json::object{
                {"url", "http://ehealthontario.ca/fhir/StructureDefinition/ext-id-message-header"},
                {"valueString", cast_.referral_ref}}};
        }
        h["eventCoding"] =
            json::object{{"system", "https://ehealthontario.ca/fhir/CodeSystem/message-event-code"},
                         {"code", spec_.event},
                         {"display", spec_.event}};
        json::object receiver = ref("PractitionerRole", target_role_id());
        // v0.10 repeated the External Service ID on the receiver; v0.11.1 has it on the role only.
        if (!v11_ && !spec_.external_service_id.empty())
            receiver["identifier"] = external_service_identifier();
        h["destination"] = json::array{json::object{{"name", cast_.listing.name},
                                                    {"endpoint", spec_.request_url},
                                                    {"receiver", std::move(receiver)}}};
        h["sender"] =
            v11_ ? ref("PractitionerRole", cast_.ids.referrer_role) : reference("Organization/cognisant-md");
        h["author"] = ref("PractitionerRole", author_role_id());
        h["source"] =
            json::object{{"name", "Ocean"},
                         {"endpoint", fmt::format("{}/svc/fhir/v1/$process-messages", spec_.ocean_host)}};
        // [I] v0.11.1 first sends carry reason "Initial"; what updates carry is not on record, so none.
        if (v11_ && spec_.event == kEventAddServiceRequest) h["reason"] = json::object{{"text", "Initial"}};
        h["focus"] = json::array{ref("ServiceRequest", cast_.referral_ref)};
        return h;
    }

    json::object patient() {
        const auto& p = cast_.patient;
        json::object r = start("Patient", cast_.ids.patient);

        json::object hcn;
        hcn["extension"] = json::array{json::object{
            {"url", "http://ehealthontario.ca/fhir/StructureDefinition/ext-id-health-card-version-code"},
            {"valueString", p.version_code}}};
        hcn["use"] = "official";
        json::object hcn_type = codeable(coding(v2_0203(), "JHN", "Jurisdictional health number (Canada)"));
        if (v11_) hcn_type["text"] = "Personal Health Number";
        hcn["type"] = std::move(hcn_type);
        hcn["system"] = "https://fhir.infoway-inforoute.ca/NamingSystem/ca-on-patient-hcn";
        hcn["value"] = p.health_number;

        // The receiver's MRN: empty on a new referral, so only type and system (as Ocean sends it).
        json::object mrn;
        json::object mrn_type = codeable(coding(v2_0203(), "MR", "Medical record number"));
        if (v11_) mrn_type["text"] = "EMR/EHR Medical Record Number";
        mrn["type"] = std::move(mrn_type);
        mrn["system"] = naming_system("id-external-patient-reference");

        r["identifier"] = json::array{std::move(hcn), std::move(mrn)};
        r["active"] = true;
        r["name"] = json::array{json::object{{"use", "official"},
                                             {"text", p.name.full()},
                                             {"family", p.name.family},
                                             {"given", json::array{json::string(p.name.given)}}}};
        r["telecom"] = json::array{telecom("phone", p.home_phone, "home"),
                                   telecom("phone", p.mobile_phone, "mobile"),
                                   telecom("email", p.email, "home")};
        r["gender"] = p.gender;
        r["birthDate"] = p.birth_date;
        r["deceasedBoolean"] = false;
        // Every real payload has a second, empty home address after the real one.
        r["address"] = json::array{address(p.address, "home", "postal"),
                                   json::object{{"use", "home"}, {"type", "postal"}}};
        return r;
    }

    json::object target_role() {
        json::object r = start("PractitionerRole", target_role_id());
        json::array ids{identifier(naming_system("id-referral-target-reference"), spec_.listing_ref),
                        identifier(naming_system("id-site-number"), spec_.site_number)};
        if (!spec_.external_service_id.empty()) ids.emplace_back(external_service_identifier());
        r["identifier"] = std::move(ids);
        r["active"] = true;
        const auto& c = cast_.category;
        if (v11_) {
            r["specialty"] = json::array{codeable(coding(kSnomedCa, c.snomed))};
        } else {
            r["specialty"] =
                json::array{codeable(coding(kLoinc, c.loinc)), codeable(coding(kSnomed, c.snomed))};
        }
        r["location"] = json::array{ref("Location", cast_.ids.target_location)};
        return r;
    }

    json::object target_location() {
        json::object r = start("Location", cast_.ids.target_location);
        r["status"] = "active";
        r["mode"] = "instance";
        r["address"] = address(cast_.listing.address, "work", "physical");
        r["position"] = json::object{{"longitude", decimal(cast_.listing.longitude)},
                                     {"latitude", decimal(cast_.listing.latitude)}};
        return r;
    }

    void add_referrer(std::vector<json::object>& entries) {
        const auto& d = cast_.referrer;
        const auto& ids = cast_.ids;

        json::object role = start("PractitionerRole", ids.referrer_role);
        role["identifier"] = json::array{licence_identifier()};
        role["active"] = true;
        role["practitioner"] = ref("Practitioner", ids.referrer);
        json::array code{codeable(coding(kSnomed, kFamilyPhysician, "Family Physician"))};
        if (v11_) code.emplace_back(codeable(coding(kSnomedCa, kFamilyPhysician, "Family Physician")));
        role["code"] = std::move(code);
        role["location"] = json::array{ref("Location", ids.referrer_location)};
        role["telecom"] = office_telecom();
        entries.push_back(entry(std::move(role), ids.referrer_role));

        json::object practitioner = start("Practitioner", ids.referrer);
        practitioner["identifier"] =
            json::array{licence_identifier(),
                        identifier("https://fhir.infoway-inforoute.ca/NamingSystem/ca-on-ohip-billing-id",
                                   d.ohip_billing),
                        identifier(naming_system("id-practitioner-username"), d.username)};
        practitioner["active"] = true;
        practitioner["name"] = json::array{
            json::object{{"family", d.name.family}, {"given", json::array{json::string(d.name.given)}}}};
        practitioner["telecom"] = office_telecom();
        practitioner["address"] = json::array{address(d.office, "work", "both")};
        entries.push_back(entry(std::move(practitioner), ids.referrer));

        json::object location = start("Location", ids.referrer_location);
        location["status"] = "active";
        location["mode"] = "instance";
        location["telecom"] = office_telecom();
        location["address"] = address(d.office, "work", "physical");
        entries.push_back(entry(std::move(location), ids.referrer_location));
    }

    // The delegate who typed the referral in: Ocean sends little about them (ereferral_miscellaneous).
    void add_delegate(std::vector<json::object>& entries) {
        const auto& ids = cast_.ids;
        json::object role = start("PractitionerRole", ids.delegate_role);
        role["active"] = true;
        role["practitioner"] = ref("Practitioner", ids.delegate);
        role["location"] = json::array{ref("Location", ids.delegate_location)};
        entries.push_back(entry(std::move(role), ids.delegate_role));

        json::object practitioner = start("Practitioner", ids.delegate);
        practitioner["active"] = true;
        practitioner["address"] = json::array{json::object{{"use", "work"}, {"type", "both"}}};
        practitioner["name"] = json::array{json::object{
            {"family", cast_.delegate.family}, {"given", json::array{json::string(cast_.delegate.given)}}}};
        entries.push_back(entry(std::move(practitioner), ids.delegate));

        json::object location = start("Location", ids.delegate_location);
        location["status"] = "active";
        location["mode"] = "instance";
        location["address"] = json::object{{"use", "work"}, {"type", "physical"}};
        entries.push_back(entry(std::move(location), ids.delegate_location));
    }

    void add_documents(std::vector<json::object>& entries) {
        const std::string date = local_time(cast_.authored, 0);
        const std::string creation = local_time(cast_.authored);

        json::object letter = start("DocumentReference", letter_id());
        letter["identifier"] =
            json::array{identifier(naming_system("id-ereferral-reference"), cast_.referral_ref)};
        letter["status"] = "current";
        letter["date"] = date;
        // Ocean names the letter "<patient>-<listing (v0.10)>-<date>.pdf".
        const std::string title =
            fmt::format("{}-{}-{}.pdf",
                        cast_.patient.name.full(),
                        v11_ ? std::string_view{} : std::string_view{cast_.listing.name},
                        local_date(cast_.authored));
        letter["content"] =
            json::array{json::object{{"attachment",
                                      json::object{{"contentType", "application/pdf"},
                                                   {"url",
                                                    fmt::format("{}/svc/fhir/v1/ServiceRequest/{}/$letter",
                                                                spec_.ocean_host,
                                                                cast_.referral_ref)},
                                                   {"title", title},
                                                   {"creation", creation}}}}};
        entries.push_back(entry(std::move(letter), letter_id()));

        if (spec_.attachment_bytes == 0) return;
        json::object doc = start("DocumentReference", cast_.ids.attachment);
        doc["identifier"] =
            json::array{identifier(naming_system("id-attachment-reference"), cast_.ids.attachment)};
        doc["status"] = "current";
        doc["date"] = date;
        json::object attachment;
        attachment["contentType"] = "application/pdf";
        attachment["data"] = base64_encode(attachment_bytes());
        attachment["size"] = spec_.attachment_bytes;
        attachment["title"] = fmt::format("{}-attachment.pdf", cast_.patient.name.family);
        attachment["creation"] = creation;
        doc["content"] = json::array{json::object{{"attachment", std::move(attachment)}}};
        entries.push_back(entry(std::move(doc), cast_.ids.attachment));
    }

    /// The attachment's bytes: a PDF header (so sniffers see a PDF), then seeded noise.
    [[nodiscard]] std::string attachment_bytes() const {
        static constexpr std::string_view kHeader = "%PDF-1.4\n% ocean-sim synthetic attachment\n";
        std::string bytes(spec_.attachment_bytes, '\0');
        const std::size_t header = std::min(bytes.size(), kHeader.size());
        std::copy_n(kHeader.data(), header, bytes.data());
        Rng rng = stream(spec_.seed, Stream::kAttachment);
        for (std::size_t i = header; i < bytes.size(); i += 8) {
            std::uint64_t x = rng.next();
            for (std::size_t j = 0; j < 8 && i + j < bytes.size(); ++j, x >>= 8) {
                bytes[i + j] = static_cast<char>(x & 0xff);
            }
        }
        return bytes;
    }

    json::object service_request() {
        const auto& ids = cast_.ids;
        const auto& c = cast_.category;
        json::object r = start("ServiceRequest", cast_.referral_ref);
        r["identifier"] =
            json::array{identifier(naming_system("id-ereferral-reference"), cast_.referral_ref)};
        r["status"] = "active";
        r["intent"] = "proposal";
        json::array category{codeable(coding(kSnomed, c.snomed, c.display))};
        if (!v11_) category.emplace_back(codeable(coding(kLoinc, c.loinc, c.display)));
        r["category"] = std::move(category);
        r["priority"] = "routine";
        if (!v11_) r["orderDetail"] = json::array{codeable(json::object{{"display", c.order_detail}})};
        r["subject"] = ref("Patient", ids.patient);
        r["authoredOn"] = local_time(cast_.authored);
        r["requester"] = ref("PractitionerRole", author_role_id());
        json::object performer = ref("PractitionerRole", target_role_id());
        if (!v11_ && !spec_.external_service_id.empty())
            performer["identifier"] = external_service_identifier();
        r["performer"] = json::array{std::move(performer)};
        json::array supporting{ref("DocumentReference", letter_id())};
        if (spec_.attachment_bytes > 0) supporting.emplace_back(ref("DocumentReference", ids.attachment));
        supporting.emplace_back(ref("QuestionnaireResponse", ids.questionnaire_response));
        r["supportingInfo"] = std::move(supporting);
        std::string note = fmt::format("<b>Reason for Referral:</b> {}&nbsp;", html_escape(cast_.reason));
        if (!cast_.history.empty())
            note += fmt::format("<br><b>History:</b> {}&nbsp;", html_escape(cast_.history));
        r["note"] =
            json::array{json::object{{"authorReference", ref("Practitioner", author_practitioner_id())},
                                     {"time", local_time(cast_.authored)},
                                     {"text", note}}};
        return r;
    }

    // The receiver's Task and Appointments, with ids stable per referral so every echo names the same
    // resources (a receiver's own Appointment id is kept).
    void add_receiver_progress(std::vector<json::object>& entries) {
        if (!spec_.receiver_progress) return;
        const ReceiverProgress& progress = *spec_.receiver_progress;
        Rng ids_rng = stream(spec_.seed, Stream::kReceiver);
        const std::string task_id = ids_rng.uuid();
        if (!progress.task_status.empty()) {
            json::object task = start("Task", task_id);
            task["status"] = progress.task_status;
            if (progress.task_status == "rejected" && !progress.decline_reason.empty())
                task["statusReason"] = json::object{{"text", progress.decline_reason}};
            task["intent"] = "order";
            task["code"] = codeable(
                coding("http://terminology.hl7.org/CodeSystem/v3-TaskOutcome", "process-request"));
            task["focus"] = ref("ServiceRequest", cast_.referral_ref);
            task["for"] = ref("Patient", cast_.ids.patient);
            task["owner"] = ref("PractitionerRole", target_role_id());
            entries.push_back(entry(std::move(task), task_id));
        }
        for (const EchoedAppointment& booked : progress.appointments) {
            const std::string id = booked.id.empty() ? ids_rng.uuid() : booked.id;
            json::object appointment = start("Appointment", id);
            appointment["status"] = booked.status;
            if (!booked.instructions.empty()) appointment["patientInstruction"] = booked.instructions;
            if (!booked.start.empty()) appointment["start"] = booked.start;
            if (!booked.end.empty()) appointment["end"] = booked.end;
            appointment["basedOn"] = json::array{ref("ServiceRequest", cast_.referral_ref)};
            json::object patient{{"actor", ref("Patient", cast_.ids.patient)},
                                 {"status",
                                  booked.participant_status.empty() ? std::string_view("needs-action")
                                                                    : std::string_view(booked.participant_status)}};
            appointment["participant"] = json::array{std::move(patient)};
            entries.push_back(entry(std::move(appointment), id));
        }
    }

    json::object questionnaire_response() {
        const auto& ids = cast_.ids;
        json::object r = start("QuestionnaireResponse", ids.questionnaire_response);
        // 0..1 in R4: a single object, as Ocean sends it.
        r["identifier"] = identifier(naming_system("id-form-reference"), "quickReferral");
        r["status"] = "completed";
        r["subject"] = ref("Patient", ids.patient);
        r["author"] = ref("Practitioner", author_practitioner_id());

        struct FormItem {
            std::string_view link_id, text;
            bool hidden;
            std::string answer;
        };
        // Ocean's "quick referral" eForm, flat as Ocean sends it: labels and answer fields are separate
        // items, and the CPP/labs blocks are hidden unless the referrer ticks "include".
        const std::vector<FormItem> form = {
            {"__section", "", false, ""},
            {"s", "", false, ""},
            {"reason_for_referral", "Reason for Referral:", false, ""},
            {"rfr", "", false, cast_.reason},
            {"history", "History:", false, ""},
            {"hx", "", false, cast_.history},
            {"includeCPP", "Include CPP:", false, ""},
            {"s__section", "", true, ""},
            {"i_ncurrent_problems_n", "Current Problems:", true, ""},
            {"prob", "", true, ""},
            {"i_nmedications_n", "Medications:", true, ""},
            {"rx", "", true, ""},
            {"allergies", "Allergies:", true, ""},
            {"allg", "", true, ""},
            {"includeLabs", "Include Labs:", false, ""},
            {"labs2", "Labs:", true, ""},
            {"labs", "", true, ""},
        };
        const std::string visibility_url = fmt::format(
            "{}/svc/fhir/v1/StructureDefinition/ext-ocean-eform-item-visibility", spec_.ocean_host);
        json::array items;
        for (const auto& f : form) {
            json::object item;
            // v0.10 items are linkId + answer only (ocean-api.md §3.3).
            if (v11_ && f.hidden) {
                item["extension"] =
                    json::array{json::object{{"url", visibility_url}, {"valueString", "hidden"}}};
            }
            item["linkId"] = f.link_id;
            if (v11_ && !f.text.empty()) item["text"] = f.text;
            if (!f.answer.empty()) item["answer"] = json::array{json::object{{"valueString", f.answer}}};
            items.emplace_back(std::move(item));
        }
        r["item"] = std::move(items);
        return r;
    }

    json::string decimal(double value) {
        // fmt's shortest round-trip form is plain (no exponent) at these magnitudes.
        DecimalSplice splice{fmt::format("ocean-sim:decimal:{}", splices_.size()), fmt::format("{}", value)};
        json::string placeholder(splice.placeholder);
        splices_.push_back(std::move(splice));
        return placeholder;
    }

    const ReferralSpec& spec_;
    const Cast& cast_;
    const bool v11_;
    std::vector<DecimalSplice> splices_;
};

void require(bool ok, std::string_view field) {
    if (!ok) throw std::invalid_argument(fmt::format("ReferralSpec.{} must not be empty", field));
}

}  // namespace

std::span<const std::string_view> synthetic_given_names() {
    return kGivenNames;
}

std::span<const std::string_view> synthetic_family_names() {
    return kFamilyNames;
}

std::string format_uuid(std::string_view sixteen_bytes) {
    const std::string hex = hex_encode(sixteen_bytes);
    return fmt::format("{}-{}-{}-{}-{}",
                       hex.substr(0, 8),
                       hex.substr(8, 4),
                       hex.substr(12, 4),
                       hex.substr(16, 4),
                       hex.substr(20, 12));
}

std::string referral_ref_of(const ReferralSpec& spec) {
    if (spec.referral_ref) return *spec.referral_ref;
    return stream(spec.seed, Stream::kReferral).uuid();  // the first draw of draw_cast
}

GeneratedReferral generate(const ReferralSpec& spec) {
    require(!spec.site_number.empty(), "site_number");
    require(!spec.listing_ref.empty(), "listing_ref");
    require(!spec.request_url.empty(), "request_url");
    require(!spec.ocean_host.empty(), "ocean_host");
    require(!spec.event.empty(), "event");
    require(!spec.referral_ref || !spec.referral_ref->empty(), "referral_ref");
    const Cast cast = draw_cast(spec);
    return BundleWriter(spec, cast).write();
}

ReferralSpec resend_as_new(const ReferralSpec& original) {
    ReferralSpec next = original;
    next.referral_ref = referral_ref_of(original);
    next.event = std::string(kEventAddServiceRequest);
    next.message_sequence = original.message_sequence + 1;
    return next;
}

ReferralSpec resend_as_update(const ReferralSpec& original) {
    ReferralSpec next = resend_as_new(original);
    next.event = std::string(kEventNotifyUpdateServiceRequest);
    return next;
}

}  // namespace relay::ocean_sim
