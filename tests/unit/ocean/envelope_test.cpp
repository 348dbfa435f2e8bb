// The two-layer envelope: seal/open with both header layouts, and the Referral JSON {data, iv} blocks.

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "relay/core/encoding.hpp"
#include "relay/ocean/crypto.hpp"
#include "test_util.hpp"

namespace relay::ocean {
namespace {

using testing::error;
using testing::failed_permanently;
using testing::pattern_bytes;
using testing::succeeded;
using testing::value;

constexpr std::string_view kSek = "S3cr3tSEK-demo";

// ---- seal / open round trips -----------------------------------------------------------------------

struct EnvelopeCase {
    HeaderLayout layout;
    std::size_t size;
    std::string_view sek;
};

class EnvelopeRoundTrip : public ::testing::TestWithParam<EnvelopeCase> {};

TEST_P(EnvelopeRoundTrip, OpenInvertsSeal) {
    const auto& [layout, size, sek] = GetParam();
    const std::string plaintext = pattern_bytes(size, static_cast<unsigned>(size));
    auto sealed = seal(sek, plaintext, layout);
    ASSERT_TRUE(succeeded(sealed));
    const EncryptedPayload& p = value(sealed);
    EXPECT_EQ(layout_of(p), layout);

    // Shapes on the wire: 16-byte IVs, the 16-byte OTK wrapped into two blocks, a padded body.
    EXPECT_EQ(base64_decode(p.iv_b64)->size(), kIvBytes);
    EXPECT_EQ(base64_decode(p.one_time_key_b64)->size(), 32u);
    EXPECT_EQ(base64_decode(p.ciphertext_b64)->size(), (size / 16 + 1) * 16);
    if (layout == HeaderLayout::kSeparateKeyIv) {
        EXPECT_EQ(base64_decode(p.one_time_key_iv_b64)->size(), kIvBytes);
        EXPECT_NE(p.one_time_key_iv_b64, p.iv_b64);
    } else {
        EXPECT_TRUE(p.one_time_key_iv_b64.empty());
    }

    auto opened = open(sek, p);
    ASSERT_TRUE(succeeded(opened));
    EXPECT_TRUE(value(opened) == plaintext);
    auto opened_explicit = open(sek, p, layout);
    ASSERT_TRUE(succeeded(opened_explicit));
    EXPECT_TRUE(value(opened_explicit) == plaintext);
}

std::vector<EnvelopeCase> envelope_cases() {
    std::vector<EnvelopeCase> cases;
    for (auto layout : {HeaderLayout::kSharedIv, HeaderLayout::kSeparateKeyIv}) {
        for (std::size_t size : {0u, 1u, 15u, 16u, 17u, 4096u, 1u << 20})
            cases.push_back({layout, size, kSek});
        cases.push_back({layout, 100, "abcdefghijklmnopqrst"});              // AES-192 SEK [P]
        cases.push_back({layout, 100, "abcdefghijklmnopqrstuvwxyz012345"});  // AES-256 SEK
    }
    return cases;
}

INSTANTIATE_TEST_SUITE_P(LayoutsAndSizes,
                         EnvelopeRoundTrip,
                         ::testing::ValuesIn(envelope_cases()),
                         [](const ::testing::TestParamInfo<EnvelopeCase>& info) {
                             return std::string(to_string(info.param.layout)) + "_" +
                                    std::to_string(info.param.size) + "_bytes_sek" +
                                    std::to_string(info.param.sek.size());
                         });

TEST(Seal, UsesFreshKeysAndIvsEachTime) {
    std::set<std::string> ivs, keys, bodies;
    for (int i = 0; i < 20; ++i) {
        auto sealed = seal(kSek, "same plaintext", HeaderLayout::kSeparateKeyIv);
        ASSERT_TRUE(succeeded(sealed));
        ivs.insert(value(sealed).iv_b64);
        ivs.insert(value(sealed).one_time_key_iv_b64);
        keys.insert(value(sealed).one_time_key_b64);
        bodies.insert(value(sealed).ciphertext_b64);
    }
    EXPECT_EQ(ivs.size(), 40u);
    EXPECT_EQ(keys.size(), 20u);
    EXPECT_EQ(bodies.size(), 20u);
}

TEST(Seal, RefusesAnUnusableSek) {
    EXPECT_TRUE(failed_permanently(seal("", "x", HeaderLayout::kSharedIv)));
    EXPECT_TRUE(failed_permanently(seal(std::string(33, 's'), "x", HeaderLayout::kSeparateKeyIv)));
}

// ---- open: refusals --------------------------------------------------------------------------------

TEST(Open, ExplicitLayoutMustMatchTheHeaders) {
    auto shared = seal(kSek, "payload", HeaderLayout::kSharedIv);
    auto separate = seal(kSek, "payload", HeaderLayout::kSeparateKeyIv);
    ASSERT_TRUE(succeeded(shared));
    ASSERT_TRUE(succeeded(separate));

    auto missing = open(kSek, value(shared), HeaderLayout::kSeparateKeyIv);
    ASSERT_TRUE(failed_permanently(missing));
    EXPECT_NE(error(missing).message.find("oneTimeKeyIv"), std::string::npos);
    auto unexpected = open(kSek, value(separate), HeaderLayout::kSharedIv);
    ASSERT_TRUE(failed_permanently(unexpected));
    EXPECT_NE(error(unexpected).message.find("oneTimeKeyIv"), std::string::npos);
}

TEST(Open, DroppingTheSeparateKeyIvDoesNotYieldThePlaintext) {
    // A notes response whose oneTimeKeyIv header got lost: the inferred layout uses `iv` for the OTK,
    // which unwraps a wrong key; the result must be an error (or, improbably, other bytes), never a crash.
    for (int i = 0; i < 20; ++i) {
        auto sealed = seal(kSek, R"({"progressNote":{}})", HeaderLayout::kSeparateKeyIv);
        ASSERT_TRUE(succeeded(sealed));
        EncryptedPayload p = value(sealed);
        p.one_time_key_iv_b64.clear();
        auto opened = open(kSek, p);
        if (std::holds_alternative<std::string>(opened)) {
            EXPECT_NE(value(opened), R"({"progressNote":{}})");
        }
    }
}

TEST(Open, WrongSekIsAnErrorValue) {
    int refused = 0;
    for (int i = 0; i < 50; ++i) {
        auto sealed =
            seal(kSek, R"({"ref":"690"})", i % 2 ? HeaderLayout::kSharedIv : HeaderLayout::kSeparateKeyIv);
        ASSERT_TRUE(succeeded(sealed));
        auto opened = open("S3cr3tSEK-dem0", value(sealed));
        if (std::holds_alternative<Error>(opened)) {
            ++refused;
            EXPECT_EQ(error(opened).kind, ErrorKind::kPermanent);
            EXPECT_NE(error(opened).message.find("one-time key"), std::string::npos) << error(opened).message;
        } else {
            EXPECT_NE(value(opened), R"({"ref":"690"})");
        }
    }
    EXPECT_GE(refused, 48);
}

TEST(Open, MalformedHeadersAreNamedInTheError) {
    auto sealed = seal(kSek, "payload", HeaderLayout::kSeparateKeyIv);
    ASSERT_TRUE(succeeded(sealed));
    const EncryptedPayload good = value(sealed);

    struct Case {
        std::string_view name;
        void (*mutate)(EncryptedPayload&);
        std::string_view expected;
    };
    const Case cases[] = {
        {"iv missing", [](EncryptedPayload& p) { p.iv_b64.clear(); }, "iv header is missing"},
        {"iv not base64",
         [](EncryptedPayload& p) { p.iv_b64 = "not base64!"; },
         "iv header is not valid base64"},
        {"iv too short",
         [](EncryptedPayload& p) { p.iv_b64 = base64_encode("short"); },
         "iv header must decode to 16"},
        {"key iv too long",
         [](EncryptedPayload& p) { p.one_time_key_iv_b64 = base64_encode(std::string(17, 'x')); },
         "oneTimeKeyIv header must decode to 16"},
        {"key missing",
         [](EncryptedPayload& p) { p.one_time_key_b64.clear(); },
         "oneTimeKey header is missing"},
        {"key not blocks",
         [](EncryptedPayload& p) { p.one_time_key_b64 = base64_encode("0123456789"); },
         "multiple of 16"},
        {"body missing", [](EncryptedPayload& p) { p.ciphertext_b64.clear(); }, "body is missing"},
        {"body is an array",
         [](EncryptedPayload& p) { p.ciphertext_b64 = "[1,2,3]"; },
         "body is not valid base64"},
        {"body truncated",
         [](EncryptedPayload& p) {
             p.ciphertext_b64 = base64_encode(base64_decode(p.ciphertext_b64)->substr(0, 8));
         },
         "body does not decrypt"},
    };
    for (const auto& c : cases) {
        EncryptedPayload p = good;
        c.mutate(p);
        auto opened = open(kSek, p);
        ASSERT_TRUE(failed_permanently(opened)) << c.name;
        EXPECT_NE(error(opened).message.find(c.expected), std::string::npos)
            << c.name << ": " << error(opened).message;
    }
}

TEST(Open, OneTimeKeyOfAnOddLengthIsRefused) {
    // A "one-time key" that decrypts cleanly under the SEK but is 10 bytes long cannot be an AES key.
    const std::string sek_key = std::get<std::string>(sek_key_bytes(kSek));
    const std::string iv(16, '\x01');
    auto wrapped = aes_cbc_encrypt(sek_key, iv, "0123456789");
    ASSERT_TRUE(succeeded(wrapped));
    EncryptedPayload p;
    p.iv_b64 = base64_encode(iv);
    p.one_time_key_b64 = base64_encode(value(wrapped));
    p.ciphertext_b64 = base64_encode(std::string(16, 'c'));
    auto opened = open(kSek, p, HeaderLayout::kSharedIv);
    ASSERT_TRUE(failed_permanently(opened));
    EXPECT_NE(error(opened).message.find("10 bytes"), std::string::npos) << error(opened).message;
}

TEST(Open, AcceptsA32ByteOneTimeKey) {  // [P] any AES key length is usable
    const std::string sek_key = std::get<std::string>(sek_key_bytes(kSek));
    const std::string otk = pattern_bytes(32, 9);
    const std::string iv = pattern_bytes(16, 10);
    auto wrapped = aes_cbc_encrypt(sek_key, iv, otk);
    auto body = aes_cbc_encrypt(otk, iv, "hello");
    ASSERT_TRUE(succeeded(wrapped));
    ASSERT_TRUE(succeeded(body));
    auto opened = open(
        kSek,
        EncryptedPayload{base64_encode(value(body)), base64_encode(iv), base64_encode(value(wrapped)), ""});
    ASSERT_TRUE(succeeded(opened));
    EXPECT_EQ(value(opened), "hello");
}

// ---- {data, iv} blocks -----------------------------------------------------------------------------

TEST(Blocks, SealAndOpenReferralBlocks) {
    const std::string pt_data = R"({"demographics":{"firstName":"Test","surname":"Patient"}})";
    auto sealed = seal_blocks(kSek, pt_data);
    ASSERT_TRUE(succeeded(sealed));
    EXPECT_NE(value(sealed).one_time_key.iv_b64, value(sealed).data.iv_b64);
    auto opened = open_blocks(kSek, value(sealed));
    ASSERT_TRUE(succeeded(opened));
    EXPECT_EQ(value(opened), pt_data);
}

TEST(Blocks, OneOneTimeKeyServesSeveralBlocks) {
    // A referral's messages and attachments share the OTK of its encryptedPtData.
    auto otk = generate_one_time_key();
    ASSERT_TRUE(succeeded(otk));
    auto wrapped = wrap_one_time_key(kSek, value(otk));
    auto msg = encrypt_block(value(otk), "message text");
    auto attachment = encrypt_block(value(otk), pattern_bytes(5000));
    ASSERT_TRUE(succeeded(wrapped));
    ASSERT_TRUE(succeeded(msg));
    ASSERT_TRUE(succeeded(attachment));

    auto unwrapped = unwrap_one_time_key(kSek, value(wrapped));
    ASSERT_TRUE(succeeded(unwrapped));
    EXPECT_EQ(value(unwrapped), value(otk));
    auto msg_plain = decrypt_block(value(unwrapped), value(msg));
    auto attachment_plain = decrypt_block(value(unwrapped), value(attachment));
    ASSERT_TRUE(succeeded(msg_plain));
    ASSERT_TRUE(succeeded(attachment_plain));
    EXPECT_EQ(value(msg_plain), "message text");
    EXPECT_TRUE(value(attachment_plain) == pattern_bytes(5000));
}

TEST(Blocks, WrapRefusesANonAesOneTimeKey) {
    EXPECT_TRUE(failed_permanently(wrap_one_time_key(kSek, "short")));
    EXPECT_TRUE(failed_permanently(wrap_one_time_key("", std::string(16, 'k'))));
}

TEST(Blocks, UnwrapWithWrongSekIsAnError) {
    auto wrapped = wrap_one_time_key(kSek, std::string(16, 'k'));
    ASSERT_TRUE(succeeded(wrapped));
    auto r = unwrap_one_time_key("another-sek", value(wrapped));
    if (std::holds_alternative<std::string>(r)) {
        EXPECT_NE(value(r), std::string(16, 'k'));
    }
    EXPECT_TRUE(failed_permanently(unwrap_one_time_key(kSek, EncryptedBlock{"", value(wrapped).iv_b64})));
    EXPECT_TRUE(
        failed_permanently(unwrap_one_time_key(kSek, EncryptedBlock{value(wrapped).data_b64, "AAAA"})));
}

TEST(Blocks, JsonRoundTrip) {
    const EncryptedBlock block{"G2zkV5Oe+/==", "ICEiIyQlJicoKSorLC0uLw=="};
    const std::string json = encrypted_block_json(block);
    EXPECT_EQ(json, R"({"data":"G2zkV5Oe+/==","iv":"ICEiIyQlJicoKSorLC0uLw=="})");
    auto parsed = parse_encrypted_block(json);
    ASSERT_TRUE(succeeded(parsed));
    EXPECT_EQ(value(parsed), block);
}

TEST(Blocks, JsonDataMayBeASignedByteArray) {
    auto parsed =
        parse_encrypted_block(R"({"iv":"AAECAwQFBgcICQoLDA0ODw==","data":[-1, 0, 127, -128], "x":1})");
    ASSERT_TRUE(succeeded(parsed));
    EXPECT_EQ(value(parsed).data_b64, base64_encode(std::string("\xff\x00\x7f\x80", 4)));
    EXPECT_EQ(value(parsed).iv_b64, "AAECAwQFBgcICQoLDA0ODw==");
}

TEST(Blocks, JsonRefusals) {
    for (std::string_view bad : {R"(not json)",
                                 R"([1,2])",
                                 R"({"data":"AAAA"})",
                                 R"({"iv":"AAAA"})",
                                 R"({"data":1,"iv":"AAAA"})",
                                 R"({"data":"AAAA","iv":[1,2]})",
                                 R"({"data":[1,2,300],"iv":"AAAA"})"}) {
        EXPECT_TRUE(failed_permanently(parse_encrypted_block(bad))) << bad;
    }
}

}  // namespace
}  // namespace relay::ocean
