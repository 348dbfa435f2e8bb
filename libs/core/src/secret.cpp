#include "relay/core/secret.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "relay/core/config.hpp"
#include "relay/core/encoding.hpp"

namespace relay {
namespace {

using Digest = std::array<unsigned char, 32>;

// Drawn once, on first use: the digests are only compared within this process, and a key nobody
// else knows means the digest of a guess cannot be precomputed.
const std::string& comparison_key() {
    static const std::string key = [] {
        std::string k(32, '\0');
        if (RAND_bytes(reinterpret_cast<unsigned char*>(k.data()), static_cast<int>(k.size())) != 1) {
            throw std::runtime_error("cannot draw a random key for secret comparison");
        }
        return k;
    }();
    return key;
}

Digest digest_of(std::string_view value) {
    const std::string mac = hmac_sha256(comparison_key(), value);
    Digest digest{};
    std::memcpy(digest.data(), mac.data(), digest.size());
    return digest;
}

const Digest& empty_digest() {
    static const Digest digest = digest_of({});
    return digest;
}

bool digests_equal(const Digest& a, const Digest& b) {
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

bool secret_equals(std::string_view a, std::string_view b) {
    return digests_equal(digest_of(a), digest_of(b));
}

Secret::Secret() : digest_(empty_digest()) {}

Secret::Secret(Secret&& other) noexcept : value_(std::move(other.value_)), digest_(other.digest_) {
    other.value_.clear();
    other.digest_ = empty_digest();
}

Secret& Secret::operator=(Secret&& other) noexcept {
    if (this != &other) {
        value_ = std::move(other.value_);
        digest_ = other.digest_;
        other.value_.clear();
        other.digest_ = empty_digest();
    }
    return *this;
}

Secret::Secret(std::string value) : value_(std::move(value)), digest_(digest_of(value_)) {}

Secret Secret::from_file(const std::string& path, std::string_view config_key) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw ConfigError(std::string(config_key) + ": cannot read secret file '" + path + "'");
    }
    std::ostringstream buffer;
    buffer << in.rdbuf();
    std::string value = buffer.str();
    if (!value.empty() && value.back() == '\n') value.pop_back();
    if (!value.empty() && value.back() == '\r') value.pop_back();
    if (value.empty()) {
        throw ConfigError(std::string(config_key) + ": secret file '" + path + "' is empty");
    }
    return Secret(std::move(value));
}

Secret Secret::from_env(const std::string& name, std::string_view config_key) {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr || *value == '\0') {
        throw ConfigError(std::string(config_key) + ": environment variable '" + name +
                          "' is unset or empty");
    }
    return Secret(value);
}

bool Secret::equals(std::string_view candidate) const {
    return digests_equal(digest_, digest_of(candidate));
}

}  // namespace relay
