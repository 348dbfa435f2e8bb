// Record values encrypted at rest: AES-256-GCM under the relay's own keys, sealed by the producer and
// opened by every consumer in this library, so no service carries code for it.
//
// Why: the relay decrypts what Ocean encrypted (Open API referrals, Patient Engagement notes) and the
// broker's disks, replicas and backups must not hold that in clear. The FHIR topics can use it too.
//
// A sealed record has the header kHeader = the key's id, and the value
//     0x01 (format) | nonce (12 bytes, random) | ciphertext | tag (16 bytes)
// with "ocean-relay/at-rest/v1/" + key id as associated data: a value moved under another key's id does
// not open. The record's key, topic and offset are not bound, so a dead-lettered record replayed by
// relayctl (the same bytes, the same header) opens where it lands. Keys rotate by id: new records are
// sealed with `seal_with`, every configured key opens what it sealed.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "relay/core/error.hpp"
#include "relay/core/secret.hpp"

namespace relay::kafka {

class AtRest {
   public:
    /// The header that marks a sealed value and names its key.
    static constexpr std::string_view kHeader = "relay-at-rest";
    static constexpr std::size_t kKeyBytes = 32;
    /// Bytes a sealed value has beyond its plaintext: format, nonce, tag.
    static constexpr std::size_t kOverheadBytes = 1 + 12 + 16;

    struct Key {
        std::string id;  ///< [A-Za-z0-9._-]{1,64}: travels in the header
        Secret material;  ///< 32 bytes as base64 (44 characters) or hex (64)
    };

    /// Throws ConfigError naming `config_key` for an empty key list, a bad id, a key that is not 32
    /// bytes, a duplicate id, a `seal_with` that names no key, or an empty topic pattern. `topics`: exact
    /// topic names, "prefix*" globs, or "*" for every topic.
    AtRest(std::vector<Key> keys, std::string seal_with, std::vector<std::string> topics, std::string_view config_key);

    /// True when records written to `topic` are sealed.
    [[nodiscard]] bool seals(std::string_view topic) const;
    [[nodiscard]] const std::string& seal_key_id() const { return seal_with_; }

    /// The sealed form of `plaintext` under the seal key. kRetryable only if the CSPRNG fails.
    [[nodiscard]] std::variant<std::string, Error> seal(std::string_view plaintext) const;
    /// The plaintext of a value sealed under `key_id`. kPermanent for an unknown key id, a truncated or
    /// unknown format, or a value that fails authentication (tampered, or another key's); the message
    /// names the key id and lengths only.
    [[nodiscard]] std::variant<std::string, Error> open(std::string_view key_id, std::string_view sealed) const;

   private:
    std::map<std::string, std::string, std::less<>> keys_;  // id → 32 raw bytes
    std::string seal_with_;
    std::vector<std::string> exact_;
    std::vector<std::string> prefixes_;  // from "prefix*"; "" for "*"
};

}  // namespace relay::kafka
