#include "relay/ocean/rsa.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include <array>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <climits>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "relay/core/encoding.hpp"

namespace relay::ocean {

namespace {

constexpr std::string_view kPrefix = "ocean rsa: ";

Error permanent(std::string message) {
    return Error(ErrorKind::kPermanent, std::string(kPrefix) + std::move(message));
}

Error retryable(std::string message) {
    return Error(ErrorKind::kRetryable, std::string(kPrefix) + std::move(message));
}

/// Adds context to an inner error (from here or crypto.cpp), keeping its kind.
Error wrap(std::string_view context, const Error& inner) {
    std::string_view detail = inner.message;
    for (std::string_view p : {kPrefix, std::string_view("ocean crypto: ")}) {
        if (detail.starts_with(p)) detail.remove_prefix(p.size());
    }
    return Error(inner.kind, std::string(kPrefix) + std::string(context) + ": " + std::string(detail));
}

/// Overwrites key material before its buffer is released.
class Wipe {
   public:
    explicit Wipe(std::string& s) : s_(s) {}
    ~Wipe() { OPENSSL_cleanse(s_.data(), s_.size()); }
    Wipe(const Wipe&) = delete;
    Wipe& operator=(const Wipe&) = delete;

   private:
    std::string& s_;
};

struct BnFree {
    void operator()(BIGNUM* bn) const { BN_clear_free(bn); }
};
using Bn = std::unique_ptr<BIGNUM, BnFree>;
struct BnCtxFree {
    void operator()(BN_CTX* ctx) const { BN_CTX_free(ctx); }
};
struct PkeyCtxFree {
    void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
};
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
struct ParamBldFree {
    void operator()(OSSL_PARAM_BLD* bld) const { OSSL_PARAM_BLD_free(bld); }
};
struct ParamFree {
    void operator()(OSSL_PARAM* params) const { OSSL_PARAM_free(params); }
};

const auto* uchars(std::string_view s) {
    return reinterpret_cast<const unsigned char*>(s.data());
}

int hex_nibble(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool all_hex(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
        if (hex_nibble(c) < 0) return false;
    }
    return true;
}

/// Bytes from hex digits; an odd count is read with an implicit leading zero (JSBN's spelling).
std::string hex_to_bytes(std::string_view hex) {
    std::string out((hex.size() + 1) / 2, '\0');
    std::size_t pos = 0;
    std::size_t i = 0;
    if (hex.size() % 2 != 0) out[pos++] = static_cast<char>(hex_nibble(hex[i++]));
    for (; i < hex.size(); i += 2) {
        out[pos++] = static_cast<char>(hex_nibble(hex[i]) * 16 + hex_nibble(hex[i + 1]));
    }
    return out;
}

bool is_aes_key_size(std::size_t n) {
    return n == 16 || n == 24 || n == 32;
}

// ---- JSBN key members ------------------------------------------------------------------------------

/// The JSBN members in JSBN's own order, with what OpenSSL calls them.
struct Member {
    const char* jsbn;
    const char* ossl;
};
constexpr std::array<Member, 8> kMembers{{
    {"n", OSSL_PKEY_PARAM_RSA_N},
    {"e", OSSL_PKEY_PARAM_RSA_E},
    {"d", OSSL_PKEY_PARAM_RSA_D},
    {"p", OSSL_PKEY_PARAM_RSA_FACTOR1},
    {"q", OSSL_PKEY_PARAM_RSA_FACTOR2},
    {"dmp1", OSSL_PKEY_PARAM_RSA_EXPONENT1},
    {"dmq1", OSSL_PKEY_PARAM_RSA_EXPONENT2},
    {"coeff", OSSL_PKEY_PARAM_RSA_COEFFICIENT1},
}};
enum MemberIndex { kN, kE, kD, kP, kQ, kDmp1, kDmq1, kCoeff };

/// Longest hex member accepted: the modulus bound, plus slack for leading zeros.
constexpr std::size_t kMaxHexDigits = kMaxRsaModulusBits / 4 + 64;

Result<Bn> member_bn(const boost::json::object& obj, const char* name) {
    const auto* v = obj.if_contains(name);
    if (v == nullptr || v->is_null()) return permanent(std::string("key member \"") + name + "\" is missing");
    BIGNUM* raw = nullptr;
    if (v->is_string()) {
        std::string_view hex = v->get_string();
        if (hex.size() > kMaxHexDigits) {
            return permanent(std::string("key member \"") + name + "\" is " + std::to_string(hex.size()) +
                             " hex digits, too long");
        }
        if (!all_hex(hex)) return permanent(std::string("key member \"") + name + "\" is not a hex string");
        // Validated above, so BN_hex2bn sees no sign, prefix or stray character; it needs a C string.
        const std::string z(hex);
        const int used = BN_hex2bn(&raw, z.c_str());
        if (used != static_cast<int>(z.size()) || raw == nullptr) {
            BN_clear_free(raw);
            ERR_clear_error();
            return retryable(std::string("cannot read key member \"") + name + "\" (out of memory?)");
        }
    } else if (std::string_view(name) == "e" && (v->is_int64() || v->is_uint64())) {
        // [P] A serialised JSBN RSAKey holds e as a number (see the header).
        const auto e = v->is_int64() ? v->get_int64() : static_cast<std::int64_t>(v->get_uint64());
        if (e <= 0) return permanent("key member \"e\" is not positive");
        raw = BN_new();
        if (raw == nullptr || BN_set_word(raw, static_cast<BN_ULONG>(e)) != 1) {
            BN_free(raw);
            ERR_clear_error();
            return retryable("cannot read key member \"e\" (out of memory?)");
        }
    } else {
        return permanent(std::string("key member \"") + name + "\" is not a string");
    }
    return Bn(raw);
}

/// The checks named in the header, with plain big-number arithmetic. Returns an error naming the first
/// member that does not fit. `m` holds the members in kMembers order.
std::optional<Error> validate(const std::array<Bn, 8>& m) {
    for (std::size_t i = 0; i < m.size(); ++i) {
        if (BN_is_zero(m[i].get()))
            return permanent(std::string("key member \"") + kMembers[i].jsbn + "\" is zero");
    }
    const int bits = BN_num_bits(m[kN].get());
    if (bits < static_cast<int>(kMinRsaModulusBits) || bits > static_cast<int>(kMaxRsaModulusBits)) {
        return permanent("modulus n is " + std::to_string(bits) + " bits; " +
                         std::to_string(kMinRsaModulusBits) + " to " + std::to_string(kMaxRsaModulusBits) +
                         " are accepted");
    }
    if (!BN_is_odd(m[kE].get()) || BN_is_one(m[kE].get()) || BN_cmp(m[kE].get(), m[kN].get()) >= 0) {
        return permanent("key member \"e\" is not an odd number between 1 and n");
    }
    if (BN_cmp(m[kD].get(), m[kN].get()) >= 0) return permanent("key member \"d\" is not below n");

    std::unique_ptr<BN_CTX, BnCtxFree> ctx(BN_CTX_new());
    Bn t(BN_new()), pm1(BN_new()), qm1(BN_new());
    if (!ctx || !t || !pm1 || !qm1) return retryable("out of memory validating the key");
    auto failed = [] {
        ERR_clear_error();
        return retryable("big-number arithmetic failed validating the key");
    };

    if (BN_mul(t.get(), m[kP].get(), m[kQ].get(), ctx.get()) != 1) return failed();
    if (BN_cmp(t.get(), m[kN].get()) != 0)
        return permanent("key members \"p\" and \"q\" do not multiply to n");
    if (BN_is_one(m[kP].get()) || BN_is_one(m[kQ].get()))
        return permanent("key member \"p\" or \"q\" is one");
    if (BN_sub(pm1.get(), m[kP].get(), BN_value_one()) != 1 ||
        BN_sub(qm1.get(), m[kQ].get(), BN_value_one()) != 1)
        return failed();

    // e·d ≡ 1 modulo p-1 and q-1: true for d taken mod φ(n) or mod λ(n) alike.
    Bn ed(BN_new());
    if (!ed || BN_mul(ed.get(), m[kE].get(), m[kD].get(), ctx.get()) != 1) return failed();
    for (const BIGNUM* mod : {pm1.get(), qm1.get()}) {
        if (BN_nnmod(t.get(), ed.get(), mod, ctx.get()) != 1) return failed();
        if (!BN_is_one(t.get())) return permanent("key members \"e\" and \"d\" are not inverse exponents");
    }
    if (BN_nnmod(t.get(), m[kD].get(), pm1.get(), ctx.get()) != 1) return failed();
    if (BN_cmp(t.get(), m[kDmp1].get()) != 0) return permanent("key member \"dmp1\" is not d mod (p-1)");
    if (BN_nnmod(t.get(), m[kD].get(), qm1.get(), ctx.get()) != 1) return failed();
    if (BN_cmp(t.get(), m[kDmq1].get()) != 0) return permanent("key member \"dmq1\" is not d mod (q-1)");
    if (BN_cmp(m[kCoeff].get(), m[kP].get()) >= 0) return permanent("key member \"coeff\" is not below p");
    if (BN_mod_mul(t.get(), m[kCoeff].get(), m[kQ].get(), m[kP].get(), ctx.get()) != 1) return failed();
    if (!BN_is_one(t.get())) return permanent("key member \"coeff\" is not the inverse of q mod p");
    return std::nullopt;
}

Result<RsaKey> key_from_members(const std::array<Bn, 8>& m) {
    std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
    if (!bld) return retryable("out of memory building the key");
    for (std::size_t i = 0; i < m.size(); ++i) {
        if (OSSL_PARAM_BLD_push_BN(bld.get(), kMembers[i].ossl, m[i].get()) != 1) {
            ERR_clear_error();
            return retryable("out of memory building the key");
        }
    }
    std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld.get()));
    PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
    EVP_PKEY* pkey = nullptr;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_KEYPAIR, params.get()) != 1 || pkey == nullptr) {
        EVP_PKEY_free(pkey);
        ERR_clear_error();
        // The members were validated, so this is OpenSSL refusing or failing, not the input.
        return permanent("OpenSSL refused the RSA key");
    }
    return RsaKey(pkey);
}

Result<RsaKey> key_from_object(const boost::json::value& v) {
    const auto* obj = v.if_object();
    if (obj == nullptr) return permanent("a private key is not a JSON object");
    std::array<Bn, 8> m;
    for (std::size_t i = 0; i < kMembers.size(); ++i) {
        auto bn = member_bn(*obj, kMembers[i].jsbn);
        if (auto* e = std::get_if<Error>(&bn)) return std::move(*e);
        m[i] = std::move(std::get<Bn>(bn));
    }
    if (auto invalid = validate(m)) return std::move(*invalid);
    return key_from_members(m);
}

/// One BIGNUM parameter of the key as JSBN's toString(16) writes it: lower case, no leading zeros.
Result<std::string> jsbn_hex(const RsaKey& key, const char* ossl_name) {
    BIGNUM* raw = nullptr;
    if (EVP_PKEY_get_bn_param(key.pkey(), ossl_name, &raw) != 1 || raw == nullptr) {
        ERR_clear_error();
        return permanent(std::string("the key has no \"") + ossl_name + "\" (not a full private key?)");
    }
    Bn bn(raw);
    char* hex = BN_bn2hex(bn.get());
    if (hex == nullptr) {
        ERR_clear_error();
        return retryable("out of memory writing the key");
    }
    std::string out(hex);
    OPENSSL_clear_free(hex, out.size() + 1);
    for (auto& c : out) {
        if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    }
    const auto first = out.find_first_not_of('0');
    out.erase(0, first == std::string::npos ? out.size() - 1 : first);
    return out;
}

// ---- RSA operations --------------------------------------------------------------------------------

/// Sets the padding (and OAEP digests) on an encrypt or decrypt context.
bool set_padding(EVP_PKEY_CTX* ctx, RsaPadding padding) {
    switch (padding) {
        case RsaPadding::kPkcs1v15:
            return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1;
        case RsaPadding::kOaepSha1:
        case RsaPadding::kOaepSha256: {
            const EVP_MD* md = padding == RsaPadding::kOaepSha1 ? EVP_sha1() : EVP_sha256();
            return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
                   EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) == 1 && EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) == 1;
        }
    }
    return false;
}

/// RSA decryption of exactly modulus_bytes() bytes. nullopt = the padding did not check out (wrong key,
/// wrong padding mode or a corrupted ciphertext); an Error = OpenSSL could not run at all.
Result<std::optional<std::string>> rsa_decrypt(const RsaKey& key,
                                               std::string_view ciphertext,
                                               RsaPadding padding) {
    PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key.pkey(), nullptr));
    if (!ctx || EVP_PKEY_decrypt_init(ctx.get()) != 1 || !set_padding(ctx.get(), padding)) {
        ERR_clear_error();
        return retryable("cannot initialise RSA decryption");
    }
    if (padding == RsaPadding::kPkcs1v15) {
        // [P] See the header: a wrong key must fail, not decrypt to random bytes. OpenSSL < 3.2 has no
        // such parameter and ignores it.
        unsigned int implicit_rejection = 0;
        const OSSL_PARAM params[] = {OSSL_PARAM_construct_uint("implicit-rejection", &implicit_rejection),
                                     OSSL_PARAM_construct_end()};
        if (EVP_PKEY_CTX_set_params(ctx.get(), params) != 1) ERR_clear_error();
    }
    std::size_t out_len = 0;
    if (EVP_PKEY_decrypt(ctx.get(), nullptr, &out_len, uchars(ciphertext), ciphertext.size()) != 1) {
        ERR_clear_error();
        return retryable("cannot size RSA decryption");
    }
    std::string out(out_len, '\0');
    if (EVP_PKEY_decrypt(ctx.get(),
                         reinterpret_cast<unsigned char*>(out.data()),
                         &out_len,
                         uchars(ciphertext),
                         ciphertext.size()) != 1) {
        ERR_clear_error();
        OPENSSL_cleanse(out.data(), out.size());
        return std::optional<std::string>();
    }
    out.resize(out_len);
    return std::optional<std::string>(std::move(out));
}

/// The raw one-time key from an RSA plaintext, per the header's [P] rule, or nullopt.
std::optional<std::string> one_time_key_from_plaintext(std::string_view plain) {
    if (plain.size() == 32 || plain.size() == 48 || plain.size() == 64) {
        // Text first: a raw 32-byte key that is all hex digits has odds of about 10^-34.
        if (all_hex(plain)) return hex_to_bytes(plain);
    }
    if (plain.size() == 24 || plain.size() == 32 || plain.size() == 44) {
        if (auto bytes = base64_decode(plain); bytes && is_aes_key_size(bytes->size())) {
            return std::move(*bytes);
        }
    }
    if (is_aes_key_size(plain.size())) return std::string(plain);
    return std::nullopt;
}

/// The ciphertext bytes for a key of `modulus_bytes`, per the header's [P] rule, or nullopt.
std::optional<std::string> ciphertext_for(std::string_view text, std::size_t modulus_bytes) {
    std::optional<std::string> bytes = base64_decode(text);
    if (!bytes || bytes->empty() || bytes->size() > modulus_bytes) {
        bytes.reset();
        if (all_hex(text) && text.size() <= 2 * modulus_bytes) bytes = hex_to_bytes(text);
    }
    if (!bytes || bytes->empty()) return std::nullopt;
    if (bytes->size() < modulus_bytes) bytes->insert(0, modulus_bytes - bytes->size(), '\0');
    return bytes;
}

std::string_view trim(std::string_view s) {
    constexpr std::string_view kSpace = " \t\r\n";
    const auto b = s.find_first_not_of(kSpace);
    if (b == std::string_view::npos) return {};
    return s.substr(b, s.find_last_not_of(kSpace) - b + 1);
}

}  // namespace

// ---- RsaKey ----------------------------------------------------------------------------------------

RsaKey::RsaKey(evp_pkey_st* pkey) : pkey_(pkey, [](EVP_PKEY* p) { EVP_PKEY_free(p); }) {}

std::size_t RsaKey::modulus_bits() const {
    if (!pkey_) return 0;
    const int bits = EVP_PKEY_get_bits(pkey_.get());
    return bits > 0 ? static_cast<std::size_t>(bits) : 0;
}

const char* to_string(RsaPadding padding) {
    switch (padding) {
        case RsaPadding::kPkcs1v15:
            return "pkcs1";
        case RsaPadding::kOaepSha1:
            return "oaep-sha1";
        case RsaPadding::kOaepSha256:
            return "oaep-sha256";
    }
    return "unknown";
}

// ---- the site's private key ------------------------------------------------------------------------

Result<RsaKey> parse_jsbn_private_key(std::string_view json) {
    boost::system::error_code ec;
    const boost::json::value doc = boost::json::parse(json, ec);
    if (ec) return permanent("the private key is not valid JSON");
    return key_from_object(doc);
}

Result<SitePrivateKeys> parse_site_private_keys(std::string_view json) {
    boost::system::error_code ec;
    const boost::json::value doc = boost::json::parse(json, ec);
    if (ec) return permanent("the private key document is not valid JSON");
    SitePrivateKeys keys;
    if (doc.is_object()) {
        auto key = key_from_object(doc);
        if (auto* e = std::get_if<Error>(&key)) return std::move(*e);
        keys.push_back(std::move(std::get<RsaKey>(key)));
        return keys;
    }
    const auto* list = doc.if_array();
    if (list == nullptr) return permanent("the private key document is neither an object nor an array");
    if (list->empty()) return permanent("the private key list is empty");
    for (std::size_t i = 0; i < list->size(); ++i) {
        auto key = key_from_object((*list)[i]);
        if (auto* e = std::get_if<Error>(&key)) return wrap("private key [" + std::to_string(i) + "]", *e);
        keys.push_back(std::move(std::get<RsaKey>(key)));
    }
    return keys;
}

Result<SitePrivateKeys> decrypt_site_private_key(std::string_view sek,
                                                 std::string_view body,
                                                 std::string_view iv_b64) {
    auto key = sek_key_bytes(sek);
    if (auto* e = std::get_if<Error>(&key)) return wrap("site private key", *e);
    Wipe wipe_key(std::get<std::string>(key));
    iv_b64 = trim(iv_b64);
    if (iv_b64.empty()) return permanent("site private key: the iv header is missing");
    const auto iv = base64_decode(iv_b64);
    if (!iv) return permanent("site private key: the iv header is not valid base64");
    if (iv->size() != kIvBytes) {
        return permanent("site private key: the iv header decodes to " + std::to_string(iv->size()) +
                         " bytes, not 16");
    }
    auto ciphertext = decode_ciphertext(body);
    if (auto* e = std::get_if<Error>(&ciphertext)) return wrap("site private key body", *e);
    auto plain = aes_cbc_decrypt(std::get<std::string>(key), *iv, std::get<std::string>(ciphertext));
    if (auto* e = std::get_if<Error>(&plain))
        return wrap("site private key does not decrypt under the SEK", *e);
    Wipe wipe_plain(std::get<std::string>(plain));
    auto keys = parse_site_private_keys(std::get<std::string>(plain));
    // A wrong SEK that passes the padding check lands here as "not valid JSON".
    if (auto* e = std::get_if<Error>(&keys)) return wrap("site private key (wrong SEK?)", *e);
    return keys;
}

Result<std::string> rsa_key_to_jsbn_json(const RsaKey& key) {
    if (key.empty()) return permanent("no key");
    std::string out = "{";
    for (std::size_t i = 0; i < kMembers.size(); ++i) {
        auto hex = jsbn_hex(key, kMembers[i].ossl);
        if (auto* e = std::get_if<Error>(&hex)) {
            OPENSSL_cleanse(out.data(), out.size());
            return std::move(*e);
        }
        Wipe wipe(std::get<std::string>(hex));
        if (i > 0) out += ',';
        append_json_string(out, kMembers[i].jsbn);
        out += ':';
        append_json_string(out, std::get<std::string>(hex));
    }
    out += '}';
    return out;
}

Result<EncryptedBlock> encrypt_site_private_key(std::string_view sek,
                                                const SitePrivateKeys& keys,
                                                bool as_list) {
    if (keys.empty()) return permanent("no keys to encrypt");
    if (!as_list && keys.size() != 1) return permanent("several keys need the list form");
    std::string json = as_list ? "[" : "";
    Wipe wipe_json(json);
    for (std::size_t i = 0; i < keys.size(); ++i) {
        auto one = rsa_key_to_jsbn_json(keys[i]);
        if (auto* e = std::get_if<Error>(&one)) return std::move(*e);
        Wipe wipe_one(std::get<std::string>(one));
        if (i > 0) json += ',';
        json += std::get<std::string>(one);
    }
    if (as_list) json += ']';
    auto key = sek_key_bytes(sek);
    if (auto* e = std::get_if<Error>(&key)) return std::move(*e);
    Wipe wipe_key(std::get<std::string>(key));
    return encrypt_block(std::get<std::string>(key), json);
}

Result<RsaKey> generate_rsa_key(std::size_t bits) {
    if (bits < kMinRsaModulusBits || bits > kMaxRsaModulusBits) {
        return permanent("cannot generate a " + std::to_string(bits) + "-bit key");
    }
    EVP_PKEY* pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", bits);
    if (pkey == nullptr) {
        ERR_clear_error();
        return retryable("RSA key generation failed");
    }
    return RsaKey(pkey);
}

// ---- oneTimeKeyEncryptedWithSitePublicKey ----------------------------------------------------------

Result<std::string> unwrap_one_time_key_rsa(const SitePrivateKeys& keys,
                                            std::string_view wrapped,
                                            RsaPadding padding) {
    wrapped = trim(wrapped);
    if (wrapped.empty()) return permanent("oneTimeKeyEncryptedWithSitePublicKey is missing");
    if (keys.empty()) return permanent("no site private key to unwrap the one-time key with");
    std::size_t tried = 0;
    std::optional<std::size_t> bad_length;
    for (const RsaKey& key : keys) {
        if (key.empty()) continue;
        auto ciphertext = ciphertext_for(wrapped, key.modulus_bytes());
        if (!ciphertext) continue;
        ++tried;
        auto plain = rsa_decrypt(key, *ciphertext, padding);
        if (auto* e = std::get_if<Error>(&plain)) return std::move(*e);
        auto& opened = std::get<std::optional<std::string>>(plain);
        if (!opened) continue;
        Wipe wipe(*opened);
        if (auto otk = one_time_key_from_plaintext(*opened)) return std::move(*otk);
        bad_length = opened->size();
    }
    if (tried == 0) {
        return permanent("oneTimeKeyEncryptedWithSitePublicKey (" + std::to_string(wrapped.size()) +
                         " characters) is neither base64 nor hex of a ciphertext that fits the site's " +
                         std::to_string(keys.size()) + " key(s)");
    }
    if (bad_length) {
        return permanent("oneTimeKeyEncryptedWithSitePublicKey decrypted to " + std::to_string(*bad_length) +
                         " bytes, not a one-time key (16, 24 or 32 bytes, raw, hex or base64)");
    }
    return permanent("oneTimeKeyEncryptedWithSitePublicKey does not decrypt (" +
                     std::string(to_string(padding)) + ") under any of the site's " + std::to_string(tried) +
                     " key(s) that fit it (wrong key, or corrupted)");
}

Result<std::string> unwrap_one_time_key_rsa(const RsaKey& key, std::string_view wrapped, RsaPadding padding) {
    return unwrap_one_time_key_rsa(SitePrivateKeys{key}, wrapped, padding);
}

Result<std::string> wrap_one_time_key_rsa(const RsaKey& key,
                                          std::string_view one_time_key,
                                          RsaPadding padding) {
    if (key.empty()) return permanent("no key");
    if (!is_aes_key_size(one_time_key.size())) {
        return permanent("one-time key must be 16, 24 or 32 bytes, got " +
                         std::to_string(one_time_key.size()));
    }
    PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key.pkey(), nullptr));
    if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) != 1 || !set_padding(ctx.get(), padding)) {
        ERR_clear_error();
        return retryable("cannot initialise RSA encryption");
    }
    std::size_t out_len = 0;
    if (EVP_PKEY_encrypt(ctx.get(), nullptr, &out_len, uchars(one_time_key), one_time_key.size()) != 1) {
        ERR_clear_error();
        return permanent("RSA encryption failed");
    }
    std::string out(out_len, '\0');
    if (EVP_PKEY_encrypt(ctx.get(),
                         reinterpret_cast<unsigned char*>(out.data()),
                         &out_len,
                         uchars(one_time_key),
                         one_time_key.size()) != 1) {
        ERR_clear_error();
        return permanent("RSA encryption failed");
    }
    out.resize(out_len);
    return base64_encode(out);
}

}  // namespace relay::ocean
