#include "relay/ocean/crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <climits>
#include <memory>
#include <string>
#include <utility>

#include "relay/core/encoding.hpp"

namespace relay::ocean {

namespace {

constexpr std::string_view kPrefix = "ocean crypto: ";

Error permanent(std::string message) {
    return Error(ErrorKind::kPermanent, std::string(kPrefix) + std::move(message));
}

/// Adds what we were doing to an inner error, keeping its kind and dropping its repeated prefix.
Error wrap(std::string_view context, const Error& inner) {
    std::string_view detail = inner.message;
    if (detail.starts_with(kPrefix)) detail.remove_prefix(kPrefix.size());
    return Error(inner.kind, std::string(kPrefix) + std::string(context) + ": " + std::string(detail));
}

/// Overwrites key material before its buffer is released, so it does not linger in freed heap memory.
class Wipe {
   public:
    explicit Wipe(std::string& s) : s_(s) {}
    ~Wipe() { OPENSSL_cleanse(s_.data(), s_.size()); }
    Wipe(const Wipe&) = delete;
    Wipe& operator=(const Wipe&) = delete;

   private:
    std::string& s_;
};

const EVP_CIPHER* cbc_cipher_for(std::size_t key_bytes) {
    switch (key_bytes) {
        case 16:
            return EVP_aes_128_cbc();
        case 24:
            return EVP_aes_192_cbc();
        case 32:
            return EVP_aes_256_cbc();
        default:
            return nullptr;
    }
}

struct CipherCtxFree {
    void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};

const auto* uchars(std::string_view s) {
    return reinterpret_cast<const unsigned char*>(s.data());
}

Result<std::string> aes_cbc(bool encrypt, std::string_view key, std::string_view iv, std::string_view input) {
    const EVP_CIPHER* cipher = cbc_cipher_for(key.size());
    if (cipher == nullptr) {
        return permanent("AES key must be 16, 24 or 32 bytes, got " + std::to_string(key.size()));
    }
    if (iv.size() != kIvBytes) {
        return permanent("AES-CBC IV must be 16 bytes, got " + std::to_string(iv.size()));
    }
    if (!encrypt && (input.empty() || input.size() % kAesBlockBytes != 0)) {
        return permanent("ciphertext length " + std::to_string(input.size()) +
                         " is not a positive multiple of 16");
    }

    std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree> ctx(EVP_CIPHER_CTX_new());
    // PKCS#7 padding is EVP's default, which is what CryptoJS uses.
    if (!ctx ||
        EVP_CipherInit_ex(ctx.get(), cipher, nullptr, uchars(key), uchars(iv), encrypt ? 1 : 0) != 1) {
        ERR_clear_error();
        return Error(ErrorKind::kRetryable, "ocean crypto: cannot initialise the AES context");
    }

    // Encryption adds at most one block; decryption never grows the data.
    std::string out(input.size() + kAesBlockBytes, '\0');
    auto* out_ptr = reinterpret_cast<unsigned char*>(out.data());
    std::size_t written = 0;
    // EVP takes int lengths; feed large inputs in chunks (a multiple of the block size) rather than
    // refuse them.
    constexpr std::size_t kChunk = std::size_t{1} << 30;
    for (std::size_t pos = 0; pos < input.size(); pos += kChunk) {
        const std::size_t n = std::min(kChunk, input.size() - pos);
        int len = 0;
        if (EVP_CipherUpdate(ctx.get(), out_ptr + written, &len, uchars(input) + pos, static_cast<int>(n)) !=
            1) {
            ERR_clear_error();
            return permanent(encrypt ? "AES-CBC encryption failed" : "AES-CBC decryption failed");
        }
        written += static_cast<std::size_t>(len);
    }
    int len = 0;
    if (EVP_CipherFinal_ex(ctx.get(), out_ptr + written, &len) != 1) {
        // On decryption this is the PKCS#7 check: the usual symptom of a wrong key or IV.
        ERR_clear_error();
        OPENSSL_cleanse(out.data(), out.size());
        return permanent(encrypt ? "AES-CBC encryption failed"
                                 : "bad PKCS#7 padding (wrong key or IV, or corrupted ciphertext)");
    }
    written += static_cast<std::size_t>(len);
    out.resize(written);
    return out;
}

/// Decodes a base64 field that must be present, naming it (never its content) on failure.
Result<std::string> decode_field(std::string_view b64, std::string_view field) {
    if (b64.empty()) return permanent(std::string(field) + " is missing");
    auto bytes = base64_decode(b64);
    if (!bytes) return permanent(std::string(field) + " is not valid base64");
    return std::move(*bytes);
}

Result<std::string> decode_iv(std::string_view b64, std::string_view field) {
    auto iv = decode_field(b64, field);
    if (auto* bytes = std::get_if<std::string>(&iv); bytes && bytes->size() != kIvBytes) {
        return permanent(std::string(field) + " must decode to 16 bytes, got " +
                         std::to_string(bytes->size()));
    }
    return iv;
}

bool is_aes_key_size(std::size_t n) {
    return n == 16 || n == 24 || n == 32;
}

/// Decrypts the wrapped OTK under the SEK-derived key, checking that it is a usable AES key.
Result<std::string> unwrap_with_key(std::string_view sek_key, std::string_view iv, std::string_view wrapped) {
    auto otk = aes_cbc_decrypt(sek_key, iv, wrapped);
    if (auto* e = std::get_if<Error>(&otk)) {
        return wrap("one-time key does not decrypt under the SEK", *e);
    }
    auto& key = std::get<std::string>(otk);
    if (!is_aes_key_size(key.size())) {
        // A wrong SEK passes the padding check about once in 256 tries; the length usually gives it away.
        const std::size_t n = key.size();
        OPENSSL_cleanse(key.data(), key.size());
        return permanent("one-time key decrypted to " + std::to_string(n) +
                         " bytes, not an AES key length (wrong SEK or IV?)");
    }
    return otk;
}

}  // namespace

Result<std::string> sek_key_bytes(std::string_view sek) {
    if (sek.empty()) return permanent("the SEK is empty");
    if (sek.size() > kMaxSekBytes) {
        return permanent("the SEK is " + std::to_string(sek.size()) + " bytes; at most 32 are supported");
    }
    // [P] above 16, pad to the next standard AES key size (see the header) instead of CryptoJS's
    // non-standard handling of odd key lengths.
    const std::size_t target = sek.size() <= 16 ? 16 : sek.size() <= 24 ? 24 : 32;
    std::string key(sek);
    key.resize(target, '0');
    return key;
}

Result<std::string> random_bytes(std::size_t count) {
    if (count > static_cast<std::size_t>(INT_MAX)) return permanent("random_bytes: count too large");
    std::string out(count, '\0');
    if (count > 0 && RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(count)) != 1) {
        ERR_clear_error();
        return Error(ErrorKind::kRetryable, "ocean crypto: RAND_bytes failed (entropy source unavailable)");
    }
    return out;
}

Result<std::string> aes_cbc_encrypt(std::string_view key, std::string_view iv, std::string_view plaintext) {
    return aes_cbc(true, key, iv, plaintext);
}

Result<std::string> aes_cbc_decrypt(std::string_view key, std::string_view iv, std::string_view ciphertext) {
    return aes_cbc(false, key, iv, ciphertext);
}

// ---- blocks ----------------------------------------------------------------------------------------

Result<EncryptedBlock> encrypt_block(std::string_view key, std::string_view plaintext) {
    auto iv = random_bytes(kIvBytes);
    if (auto* e = std::get_if<Error>(&iv)) return std::move(*e);
    auto ct = aes_cbc_encrypt(key, std::get<std::string>(iv), plaintext);
    if (auto* e = std::get_if<Error>(&ct)) return std::move(*e);
    return EncryptedBlock{base64_encode(std::get<std::string>(ct)), base64_encode(std::get<std::string>(iv))};
}

Result<std::string> decrypt_block(std::string_view key, const EncryptedBlock& block) {
    auto iv = decode_iv(block.iv_b64, "block iv");
    if (auto* e = std::get_if<Error>(&iv)) return std::move(*e);
    auto data = decode_field(block.data_b64, "block data");
    if (auto* e = std::get_if<Error>(&data)) return std::move(*e);
    return aes_cbc_decrypt(key, std::get<std::string>(iv), std::get<std::string>(data));
}

Result<std::string> generate_one_time_key() {
    return random_bytes(kOneTimeKeyBytes);
}

Result<EncryptedBlock> wrap_one_time_key(std::string_view sek, std::string_view one_time_key) {
    if (!is_aes_key_size(one_time_key.size())) {
        return permanent("one-time key must be 16, 24 or 32 bytes, got " +
                         std::to_string(one_time_key.size()));
    }
    auto key = sek_key_bytes(sek);
    if (auto* e = std::get_if<Error>(&key)) return std::move(*e);
    Wipe wipe(std::get<std::string>(key));
    return encrypt_block(std::get<std::string>(key), one_time_key);
}

Result<std::string> unwrap_one_time_key(std::string_view sek, const EncryptedBlock& wrapped) {
    auto key = sek_key_bytes(sek);
    if (auto* e = std::get_if<Error>(&key)) return std::move(*e);
    Wipe wipe(std::get<std::string>(key));
    auto iv = decode_iv(wrapped.iv_b64, "one-time key iv");
    if (auto* e = std::get_if<Error>(&iv)) return std::move(*e);
    auto data = decode_field(wrapped.data_b64, "one-time key data");
    if (auto* e = std::get_if<Error>(&data)) return std::move(*e);
    return unwrap_with_key(
        std::get<std::string>(key), std::get<std::string>(iv), std::get<std::string>(data));
}

Result<SealedBlocks> seal_blocks(std::string_view sek, std::string_view plaintext) {
    auto otk = generate_one_time_key();
    if (auto* e = std::get_if<Error>(&otk)) return std::move(*e);
    Wipe wipe(std::get<std::string>(otk));
    auto wrapped = wrap_one_time_key(sek, std::get<std::string>(otk));
    if (auto* e = std::get_if<Error>(&wrapped)) return std::move(*e);
    auto data = encrypt_block(std::get<std::string>(otk), plaintext);
    if (auto* e = std::get_if<Error>(&data)) return std::move(*e);
    return SealedBlocks{std::move(std::get<EncryptedBlock>(wrapped)),
                        std::move(std::get<EncryptedBlock>(data))};
}

Result<std::string> open_blocks(std::string_view sek, const SealedBlocks& blocks) {
    auto otk = unwrap_one_time_key(sek, blocks.one_time_key);
    if (auto* e = std::get_if<Error>(&otk)) return std::move(*e);
    Wipe wipe(std::get<std::string>(otk));
    return decrypt_block(std::get<std::string>(otk), blocks.data);
}

std::string encrypted_block_json(const EncryptedBlock& block) {
    std::string out = "{\"data\":";
    append_json_string(out, block.data_b64);
    out += ",\"iv\":";
    append_json_string(out, block.iv_b64);
    out += '}';
    return out;
}

Result<EncryptedBlock> parse_encrypted_block(std::string_view json) {
    boost::system::error_code ec;
    const boost::json::value doc = boost::json::parse(json, ec);
    if (ec) return permanent("encrypted block is not valid JSON");
    const auto* obj = doc.if_object();
    if (obj == nullptr) return permanent("encrypted block is not a JSON object");

    const auto* iv = obj->if_contains("iv");
    if (iv == nullptr || !iv->is_string()) return permanent("encrypted block has no string \"iv\"");
    const auto* data = obj->if_contains("data");
    if (data == nullptr) return permanent("encrypted block has no \"data\"");

    EncryptedBlock block;
    block.iv_b64 = std::string(iv->get_string());
    if (data->is_string()) {
        block.data_b64 = std::string(data->get_string());
    } else if (data->is_array()) {
        // The legacy signed-byte form; serialise the member and reuse the one array parser.
        auto b64 = ciphertext_to_base64(boost::json::serialize(*data));
        if (auto* e = std::get_if<Error>(&b64)) return std::move(*e);
        block.data_b64 = std::move(std::get<std::string>(b64));
    } else {
        return permanent("encrypted block \"data\" is neither a string nor an array");
    }
    return block;
}

// ---- header envelope -------------------------------------------------------------------------------

const char* to_string(HeaderLayout layout) {
    switch (layout) {
        case HeaderLayout::kSharedIv:
            return "shared_iv";
        case HeaderLayout::kSeparateKeyIv:
            return "separate_key_iv";
    }
    return "unknown";
}

HeaderLayout layout_of(const EncryptedPayload& payload) {
    return payload.one_time_key_iv_b64.empty() ? HeaderLayout::kSharedIv : HeaderLayout::kSeparateKeyIv;
}

Result<EncryptedPayload> seal(std::string_view sek, std::string_view plaintext, HeaderLayout layout) {
    auto key = sek_key_bytes(sek);
    if (auto* e = std::get_if<Error>(&key)) return std::move(*e);
    Wipe wipe_key(std::get<std::string>(key));
    auto otk = generate_one_time_key();
    if (auto* e = std::get_if<Error>(&otk)) return std::move(*e);
    Wipe wipe_otk(std::get<std::string>(otk));
    auto iv = random_bytes(kIvBytes);
    if (auto* e = std::get_if<Error>(&iv)) return std::move(*e);

    std::string otk_iv;
    if (layout == HeaderLayout::kSeparateKeyIv) {
        auto fresh = random_bytes(kIvBytes);
        if (auto* e = std::get_if<Error>(&fresh)) return std::move(*e);
        otk_iv = std::move(std::get<std::string>(fresh));
    } else {
        otk_iv = std::get<std::string>(iv);
    }

    auto body = aes_cbc_encrypt(std::get<std::string>(otk), std::get<std::string>(iv), plaintext);
    if (auto* e = std::get_if<Error>(&body)) return std::move(*e);
    auto wrapped = aes_cbc_encrypt(std::get<std::string>(key), otk_iv, std::get<std::string>(otk));
    if (auto* e = std::get_if<Error>(&wrapped)) return std::move(*e);

    EncryptedPayload payload;
    payload.ciphertext_b64 = base64_encode(std::get<std::string>(body));
    payload.iv_b64 = base64_encode(std::get<std::string>(iv));
    payload.one_time_key_b64 = base64_encode(std::get<std::string>(wrapped));
    if (layout == HeaderLayout::kSeparateKeyIv) payload.one_time_key_iv_b64 = base64_encode(otk_iv);
    return payload;
}

Result<std::string> open(std::string_view sek, const EncryptedPayload& payload) {
    return open(sek, payload, layout_of(payload));
}

Result<std::string> open(std::string_view sek, const EncryptedPayload& payload, HeaderLayout layout) {
    const bool has_key_iv = !payload.one_time_key_iv_b64.empty();
    if (layout == HeaderLayout::kSeparateKeyIv && !has_key_iv) {
        return permanent("oneTimeKeyIv header is missing (separate_key_iv layout)");
    }
    if (layout == HeaderLayout::kSharedIv && has_key_iv) {
        return permanent("unexpected oneTimeKeyIv header (shared_iv layout)");
    }

    auto key = sek_key_bytes(sek);
    if (auto* e = std::get_if<Error>(&key)) return std::move(*e);
    Wipe wipe_key(std::get<std::string>(key));
    auto iv = decode_iv(payload.iv_b64, "iv header");
    if (auto* e = std::get_if<Error>(&iv)) return std::move(*e);
    auto otk_iv = has_key_iv ? decode_iv(payload.one_time_key_iv_b64, "oneTimeKeyIv header") : iv;
    if (auto* e = std::get_if<Error>(&otk_iv)) return std::move(*e);
    auto wrapped = decode_field(payload.one_time_key_b64, "oneTimeKey header");
    if (auto* e = std::get_if<Error>(&wrapped)) return std::move(*e);
    auto body = decode_field(payload.ciphertext_b64, "body");
    if (auto* e = std::get_if<Error>(&body)) return std::move(*e);

    auto otk = unwrap_with_key(
        std::get<std::string>(key), std::get<std::string>(otk_iv), std::get<std::string>(wrapped));
    if (auto* e = std::get_if<Error>(&otk)) return std::move(*e);
    Wipe wipe_otk(std::get<std::string>(otk));
    auto plain =
        aes_cbc_decrypt(std::get<std::string>(otk), std::get<std::string>(iv), std::get<std::string>(body));
    if (auto* e = std::get_if<Error>(&plain)) {
        return wrap("body does not decrypt under the one-time key", *e);
    }
    return plain;
}

}  // namespace relay::ocean
