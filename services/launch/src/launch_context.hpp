// The launch context the relay hands a hub system through the clinician's browser: short-lived,
// one-time, signed (HMAC-SHA256 under the service's signing key), and free of patient data — refs, ids
// and times only, since it travels in a URL. Pure: no I/O, no clock of its own.
//
// Token: base64url(JSON payload) "." base64url(HMAC-SHA256(key, "relay-launch-v1." payload)).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>

#include "relay/core/secret.hpp"

namespace relay::launch {

/// Longest token accepted (a real one is about 400 characters).
inline constexpr std::size_t kMaxTokenLength = 2048;

struct LaunchContext {
    std::string id;  ///< random, 128 bits, base64url
    std::string integration;
    std::string site;
    std::string referral_ref;
    std::string listing_ref;          ///< the referral's, "" when it has none
    std::string external_service_id;  ///< the referral's, "" when it has none
    std::string hub_system;           ///< the only hub system that may redeem it
    /// base64url SHA-256 of the browser's launch cookie: the completion page is shown to that browser only.
    std::string browser_binding;
    std::int64_t issued_at = 0;   ///< Unix seconds
    std::int64_t expires_at = 0;  ///< Unix seconds: redeemable until then
};

enum class ContextRefusal {
    kMalformed,  ///< not a token of ours (shape, encoding, JSON, a field missing)
    kForged,     ///< the shape is right, the signature is not
};

const char* to_string(ContextRefusal refusal);

class ContextSigner {
   public:
    explicit ContextSigner(Secret key) : key_(std::move(key)) {}

    [[nodiscard]] std::string sign(const LaunchContext& context) const;
    /// The context when the token is well-formed and signed by this key (expiry is the caller's to judge).
    [[nodiscard]] std::variant<LaunchContext, ContextRefusal> verify(std::string_view token) const;

   private:
    Secret key_;
};

/// A new random context id / browser nonce (128 bits, base64url). Throws only when the system has no
/// randomness.
std::string random_token_id();

/// base64url SHA-256 of a browser's launch cookie value.
std::string browser_binding_of(std::string_view cookie_value);

/// The contexts already redeemed, each remembered until it expires (after that its expiry refuses it).
/// Bounded: when full of unexpired ids, `redeem` says kFull and the caller refuses for now.
class RedemptionMemory {
   public:
    explicit RedemptionMemory(std::size_t max_entries) : max_entries_(max_entries) {}

    enum class Outcome { kFirst, kAlreadyRedeemed, kFull };
    /// Marks `id` redeemed (valid until `expires_at`) unless it was already; `now` in Unix seconds.
    Outcome redeem(const std::string& id, std::int64_t expires_at, std::int64_t now);
    /// Forgets `id`: its redemption did not go through (Ocean could not be asked) and may be tried again.
    void forget(const std::string& id) { redeemed_.erase(id); }
    [[nodiscard]] std::size_t size() const { return redeemed_.size(); }

   private:
    void forget_expired(std::int64_t now);

    std::size_t max_entries_;
    std::unordered_map<std::string, std::int64_t> redeemed_;
};

}  // namespace relay::launch
