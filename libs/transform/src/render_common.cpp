#include "render_common.hpp"

#include <array>
#include <boost/uuid/name_generator_sha1.hpp>
#include <boost/uuid/uuid.hpp>

#include "relay/transform/render.hpp"

namespace relay::transform {

const char* to_string(Format format) {
    switch (format) {
        case Format::kOceanFhir:
            return "ocean-fhir";
        case Format::kFhirR4:
            return "fhir-r4";
        case Format::kOpenApi:
            return "open-api";
        case Format::kHubJson:
            return "hub-json";
    }
    return "unknown";
}

std::optional<Format> parse_format(std::string_view name) {
    for (const Format f : {Format::kOceanFhir, Format::kFhirR4, Format::kOpenApi, Format::kHubJson}) {
        if (name == to_string(f)) return f;
    }
    return std::nullopt;
}

const char* content_type(Format format) {
    switch (format) {
        case Format::kOceanFhir:
        case Format::kFhirR4:
            return "application/fhir+json";
        case Format::kOpenApi:
        case Format::kHubJson:
            return "application/json";
    }
    return "application/json";
}

std::string render(Format format, const Referral& referral, std::string_view original) {
    switch (format) {
        case Format::kOceanFhir:
            return std::string(original);
        case Format::kFhirR4:
            return render_fhir_r4(referral);
        case Format::kOpenApi:
            return render_open_api(referral);
        case Format::kHubJson:
            return render_hub_json(referral);
    }
    return std::string(original);
}

namespace detail {

namespace {

std::size_t bytes_of(const HumanName& n) {
    std::size_t b = n.family.size() + n.text.size();
    for (const auto& g : n.given) b += g.size();
    for (const auto& p : n.prefix) b += p.size();
    return b;
}

std::size_t bytes_of(const Address& a) {
    std::size_t b = a.city.size() + a.province.size() + a.postal_code.size() + a.country.size() + 16;
    for (const auto& l : a.lines) b += l.size();
    return b;
}

std::size_t bytes_of(const std::vector<Telecom>& telecom) {
    std::size_t b = 0;
    for (const auto& t : telecom) b += t.value.size() + 16;
    return b;
}

std::size_t bytes_of(const Clinician& c) {
    std::size_t b = bytes_of(c.name) + c.licence.size() + c.billing_number.size() + c.username.size() +
                    bytes_of(c.telecom) + c.location_name.size();
    if (c.address) b += bytes_of(*c.address);
    return b;
}

}  // namespace

std::size_t payload_bytes(const Referral& r, bool with_attachment_data) {
    // Field values plus a fixed allowance per structure for keys, systems and references; precision
    // does not matter, only that one reservation usually suffices.
    std::size_t b = 4096 + bytes_of(r.patient.name) + bytes_of(r.patient.telecom) + bytes_of(r.referrer) +
                    bytes_of(r.target.telecom);
    for (const auto& a : r.patient.addresses) b += bytes_of(a);
    if (r.submitter) b += bytes_of(*r.submitter) + 512;
    for (const auto& n : r.notes) b += 2 * n.html.size() + n.text.size() + 64;
    if (r.form) {
        for (const auto& item : r.form->items) {
            b += item.link_id.size() + item.text.size() + 160;
            for (const auto& a : item.answers) b += a.size() + 24;
        }
    }
    for (const auto& a : r.attachments) {
        b += (with_attachment_data ? a.data_base64.size() : 0) + a.url.size() + a.title.size() +
             a.description.size() + 256;
    }
    b += 512 * (r.tasks.size() + r.appointments.size() + r.communications.size());
    for (const auto& c : r.communications) {
        for (const auto& s : c.contents) b += s.size();
    }
    return b;
}

std::string serialize(const json::value& root, std::size_t size_hint) {
    std::string out;
    out.reserve(size_hint);
    json::serializer sr;
    sr.reset(&root);
    while (!sr.done()) {
        std::size_t used = out.size();
        if (out.capacity() - used < 256) out.reserve(out.capacity() * 2 + 256);
        // resize() up to the capacity is a memset, not an allocation; trimmed right after.
        out.resize(out.capacity());
        const std::string_view written = sr.read(out.data() + used, out.size() - used);
        out.resize(used + written.size());
    }
    return out;
}

std::string name_uuid(std::string_view referral_ref, std::string_view role, std::string_view key) {
    // ocean-relay's own namespace (a fixed random uuid): ids never collide with another generator's.
    static constexpr boost::uuids::uuid kNamespace = {
        {0x3b, 0x6f, 0x0e, 0x52, 0x9d, 0x41, 0x4c, 0x8a, 0xa2, 0x7e, 0x1f, 0x95, 0x0c, 0x63, 0xd4, 0x18}};
    std::array<char, 512> small{};
    std::string large;
    const std::size_t n = referral_ref.size() + role.size() + key.size() + 2;
    char* name = small.data();
    if (n > small.size()) {
        large.resize(n);
        name = large.data();
    }
    // The unit separator cannot be confused with content: it never appears in refs or role names.
    std::size_t at = 0;
    for (const std::string_view part :
         {referral_ref, std::string_view("\x1f"), role, std::string_view("\x1f")}) {
        part.copy(name + at, part.size());
        at += part.size();
    }
    key.copy(name + at, key.size());
    at += key.size();
    const boost::uuids::uuid u = boost::uuids::name_generator_sha1(kNamespace)(name, at);

    static constexpr char kHex[] = "0123456789abcdef";
    std::string out(36, '-');
    std::size_t pos = 0;
    for (std::size_t i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) ++pos;  // the '-' already there
        out[pos++] = kHex[u.data[i] >> 4];
        out[pos++] = kHex[u.data[i] & 0x0f];
    }
    return out;
}

bool is_fhir_id(std::string_view s) {
    if (s.empty() || s.size() > 64) return false;
    for (const char c : s) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                        c == '-' || c == '.';
        if (!ok) return false;
    }
    return true;
}

bool address_empty(const Address& a) {
    return a.use.empty() && a.type.empty() && a.lines.empty() && a.city.empty() && a.province.empty() &&
           a.postal_code.empty() && a.country.empty();
}

bool name_empty(const HumanName& n) {
    return n.family.empty() && n.given.empty() && n.prefix.empty() && n.text.empty();
}

std::string_view first_given(const HumanName& n) {
    return n.given.empty() ? std::string_view{} : std::string_view(n.given.front());
}

std::string_view telecom_value(const std::vector<Telecom>& telecom,
                               std::string_view system,
                               std::string_view use) {
    for (const auto& t : telecom) {
        if (t.system == system && (use.empty() || t.use == use)) return t.value;
    }
    return {};
}

}  // namespace detail

}  // namespace relay::transform
