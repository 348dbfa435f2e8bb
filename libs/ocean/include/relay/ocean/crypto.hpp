#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>

#include "relay/core/error.hpp"

// Ocean's encryption model for the Open eReferral and Open Patient Engagement APIs (ocean-api.md §4,
// §5, §7): AES-CBC with PKCS#7 padding, CryptoJS-compatible; a random one-time key (OTK) encrypts the
// payload and the OTK itself travels encrypted under the site's Shared Encryption Key (SEK).
//
// A `sek` parameter is the SEK text as configured: keep it in a relay::Secret and pass reveal().
// Every function here is stateless and thread-safe. None throws on bad input: failures come back as a
// relay::Error (std::bad_alloc aside). Error messages name fields and lengths, never payload content or
// key material. Decisions the public record does not settle are marked [P].

namespace relay::ocean {

/// A value or the reason there is none.
template <typename T>
using Result = std::variant<T, Error>;

inline constexpr std::size_t kAesBlockBytes = 16;
inline constexpr std::size_t kIvBytes = 16;
/// The one-time keys we generate: AES-128, as Ocean's own sample and the Ocean Labs autorouter do.
inline constexpr std::size_t kOneTimeKeyBytes = 16;
/// Longest SEK accepted, in UTF-8 bytes (AES-256).
inline constexpr std::size_t kMaxSekBytes = 32;

// ---------------------------------------------------------------------------------------------------
// Keys and primitives

/// The AES key derived from a Shared Encryption Key: its UTF-8 bytes right-padded with '0' (0x30).
///
///   SEK length (UTF-8 bytes)   key                                     AES
///   0                          error (an empty SEK is a configuration mistake)   [P]
///   1..16                      padded to 16 (Ocean's documented rule)           AES-128
///   17..24                     padded to 24                              [P]    AES-192
///   25..32                     padded to 32                              [P]    AES-256
///   > 32                       error                                     [P]
///
/// [P] Only lengths <= 16, 24 and 32 are known to interoperate with CryptoJS (and hence Ocean):
/// CryptoJS uses whatever WordArray it is given as the key, so a 20-byte key would run a non-standard
/// Rijndael key schedule that no AES implementation reproduces (checked with crypto-js 4.2.0), while
/// the Ocean Labs autorouter truncates 17..23-byte keys to 16 on its encrypt path. We instead pad up to
/// the next standard AES size, so every SEK gives a standard key. A site whose SEK is 17..23 or 25..31
/// bytes long must be confirmed with Ocean before going live.
/// [P] Padding counts UTF-8 bytes; JavaScript counts UTF-16 code units. They agree for ASCII SEKs,
/// which is all that has been seen; a non-ASCII SEK shorter than 16 characters may differ.
Result<std::string> sek_key_bytes(std::string_view sek);

/// `count` bytes from OpenSSL's CSPRNG (RAND_bytes). A failure is kRetryable: it depends on the
/// process's entropy source, not on the input.
Result<std::string> random_bytes(std::size_t count);

/// AES-CBC with PKCS#7 padding. `key` is 16, 24 or 32 raw bytes (AES-128/192/256), `iv` 16 raw bytes.
/// The ciphertext is always a positive multiple of 16 bytes (a full padding block for aligned input).
/// Wrong key or IV lengths are kPermanent errors.
Result<std::string> aes_cbc_encrypt(std::string_view key, std::string_view iv, std::string_view plaintext);

/// Inverse of aes_cbc_encrypt. A ciphertext that is empty or not a multiple of 16 bytes, or whose
/// padding does not check out, is a kPermanent error. A wrong key or a tampered ciphertext fails the
/// padding check with probability about 255/256 only: CBC has no integrity check, so callers must
/// also validate what they decrypt (Ocean payloads are JSON, and parsing catches the rest).
Result<std::string> aes_cbc_decrypt(std::string_view key, std::string_view iv, std::string_view ciphertext);

// ---------------------------------------------------------------------------------------------------
// {data, iv} blocks, as in the Referral JSON (encryptedPtData, oneTimeKeyEncryptedWithSiteSEK,
// ReferralComment.encryptedMsg, attachment encryptedData)

/// One AES-CBC ciphertext and its IV, both standard base64 (RFC 4648 §4, padded).
struct EncryptedBlock {
    std::string data_b64;
    std::string iv_b64;

    bool operator==(const EncryptedBlock&) const = default;
};

/// Encrypts under `key` (16/24/32 raw bytes) with a fresh random IV.
Result<EncryptedBlock> encrypt_block(std::string_view key, std::string_view plaintext);
/// Decrypts a block under `key` (raw bytes). Fields must be base64; see decode_ciphertext for bodies
/// that arrive as a signed-byte array.
Result<std::string> decrypt_block(std::string_view key, const EncryptedBlock& block);

/// A fresh random one-time key (kOneTimeKeyBytes raw bytes).
Result<std::string> generate_one_time_key();
/// Encrypts a one-time key under the SEK with a fresh IV: the `oneTimeKeyEncryptedWithSiteSEK` block.
Result<EncryptedBlock> wrap_one_time_key(std::string_view sek, std::string_view one_time_key);
/// Recovers the raw one-time key from `oneTimeKeyEncryptedWithSiteSEK`. [P] The result must be 16, 24
/// or 32 bytes (a usable AES key); Ocean's are 16, but nothing is gained by refusing a longer AES key.
Result<std::string> unwrap_one_time_key(std::string_view sek, const EncryptedBlock& wrapped);

/// The Referral JSON pair: the OTK under the SEK, and the data under the OTK.
struct SealedBlocks {
    EncryptedBlock one_time_key;  ///< oneTimeKeyEncryptedWithSiteSEK
    EncryptedBlock data;          ///< e.g. encryptedPtData
};

/// Encrypts `plaintext` under a fresh OTK and wraps that OTK under the SEK, each with its own IV.
Result<SealedBlocks> seal_blocks(std::string_view sek, std::string_view plaintext);
/// unwrap_one_time_key, then decrypt_block. Other blocks of the same referral (messages,
/// attachments) share its OTK: unwrap it once and call decrypt_block for each.
Result<std::string> open_blocks(std::string_view sek, const SealedBlocks& blocks);

/// `{"data":"<base64>","iv":"<base64>"}`.
std::string encrypted_block_json(const EncryptedBlock& block);
/// Parses a `{data, iv}` JSON object. `data` may be a base64 string or a JSON array of signed bytes
/// (it is normalised to base64); `iv` must be a base64 string. Other members are ignored.
Result<EncryptedBlock> parse_encrypted_block(std::string_view json);

// ---------------------------------------------------------------------------------------------------
// The header envelope of the Patient Engagement GETs (ocean-api.md §5.2)

/// Which IV encrypted the one-time key. The two GETs differ, so callers say which one they made.
enum class HeaderLayout {
    /// GET /svc/v1/patients/{ptRef}: headers `oneTimeKey` and `iv`; `iv` serves both layers.
    kSharedIv,
    /// GET /svc/v1/patients/{ptRef}/notes: headers `oneTimeKey`, `oneTimeKeyIv` and `iv`.
    kSeparateKeyIv,
};

const char* to_string(HeaderLayout layout);

/// The encrypted body plus the headers that unlock it. All fields are standard base64.
struct EncryptedPayload {
    std::string ciphertext_b64;       ///< the response body (see ciphertext_to_base64)
    std::string iv_b64;               ///< header `iv`: IV of the body (and of the OTK when shared)
    std::string one_time_key_b64;     ///< header `oneTimeKey`: the OTK encrypted under the SEK
    std::string one_time_key_iv_b64;  ///< header `oneTimeKeyIv`; empty in the kSharedIv layout

    bool operator==(const EncryptedPayload&) const = default;
};

/// kSeparateKeyIv when `one_time_key_iv_b64` is present, else kSharedIv.
HeaderLayout layout_of(const EncryptedPayload& payload);

/// Encrypts `plaintext` under a fresh random OTK with a fresh random IV, and the OTK under the SEK. In
/// the kSeparateKeyIv layout the OTK gets its own fresh IV; in kSharedIv it reuses the body's IV (safe:
/// the two layers use different keys) and `one_time_key_iv_b64` is left empty.
Result<EncryptedPayload> seal(std::string_view sek, std::string_view plaintext, HeaderLayout layout);

/// ocean-api.md §7, layout inferred from the payload:
///   otk   = AES_CBC_decrypt(key = sek_key_bytes(sek), iv = oneTimeKeyIv or iv, ct = oneTimeKey)
///   plain = AES_CBC_decrypt(key = otk,                iv = iv,                 ct = body)
Result<std::string> open(std::string_view sek, const EncryptedPayload& payload);

/// As above, but the caller states the layout of the endpoint it called, and a payload that does not
/// match is refused rather than decrypted under a guessed IV: kSeparateKeyIv requires
/// `one_time_key_iv_b64`, kSharedIv requires it to be empty (a new header would mean Ocean changed).
Result<std::string> open(std::string_view sek, const EncryptedPayload& payload, HeaderLayout layout);

// ---------------------------------------------------------------------------------------------------
// Ciphertext as it appears on the wire

/// Raw ciphertext bytes from any of the forms Ocean uses for a body or a `data` field:
///   * bare base64 text: `3WKDeExG...`
///   * a JSON string holding base64: `"3WKDeExG..."` (a response body read as JSON; `\/` is unescaped)
///   * a JSON array of signed bytes: `[-35, 98, -125, ...]` (ocean-api.md §7, "some responses")
/// Surrounding whitespace is ignored. [P] Array elements may be -128..255 (Java's signed bytes, plus
/// their unsigned spelling); anything else, fractions or exponents included, is an error.
Result<std::string> decode_ciphertext(std::string_view text);

/// decode_ciphertext, re-encoded as standard base64, for EncryptedPayload::ciphertext_b64.
Result<std::string> ciphertext_to_base64(std::string_view text);

/// Only the JSON-array form of decode_ciphertext.
Result<std::string> signed_byte_array_to_bytes(std::string_view json_array);

/// `[-35,98,-125,...]`: the legacy array form, for the simulator to reproduce those responses.
std::string bytes_to_signed_byte_array(std::string_view bytes);

}  // namespace relay::ocean
