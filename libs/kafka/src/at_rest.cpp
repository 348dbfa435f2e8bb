#include "relay/kafka/at_rest.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <optional>

#include "relay/core/config.hpp"
#include "relay/core/encoding.hpp"

namespace relay::kafka {
namespace {

constexpr unsigned char kFormat = 0x01;
constexpr std::size_t kNonceBytes = 12;
constexpr std::size_t kTagBytes = 16;
constexpr std::string_view kAadPrefix = "ocean-relay/at-rest/v1/";

bool valid_key_id(std::string_view id) {
    if (id.empty() || id.size() > 64) return false;
    return std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
               c == '_' || c == '-';
    });
}

std::optional<std::string> hex_decode(std::string_view text) {
    if (text.size() % 2 != 0) return std::nullopt;
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    std::string out;
    out.reserve(text.size() / 2);
    for (std::size_t i = 0; i < text.size(); i += 2) {
        const int hi = nibble(text[i]);
        const int lo = nibble(text[i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out.push_back(static_cast<char>((hi << 4) | lo));
    }
    return out;
}

/// 32 raw bytes from the key file's text: 64 hex digits or base64 of 32 bytes (surrounding spaces ignored).
std::optional<std::string> key_bytes(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\n' || text.front() == '\r')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
    std::optional<std::string> bytes =
        text.size() == 2 * AtRest::kKeyBytes ? hex_decode(text) : base64_decode(text);
    if (!bytes || bytes->size() != AtRest::kKeyBytes) return std::nullopt;
    return bytes;
}

struct CipherContext {
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    ~CipherContext() { EVP_CIPHER_CTX_free(ctx); }
    CipherContext() = default;
    CipherContext(const CipherContext&) = delete;
    CipherContext& operator=(const CipherContext&) = delete;
};

const unsigned char* bytes_of(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }
unsigned char* bytes_of(std::string& s, std::size_t at) { return reinterpret_cast<unsigned char*>(s.data() + at); }

}  // namespace

AtRest::AtRest(std::vector<Key> keys, std::string seal_with, std::vector<std::string> topics, std::string_view config_key) {
    if (keys.empty()) throw ConfigError(fmt::format("{}.keys: at least one key is required", config_key));
    for (std::size_t i = 0; i < keys.size(); ++i) {
        const Key& key = keys[i];
        if (!valid_key_id(key.id))
            throw ConfigError(fmt::format("{}.keys[{}].id: 1-64 characters of [A-Za-z0-9._-]", config_key, i));
        std::optional<std::string> raw = key_bytes(key.material.reveal());
        if (!raw)
            throw ConfigError(fmt::format(
                "{}.keys[{}].key: must be 32 bytes, as 64 hex digits or base64 (e.g. `openssl rand -base64 32`)",
                config_key,
                i));
        if (!keys_.emplace(key.id, std::move(*raw)).second)
            throw ConfigError(fmt::format("{}.keys[{}].id: used twice", config_key, i));
    }
    seal_with_ = seal_with.empty() ? keys.front().id : std::move(seal_with);
    if (!keys_.contains(seal_with_))
        throw ConfigError(fmt::format("{}.seal_with: names no key in {}.keys", config_key, config_key));
    for (std::string& topic : topics) {
        if (topic.empty()) throw ConfigError(fmt::format("{}.topics: an empty entry", config_key));
        if (topic.back() == '*') {
            topic.pop_back();
            prefixes_.push_back(std::move(topic));
        } else {
            exact_.push_back(std::move(topic));
        }
    }
}

bool AtRest::seals(std::string_view topic) const {
    if (std::find(exact_.begin(), exact_.end(), topic) != exact_.end()) return true;
    return std::any_of(prefixes_.begin(), prefixes_.end(), [topic](const std::string& p) { return topic.starts_with(p); });
}

std::variant<std::string, Error> AtRest::seal(std::string_view plaintext) const {
    const std::string& key = keys_.find(seal_with_)->second;
    const std::string aad = std::string(kAadPrefix) + seal_with_;
    std::string out(kOverheadBytes + plaintext.size(), '\0');
    out[0] = static_cast<char>(kFormat);
    if (RAND_bytes(bytes_of(out, 1), static_cast<int>(kNonceBytes)) != 1)
        return Error(ErrorKind::kRetryable, "at-rest seal: no random nonce");
    CipherContext c;
    int len = 0;
    const std::size_t body = 1 + kNonceBytes;
    if (c.ctx == nullptr || EVP_EncryptInit_ex(c.ctx, EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
        EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceBytes), nullptr) != 1 ||
        EVP_EncryptInit_ex(c.ctx, nullptr, nullptr, bytes_of(key), bytes_of(out, 1)) != 1 ||
        EVP_EncryptUpdate(c.ctx, nullptr, &len, bytes_of(aad), static_cast<int>(aad.size())) != 1 ||
        EVP_EncryptUpdate(c.ctx, bytes_of(out, body), &len, bytes_of(plaintext), static_cast<int>(plaintext.size())) != 1 ||
        EVP_EncryptFinal_ex(c.ctx, bytes_of(out, body + static_cast<std::size_t>(len)), &len) != 1 ||
        EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagBytes), bytes_of(out, body + plaintext.size())) != 1) {
        return Error(ErrorKind::kPermanent, "at-rest seal: cipher failed");
    }
    return out;
}

std::variant<std::string, Error> AtRest::open(std::string_view key_id, std::string_view sealed) const {
    auto it = keys_.find(key_id);
    if (it == keys_.end()) {
        // The id is ours (a header we wrote) but may be anything on a foreign record: bound what we repeat.
        return Error(ErrorKind::kPermanent,
                     valid_key_id(key_id) ? fmt::format("at-rest open: no key '{}' configured", key_id)
                                          : std::string("at-rest open: the key id is malformed"));
    }
    if (sealed.size() < kOverheadBytes || static_cast<unsigned char>(sealed[0]) != kFormat)
        return Error(ErrorKind::kPermanent,
                     fmt::format("at-rest open: not a sealed value ({} bytes) under key '{}'", sealed.size(), key_id));
    const std::string aad = std::string(kAadPrefix) + it->first;
    const std::size_t body = 1 + kNonceBytes;
    const std::size_t plain_size = sealed.size() - kOverheadBytes;
    std::string out(plain_size, '\0');
    std::string tag(sealed.substr(body + plain_size));
    CipherContext c;
    int len = 0;
    if (c.ctx == nullptr || EVP_DecryptInit_ex(c.ctx, EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
        EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceBytes), nullptr) != 1 ||
        EVP_DecryptInit_ex(c.ctx, nullptr, nullptr, bytes_of(it->second), bytes_of(sealed.substr(1))) != 1 ||
        EVP_DecryptUpdate(c.ctx, nullptr, &len, bytes_of(aad), static_cast<int>(aad.size())) != 1 ||
        EVP_DecryptUpdate(c.ctx, bytes_of(out, 0), &len, bytes_of(sealed.substr(body)), static_cast<int>(plain_size)) != 1 ||
        EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagBytes), tag.data()) != 1 ||
        EVP_DecryptFinal_ex(c.ctx, bytes_of(out, static_cast<std::size_t>(len)), &len) != 1) {
        return Error(ErrorKind::kPermanent,
                     fmt::format("at-rest open: {} bytes under key '{}' fail authentication", sealed.size(), it->first));
    }
    return out;
}

}  // namespace relay::kafka
