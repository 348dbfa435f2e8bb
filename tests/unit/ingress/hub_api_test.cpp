// The hub API's pure part (routes, path + body + Idempotency-Key → canonical update) and its
// configuration section.
#include "hub_api.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <fstream>

#include "config.hpp"

namespace relay::ingress {
namespace {

namespace bhttp = boost::beast::http;
using hubapi::BuildError;
using hubapi::BuiltUpdate;
using hubapi::HubRoute;
using hubapi::RouteMatch;

std::string fixed_id() {
    return "generated-id-1";
}

HubRoute route_for(bhttp::verb verb, std::string_view path) {
    const auto m = hubapi::match_route(verb, path);
    EXPECT_EQ(m.status, RouteMatch::Status::kFound) << path;
    return m.route;
}

std::variant<BuiltUpdate, BuildError> build(bhttp::verb verb,
                                            std::string_view path,
                                            std::string_view body,
                                            std::string_view key = {}) {
    return hubapi::build_update(route_for(verb, path), body, key, &fixed_id);
}

boost::json::value value_of(const std::variant<BuiltUpdate, BuildError>& result) {
    if (const auto* error = std::get_if<BuildError>(&result)) {
        ADD_FAILURE() << "unexpected error: "
                      << hubapi::error_json(error->code, error->message, error->fields);
        return {};
    }
    return boost::json::parse(std::get<BuiltUpdate>(result).value);
}

std::vector<std::string> error_fields(const std::variant<BuiltUpdate, BuildError>& result) {
    std::vector<std::string> out;
    const auto* error = std::get_if<BuildError>(&result);
    if (error == nullptr) {
        ADD_FAILURE() << "expected an error, got " << std::get<BuiltUpdate>(result).value;
        return out;
    }
    EXPECT_EQ(error->status, 400);
    EXPECT_EQ(error->code, "invalid-update");
    for (const auto& f : error->fields) out.push_back(f.field + ":" + f.code);
    return out;
}

TEST(HubApiRoutes, EveryEndpointNamesItsAction) {
    struct Case {
        bhttp::verb verb;
        std::string path;
        hub::Action action;
        std::string appointment;
    };
    const std::vector<Case> cases = {
        {bhttp::verb::post, "/referrals/R1/accept", hub::Action::kAccept, ""},
        {bhttp::verb::post, "/referrals/R1/decline", hub::Action::kDecline, ""},
        {bhttp::verb::post, "/referrals/R1/complete", hub::Action::kComplete, ""},
        {bhttp::verb::post, "/referrals/R1/reopen", hub::Action::kReopen, ""},
        {bhttp::verb::post, "/referrals/R1/forward", hub::Action::kForward, ""},
        {bhttp::verb::post, "/referrals/R1/switch-type", hub::Action::kSwitchType, ""},
        {bhttp::verb::post, "/referrals/R1/received", hub::Action::kReceived, ""},
        {bhttp::verb::post, "/referrals/R1/appointments", hub::Action::kBook, ""},
        {bhttp::verb::put, "/referrals/R1/appointments/appt-1", hub::Action::kChangeBooking, "appt-1"},
        {bhttp::verb::post,
         "/referrals/R1/appointments/appt-1/cancel",
         hub::Action::kCancelBooking,
         "appt-1"},
        {bhttp::verb::delete_, "/referrals/R1/appointments/appt-1", hub::Action::kCancelBooking, "appt-1"},
        {bhttp::verb::post, "/referrals/R1/booking-instructions", hub::Action::kBookingInstructions, ""},
        {bhttp::verb::post, "/referrals/R1/messages", hub::Action::kMessage, ""},
    };
    for (const auto& c : cases) {
        const auto m = hubapi::match_route(c.verb, c.path);
        ASSERT_EQ(m.status, RouteMatch::Status::kFound) << c.path;
        EXPECT_FALSE(m.route.full_request);
        EXPECT_EQ(m.route.action, c.action) << c.path;
        EXPECT_EQ(m.route.referral_ref, "R1");
        EXPECT_EQ(m.route.appointment_id, c.appointment);
    }
    const auto full = hubapi::match_route(bhttp::verb::post, "/updates");
    ASSERT_EQ(full.status, RouteMatch::Status::kFound);
    EXPECT_TRUE(full.route.full_request);
    EXPECT_EQ(hubapi::match_route(bhttp::verb::post, "/oauth2/token").route.kind, HubRoute::Kind::kToken);
    // Percent-encoded refs are decoded.
    EXPECT_EQ(route_for(bhttp::verb::post, "/referrals/a%3Ab/accept").referral_ref, "a:b");
}

TEST(HubApiRoutes, OpenApiRoutesNameTheirActionAndSubject) {
    auto m = hubapi::match_route(bhttp::verb::post, "/open-api/referrals/R1/messages");
    ASSERT_EQ(m.status, RouteMatch::Status::kFound);
    EXPECT_EQ(m.route.action, hub::Action::kOpenApiMessage);
    EXPECT_EQ(m.route.referral_ref, "R1");
    m = hubapi::match_route(bhttp::verb::post, "/open-api/referrals/a%3Ab/attachments");
    ASSERT_EQ(m.status, RouteMatch::Status::kFound);
    EXPECT_EQ(m.route.action, hub::Action::kOpenApiAttachment);
    EXPECT_EQ(m.route.referral_ref, "a:b");
    m = hubapi::match_route(bhttp::verb::post, "/patients/690/form-links");
    ASSERT_EQ(m.status, RouteMatch::Status::kFound);
    EXPECT_EQ(m.route.action, hub::Action::kEformLink);
    EXPECT_EQ(m.route.patient_ref, "690");
    EXPECT_TRUE(m.route.referral_ref.empty());
    EXPECT_EQ(hubapi::match_route(bhttp::verb::get, "/patients/690/form-links").allow, "POST");
    EXPECT_EQ(hubapi::match_route(bhttp::verb::put, "/open-api/referrals/R1/messages").allow, "POST");
    for (const std::string path : {"/open-api/referrals/R1", "/open-api/referrals/R1/accept", "/open-api/R1/messages",
                                   "/patients/690", "/patients//form-links", "/patients/%2F/form-links"}) {
        EXPECT_EQ(hubapi::match_route(bhttp::verb::post, path).status, RouteMatch::Status::kNotFound) << path;
    }
}

TEST(HubApiBuild, OpenApiRequestsTakeTheirSubjectFromThePath) {
    auto v = value_of(build(bhttp::verb::post,
                            "/patients/690/form-links",
                            R"({"update_id":"l1","site":"1234","form_refs":["phq9"],"expiry_hours":24})"));
    EXPECT_EQ(v,
              boost::json::parse(
                  R"({"update_id":"l1","action":"eform_link","site":"1234","patient_ref":"690","form_refs":["phq9"],"expiry_hours":24})"));
    EXPECT_EQ(error_fields(build(bhttp::verb::post, "/patients/690/form-links", R"({"patient_ref":"691","form_refs":["a"]})")),
              (std::vector<std::string>{"patient_ref:conflict"}));
    EXPECT_EQ(error_fields(build(bhttp::verb::post, "/patients/690/form-links", R"({"referral_ref":"R1","form_refs":["a"]})")),
              (std::vector<std::string>{"referral_ref:not-allowed"}));
    v = value_of(build(bhttp::verb::post,
                       "/open-api/referrals/R-5/attachments",
                       R"({"update_id":"a1","attachment":{"content_type":"application/pdf","data":"JVBERi0xLjQK"}})"));
    EXPECT_EQ(v.at("action"), "open_api_attachment");
    EXPECT_EQ(v.at("referral_ref"), "R-5");
    const auto built = std::get<BuiltUpdate>(
        build(bhttp::verb::post, "/open-api/referrals/R-5/messages", R"({"update_id":"m1","text":"hello"})"));
    EXPECT_EQ(built.update.action, hub::Action::kOpenApiMessage);
    const auto queued = boost::json::parse(hubapi::queued_json(std::get<BuiltUpdate>(build(bhttp::verb::post,
                                                                                          "/patients/690/form-links",
                                                                                          R"({"form_refs":["a"]})"))
                                                                   .update,
                                                               1,
                                                               7));
    EXPECT_EQ(queued.at("patient_ref"), "690");
    EXPECT_FALSE(queued.as_object().contains("referral_ref"));
}

TEST(HubApiRoutes, UnknownPathsAre404AndWrongMethods405WithAllow) {
    for (const std::string path : {"",
                                   "/",
                                   "/referrals",
                                   "/referrals/R1",
                                   "/referrals/R1/approve",
                                   "/referrals//accept",
                                   "/referrals/R1/accept/",
                                   "/referrals/R1/appointments/a/b",
                                   "/referrals/%2F/accept",
                                   "/referrals/%zz/accept",
                                   "/nope"}) {
        EXPECT_EQ(hubapi::match_route(bhttp::verb::post, path).status, RouteMatch::Status::kNotFound) << path;
    }
    auto m = hubapi::match_route(bhttp::verb::get, "/referrals/R1/accept");
    EXPECT_EQ(m.status, RouteMatch::Status::kMethodNotAllowed);
    EXPECT_EQ(m.allow, "POST");
    m = hubapi::match_route(bhttp::verb::post, "/referrals/R1/appointments/a1");
    EXPECT_EQ(m.status, RouteMatch::Status::kMethodNotAllowed);
    EXPECT_EQ(m.allow, "PUT, DELETE");
    EXPECT_EQ(hubapi::match_route(bhttp::verb::get, "/updates").allow, "POST");
}

TEST(HubApiBuild, PathSuppliesReferralAndActionAndTheValueIsCanonical) {
    auto v = value_of(
        build(bhttp::verb::post, "/referrals/R-9/accept", R"({"update_id":"u1","import_to_emr":true})"));
    EXPECT_EQ(v,
              boost::json::parse(
                  R"({"update_id":"u1","referral_ref":"R-9","action":"accept","import_to_emr":true})"));
    // The value is hub::to_json's bytes: members in the documented order.
    const auto built = std::get<BuiltUpdate>(build(
        bhttp::verb::post, "/referrals/R-9/decline", R"({"reason":"not our service","update_id":"u2"})"));
    EXPECT_EQ(built.value, hub::to_json(built.update));
    EXPECT_EQ(built.update.reason, "not our service");
}

TEST(HubApiBuild, AppointmentIdComesFromThePath) {
    auto v = value_of(build(bhttp::verb::put,
                            "/referrals/R1/appointments/appt-7",
                            R"({"update_id":"u3","appointment":{"start":"2026-01-05T09:00:00-05:00",)"
                            R"("end":"2026-01-05T09:30:00-05:00","confirmed":true}})"));
    EXPECT_EQ(v.at("action"), "change_booking");
    EXPECT_EQ(v.at("appointment").at("id"), "appt-7");
    v = value_of(build(bhttp::verb::delete_, "/referrals/R1/appointments/appt-7", "", "key-1"));
    EXPECT_EQ(v,
              boost::json::parse(R"({"update_id":"key-1","referral_ref":"R1","action":"cancel_booking",)"
                                 R"("appointment":{"id":"appt-7"}})"));
    v = value_of(build(bhttp::verb::post,
                       "/referrals/R1/appointments/appt-7/cancel",
                       R"({"update_id":"u4","reason":"patient asked","appointment":{"id":"appt-7"}})"));
    EXPECT_EQ(v.at("reason"), "patient asked");
}

TEST(HubApiBuild, ABodyContradictingThePathIsAnErrorNamingTheField) {
    EXPECT_EQ(error_fields(build(
                  bhttp::verb::post, "/referrals/R1/accept", R"({"update_id":"u","referral_ref":"R2"})")),
              std::vector<std::string>{"referral_ref:conflict"});
    EXPECT_EQ(error_fields(build(
                  bhttp::verb::post, "/referrals/R1/accept", R"({"update_id":"u","action":"decline"})")),
              std::vector<std::string>{"action:conflict"});
    EXPECT_EQ(error_fields(build(bhttp::verb::post,
                                 "/referrals/R1/appointments/a1/cancel",
                                 R"({"update_id":"u","appointment":{"id":"a2"}})")),
              std::vector<std::string>{"appointment.id:conflict"});
    // Agreeing members are fine.
    value_of(build(bhttp::verb::post,
                   "/referrals/R1/accept",
                   R"({"update_id":"u","referral_ref":"R1","action":"accept"})"));
}

TEST(HubApiBuild, UpdateIdFromBodyElseIdempotencyKeyElseGenerated) {
    auto built = std::get<BuiltUpdate>(build(bhttp::verb::post, "/referrals/R1/complete", "", "idem-42"));
    EXPECT_EQ(built.update.update_id, "idem-42");
    EXPECT_FALSE(built.generated_update_id);
    built = std::get<BuiltUpdate>(build(bhttp::verb::post, "/referrals/R1/complete", "  "));
    EXPECT_EQ(built.update.update_id, "generated-id-1");
    EXPECT_TRUE(built.generated_update_id);
    built = std::get<BuiltUpdate>(
        build(bhttp::verb::post, "/referrals/R1/complete", R"({"update_id":"same"})", "same"));
    EXPECT_EQ(built.update.update_id, "same");
    EXPECT_EQ(error_fields(build(bhttp::verb::post, "/referrals/R1/complete", R"({"update_id":"a"})", "b")),
              std::vector<std::string>{"update_id:conflict"});
    EXPECT_EQ(error_fields(build(bhttp::verb::post, "/referrals/R1/complete", "", "bad key!")),
              std::vector<std::string>{"Idempotency-Key:format"});
}

TEST(HubApiBuild, ValidationErrorsNameTheFieldNeverTheValue) {
    const auto result = build(
        bhttp::verb::post,
        "/referrals/R1/appointments",
        R"({"update_id":"u","appointment":{"start":"Jane Doe 1970","end":"2026-01-05T09:30:00Z"},"colour":"crimson-77"})");
    const auto fields = error_fields(result);
    EXPECT_NE(std::find(fields.begin(), fields.end(), "appointment.start:format"), fields.end());
    EXPECT_NE(std::find(fields.begin(), fields.end(), "appointment.confirmed:required"), fields.end());
    // An unknown member's name is the caller's text: named by its kind, never repeated.
    EXPECT_NE(std::find(fields.begin(), fields.end(), "(unknown member):unknown"), fields.end());
    const auto& error = std::get<BuildError>(result);
    const std::string text = hubapi::error_json(error.code, error.message, error.fields);
    EXPECT_EQ(text.find("Jane"), std::string::npos);
    EXPECT_EQ(text.find("crimson"), std::string::npos);
    EXPECT_EQ(text.find("colour"), std::string::npos);
    EXPECT_EQ(error_fields(build(bhttp::verb::post, "/referrals/R1/decline", R"({"update_id":"u"})")),
              std::vector<std::string>{"reason:required"});
    EXPECT_EQ(error_fields(build(bhttp::verb::post, "/referrals/R1/accept", "[1]")),
              std::vector<std::string>{"$:type"});
    EXPECT_EQ(error_fields(build(bhttp::verb::post, "/referrals/R1/accept", "{")),
              std::vector<std::string>{"$:json"});
    // A ref the format refuses, from the path.
    EXPECT_EQ(error_fields(build(bhttp::verb::post, "/referrals/a%20b/accept", "")),
              std::vector<std::string>{"referral_ref:format"});
}

TEST(HubApiBuild, FullRequestIsTakenAsIs) {
    const std::string body =
        R"({"update_id":"u9","referral_ref":"R5","action":"message","site":"1234","text":"hello"})";
    auto v = value_of(build(bhttp::verb::post, "/updates", body));
    EXPECT_EQ(v, boost::json::parse(body));
    EXPECT_EQ(error_fields(build(bhttp::verb::post, "/updates", R"({"update_id":"u9"})")),
              (std::vector<std::string>{"referral_ref:required", "action:required"}));
}

TEST(HubApiBuild, ErrorAndQueuedAnswersHaveTheDocumentedShape) {
    EXPECT_EQ(hubapi::error_json("not-found", "x"),
              R"({"error":{"code":"not-found","message":"x","fields":[]}})");
    hub::Update u;
    u.update_id = "u1";
    u.referral_ref = "R1";
    u.action = hub::Action::kBook;
    EXPECT_EQ(
        hubapi::queued_json(u, 3, 42),
        R"({"update_id":"u1","referral_ref":"R1","action":"book","status":"queued","partition":3,"offset":42})");
}

// --- configuration -------------------------------------------------------------------------------

IngressConfig parse(const std::string& yaml) {
    auto reader = ConfigReader::from_string(
        yaml, "RELAY_TEST_UNUSED", [](const std::string&) { return std::optional<std::string>(); });
    return load_config(reader);
}

const std::string kBase = R"(
kafka: {embedded: true}
auth: {token_signing_key: {value: "0123456789abcdef0123456789abcdef-key"}}
integrations: [{site: "1234"}]
)";

std::string config_error(const std::string& yaml) {
    try {
        parse(yaml);
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "no error";
}

TEST(HubApiConfig, AbsentMeansNoHubApi) {
    const auto config = parse(kBase);
    EXPECT_FALSE(config.hub_api.has_value());
    EXPECT_EQ(config.topics(), std::vector<std::string>{"ocean.inbound.v1"});
}

TEST(HubApiConfig, DefaultsAndSystems) {
    const auto config = parse(kBase + R"(
topics: {prefix: "stage."}
hub_api:
  systems:
    - name: emr-a
      auth: {scheme: api_key, header: X-Api-Key, key: {value: "k-123"}}
      sites: ["1234", "5678"]
    - name: intake
      auth:
        scheme: oauth2
        clients: [{client_id: intake-client, client_secret: {value: "s"}}]
)");
    ASSERT_TRUE(config.hub_api.has_value());
    const auto& hub = *config.hub_api;
    EXPECT_EQ(hub.path_prefix, "/hub/v1");
    EXPECT_EQ(hub.topic, "stage.relay.updates.v1");
    EXPECT_EQ(hub.max_body_bytes, 8ULL << 20);
    EXPECT_EQ(hub.token_path(), "/hub/v1/oauth2/token");
    ASSERT_EQ(hub.systems.size(), 2U);
    EXPECT_EQ(hub.systems[0].name, "emr-a");
    EXPECT_EQ(hub.systems[0].auth.scheme, auth::Scheme::kApiKey);
    EXPECT_EQ(hub.systems[0].sites, (std::vector<std::string>{"1234", "5678"}));
    EXPECT_TRUE(hub.systems[1].sites.empty());
    EXPECT_EQ(hub.open_api_topic, "stage.relay.openapi.requests.v1");
    EXPECT_EQ(config.topics(),
              (std::vector<std::string>{
                  "stage.ocean.inbound.v1", "stage.relay.updates.v1", "stage.relay.openapi.requests.v1"}));
    const auto specs = config.hub_topic_specs();
    ASSERT_EQ(specs.size(), 2U);
    EXPECT_EQ(specs[0].name, "stage.relay.updates.v1");
    EXPECT_EQ(specs[1].name, "stage.relay.openapi.requests.v1");
}

TEST(HubApiConfig, OpenApiRequestsCanBeTurnedOff) {
    const std::string system = "  systems: [{name: a, auth: {scheme: bearer, token: {value: t}}}]\n";
    const auto config = parse(kBase + "hub_api:\n  open_api_topic: \"\"\n" + system);
    ASSERT_TRUE(config.hub_api.has_value());
    EXPECT_TRUE(config.hub_api->open_api_topic.empty());
    EXPECT_EQ(config.topics(), (std::vector<std::string>{"ocean.inbound.v1", "relay.updates.v1"}));
    EXPECT_NE(config_error(kBase + "hub_api:\n  open_api_topic: relay.updates.v1\n" + system).find("hub_api.open_api_topic"),
              std::string::npos);
    EXPECT_NE(config_error(kBase + "hub_api:\n  open_api_topic: 'bad topic'\n" + system).find("hub_api.open_api_topic"),
              std::string::npos);
}

TEST(HubApiConfig, MistakesNameTheKey) {
    const std::string system = "  systems: [{name: a, auth: {scheme: bearer, token: {value: t}}}]\n";
    EXPECT_NE(config_error(kBase + "hub_api:\n  colour: red\n" + system).find("hub_api.colour"),
              std::string::npos);
    EXPECT_NE(config_error(kBase + "hub_api:\n  systems: [{name: a, auth: {scheme: none}, "
                                   "allow_unauthenticated: true, site: ['1']}]\n")
                  .find("hub_api.systems[0].site"),
              std::string::npos);
    EXPECT_NE(config_error(kBase + "hub_api:\n  systems: []\n").find("hub_api.systems"), std::string::npos);
    // A system without credentials would take anyone's updates: refused unless asked for by name.
    EXPECT_NE(config_error(kBase + "hub_api:\n  systems: [{name: a}]\n").find("hub_api.systems[0].auth"),
              std::string::npos);
    EXPECT_NE(config_error(kBase + "hub_api:\n  systems: [{name: a, auth: {scheme: none}}]\n")
                  .find("allow_unauthenticated"),
              std::string::npos);
    EXPECT_NE(config_error(kBase + "hub_api:\n  systems: [{name: A_B, auth: {scheme: none}}]\n")
                  .find("hub_api.systems[0].name"),
              std::string::npos);
    EXPECT_NE(config_error(kBase + "hub_api:\n  systems: [{name: a, auth: {scheme: none}, "
                                   "allow_unauthenticated: true, sites: [abc]}]\n")
                  .find("hub_api.systems[0].sites"),
              std::string::npos);
    EXPECT_NE(config_error(kBase + "hub_api:\n  path_prefix: hub\n" + system).find("hub_api.path_prefix"),
              std::string::npos);
    EXPECT_NE(config_error(kBase + "hub_api:\n  path_prefix: /ocean\n" + system).find("hub_api.path_prefix"),
              std::string::npos);
    EXPECT_NE(
        config_error(kBase + "hub_api:\n  max_body_bytes: 64MiB\n" + system).find("hub_api.max_body_bytes"),
        std::string::npos);
    EXPECT_NE(config_error(kBase + "hub_api:\n  topic: ocean.inbound.v1\n" + system).find("hub_api.topic"),
              std::string::npos);
    const std::string two_oauth = R"(hub_api:
  systems:
    - {name: a, auth: {scheme: oauth2, clients: [{client_id: same, client_secret: {value: s}}]}}
    - {name: b, auth: {scheme: oauth2, clients: [{client_id: same, client_secret: {value: t}}]}}
)";
    EXPECT_NE(config_error(kBase + two_oauth).find("hub_api.systems[1].auth"), std::string::npos);
    const std::string no_key = R"(
kafka: {embedded: true}
integrations: [{site: "1234"}]
hub_api:
  systems: [{name: a, auth: {scheme: oauth2, clients: [{client_id: c, client_secret: {value: s}}]}}]
)";
    EXPECT_NE(config_error(no_key).find("auth.token_signing_key"), std::string::npos);
}

}  // namespace
}  // namespace relay::ingress

namespace relay::ingress {
namespace {

// The commented hub_api section of the example configuration is valid once uncommented.
TEST(HubApiConfig, TheExampleSectionLoadsWhenUncommented) {
    std::ifstream in(std::string(RELAY_SOURCE_DIR) + "/services/ingress/config/ingress.example.yaml");
    ASSERT_TRUE(in);
    std::string yaml, line;
    bool in_section = false;
    while (std::getline(in, line)) {
        if (line.rfind("# hub_api:", 0) == 0) in_section = true;
        if (in_section && line.rfind("# ", 0) == 0) line = line.substr(2);
        yaml += line + '\n';
    }
    ASSERT_TRUE(in_section);
    for (const char* name : {"RELAY_TOKEN_SIGNING_KEY",
                             "RELAY_SITE_1234_CLIENT_SECRET",
                             "RELAY_SITE_5678_PASSWORD",
                             "RELAY_SITE_1234_OPENAPI_KEY",
                             "RELAY_HUB_EMR_EAST_KEY",
                             "RELAY_HUB_INTAKE_SECRET"}) {
        ::setenv(name, "an-example-secret-of-at-least-32-bytes-long", 1);
    }
    auto reader = ConfigReader::from_string(
        yaml, "RELAY", [](const std::string&) { return std::optional<std::string>(); });
    const auto config = load_config(reader);
    ASSERT_TRUE(config.hub_api.has_value());
    EXPECT_EQ(config.hub_api->path_prefix, "/hub/v1");
    EXPECT_EQ(config.hub_api->topic, "relay.updates.v1");
    EXPECT_EQ(config.hub_api->max_body_bytes, 8ULL << 20);
    ASSERT_EQ(config.hub_api->systems.size(), 2U);
    EXPECT_EQ(config.hub_api->systems[0].sites, std::vector<std::string>{"1234"});
    EXPECT_EQ(config.hub_api->systems[1].auth.scheme, auth::Scheme::kOAuth2);
}

}  // namespace
}  // namespace relay::ingress
