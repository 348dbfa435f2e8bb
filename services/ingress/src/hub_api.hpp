// The hub API's pure part: which update a request path names, and the canonical update request built
// from path + body + Idempotency-Key. No sockets, no Kafka here; the tests drive it directly. The
// ingress admits a hub request in ingress.cpp (route, header credentials, body limit) and handles it in
// hub_api.cpp (Ingress::handle_hub: signature, the update built with these functions, the record
// published).
//
// Routes, relative to hub_api.path_prefix (default /hub/v1):
//   POST   /referrals/{ref}/accept | decline | complete | reopen | forward | switch-type
//   POST   /referrals/{ref}/appointments                  book
//   PUT    /referrals/{ref}/appointments/{id}             change_booking
//   POST   /referrals/{ref}/appointments/{id}/cancel      cancel_booking (also DELETE .../{id})
//   POST   /referrals/{ref}/booking-instructions          booking_instructions
//   POST   /referrals/{ref}/messages                      message
//   POST   /referrals/{ref}/received                      received
//   POST   /open-api/referrals/{ref}/messages             open_api_message (Ocean's Open API)
//   POST   /open-api/referrals/{ref}/attachments          open_api_attachment
//   POST   /patients/{patientRef}/form-links              eform_link (patient_ref from the path)
//   POST   /updates                                       the full canonical request as is
//   POST   /oauth2/token                                  token endpoint of the oauth2 hub systems
// The body of a referral route is the canonical request (relay/hub/update.hpp) without referral_ref
// (patient_ref for a form link) and action (and appointment.id where the path has it): the path supplies them, and a body member
// that contradicts the path is an error naming the field.
#pragma once

#include <boost/beast/http/verb.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "relay/hub/update.hpp"

namespace relay::ingress::hubapi {

struct HubRoute {
    enum class Kind { kUpdate, kToken };
    Kind kind = Kind::kUpdate;
    /// POST /updates: the body is the whole canonical request; action and referral_ref come from it.
    bool full_request = false;
    hub::Action action = hub::Action::kAccept;  ///< from the path (not full_request)
    std::string referral_ref;                   ///< from the path, percent-decoded
    std::string patient_ref;                    ///< from the path of a form link, percent-decoded
    std::string appointment_id;                 ///< from the path where it has one
};

struct RouteMatch {
    enum class Status { kFound, kNotFound, kMethodNotAllowed };
    Status status = Status::kNotFound;
    HubRoute route;
    std::string allow;  ///< for kMethodNotAllowed: the methods the path accepts
};

/// `path` is the target below the prefix, without the query ("/referrals/R1/accept").
RouteMatch match_route(boost::beast::http::verb method, std::string_view path);

/// The metric / log name of what a route does: the action name, "update" for /updates before its
/// body is read, "token".
std::string route_label(const HubRoute& route);

struct BuildError {
    int status = 400;
    std::string code = "invalid-update";
    std::string message;
    std::vector<hub::FieldError> fields;
};

struct BuiltUpdate {
    hub::Update update;
    std::string value;                 ///< hub::to_json(update): the record value
    bool generated_update_id = false;  ///< neither the body nor Idempotency-Key gave one
};

/// Merges path, body and Idempotency-Key into the canonical request and validates it with
/// hub::parse_update. `body` empty (or only whitespace) is an empty object. `idempotency_key` empty =
/// absent. `new_id` makes the update id when none is given.
std::variant<BuiltUpdate, BuildError> build_update(const HubRoute& route,
                                                   std::string_view body,
                                                   std::string_view idempotency_key,
                                                   std::string (*new_id)());

/// {"error":{"code","message","fields":[{"field","code","message"}]}}: every hub API error answer.
std::string error_json(std::string_view code,
                       std::string_view message,
                       const std::vector<hub::FieldError>& fields = {});

/// {"update_id","referral_ref","action","status":"queued","partition","offset"}: the 202 answer.
std::string queued_json(const hub::Update& update, int partition, long long offset);

}  // namespace relay::ingress::hubapi
