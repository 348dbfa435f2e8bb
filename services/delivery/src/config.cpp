#include "config.hpp"

#include "relay/delivery/retry_config.hpp"

#include <fmt/format.h>

#include <set>
#include <stdexcept>

namespace relay::delivery_service {

namespace {

Duration read_duration(ConfigReader::Node& node, std::string_view key, Duration fallback, Duration min) {
    return std::chrono::duration_cast<Duration>(node.duration(key, fallback, min));
}

DestinationAuth read_auth(ConfigReader::Node node) {
    DestinationAuth auth;
    const std::string scheme = node.choice("scheme", "none", {"none", "basic", "bearer", "oauth2"});
    if (scheme == "basic") {
        auth.scheme = DestinationAuth::Scheme::kBasic;
        auth.username = node.required_string("username");
        auth.secret = node.required_secret("password");
    } else if (scheme == "bearer") {
        auth.scheme = DestinationAuth::Scheme::kBearer;
        auth.secret = node.required_secret("token");
    } else if (scheme == "oauth2") {
        auth.scheme = DestinationAuth::Scheme::kOAuth2;
        const std::string token_url = node.required_string("token_url");
        const auto url = http::Url::parse(token_url);
        if (!url) node.fail("token_url", "must be an absolute http:// or https:// URL");
        http::OAuthClientConfig oauth{
            *url, node.required_string("client_id"), node.required_secret("client_secret")};
        oauth.scope = node.string("scope", "");
        oauth.style = node.choice("client_auth", "basic", {"basic", "form"}) == "form"
                          ? http::ClientAuthStyle::kFormFields
                          : http::ClientAuthStyle::kBasicHeader;
        oauth.refresh_margin = std::chrono::duration_cast<std::chrono::seconds>(
            node.duration("refresh_margin", std::chrono::seconds(60)));
        auth.oauth = std::move(oauth);
    }
    return auth;
}

}  // namespace

const DestinationSettings* DeliveryConfig::find(std::string_view id) const {
    for (const auto& d : destinations)
        if (d.sender.id == id) return &d;
    return nullptr;
}

DeliveryConfig read_delivery_config(ConfigReader::Node root) {
    DeliveryConfig config;
    const std::vector<std::string> default_tiers{"10s", "1m", "10m", "1h"};
    for (const auto& text : root.string_list("retry_tiers", default_tiers)) {
        const auto tier = parse_duration(text);
        if (!tier || tier->count() <= 0)
            root.fail("retry_tiers", "must be durations such as 10s, 1m, 10m, 1h");
        config.retry_tiers.push_back(std::chrono::duration_cast<Duration>(*tier));
    }
    try {
        DelayTiers check(config.retry_tiers);
    } catch (const std::invalid_argument& e) {
        root.fail("retry_tiers", e.what());
    }

    std::set<std::string> ids;
    for (auto& node : root.list("destinations")) {
        DestinationSettings d;
        auto& sender = d.sender;
        sender.id = node.required_string("id");
        if (!is_valid_name(sender.id)) node.fail("id", "must be 1-63 characters of a-z, 0-9 and '-'");
        if (!ids.insert(sender.id).second) node.fail("id", fmt::format("'{}' is defined twice", sender.id));
        const auto url = http::Url::parse(node.required_string("url"));
        if (!url) node.fail("url", "must be an absolute http:// or https:// URL");
        sender.url = *url;
        const std::string method = node.choice("method", "POST", {"POST", "PUT"});
        sender.method = method == "PUT" ? boost::beast::http::verb::put : boost::beast::http::verb::post;
        sender.headers = node.string_map("headers");
        sender.auth = read_auth(node.child("auth"));
        sender.client.request_timeout =
            read_duration(node, "timeout", std::chrono::seconds(30), Duration(100));
        sender.client.connect_timeout =
            read_duration(node, "connect_timeout", std::chrono::seconds(5), Duration(100));
        // Resolved addresses are reused this long (0 = resolve for every new connection).
        sender.client.dns_cache_ttl = std::chrono::duration_cast<std::chrono::milliseconds>(
            node.duration("dns_cache_ttl", std::chrono::seconds(30), std::chrono::milliseconds(0)));
        auto tls = node.child("tls");
        if (const auto ca = tls.optional_string("ca_file")) sender.client.ca_file = *ca;
        const auto cert = tls.optional_string("client_cert_file");
        const auto key = tls.optional_string("client_key_file");
        if (cert.has_value() != key.has_value())
            tls.fail(cert ? "client_key_file" : "client_cert_file",
                     "mutual TLS needs both the certificate and its key");
        if (cert) sender.client.client_certificate = http::TlsFiles{*cert, *key};

        d.max_concurrency = static_cast<int>(node.integer("max_concurrency", 8, 1, 10'000));
        d.ocean_received_task = node.boolean("ocean_received_task", false);
        d.rate_limit = delivery::read_rate_limit(node, 10);
        d.breaker = delivery::read_breaker(node, delivery::CircuitBreakerConfig{});
        auto retry = node.child("retry");
        RetryPolicy retry_defaults;  // 1 s doubling up to 1 h, 10 attempts, 24 h
        d.retry = delivery::read_retry_policy(retry, retry_defaults);
        config.destinations.push_back(std::move(d));
    }
    return config;
}

}  // namespace relay::delivery_service
