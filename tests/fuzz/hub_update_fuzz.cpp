// hub::parse_update and the format's helpers (parse_rfc3339, is_ref, is_fhir_id, parse_action) over
// arbitrary bytes.
//
// Invariants: no exception escapes; ok() exactly when there are no errors; every error has a field, a
// code from the documented set and a message, and the whole error text is bounded; an accepted update
// satisfies the documented constraints (refs, texts, dates), and re-encodes with to_json into JSON that
// parses back to the same update (to_json is a fixed point). The helpers agree with their definitions.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "relay/hub/update.hpp"

namespace {

namespace hub = relay::hub;

bool documented_code(std::string_view code) {
    for (const std::string_view known :
         {"required", "type", "format", "unknown", "not-allowed", "value", "json"}) {
        if (code == known) return true;
    }
    return false;
}

bool valid_text(const std::string& s) {
    if (s.empty() || s.size() > 65536) return false;
    for (const char c : s) {
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v') return true;
    }
    return false;
}

bool optional_text(const std::string& s) {
    return s.empty() || valid_text(s);
}

void check_update(const hub::Update& u) {
    std::int64_t epoch = 0;
    FUZZ_CHECK(hub::is_ref(u.update_id));
    FUZZ_CHECK(hub::is_ref(u.referral_ref));
    FUZZ_CHECK(u.site.empty() || hub::is_ref(u.site));
    FUZZ_CHECK(u.requested_at.empty() || hub::parse_rfc3339(u.requested_at, epoch));
    FUZZ_CHECK(hub::parse_action(hub::to_string(u.action)) == u.action);
    switch (u.action) {
        case hub::Action::kDecline:
            FUZZ_CHECK(valid_text(u.reason));
            break;
        case hub::Action::kForward:
            FUZZ_CHECK(hub::is_ref(u.listing_ref));
            FUZZ_CHECK(optional_text(u.reason));
            break;
        case hub::Action::kBook:
        case hub::Action::kChangeBooking: {
            FUZZ_CHECK(u.appointment.has_value());
            std::int64_t start = 0, end = 0;
            FUZZ_CHECK(hub::parse_rfc3339(u.appointment->start, start));
            FUZZ_CHECK(hub::parse_rfc3339(u.appointment->end, end));
            FUZZ_CHECK(end > start);
            FUZZ_CHECK(u.appointment->id.empty() || hub::is_fhir_id(u.appointment->id));
            FUZZ_CHECK(optional_text(u.appointment->type_text));
            FUZZ_CHECK(optional_text(u.appointment->instructions));
            break;
        }
        case hub::Action::kCancelBooking:
            FUZZ_CHECK(!u.appointment || u.appointment->id.empty() || hub::is_fhir_id(u.appointment->id));
            FUZZ_CHECK(optional_text(u.reason));
            break;
        case hub::Action::kBookingInstructions:
            FUZZ_CHECK(valid_text(u.instructions));
            break;
        case hub::Action::kMessage:
            FUZZ_CHECK(valid_text(u.text));
            if (u.attachment) {
                FUZZ_CHECK(u.attachment->content_type.find('/') != std::string::npos);
                FUZZ_CHECK(!u.attachment->data.empty());
                FUZZ_CHECK(optional_text(u.attachment->title));
            }
            break;
        default:
            break;
    }
}

void check_helpers(std::string_view text) {
    std::int64_t epoch = 0;
    if (hub::parse_rfc3339(text, epoch)) {
        FUZZ_CHECK(text.size() >= 20 && text.size() <= 35);
        // Years 0001..9999 with offsets of up to a day either side.
        FUZZ_CHECK(epoch >= -62135596800LL - 86400 && epoch <= 253402300799LL + 86400);
    }
    if (hub::is_ref(text)) FUZZ_CHECK(!text.empty() && text.size() <= 128);
    if (hub::is_fhir_id(text)) FUZZ_CHECK(!text.empty() && text.size() <= 64);
    if (const auto action = hub::parse_action(text)) FUZZ_CHECK(text == hub::to_string(*action));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    check_helpers(input);

    const hub::ParseUpdateResult result = hub::parse_update(input);
    FUZZ_CHECK(result.ok() == result.errors.empty());
    for (const auto& error : result.errors) {
        FUZZ_CHECK(!error.field.empty() && error.field.size() <= 128);
        FUZZ_CHECK(documented_code(error.code));
        FUZZ_CHECK(!error.message.empty());
    }
    // Each error is a fixed text plus a field name of at most 128 bytes, never input content, and every
    // error belongs to a member of the input.
    const std::string error_text = result.error_text();
    FUZZ_CHECK(error_text.size() <= result.errors.size() * 512);
    if (!result.ok()) return 0;

    const hub::Update& u = *result.update;
    check_update(u);
    const std::string encoded = hub::to_json(u);
    FUZZ_CHECK(boost::json::parse(encoded).is_object());
    const hub::ParseUpdateResult reparsed = hub::parse_update(encoded);
    if (!reparsed.ok()) {
        std::fprintf(stderr, "to_json output refused: %s\n", reparsed.error_text().c_str());
    }
    FUZZ_CHECK(reparsed.ok());
    FUZZ_CHECK(hub::to_json(*reparsed.update) == encoded);
    return 0;
}
