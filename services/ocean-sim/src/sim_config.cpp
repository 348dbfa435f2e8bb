#include "sim_config.hpp"

#include <fmt/format.h>

namespace relay::ocean_sim {
namespace {}  // namespace

SimConfig load_sim_config(ConfigReader& reader) {
    SimConfig config;
    auto root = reader.root();
    config.log_level = root.choice("log_level", "info", {"debug", "info", "warn", "error"});
    auto admin = root.child("admin");
    config.admin.name = "admin";
    config.admin.address = admin.string("address", "127.0.0.1");
    config.admin.port = static_cast<std::uint16_t>(admin.integer("port", 9190, 0, 65535));
    config.admin.limits.body_limit = 64 * 1024;
    config.observations_file = root.optional_string("observations_file");
    config.exit_when_done = root.boolean("exit_when_done", true);

    auto node = root.child("webhooks");
    auto& plan = config.webhooks;
    plan.target_url = node.required_string("target_url");
    plan.count = static_cast<std::uint64_t>(node.integer("count", 10, 0, 1'000'000'000));
    plan.concurrency = static_cast<int>(node.integer("concurrency", 4, 1, 1024));
    plan.seed = static_cast<std::uint64_t>(node.integer("seed", 1, 0, INT64_MAX));
    plan.rate = node.number("rate", 0, 0, 1e6);  // messages per second; 0 = as fast as allowed
    plan.base.site_number = node.string("site_number", "1234");
    plan.base.listing_ref = node.string("listing_ref", "ocean_sim_listing_10000001");
    plan.base.external_service_id = node.string("external_service_id", "");
    plan.base.ocean_host = node.string("ocean_host", "https://ocean.cognisantmd.com");
    plan.base.attachment_bytes = node.bytes("attachment_bytes", 0, 0, 64ULL << 20);
    plan.v0_10_share = node.number("v0_10_share", 0, 0, 1);
    plan.duplicate_share = node.number("duplicate_share", 0, 0, 1);
    plan.resend_new_share = node.number("resend_new_share", 0, 0, 1);
    plan.resend_update_share = node.number("resend_update_share", 0, 0, 1);

    auto retry = node.child("retry");
    // e.g. 0.001 turns Ocean's hours into seconds
    plan.retry.time_scale = retry.number("time_scale", 1, 1e-9, 1e6);
    plan.retry.give_up_after = retry.duration("give_up_after", plan.retry.give_up_after);

    auto auth = node.child("auth");
    auto& a = plan.auth;
    a.scheme = auth.choice("scheme", "none", {"none", "basic", "bearer", "api_key", "oauth2"});
    if (a.scheme == "basic") {
        a.username = auth.required_string("username");
        a.password = auth.required_secret("password");
    } else if (a.scheme == "bearer") {
        a.token = auth.required_secret("token");
    } else if (a.scheme == "api_key") {
        a.header = auth.string("header", "x-api-key");
        a.key = auth.required_secret("key");
    } else if (a.scheme == "oauth2") {
        auto url = http::Url::parse(auth.required_string("token_url"));
        if (!url) auth.fail("token_url", "must be an http(s) URL");
        http::OAuthClientConfig oauth{
            *url, auth.required_string("client_id"), auth.required_secret("client_secret")};
        oauth.scope = auth.string("scope", "");
        oauth.style = auth.choice("client_auth", "form", {"form", "basic"}) == "basic"
                          ? http::ClientAuthStyle::kBasicHeader
                          : http::ClientAuthStyle::kFormFields;
        a.oauth = std::move(oauth);
    }
    if (auth.has("signature_key")) a.signature_key = auth.required_secret("signature_key");

    if (root.has("open_api")) {
        auto node = root.child("open_api");
        OpenApiWebhookPlan open;
        open.url = node.required_string("url");
        if (!http::Url::parse(open.url)) node.fail("url", "must be an http(s) URL");
        if (node.has("key")) open.key = node.required_secret("key");
        open.key_in = node.choice("key_in", "query", {"query", "header", "path"});
        open.key_parameter = node.string("key_parameter", "k");
        open.key_header = node.string("key_header", "x-ocean-webhook-key");
        open.site_number = node.string("site_number", plan.base.site_number);
        open.patient_notifications =
            static_cast<std::uint64_t>(node.integer("patient_notifications", 0, 0, 1'000'000));
        open.referral_notifications =
            static_cast<std::uint64_t>(node.integer("referral_notifications", 0, 0, 1'000'000));
        open.challenge = node.boolean("challenge", true);
        open.seed =
            static_cast<std::uint64_t>(node.integer("seed", static_cast<long long>(plan.seed), 0, INT64_MAX));
        open.retry = plan.retry;  // Ocean's schedule, as for the FHIR webhooks
        if (node.has("complete_links_after"))
            open.complete_links_after = node.duration("complete_links_after", std::chrono::milliseconds(0));
        config.open_api = std::move(open);
    }

    if (root.has("api")) {
        auto api = root.child("api");
        auto listener = api.child("listener");
        config.api_listener.name = "ocean-api";
        config.api_listener.address = listener.string("address", "127.0.0.1");
        config.api_listener.port = static_cast<std::uint16_t>(listener.integer("port", 8090, 0, 65535));
        OceanApiConfig ocean;
        ocean.signing_key = api.required_secret("signing_key");
        ocean.token_lifetime = std::chrono::duration_cast<std::chrono::seconds>(
            api.duration("token_lifetime", std::chrono::hours(1), std::chrono::seconds(1)));
        for (auto& client : api.list("clients")) {
            ocean.clients.push_back(
                OceanApiClient{client.required_string("client_id"), client.required_secret("client_secret")});
        }
        if (ocean.clients.empty()) api.fail("clients", "configure at least one OAuth client");
        for (auto& site : api.list("sites")) {
            ocean.sites.push_back(OceanApiSite{site.required_string("site_num"),
                                               site.required_secret("site_key"),
                                               site.required_secret("site_credential"),
                                               site.required_secret("sek"),
                                               site.boolean("rsa_only", false)});
        }
        // An attachment's body is base64 text; the admission hook lowers the limit of the other routes.
        config.api_listener.limits.body_limit = kMaxAttachmentBody;
        ocean.ocean_host = plan.base.ocean_host;
        config.api_faults = read_api_fault_rules(api.list("faults"));
        config.updates_file = api.optional_string("updates_file");
        config.fault_seed = static_cast<std::uint64_t>(api.integer("fault_seed", 1, 0, INT64_MAX));
        config.api = std::move(ocean);
    }
    if (root.has("launch")) {
        if (!config.api) root.fail("launch", "needs an api section (its listener serves the launch)");
        config.api->launch = read_launch_link_config(root.child("launch"));
    }
    if (config.open_api && config.open_api->complete_links_after && !config.api)
        root.child("open_api")
            .fail("complete_links_after", "needs an api section (it issues the eForm links)");
    reader.check_no_unknown_keys();
    return config;
}

}  // namespace relay::ocean_sim
