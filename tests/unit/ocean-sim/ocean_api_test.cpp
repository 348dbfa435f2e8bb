// OceanApi over real loopback sockets: a relay::http::Server on 127.0.0.1:0 with the simulator's
// handler, driven by relay::http::BlockingClient as an integration would drive Ocean.
#include "ocean_api.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "generator.hpp"
#include "referral_attachments.hpp"
#include "referral_state.hpp"
#include "relay/core/encoding.hpp"
#include "relay/http/client.hpp"
#include "relay/ocean/crypto.hpp"
#include "relay/ocean/rsa.hpp"
#include "sim_config.hpp"

namespace {

namespace json = boost::json;
using namespace relay::ocean_sim;
using relay::Secret;

constexpr std::string_view kClientId = "ocean-sim-client-0123456789abcdef0123";
constexpr std::string_view kClientSecret = "ocean-sim-secret-0123456789abcdef0123";
constexpr std::string_view kSite = "4321";
constexpr std::string_view kListing = "harbourfront_clinic-73632721";
constexpr std::string_view kOtherListing = "lakeside_clinic-11112222";
constexpr std::string_view kSiteKey = "site-key-abc";
constexpr std::string_view kSiteCredential = "site-credential-xyz";
constexpr std::string_view kSek = "0123456789abcdef";
constexpr std::string_view kEventCodeSystem = "https://ehealthontario.ca/fhir/CodeSystem/message-event-code";

std::string str(const json::value& v) {
    return v.is_string() ? std::string(v.as_string()) : json::serialize(v);
}

json::object reference(std::string_view type, std::string_view id) {
    return json::object{{"reference", std::string(type) + "/" + std::string(id)}};
}

json::object task(std::string_view status, std::string_view reason = {}) {
    json::object t{{"resourceType", "Task"},
                   {"id", "task-1"},
                   {"status", status},
                   {"intent", "order"},
                   {"code",
                    json::object{{"coding",
                                  json::array{json::object{
                                      {"system", "http://terminology.hl7.org/CodeSystem/v3-TaskOutcome"},
                                      {"code", "process-request"}}}}}}};
    if (!reason.empty()) t["statusReason"] = json::object{{"text", reason}};
    return t;
}

json::object appointment(std::string_view participant_status, std::string_view status = "booked") {
    return json::object{{"resourceType", "Appointment"},
                        {"id", "appt-1"},
                        {"status", status},
                        {"start", "2026-12-01T09:30:00-05:00"},
                        {"end", "2026-12-01T10:00:00-05:00"},
                        {"participant",
                         json::array{json::object{{"actor", reference("Patient", "p1")},
                                                  {"required", "required"},
                                                  {"status", participant_status}}}}};
}

json::object communication(std::string_view text) {
    return json::object{{"resourceType", "Communication"},
                        {"id", "comm-1"},
                        {"status", "completed"},
                        {"payload", json::array{json::object{{"contentString", text}}}}};
}

/// A receiver's update message (§3.7.2): MessageHeader first, then `focus`, then `extra` entries.
std::string update_bundle(std::string_view event,
                          std::string_view referral_ref,
                          const json::object& focus,
                          const json::array& extra = {},
                          const json::object& author = {}) {
    json::object header{
        {"resourceType", "MessageHeader"},
        {"id", "mh-1"},
        {"extension",
         json::array{json::object{
             {"url", "http://ehealthontario.ca/fhir/StructureDefinition/ext-referral-identifier"},
             {"valueIdentifier",
              json::object{
                  {"system", "https://ocean.cognisantmd.com/svc/fhir/v1/NamingSystem/id-ereferral-reference"},
                  {"value", referral_ref}}}}}},
        {"eventCoding", json::object{{"system", kEventCodeSystem}, {"code", event}}},
        {"sender", json::object{{"reference", "Organization/ocean-relay"}}},
        {"source",
         json::object{{"name", "ocean-relay"}, {"endpoint", "https://relay.example/fhir/$process-message"}}},
        {"focus", json::array{reference(focus.at("resourceType").as_string(), focus.at("id").as_string())}}};
    if (!author.empty()) header["author"] = author;
    json::array entries{json::object{{"fullUrl", "urn:uuid:mh-1"}, {"resource", header}},
                        json::object{{"resource", focus}}};
    for (const auto& e : extra) entries.push_back(json::object{{"resource", e}});
    return json::serialize(json::object{{"resourceType", "Bundle"}, {"type", "message"}, {"entry", entries}});
}

class OceanApiTest : public ::testing::Test {
   protected:
    void SetUp() override {
        OceanApiConfig config;
        config.clients.push_back({std::string(kClientId), Secret::from_value(std::string(kClientSecret))});
        config.signing_key = Secret::from_value("ocean-sim-test-signing-key-0123456789");
        config.token_lifetime = std::chrono::seconds(300);
        config.sites.push_back({std::string(kSite),
                                Secret::from_value(std::string(kSiteKey)),
                                Secret::from_value(std::string(kSiteCredential)),
                                Secret::from_value(std::string(kSek))});
        config.clock = [this] { return relay::system_now() + std::chrono::seconds(clock_offset_.load()); };
        config.rsa_key_bits = 1024;  // generation time; the library's tests cover 2048
        configure(config);
        api_ = std::make_unique<OceanApi>(std::move(config), state_);
        api_->on_applied([this](const AppliedUpdate& update) {
            std::lock_guard lock(mutex_);
            applied_.push_back(update);
        });

        ReferralSpec spec;
        spec.seed = 7;
        spec.site_number = std::string(kSite);
        spec.listing_ref = std::string(kListing);
        spec.request_url = "https://relay.example/ocean/fhir/$process-message";
        spec.attachment_bytes = 100;
        sent_ = generate(spec);
        state_.record_sent(sent_, kListing, kSite);

        relay::http::ListenerConfig listener;
        listener.address = "127.0.0.1";
        listener.port = 0;
        server_ = std::make_unique<relay::http::Server>(ioc_, listener, api_->handler());
        server_->start();
        thread_ = std::thread([this] { ioc_.run(); });
        client_ = std::make_unique<relay::http::BlockingClient>("127.0.0.1", server_->port());
    }

    /// Adjusts the configuration before the API is built (subclasses).
    virtual void configure(OceanApiConfig& /*config*/) {}

    void TearDown() override {
        client_.reset();
        ioc_.stop();
        thread_.join();
        server_.reset();
    }

    std::string token() {
        const auto res = client_->post("/svc/oauth2/token",
                                       "grant_type=client_credentials&client_id=" + std::string(kClientId) +
                                           "&client_secret=" + std::string(kClientSecret),
                                       "application/x-www-form-urlencoded");
        EXPECT_EQ(res.result_int(), 200u) << res.body();
        return std::string(json::parse(res.body()).at("access_token").as_string());
    }

    relay::http::ClientResponse post_update(const std::string& body) {
        return client_->post("/svc/fhir/v1/$process-messages",
                             body,
                             "application/fhir+json",
                             {{"Authorization", "Bearer " + token()}});
    }

    Folder folder() { return state_.find(sent_.referral_ref)->folder; }

    std::vector<AppliedUpdate> applied() {
        std::lock_guard lock(mutex_);
        return applied_;
    }

    /// The ids of the generated bundle's DocumentReferences: the letter first, then the attachment.
    std::vector<std::pair<std::string, std::string>> documents() {
        std::vector<std::pair<std::string, std::string>> out;
        const json::value bundle = json::parse(sent_.body);  // outlives the loop
        for (const auto& e : bundle.at("entry").as_array()) {
            const auto& r = e.at("resource").as_object();
            if (r.at("resourceType") != "DocumentReference") continue;
            const auto& a = r.at("content").as_array()[0].at("attachment").as_object();
            std::string id(e.at("fullUrl").as_string());  // v0.11: no id, urn:uuid:<id>
            out.emplace_back(id.substr(id.rfind(':') + 1),
                             a.contains("data") ? std::string(a.at("data").as_string()) : std::string());
        }
        return out;
    }

    std::string patient_given_name() {
        const json::value bundle = json::parse(sent_.body);  // outlives the loop
        for (const auto& e : bundle.at("entry").as_array()) {
            const auto& r = e.at("resource").as_object();
            if (r.at("resourceType") == "Patient")
                return std::string(r.at("name").as_array()[0].at("given").as_array()[0].as_string());
        }
        return {};
    }

    boost::asio::io_context ioc_;
    ReferralState state_;
    std::unique_ptr<OceanApi> api_;
    std::unique_ptr<relay::http::Server> server_;
    std::thread thread_;
    std::unique_ptr<relay::http::BlockingClient> client_;
    GeneratedReferral sent_;
    std::atomic<long long> clock_offset_{0};
    std::mutex mutex_;
    std::vector<AppliedUpdate> applied_;
};

// ---- token endpoint (§3.7.1)

TEST_F(OceanApiTest, TokenViaFormFields) {
    const auto res = client_->post("/svc/oauth2/token",
                                   "grant_type=client_credentials&client_id=" + std::string(kClientId) +
                                       "&client_secret=" + std::string(kClientSecret),
                                   "application/x-www-form-urlencoded");
    ASSERT_EQ(res.result_int(), 200u) << res.body();
    const auto body = json::parse(res.body()).as_object();
    EXPECT_FALSE(body.at("access_token").as_string().empty());
    EXPECT_EQ(str(body.at("token_type")), "Bearer");
    EXPECT_EQ(body.at("expires_in").to_number<long long>(), 300);
}

TEST_F(OceanApiTest, TokenViaBasicWithGrantTypeInQuery) {
    const auto basic = relay::base64_encode(std::string(kClientId) + ":" + std::string(kClientSecret));
    const auto res = client_->post("/svc/oauth2/token?grant_type=client_credentials",
                                   "",
                                   "application/x-www-form-urlencoded;charset=UTF-8",
                                   {{"Authorization", "Basic " + basic}});
    ASSERT_EQ(res.result_int(), 200u) << res.body();
    EXPECT_EQ(str(json::parse(res.body()).at("token_type")), "Bearer");
}

TEST_F(OceanApiTest, BadSecretIs401) {
    const auto res = client_->post(
        "/svc/oauth2/token",
        "grant_type=client_credentials&client_id=" + std::string(kClientId) + "&client_secret=wrong",
        "application/x-www-form-urlencoded");
    EXPECT_EQ(res.result_int(), 401u);
    EXPECT_EQ(str(json::parse(res.body()).at("error")), "invalid_client");
}

TEST_F(OceanApiTest, ExpiredTokenIs401) {
    const auto bearer = token();
    clock_offset_ = 3600;  // well past lifetime + leeway
    const auto res =
        client_->post("/svc/fhir/v1/$process-messages",
                      update_bundle("notify-update-process-request", sent_.referral_ref, task("accepted")),
                      "application/fhir+json",
                      {{"Authorization", "Bearer " + bearer}});
    EXPECT_EQ(res.result_int(), 401u);
    EXPECT_NE(res.body().find("expired"), std::string::npos) << res.body();
    EXPECT_EQ(folder(), Folder::kNew);
}

TEST_F(OceanApiTest, MissingTokenIs401) {
    const auto res =
        client_->post("/svc/fhir/v1/$process-messages",
                      update_bundle("notify-update-process-request", sent_.referral_ref, task("accepted")),
                      "application/fhir+json");
    EXPECT_EQ(res.result_int(), 401u);
}

// ---- status updates (§3.6)

TEST_F(OceanApiTest, AcceptMovesToPendingBookingAndCallsTheEchoHook) {
    const auto res =
        post_update(update_bundle("notify-update-process-request", sent_.referral_ref, task("accepted")));
    ASSERT_EQ(res.result_int(), 200u) << res.body();
    EXPECT_NE(res.body().find("information"), std::string::npos);
    EXPECT_EQ(folder(), Folder::kPendingBooking);
    const auto hooks = applied();
    ASSERT_EQ(hooks.size(), 1u);
    EXPECT_EQ(hooks[0].referral_ref, sent_.referral_ref);
    EXPECT_EQ(hooks[0].folder_before, Folder::kNew);
    EXPECT_EQ(hooks[0].folder_after, Folder::kPendingBooking);
    EXPECT_TRUE(hooks[0].echo_update);
}

TEST_F(OceanApiTest, DeclineWithReasonThenReopen) {
    auto res = post_update(
        update_bundle("notify-update-process-request", sent_.referral_ref, task("rejected", "Out of scope")));
    ASSERT_EQ(res.result_int(), 200u) << res.body();
    auto view = state_.find(sent_.referral_ref);
    EXPECT_EQ(view->folder, Folder::kDeclined);
    EXPECT_EQ(view->decline_reason, "Out of scope");

    res = post_update(update_bundle("notify-update-process-request", sent_.referral_ref, task("accepted")));
    ASSERT_EQ(res.result_int(), 200u) << res.body();
    view = state_.find(sent_.referral_ref);
    EXPECT_EQ(view->folder, Folder::kPendingBooking);
    EXPECT_TRUE(view->decline_reason.empty());
    const auto hooks = applied();
    ASSERT_EQ(hooks.size(), 2u);
    EXPECT_EQ(hooks[1].changes, std::vector<std::string>{"reopen"});
}

TEST_F(OceanApiTest, CancelledTaskIsADecline) {
    ASSERT_EQ(post_update(update_bundle(
                              "notify-update-process-request", sent_.referral_ref, task("cancelled", "dup")))
                  .result_int(),
              200u);
    EXPECT_EQ(folder(), Folder::kDeclined);
}

TEST_F(OceanApiTest, Completed) {
    ASSERT_EQ(
        post_update(update_bundle("notify-update-process-request", sent_.referral_ref, task("completed")))
            .result_int(),
        200u);
    EXPECT_EQ(folder(), Folder::kCompleted);
}

TEST_F(OceanApiTest, ReceivedStaysNewWithoutEcho) {
    const auto res =
        post_update(update_bundle("notify-add-process-request", sent_.referral_ref, task("received")));
    ASSERT_EQ(res.result_int(), 200u) << res.body();
    EXPECT_EQ(folder(), Folder::kNew);
    EXPECT_TRUE(applied().empty());
}

TEST_F(OceanApiTest, TaskStatusNotInTheTableIsIgnoredWithAWarning) {
    const auto res =
        post_update(update_bundle("notify-update-process-request", sent_.referral_ref, task("draft")));
    ASSERT_EQ(res.result_int(), 200u) << res.body();
    EXPECT_NE(res.body().find("warning"), std::string::npos) << res.body();
    EXPECT_EQ(folder(), Folder::kNew);
    EXPECT_TRUE(applied().empty());
    const auto log = api_->updates().snapshot();
    ASSERT_EQ(log.size(), 1u);
    EXPECT_EQ(log[0].outcome, UpdateOutcome::kIgnored);
    EXPECT_EQ(log[0].status, "draft");
}

// ---- bookings and messages

TEST_F(OceanApiTest, TentativeBookingIsUnconfirmedAcceptedIsConfirmedCancelledGoesBack) {
    auto res =
        post_update(update_bundle("notify-add-appointment", sent_.referral_ref, appointment("tentative")));
    ASSERT_EQ(res.result_int(), 200u) << res.body();
    EXPECT_EQ(folder(), Folder::kBookingUnconfirmed);

    res = post_update(update_bundle("notify-add-appointment", sent_.referral_ref, appointment("accepted")));
    ASSERT_EQ(res.result_int(), 200u) << res.body();
    EXPECT_EQ(folder(), Folder::kBookingConfirmed);
    EXPECT_EQ(state_.find(sent_.referral_ref)->appointments.size(), 1u);  // same Appointment id: updated

    res = post_update(
        update_bundle("notify-add-appointment", sent_.referral_ref, appointment("accepted", "cancelled")));
    ASSERT_EQ(res.result_int(), 200u) << res.body();
    EXPECT_EQ(folder(), Folder::kPendingBooking);
    EXPECT_EQ(applied().size(), 3u);
}

TEST_F(OceanApiTest, BookingWithABadStartIs400) {
    auto appt = appointment("tentative");
    appt["start"] = "next tuesday";
    const auto res = post_update(update_bundle("notify-add-appointment", sent_.referral_ref, appt));
    EXPECT_EQ(res.result_int(), 400u);
    EXPECT_NE(res.body().find("Bundle.entry[1].resource.start"), std::string::npos) << res.body();
}

TEST_F(OceanApiTest, CommunicationIsRecorded) {
    const auto res = post_update(update_bundle(
        "send-communication-from-provider", sent_.referral_ref, communication("Please send labs")));
    ASSERT_EQ(res.result_int(), 200u) << res.body();
    const auto view = state_.find(sent_.referral_ref);
    ASSERT_EQ(view->communications.size(), 1u);
    EXPECT_EQ(view->communications[0].text, "Please send labs");
    EXPECT_EQ(view->folder, Folder::kNew);
    const auto hooks = applied();
    ASSERT_EQ(hooks.size(), 1u);
    EXPECT_FALSE(hooks[0].echo_update);  // §3.5: no notify-update-service-request for a message
}

TEST_F(OceanApiTest, ForwardRegistersTheNewReferral) {
    json::object new_sr{
        {"resourceType", "ServiceRequest"},
        {"id", "forwarded-sr-0001"},
        {"replaces", json::array{reference("ServiceRequest", sent_.referral_ref)}},
        {"performer",
         json::array{json::object{{"identifier",
                                   json::object{{"system",
                                                 "https://ocean.cognisantmd.com/svc/fhir/v1/NamingSystem/"
                                                 "id-referral-target-reference"},
                                                {"value", kOtherListing}}}}}}};
    const auto res = post_update(update_bundle(
        "notify-update-process-request", sent_.referral_ref, task("requested"), json::array{new_sr}));
    ASSERT_EQ(res.result_int(), 200u) << res.body();
    const auto view = state_.find(sent_.referral_ref);
    ASSERT_TRUE(view->forwarded_to);
    EXPECT_EQ(*view->forwarded_to, kOtherListing);
    const auto forwarded = state_.find("forwarded-sr-0001");
    ASSERT_TRUE(forwarded);
    EXPECT_EQ(forwarded->listing_ref, kOtherListing);
    EXPECT_EQ(forwarded->folder, Folder::kNew);
    ASSERT_EQ(applied().size(), 1u);
    EXPECT_EQ(applied()[0].forwarded_ref, "forwarded-sr-0001");
}

// ---- refusals and malformed messages

TEST_F(OceanApiTest, UnknownReferralIsRefusedWith404) {
    const auto res =
        post_update(update_bundle("notify-update-process-request", "no-such-referral", task("accepted")));
    EXPECT_EQ(res.result_int(), 404u);
    EXPECT_NE(res.body().find("not-found"), std::string::npos);
    const auto log = api_->updates().snapshot();
    ASSERT_EQ(log.size(), 1u);
    EXPECT_EQ(log[0].outcome, UpdateOutcome::kRefused);
}

TEST_F(OceanApiTest, AnotherListingMayNotChangeTheStatus) {
    const json::object author{
        {"identifier",
         json::object{{"system",
                       "https://ocean.cognisantmd.com/svc/fhir/v1/NamingSystem/id-referral-target-reference"},
                      {"value", kOtherListing}}}};
    const auto res = post_update(
        update_bundle("notify-update-process-request", sent_.referral_ref, task("accepted"), {}, author));
    EXPECT_EQ(res.result_int(), 403u) << res.body();
    EXPECT_EQ(folder(), Folder::kNew);
    EXPECT_TRUE(applied().empty());
}

TEST_F(OceanApiTest, TheReceiverAsAuthorIsAllowed) {
    const json::object author{
        {"identifier",
         json::object{{"system",
                       "https://ocean.cognisantmd.com/svc/fhir/v1/NamingSystem/id-referral-target-reference"},
                      {"value", kListing}}}};
    const auto res = post_update(
        update_bundle("notify-update-process-request", sent_.referral_ref, task("accepted"), {}, author));
    EXPECT_EQ(res.result_int(), 200u) << res.body();
}

TEST_F(OceanApiTest, RealisticEchoWithTheTargetRoleAsAuthorIsApplied) {
    // §3.7.2: the receiver echoes every inbound resource except the MessageHeader, then adds its Task;
    // its author is the target PractitionerRole (fullUrl reference), which names the receiver listing.
    const json::value inbound = json::parse(sent_.body);
    json::array entries;
    std::string target_role;
    for (const auto& e : inbound.at("entry").as_array()) {
        const auto& r = e.at("resource").as_object();
        if (r.at("resourceType") == "MessageHeader") continue;
        if (r.at("resourceType") == "PractitionerRole" &&
            json::serialize(r).find(kListing) != std::string::npos)
            target_role = std::string(e.at("fullUrl").as_string());
        entries.push_back(e);
    }
    ASSERT_FALSE(target_role.empty());
    auto bundle = json::parse(update_bundle("notify-update-process-request",
                                            sent_.referral_ref,
                                            task("accepted"),
                                            {},
                                            json::object{{"reference", target_role}}))
                      .as_object();
    for (auto& e : entries) bundle.at("entry").as_array().push_back(e);
    const auto res = post_update(json::serialize(bundle));
    ASSERT_EQ(res.result_int(), 200u) << res.body();
    EXPECT_EQ(folder(), Folder::kPendingBooking);
}

TEST_F(OceanApiTest, V010RefAndRoleIdAsListing) {
    // v0.10: the ref travels in ext-id-message-header and the target PractitionerRole's id is the
    // listing ref, so "PractitionerRole/<another known listing>" as author is refused.
    ReferralSpec other;
    other.seed = 8;
    other.dialect = Dialect::kV0_10;
    other.site_number = std::string(kSite);
    other.listing_ref = std::string(kOtherListing);
    other.request_url = "https://relay.example/ocean/fhir/$process-message";
    state_.record_sent(generate(other), kOtherListing, kSite);

    auto bundle = json::parse(update_bundle("notify-update-process-request",
                                            sent_.referral_ref,
                                            task("accepted"),
                                            {},
                                            reference("PractitionerRole", kOtherListing)))
                      .as_object();
    auto& header = bundle.at("entry").as_array()[0].at("resource").as_object();
    header["extension"] = json::array{
        json::object{{"url", "http://ehealthontario.ca/fhir/StructureDefinition/ext-id-message-header"},
                     {"valueString", sent_.referral_ref}}};
    EXPECT_EQ(post_update(json::serialize(bundle)).result_int(), 403u);
    header["author"] = reference("PractitionerRole", kListing);
    EXPECT_EQ(post_update(json::serialize(bundle)).result_int(), 200u);
    EXPECT_EQ(folder(), Folder::kPendingBooking);
}

TEST_F(OceanApiTest, MalformedTaskIs400WithExpression) {
    auto t = task("accepted");
    t.erase("status");
    const auto res = post_update(update_bundle("notify-update-process-request", sent_.referral_ref, t));
    EXPECT_EQ(res.result_int(), 400u);
    EXPECT_NE(res.body().find("Bundle.entry[1].resource.status"), std::string::npos) << res.body();
    EXPECT_EQ(api_->updates().snapshot().at(0).outcome, UpdateOutcome::kMalformed);
}

TEST_F(OceanApiTest, NotJsonIs400) {
    const auto res = post_update("{not json");
    EXPECT_EQ(res.result_int(), 400u);
    EXPECT_NE(res.body().find("OperationOutcome"), std::string::npos);
}

TEST_F(OceanApiTest, WrongEventCodeIs400) {
    const auto res = post_update(update_bundle("add-service-request", sent_.referral_ref, task("accepted")));
    EXPECT_EQ(res.result_int(), 400u);
    EXPECT_NE(res.body().find("eventCoding.code"), std::string::npos) << res.body();
}

TEST_F(OceanApiTest, UpdatesJsonListsOutcomes) {
    post_update(update_bundle("notify-update-process-request", sent_.referral_ref, task("accepted")));
    post_update(update_bundle("notify-update-process-request", sent_.referral_ref, task("failed")));
    const auto log = json::parse(api_->updates_json()).as_object();
    EXPECT_EQ(log.at("received").to_number<int>(), 2);
    const auto& updates = log.at("updates").as_array();
    ASSERT_EQ(updates.size(), 2u);
    EXPECT_EQ(str(updates[0].at("outcome")), "accepted");
    EXPECT_EQ(str(updates[0].at("folder_after")), "Pending Booking");
    EXPECT_EQ(str(updates[1].at("outcome")), "ignored");
}

// ---- documents (§3.8)

TEST_F(OceanApiTest, LetterNeedsATokenAndIsAPdf) {
    const std::string target = "/svc/fhir/v1/ServiceRequest/" + sent_.referral_ref + "/$letter";
    EXPECT_EQ(client_->get(target).result_int(), 401u);
    const auto res = client_->get(target, {{"Authorization", "Bearer " + token()}});
    ASSERT_EQ(res.result_int(), 200u);
    EXPECT_EQ(res[boost::beast::http::field::content_type], "application/pdf");
    EXPECT_EQ(res.body().rfind("%PDF-1.4", 0), 0u);
    EXPECT_NE(res.body().find("%%EOF"), std::string::npos);
    EXPECT_EQ(
        client_
            ->get("/svc/fhir/v1/ServiceRequest/unknown-ref/$letter", {{"Authorization", "Bearer " + token()}})
            .result_int(),
        404u);
}

TEST_F(OceanApiTest, BinaryServesTheAttachmentBytes) {
    const auto docs = documents();
    ASSERT_EQ(docs.size(), 2u);
    const std::string target = "/svc/fhir/v1/DocumentReference/" + docs[1].first + "/$binary";
    EXPECT_EQ(client_->get(target).result_int(), 401u);
    const auto res = client_->get(target, {{"Authorization", "Bearer " + token()}});
    ASSERT_EQ(res.result_int(), 200u);
    EXPECT_EQ(res.body(), *relay::base64_decode(docs[1].second));
    const auto letter = client_->get("/svc/fhir/v1/DocumentReference/" + docs[0].first + "/$binary",
                                     {{"Authorization", "Bearer " + token()}});
    ASSERT_EQ(letter.result_int(), 200u);
    EXPECT_EQ(letter.body().rfind("%PDF-1.4", 0), 0u);
}

// ---- Open API (§4.1, §4.4, §7)

TEST_F(OceanApiTest, OpenApiReferralDecryptsWithTheSek) {
    const std::string target = "/svc/v1/referrals/" + sent_.referral_ref;
    const auto res = client_->get(target,
                                  {{"siteNum", std::string(kSite)},
                                   {"siteKey", std::string(kSiteKey)},
                                   {"siteCredential", std::string(kSiteCredential)}});
    ASSERT_EQ(res.result_int(), 200u) << res.body();
    const auto referral = json::parse(res.body()).as_object();
    EXPECT_EQ(str(referral.at("referralRef")), sent_.referral_ref);
    EXPECT_EQ(str(referral.at("referralTargetRef")), kListing);
    const auto block = [&](std::string_view key) {
        const auto& o = referral.at(key).as_object();
        return relay::ocean::EncryptedBlock{std::string(o.at("data").as_string()),
                                            std::string(o.at("iv").as_string())};
    };
    const relay::ocean::SealedBlocks sealed{block("oneTimeKeyEncryptedWithSiteSEK"),
                                            block("encryptedPtData")};
    const auto plain = relay::ocean::open_blocks(kSek, sealed);
    ASSERT_TRUE(std::holds_alternative<std::string>(plain));
    const auto patient = json::parse(std::get<std::string>(plain)).as_object();
    EXPECT_EQ(str(patient.at("firstName")), patient_given_name());
    EXPECT_FALSE(patient.at("healthNumber").as_string().empty());
}

/// The siteNum / siteKey / siteCredential headers of the test site (§4.1).
std::vector<std::pair<std::string, std::string>> site_headers(std::string_view credential = kSiteCredential) {
    return {{"siteNum", std::string(kSite)},
            {"siteKey", std::string(kSiteKey)},
            {"siteCredential", std::string(credential)}};
}

/// GET /svc/v1/site/privateKey, decrypted with the library as the fetcher will.
relay::ocean::SitePrivateKeys fetch_site_keys(relay::http::BlockingClient& client) {
    const auto res = client.get("/svc/v1/site/privateKey", site_headers());
    EXPECT_EQ(res.result_int(), 200u) << res.body();
    const auto iv = res.find("iv");
    EXPECT_NE(iv, res.end());
    const auto keys = relay::ocean::decrypt_site_private_key(
        kSek, res.body(), iv == res.end() ? std::string() : std::string(iv->value()));
    EXPECT_TRUE(std::holds_alternative<relay::ocean::SitePrivateKeys>(keys))
        << std::get<relay::Error>(keys).message;
    return std::holds_alternative<relay::ocean::SitePrivateKeys>(keys)
               ? std::get<relay::ocean::SitePrivateKeys>(keys)
               : relay::ocean::SitePrivateKeys{};
}

/// The referral's one-time key via the RSA path, and the patient data it opens.
std::string open_patient_with_rsa(const json::object& referral, const relay::ocean::SitePrivateKeys& keys) {
    const auto otk =
        relay::ocean::unwrap_one_time_key_rsa(keys, str(referral.at("oneTimeKeyEncryptedWithSitePublicKey")));
    EXPECT_TRUE(std::holds_alternative<std::string>(otk)) << std::get<relay::Error>(otk).message;
    if (!std::holds_alternative<std::string>(otk)) return {};
    const auto& pt = referral.at("encryptedPtData").as_object();
    const auto plain = relay::ocean::decrypt_block(
        std::get<std::string>(otk), relay::ocean::EncryptedBlock{str(pt.at("data")), str(pt.at("iv"))});
    EXPECT_TRUE(std::holds_alternative<std::string>(plain));
    return std::holds_alternative<std::string>(plain) ? std::get<std::string>(plain) : std::string();
}

TEST_F(OceanApiTest, OpenApiSitePrivateKeyUnwrapsTheReferralsRsaWrappedKey) {
    const auto keys = fetch_site_keys(*client_);
    ASSERT_EQ(keys.size(), 1u);
    EXPECT_EQ(keys[0].modulus_bits(), 1024u);

    const auto res = client_->get("/svc/v1/referrals/" + sent_.referral_ref, site_headers());
    ASSERT_EQ(res.result_int(), 200u) << res.body();
    const auto referral = json::parse(res.body()).as_object();
    // By default both wraps are there, and they hold the same one-time key.
    ASSERT_TRUE(referral.at("oneTimeKeyEncryptedWithSitePublicKey").is_string());
    ASSERT_TRUE(referral.at("oneTimeKeyEncryptedWithSiteSEK").is_object());
    const auto& sek_block = referral.at("oneTimeKeyEncryptedWithSiteSEK").as_object();
    const auto by_sek = relay::ocean::unwrap_one_time_key(
        kSek, relay::ocean::EncryptedBlock{str(sek_block.at("data")), str(sek_block.at("iv"))});
    const auto by_rsa =
        relay::ocean::unwrap_one_time_key_rsa(keys, str(referral.at("oneTimeKeyEncryptedWithSitePublicKey")));
    ASSERT_TRUE(std::holds_alternative<std::string>(by_sek));
    ASSERT_TRUE(std::holds_alternative<std::string>(by_rsa));
    EXPECT_TRUE(std::get<std::string>(by_sek) == std::get<std::string>(by_rsa));

    const auto patient = json::parse(open_patient_with_rsa(referral, keys)).as_object();
    EXPECT_EQ(str(patient.at("firstName")), patient_given_name());

    // The key is the site's for the life of the process: a second fetch returns the same key.
    const auto again = fetch_site_keys(*client_);
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(std::get<std::string>(relay::ocean::rsa_key_to_jsbn_json(again[0])),
              std::get<std::string>(relay::ocean::rsa_key_to_jsbn_json(keys[0])));
}

TEST_F(OceanApiTest, OpenApiSitePrivateKeyNeedsTheSiteCredentials) {
    EXPECT_EQ(client_->get("/svc/v1/site/privateKey").result_int(), 401u);
    const auto wrong = client_->get("/svc/v1/site/privateKey", site_headers("wrong"));
    EXPECT_EQ(wrong.result_int(), 401u);
    EXPECT_EQ(wrong.find("iv"), wrong.end());
    EXPECT_EQ(client_->post("/svc/v1/site/privateKey", "{}", "application/json", site_headers()).result_int(),
              405u);
    // The body is ciphertext: under another SEK it does not open.
    const auto res = client_->get("/svc/v1/site/privateKey", site_headers());
    ASSERT_EQ(res.result_int(), 200u);
    EXPECT_EQ(res.body().find("\"n\""), std::string::npos);
    EXPECT_TRUE(std::holds_alternative<relay::Error>(relay::ocean::decrypt_site_private_key(
        "another-sek", res.body(), std::string(res.find("iv")->value()))));
}

/// A site configured with rsa_only: the referral's one-time key is RSA-wrapped only.
class OceanApiRsaOnlyTest : public OceanApiTest {
   protected:
    void configure(OceanApiConfig& config) override { config.sites.front().rsa_only = true; }
};

TEST_F(OceanApiRsaOnlyTest, ReferralCarriesOnlyTheRsaWrappedKey) {
    const auto res = client_->get("/svc/v1/referrals/" + sent_.referral_ref, site_headers());
    ASSERT_EQ(res.result_int(), 200u) << res.body();
    const auto referral = json::parse(res.body()).as_object();
    EXPECT_TRUE(referral.at("oneTimeKeyEncryptedWithSiteSEK").is_null());
    ASSERT_TRUE(referral.at("oneTimeKeyEncryptedWithSitePublicKey").is_string());

    const auto keys = fetch_site_keys(*client_);
    ASSERT_EQ(keys.size(), 1u);
    const auto patient = json::parse(open_patient_with_rsa(referral, keys)).as_object();
    EXPECT_EQ(str(patient.at("firstName")), patient_given_name());
}

TEST(OceanSimConfig, RsaOnlyIsOffUnlessSet) {
    auto reader = relay::ConfigReader::from_string(
        R"(
webhooks: {target_url: "http://127.0.0.1:8080/ocean/1234/fhir"}
api:
  signing_key: {value: ocean-sim-test-signing-key-0123456789}
  clients: [{client_id: c, client_secret: {value: s}}]
  sites:
    - {site_num: "1", site_key: {value: k}, site_credential: {value: c}, sek: {value: "0123456789abcdef"}}
    - {site_num: "2", site_key: {value: k}, site_credential: {value: c}, sek: {value: "0123456789abcdef"}, rsa_only: true}
)",
        "RELAY_SIM",
        [](const std::string&) { return std::optional<std::string>(); });
    const auto config = load_sim_config(reader);
    ASSERT_TRUE(config.api);
    ASSERT_EQ(config.api->sites.size(), 2u);
    EXPECT_FALSE(config.api->sites[0].rsa_only);
    EXPECT_TRUE(config.api->sites[1].rsa_only);
    EXPECT_EQ(config.api->rsa_key_bits, 2048u);
}

TEST_F(OceanApiTest, OpenApiWrongCredentialsAre401) {
    const std::string target = "/svc/v1/referrals/" + sent_.referral_ref;
    EXPECT_EQ(client_
                  ->get(target,
                        {{"siteNum", std::string(kSite)},
                         {"siteKey", std::string(kSiteKey)},
                         {"siteCredential", "wrong"}})
                  .result_int(),
              401u);
    EXPECT_EQ(client_->get(target).result_int(), 401u);
    EXPECT_EQ(client_
                  ->get("/svc/v1/referrals/unknown",
                        {{"siteNum", std::string(kSite)},
                         {"siteKey", std::string(kSiteKey)},
                         {"siteCredential", std::string(kSiteCredential)}})
                  .result_int(),
              404u);
}

// ---- Open API attachments (§4.3, §4.4 bookingFileRefs)

std::string open_api_path(std::string_view referral_ref, std::string_view file_ref) {
    return "/svc/v1/referrals/" + std::string(referral_ref) + "/attachments/" + std::string(file_ref);
}

relay::ocean::EncryptedBlock block_of(const json::value& block) {
    return relay::ocean::EncryptedBlock{str(block.at("data")), str(block.at("iv"))};
}

/// The referral's Open API JSON, as the relay fetches it.
json::object fetch_open_api_referral(relay::http::BlockingClient& client, const std::string& ref) {
    const auto res = client.get("/svc/v1/referrals/" + ref, site_headers());
    EXPECT_EQ(res.result_int(), 200u) << res.body();
    return res.result_int() == 200u ? json::parse(res.body()).as_object() : json::object{};
}

/// The referral's one-time key, unwrapped with the SEK.
std::string sek_one_time_key(const json::object& referral) {
    const auto otk =
        relay::ocean::unwrap_one_time_key(kSek, block_of(referral.at("oneTimeKeyEncryptedWithSiteSEK")));
    EXPECT_TRUE(std::holds_alternative<std::string>(otk));
    return std::holds_alternative<std::string>(otk) ? std::get<std::string>(otk) : std::string();
}

/// GET of one attachment, decrypted under `otk`; its contentType in `content_type`.
std::string open_attachment(relay::http::BlockingClient& client,
                            std::string_view referral_ref,
                            std::string_view file_ref,
                            const std::string& otk,
                            std::string* content_type = nullptr) {
    const auto res = client.get(open_api_path(referral_ref, file_ref), site_headers());
    EXPECT_EQ(res.result_int(), 200u) << res.body();
    if (res.result_int() != 200u) return {};
    EXPECT_EQ(res[boost::beast::http::field::content_type], "application/json");
    const auto body = json::parse(res.body()).as_object();
    if (content_type != nullptr) *content_type = str(body.at("contentType"));
    const auto plain = relay::ocean::decrypt_block(otk, block_of(body.at("encryptedData")));
    EXPECT_TRUE(std::holds_alternative<std::string>(plain)) << "not under the referral's one-time key";
    return std::holds_alternative<std::string>(plain) ? std::get<std::string>(plain) : std::string();
}

TEST_F(OceanApiTest, OpenApiReferralListsItsAttachments) {
    const auto referral = fetch_open_api_referral(*client_, sent_.referral_ref);
    const auto expected = open_api_attachments(sent_.referral_ref);
    const auto& refs = referral.at("bookingFileRefs").as_array();
    ASSERT_EQ(refs.size(), expected.size());
    for (std::size_t i = 0; i < refs.size(); ++i) {
        EXPECT_EQ(str(refs[i].at("fileRef")), expected[i].file_ref);
        EXPECT_EQ(str(refs[i].at("fileName")), expected[i].file_name);
    }
    EXPECT_EQ(str(refs[0].at("fileName")), "referral-form.pdf");
    // Every fetch lists the same ones.
    EXPECT_EQ(fetch_open_api_referral(*client_, sent_.referral_ref).at("bookingFileRefs"), refs);
}

TEST_F(OceanApiTest, OpenApiAttachmentOpensWithTheOneTimeKeyOfTheReferral) {
    const auto referral = fetch_open_api_referral(*client_, sent_.referral_ref);
    const std::string otk = sek_one_time_key(referral);
    ASSERT_EQ(otk.size(), relay::ocean::kOneTimeKeyBytes);
    for (const auto& ref : referral.at("bookingFileRefs").as_array()) {
        const std::string file_ref = str(ref.at("fileRef"));
        std::string content_type;
        const std::string bytes = open_attachment(*client_, sent_.referral_ref, file_ref, otk, &content_type);
        const auto expected = open_api_attachment_bytes(sent_.referral_ref, file_ref);
        ASSERT_TRUE(expected.has_value());
        EXPECT_TRUE(bytes == *expected) << file_ref;
        EXPECT_EQ(content_type, find_open_api_attachment(sent_.referral_ref, file_ref)->content_type);
        EXPECT_NE(bytes.find(file_ref), std::string::npos) << "the bytes name their fileRef";
    }
    // The key is the referral's for good: a later fetch of the referral carries the same one (under a
    // fresh IV), so an attachment fetched after it still opens.
    const auto again = fetch_open_api_referral(*client_, sent_.referral_ref);
    EXPECT_TRUE(sek_one_time_key(again) == otk);
    EXPECT_NE(str(again.at("encryptedPtData").at("iv")), str(referral.at("encryptedPtData").at("iv")));
}

TEST_F(OceanApiTest, OpenApiAttachmentFetchedBeforeItsReferralOpensWithTheKeyTheReferralThenCarries) {
    const auto first = open_api_attachments(sent_.referral_ref).front();
    const auto res = client_->get(open_api_path(sent_.referral_ref, first.file_ref), site_headers());
    ASSERT_EQ(res.result_int(), 200u) << res.body();
    const auto body = json::parse(res.body());
    const std::string otk = sek_one_time_key(fetch_open_api_referral(*client_, sent_.referral_ref));
    const auto plain = relay::ocean::decrypt_block(otk, block_of(body.at("encryptedData")));
    ASSERT_TRUE(std::holds_alternative<std::string>(plain));
    EXPECT_TRUE(std::get<std::string>(plain) ==
                *open_api_attachment_bytes(sent_.referral_ref, first.file_ref));
    EXPECT_EQ(str(body.at("contentType")), "application/pdf");
    EXPECT_EQ(std::get<std::string>(plain).rfind("%PDF-1.4", 0), 0u);
}

TEST_F(OceanApiTest, OpenApiAttachmentNeedsTheSiteCredentialsAsTheReferralDoes) {
    const std::string file_ref = open_api_attachments(sent_.referral_ref).front().file_ref;
    const std::string target = open_api_path(sent_.referral_ref, file_ref);
    const std::string referral_target = "/svc/v1/referrals/" + sent_.referral_ref;
    const auto wrong = client_->get(target, site_headers("wrong"));
    const auto referral_wrong = client_->get(referral_target, site_headers("wrong"));
    EXPECT_EQ(wrong.result_int(), 401u);
    EXPECT_EQ(wrong.body(), referral_wrong.body()) << "the same refusal as the referral's";
    EXPECT_EQ(wrong[boost::beast::http::field::content_type],
              referral_wrong[boost::beast::http::field::content_type]);
    EXPECT_EQ(wrong.body().find("encryptedData"), std::string::npos);
    const auto none = client_->get(target);
    EXPECT_EQ(none.result_int(), 401u);
    EXPECT_EQ(none.body(), client_->get(referral_target).body());
    EXPECT_EQ(client_
                  ->get(target,
                        {{"siteNum", "9999"},
                         {"siteKey", std::string(kSiteKey)},
                         {"siteCredential", std::string(kSiteCredential)}})
                  .result_int(),
              401u)
        << "an unknown site";
    EXPECT_EQ(client_->post(target, "{}", "application/json", site_headers()).result_int(), 405u);
}

TEST_F(OceanApiTest, OpenApiAttachmentOfAnUnknownReferralOrFileIs404) {
    const std::string file_ref = open_api_attachments(sent_.referral_ref).front().file_ref;
    const auto not_found = [&](const std::string& target) {
        const auto res = client_->get(target, site_headers());
        EXPECT_EQ(res.result_int(), 404u) << target;
        EXPECT_EQ(res.body().find("encryptedData"), std::string::npos);
    };
    not_found(open_api_path("unknown", file_ref));
    not_found(open_api_path(sent_.referral_ref, "unknown"));
    not_found(open_api_path(sent_.referral_ref, file_ref + "0"));
    // Another referral's attachment is not this one's, and another site's referral is not disclosed.
    ReferralSpec spec;
    spec.seed = 8;
    spec.site_number = "9999";
    spec.listing_ref = std::string(kOtherListing);
    spec.request_url = "https://relay.example/ocean/fhir/$process-message";
    const GeneratedReferral other = generate(spec);
    ASSERT_NE(other.referral_ref, sent_.referral_ref);
    state_.record_sent(other, kOtherListing, "9999");
    const std::string other_file = open_api_attachments(other.referral_ref).front().file_ref;
    not_found(open_api_path(sent_.referral_ref, other_file));
    not_found(open_api_path(other.referral_ref, other_file));
    // A path with an empty segment matches no route.
    EXPECT_EQ(client_->get("/svc/v1/referrals/" + sent_.referral_ref + "/attachments/", site_headers())
                  .result_int(),
              404u);
}

TEST_F(OceanApiRsaOnlyTest, AttachmentOpensWithTheRsaUnwrappedKey) {
    const auto referral = fetch_open_api_referral(*client_, sent_.referral_ref);
    ASSERT_TRUE(referral.at("oneTimeKeyEncryptedWithSiteSEK").is_null());
    const auto keys = fetch_site_keys(*client_);
    const auto otk =
        relay::ocean::unwrap_one_time_key_rsa(keys, str(referral.at("oneTimeKeyEncryptedWithSitePublicKey")));
    ASSERT_TRUE(std::holds_alternative<std::string>(otk));
    for (const auto& a : open_api_attachments(sent_.referral_ref))
        EXPECT_TRUE(open_attachment(*client_, sent_.referral_ref, a.file_ref, std::get<std::string>(otk)) ==
                    *open_api_attachment_bytes(sent_.referral_ref, a.file_ref))
            << a.file_name;
}

TEST_F(OceanApiTest, PatientEngagementPatientDecryptsWithTheSharedIvLayout) {
    const std::vector<std::pair<std::string, std::string>> site{
        {"siteNum", std::string(kSite)},
        {"siteKey", std::string(kSiteKey)},
        {"siteCredential", std::string(kSiteCredential)}};
    const auto res = client_->get("/svc/v1/patients/" + sent_.referral_ref, site);
    ASSERT_EQ(res.result_int(), 200u) << res.body();
    EXPECT_TRUE(res["oneTimeKeyIv"].empty()) << "the patient GET shares one IV between the two layers";
    const relay::ocean::EncryptedPayload payload{
        res.body(), std::string(res["iv"]), std::string(res["oneTimeKey"]), ""};
    const auto plain = relay::ocean::open(kSek, payload, relay::ocean::HeaderLayout::kSharedIv);
    ASSERT_TRUE(std::holds_alternative<std::string>(plain));
    const auto patient = json::parse(std::get<std::string>(plain)).as_object();
    EXPECT_EQ(str(patient.at("ref")), sent_.referral_ref);
    EXPECT_EQ(str(patient.at("demographics").as_object().at("firstName")), patient_given_name());
    EXPECT_EQ(client_->get("/svc/v1/patients/" + sent_.referral_ref).result_int(), 401u);
    EXPECT_EQ(client_->get("/svc/v1/patients/unknown", site).result_int(), 404u);
}

TEST_F(OceanApiTest, PatientEngagementNotesUseTheSeparateKeyIvLayout) {
    const std::vector<std::pair<std::string, std::string>> site{
        {"siteNum", std::string(kSite)},
        {"siteKey", std::string(kSiteKey)},
        {"siteCredential", std::string(kSiteCredential)}};
    const std::string target = "/svc/v1/patients/" + sent_.referral_ref + "/notes";
    EXPECT_EQ(client_->get(target, site).result_int(), 400u) << "oceanSessionId is required";
    const auto res = client_->get(target + "?oceanSessionId=1759442545187t415674", site);
    ASSERT_EQ(res.result_int(), 200u) << res.body();
    EXPECT_EQ(res["noteId"], "note-1759442545187t415674");
    EXPECT_EQ(res["payloadVersion"], "1");
    const relay::ocean::EncryptedPayload payload{
        res.body(), std::string(res["iv"]), std::string(res["oneTimeKey"]), std::string(res["oneTimeKeyIv"])};
    const auto plain = relay::ocean::open(kSek, payload, relay::ocean::HeaderLayout::kSeparateKeyIv);
    ASSERT_TRUE(std::holds_alternative<std::string>(plain));
    const auto update = json::parse(std::get<std::string>(plain)).as_object();
    EXPECT_EQ(str(update.at("completedForms").as_object().at("phq9").as_object().at("total")), "7");
    EXPECT_EQ(str(update.at("progressNote").as_object().at("noteType")), "FORM");
}

TEST_F(OceanApiTest, UpdatesAreAlsoWrittenAsJsonLines) {
    const auto path = std::filesystem::temp_directory_path() /
                      ("ocean-sim-updates-" + std::to_string(::getpid()) + ".jsonl");
    std::filesystem::remove(path);
    api_->log_updates_to(path.string());
    ASSERT_EQ(
        post_update(update_bundle("notify-update-process-request", sent_.referral_ref, task("accepted")))
            .result_int(),
        200u);
    ASSERT_EQ(post_update(update_bundle("notify-update-process-request", sent_.referral_ref, task("draft")))
                  .result_int(),
              200u);
    std::ifstream in(path);
    std::vector<json::object> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line).as_object());
    std::filesystem::remove(path);
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(str(lines[0].at("outcome")), "accepted");
    EXPECT_EQ(str(lines[0].at("referral_ref")), sent_.referral_ref);
    EXPECT_EQ(str(lines[1].at("outcome")), "ignored");
}

// ---- routing

TEST_F(OceanApiTest, RoutingAndConnectivityCheck) {
    EXPECT_EQ(
        client_->get("/svc/fhir/v1/NamingSystem/id-site-number", {{"Authorization", "Bearer " + token()}})
            .result_int(),
        200u);
    EXPECT_EQ(client_->get("/nope").result_int(), 404u);
    EXPECT_EQ(client_->get("/svc/oauth2/token").result_int(), 405u);
    EXPECT_EQ(client_->get("/svc/fhir/v1/$process-messages").result_int(), 405u);
}

TEST(MinimalPdf, HasConsistentXref) {
    const auto pdf = minimal_pdf("Referral (x)");
    const auto startxref = pdf.rfind("startxref\n");
    ASSERT_NE(startxref, std::string::npos);
    const auto offset = std::stoul(pdf.substr(startxref + 10));
    EXPECT_EQ(pdf.compare(offset, 4, "xref"), 0);
    // Object 1 is where the first xref entry says.
    const auto first =
        std::stoul(pdf.substr(offset + std::string("xref\n0 6\n0000000000 65535 f \n").size(), 10));
    EXPECT_EQ(pdf.compare(first, 7, "1 0 obj"), 0);
}

TEST(OpenApiAttachments, AreDerivedFromTheReferralRef) {
    std::set<std::string> file_refs;
    std::set<std::string> shapes;
    std::size_t with_requisition = 0;
    constexpr int kReferrals = 64;
    for (int i = 0; i < kReferrals; ++i) {
        const std::string ref = "referral-" + std::to_string(i);
        const auto attachments = open_api_attachments(ref);
        ASSERT_GE(attachments.size(), 1u);
        ASSERT_LE(attachments.size(), 2u);
        EXPECT_EQ(attachments[0].file_name, "referral-form.pdf");
        EXPECT_EQ(attachments[0].content_type, "application/pdf");
        std::string shape;
        for (const auto& a : attachments) {
            // A lower-case canonical uuid, version 8, RFC 9562 variant.
            ASSERT_EQ(a.file_ref.size(), 36u);
            EXPECT_EQ(a.file_ref[14], '8') << a.file_ref;
            EXPECT_NE(std::string_view("89ab").find(a.file_ref[19]), std::string_view::npos) << a.file_ref;
            EXPECT_TRUE(file_refs.insert(a.file_ref).second) << "fileRefs are unique across referrals";
            shape += a.file_name + " ";
            const auto bytes = open_api_attachment_bytes(ref, a.file_ref);
            ASSERT_TRUE(bytes.has_value());
            EXPECT_NE(bytes->find(a.file_ref), std::string::npos);
            EXPECT_EQ(bytes, open_api_attachment_bytes(ref, a.file_ref)) << "deterministic";
            EXPECT_EQ(find_open_api_attachment(ref, a.file_ref)->file_name, a.file_name);
            if (a.content_type == "application/pdf") {
                EXPECT_EQ(bytes->rfind("%PDF-1.4\n", 0), 0u);
            } else if (a.content_type == "image/png") {
                EXPECT_EQ(a.file_name, "requisition.png");
                EXPECT_EQ(bytes->rfind("\x89PNG\r\n\x1a\n", 0), 0u);
            } else {
                EXPECT_EQ(a.content_type, "text/plain; charset=utf-8");
                EXPECT_EQ(a.file_name, "requisition.txt");
                EXPECT_EQ(bytes->rfind("Requisition " + a.file_ref + "\n", 0), 0u);
            }
        }
        with_requisition += attachments.size() == 2 ? 1 : 0;
        shapes.insert(shape);
        EXPECT_EQ(open_api_attachments(ref).back().file_ref, attachments.back().file_ref);
        EXPECT_FALSE(open_api_attachment_bytes(ref, "unknown").has_value());
        EXPECT_FALSE(find_open_api_attachment("another-" + ref, attachments[0].file_ref).has_value());
    }
    // Some have a requisition and some do not; both kinds of requisition occur.
    EXPECT_GT(with_requisition, 0u);
    EXPECT_LT(with_requisition, static_cast<std::size_t>(kReferrals));
    EXPECT_EQ(shapes.size(), 3u);
}

TEST(MinimalPng, IsWellFormed) {
    const std::string png = minimal_png("Requisition x");
    ASSERT_EQ(png.rfind("\x89PNG\r\n\x1a\n", 0), 0u);
    std::vector<std::string> types;
    std::size_t at = 8;
    const auto be32 = [&](std::size_t i) {
        std::uint32_t v = 0;
        for (std::size_t k = 0; k < 4; ++k) v = (v << 8) | static_cast<unsigned char>(png[i + k]);
        return v;
    };
    while (at + 12 <= png.size()) {
        const std::uint32_t length = be32(at);
        types.push_back(png.substr(at + 4, 4));
        if (types.back() == "tEXt") {
            EXPECT_EQ(png.substr(at + 8, length), std::string("Title\0Requisition x", 19));
        }
        at += 12 + length;
    }
    EXPECT_EQ(at, png.size());
    EXPECT_EQ(types, (std::vector<std::string>{"IHDR", "tEXt", "IDAT", "IEND"}));
    // IEND's CRC is a constant of the format: a known answer for the CRC-32.
    EXPECT_EQ(png.substr(png.size() - 4), std::string("\xae\x42\x60\x82", 4));
}

TEST(TaskStatusEffect, FollowsTheTable) {
    EXPECT_EQ(task_status_effect(Folder::kNew, "accepted").folder, Folder::kPendingBooking);
    EXPECT_EQ(task_status_effect(Folder::kNew, "on-hold").folder, Folder::kPendingBooking);
    EXPECT_EQ(task_status_effect(Folder::kNew, "received").folder, Folder::kNew);
    EXPECT_EQ(task_status_effect(Folder::kPendingBooking, "rejected").folder, Folder::kDeclined);
    EXPECT_TRUE(task_status_effect(Folder::kCancelled, "ready").reopened);
    EXPECT_FALSE(task_status_effect(Folder::kNew, "failed").in_table);
    EXPECT_EQ(task_status_effect(Folder::kBookingConfirmed, "accepted").folder, Folder::kBookingConfirmed);
}

}  // namespace
