// Known-answer vectors computed independently of this library.
//
// Every openssl vector below was produced with the openssl CLI (OpenSSL 3.0, Debian bookworm) by the
// command quoted next to it; copy it into a shell to re-derive the value. Keys are given to the CLI
// as hex: the SEK key is the hex of the '0'-padded SEK text (`printf '%s' 'TestKey100000000' | xxd -p`).
// `openssl enc` uses PKCS#7 padding by default, as CryptoJS does.

#include <gtest/gtest.h>

#include <string>

#include "relay/core/encoding.hpp"
#include "relay/ocean/crypto.hpp"
#include "test_util.hpp"

namespace relay::ocean {
namespace {

using testing::error;
using testing::failed_permanently;
using testing::from_hex;
using testing::succeeded;
using testing::value;

std::string b64(std::string_view text) {
    auto bytes = base64_decode(text);
    EXPECT_TRUE(bytes.has_value()) << "bad base64 in a test vector";
    return bytes.value_or("");
}

/// Checks one single-layer vector both ways: our encryption equals the CLI's bytes, and decryption
/// of the CLI's bytes gives the plaintext back.
void check_single_layer(std::string_view sek,
                        std::string_view key_hex,
                        std::string_view iv_hex,
                        std::string_view plaintext,
                        std::string_view expected_b64) {
    auto key = sek_key_bytes(sek);
    ASSERT_TRUE(succeeded(key));
    ASSERT_EQ(hex_encode(value(key)), key_hex);
    const std::string iv = from_hex(iv_hex);

    auto ct = aes_cbc_encrypt(value(key), iv, plaintext);
    ASSERT_TRUE(succeeded(ct));
    EXPECT_EQ(base64_encode(value(ct)), expected_b64);

    auto pt = aes_cbc_decrypt(value(key), iv, b64(expected_b64));
    ASSERT_TRUE(succeeded(pt));
    EXPECT_EQ(value(pt), plaintext);

    auto via_block = decrypt_block(value(key), EncryptedBlock{std::string(expected_b64), base64_encode(iv)});
    ASSERT_TRUE(succeeded(via_block));
    EXPECT_EQ(value(via_block), plaintext);
}

// ---- single layer, one per key size ----------------------------------------------------------------

TEST(KnownAnswer, Aes128FromAnEightCharacterSek) {
    // key = "TestKey1" padded to "TestKey100000000"
    // clang-format off
    // $ printf '%s' '{"ref":"690"}' | openssl enc -aes-128-cbc -K 546573744b6579313030303030303030 -iv 000102030405060708090a0b0c0d0e0f | base64 -w0
    // clang-format on
    check_single_layer("TestKey1",
                       "546573744b6579313030303030303030",
                       "000102030405060708090a0b0c0d0e0f",
                       R"({"ref":"690"})",
                       "5yPALWit8R5LGC42zMP+SA==");
}

TEST(KnownAnswer, Aes128EmptyPlaintextIsOnePaddingBlock) {
    // clang-format off
    // $ printf '' | openssl enc -aes-128-cbc -K 546573744b6579313030303030303030 -iv 000102030405060708090a0b0c0d0e0f | base64 -w0
    // clang-format on
    check_single_layer("TestKey1",
                       "546573744b6579313030303030303030",
                       "000102030405060708090a0b0c0d0e0f",
                       "",
                       "yCfBmBtzatcVDX4zoDYIww==");
}

TEST(KnownAnswer, Aes192FromATwentyCharacterSek) {  // [P] 17..24 characters pad to 24
    // key = "abcdefghijklmnopqrst" padded to "abcdefghijklmnopqrst0000"
    // clang-format off
    // $ printf '%s' 'Patient Engagement' | openssl enc -aes-192-cbc -K 6162636465666768696a6b6c6d6e6f707172737430303030 -iv 0f0e0d0c0b0a09080706050403020100 | base64 -w0
    // clang-format on
    check_single_layer("abcdefghijklmnopqrst",
                       "6162636465666768696a6b6c6d6e6f707172737430303030",
                       "0f0e0d0c0b0a09080706050403020100",
                       "Patient Engagement",
                       "B6F59ZlC0/I1/ZMa4TIEiOqEz7lc3vZ9X2R/7Ij0820=");
}

TEST(KnownAnswer, Aes256FromATwentySevenCharacterSek) {  // [P] 25..32 characters pad to 32
    // key = "0123456789abcdefghijklmnopq" padded to 32; a 16-byte message gets a full padding block
    // clang-format off
    // $ printf '%s' 'sixteen byte msg' | openssl enc -aes-256-cbc -K 303132333435363738396162636465666768696a6b6c6d6e6f70713030303030 -iv ffeeddccbbaa99887766554433221100 | base64 -w0
    // clang-format on
    check_single_layer("0123456789abcdefghijklmnopq",
                       "303132333435363738396162636465666768696a6b6c6d6e6f70713030303030",
                       "ffeeddccbbaa99887766554433221100",
                       "sixteen byte msg",
                       "DUZqC8JOFKHGCUlUtusLQPTitlVew2Qcaf28aoUl5DI=");
}

// ---- two-layer envelope, notes layout (oneTimeKey + oneTimeKeyIv + iv) ------------------------------
//
// SEK "S3cr3tSEK-demo" -> key "S3cr3tSEK-demo00" = 53336372337453454b2d64656d6f3030
// OTK a0a1a2a3a4a5a6a7a8a9aaabacadaeaf, oneTimeKeyIv 101112131415161718191a1b1c1d1e1f,
// iv 202122232425262728292a2b2c2d2e2f.
//
// clang-format off
// oneTimeKey:
// $ printf 'a0a1a2a3a4a5a6a7a8a9aaabacadaeaf' | xxd -r -p | openssl enc -aes-128-cbc -K 53336372337453454b2d64656d6f3030 -iv 101112131415161718191a1b1c1d1e1f | base64 -w0
// body:
// $ printf '%s' '{"progressNote":{"title":"PHQ-9","text":"Score 4"},"completedForms":{}}' | openssl enc -aes-128-cbc -K a0a1a2a3a4a5a6a7a8a9aaabacadaeaf -iv 202122232425262728292a2b2c2d2e2f | base64 -w0
// clang-format on

constexpr std::string_view kE1Sek = "S3cr3tSEK-demo";
constexpr std::string_view kE1Plain =
    R"({"progressNote":{"title":"PHQ-9","text":"Score 4"},"completedForms":{}})";

EncryptedPayload e1_payload() {
    EncryptedPayload p;
    p.one_time_key_b64 = "v5QmxPFtszs8c/SvIDSwjhuIQ9mYOOYxVwkexDND6vM=";
    p.one_time_key_iv_b64 = base64_encode(from_hex("101112131415161718191a1b1c1d1e1f"));
    p.iv_b64 = base64_encode(from_hex("202122232425262728292a2b2c2d2e2f"));
    p.ciphertext_b64 =
        "G2zkV5OeHK1qgI+"
        "fLkg1CB90VEqU2Ng2kof5K1u2mdDPBKece6yojDqPNY1Lj0fhy13d0W1hKjMMzwuWAjAbQ7O65nDPrzTBOwt0CjZsU2k=";
    return p;
}

TEST(KnownAnswer, EnvelopeNotesLayoutOpens) {
    const EncryptedPayload p = e1_payload();
    EXPECT_EQ(layout_of(p), HeaderLayout::kSeparateKeyIv);
    auto opened = open(kE1Sek, p);
    ASSERT_TRUE(succeeded(opened));
    EXPECT_EQ(value(opened), kE1Plain);
    auto explicit_layout = open(kE1Sek, p, HeaderLayout::kSeparateKeyIv);
    ASSERT_TRUE(succeeded(explicit_layout));
    EXPECT_EQ(value(explicit_layout), kE1Plain);
}

TEST(KnownAnswer, EnvelopeNotesLayoutInnerKeyIsTheOneTimeKey) {
    const EncryptedPayload p = e1_payload();
    auto otk = unwrap_one_time_key(kE1Sek, EncryptedBlock{p.one_time_key_b64, p.one_time_key_iv_b64});
    ASSERT_TRUE(succeeded(otk));
    EXPECT_EQ(hex_encode(value(otk)), "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
}

TEST(KnownAnswer, EnvelopeAsReferralBlocks) {
    // The same vector in Referral JSON shape: oneTimeKeyEncryptedWithSiteSEK + encryptedPtData.
    const EncryptedPayload p = e1_payload();
    const SealedBlocks blocks{{p.one_time_key_b64, p.one_time_key_iv_b64}, {p.ciphertext_b64, p.iv_b64}};
    auto opened = open_blocks(kE1Sek, blocks);
    ASSERT_TRUE(succeeded(opened));
    EXPECT_EQ(value(opened), kE1Plain);

    auto parsed = parse_encrypted_block(encrypted_block_json(blocks.data));
    ASSERT_TRUE(succeeded(parsed));
    EXPECT_EQ(value(parsed), blocks.data);
}

TEST(KnownAnswer, EnvelopeWithWrongSekOrIvIsAnErrorValue) {
    auto wrong_sek = open("S3cr3tSEK-dem0", e1_payload());
    ASSERT_TRUE(failed_permanently(wrong_sek));
    EXPECT_NE(error(wrong_sek).message.find("one-time key"), std::string::npos);

    // The notes layout opened as if it were the patient layout (the OTK decrypted with `iv`).
    EncryptedPayload shared_by_mistake = e1_payload();
    shared_by_mistake.one_time_key_iv_b64.clear();
    EXPECT_TRUE(failed_permanently(open(kE1Sek, shared_by_mistake)));

    // One flipped bit in the last block of the wrapped OTK.
    EncryptedPayload tampered = e1_payload();
    std::string wrapped = b64(tampered.one_time_key_b64);
    wrapped[31] = static_cast<char>(wrapped[31] ^ 0x01);
    tampered.one_time_key_b64 = base64_encode(wrapped);
    EXPECT_TRUE(failed_permanently(open(kE1Sek, tampered)));

    // One flipped bit in the last block of the body.
    tampered = e1_payload();
    std::string body = b64(tampered.ciphertext_b64);
    body[body.size() - 1] = static_cast<char>(body[body.size() - 1] ^ 0x80);
    tampered.ciphertext_b64 = base64_encode(body);
    auto r = open(kE1Sek, tampered);
    ASSERT_TRUE(failed_permanently(r));
    EXPECT_NE(error(r).message.find("body"), std::string::npos);
}

// ---- two-layer envelope, patient layout (oneTimeKey + iv; iv serves both layers) ---------------------
//
// Same SEK; OTK c0ffee00112233445566778899aabbcc; iv 303132333435363738393a3b3c3d3e3f for both layers.
//
// clang-format off
// oneTimeKey:
// $ printf 'c0ffee00112233445566778899aabbcc' | xxd -r -p | openssl enc -aes-128-cbc -K 53336372337453454b2d64656d6f3030 -iv 303132333435363738393a3b3c3d3e3f | base64 -w0
// body:
// $ printf '%s' '{"ref":"690","demographics":{"firstName":"Test","surname":"Patient"}}' | openssl enc -aes-128-cbc -K c0ffee00112233445566778899aabbcc -iv 303132333435363738393a3b3c3d3e3f | base64 -w0
// body as a JSON array of signed bytes (od -td1 prints each byte as a signed decimal):
// $ printf '%s' '{"ref":"690","demographics":{"firstName":"Test","surname":"Patient"}}' | openssl enc -aes-128-cbc -K c0ffee00112233445566778899aabbcc -iv 303132333435363738393a3b3c3d3e3f | od -An -v -td1 | xargs | sed 's/ /,/g; s/^/[/; s/$/]/'
// clang-format on

constexpr std::string_view kE2Plain =
    R"({"ref":"690","demographics":{"firstName":"Test","surname":"Patient"}})";
constexpr std::string_view kE2Body =
    "3WKDeExGDMVPKRBaUJef7cbz5DbVvhkfBodojdLZro76GIU6p49CDQKQ58yOFGdRi1VmYTjREnvxf7U3BH4U2GPqAS4ag0aoqtK0gD5d"
    "82c=";
constexpr std::string_view kE2BodyArray =
    "[-35,98,-125,120,76,70,12,-59,79,41,16,90,80,-105,-97,-19,-58,-13,-28,54,-43,-66,25,31,6,-121,104,-115,-"
    "46,"
    "-39,-82,-114,-6,24,-123,58,-89,-113,66,13,2,-112,-25,-52,-114,20,103,81,-117,85,102,97,56,-47,18,123,-"
    "15,127,"
    "-75,55,4,126,20,-40,99,-22,1,46,26,-125,70,-88,-86,-46,-76,-128,62,93,-13,103]";

EncryptedPayload e2_payload(std::string body_b64) {
    EncryptedPayload p;
    p.ciphertext_b64 = std::move(body_b64);
    p.iv_b64 = base64_encode(from_hex("303132333435363738393a3b3c3d3e3f"));
    p.one_time_key_b64 = "cYlYxDXiL8hiw6yOwkadK9umlzJWBuoPG7X+K687HO4=";
    return p;
}

TEST(KnownAnswer, EnvelopePatientLayoutOpens) {
    const EncryptedPayload p = e2_payload(std::string(kE2Body));
    EXPECT_EQ(layout_of(p), HeaderLayout::kSharedIv);
    auto opened = open(kE1Sek, p);
    ASSERT_TRUE(succeeded(opened));
    EXPECT_EQ(value(opened), kE2Plain);
    auto explicit_layout = open(kE1Sek, p, HeaderLayout::kSharedIv);
    ASSERT_TRUE(succeeded(explicit_layout));
    EXPECT_EQ(value(explicit_layout), kE2Plain);
    // The caller said "notes", but the headers are the patient GET's: refused, not guessed.
    EXPECT_TRUE(failed_permanently(open(kE1Sek, p, HeaderLayout::kSeparateKeyIv)));
}

TEST(KnownAnswer, EnvelopePatientLayoutBodyAsSignedByteArray) {
    auto body = ciphertext_to_base64(kE2BodyArray);
    ASSERT_TRUE(succeeded(body));
    EXPECT_EQ(value(body), kE2Body);
    EXPECT_EQ(bytes_to_signed_byte_array(b64(kE2Body)), kE2BodyArray);

    auto opened = open(kE1Sek, e2_payload(value(body)));
    ASSERT_TRUE(succeeded(opened));
    EXPECT_EQ(value(opened), kE2Plain);
}

TEST(KnownAnswer, EnvelopePatientLayoutBodyAsJsonString) {
    // `await response.json()` on a base64 body yields a JSON string literal.
    auto body = ciphertext_to_base64("\"" + std::string(kE2Body) + "\"\n");
    ASSERT_TRUE(succeeded(body));
    auto opened = open(kE1Sek, e2_payload(value(body)));
    ASSERT_TRUE(succeeded(opened));
    EXPECT_EQ(value(opened), kE2Plain);
}

// ---- CryptoJS compatibility --------------------------------------------------------------------------

TEST(CryptoJsCompatibility, VectorProducedByCryptoJs) {
    // Produced with crypto-js 4.2.0 (npm) under Node 20, keyed exactly as Ocean's sample code keys it (the
    // SEK string '0'-padded to 16 characters, then Utf8.parse), then cross-checked with the openssl CLI.
    // CryptoJS also reproduced the openssl CLI vectors above (16-, 24- and 32-byte keys) byte for byte.
    // clang-format off
    //   const C = require("crypto-js"), H = s => C.enc.Hex.parse(s), B = w => C.enc.Base64.stringify(w);
    //   const pad = s => { while (s.length < 16) s += "0"; return C.enc.Utf8.parse(s); };
    //   const otk = H("5a5b5c5d5e5f60616263646566676869");
    //   B(C.AES.encrypt(otk, pad("Oc3an-SEK-16chr!"), {iv: H("8899aabbccddeeff0011223344556677")}).ciphertext)
    //   B(C.AES.encrypt(C.enc.Utf8.parse('{"note":"Zoë – café ✓"}'), otk, {iv: H("0123456789abcdef0123456789abcdef")}).ciphertext)
    // Cross-check:
    // $ printf '%s' 'eaxAXaBDrIO5QrO+KDCiVzv2gny6DQpYNBsVOeoaXiM=' | base64 -d | openssl enc -d -aes-128-cbc -K 4f6333616e2d53454b2d313663687221 -iv 8899aabbccddeeff0011223344556677 | xxd -p
    // $ printf '%s' 'zsivtgBxU0dhJPyC6ILdzMfUkXS0uWyExvKubfSpQkQ=' | base64 -d | openssl enc -d -aes-128-cbc -K 5a5b5c5d5e5f60616263646566676869 -iv 0123456789abcdef0123456789abcdef
    // clang-format on
    const EncryptedPayload p{
        "zsivtgBxU0dhJPyC6ILdzMfUkXS0uWyExvKubfSpQkQ=",
        base64_encode(from_hex("0123456789abcdef0123456789abcdef")),
        "eaxAXaBDrIO5QrO+KDCiVzv2gny6DQpYNBsVOeoaXiM=",
        base64_encode(from_hex("8899aabbccddeeff0011223344556677")),
    };
    auto opened = open("Oc3an-SEK-16chr!", p);
    ASSERT_TRUE(succeeded(opened));
    // UTF-8 of {"note":"Zoë – café ✓"}, spelled in escapes so the source file's encoding cannot matter.
    EXPECT_EQ(value(opened), "{\"note\":\"Zo\xc3\xab \xe2\x80\x93 caf\xc3\xa9 \xe2\x9c\x93\"}");
}

TEST(CryptoJsCompatibility, OceanLabsAutorouterFixture) {
    // Public fixture from oceanmdlabs/autorouter, server/api/openapi/encryption-util.test.ts (commit
    // 4880ab80b4db3a511ce3b5be3105f1d9c915f881): "CryptoJS AES-CBC with PKCS#7 padding and a 16-character
    // SEK", decrypted there with CryptoJS. Both layers use the same iv (the patient GET layout).
    // Cross-checked with the openssl CLI:
    // clang-format off
    // $ printf '%s' 'ZCg4D4k1F2dDSlkkfIoLKQfq/pa/qUOJHKtd8M/rp+I=' | base64 -d | openssl enc -d -aes-128-cbc -K 546573744b6579312132333435363738 -iv 0f0e0d0c0b0a09080706050403020100 | xxd -p
    //   -> 00112233445566778899aabbccddeeff
    // $ printf '%s' 'mQDoH29JfgfJ2sog9MRa9B3Mfm+P2TsIcXq86M8XbwE7bkKKV+Ff7P/ns/xcHgSy' | base64 -d | openssl enc -d -aes-128-cbc -K 00112233445566778899aabbccddeeff -iv 0f0e0d0c0b0a09080706050403020100
    // clang-format on
    const EncryptedPayload p{
        "mQDoH29JfgfJ2sog9MRa9B3Mfm+P2TsIcXq86M8XbwE7bkKKV+Ff7P/ns/xcHgSy",
        "Dw4NDAsKCQgHBgUEAwIBAA==",
        "ZCg4D4k1F2dDSlkkfIoLKQfq/pa/qUOJHKtd8M/rp+I=",
        "",
    };
    auto otk = unwrap_one_time_key("TestKey1!2345678", EncryptedBlock{p.one_time_key_b64, p.iv_b64});
    ASSERT_TRUE(succeeded(otk));
    EXPECT_EQ(base64_encode(value(otk)), "ABEiM0RVZneImaq7zN3u/w==");
    auto opened = open("TestKey1!2345678", p, HeaderLayout::kSharedIv);
    ASSERT_TRUE(succeeded(opened));
    EXPECT_EQ(value(opened), R"({"ref":"synthetic-ref","status":"test"})");
}

}  // namespace
}  // namespace relay::ocean
