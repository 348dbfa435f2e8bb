// Ocean's Open API decryption (libs/ocean) with a fixed SEK and one-time key, over arbitrary bytes used
// as ciphertext in every form the wire carries (raw, base64, a JSON string of base64, a signed-byte array,
// a {data, iv} block, the header envelope of both layouts) and as key material (SEK, AES key, IV).
//
// Invariants: nothing throws; every failure is a relay::Error with a short message (a message never
// carries the input); the textual forms decode back to the same bytes; a decryption never yields more
// bytes than its ciphertext; encrypting the input and decrypting it gives it back, under the fixed key and
// under the input as SEK.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "fuzz_check.hpp"
#include "relay/core/encoding.hpp"
#include "relay/ocean/crypto.hpp"

namespace {

namespace ocean = relay::ocean;

constexpr std::string_view kSek = "fuzzSharedKey123";         // 16 bytes
constexpr std::string_view kOneTimeKey = "0123456789abcdef";  // 16 bytes
constexpr char kIv[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

std::string_view iv() {
    return {kIv, sizeof kIv};
}

/// The error branch of a Result: a permanent error with a bounded, prefixed message.
template <typename T>
const T* value_or_checked_error(const ocean::Result<T>& result) {
    if (const auto* e = std::get_if<relay::Error>(&result)) {
        FUZZ_CHECK(e->message.starts_with("ocean crypto: "));
        FUZZ_CHECK(e->message.size() <= 256);
        return nullptr;
    }
    return &std::get<T>(result);
}
/// Only for results that outlive the returned pointer.
template <typename T>
const T* value_or_checked_error(const ocean::Result<T>&& result) = delete;

/// Checks the error branch of a result that is not used further; true when it holds a value.
template <typename T>
bool checked(const ocean::Result<T>& result) {
    return value_or_checked_error(result) != nullptr;
}

void check_decrypt(const ocean::Result<std::string>& plain, std::size_t ciphertext_size) {
    if (const auto* p = value_or_checked_error(plain)) {
        FUZZ_CHECK(ciphertext_size % ocean::kAesBlockBytes == 0 && ciphertext_size > 0);
        FUZZ_CHECK(p->size() < ciphertext_size);
        FUZZ_CHECK(ciphertext_size - p->size() <= ocean::kAesBlockBytes);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const std::string b64 = relay::base64_encode(input);

    // Wrapped under the fixed SEK: the header and block that unlock a body.
    static const std::string sek_key = std::get<std::string>(ocean::sek_key_bytes(kSek));
    static const std::string wrapped_otk =
        relay::base64_encode(std::get<std::string>(ocean::aes_cbc_encrypt(sek_key, iv(), kOneTimeKey)));
    static const std::string iv_b64 = relay::base64_encode(iv());

    // -- the input as raw ciphertext, and in each encoding of it
    check_decrypt(ocean::aes_cbc_decrypt(kOneTimeKey, iv(), input), size);
    check_decrypt(ocean::decrypt_block(kOneTimeKey, ocean::EncryptedBlock{b64, iv_b64}), size);
    for (const auto layout : {ocean::HeaderLayout::kSharedIv, ocean::HeaderLayout::kSeparateKeyIv}) {
        ocean::EncryptedPayload payload{b64, iv_b64, wrapped_otk, ""};
        if (layout == ocean::HeaderLayout::kSeparateKeyIv) payload.one_time_key_iv_b64 = iv_b64;
        FUZZ_CHECK(ocean::layout_of(payload) == layout);
        check_decrypt(ocean::open(kSek, payload), size);
        check_decrypt(ocean::open(kSek, payload, layout), size);
    }
    const ocean::SealedBlocks sealed{ocean::EncryptedBlock{wrapped_otk, iv_b64},
                                     ocean::EncryptedBlock{b64, iv_b64}};
    check_decrypt(ocean::open_blocks(kSek, sealed), size);

    const std::string array = ocean::bytes_to_signed_byte_array(input);
    for (const std::string& text : {b64, "\"" + b64 + "\"", array, " \n" + array + "\t"}) {
        const auto decoded = ocean::decode_ciphertext(text);
        if (size == 0 && text != array && !text.starts_with(' ')) {
            checked(decoded);  // empty base64 is refused as empty ciphertext
            continue;
        }
        const auto* bytes = value_or_checked_error(decoded);
        FUZZ_CHECK(bytes != nullptr);
        FUZZ_CHECK(*bytes == input);
    }
    const auto from_array = ocean::signed_byte_array_to_bytes(array);
    FUZZ_CHECK(std::get<std::string>(from_array) == input);
    const auto block_json = ocean::encrypted_block_json(ocean::EncryptedBlock{b64, iv_b64});
    const auto block = ocean::parse_encrypted_block(block_json);
    FUZZ_CHECK(std::get<ocean::EncryptedBlock>(block) == (ocean::EncryptedBlock{b64, iv_b64}));
    const auto array_block =
        ocean::parse_encrypted_block("{\"iv\":\"" + iv_b64 + "\",\"data\":" + array + "}");
    FUZZ_CHECK(std::get<ocean::EncryptedBlock>(array_block).data_b64 == b64);

    // -- the input as wire text: decoders and the {data, iv} block parser
    const auto decoded = ocean::decode_ciphertext(input);
    if (const auto* bytes = value_or_checked_error(decoded)) {
        FUZZ_CHECK(bytes->size() <= size);
        const auto again = ocean::ciphertext_to_base64(input);
        FUZZ_CHECK(std::get<std::string>(again) == relay::base64_encode(*bytes));
        check_decrypt(ocean::aes_cbc_decrypt(kOneTimeKey, iv(), *bytes), bytes->size());
    }
    checked(ocean::signed_byte_array_to_bytes(input));
    const auto parsed_block = ocean::parse_encrypted_block(input);
    if (const auto* parsed = value_or_checked_error(parsed_block)) {
        checked(ocean::decrypt_block(kOneTimeKey, *parsed));
        checked(ocean::unwrap_one_time_key(kSek, *parsed));
    }

    // -- the input as key material
    const auto sek_key_of_input = ocean::sek_key_bytes(input);
    if (const auto* key = value_or_checked_error(sek_key_of_input)) {
        FUZZ_CHECK(size >= 1 && size <= ocean::kMaxSekBytes);
        FUZZ_CHECK(key->size() == 16 || key->size() == 24 || key->size() == 32);
        FUZZ_CHECK(key->starts_with(input));
        const auto wrapped = ocean::wrap_one_time_key(input, kOneTimeKey);
        const auto* w = value_or_checked_error(wrapped);
        FUZZ_CHECK(w != nullptr);
        FUZZ_CHECK(std::get<std::string>(ocean::unwrap_one_time_key(input, *w)) == kOneTimeKey);
    } else {
        FUZZ_CHECK(size == 0 || size > ocean::kMaxSekBytes);
    }
    checked(ocean::unwrap_one_time_key(input, ocean::EncryptedBlock{wrapped_otk, iv_b64}));
    if (size == 16 || size == 24 || size == 32) {
        const auto ct = ocean::aes_cbc_encrypt(input, iv(), kSek);
        FUZZ_CHECK(std::get<std::string>(ocean::aes_cbc_decrypt(input, iv(), std::get<std::string>(ct))) ==
                   kSek);
    } else {
        FUZZ_CHECK(!checked(ocean::aes_cbc_decrypt(input, iv(), std::string(32, 'x'))));
    }
    if (size >= 16) {
        // The first 16 bytes as an IV.
        checked(ocean::aes_cbc_decrypt(kOneTimeKey, input.substr(0, 16), input.substr(16)));
    }

    // -- the input as plaintext: encryption round-trips
    const auto ct = ocean::aes_cbc_encrypt(kOneTimeKey, iv(), input);
    const std::string& ciphertext = std::get<std::string>(ct);
    FUZZ_CHECK(ciphertext.size() == (size / 16 + 1) * 16);
    FUZZ_CHECK(std::get<std::string>(ocean::aes_cbc_decrypt(kOneTimeKey, iv(), ciphertext)) == input);
    const auto sealed_input = ocean::seal(kSek, input, ocean::HeaderLayout::kSeparateKeyIv);
    FUZZ_CHECK(std::get<std::string>(ocean::open(kSek, std::get<ocean::EncryptedPayload>(sealed_input))) ==
               input);
    return 0;
}
