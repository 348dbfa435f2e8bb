#include "config.hpp"

#include <fmt/format.h>

#include <boost/asio/ip/address.hpp>
#include <fstream>
#include <set>
#include <sstream>

#include "relay/auth/config.hpp"
#include "relay/delivery/retry_config.hpp"
#include "relay/service/kafka_section.hpp"

namespace relay::launch {

namespace {

constexpr std::size_t kMaxLogoBytes = 512 * 1024;

/// Text an admin writes for the pages: 1-`max` bytes, no control characters (it is HTML-escaped when shown).
std::string read_text(ConfigReader::Node& node, std::string_view key, std::size_t max, bool required) {
    const auto text = required ? std::optional<std::string>(node.required_string(key)) : node.optional_string(key);
    if (!text) return {};
    if (text->empty() || text->size() > max) node.fail(key, fmt::format("must be 1-{} characters", max));
    for (const char c : *text)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) node.fail(key, "must not contain control characters");
    return *text;
}

bool is_loopback_host(std::string_view host) {
    if (host == "localhost") return true;
    if (host.starts_with('[') && host.ends_with(']')) host = host.substr(1, host.size() - 2);
    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(std::string(host), ec);
    return !ec && address.is_loopback();
}

/// An absolute URL; http only for loopback hosts (a test), https everywhere else.
http::Url read_url(ConfigReader::Node& node, std::string_view key, std::string_view text) {
    const auto url = http::Url::parse(text);
    if (!url) node.fail(key, "must be an absolute https:// URL");
    if (!url->tls && !is_loopback_host(url->host))
        node.fail(key, "must be https:// (plain http only for a loopback host)");
    if (text.find('#') != std::string_view::npos) node.fail(key, "must not have a fragment");
    return *url;
}

/// "https://host[:port]" exactly: what a browser compares frame-ancestors against.
std::string read_origin(ConfigReader::Node& node, std::string_view key, const std::string& text) {
    const auto url = read_url(node, key, text);
    std::string origin = text;
    while (origin.ends_with('/')) origin.pop_back();
    if (url.target != "/" || origin.find_first_of("?#*; '\"") != std::string::npos)
        node.fail(key, "entries must be origins (scheme://host[:port], no path or wildcard)");
    return origin;
}

http::ListenerConfig read_listener(ConfigReader::Node node) {
    http::ListenerConfig listener;
    listener.name = "launch";
    listener.address = node.string("address", "0.0.0.0");
    listener.port = static_cast<std::uint16_t>(node.integer("port", 8450, 0, 65535));
    if (node.has("tls")) {
        auto tls = node.child("tls");
        listener.tls = http::TlsFiles{tls.required_string("cert_file"), tls.required_string("key_file")};
    } else if (!is_loopback_address(listener.address)) {
        node.fail("tls", "is required: browsers carry launch contexts and cookies here (plain HTTP only on a "
                         "loopback address)");
    }
    // Launch and completion are GETs; a redemption is a small JSON document: small bounds by default.
    http::Limits defaults;
    defaults.body_limit = 16 * 1024;
    defaults.header_timeout = std::chrono::seconds(10);
    defaults.body_timeout = std::chrono::seconds(10);
    defaults.idle_timeout = std::chrono::seconds(30);
    defaults.write_timeout = std::chrono::seconds(10);
    defaults.max_connections = 1024;
    defaults.read_buffer = 16 * 1024;
    listener.limits = service::read_http_limits(node, defaults);
    return listener;
}

Branding read_branding(ConfigReader::Node node) {
    Branding branding;
    branding.company_name = read_text(node, "company_name", 120, true);
    branding.application_name = read_text(node, "application_name", 120, true);
    branding.category = read_text(node, "category", 120, false);
    branding.referral_form = read_text(node, "referral_form", 200, false);
    const std::string confirmation = read_text(node, "confirmation_message", 1000, false);
    if (!confirmation.empty()) branding.confirmation_message = confirmation;
    if (node.has("logo")) {
        auto logo = node.child("logo");
        const std::string path = logo.required_string("file");
        branding.logo_content_type = logo.choice(
            "content_type", "image/png", {"image/png", "image/svg+xml", "image/jpeg", "image/gif", "image/webp"});
        std::ifstream in(path, std::ios::binary);
        if (!in) logo.fail("file", "cannot be read");
        std::ostringstream bytes;
        bytes << in.rdbuf();
        branding.logo = bytes.str();
        if (branding.logo.empty() || branding.logo.size() > kMaxLogoBytes)
            logo.fail("file", fmt::format("must be 1 byte to {} KiB", kMaxLogoBytes / 1024));
    }
    return branding;
}

ParameterNames read_parameters(ConfigReader::Node node) {
    ParameterNames names;
    std::set<std::string> seen;
    const auto read = [&](std::string_view key, std::string& name) {
        name = node.string(key, name);
        if (name.empty() || name.size() > 64 ||
            name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
                std::string::npos)
            node.fail(key, "must be 1-64 characters of [A-Za-z0-9_.-]");
        if (!seen.insert(name).second) node.fail(key, fmt::format("'{}' names two parameters", name));
    };
    read("referral_ref", names.referral_ref);
    read("site", names.site);
    read("listing_ref", names.listing_ref);
    read("external_service_id", names.external_service_id);
    read("launch_token", names.launch_token);
    return names;
}

std::optional<std::string> read_ref(ConfigReader::Node& node, std::string_view key) {
    auto value = node.optional_string(key);
    if (value && (value->empty() || value->size() > 128 ||
                  value->find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:~-") !=
                      std::string::npos))
        node.fail(key, "must be 1-128 characters of [A-Za-z0-9_.:~-]");
    return value;
}

Target read_target(ConfigReader::Node node, const LaunchConfig& config) {
    Target target;
    target.listing_ref = read_ref(node, "listing_ref");
    target.external_service_id = read_ref(node, "external_service_id");
    target.hub_system = node.required_string("hub_system");
    if (config.find_hub_system(target.hub_system) == nullptr)
        node.fail("hub_system", fmt::format("'{}' is not in hub_systems", target.hub_system));
    target.launch_url_text = node.required_string("launch_url");
    target.launch_url = read_url(node, "launch_url", target.launch_url_text);
    target.context_parameter = node.string("context_parameter", target.context_parameter);
    if (target.context_parameter.empty() || target.context_parameter.size() > 64 ||
        target.context_parameter.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
            std::string::npos)
        node.fail("context_parameter", "must be 1-64 characters of [A-Za-z0-9_.-]");
    if (const auto health = node.optional_string("health_url")) target.health_url = read_url(node, "health_url", *health);
    return target;
}

Integration read_integration(ConfigReader::Node node, const LaunchConfig& config) {
    Integration integration;
    integration.id = node.required_string("id");
    if (!is_valid_name(integration.id)) node.fail("id", "must be 1-63 characters of [a-z0-9-] (a URL path segment)");
    integration.site = node.required_string("site");
    if (!openapi::is_site_number(integration.site)) node.fail("site", "must be Ocean's site number: 1-16 digits");
    if (config.ocean.find(integration.site) == nullptr || !config.ocean.find(integration.site)->open_api)
        node.fail("site", "needs the site's Open API credentials in ocean.sites (the referral is fetched with them)");
    integration.mode = node.choice("mode", "redirect", {"redirect", "iframe"}) == "iframe" ? Integration::Mode::kIframe
                                                                                          : Integration::Mode::kRedirect;
    const auto ancestors = node.string_list(
        "frame_ancestors", {"https://ocean.cognisantmd.com", "https://test.cognisantmd.com"});
    if (ancestors.empty() || ancestors.size() > 16) node.fail("frame_ancestors", "list 1-16 origins (Ocean's)");
    for (const auto& origin : ancestors) integration.frame_ancestors.push_back(read_origin(node, "frame_ancestors", origin));
    integration.parameters = read_parameters(node.child("parameters"));
    integration.require_launch_token = node.boolean("require_launch_token", false);
    integration.handoff_delay = std::chrono::duration_cast<std::chrono::seconds>(
        node.duration("handoff_delay", std::chrono::seconds(1), std::chrono::seconds(0)));
    if (integration.handoff_delay > std::chrono::seconds(30)) node.fail("handoff_delay", "must be at most 30s");
    integration.branding = read_branding(node.child("branding"));
    for (auto& target : node.list("targets")) integration.targets.push_back(read_target(target, config));
    if (integration.targets.empty()) node.fail("targets", "list at least one hub system launch URL");
    if (integration.targets.size() > 256) node.fail("targets", "list at most 256");
    if (const auto limit = delivery::read_rate_limit(node, 20)) integration.rate_limit = *limit;
    return integration;
}

}  // namespace

bool is_loopback_address(std::string_view address) { return is_loopback_host(address); }

const Integration* LaunchConfig::find_integration(std::string_view id) const {
    for (const auto& integration : integrations)
        if (integration.id == id) return &integration;
    return nullptr;
}

const HubSystem* LaunchConfig::find_hub_system(std::string_view id) const {
    for (const auto& hub : hub_systems)
        if (hub.id == id) return &hub;
    return nullptr;
}

LaunchConfig load_config(ConfigReader& reader) {
    LaunchConfig config;
    auto root = reader.root();
    config.log_level = root.child("service").choice("log_level", "info", {"debug", "info", "warn", "error"});
    config.listener = read_listener(root.child("listener"));
    auto admin = root.child("admin");
    config.admin = service::read_admin_listener(admin, 9097);

    if (const auto url = root.optional_string("public_url")) {
        config.public_url = *url;
        while (config.public_url.ends_with('/')) config.public_url.pop_back();
        const auto parsed = read_url(root, "public_url", config.public_url);
        if (parsed.target != "/" && parsed.target != "") root.fail("public_url", "must be an origin without a path");
    }

    config.ocean = openapi::read_config(root.child("ocean"));

    config.signing_key = root.required_secret("signing_key");
    if (config.signing_key.reveal().size() < 32)
        root.fail("signing_key", "must be at least 32 bytes (`openssl rand -base64 32`)");
    config.context_ttl = std::chrono::duration_cast<std::chrono::seconds>(
        root.duration("context_ttl", config.context_ttl, std::chrono::seconds(5)));
    if (config.context_ttl > std::chrono::minutes(10)) root.fail("context_ttl", "must be at most 10m (one use, soon)");
    config.completion_window = std::chrono::duration_cast<std::chrono::seconds>(
        root.duration("completion_window", config.completion_window, std::chrono::seconds(10)));
    if (config.completion_window < config.context_ttl || config.completion_window > std::chrono::hours(24))
        root.fail("completion_window", "must be from context_ttl to 24h");
    config.max_redeemed = static_cast<std::size_t>(root.integer("max_redeemed", 100'000, 100, 10'000'000));
    config.health_timeout = root.duration("health_timeout", config.health_timeout, std::chrono::milliseconds(100));

    auto failures = root.child("failures");
    config.failures = auth::read_failure_limits(failures);

    std::set<std::string> hub_ids;
    for (auto& node : root.list("hub_systems")) {
        HubSystem hub;
        hub.id = node.required_string("id");
        if (!is_valid_name(hub.id)) node.fail("id", "must be 1-63 characters of [a-z0-9-]");
        if (!hub_ids.insert(hub.id).second) node.fail("id", fmt::format("'{}' is listed twice", hub.id));
        hub.auth = auth::read_policy(node.child("auth"));
        if (hub.auth.scheme == auth::Scheme::kNone || hub.auth.scheme == auth::Scheme::kOAuth2)
            node.child("auth").fail("scheme", "must be basic, bearer or api_key: a redemption hands out patient data");
        config.hub_systems.push_back(std::move(hub));
    }
    if (config.hub_systems.empty()) root.fail("hub_systems", "list at least one hub system");

    std::set<std::string> ids;
    for (auto& node : root.list("integrations")) {
        auto integration = read_integration(node, config);
        if (!ids.insert(integration.id).second) node.fail("id", fmt::format("'{}' is listed twice", integration.id));
        config.integrations.push_back(std::move(integration));
    }
    if (config.integrations.empty()) root.fail("integrations", "list at least one Ocean integration");
    reader.check_no_unknown_keys();
    return config;
}

LaunchConfig load_config_file(const std::string& path) {
    auto reader = ConfigReader::from_file(path, "RELAY");
    return load_config(reader);
}

}  // namespace relay::launch
