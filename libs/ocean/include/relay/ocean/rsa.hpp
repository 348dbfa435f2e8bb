#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "relay/ocean/crypto.hpp"

// Ocean's RSA path (ocean-api.md §4.3, §4.4, §7): a Referral JSON may carry its one-time key only
// RSA-wrapped under the site's public key (`oneTimeKeyEncryptedWithSitePublicKey`), and the site's
// private key comes from `GET /svc/v1/site/privateKey`, AES-CBC-encrypted under the SEK (body =
// ciphertext, header `iv`). Ocean's web client does RSA with Tom Wu's JSBN library, so the key arrives
// as JSBN's fields (`n, e, d, p, q, dmp1, dmq1, coeff`, hex strings) and the wrap is JSBN's
// `RSAKey.encrypt`, i.e. PKCS#1 v1.5.
//
// Same contract as crypto.hpp: stateless and thread-safe (an RsaKey is immutable and may be shared
// between threads), no exceptions on bad input (std::bad_alloc aside), errors are kPermanent unless
// they depend on the process rather than the input, and messages name fields and lengths, never key
// material or payload. Decisions the public record does not settle are marked [P].

struct evp_pkey_st;  // OpenSSL's EVP_PKEY, kept out of this header

namespace relay::ocean {

/// RSA padding of the wrapped one-time key.
enum class RsaPadding {
    /// [P] JSBN's RSAKey.encrypt/decrypt (pkcs1pad2 / pkcs1unpad2), which Ocean's client uses. Default.
    kPkcs1v15,
    /// OAEP with SHA-1 for both the label hash and MGF1 (JSBN forks' and OpenSSL's OAEP default).
    kOaepSha1,
    /// OAEP with SHA-256 for both (WebCrypto's usual choice), should Ocean move to it.
    kOaepSha256,
};

const char* to_string(RsaPadding padding);

/// An RSA key pair held as an OpenSSL EVP_PKEY. Cheap to copy (shared, immutable). A default-
/// constructed RsaKey holds no key; the functions below refuse it with an error.
class RsaKey {
   public:
    RsaKey() = default;
    /// Takes ownership of `pkey` (which must be an RSA key).
    explicit RsaKey(evp_pkey_st* pkey);

    [[nodiscard]] bool empty() const { return !pkey_; }
    /// Size of the modulus n in bits (0 when empty).
    [[nodiscard]] std::size_t modulus_bits() const;
    /// Size of the modulus n in bytes: the length of every ciphertext under this key.
    [[nodiscard]] std::size_t modulus_bytes() const { return (modulus_bits() + 7) / 8; }
    /// The underlying key, for callers that need OpenSSL directly. Do not modify it.
    [[nodiscard]] evp_pkey_st* pkey() const { return pkey_.get(); }

   private:
    std::shared_ptr<evp_pkey_st> pkey_;
};

/// [P] The key(s) of one site, in the order the endpoint listed them: Ocean says "key(s)", so a site
/// that rotated its key may have several, and a referral wrapped under any of them must open.
using SitePrivateKeys = std::vector<RsaKey>;

/// Smallest and largest moduli accepted. [P] 1024 bits admits keys JSBN generated years ago (its
/// demos use 512 and 1024; anything below 1024 is refused as unsafe); 16384 bounds the work a
/// hostile key can cause.
inline constexpr std::size_t kMinRsaModulusBits = 1024;
inline constexpr std::size_t kMaxRsaModulusBits = 16384;

// ---------------------------------------------------------------------------------------------------
// The site's private key (GET /svc/v1/site/privateKey)

/// Parses one JSBN private key object: `{"n":"…","e":"10001","d":"…","p":"…","q":"…","dmp1":"…",
/// "dmq1":"…","coeff":"…"}`. Values are hex, any case, without sign or `0x`, leading zeros allowed
/// (JSBN's BigInteger.toString(16) writes odd lengths). [P] `e` may also be a JSON integer: JSBN's
/// RSAKey holds `e` as a JavaScript number, so a serialised RSAKey would carry 65537, not "10001".
/// Other members are ignored.
///
/// The key is validated arithmetically before use (n = p·q; e odd and > 1; e·d ≡ 1 mod p-1 and
/// mod q-1; dmp1 = d mod p-1; dmq1 = d mod q-1; coeff·q ≡ 1 mod p; modulus size within the bounds
/// above), so a corrupt key fails here, naming the member, rather than silently mis-decrypting later.
/// [P] d may be e⁻¹ mod φ(n) (what JSBN's generator produces) or mod λ(n) (OpenSSL's): both are
/// accepted, which is why OpenSSL's SP 800-56B key check is not used (it refuses the former).
Result<RsaKey> parse_jsbn_private_key(std::string_view json);

/// [P] The decrypted body of GET /svc/v1/site/privateKey: either one key object (as above) or a JSON
/// array of them (several keys: try each). An empty array, or any element that does not parse, is an
/// error naming its index.
Result<SitePrivateKeys> parse_site_private_keys(std::string_view json);

/// GET /svc/v1/site/privateKey, end to end: `body` is the response body in any form decode_ciphertext
/// accepts (base64 text, a JSON string, a signed-byte array), `iv_b64` the `iv` response header. The
/// body is AES-CBC under sek_key_bytes(sek) directly (no one-time key: ocean-api.md §4.3, §7), then
/// parse_site_private_keys.
Result<SitePrivateKeys> decrypt_site_private_key(std::string_view sek,
                                                 std::string_view body,
                                                 std::string_view iv_b64);

/// The JSBN JSON of one key (lower-case hex without leading zeros, `e` as a hex string too), the
/// object form parse_jsbn_private_key reads. Holds key material: for the simulator and tests.
Result<std::string> rsa_key_to_jsbn_json(const RsaKey& key);

/// The inverse of decrypt_site_private_key, for the simulator: the keys as JSON ([P] a JSON array
/// when `as_list`, else the single key's object; `as_list` false with several keys is an error),
/// encrypted under the SEK with a fresh IV. `data_b64` is the response body, `iv_b64` its `iv` header.
Result<EncryptedBlock> encrypt_site_private_key(std::string_view sek,
                                                const SitePrivateKeys& keys,
                                                bool as_list = true);

/// A fresh RSA key pair with e = 65537, for the simulator and tests. A failure is kRetryable.
Result<RsaKey> generate_rsa_key(std::size_t bits = 2048);

// ---------------------------------------------------------------------------------------------------
// oneTimeKeyEncryptedWithSitePublicKey

/// Recovers the raw one-time key (16, 24 or 32 bytes) from `oneTimeKeyEncryptedWithSitePublicKey`.
///
/// `wrapped` is the member's text. [P] Base64 is expected; because JSBN's RSAKey.encrypt returns hex
/// (and Ocean may or may not convert it with JSBN's hex2b64), text that is all hex digits and does not
/// fit the key as base64 is read as hex. Either way a ciphertext one or more bytes shorter than the
/// modulus is left-padded with zeros (JSBN's BigInteger.toString drops leading zeros).
///
/// [P] The RSA plaintext is taken as the raw key when it is 16, 24 or 32 bytes. JSBN encrypts a
/// string, so Ocean may have wrapped the key's text instead: 32/48/64 hex digits (CryptoJS's default
/// WordArray.toString()) or base64 of 16/24/32 bytes are decoded to the raw key. Anything else is an
/// error naming the length.
///
/// With several keys, each whose modulus fits the ciphertext is tried in order and the first that
/// yields a usable one-time key wins; the error, if none does, says how many were tried. [P] OpenSSL
/// 3.2+'s implicit rejection for PKCS#1 v1.5 is turned off for these calls: it would turn a wrong
/// key into a plausible random plaintext instead of an error, defeating the key search. The relay is
/// no decryption oracle here (it only unwraps what Ocean sent it over TLS).
Result<std::string> unwrap_one_time_key_rsa(const SitePrivateKeys& keys,
                                            std::string_view wrapped,
                                            RsaPadding padding = RsaPadding::kPkcs1v15);
/// The same with one key.
Result<std::string> unwrap_one_time_key_rsa(const RsaKey& key,
                                            std::string_view wrapped,
                                            RsaPadding padding = RsaPadding::kPkcs1v15);

/// Wraps a raw one-time key (16, 24 or 32 bytes) under the public half of `key`: the
/// `oneTimeKeyEncryptedWithSitePublicKey` text, standard base64 of exactly modulus_bytes() bytes,
/// the raw key bytes as the RSA plaintext. For the simulator and tests.
Result<std::string> wrap_one_time_key_rsa(const RsaKey& key,
                                          std::string_view one_time_key,
                                          RsaPadding padding = RsaPadding::kPkcs1v15);

}  // namespace relay::ocean
