// OpenApiReferralParser: Ocean's Open API Referral JSON + decrypted patient data → the canonical
// Referral. The mapping and its [P]/[I] choices are in open_api_referral.hpp.
//
// Two simdjson DOM parsers (the referral and the patient data are both alive while mapping), reused
// across calls. Routing facts (referralRef, referralTargetRef, externalServiceId) of the wrong JSON type
// are fatal, as ReferralParser makes the routing facts of a bundle fatal: a referral routed on a guessed
// value would go to the wrong hub.
#include "relay/transform/open_api_referral.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <string>
#include <utility>

#include "ocean_json.hpp"
#include "parse_json.hpp"

namespace relay::transform {

namespace {

namespace dom = simdjson::dom;
using detail::Path;
using detail::Reader;
using detail::Severity;

constexpr std::string_view kStatusTaskId = "open-api-status";

class OpenApiReader {
   public:
    OpenApiReader(ParseResult& result, std::string_view site_number, const OpenApiOptions& options)
        : result_(result), r_(result), site_number_(site_number), options_(options) {}

    void read(dom::element root, std::optional<dom::element> patient_root) {
        dom::object o;
        if (root.get_object().get(o) != simdjson::SUCCESS) {
            r_.fail("not-a-referral", referral_, "the referral is not a JSON object");
            return;
        }
        Referral& out = referral_out_;
        out.referral_ref = r_.string(o, "referralRef", referral_, Severity::kFatal);
        out.target.listing_ref = r_.string(o, "referralTargetRef", referral_, Severity::kFatal);
        out.target.external_service_id = r_.string(o, "externalServiceId", referral_, Severity::kFatal);
        if (r_.failed()) return;
        if (out.referral_ref.empty()) {
            r_.fail("no-referral-ref", referral_.member("referralRef"), "referralRef is required");
            return;
        }
        out.target.site_number = site_number_;
        out.target.name = r_.string(o, "description", referral_);
        out.event = options_.event;
        out.intent = "proposal";

        read_patient(patient_root);
        if (r_.failed()) return;

        out.authored_on = detail::date_time_member(r_, o, "sentDate", referral_);
        if (out.authored_on.empty())
            out.authored_on = detail::date_time_member(r_, o, "creationDate", referral_);
        // Bundle.timestamp is an instant, and the router orders a referral's versions and keys its
        // duplicates by it (services/router/src/state.cpp): only a full date-time will do.
        out.timestamp = detail::date_time_member(r_, o, "modificationDate", referral_);
        if (!out.timestamp.empty() && !detail::is_fhir_instant(out.timestamp)) {
            r_.warn("invalid-date", referral_.member("modificationDate"), "not a full date-time; dropped");
            out.timestamp.clear();
        }

        r_.each_string(o, "services", referral_, [&](std::string_view s) {
            out.categories.push_back(Coding{{}, {}, std::string(s)});
        });

        if (const auto referrer = r_.object(o, "referrer", referral_)) {
            read_clinician(*referrer, referral_.member("referrer"), out.referrer);
        }
        if (const auto assistant = r_.object(o, "assistant", referral_)) {
            read_clinician(*assistant, referral_.member("assistant"), out.submitter.emplace());
        }
        out.referrer.location_name = r_.string(o, "srcSiteName", referral_);

        read_status(o);
        read_appointments(o);
        read_attachments(o, "bookingFileRefs", referral_, "booking");
        read_conversation(o, "externalConversation", /*internal=*/false);
        read_conversation(o, "internalConversation", /*internal=*/true);
        if (r_.failed()) return;
        result_.referral = std::move(referral_out_);
    }

   private:
    void read_patient(std::optional<dom::element> patient_root) {
        if (!patient_root) return;
        dom::object o;
        if (patient_root->get_object().get(o) != simdjson::SUCCESS) {
            r_.wrong_type(Severity::kFatal, patient_, "an object", *patient_root);
            return;
        }
        detail::PatientData data;
        detail::read_patient_data(r_, o, patient_, data);
        referral_out_.patient = std::move(data.patient);
        for (const std::string* reason : {&data.reason_for_visit, &data.appointment_reason}) {
            if (reason->empty()) continue;
            Note& n = referral_out_.notes.emplace_back();
            n.html = detail::html_escape(*reason);
            n.text = html_to_text(n.html);
        }
    }

    void read_clinician(dom::object c, const Path& at, Clinician& out) {
        std::string first = detail::text_member(r_, c, "firstName", at);
        if (!first.empty()) out.name.given.push_back(std::move(first));
        out.name.family = detail::text_member(r_, c, "surname", at);
        out.licence = detail::text_member(r_, c, "professionalId", at);
        out.billing_number = detail::text_member(r_, c, "billingNum", at);
        const auto address = r_.object(c, "address", at);
        if (!address) return;
        const Path a_at = at.member("address");
        Address a;
        a.use = "work";
        for (const std::string_view key : {"line1", "line2"}) {
            std::string line = detail::text_member(r_, *address, key, a_at);
            if (!line.empty()) a.lines.push_back(std::move(line));
        }
        a.city = detail::text_member(r_, *address, "city", a_at);
        a.province = detail::text_member(r_, *address, "province", a_at);
        a.country = detail::text_member(r_, *address, "country", a_at);
        a.postal_code = detail::text_member(r_, *address, "postalCode", a_at);
        if (!a.lines.empty() || !a.city.empty() || !a.province.empty() || !a.country.empty() ||
            !a.postal_code.empty()) {
            out.address = std::move(a);
        }
        const auto contact = [&](std::string_view key, std::string_view system) {
            std::string value = detail::text_member(r_, *address, key, a_at);
            if (!value.empty()) out.telecom.push_back(Telecom{std::string(system), std::move(value), "work"});
        };
        contact("phone", "phone");
        contact("fax", "fax");
        contact("email", "email");
        contact("website", "url");
    }

    void read_status(dom::object o) {
        Referral& out = referral_out_;
        folder_ = r_.string(o, "status", referral_);
        const std::string_view type = r_.string(o, "communicationType", referral_);
        const bool consult = type == "E_CONSULT";
        out.status = folder_ == "CANCELLED" ? "revoked" : "active";
        std::string task_status;
        if (folder_ == "DECLINED") {
            task_status = "rejected";
        } else if (folder_ == "COMPLETED") {
            task_status = "completed";
        } else if (folder_ == "PENDING_BOOKING" || folder_ == "BOOKED" || folder_ == "BOOKING_UNCONFIRMED") {
            task_status = "accepted";
        } else if (consult) {
            task_status = "requested";
        }
        if (task_status.empty()) return;
        Task& t = out.tasks.emplace_back();
        t.id = kStatusTaskId;
        t.status = std::move(task_status);
        t.code = consult ? "process-request-consult" : "process-request";
        t.last_modified = out.timestamp;
        if (folder_ == "DECLINED") t.status_reason = r_.string(o, "cancellationReason", referral_);
    }

    void read_appointments(dom::object o) {
        Referral& out = referral_out_;
        long index = 0;
        r_.each_object(o, "appointments", referral_, [&](dom::object a, const Path& at) {
            const std::string date = detail::date_time_member(r_, a, "date", at);
            ++index;
            if (date.empty()) return;
            Appointment& appt = out.appointments.emplace_back();
            appt.id = fmt::format("open-api-appointment-{}", index);
            if (detail::is_fhir_instant(date)) {
                // FHIR's booked Appointment needs start and end (app-2, app-3); Ocean gives no duration,
                // and end = start says "unknown" without inventing one.
                appt.status = "booked";
                appt.start = date;
                appt.end = date;
                appt.patient_status = folder_ == "BOOKED" ? "accepted" : "needs-action";
            } else {
                // A day without a time cannot be Appointment.start (an instant): the day goes to the
                // description of a proposed appointment, the only status FHIR allows without times.
                appt.status = "proposed";
                appt.description = "Appointment on " + date + " (no time given)";
                appt.patient_status = "needs-action";
            }
        });
        const std::string comments = detail::text_member(r_, o, "bookingComments", referral_);
        if (comments.empty()) return;
        if (out.appointments.empty()) {
            Appointment& appt = out.appointments.emplace_back();
            appt.id = "open-api-booking";
            appt.status = "proposed";
            appt.patient_status = "needs-action";
        }
        out.appointments.back().instructions = comments;
    }

    void read_attachments(dom::object holder,
                          std::string_view key,
                          const Path& holder_at,
                          std::string_view where) {
        r_.each_object(holder, key, holder_at, [&](dom::object a, const Path& at) {
            std::string ref = detail::text_member(r_, a, "fileRef", at);
            if (ref.empty()) return;
            auto& list = referral_out_.attachments;
            if (std::any_of(list.begin(), list.end(), [&](const Attachment& x) { return x.id == ref; }))
                return;
            Attachment& out = list.emplace_back();
            out.status = "current";
            out.title = detail::text_member(r_, a, "fileName", at);
            out.description = fmt::format("Ocean attachment ({})", where);
            if (!options_.ocean_host.empty()) {
                out.url = fmt::format("{}/svc/v1/referrals/{}/attachments/{}",
                                      options_.ocean_host,
                                      url_segment(referral_out_.referral_ref),
                                      url_segment(ref));
            }
            out.id = std::move(ref);
        });
    }

    void read_conversation(dom::object o, std::string_view key, bool internal) {
        r_.each_object(o, key, referral_, [&](dom::object c, const Path& at) {
            const std::string message = detail::text_member(r_, c, "message", at);
            const std::string date = detail::date_time_member(r_, c, "commentDate", at);
            std::size_t attachments = 0;
            simdjson::dom::array refs;  // the wrong type is reported once, by read_attachments
            if (const auto dtos = Reader::member(c, "attachmentRefDtos");
                dtos && dtos->get_array().get(refs) == simdjson::SUCCESS) {
                attachments = refs.size();
            }
            read_attachments(c, "attachmentRefDtos", at, internal ? "internal note" : "message");
            if (internal) {
                if (message.empty()) return;
                Note& n = referral_out_.notes.emplace_back();
                n.html = detail::html_escape(message);
                n.text = html_to_text(n.html);
                n.time = date;
                return;
            }
            Communication& out = referral_out_.communications.emplace_back();
            out.id = detail::text_member(r_, c, "ref", at);
            out.status = "completed";
            out.sent = date;
            if (!message.empty()) out.contents.push_back(message);
            out.attachment_count = attachments;
        });
    }

    /// A path segment with everything but RFC 3986's unreserved characters percent-encoded.
    static std::string url_segment(std::string_view s) {
        std::string out;
        out.reserve(s.size());
        for (const char c : s) {
            const auto u = static_cast<unsigned char>(c);
            if ((u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || c == '-' ||
                c == '.' || c == '_' || c == '~') {
                out += c;
            } else {
                out += fmt::format("%{:02X}", u);
            }
        }
        return out;
    }

    ParseResult& result_;
    Reader r_;
    std::string_view site_number_;
    const OpenApiOptions& options_;
    const Path referral_{nullptr, "Referral", -1};
    const Path patient_{nullptr, "PatientData", -1};
    Referral referral_out_;
    std::string folder_;
};

}  // namespace

struct OpenApiReferralParser::Impl {
    simdjson::dom::parser referral;
    simdjson::dom::parser patient;
};

OpenApiReferralParser::OpenApiReferralParser() : impl_(std::make_unique<Impl>()) {}
OpenApiReferralParser::~OpenApiReferralParser() = default;

ParseResult OpenApiReferralParser::parse(std::string_view referral_json,
                                         std::string_view patient_json,
                                         std::string_view site_number,
                                         const OpenApiOptions& options) {
    ParseResult result;
    dom::element root;
    auto error = impl_->referral.parse(referral_json.data(), referral_json.size()).get(root);
    if (error != simdjson::SUCCESS) {
        result.error = ParseError{
            "invalid-json",
            "Referral",
            fmt::format("the referral is not well-formed JSON ({})", simdjson::error_message(error))};
        return result;
    }
    std::optional<dom::element> patient;
    if (!patient_json.empty()) {
        dom::element patient_root;
        error = impl_->patient.parse(patient_json.data(), patient_json.size()).get(patient_root);
        if (error != simdjson::SUCCESS) {
            result.error = ParseError{
                "invalid-json",
                "PatientData",
                fmt::format("the patient data is not well-formed JSON ({})", simdjson::error_message(error))};
            return result;
        }
        patient = patient_root;
    }
    try {
        OpenApiReader(result, site_number, options).read(root, patient);
    } catch (const std::exception&) {
        // Only allocation can throw past the error-code API.
        result.referral.reset();
        result.error = ParseError{"internal", "Referral", "an internal error stopped the parse"};
    }
    if (result.error) result.referral.reset();
    return result;
}

ParseResult parse_open_api_referral(std::string_view referral_json,
                                    std::string_view patient_json,
                                    std::string_view site_number,
                                    const OpenApiOptions& options) {
    OpenApiReferralParser parser;
    return parser.parse(referral_json, patient_json, site_number, options);
}

}  // namespace relay::transform
