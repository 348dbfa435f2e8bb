// The whole loop on the real broker, unattended, every service as its own process and then every role
// in the one ocean-relay process (the same checks for both):
//   ocean-sim (Ocean) ─webhooks─▶ ingress ─▶ router ─▶ delivery ─▶ pos-sim (the hub's system)
//   pos-sim decides (accept / decline / book / message) ─hub API─▶ ingress ─▶ relay.updates.v1
//   ─▶ updater ─$process-messages─▶ ocean-sim, which applies each update with Ocean's folder rules and
//   echoes it back as notify-update-service-request ─▶ ingress ─▶ router (recognised: not delivered).
// Checked: every referral ends in the folder its decision calls for, with its appointment or message;
// every update applied once; every echo suppressed (counted), so the hub system receives each referral
// once and nothing loops; the received acknowledgement lands before the decision and never undoes it.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <variant>

#include "process_util.hpp"
#include "relay/kafka/at_rest.hpp"
#include "test_support.hpp"

namespace relay::test {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition()) return true;
        std::this_thread::sleep_for(250ms);
    }
    return condition();
}

json::value admin_json(int port, const std::string& target) {
    const auto [status, body] = admin_get(port, target);
    if (status != 200) return nullptr;
    return json::parse(body);
}

std::string str(const json::value& v) {
    return v.is_string() ? std::string(v.as_string()) : std::string();
}

/// The ports and names of one loop, unique per run so the shared broker's topics and groups are fresh.
struct Loop {
    std::string prefix = fmt::format(
        "loop{}-{}.", ::getpid(), std::chrono::steady_clock::now().time_since_epoch().count() % 1'000'000);
    int ingress = free_port(), ingress_admin = free_port();
    int router_admin = free_port(), delivery_admin = free_port(), updater_admin = free_port();
    int pos = free_port(), pos_admin = free_port();
    int ocean_api = free_port(), ocean_admin = free_port();
    std::string bootstrap = kafka_bootstrap();
};

std::string ingress_yaml(const Loop& l) {
    return fmt::format(R"(
service: {{log_level: warn}}
listeners: [{{address: 127.0.0.1, port: {}}}]
admin: {{address: 127.0.0.1, port: {}}}
kafka: {{bootstrap_servers: "{}", partitions: 3, replication_factor: 1}}
topics: {{prefix: "{}"}}
integrations: [{{site: "1234"}}]
hub_api:
  systems:
    - name: intake-emr
      auth: {{scheme: api_key, header: X-Api-Key, key: {{value: "loop-hub-key"}}}}
)",
                       l.ingress,
                       l.ingress_admin,
                       l.bootstrap,
                       l.prefix);
}

std::string router_yaml(const Loop& l) {
    return fmt::format(R"(
service: {{log_level: warn}}
admin: {{address: 127.0.0.1, port: {}}}
kafka: {{bootstrap_servers: "{}", group_id: "{}router", partitions: 3, replication_factor: 1, commit_interval: 200ms, linger: 1ms}}
topics: {{prefix: "{}"}}
destinations: [{{id: intake, format: fhir-r4}}]
routes: [{{site: "1234", external_service_id: INTAKE, destinations: [intake]}}]
)",
                       l.router_admin,
                       l.bootstrap,
                       l.prefix,
                       l.prefix);
}

std::string delivery_yaml(const Loop& l) {
    return fmt::format(R"(
service: {{log_level: warn}}
admin: {{address: 127.0.0.1, port: {}}}
kafka: {{bootstrap_servers: "{}", group_id: "{}delivery", tier_group_id: "{}delivery-tiers", partitions: 3, replication_factor: 1, commit_interval: 200ms}}
topics: {{prefix: "{}"}}
retry_tiers: [1s, 5s]
destinations:
  - id: intake
    url: http://127.0.0.1:{}/intake
    ocean_received_task: true
)",
                       l.delivery_admin,
                       l.bootstrap,
                       l.prefix,
                       l.prefix,
                       l.prefix,
                       l.pos);
}

std::string updater_yaml(const Loop& l) {
    return fmt::format(R"(
service: {{log_level: warn, bundle_wait: 30s}}
admin: {{address: 127.0.0.1, port: {}}}
kafka: {{bootstrap_servers: "{}", group_id: "{}updater", partitions: 3, replication_factor: 1, commit_interval: 200ms}}
topics: {{prefix: "{}"}}
ocean:
  base_url: http://127.0.0.1:{}
  timeout: 5s
  sites: [{{site: "1234", client_id: relay-1234, client_secret: {{value: "loop-ocean-secret"}}, token_auth: form}}]
retry: {{initial: 200ms, max_delay: 2s, max_age: 5m}}
)",
                       l.updater_admin,
                       l.bootstrap,
                       l.prefix,
                       l.prefix,
                       l.ocean_api);
}

std::string pos_sim_yaml(const Loop& l) {
    return fmt::format(R"(
log_level: warn
listener: {{address: 127.0.0.1, port: {}}}
admin: {{address: 127.0.0.1, port: {}}}
routes: [{{name: intake}}]
decisions:
  hub_url: http://127.0.0.1:{}/hub/v1
  auth_header: X-Api-Key
  auth_value: {{value: "loop-hub-key"}}
  delay: 300ms
  mix: {{accept: 1, decline: 1, book: 1, message: 1}}
  seed: 11
)",
                       l.pos,
                       l.pos_admin,
                       l.ingress);
}

std::string ocean_sim_yaml(const Loop& l, int messages) {
    return fmt::format(R"(
log_level: warn
admin: {{address: 127.0.0.1, port: {}}}
exit_when_done: false
webhooks:
  target_url: http://127.0.0.1:{}/ocean/1234/fhir
  count: {}
  concurrency: 4
  seed: 5
  site_number: "1234"
  listing_ref: loop_intake_10000001
  external_service_id: INTAKE
  v0_10_share: 0
  duplicate_share: 0.1
  resend_update_share: 0
api:
  listener: {{address: 127.0.0.1, port: {}}}
  signing_key: {{value: "loop-ocean-signing-key-0123456789abcdef"}}
  token_lifetime: 1h
  clients: [{{client_id: relay-1234, client_secret: {{value: "loop-ocean-secret"}}}}]
)",
                       l.ocean_admin,
                       l.ingress,
                       messages,
                       l.ocean_api);
}

/// The folder Ocean shows after the decision (ocean-api.md §3.6).
std::string expected_folder(const json::object& decision) {
    const std::string action = str(decision.at("action"));
    if (action == "accept") return "Pending Booking";
    if (action == "decline") return "Declined";
    if (action == "book")
        return decision.at("confirmed").as_bool() ? "Booking Confirmed" : "Booking Unconfirmed";
    return "New";  // a message leaves the folder as it was
}

/// `yaml` indented under `key:` (a role's section of the all-in-one file).
std::string section(const std::string& key, const std::string& yaml) {
    std::string out = key + ":\n";
    std::size_t start = 0;
    while (start < yaml.size()) {
        const std::size_t end = yaml.find('\n', start);
        const std::string line = yaml.substr(start, end == std::string::npos ? std::string::npos : end - start);
        if (!line.empty()) out += "  " + line + "\n";
        if (end == std::string::npos) break;
        start = end + 1;
    }
    return out;
}

/// Every role's file as a section of one; the bootstrap servers come from the shared kafka section.
std::string all_in_one_yaml(const Loop& l) {
    auto without_bootstrap = [&](std::string yaml) {
        const std::string key = fmt::format("bootstrap_servers: \"{}\", ", l.bootstrap);
        const auto at = yaml.find(key);
        if (at != std::string::npos) yaml.erase(at, key.size());
        return yaml;
    };
    return fmt::format("log_level: warn\nkafka: {{bootstrap_servers: \"{}\"}}\n", l.bootstrap) +
           section("ingress", without_bootstrap(ingress_yaml(l))) + section("router", without_bootstrap(router_yaml(l))) +
           section("delivery", without_bootstrap(delivery_yaml(l))) +
           section("updater", without_bootstrap(updater_yaml(l)));
}

/// With the relay running (as separate services or all in one): pos-sim and ocean-sim play the hub
/// system and Ocean, and every referral must end decided in Ocean, once, with every echo suppressed.
void expect_whole_loop(const ScratchDir& dir, const Loop& l) {
    ChildProcess pos_sim(dir, "pos-sim", RELAY_POS_SIM_BINARY, pos_sim_yaml(l));
    ASSERT_TRUE(
        wait_until([&] { return pos_sim.exited() || admin_get(l.pos_admin, "/healthz").first == 200; }, 30s));
    ASSERT_FALSE(pos_sim.exited());

    constexpr int kMessages = 40;
    ChildProcess ocean(dir, "ocean-sim", RELAY_OCEAN_SIM_BINARY, ocean_sim_yaml(l, kMessages));
    // Ocean sends every webhook (duplicates included) and the relay acknowledges each one. Ocean's echoes
    // of applied updates are counted apart: they may start before the last original is sent.
    ASSERT_TRUE(wait_until(
        [&] {
            const auto o = admin_json(l.ocean_admin, "/observations");
            if (!o.is_object()) return false;
            std::int64_t sent = 0;
            for (const auto& [variant, n] : o.at("delivered_by_variant").as_object())
                if (variant != "echo") sent += n.to_number<std::int64_t>();
            return sent >= kMessages;
        },
        60s))
        << admin_get(l.ocean_admin, "/observations").second;

    // The referrals Ocean holds; each must get exactly one decision from the hub system.
    std::set<std::string> refs;
    const json::value referrals = admin_json(l.ocean_admin, "/referrals");
    ASSERT_TRUE(referrals.is_array());
    for (const auto& r : referrals.as_array()) refs.insert(str(r.at("ref")));
    ASSERT_GE(refs.size(), 30U);
    json::array decisions;
    ASSERT_TRUE(wait_until(
        [&] {
            const auto d = admin_json(l.pos_admin, "/decisions");
            if (!d.is_object()) return false;
            decisions = d.at("items").as_array();
            return decisions.size() >= refs.size() && d.at("accepted_by_hub_api").to_number<std::int64_t>() ==
                                                          static_cast<std::int64_t>(refs.size());
        },
        90s))
        << admin_get(l.pos_admin, "/decisions").second;
    std::map<std::string, json::object> decision_of;
    for (const auto& d : decisions) decision_of[str(d.at("referral_ref"))] = d.as_object();
    ASSERT_EQ(decision_of.size(), refs.size());
    for (const auto& ref : refs) ASSERT_TRUE(decision_of.contains(ref)) << ref << " was never decided";

    // Ocean shows every decision: the folder, the decline reason, the appointment, the message.
    auto settled = [&](std::string* why) {
        const auto referrals = admin_json(l.ocean_admin, "/referrals");
        if (!referrals.is_array()) return false;
        for (const auto& r : referrals.as_array()) {
            const auto& o = r.as_object();
            const std::string ref = str(o.at("ref"));
            const auto& d = decision_of.at(ref);
            const std::string action = str(d.at("action"));
            const std::string folder = str(o.at("folder"));
            const auto fail = [&](const std::string& what) {
                if (why) *why = fmt::format("{} ({}): {}", ref, action, what);
                return false;
            };
            if (folder != expected_folder(d)) return fail("folder " + folder);
            if (action == "decline" && str(o.at("decline_reason")).empty()) return fail("no decline reason");
            if (action == "book") {
                const auto& appointments = o.at("appointments").as_array();
                if (appointments.size() != 1) return fail("appointments: " + json::serialize(appointments));
                if (str(appointments[0].at("start")).substr(0, 16) !=
                    str(d.at("appointment_start")).substr(0, 16))
                    return fail("appointment start");
            }
            if (action == "message" && o.at("communications").to_number<std::int64_t>() != 1)
                return fail("communications");
        }
        return true;
    };
    std::string why;
    EXPECT_TRUE(wait_until([&] { return settled(&why); }, 90s)) << why;

    // Nothing loops: once the echoes have come back, the counts stay still.
    std::this_thread::sleep_for(3s);
    const auto updates = admin_json(l.ocean_admin, "/updates");
    ASSERT_TRUE(updates.is_object());
    std::map<std::string, std::vector<json::object>> applied;  // per referral, in Ocean's order
    for (const auto& u : updates.at("updates").as_array()) {
        const auto& o = u.as_object();
        EXPECT_EQ(str(o.at("outcome")), "accepted") << json::serialize(o);
        applied[str(o.at("referral_ref"))].push_back(o);
    }
    std::size_t received_acks = 0;
    for (const auto& ref : refs) {
        SCOPED_TRACE(ref);
        const auto& list = applied[ref];
        // At most the received acknowledgement, then exactly the decision.
        ASSERT_GE(list.size(), 1U);
        ASSERT_LE(list.size(), 2U);
        if (list.size() == 2) {
            EXPECT_EQ(str(list[0].at("status")), "received") << "the acknowledgement comes first";
            ++received_acks;
        }
    }
    EXPECT_GT(received_acks, 0U) << "the delivery service acknowledged receipt for ocean_received_task";

    const auto echoes = admin_json(l.ocean_admin, "/observations").at("delivered_by_variant");
    const auto echoed = echoes.as_object().contains("echo") ? echoes.at("echo").to_number<double>() : 0.0;
    // Ocean echoes every change but a message (§3.5: "except ... sending a Communication").
    const auto changes = std::count_if(decision_of.begin(), decision_of.end(), [](const auto& d) {
        return str(d.second.at("action")) != "message";
    });
    EXPECT_GE(echoed, static_cast<double>(changes)) << "Ocean echoes every applied change";
    EXPECT_TRUE(wait_until(
        [&] {
            return metric(l.router_admin, "relay_router_records_total", {{"outcome", "echo"}}).value_or(0) >=
                   echoed;
        },
        30s))
        << "every echo is recognised by the router";

    // The hub system received each referral once (the duplicates and every echo were dropped).
    const auto pos = admin_json(l.pos_admin, "/deliveries");
    EXPECT_EQ(pos.at("deliveries").to_number<std::int64_t>(), static_cast<std::int64_t>(refs.size()))
        << json::serialize(pos);
    const auto decisions_now =
        admin_json(l.pos_admin, "/decisions").at("decisions").to_number<std::int64_t>();
    EXPECT_EQ(decisions_now, static_cast<std::int64_t>(refs.size())) << "no decision on an echo";
    EXPECT_EQ(admin_json(l.ocean_admin, "/updates").at("received").to_number<std::int64_t>(),
              updates.at("received").to_number<std::int64_t>())
        << "no update after the loop settled";

    EXPECT_EQ(ocean.terminate(), 0);
    EXPECT_EQ(pos_sim.terminate(), 0);
}

TEST(WholeLoop, ReferralsAreDeliveredDecidedAndReflectedInOceanWithEchoesSuppressed) {
    const ScratchDir dir("loop");
    const Loop l;
    ChildProcess ingress(dir, "ingress", RELAY_INGRESS_BINARY, ingress_yaml(l));
    ASSERT_TRUE(wait_ready(ingress, l.ingress_admin));
    ChildProcess router(dir, "router", RELAY_ROUTER_BINARY, router_yaml(l));
    ASSERT_TRUE(wait_ready(router, l.router_admin));
    ChildProcess delivery(dir, "delivery", RELAY_DELIVERY_BINARY, delivery_yaml(l));
    ASSERT_TRUE(wait_ready(delivery, l.delivery_admin));
    ChildProcess updater(dir, "updater", RELAY_UPDATER_BINARY, updater_yaml(l));
    ASSERT_TRUE(wait_ready(updater, l.updater_admin));
    expect_whole_loop(dir, l);
    EXPECT_EQ(updater.terminate(), 0);
    EXPECT_EQ(delivery.terminate(), 0);
    EXPECT_EQ(router.terminate(), 0);
    EXPECT_EQ(ingress.terminate(), 0);
}

TEST(WholeLoop, TheSameInOneProcessWithEveryRole) {
    const ScratchDir dir("loop-all-in-one");
    const Loop l;
    ChildProcess relay(dir, "ocean-relay", RELAY_ALL_IN_ONE_BINARY, all_in_one_yaml(l));
    for (const int admin : {l.updater_admin, l.delivery_admin, l.router_admin, l.ingress_admin})
        ASSERT_TRUE(wait_ready(relay, admin)) << "the role with admin port " << admin << " is not ready";
    expect_whole_loop(dir, l);
    EXPECT_EQ(relay.terminate(), 0) << "every role stops cleanly";
}

// -- Ocean's Open API / Patient Engagement webhook → the fetcher, in the one process --

constexpr const char* kLoopSiteKey = "loop-site-key";
constexpr const char* kLoopSiteCredential = "loop-site-credential";
constexpr const char* kLoopSek = "loop-shared-encryption-key";
constexpr const char* kLoopOpenApiKey = "loop-open-api-key-0123456789";
constexpr const char* kLoopAtRestKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
constexpr int kOpenApiReferrals = 6;
constexpr int kPatientNotifications = 3;
constexpr int kReferralNotifications = 2;

struct OpenApiLoop : Loop {
    int fetcher_admin = free_port();
};

/// Every role but the updater (no decisions here): the ingress with the integration's open_api
/// webhook, the router, the delivery service (the referral system and the eForm system) and the
/// fetcher pulling from ocean-sim's Open API; every topic sealed at rest with the shared key.
std::string open_api_all_in_one_yaml(const OpenApiLoop& l) {
    return fmt::format(R"(log_level: debug
kafka:
  bootstrap_servers: "{bootstrap}"
  at_rest:
    keys: [{{id: loop, key: {{value: "{at_rest}"}}}}]
ingress:
  service: {{log_level: debug}}
  listeners: [{{address: 127.0.0.1, port: {ingress}}}]
  admin: {{address: 127.0.0.1, port: {ingress_admin}}}
  kafka: {{partitions: 3, replication_factor: 1}}
  topics: {{prefix: "{prefix}"}}
  integrations:
    - site: "1234"
      name: clinic
      fhir_path: /ocean/1234/fhir
      open_api: {{keys: [{{value: "{open_api_key}"}}]}}
router:
  service: {{log_level: debug}}
  admin: {{address: 127.0.0.1, port: {router_admin}}}
  kafka: {{group_id: "{prefix}router", partitions: 3, replication_factor: 1, commit_interval: 200ms, linger: 1ms}}
  topics: {{prefix: "{prefix}"}}
  destinations: [{{id: intake, format: fhir-r4}}]
  routes: [{{site: "1234", external_service_id: INTAKE, destinations: [intake]}}]
delivery:
  service: {{log_level: debug}}
  admin: {{address: 127.0.0.1, port: {delivery_admin}}}
  kafka: {{group_id: "{prefix}delivery", tier_group_id: "{prefix}delivery-tiers", partitions: 3, replication_factor: 1, commit_interval: 200ms}}
  topics: {{prefix: "{prefix}"}}
  retry_tiers: [1s, 5s]
  destinations:
    - {{id: intake, url: "http://127.0.0.1:{pos}/intake"}}
    - {{id: eforms, url: "http://127.0.0.1:{pos}/eforms"}}
fetcher:
  service: {{log_level: debug}}
  admin: {{address: 127.0.0.1, port: {fetcher_admin}}}
  kafka: {{group_id: "{prefix}fetcher", partitions: 3, replication_factor: 1, commit_interval: 200ms}}
  topics: {{prefix: "{prefix}"}}
  ocean:
    base_url: "http://127.0.0.1:{ocean_api}"
    timeout: 5s
    sites:
      - {{site: "1234", site_key: {{value: "{site_key}"}}, site_credential: {{value: "{credential}"}}, sek: {{value: "{sek}"}}}}
  eforms:
    destinations: [{{id: eforms, format: fhir-r4}}]
  retry: {{initial: 200ms, max_delay: 2s, max_age: 5m}}
)",
                       fmt::arg("bootstrap", l.bootstrap),
                       fmt::arg("at_rest", kLoopAtRestKey),
                       fmt::arg("ingress", l.ingress),
                       fmt::arg("ingress_admin", l.ingress_admin),
                       fmt::arg("prefix", l.prefix),
                       fmt::arg("open_api_key", kLoopOpenApiKey),
                       fmt::arg("router_admin", l.router_admin),
                       fmt::arg("delivery_admin", l.delivery_admin),
                       fmt::arg("pos", l.pos),
                       fmt::arg("fetcher_admin", l.fetcher_admin),
                       fmt::arg("ocean_api", l.ocean_api),
                       fmt::arg("site_key", kLoopSiteKey),
                       fmt::arg("credential", kLoopSiteCredential),
                       fmt::arg("sek", kLoopSek));
}

std::string open_api_pos_sim_yaml(const OpenApiLoop& l) {
    return fmt::format(R"(
log_level: warn
listener: {{address: 127.0.0.1, port: {}}}
admin: {{address: 127.0.0.1, port: {}}}
routes: [{{name: intake}}, {{name: eforms}}]
)",
                       l.pos,
                       l.pos_admin);
}

/// Ocean: FHIR webhooks, then the challenge and the Open API notifications about those referrals; its
/// Open API serves what they name with the site's credentials and SEK.
std::string open_api_ocean_sim_yaml(const OpenApiLoop& l) {
    return fmt::format(R"(
log_level: warn
admin: {{address: 127.0.0.1, port: {ocean_admin}}}
exit_when_done: false
webhooks:
  target_url: http://127.0.0.1:{ingress}/ocean/1234/fhir
  count: {referrals}
  concurrency: 2
  seed: 8
  site_number: "1234"
  listing_ref: loop_intake_10000001
  external_service_id: INTAKE
  v0_10_share: 0
  retry: {{time_scale: 0.001}}
open_api:
  url: http://127.0.0.1:{ingress}/ocean/clinic/openapi/webhook
  key: {{value: "{open_api_key}"}}
  patient_notifications: {patient}
  referral_notifications: {referral}
api:
  listener: {{address: 127.0.0.1, port: {ocean_api}}}
  signing_key: {{value: "loop-ocean-signing-key-0123456789abcdef"}}
  clients: [{{client_id: relay-1234, client_secret: {{value: "loop-ocean-secret"}}}}]
  sites: [{{site_num: "1234", site_key: {{value: "{site_key}"}}, site_credential: {{value: "{credential}"}}, sek: {{value: "{sek}"}}}}]
)",
                       fmt::arg("ocean_admin", l.ocean_admin),
                       fmt::arg("ingress", l.ingress),
                       fmt::arg("referrals", kOpenApiReferrals),
                       fmt::arg("open_api_key", kLoopOpenApiKey),
                       fmt::arg("patient", kPatientNotifications),
                       fmt::arg("referral", kReferralNotifications),
                       fmt::arg("ocean_api", l.ocean_api),
                       fmt::arg("site_key", kLoopSiteKey),
                       fmt::arg("credential", kLoopSiteCredential),
                       fmt::arg("sek", kLoopSek));
}

std::int64_t count_at(const json::value& v, std::initializer_list<std::string_view> path) {
    const json::value* at = &v;
    for (const auto key : path) {
        if (!at->is_object() || !at->as_object().contains(key)) return 0;
        at = &at->as_object().at(key);
    }
    return at->is_number() ? at->to_number<std::int64_t>() : 0;
}

TEST(WholeLoop, OceansOpenApiNotificationsThroughTheFetcherInOneProcess) {
    const ScratchDir dir("loop-open-api");
    const OpenApiLoop l;
    ChildProcess relay(dir, "ocean-relay", RELAY_ALL_IN_ONE_BINARY, open_api_all_in_one_yaml(l));
    for (const int admin : {l.fetcher_admin, l.delivery_admin, l.router_admin, l.ingress_admin})
        ASSERT_TRUE(wait_ready(relay, admin)) << "the role with admin port " << admin << " is not ready";
    ChildProcess pos_sim(dir, "pos-sim", RELAY_POS_SIM_BINARY, open_api_pos_sim_yaml(l));
    ASSERT_TRUE(
        wait_until([&] { return pos_sim.exited() || admin_get(l.pos_admin, "/healthz").first == 200; }, 30s));
    ASSERT_FALSE(pos_sim.exited());
    ChildProcess ocean(dir, "ocean-sim", RELAY_OCEAN_SIM_BINARY, open_api_ocean_sim_yaml(l));

    // Ocean validated the endpoint (the ingress echoed the challenge) and every notification was stored.
    ASSERT_TRUE(wait_until(
        [&] {
            const auto o = admin_json(l.ocean_admin, "/observations");
            return count_at(o, {"open_api", "delivered"}) >= kPatientNotifications + kReferralNotifications;
        },
        30s))
        << admin_get(l.ocean_admin, "/observations").second;
    const auto observations = admin_json(l.ocean_admin, "/observations");
    EXPECT_EQ(str(observations.at("open_api").at("challenge")), "passed");
    EXPECT_EQ(count_at(observations, {"open_api", "gave_up"}), 0);

    // pos-sim: each eForm session as a FHIR Bundle with a QuestionnaireResponse on the eForm system, and
    // the referral system got the FHIR referrals plus the ones the fetcher pulled over the Open API.
    json::value pos;
    const bool arrived = wait_until(
        [&] {
            pos = admin_json(l.pos_admin, "/deliveries");
            return count_at(pos, {"by_route", "eforms"}) >= kPatientNotifications &&
                   count_at(pos, {"by_route", "intake"}) >= kOpenApiReferrals + kReferralNotifications;
        },
        40s);
    ASSERT_TRUE(arrived) << json::serialize(pos) << "\nfetcher:\n"
                         << admin_get(l.fetcher_admin, "/metrics").second.substr(0, 4000);
    EXPECT_EQ(count_at(pos, {"bundles_with_resource", "eforms", "QuestionnaireResponse"}),
              kPatientNotifications)
        << json::serialize(pos);
    EXPECT_EQ(count_at(pos, {"bundles_with_resource", "eforms", "Patient"}), kPatientNotifications);
    EXPECT_EQ(count_at(pos, {"by_route_event", "eforms", "notify-patient-note-added"}) +
                  count_at(pos, {"by_route_event", "eforms", "notify-patient-message-forms-completion"}),
              kPatientNotifications);
    EXPECT_EQ(count_at(pos, {"by_route", "intake"}), kOpenApiReferrals + kReferralNotifications)
        << "each FHIR referral once, and each Open API referral once";
    EXPECT_EQ(
        metric(l.fetcher_admin, "relay_fetcher_notifications_total", {{"outcome", "fetched"}}).value_or(0),
        kReferralNotifications);
    const auto delivered = [&](const std::string& type) {
        return metric(l.fetcher_admin,
                      "relay_fetcher_notifications_total",
                      {{"type", type}, {"outcome", "delivered"}})
            .value_or(0);
    };
    EXPECT_EQ(delivered("notify-patient-note-added") + delivered("notify-patient-message-forms-completion"),
              kPatientNotifications);

    // Nothing was dead-lettered, and the deliveries rest sealed: the broker's bytes never hold the
    // patient's family name that the opened eForm Bundle carries.
    EXPECT_TRUE(consume_all(l.bootstrap, l.prefix + "ocean.notifications.dlq.v1", 1, 2s).empty());
    const auto deliveries = consume_all(l.bootstrap, l.prefix + "relay.deliveries.v1", 100, 5s);
    const kafka::AtRest keys({{"loop", Secret::from_value(kLoopAtRestKey)}}, "loop", {"*"}, "test");
    std::set<std::string> families;
    for (const auto& record : deliveries) {
        ASSERT_EQ(record.header("relay-at-rest"), "loop") << "every delivery is sealed";
        if (record.header("destination") != "eforms") continue;
        const auto opened = keys.open("loop", record.value);
        ASSERT_TRUE(std::holds_alternative<std::string>(opened));
        const auto bundle = json::parse(std::get<std::string>(opened));
        for (const auto& entry : bundle.at("entry").as_array()) {
            const auto& resource = entry.at("resource").as_object();
            if (str(resource.at("resourceType")) != "Patient") continue;
            families.insert(str(resource.at("name").as_array().at(0).at("family")));
        }
    }
    ASSERT_FALSE(families.empty()) << "the eForm deliveries name the patient";
    for (const auto& family : families) {
        ASSERT_FALSE(family.empty());
        for (const auto& record : deliveries)
            EXPECT_EQ(record.value.find(family), std::string::npos)
                << "a delivery holds a family name in clear";
    }
    // Every topic the run wrote (at_rest seals them all here): no record, value or header, names a
    // patient in clear.
    for (const char* topic : {"ocean.inbound.v1", "ocean.notifications.v1", "relay.events.v1", "relay.referrals.state.v1",
                              "relay.fetcher.sessions.v1", "relay.updates.v1", "relay.inbound.dlq.v1"}) {
        const auto records = consume_all(l.bootstrap, l.prefix + topic, 100'000, 2s);
        if (std::string_view(topic) == "ocean.inbound.v1") {
            EXPECT_GE(records.size(), static_cast<std::size_t>(kOpenApiReferrals + kReferralNotifications))
                << "the FHIR referrals and the fetched Open API referrals were read";
        }
        for (const auto& record : records) {
            for (const auto& family : families) {
                EXPECT_EQ(record.value.find(family), std::string::npos) << topic << " holds a family name in clear";
                for (const auto& [name, value] : record.headers)
                    EXPECT_EQ(value.find(family), std::string::npos) << topic << " header " << name;
            }
        }
    }

    EXPECT_EQ(ocean.terminate(), 0);
    EXPECT_EQ(pos_sim.terminate(), 0);
    EXPECT_EQ(relay.terminate(), 0) << "every role stops cleanly";
    // Every role's log lines, the whole run: refs and ids, never a name the fetcher decrypted.
    std::ifstream log_file(relay.log_path());
    const std::string logs{std::istreambuf_iterator<char>(log_file), std::istreambuf_iterator<char>()};
    EXPECT_NE(logs.find("eForm results delivered"), std::string::npos) << "the fetcher's lines are in the log";
    for (const auto& family : families) EXPECT_EQ(logs.find(family), std::string::npos) << "a log line names the patient";
}

}  // namespace
}  // namespace relay::test
