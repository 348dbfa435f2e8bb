#include "render_test_util.hpp"

#include <fmt/format.h>

#include <array>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace render_test {

namespace {

Address address(
    std::string use, std::string type, std::vector<std::string> lines, std::string city, std::string postal) {
    Address a;
    a.use = std::move(use);
    a.type = std::move(type);
    a.lines = std::move(lines);
    a.city = std::move(city);
    a.province = "ON";
    a.postal_code = std::move(postal);
    return a;
}

// splitmix64, as the generator: the same seed gives the same referral everywhere.
class Rng {
   public:
    explicit Rng(std::uint64_t seed) : state_(seed) {}
    std::uint64_t next() {
        std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
    bool chance(int percent) { return below(100) < static_cast<std::size_t>(percent); }

   private:
    std::uint64_t state_;
};

// Pieces that break naive JSON/HTML writers: quotes, backslashes, every kind of control character,
// "</script>", multi-byte UTF-8 (2, 3 and 4 bytes), U+2028/2029 (valid JSON, invalid JavaScript).
constexpr std::array<std::string_view, 24> kPieces = {
    "plain",
    "\"quoted\"",
    "back\\slash",
    "\\u0041 not an escape",
    "tab\there",
    "line\nbreak",
    "cr\rlf",
    "nul\x01soh\x1f",
    "bell\x07",
    "del\x7f",
    "Hélène Côté",
    "Zoë 漢字",
    "emoji 🙂 ok",
    "\xe2\x80\xa8sep\xe2\x80\xa9",
    "<b>bold</b>",
    "a &amp; b &lt; c",
    "</script><script>alert(1)</script>",
    "&nbsp;",
    "{\"json\": [1, 2]}",
    "'single'",
    "/slash/",
    " leading and trailing ",
    "ünïcödé",
    "%7C|pipe",
};

std::string tricky(Rng& rng) {
    std::string out;
    const std::size_t n = 1 + rng.below(3);
    for (std::size_t i = 0; i < n; ++i) {
        if (i > 0) out += ' ';
        out += kPieces[rng.below(kPieces.size())];
    }
    return out;
}

/// Random text, or (when allowed) sometimes the empty string.
std::string text(Rng& rng, bool may_be_empty) {
    if (may_be_empty && rng.chance(20)) return {};
    return tricky(rng);
}

std::string pick(Rng& rng, std::initializer_list<std::string_view> values) {
    return std::string(*(values.begin() + rng.below(values.size())));
}

std::string random_id(Rng& rng) {
    return fmt::format("{:016x}-{:04x}", rng.next(), rng.next() & 0xffff);
}

std::vector<std::string> texts(Rng& rng, std::size_t max, bool allow_empty_items) {
    std::vector<std::string> out(rng.below(max + 1));
    for (auto& s : out) s = text(rng, allow_empty_items);
    return out;
}

HumanName random_name(Rng& rng, bool safe) {
    HumanName n;
    n.family = text(rng, true);
    n.given = texts(rng, 3, !safe);
    n.prefix = texts(rng, 1, !safe);
    n.text = text(rng, true);
    return n;
}

std::vector<Telecom> random_telecom(Rng& rng) {
    std::vector<Telecom> out(rng.below(4));
    for (auto& t : out) {
        t.system = pick(rng, {"phone", "fax", "email", "url"});
        t.value = tricky(rng);
        t.use = pick(rng, {"home", "work", "mobile"});
    }
    return out;
}

Address random_address(Rng& rng, bool safe) {
    Address a;
    a.use = pick(rng, {"home", "work"});
    a.type = pick(rng, {"physical", "postal", "both"});
    a.lines = texts(rng, 3, !safe);
    a.city = text(rng, true);
    a.province = rng.chance(80) ? "ON" : "";
    a.postal_code = text(rng, true);
    a.country = rng.chance(30) ? "CA" : "";
    return a;
}

std::vector<Coding> random_codings(Rng& rng, std::size_t max) {
    std::vector<Coding> out(rng.below(max + 1));
    for (auto& c : out) {
        c.system = pick(rng,
                        {"http://snomed.info/sct",
                         "http://loinc.org",
                         "https://fhir.infoway-inforoute.ca/CodeSystem/snomedctcaextension"});
        c.code = std::to_string(rng.next() % 1000000000);
        c.display = text(rng, true);
    }
    return out;
}

std::vector<Identifier> random_identifiers(Rng& rng) {
    std::vector<Identifier> out(rng.below(3));
    for (auto& id : out) {
        id.system = fmt::format("urn:oid:2.16.840.1.113883.{}", rng.below(1000));
        id.value = tricky(rng);
        id.type_code = rng.chance(50) ? "PPN" : "";
    }
    return out;
}

Clinician random_clinician(Rng& rng, bool safe) {
    Clinician c;
    c.name = random_name(rng, safe);
    // A clinician whose practitioner carries nothing is written without one (and reads back empty).
    if (c.name.family.empty()) c.name.family = tricky(rng);
    c.licence = rng.chance(70) ? std::to_string(10000 + rng.below(190000)) : "";
    c.billing_number = rng.chance(60) ? fmt::format("{:06}", rng.below(1000000)) : "";
    c.username = rng.chance(50) ? tricky(rng) : "";
    c.other_identifiers = random_identifiers(rng);
    c.telecom = random_telecom(rng);
    c.location_name = text(rng, true);
    if (rng.chance(70)) c.address = random_address(rng, safe);
    c.specialty = random_codings(rng, 2);
    return c;
}

}  // namespace

Referral full_referral() {
    Referral r;
    r.dialect = relay::fhir::Dialect::kV0_11;
    r.event = "notify-update-service-request";
    r.bundle_id = "0c7c4d2e-5b1a-4a57-9a0e-3f2b8d6c1e90";
    r.message_header_id = "5d1f0a3b-8c2e-4f7d-b6a9-1e0c2d3b4a5f";
    r.timestamp = "2025-03-04T10:15:30.123-05:00";
    r.reason = "Updated";
    r.source_endpoint = "https://ocean.cognisantmd.com/svc/fhir/v1/$process-messages";
    r.test_data = true;

    r.referral_ref = "7f3e2d1c-0b9a-4876-9543-210fedcba987";
    r.status = "active";
    r.intent = "proposal";
    r.priority = "urgent";
    r.authored_on = "2025-03-03T09:00:00-05:00";
    r.categories = {{"http://snomed.info/sct", "385759002", "HOME_AND_COMMUNITY_CARE"},
                    {"http://loinc.org", "85901-7", "HOME_AND_COMMUNITY_CARE"}};
    r.order_details = {"Home and Community Care"};
    r.notes = {
        {"<b>Reason for Referral:</b> Knee pain, \"locking\" on stairs &amp; swelling&nbsp;<br>"
         "<b>History:</b> Asthma since childhood&nbsp;",
         "Reason for Referral: Knee pain, \"locking\" on stairs & swelling\nHistory: Asthma since childhood",
         "2025-03-03T09:00:00-05:00"},
        {"", "", "2025-03-03T09:05:00-05:00"}};

    Patient& p = r.patient;
    p.health_number = "9876543217";
    p.health_number_version = "AB";
    p.mrn = "MRN-000123";
    p.other_identifiers = {{"urn:oid:2.16.840.1.113883.4.330.124", "X1234567", "PPN"}};
    p.name.family = "Tidewell";
    p.name.given = {"Hélène", "Marie"};
    p.name.prefix = {"Ms."};
    p.name.text = "Hélène Marie Tidewell";
    p.gender = "female";
    p.birth_date = "1961-07-14";
    p.telecom = {{"phone", "416-555-0142", "home"},
                 {"phone", "416-555-0177", "mobile"},
                 {"email", "h.tidewell@example.com", "home"}};
    p.addresses = {address("home", "postal", {"12 Harbourview Rd", "Unit 4"}, "Toronto", "M4P 1A1"),
                   address("home", "postal", {}, "", "")};
    p.addresses[1].province.clear();
    p.language = "fr";

    Clinician& ref = r.referrer;
    ref.name.family = "Kelpford";
    ref.name.given = {"Daniel"};
    ref.name.prefix = {"Dr."};
    ref.licence = "95643";
    ref.billing_number = "030170";
    ref.username = "dkelpford";
    ref.other_identifiers = {{"urn:oid:2.16.840.1.113883.4.330.1", "abc", ""}};
    ref.telecom = {{"phone", "613-555-0101", "work"},
                   {"fax", "613-555-0102", "work"},
                   {"email", "dkelpford@example.org", "work"}};
    ref.location_name = "Coral Reef Family Health Team";
    ref.address = address("work", "physical", {"3080 Lighthouse Lane", "Suite 5080"}, "Ottawa", "K1A 0B1");
    ref.specialty = {{"http://snomed.info/sct", "59058001", "Family Physician"}};

    Clinician sub;
    sub.name.family = "Reefton";
    sub.name.given = {"Uma"};
    sub.address = Address{};
    sub.address->use = "work";
    sub.address->type = "physical";
    r.submitter = sub;

    Listing& t = r.target;
    t.listing_ref = "harbourfront_clinic-73632721";
    t.site_number = "4321";
    t.external_service_id = "Ext Svc/1";
    t.name = "Harbourfront Community Clinic";
    t.location_name = "Harbourfront Clinic, 2nd floor";
    t.address = address("work", "physical", {"77 Anchor St"}, "Toronto", "M5V 2T6");
    t.telecom = {{"phone", "416-555-0190", "work"}};
    t.specialty = {{"https://fhir.infoway-inforoute.ca/CodeSystem/snomedctcaextension", "385759002", ""}};

    Form f;
    f.form_ref = "quickReferral";
    f.status = "completed";
    f.authored = "2025-03-03T09:00:00-05:00";
    f.items = {{"__section", "", {}, false},
               {"reason_for_referral", "Reason for Referral:", {}, false},
               {"rfr", "", {"Knee pain, \"locking\" on stairs"}, false},
               {"allergies", "Allergies:", {}, true},
               {"allg", "", {"Penicillin", "Latex"}, true}};
    r.form = f;

    Attachment letter;
    letter.id = "referral-7f3e2d1c-0b9a-4876-9543-210fedcba987";
    letter.status = "current";
    letter.content_type = "application/pdf";
    letter.title = "Hélène Tidewell--2025-03-03.pdf";
    letter.url =
        "https://ocean.cognisantmd.com/svc/fhir/v1/ServiceRequest/7f3e2d1c-0b9a-4876-9543-210fedcba987/"
        "$letter";
    letter.created = "2025-03-03T09:00:00-05:00";
    Attachment inline_doc;
    inline_doc.id = "2b9d8c7e-6f5a-4b3c-8d2e-1f0a9b8c7d6e";
    inline_doc.status = "current";
    inline_doc.content_type = "application/pdf";
    inline_doc.title = "Tidewell-attachment.pdf";
    inline_doc.data_base64 = "JVBERi0xLjQKJSBzeW50aGV0aWMK";
    inline_doc.size = 21;
    inline_doc.created = "2025-03-03T09:00:00-05:00";
    inline_doc.description = "X-ray report";
    r.attachments = {letter, inline_doc};

    r.tasks = {{"c0ffee00-1111-4222-8333-444455556666",
                "rejected",
                "declined",
                "Outside our catchment",
                "process-request",
                "2025-03-04T08:00:00-05:00",
                "2025-03-04T08:30:00-05:00"}};
    r.appointments = {
        {"a1b2c3d4-0000-4000-8000-000000000001",
         "booked",
         "2025-04-01T09:00:00-04:00",
         "2025-04-01T09:30:00-04:00",
         "accepted",
         "Bring your health card",
         "Initial consult"},
        {"a1b2c3d4-0000-4000-8000-000000000002", "proposed", "", "", "needs-action", "We will call you", ""}};
    r.communications = {{"d00dfeed-2222-4333-8444-555566667777",
                         "completed",
                         "2025-03-04T11:00:00-05:00",
                         {"Please send the MRI report.", "Thanks"},
                         1}};
    return r;
}

Referral minimal_referral() {
    Referral r;
    r.dialect = relay::fhir::Dialect::kV0_10;
    r.event = "add-service-request";
    r.referral_ref = "11111111-2222-4333-8444-555555555555";
    r.status = "active";
    r.intent = "proposal";
    r.target.listing_ref = "listing_1";
    r.target.site_number = "1234";
    return r;
}

Referral random_referral(std::uint64_t seed, bool safe) {
    Rng rng(seed * 0x2545f4914f6cdd1dULL + 7);
    Referral r;
    r.dialect = rng.chance(50) ? relay::fhir::Dialect::kV0_10 : relay::fhir::Dialect::kV0_11;
    r.event = pick(rng, {"add-service-request", "notify-update-service-request", "revoke-service-request"});
    r.bundle_id = random_id(rng);
    r.message_header_id = random_id(rng);
    r.timestamp = "2025-06-01T12:00:00.5-04:00";
    r.reason = text(rng, true);
    r.source_endpoint = rng.chance(80) ? "https://ocean.cognisantmd.com/svc/fhir/v1/$process-messages" : "";
    r.test_data = rng.chance(50);

    r.referral_ref = random_id(rng);
    r.status = pick(rng, {"active", "revoked", "completed", "draft"});
    r.intent = "proposal";
    r.priority = pick(rng, {"", "routine", "urgent", "asap", "stat"});
    r.authored_on = rng.chance(80) ? "2025-06-01T11:59:00-04:00" : "";
    r.categories = random_codings(rng, 3);
    r.order_details = texts(rng, 2, !safe);

    Patient& p = r.patient;
    p.health_number = rng.chance(70) ? fmt::format("{:010}", rng.below(10000000000ULL)) : "";
    // A version code belongs to a health number: the parser reads it only from a numbered identifier.
    p.health_number_version = !p.health_number.empty() && rng.chance(50) ? "AZ" : "";
    p.mrn = rng.chance(30) ? tricky(rng) : "";
    p.other_identifiers = random_identifiers(rng);
    p.name = random_name(rng, safe);
    p.gender = pick(rng, {"", "male", "female", "other", "unknown"});
    p.birth_date = pick(rng, {"", "1970", "1970-02", "1970-02-28"});
    p.telecom = random_telecom(rng);
    p.addresses.resize(rng.below(3));
    for (auto& a : p.addresses) a = random_address(rng, safe);
    p.language = rng.chance(30) ? pick(rng, {"en", "fr", "fr-CA"}) : "";

    r.referrer = random_clinician(rng, safe);
    if (rng.chance(40)) r.submitter = random_clinician(rng, safe);

    Listing& t = r.target;
    t.listing_ref = tricky(rng);
    t.site_number = std::to_string(rng.below(100000));
    t.external_service_id = rng.chance(50) ? tricky(rng) : "";
    t.name = text(rng, true);
    t.location_name = text(rng, true);
    if (rng.chance(60)) t.address = random_address(rng, safe);
    t.telecom = random_telecom(rng);
    t.specialty = random_codings(rng, 2);

    r.notes.resize(rng.below(3));
    for (auto& n : r.notes) {
        n.html = text(rng, true);
        n.text = n.html;  // the round-trip tests replace it by html_to_text(html)
        n.time = rng.chance(70) ? "2025-06-01T11:59:00-04:00" : "";
    }

    if (rng.chance(70)) {
        Form f;
        f.form_ref = text(rng, true);
        f.status = pick(rng, {"completed", "in-progress", "amended"});
        f.authored = rng.chance(50) ? "2025-06-01T11:59:00-04:00" : "";
        f.items.resize(rng.below(6));
        for (auto& item : f.items) {
            item.link_id = tricky(rng);
            item.text = text(rng, true);
            item.answers = texts(rng, 2, !safe);
            item.hidden = rng.chance(40);
        }
        r.form = f;
    }

    r.attachments.resize(rng.below(3));
    for (auto& a : r.attachments) {
        a.id = random_id(rng);
        a.status = pick(rng, {"current", "superseded"});
        a.content_type = pick(rng, {"application/pdf", "image/png", "text/plain"});
        a.title = text(rng, true);
        a.description = text(rng, true);
        if (rng.chance(50)) {
            a.url = "https://ocean.cognisantmd.com/svc/fhir/v1/DocumentReference/" + a.id + "/$binary";
        } else {
            a.data_base64 = "SGVsbG8sIHdvcmxkIQ==";
            a.size = 13;
        }
        a.created = rng.chance(50) ? "2025-06-01T11:59:00-04:00" : "";
    }

    r.tasks.resize(rng.below(2));
    for (auto& task : r.tasks) {
        task.id = random_id(rng);
        task.status = pick(rng, {"requested", "accepted", "rejected", "completed", "in-progress"});
        task.business_status = text(rng, true);
        task.status_reason = text(rng, true);
        task.code = pick(rng, {"", "process-request", "process-request-consult"});
        task.authored_on = rng.chance(50) ? "2025-06-02T08:00:00-04:00" : "";
        task.last_modified = rng.chance(50) ? "2025-06-02T08:00:00-04:00" : "";
    }
    r.appointments.resize(rng.below(3));
    for (auto& a : r.appointments) {
        a.id = random_id(rng);
        const bool dated = rng.chance(60);
        a.status = dated ? pick(rng, {"booked", "cancelled"}) : "proposed";
        if (dated) {
            a.start = "2025-07-01T09:00:00-04:00";
            a.end = "2025-07-01T09:30:00-04:00";
        }
        a.patient_status = pick(rng, {"accepted", "tentative", "needs-action"});
        a.instructions = text(rng, true);
        a.description = text(rng, true);
    }
    r.communications.resize(rng.below(3));
    for (auto& c : r.communications) {
        c.id = random_id(rng);
        c.status = pick(rng, {"completed", "in-progress"});
        c.sent = rng.chance(70) ? "2025-06-03T10:00:00-04:00" : "";
        c.contents = texts(rng, 2, !safe);
        c.attachment_count = rng.below(2);
        if (c.contents.empty() && c.attachment_count == 0) c.contents.push_back(tricky(rng));
    }
    return r;
}

namespace {

void pretty_into(std::string& out, const json::value& v, int indent) {
    const auto newline = [&](int level) {
        out += '\n';
        out.append(static_cast<std::size_t>(level) * 2, ' ');
    };
    switch (v.kind()) {
        case json::kind::object: {
            const auto& o = v.get_object();
            if (o.empty()) {
                out += "{}";
                return;
            }
            out += '{';
            bool first = true;
            for (const auto& kv : o) {
                if (!first) out += ',';
                first = false;
                newline(indent + 1);
                out += json::serialize(json::string(kv.key()));
                out += ": ";
                pretty_into(out, kv.value(), indent + 1);
            }
            newline(indent);
            out += '}';
            return;
        }
        case json::kind::array: {
            const auto& a = v.get_array();
            if (a.empty()) {
                out += "[]";
                return;
            }
            out += '[';
            bool first = true;
            for (const auto& e : a) {
                if (!first) out += ',';
                first = false;
                newline(indent + 1);
                pretty_into(out, e, indent + 1);
            }
            newline(indent);
            out += ']';
            return;
        }
        default:
            out += json::serialize(v);
    }
}

}  // namespace

std::string pretty(const json::value& v) {
    std::string out;
    pretty_into(out, v, 0);
    out += '\n';
    return out;
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path.string());
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void write_file(const std::filesystem::path& path, std::string_view content) {
    std::filesystem::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    if (!out) throw std::runtime_error("cannot write " + path.string());
}

}  // namespace render_test
