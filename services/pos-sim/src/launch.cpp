#include "launch.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include "relay/core/encoding.hpp"
#include "relay/core/ids.hpp"
#include "relay/core/log.hpp"
#include "relay/core/time.hpp"

namespace relay::pos_sim {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace json = boost::json;

namespace {

constexpr std::string_view kRedeemPath = "/hub/v1/launch/redeem";

std::string string_of(const json::object& object, std::string_view key) {
    const auto* value = object.if_contains(key);
    return value != nullptr && value->is_string() ? std::string(value->get_string()) : std::string();
}

http::Response html(unsigned version, bhttp::status status, std::string body) {
    http::Response res{status, version};
    res.set(bhttp::field::content_type, "text/html; charset=utf-8");
    res.set(bhttp::field::cache_control, "no-store");
    res.body() = std::move(body);
    return res;
}

}  // namespace

LaunchDeskConfig read_launch_desk_config(ConfigReader::Node node) {
    LaunchDeskConfig config;
    config.path = node.string("path", config.path);
    if (!config.path.starts_with('/') || config.path.find_first_of("?#") != std::string::npos)
        node.fail("path", "must be a path starting with '/'");
    config.context_parameter = node.string("context_parameter", config.context_parameter);
    if (config.context_parameter.empty()) node.fail("context_parameter", "must not be empty");
    config.relay_url = node.required_string("relay_url");
    while (config.relay_url.ends_with('/')) config.relay_url.pop_back();
    if (!http::Url::parse(config.relay_url)) node.fail("relay_url", "must be an http(s) URL");
    config.token = node.required_secret("token");
    config.timeout = node.duration("timeout", config.timeout, std::chrono::milliseconds(100));
    return config;
}

std::optional<Redemption> parse_redemption(std::string_view body) {
    boost::system::error_code ec;
    const json::value root = json::parse(body, ec);
    if (ec || !root.is_object()) return std::nullopt;
    const auto& o = root.get_object();
    Redemption out;
    out.referral_ref = string_of(o, "referralRef");
    out.site = string_of(o, "site");
    out.integration = string_of(o, "integration");
    out.listing_ref = string_of(o, "listingRef");
    out.external_service_id = string_of(o, "externalServiceId");
    out.hub_system = string_of(o, "hubSystem");
    out.complete_url = string_of(o, "completeUrl");
    const auto* patient = o.if_contains("patient");
    out.patient_received = patient != nullptr && patient->is_object();
    if (out.referral_ref.empty() || out.complete_url.empty()) return std::nullopt;
    return out;
}

std::string refusal_code(std::string_view body) {
    boost::system::error_code ec;
    const json::value root = json::parse(body, ec);
    if (ec || !root.is_object()) return {};
    const auto* error = root.get_object().if_contains("error");
    if (error == nullptr || !error->is_object()) return {};
    return string_of(error->get_object(), "code");
}

std::optional<std::string> completion_location(std::string_view relay_url,
                                               std::string_view complete_url,
                                               std::string_view outcome) {
    std::string location;
    if (complete_url.starts_with("http://") || complete_url.starts_with("https://")) {
        location = complete_url;
    } else if (complete_url.starts_with('/') && !complete_url.starts_with("//")) {
        const auto scheme_end = relay_url.find("://");
        if (scheme_end == std::string_view::npos) return std::nullopt;
        location = relay_url.substr(0, relay_url.find('/', scheme_end + 3));
        location += complete_url;
    } else {
        return std::nullopt;
    }
    if (location.find('#') != std::string::npos) return std::nullopt;
    location += location.find('?') == std::string::npos ? '?' : '&';
    location += "outcome=";
    location += outcome;
    return location;
}

std::string decision_page(const LaunchRecord& record, std::string_view decide_path) {
    const Redemption& r = record.redemption;
    return fmt::format(R"(<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>pos-sim - incoming referral</title></head>
<body>
<h1>Incoming referral</h1>
<dl>
<dt>Referral</dt><dd id="referral-ref">{}</dd>
<dt>Listing</dt><dd id="listing-ref">{}</dd>
<dt>External Service ID</dt><dd id="external-service-id">{}</dd>
<dt>Integration</dt><dd id="integration">{}</dd>
</dl>
<form method="post" action="{}">
<input type="hidden" name="launch" value="{}">
<button type="submit" id="accept" name="outcome" value="accepted">Accept</button>
<button type="submit" id="decline" name="outcome" value="declined">Decline</button>
</form>
</body>
</html>
)",
                       html_escape(r.referral_ref),
                       html_escape(r.listing_ref),
                       html_escape(r.external_service_id),
                       html_escape(r.integration),
                       html_escape(decide_path),
                       html_escape(record.id));
}

std::string error_page(std::string_view message) {
    return fmt::format(R"(<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>pos-sim - launch failed</title></head>
<body>
<h1>Launch failed</h1>
<p id="error">{}</p>
</body>
</html>
)",
                       html_escape(message));
}

LaunchDesk::LaunchDesk(LaunchDeskConfig config, asio::any_io_executor executor)
    : config_(std::move(config)), decide_path_(config_.path + "/decide") {
    redeem_url_ = *http::Url::parse(config_.relay_url);
    while (redeem_url_.target.ends_with('/')) redeem_url_.target.pop_back();
    redeem_url_.target += kRedeemPath;
    http::ClientOptions options;
    options.connect_timeout = config_.timeout;
    options.request_timeout = config_.timeout;
    options.response_body_limit = 8ULL << 20;
    client_ = std::make_unique<http::AsyncClient>(std::move(executor), options);
}

bool LaunchDesk::handles(std::string_view path) const {
    return path == config_.path || path == decide_path_;
}

asio::awaitable<http::Response> LaunchDesk::handle(http::Request& request) {
    const std::string_view target(request.target().data(), request.target().size());
    const auto question = target.find('?');
    const std::string_view path = target.substr(0, question);
    const std::string_view query =
        question == std::string_view::npos ? std::string_view() : target.substr(question + 1);
    if (path == config_.path && request.method() == bhttp::verb::get) co_return co_await open(request, query);
    if (path == decide_path_ && request.method() == bhttp::verb::post) co_return decide(request);
    http::Response res =
        html(request.version(), bhttp::status::method_not_allowed, error_page("method not allowed"));
    res.set(bhttp::field::allow, path == config_.path ? "GET" : "POST");
    co_return res;
}

std::size_t LaunchDesk::add(LaunchRecord record) {
    std::lock_guard lock(mutex_);
    records_.push_back(std::move(record));
    return records_.size() - 1;
}

asio::awaitable<http::Response> LaunchDesk::open(const http::Request& request, std::string_view query) {
    LaunchRecord record;
    record.id = new_message_id();
    record.at = format_rfc3339_millis(system_now());
    const auto context = single_query_value(query, config_.context_parameter);
    if (!context || context->empty()) {
        record.redeem_status = -1;
        add(std::move(record));
        co_return html(
            request.version(), bhttp::status::bad_request, error_page("no launch context in the link"));
    }
    http::ClientRequest redeem{bhttp::verb::post, redeem_url_.target, 11};
    redeem.set(bhttp::field::content_type, "application/json");
    redeem.set(bhttp::field::accept, "application/json");
    redeem.set(bhttp::field::authorization, "Bearer " + std::string(config_.token.reveal()));
    redeem.body() = json::serialize(json::object{{"launchContext", *context}});
    http::Url url = redeem_url_;
    http::ClientResult result = co_await client_->send(std::move(url), std::move(redeem));
    if (!result.ok()) {
        add(std::move(record));
        log::warn("launch not redeemed: the relay did not answer");
        co_return html(request.version(),
                       bhttp::status::bad_gateway,
                       error_page("redeem failed: the relay did not answer"));
    }
    record.redeem_status = static_cast<int>(result.response->result_int());
    const std::string& body = result.response->body();
    std::optional<Redemption> redemption;
    if (record.redeem_status == 200) redemption = parse_redemption(body);
    if (!redemption) {
        record.refusal = refusal_code(body);
        const std::string message =
            record.redeem_status == 200
                ? std::string("redeem answer unreadable")
                : fmt::format("redeem refused: {}{}",
                              record.redeem_status,
                              record.refusal.empty() ? std::string() : " (" + record.refusal + ")");
        log::warn("launch not redeemed", {{"status", record.redeem_status}, {"refusal", record.refusal}});
        add(std::move(record));
        co_return html(request.version(), bhttp::status::bad_gateway, error_page(message));
    }
    record.redemption = std::move(*redemption);
    log::info("launch redeemed",
              {{"referral_ref", record.redemption.referral_ref},
               {"integration", record.redemption.integration},
               {"hub_system", record.redemption.hub_system}});
    std::string page = decision_page(record, decide_path_);
    add(std::move(record));
    co_return html(request.version(), bhttp::status::ok, std::move(page));
}

http::Response LaunchDesk::decide(const http::Request& request) {
    const std::string_view form(request.body().data(), request.body().size());
    const auto id = single_query_value(form, "launch");
    const auto outcome = single_query_value(form, "outcome");
    if (!id || !outcome || (*outcome != "accepted" && *outcome != "declined"))
        return html(
            request.version(), bhttp::status::bad_request, error_page("the decision form is incomplete"));
    std::string location;
    std::string referral_ref;
    {
        std::lock_guard lock(mutex_);
        const auto it = std::find_if(
            records_.begin(), records_.end(), [&](const LaunchRecord& r) { return r.id == *id; });
        if (it == records_.end() || it->redeem_status != 200)
            return html(request.version(), bhttp::status::not_found, error_page("no such launch"));
        if (!it->decision.empty())
            return html(
                request.version(), bhttp::status::conflict, error_page("this launch was decided already"));
        const auto resolved = completion_location(config_.relay_url, it->redemption.complete_url, *outcome);
        if (!resolved)
            return html(request.version(),
                        bhttp::status::bad_gateway,
                        error_page("the relay's completeUrl is not usable"));
        location = *resolved;
        it->decision = *outcome;
        it->decided_at = format_rfc3339_millis(system_now());
        referral_ref = it->redemption.referral_ref;
    }
    log::info("launch decided", {{"referral_ref", referral_ref}, {"decision", *outcome}});
    http::Response res{bhttp::status::see_other, request.version()};
    res.set(bhttp::field::location, location);
    res.set(bhttp::field::cache_control, "no-store");
    res.set(bhttp::field::content_type, "text/plain; charset=utf-8");
    res.body() = "See Other\n";
    return res;
}

std::vector<LaunchRecord> LaunchDesk::records() const {
    std::lock_guard lock(mutex_);
    return records_;
}

std::string LaunchDesk::records_json() const {
    json::array items;
    std::uint64_t redeemed = 0, accepted = 0, declined = 0;
    for (const auto& r : records()) {
        redeemed += r.redeem_status == 200 ? 1 : 0;
        accepted += r.decision == "accepted" ? 1 : 0;
        declined += r.decision == "declined" ? 1 : 0;
        const Redemption& d = r.redemption;
        items.emplace_back(json::object{{"at", r.at},
                                        {"redeem_status", r.redeem_status},
                                        {"refusal", r.refusal},
                                        {"referral_ref", d.referral_ref},
                                        {"site", d.site},
                                        {"integration", d.integration},
                                        {"listing_ref", d.listing_ref},
                                        {"external_service_id", d.external_service_id},
                                        {"hub_system", d.hub_system},
                                        {"patient_received", d.patient_received},
                                        {"decision", r.decision},
                                        {"decided_at", r.decided_at}});
    }
    return json::serialize(json::object{{"launches", items.size()},
                                        {"redeemed", redeemed},
                                        {"accepted", accepted},
                                        {"declined", declined},
                                        {"items", std::move(items)}});
}

}  // namespace relay::pos_sim
