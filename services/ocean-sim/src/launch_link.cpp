#include "launch_link.hpp"

#include <fmt/format.h>

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <stdexcept>
#include <variant>

#include "ocean_api.hpp"
#include "relay/core/encoding.hpp"
#include "relay/core/log.hpp"
#include "relay/http/async_client.hpp"
#include "relay/ocean/crypto.hpp"

namespace relay::ocean_sim {

namespace bhttp = boost::beast::http;

namespace {

void append_parameter(std::string& url, std::string_view name, std::string_view value) {
    url += url.find('?') == std::string::npos ? '?' : '&';
    url += query_escape(name);
    url += '=';
    url += query_escape(value);
}

}  // namespace

LaunchLinkConfig read_launch_link_config(ConfigReader::Node node) {
    LaunchLinkConfig config;
    config.url = node.required_string("url");
    if (!http::Url::parse(config.url) || config.url.find('#') != std::string::npos)
        node.fail("url", "must be an http(s) URL without a fragment");
    config.mode = node.choice("mode", "redirect", {"redirect", "iframe"}) == "iframe"
                      ? LaunchLinkConfig::Mode::kIframe
                      : LaunchLinkConfig::Mode::kRedirect;
    auto names = node.child("parameters");
    auto& p = config.parameters;
    p.referral_ref = names.string("referral_ref", p.referral_ref);
    p.site = names.string("site", p.site);
    p.listing_ref = names.string("listing_ref", p.listing_ref);
    p.external_service_id = names.string("external_service_id", p.external_service_id);
    p.launch_token = names.string("launch_token", p.launch_token);
    for (const auto* name :
         {&p.referral_ref, &p.site, &p.listing_ref, &p.external_service_id, &p.launch_token}) {
        if (name->empty()) names.fail("referral_ref", "parameter names must not be empty");
    }
    config.listing_ref = node.optional_string("listing_ref");
    config.external_service_id = node.optional_string("external_service_id");
    return config;
}

std::string launch_url(const LaunchLinkConfig& config,
                       const LaunchReferral& referral,
                       std::string_view launch_token) {
    const auto& names = config.parameters;
    std::string url = config.url;
    append_parameter(url, names.referral_ref, referral.ref);
    append_parameter(url, names.site, referral.site);
    append_parameter(url, names.listing_ref, config.listing_ref.value_or(referral.listing_ref));
    const std::string service_id = config.external_service_id.value_or(referral.external_service_id);
    if (!service_id.empty()) append_parameter(url, names.external_service_id, service_id);
    append_parameter(url, names.launch_token, launch_token);
    return url;
}

std::string referral_sent_page(std::string_view referral_ref, std::string_view url) {
    return fmt::format(R"(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Ocean - Referral sent</title>
<style>
body {{ margin: 0; font-family: sans-serif; background: #f4f7fa; color: #1d2b36; }}
header {{ background: #0a5c8a; color: #fff; padding: 12px 24px; }}
header h1 {{ margin: 0; font-size: 1.4em; }}
main {{ padding: 16px 24px; }}
iframe {{ width: 100%; height: 640px; border: 1px solid #c5d2dc; background: #fff; }}
</style>
</head>
<body>
<header><h1>Referral sent</h1></header>
<main>
<p id="sent">Referral <code>{}</code> was sent. The receiving organisation's page follows.</p>
<iframe id="launch" title="Referral System Launch" src="{}"></iframe>
</main>
</body>
</html>
)",
                       html_escape(referral_ref),
                       html_escape(url));
}

std::string new_launch_token() {
    const auto bytes = ocean::random_bytes(16);
    const auto* raw = std::get_if<std::string>(&bytes);
    if (raw == nullptr) throw std::runtime_error("no random bytes for a launch token");
    return base64url_encode(*raw);
}

std::string query_escape(std::string_view text) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if ((u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || c == '-' ||
            c == '.' || c == '_' || c == '~') {
            out.push_back(c);
        } else {
            out.push_back('%');
            out.push_back(kHex[u >> 4]);
            out.push_back(kHex[u & 0xF]);
        }
    }
    return out;
}

http::Response OceanApi::referral_sent(const http::Request& request, const RouteMatch& match) {
    if (!config_.launch)
        return make_response(
            request, bhttp::status::not_found, "text/plain; charset=utf-8", "no launch is configured\n");
    const auto view = state_.find(match.segment);
    if (!view)
        return make_response(
            request, bhttp::status::not_found, "text/plain; charset=utf-8", "no such referral\n");
    const LaunchReferral referral{view->ref, view->site, view->listing_ref, view->external_service_id};
    const std::string url = launch_url(*config_.launch, referral, new_launch_token());
    log::info("launch sent to the browser",
              {{"referral_ref", view->ref},
               {"mode", config_.launch->mode == LaunchLinkConfig::Mode::kIframe ? "iframe" : "redirect"}});
    http::Response res;
    if (config_.launch->mode == LaunchLinkConfig::Mode::kRedirect) {
        res = make_response(request, bhttp::status::see_other, "text/plain; charset=utf-8", "See Other\n");
        res.set(bhttp::field::location, url);
    } else {
        res = make_response(
            request, bhttp::status::ok, "text/html; charset=utf-8", referral_sent_page(view->ref, url));
    }
    // Each visit is a new launch with its own token.
    res.set(bhttp::field::cache_control, "no-store");
    return res;
}

}  // namespace relay::ocean_sim
