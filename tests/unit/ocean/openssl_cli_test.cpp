// Interoperability with an independent AES implementation: the openssl command-line tool decrypts what
// seal() produces, and we decrypt what it encrypts. Skipped when `openssl` is not on PATH.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "relay/core/encoding.hpp"
#include "relay/ocean/crypto.hpp"
#include "cli_util.hpp"
#include "test_util.hpp"

namespace relay::ocean {
namespace {

using testing::pattern_bytes;
using testing::succeeded;
using testing::value;
using testing::openssl_on_path;
using testing::read_file;
using testing::ScratchDir;
using testing::write_file;


const char* cli_cipher(std::size_t key_bytes) {
    return key_bytes == 16 ? "aes-128-cbc" : key_bytes == 24 ? "aes-192-cbc" : "aes-256-cbc";
}

/// Runs `openssl enc` on files (paths are ours, under the temp directory: no shell metacharacters).
/// Returns false when the CLI fails; its stderr goes to the test log.
bool openssl_enc(
    bool decrypt, std::string_view key, std::string_view iv, const std::string& in, const std::string& out) {
    const std::string cmd = std::string("openssl enc ") + (decrypt ? "-d " : "") + "-" +
                            cli_cipher(key.size()) + " -K " + hex_encode(key) + " -iv " + hex_encode(iv) +
                            " -in '" + in + "' -out '" + out + "'";
    return std::system(cmd.c_str()) == 0;
}

/// Decrypts a sealed payload with the CLI only: unwrap the OTK under `sek_key` (the padded SEK, spelled
/// out by the caller rather than taken from sek_key_bytes, so the check is independent), then the body.
void check_cli_opens(std::string_view sek_key, const EncryptedPayload& p, std::string_view plaintext) {
    ScratchDir dir("ocean_crypto_cli_");
    const std::string iv = *base64_decode(p.iv_b64);
    const std::string otk_iv = p.one_time_key_iv_b64.empty() ? iv : *base64_decode(p.one_time_key_iv_b64);

    write_file(dir.file("otk.enc"), *base64_decode(p.one_time_key_b64));
    ASSERT_TRUE(openssl_enc(true, sek_key, otk_iv, dir.file("otk.enc"), dir.file("otk.bin")));
    const std::string otk = read_file(dir.file("otk.bin"));
    ASSERT_EQ(otk.size(), kOneTimeKeyBytes);

    write_file(dir.file("body.enc"), *base64_decode(p.ciphertext_b64));
    ASSERT_TRUE(openssl_enc(true, otk, iv, dir.file("body.enc"), dir.file("body.txt")));
    EXPECT_TRUE(read_file(dir.file("body.txt")) == plaintext);
}

TEST(OpensslCli, DecryptsSealOutputInBothLayouts) {
    if (!openssl_on_path()) GTEST_SKIP() << "openssl is not on PATH";
    const std::string json = R"({"ref":"690","demographics":{"firstName":"Test","surname":"Patient"}})";
    for (auto layout : {HeaderLayout::kSeparateKeyIv, HeaderLayout::kSharedIv}) {
        const std::pair<std::string_view, std::string_view> seks[] = {
            {"S3cr3tSEK-demo", "S3cr3tSEK-demo00"},
            {"abcdefghijklmnopqrst", "abcdefghijklmnopqrst0000"},                   // [P] AES-192
            {"abcdefghijklmnopqrstuvwxyz012", "abcdefghijklmnopqrstuvwxyz012000"},  // [P] AES-256
            {"abcdefghijklmnopqrstuvwxyz012345", "abcdefghijklmnopqrstuvwxyz012345"},
        };
        for (const auto& [sek, padded] : seks) {
            SCOPED_TRACE(std::string(to_string(layout)) + ", SEK of " + std::to_string(sek.size()) +
                         " bytes");
            auto sealed = seal(sek, json, layout);
            ASSERT_TRUE(succeeded(sealed));
            check_cli_opens(padded, value(sealed), json);
        }
    }
}

TEST(OpensslCli, DecryptsSealOutputOfManySizes) {
    if (!openssl_on_path()) GTEST_SKIP() << "openssl is not on PATH";
    for (std::size_t size : {0u, 1u, 15u, 16u, 17u, 1u << 20}) {
        SCOPED_TRACE("plaintext of " + std::to_string(size) + " bytes");
        const std::string plaintext = pattern_bytes(size, 42);
        auto sealed = seal("TestKey1", plaintext, HeaderLayout::kSeparateKeyIv);
        ASSERT_TRUE(succeeded(sealed));
        check_cli_opens("TestKey100000000", value(sealed), plaintext);
    }
}

TEST(OpensslCli, WeDecryptWhatTheCliEncrypts) {
    if (!openssl_on_path()) GTEST_SKIP() << "openssl is not on PATH";
    ScratchDir dir("ocean_crypto_cli_");
    for (std::size_t key_bytes : {16u, 24u, 32u}) {
        SCOPED_TRACE("key of " + std::to_string(key_bytes) + " bytes");
        const std::string key = std::get<std::string>(random_bytes(key_bytes));
        const std::string iv = std::get<std::string>(random_bytes(kIvBytes));
        const std::string plaintext = pattern_bytes(70001, static_cast<unsigned>(key_bytes));
        write_file(dir.file("plain.bin"), plaintext);
        ASSERT_TRUE(openssl_enc(false, key, iv, dir.file("plain.bin"), dir.file("cipher.bin")));
        const std::string ciphertext = read_file(dir.file("cipher.bin"));
        EXPECT_EQ(ciphertext.size(), (plaintext.size() / 16 + 1) * 16);

        auto ours = aes_cbc_encrypt(key, iv, plaintext);
        ASSERT_TRUE(succeeded(ours));
        EXPECT_TRUE(value(ours) == ciphertext);
        auto back = aes_cbc_decrypt(key, iv, ciphertext);
        ASSERT_TRUE(succeeded(back));
        EXPECT_TRUE(value(back) == plaintext);
    }
}

}  // namespace
}  // namespace relay::ocean
