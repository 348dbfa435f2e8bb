#include "ocean_api.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>
#include <optional>
#include <utility>
#include <variant>

#include "referral_attachments.hpp"
#include "relay/auth/basic.hpp"
#include "relay/auth/client_credentials.hpp"
#include "relay/core/config.hpp"
#include "relay/core/log.hpp"
#include "relay/fhir/operation_outcome.hpp"
#include "relay/ocean/crypto.hpp"
#include "relay/ocean/rsa.hpp"

namespace relay::ocean_sim {

namespace json = boost::json;
namespace bhttp = boost::beast::http;
using http::Request;
using http::Response;

namespace {

std::string header_of(const Request& request, std::string_view name) {
    const auto it = request.find(boost::beast::string_view(name.data(), name.size()));
    if (it == request.end()) return {};
    return std::string(it->value());
}

Response outcome_response(const Request& request,
                          bhttp::status status,
                          std::string_view severity,
                          std::string_view code,
                          std::string_view diagnostics,
                          std::string_view expression = {}) {
    return make_response(request,
                         status,
                         "application/fhir+json",
                         fhir::operation_outcome(severity, code, diagnostics, expression));
}

Response json_error(const Request& request,
                    bhttp::status status,
                    std::string_view error,
                    std::string_view description) {
    json::object body{{"error", error}, {"error_description", description}};
    return make_response(request, status, "application/json", json::serialize(body));
}

// Some clients send '$' as %24; paths are compared decoded. Invalid escapes are kept as they are.
std::string decode_path(std::string_view path) {
    std::string out;
    out.reserve(path.size());
    const auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    for (std::size_t i = 0; i < path.size(); ++i) {
        if (path[i] == '%' && i + 2 < path.size()) {
            const int hi = hex(path[i + 1]);
            const int lo = hex(path[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out.push_back(static_cast<char>(hi * 16 + lo));
                i += 2;
                continue;
            }
        }
        out.push_back(path[i]);
    }
    return out;
}

// The segments a route's pattern took from a decoded path (empty for a pattern without "{}").
struct PathMatch {
    std::string_view first;
    std::string_view second;
};

// A route's pattern against a decoded path: equal, with each "{}" (at most two) standing for one whole
// non-empty segment (no '/'), or nullopt when the path does not match.
std::optional<PathMatch> match_path(std::string_view pattern, std::string_view path) {
    PathMatch out;
    int holes = 0;
    while (true) {
        const auto hole = pattern.find("{}");
        const std::string_view literal = pattern.substr(0, hole);
        if (!path.starts_with(literal)) return std::nullopt;
        path.remove_prefix(literal.size());
        if (hole == std::string_view::npos) break;
        pattern.remove_prefix(hole + 2);
        const std::string_view segment = path.substr(0, path.find('/'));
        if (segment.empty() || holes == 2) return std::nullopt;
        (holes == 0 ? out.first : out.second) = segment;
        ++holes;
        path.remove_prefix(segment.size());
    }
    if (!path.empty()) return std::nullopt;
    return out;
}

// ---------------------------------------------------------------------------------------------------
// Applying

struct ApplyResult {
    Folder before = Folder::kNew;
    Folder after = Folder::kNew;
    std::vector<std::string> changes;
    bool ignored = false;
    std::string warning;
};

void note(ReferralView& view,
          const ReceiverUpdate& update,
          std::string change,
          std::string detail,
          ApplyResult& result) {
    view.history.push_back(HistoryEntry{
        format_rfc3339_millis(system_now()), update.event, change, std::move(detail), view.folder});
    result.changes.push_back(std::move(change));
}

void apply(ReferralView& view, const ReceiverUpdate& update, ApplyResult& result) {
    result.before = view.folder;
    if (update.forward) {
        view.forwarded_to = update.forward->listing_ref;
        view.forwarded_service_request = update.forward->new_ref;
        note(view, update, "forward", update.forward->new_ref, result);
    }
    if (update.task) {
        const auto effect = task_status_effect(view.folder, update.task->status);
        if (!effect.in_table) {
            result.ignored = true;
            result.warning = fmt::format(
                "Task.status '{}' is not one Ocean acts on (ocean-api.md §3.6); the status was ignored",
                update.task->status);
        } else {
            const bool reason_changed =
                effect.folder == Folder::kDeclined && view.decline_reason != update.task->reason;
            const bool moved = effect.folder != view.folder;
            view.folder = effect.folder;
            view.task_status = update.task->status;
            if (effect.folder == Folder::kDeclined)
                view.decline_reason = update.task->reason;
            else if (moved)
                view.decline_reason.clear();
            if (moved || reason_changed)
                note(view, update, effect.reopened ? "reopen" : "status", update.task->status, result);
        }
    }
    if (update.appointment) {
        const Booking& booking = *update.appointment;
        auto existing =
            std::find_if(view.appointments.begin(), view.appointments.end(), [&](const Booking& b) {
                return !booking.id.empty() && b.id == booking.id;
            });
        if (existing != view.appointments.end())
            *existing = booking;
        else
            view.appointments.push_back(booking);
        if (booking.status == "cancelled") {
            if (view.folder == Folder::kBookingUnconfirmed || view.folder == Folder::kBookingConfirmed)
                view.folder = Folder::kPendingBooking;
            note(view, update, "appointment-cancelled", booking.status, result);
        } else if (booking.start.empty()) {
            note(view, update, "booking-instructions", booking.status, result);
        } else {
            // [I] A booking on a Declined/Completed referral re-activates it, like an active Task status.
            view.folder = booking.participant_status == "accepted" ? Folder::kBookingConfirmed
                                                                   : Folder::kBookingUnconfirmed;
            view.decline_reason.clear();
            note(view, update, "appointment", booking.participant_status, result);
        }
    }
    if (update.communication) {
        RecordedMessage message = *update.communication;
        message.event = update.event;
        message.at = format_rfc3339_millis(system_now());
        view.communications.push_back(std::move(message));
        note(view, update, "communication", update.communication->id, result);
    }
    if (update.data_correction) note(view, update, "data-correction", update.resource, result);
    result.after = view.folder;
}

json::object block_json(const ocean::EncryptedBlock& block) {
    return json::object{{"data", block.data_b64}, {"iv", block.iv_b64}};
}

// [P] The Open API status names are not public; upper-case folder names in the Open API's enum style.
const char* open_api_status(Folder folder) {
    switch (folder) {
        case Folder::kNew:
            return "NEW";
        case Folder::kPendingBooking:
            return "PENDING_BOOKING";
        case Folder::kBookingUnconfirmed:
            return "BOOKING_UNCONFIRMED";
        case Folder::kBookingConfirmed:
            return "BOOKED";
        case Folder::kDeclined:
            return "DECLINED";
        case Folder::kCompleted:
            return "COMPLETED";
        case Folder::kCancelled:
            return "CANCELLED";
    }
    return "NEW";
}

template <typename T>
const T* ok(const ocean::Result<T>& result) {
    return std::get_if<T>(&result);
}

}  // namespace

Response make_response(const Request& request,
                       bhttp::status status,
                       std::string_view content_type,
                       std::string body) {
    Response res{status, request.version()};
    res.set(bhttp::field::content_type, content_type);
    res.body() = std::move(body);
    return res;
}

// -----------------------------------------------------------------------------------------------------

std::string minimal_pdf(std::string_view title) {
    std::string text;
    for (const char c : title) {
        if (c == '(' || c == ')' || c == '\\') text.push_back('\\');
        text.push_back(c);
    }
    const std::string stream = fmt::format("BT /F1 12 Tf 72 720 Td ({}) Tj ET", text);
    const std::array<std::string, 5> objects = {
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        fmt::format("<< /Length {} >>\nstream\n{}\nendstream", stream.size(), stream),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    };
    std::string pdf = "%PDF-1.4\n";
    std::vector<std::size_t> offsets;
    for (std::size_t i = 0; i < objects.size(); ++i) {
        offsets.push_back(pdf.size());
        pdf += fmt::format("{} 0 obj\n{}\nendobj\n", i + 1, objects[i]);
    }
    const std::size_t xref = pdf.size();
    pdf += fmt::format("xref\n0 {}\n0000000000 65535 f \n", objects.size() + 1);
    // Each xref entry is exactly 20 bytes, end-of-line included.
    for (const auto offset : offsets) pdf += fmt::format("{:010} 00000 n \n", offset);
    pdf +=
        fmt::format("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{}\n%%EOF\n", objects.size() + 1, xref);
    return pdf;
}

OceanApi::OceanApi(OceanApiConfig config, ReferralState& state)
    : config_(std::move(config)), state_(state), signer_(config_.signing_key, config_.issuer) {
    if (config_.signing_key.empty()) throw ConfigError("ocean_api.signing_key: required");
}

boost::asio::awaitable<Response> OceanApi::handle(Request& request, const http::RequestContext& /*context*/) {
    // Nothing here waits on I/O: the whole answer is computed synchronously.
    Response response = respond(request);
    co_return response;
}

http::Handler OceanApi::handler() {
    // Not a coroutine itself: it returns the awaitable of the member coroutine.
    return [this](Request& request, const http::RequestContext& context) { return handle(request, context); };
}

// Adding an endpoint is one line here (and its handler).
const OceanApi::Route OceanApi::kRoutes[] = {
    {bhttp::verb::post, "/svc/oauth2/token", &OceanApi::token},
    // Ocean's operation is $process-messages (§3.3 source.endpoint); the singular is accepted too.
    {bhttp::verb::post, "/svc/fhir/v1/$process-messages", &OceanApi::process_messages},
    {bhttp::verb::post, "/svc/fhir/v1/$process-message", &OceanApi::process_messages},
    {bhttp::verb::get, "/svc/fhir/v1/NamingSystem/id-site-number", &OceanApi::naming_system},
    {bhttp::verb::get, "/svc/fhir/v1/ServiceRequest/{}/$letter", &OceanApi::letter},
    {bhttp::verb::get, "/svc/fhir/v1/DocumentReference/{}/$binary", &OceanApi::binary},
    // Patient Engagement (§5.2). [P] The simulator's patients are those of the referrals it sent, and a
    // patient's ref is its referral's ref (Ocean's own patient refs are short site-local strings).
    {bhttp::verb::get, "/svc/v1/patients/{}", &OceanApi::patient},
    {bhttp::verb::get, "/svc/v1/patients/{}/notes", &OceanApi::patient_notes},
    {bhttp::verb::post, "/svc/v1/patients/{}/formLinks", &OceanApi::post_form_links},
    {bhttp::verb::get, "/svc/v1/referrals/{}", &OceanApi::open_api_referral},
    {bhttp::verb::post, "/svc/v1/referrals/{}/attachments", &OceanApi::post_attachment},
    {bhttp::verb::get, "/svc/v1/referrals/{}/attachments/{}", &OceanApi::open_api_attachment},
    {bhttp::verb::post, "/svc/v1/referrals/{}/messages", &OceanApi::post_message},
    {bhttp::verb::get, "/svc/v1/site/privateKey", &OceanApi::site_private_key},
    // Ocean's web UI after a send: the browser goes on to the integration's launch (launch_link.hpp).
    {bhttp::verb::get, "/ocean-ui/referrals/{}/sent", &OceanApi::referral_sent},
};

Response OceanApi::respond(const Request& request) {
    const std::string_view target(request.target().data(), request.target().size());
    const auto question = target.find('?');
    const std::string path = decode_path(target.substr(0, question));
    const std::string_view query =
        question == std::string_view::npos ? std::string_view() : target.substr(question + 1);

    for (const Route& route : kRoutes) {
        const auto segment = match_path(route.pattern, path);
        if (!segment) continue;
        if (request.method() != route.method) {
            Response res = json_error(
                request, bhttp::status::method_not_allowed, "method_not_allowed", "method not allowed");
            res.set(bhttp::field::allow, bhttp::to_string(route.method));
            return res;
        }
        return (this->*route.handle)(request, RouteMatch{segment->first, query, segment->second});
    }
    return json_error(request, bhttp::status::not_found, "not_found", "no such endpoint");
}

Response OceanApi::token(const Request& request, const RouteMatch& match) {
    const std::string_view query = match.query;
    const auto parsed = auth::parse_token_request(
        header_of(request, "Content-Type"), request.body(), header_of(request, "Authorization"), query);
    if (const auto* error = std::get_if<auth::TokenRequestError>(&parsed)) {
        const bool client = error->error == "invalid_client";
        Response res = json_error(request,
                                  client ? bhttp::status::unauthorized : bhttp::status::bad_request,
                                  error->error,
                                  error->description);
        if (client) res.set(bhttp::field::www_authenticate, "Basic realm=\"ocean\"");
        return res;
    }
    const auto& req = std::get<auth::TokenRequest>(parsed);
    const auto client = std::find_if(config_.clients.begin(),
                                     config_.clients.end(),
                                     [&](const OceanApiClient& c) { return c.id == req.client_id; });
    // One answer for an unknown id and a wrong secret: the caller learns nothing about which ids exist.
    if (client == config_.clients.end() || !client->secret.equals(req.client_secret)) {
        Response res = json_error(
            request, bhttp::status::unauthorized, "invalid_client", "client authentication failed");
        res.set(bhttp::field::www_authenticate, "Basic realm=\"ocean\"");
        return res;
    }
    const auto token = signer_.issue(kOceanApiAudience, client->id, req.scope, config_.token_lifetime, now());
    json::object body{{"access_token", token},
                      {"token_type", "Bearer"},
                      {"expires_in", static_cast<std::int64_t>(config_.token_lifetime.count())}};
    if (!req.scope.empty()) body["scope"] = req.scope;
    Response res = make_response(request, bhttp::status::ok, "application/json", json::serialize(body));
    res.set(bhttp::field::cache_control, "no-store");
    return res;
}

std::optional<Response> OceanApi::check_bearer(const Request& request) {
    const auto authorization = header_of(request, "Authorization");
    const auto token = auth::parse_bearer(authorization);
    std::string problem = "a Bearer token is required";
    if (token) {
        const auto verified = signer_.verify(*token, kOceanApiAudience, now());
        if (std::holds_alternative<auth::TokenClaims>(verified)) return std::nullopt;
        problem = fmt::format("invalid token: {}", auth::to_string(std::get<auth::TokenError>(verified)));
    }
    Response res = outcome_response(request, bhttp::status::unauthorized, "error", "login", problem);
    res.set(bhttp::field::www_authenticate,
            token ? "Bearer realm=\"ocean\", error=\"invalid_token\"" : "Bearer realm=\"ocean\"");
    return res;
}

Response OceanApi::process_messages(const Request& request, const RouteMatch& /*match*/) {
    UpdateRecord record;
    if (auto refused = check_bearer(request)) {
        record.outcome = UpdateOutcome::kRefused;
        record.http_status = 401;
        record.reason = "no valid Bearer token";
        updates_.add(std::move(record));
        return std::move(*refused);
    }
    UpdateReading reading = read_update_message(request.body(), state_);
    record.event = std::move(reading.event);
    record.referral_ref = std::move(reading.referral_ref);
    record.folder_before = reading.folder_before;
    if (const auto* refusal = std::get_if<UpdateRefusal>(&reading.result))
        return refuse_update(request, std::move(record), *refusal);
    const ReceiverUpdate& update = std::get<ReceiverUpdate>(reading.result);
    record.resource = update.resource;
    record.status = update.status;

    ApplyResult result;
    std::optional<ReferralView> forwarded_from;
    const bool found = state_.modify(update.referral_ref, [&](ReferralView& v) {
        apply(v, update, result);
        if (update.forward) forwarded_from = v;
    });
    if (!found) return refuse_update(request, std::move(record), unknown_referral());
    if (forwarded_from)
        state_.add_forwarded(*forwarded_from, update.forward->new_ref, update.forward->listing_ref);

    record.folder_before = result.before;
    record.folder_after = result.after;
    record.changes = result.changes;
    const bool ignored = result.ignored && result.changes.empty();
    record.outcome = ignored ? UpdateOutcome::kIgnored : UpdateOutcome::kAccepted;
    record.reason = result.warning;
    updates_.add(record);

    if (!result.changes.empty() && on_applied_) {
        AppliedUpdate applied;
        applied.referral_ref = update.referral_ref;
        applied.event = update.event;
        applied.changes = result.changes;
        applied.folder_before = result.before;
        applied.folder_after = result.after;
        applied.status = update.status;
        applied.echo_update = !(result.changes.size() == 1 && result.changes[0] == "communication");
        if (update.forward) applied.forwarded_ref = update.forward->new_ref;
        on_applied_(applied);
    }
    if (ignored)
        return outcome_response(request, bhttp::status::ok, "warning", "not-supported", result.warning);
    return outcome_response(request,
                            bhttp::status::ok,
                            "information",
                            "informational",
                            fmt::format("update applied; the referral is in {}", to_string(result.after)));
}

Response OceanApi::refuse_update(const Request& request, UpdateRecord record, const UpdateRefusal& refusal) {
    record.outcome = refusal.outcome;
    record.http_status = static_cast<int>(refusal.status);
    record.reason = fmt::format("{} ({})", refusal.diagnostics, refusal.expression);
    updates_.add(std::move(record));
    return outcome_response(
        request, refusal.status, "error", refusal.code, refusal.diagnostics, refusal.expression);
}

Response OceanApi::letter(const Request& request, const RouteMatch& match) {
    const std::string_view ref = match.segment;
    if (auto refused = check_bearer(request)) return std::move(*refused);
    if (!state_.contains(ref))
        return outcome_response(request, bhttp::status::not_found, "error", "not-found", "unknown referral");
    return make_response(
        request, bhttp::status::ok, "application/pdf", minimal_pdf(fmt::format("Referral {}", ref)));
}

Response OceanApi::binary(const Request& request, const RouteMatch& match) {
    const std::string_view id = match.segment;
    if (auto refused = check_bearer(request)) return std::move(*refused);
    const auto doc = state_.find_document(id);
    if (!doc)
        return outcome_response(request, bhttp::status::not_found, "error", "not-found", "unknown document");
    if (doc->is_letter)
        return make_response(request,
                             bhttp::status::ok,
                             "application/pdf",
                             minimal_pdf(fmt::format("Referral {}", doc->referral_ref)));
    return make_response(request, bhttp::status::ok, doc->content_type, doc->bytes);
}

Response OceanApi::naming_system(const Request& request, const RouteMatch& /*match*/) {
    // Ocean Labs calls this with its token to check connectivity and credentials (§3.7.1).
    if (auto refused = check_bearer(request)) return std::move(*refused);
    json::object body{
        {"resourceType", "NamingSystem"},
        {"id", "id-site-number"},
        {"name", "OceanSiteNumber"},
        {"status", "active"},
        {"kind", "identifier"},
        {"date", "2020-01-01"},
        {"uniqueId",
         json::array{json::object{
             {"type", "uri"},
             {"value", "https://ocean.cognisantmd.com/svc/fhir/v1/NamingSystem/id-site-number"}}}}};
    return make_response(request, bhttp::status::ok, "application/fhir+json", json::serialize(body));
}

const OceanApiSite* OceanApi::authenticated_site(const Request& request) const {
    const auto site_num = header_of(request, "siteNum");
    const auto site = std::find_if(config_.sites.begin(), config_.sites.end(), [&](const OceanApiSite& s) {
        return s.site_num == site_num;
    });
    // Check both secrets even when the first is wrong, so timing does not tell which one failed.
    const bool key_ok = site != config_.sites.end() && site->site_key.equals(header_of(request, "siteKey"));
    const bool credential_ok =
        site != config_.sites.end() && site->site_credential.equals(header_of(request, "siteCredential"));
    if (site_num.empty() || !key_ok || !credential_ok) return nullptr;
    return &*site;
}

Response OceanApi::open_api_referral(const Request& request, const RouteMatch& match) {
    const std::string_view ref = match.segment;
    const OceanApiSite* site = authenticated_site(request);
    if (site == nullptr)
        return json_error(request, bhttp::status::unauthorized, "unauthorized", "bad site credentials");
    const auto view = state_.find(ref);
    // A referral of another site is "not found" for this one: its existence is not disclosed.
    if (!view || view->site != site->site_num)
        return json_error(request, bhttp::status::not_found, "not_found", "unknown referral");

    // One OTK per referral: the patient data, every message and every attachment are encrypted under it
    // (§4.4, §7), so the patient block is exactly what seal_blocks builds, with the OTK kept for the
    // messages. It is the referral's for good: the attachment GET encrypts under it too.
    const auto otk = referral_one_time_key(view->ref);
    if (!ok(otk))
        return json_error(request, bhttp::status::internal_server_error, "server_error", "no random key");
    const auto wrapped = ocean::wrap_one_time_key(site->sek.reveal(), *ok(otk));
    // The same OTK under the site's public key (§4.4, §7), as JSBN's RSAKey.encrypt would wrap it
    // (PKCS#1 v1.5), standard base64.
    const auto rsa_key = site_rsa_key(*site);
    if (!ok(rsa_key))
        return json_error(request, bhttp::status::internal_server_error, "server_error", "no site RSA key");
    const auto rsa_wrapped = ocean::wrap_one_time_key_rsa(*ok(rsa_key), *ok(otk));
    const std::string patient = view->patient_json.empty() ? std::string("{}") : view->patient_json;
    const auto pt = ocean::encrypt_block(*ok(otk), patient);
    if (!ok(wrapped) || !ok(rsa_wrapped) || !ok(pt))
        return json_error(request, bhttp::status::internal_server_error, "server_error", "encryption failed");

    json::array conversation;
    for (const auto& m : view->communications) {
        const auto msg = ocean::encrypt_block(*ok(otk), m.text);
        if (!ok(msg))
            return json_error(
                request, bhttp::status::internal_server_error, "server_error", "encryption failed");
        conversation.emplace_back(json::object{{"ref", m.id},
                                               {"commentDate", m.at},
                                               {"siteNum", view->site},
                                               {"targetRtRef", view->listing_ref},
                                               {"showForOtherSites", true},
                                               {"encryptedMsg", block_json(*ok(msg))}});
    }
    json::array appointments;
    std::string booking_comments;
    for (const auto& b : view->appointments) {
        if (!b.instructions.empty()) booking_comments = b.instructions;
        if (b.start.empty() || b.status == "cancelled") continue;
        // [P] Wait-time type and appointment type are not in the FHIR update; WAIT_2 = the appointment.
        appointments.emplace_back(json::object{
            {"wtType", "WAIT_2"}, {"apptType", "INITIAL"}, {"date", b.start}, {"hasTime", true}});
    }
    json::array booking_files;
    for (const auto& a : open_api_attachments(view->ref))
        booking_files.emplace_back(json::object{{"fileRef", a.file_ref}, {"fileName", a.file_name}});
    json::object referral{
        {"referralRef", view->ref},
        {"referralTargetRef", view->listing_ref},
        {"externalServiceId",
         view->external_service_id.empty() ? json::value(nullptr) : json::value(view->external_service_id)},
        {"description", ""},
        {"referrer",
         json::object{{"firstName", view->referrer_first_name}, {"surname", view->referrer_surname}}},
        {"assistant", nullptr},
        {"services", json::array{}},
        {"encryptedPtData", block_json(*ok(pt))},
        {"oneTimeKeyEncryptedWithTargetPublicKey", nullptr},
        {"oneTimeKeyEncryptedWithSitePublicKey", *ok(rsa_wrapped)},
        {"oneTimeKeyEncryptedWithSiteSEK", site->rsa_only ? json::value(nullptr) : block_json(*ok(wrapped))},
        {"externalRef", nullptr},
        {"sourceExternalRef", nullptr},
        {"masterReferralRef", nullptr},
        {"master", false},
        {"creationDate", view->created_at},
        {"modificationDate", view->modified_at},
        {"sentDate", view->created_at},
        {"status", open_api_status(view->folder)},
        {"appointments", std::move(appointments)},
        {"bookingComments", booking_comments},
        {"bookingFileRefs", std::move(booking_files)},
        {"internalConversation", json::array{}},
        {"externalConversation", std::move(conversation)},
        {"communicationType", "E_REFERRAL"},
        {"cancellationReason",
         view->folder == Folder::kDeclined ? json::value(view->decline_reason) : json::value(nullptr)},
        {"srcSiteName", "Ocean Sim Referrer"},
        {"srcSiteNum", nullptr}};
    return make_response(request, bhttp::status::ok, "application/json", json::serialize(referral));
}

Response OceanApi::open_api_attachment(const Request& request, const RouteMatch& match) {
    const std::string_view ref = match.segment;
    const std::string_view file_ref = match.second;
    const OceanApiSite* site = authenticated_site(request);
    if (site == nullptr)
        return json_error(request, bhttp::status::unauthorized, "unauthorized", "bad site credentials");
    const auto view = state_.find(ref);
    // As for the referral: another site's referral is not disclosed.
    if (!view || view->site != site->site_num)
        return json_error(request, bhttp::status::not_found, "not_found", "unknown referral");
    const auto attachment = find_open_api_attachment(view->ref, file_ref);
    const auto bytes = open_api_attachment_bytes(view->ref, file_ref);
    if (!attachment || !bytes)
        return json_error(request, bhttp::status::not_found, "not_found", "unknown attachment");
    // Under the referral's own OTK (§4.3, §7): a client opens it with the key it unwrapped from the
    // referral's JSON, as it opens the patient data and the messages.
    const auto otk = referral_one_time_key(view->ref);
    if (!ok(otk))
        return json_error(request, bhttp::status::internal_server_error, "server_error", "no random key");
    const auto data = ocean::encrypt_block(*ok(otk), *bytes);
    if (!ok(data))
        return json_error(request, bhttp::status::internal_server_error, "server_error", "encryption failed");
    log::debug("Open API attachment served",
               {{"referral_ref", view->ref}, {"file_ref", attachment->file_ref}});
    const json::object body{{"contentType", attachment->content_type},
                            {"encryptedData", block_json(*ok(data))}};
    return make_response(request, bhttp::status::ok, "application/json", json::serialize(body));
}

ocean::Result<std::string> OceanApi::referral_one_time_key(std::string_view referral_ref) {
    std::lock_guard lock(otk_mutex_);
    if (const auto it = one_time_keys_.find(referral_ref); it != one_time_keys_.end()) return it->second;
    auto otk = ocean::generate_one_time_key();
    if (ok(otk)) one_time_keys_.emplace(std::string(referral_ref), *ok(otk));
    return otk;
}

ocean::Result<ocean::RsaKey> OceanApi::site_rsa_key(const OceanApiSite& site) {
    // Generated under the lock: a 2048-bit key takes tens of milliseconds, once per site and process,
    // and two first requests must not end up with different keys.
    std::lock_guard lock(rsa_mutex_);
    if (const auto it = rsa_keys_.find(site.site_num); it != rsa_keys_.end()) return it->second;
    auto key = ocean::generate_rsa_key(config_.rsa_key_bits);
    if (ok(key)) rsa_keys_.emplace(site.site_num, *ok(key));
    return key;
}

Response OceanApi::site_private_key(const Request& request, const RouteMatch& /*match*/) {
    const OceanApiSite* site = authenticated_site(request);
    if (site == nullptr)
        return json_error(request, bhttp::status::unauthorized, "unauthorized", "bad site credentials");
    const auto key = site_rsa_key(*site);
    if (!ok(key))
        return json_error(request, bhttp::status::internal_server_error, "server_error", "no site RSA key");
    // §4.3, §7: the key's JSBN fields as JSON, AES-CBC under the SEK itself (no one-time key); body =
    // the ciphertext, header `iv`. [P] The document is a list of keys (Ocean says "key(s)"); the
    // simulator's sites have one.
    const auto sealed = ocean::encrypt_site_private_key(site->sek.reveal(), {*ok(key)}, true);
    if (!ok(sealed))
        return json_error(request, bhttp::status::internal_server_error, "server_error", "encryption failed");
    Response res = make_response(request, bhttp::status::ok, "text/plain", ok(sealed)->data_b64);
    res.set("iv", ok(sealed)->iv_b64);
    return res;
}

Response OceanApi::patient(const Request& request, const RouteMatch& match) {
    const std::string_view patient_ref = match.segment;
    const OceanApiSite* site = authenticated_site(request);
    if (site == nullptr)
        return json_error(request, bhttp::status::unauthorized, "unauthorized", "bad site credentials");
    const auto view = state_.find(patient_ref);
    if (!view || view->site != site->site_num)
        return json_error(request, bhttp::status::not_found, "not_found", "unknown patient");
    boost::system::error_code ec;
    json::value demographics = json::parse(view->patient_json.empty() ? "{}" : view->patient_json, ec);
    if (ec) demographics = json::object{};
    const json::object patient{{"ref", view->ref},
                               {"siteNum", view->site},
                               {"externalPatientRef", ""},
                               {"demographics", std::move(demographics)},
                               {"cpp", json::object{{"items", json::array{}}}},
                               {"results", json::array{}}};
    // §5.2: the patient GET carries `oneTimeKey` and `iv`; one IV serves both layers.
    const auto sealed =
        ocean::seal(site->sek.reveal(), json::serialize(patient), ocean::HeaderLayout::kSharedIv);
    if (!ok(sealed))
        return json_error(request, bhttp::status::internal_server_error, "server_error", "encryption failed");
    Response res = make_response(request, bhttp::status::ok, "text/plain", ok(sealed)->ciphertext_b64);
    res.set("oneTimeKey", ok(sealed)->one_time_key_b64);
    res.set("iv", ok(sealed)->iv_b64);
    res.set("extPatientRef", "");
    return res;
}

Response OceanApi::patient_notes(const Request& request, const RouteMatch& match) {
    const std::string_view patient_ref = match.segment;
    const std::string_view query = match.query;
    const OceanApiSite* site = authenticated_site(request);
    if (site == nullptr)
        return json_error(request, bhttp::status::unauthorized, "unauthorized", "bad site credentials");
    std::string session;
    for (std::string_view rest = query; !rest.empty();) {
        const auto amp = rest.find('&');
        const std::string_view pair = rest.substr(0, amp);
        if (pair.starts_with("oceanSessionId=")) session = std::string(pair.substr(15));
        rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    }
    if (session.empty())
        return json_error(request, bhttp::status::bad_request, "bad_request", "oceanSessionId is required");
    const auto view = state_.find(patient_ref);
    if (!view || view->site != site->site_num)
        return json_error(request, bhttp::status::not_found, "not_found", "unknown patient");
    // A session of a link the simulator issued has a note once its patient completed the forms, and
    // only for that patient. Any other session is taken for one Ocean started itself: a completed PHQ-9.
    std::vector<std::string> forms{"phq9"};
    if (const auto link = writes_.link_of_session(session)) {
        if (link->patient_ref != patient_ref || link->site_num != site->site_num || !link->completed)
            return json_error(request, bhttp::status::not_found, "not_found", "no note for this session");
        forms = link->form_refs;
    }
    // As Ocean returns it (§5.2 PtUpdate): structured answers plus a rendered note.
    const std::string update = patient_note_json(forms);
    // §5.2: the notes GET carries `oneTimeKey`, `oneTimeKeyIv` and `iv`.
    const auto sealed = ocean::seal(site->sek.reveal(), update, ocean::HeaderLayout::kSeparateKeyIv);
    if (!ok(sealed))
        return json_error(request, bhttp::status::internal_server_error, "server_error", "encryption failed");
    Response res = make_response(request, bhttp::status::ok, "text/plain", ok(sealed)->ciphertext_b64);
    res.set("noteId", "note-" + session);
    res.set("oneTimeKey", ok(sealed)->one_time_key_b64);
    res.set("oneTimeKeyIv", ok(sealed)->one_time_key_iv_b64);
    res.set("iv", ok(sealed)->iv_b64);
    res.set("externalPtRef", "");
    res.set("payloadVersion", "1");
    return res;
}

}  // namespace relay::ocean_sim
