#include "launch_context.hpp"

#include <openssl/rand.h>

#include <array>
#include <boost/json.hpp>
#include <optional>
#include <stdexcept>

#include "relay/core/encoding.hpp"

namespace relay::launch {

namespace json = boost::json;

namespace {

constexpr std::string_view kDomain = "relay-launch-v1.";

std::string mac(const Secret& key, std::string_view payload) {
    std::string data;
    data.reserve(kDomain.size() + payload.size());
    data.append(kDomain).append(payload);
    return hmac_sha256(key.reveal(), data);
}

std::optional<std::string> read_string(const json::object& object, std::string_view name) {
    const auto* value = object.if_contains(name);
    if (value == nullptr || !value->is_string()) return std::nullopt;
    return std::string(value->get_string());
}

std::optional<std::int64_t> read_int(const json::object& object, std::string_view name) {
    const auto* value = object.if_contains(name);
    if (value == nullptr || !value->is_int64()) return std::nullopt;
    return value->get_int64();
}

}  // namespace

const char* to_string(ContextRefusal refusal) {
    switch (refusal) {
        case ContextRefusal::kMalformed:
            return "malformed-context";
        case ContextRefusal::kForged:
            return "context-forged";
    }
    return "malformed-context";
}

std::string ContextSigner::sign(const LaunchContext& context) const {
    json::object payload;
    payload["id"] = context.id;
    payload["int"] = context.integration;
    payload["site"] = context.site;
    payload["ref"] = context.referral_ref;
    payload["lst"] = context.listing_ref;
    payload["esid"] = context.external_service_id;
    payload["hub"] = context.hub_system;
    payload["bind"] = context.browser_binding;
    payload["iat"] = context.issued_at;
    payload["exp"] = context.expires_at;
    std::string encoded = base64url_encode(json::serialize(payload));
    const std::string signature = base64url_encode(mac(key_, encoded));
    encoded.push_back('.');
    encoded.append(signature);
    return encoded;
}

std::variant<LaunchContext, ContextRefusal> ContextSigner::verify(std::string_view token) const {
    if (token.empty() || token.size() > kMaxTokenLength) return ContextRefusal::kMalformed;
    const auto dot = token.find('.');
    if (dot == std::string_view::npos || dot == 0 || token.find('.', dot + 1) != std::string_view::npos)
        return ContextRefusal::kMalformed;
    const std::string_view payload = token.substr(0, dot);
    const auto signature = base64url_decode(token.substr(dot + 1));
    if (!signature || signature->size() != 32) return ContextRefusal::kMalformed;
    // The signature first: nothing of a forged token is parsed.
    if (!constant_time_equals(*signature, mac(key_, payload))) return ContextRefusal::kForged;
    const auto decoded = base64url_decode(payload);
    if (!decoded) return ContextRefusal::kMalformed;
    boost::system::error_code ec;
    const json::value parsed = json::parse(*decoded, ec);
    if (ec || !parsed.is_object()) return ContextRefusal::kMalformed;
    const json::object& object = parsed.get_object();
    LaunchContext context;
    auto id = read_string(object, "id");
    auto integration = read_string(object, "int");
    auto site = read_string(object, "site");
    auto ref = read_string(object, "ref");
    auto listing = read_string(object, "lst");
    auto service = read_string(object, "esid");
    auto hub = read_string(object, "hub");
    auto binding = read_string(object, "bind");
    const auto issued = read_int(object, "iat");
    const auto expires = read_int(object, "exp");
    if (!id || !integration || !site || !ref || !listing || !service || !hub || !binding || !issued || !expires)
        return ContextRefusal::kMalformed;
    context.id = std::move(*id);
    context.integration = std::move(*integration);
    context.site = std::move(*site);
    context.referral_ref = std::move(*ref);
    context.listing_ref = std::move(*listing);
    context.external_service_id = std::move(*service);
    context.hub_system = std::move(*hub);
    context.browser_binding = std::move(*binding);
    context.issued_at = *issued;
    context.expires_at = *expires;
    return context;
}

std::string random_token_id() {
    std::array<unsigned char, 16> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1)
        throw std::runtime_error("no randomness for a launch context");
    return base64url_encode(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

std::string browser_binding_of(std::string_view cookie_value) { return base64url_encode(sha256(cookie_value)); }

RedemptionMemory::Outcome RedemptionMemory::redeem(const std::string& id, std::int64_t expires_at, std::int64_t now) {
    if (redeemed_.contains(id)) return Outcome::kAlreadyRedeemed;
    if (redeemed_.size() >= max_entries_) forget_expired(now);
    if (redeemed_.size() >= max_entries_) return Outcome::kFull;
    redeemed_.emplace(id, expires_at);
    return Outcome::kFirst;
}

void RedemptionMemory::forget_expired(std::int64_t now) {
    std::erase_if(redeemed_, [now](const auto& entry) { return entry.second < now; });
}

}  // namespace relay::launch
