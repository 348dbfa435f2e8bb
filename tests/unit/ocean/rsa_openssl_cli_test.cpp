// The RSA path against an independent implementation: the `openssl` command-line tool generates the
// site key, spells out its components (which the test, not the code under test, turns into JSBN JSON),
// RSA-wraps one-time keys and AES-encrypts the key document under the SEK; our code must open all of
// it, and the CLI must open what our code wraps. Skipped when `openssl` is not on PATH. Files go to a
// private directory under the system temp directory, as in openssl_cli_test.cpp.

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>

#include "relay/core/encoding.hpp"
#include "relay/ocean/crypto.hpp"
#include "relay/ocean/rsa.hpp"
#include "cli_util.hpp"
#include "test_util.hpp"

namespace relay::ocean {
namespace {

using testing::failed_permanently;
using testing::from_hex;
using testing::succeeded;
using testing::value;
using testing::openssl_on_path;
using testing::read_file;
using testing::ScratchDir;
using testing::write_file;


/// Runs an openssl command line (paths are ours, under the temp directory: no shell metacharacters).
/// Its stderr goes to the test log.
bool run(const std::string& args) {
    const std::string cmd = "openssl " + args;
    return std::system(cmd.c_str()) == 0;
}

/// JSBN's BigInteger.toString(16): lower case, no leading zeros.
std::string jsbn_style(std::string hex) {
    for (auto& c : hex) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const auto first = hex.find_first_not_of('0');
    return first == std::string::npos ? "0" : hex.substr(first);
}

/// The key's components as `openssl rsa -text -noout` prints them, keyed by JSBN's names. Parsed here,
/// by the test, so the code under test never sees anything but JSON.
std::map<std::string, std::string> cli_components(const std::string& key_file, const ScratchDir& dir) {
    const std::string text_file = dir.file("key.txt");
    EXPECT_TRUE(run("rsa -in '" + key_file + "' -text -noout -out '" + text_file + "'"));
    const std::map<std::string, std::string> names{{"modulus", "n"},
                                                   {"privateExponent", "d"},
                                                   {"prime1", "p"},
                                                   {"prime2", "q"},
                                                   {"exponent1", "dmp1"},
                                                   {"exponent2", "dmq1"},
                                                   {"coefficient", "coeff"}};
    std::map<std::string, std::string> out;
    std::istringstream in(read_file(text_file));
    std::string line;
    std::string current;
    while (std::getline(in, line)) {
        if (line.starts_with("publicExponent:")) {
            // publicExponent: 65537 (0x10001)
            const auto open = line.find("(0x");
            out["e"] = jsbn_style(line.substr(open + 3, line.find(')') - open - 3));
            current.clear();
        } else if (!line.empty() && line[0] != ' ') {
            const auto it = names.find(line.substr(0, line.find(':')));
            current = it == names.end() ? std::string() : it->second;
        } else if (!current.empty()) {
            for (char c : line) {
                if (std::isxdigit(static_cast<unsigned char>(c))) out[current] += c;
            }
        }
    }
    for (auto& [name, hex] : out) hex = jsbn_style(hex);
    EXPECT_EQ(out.size(), 8u) << "could not read every component from openssl's text output";
    return out;
}

std::string jsbn_json(const std::map<std::string, std::string>& c) {
    std::string json = "{";
    for (const char* name : {"n", "e", "d", "p", "q", "dmp1", "dmq1", "coeff"}) {
        if (json.size() > 1) json += ',';
        json += std::string("\"") + name + "\":\"" + c.at(name) + "\"";
    }
    return json + "}";
}

/// A site key made by `openssl genrsa`, with its JSBN JSON built from the CLI's text output.
struct CliKey {
    std::string pem_file;
    std::string json;
    std::map<std::string, std::string> components;
};

CliKey cli_key(const ScratchDir& dir, std::string_view name, int bits) {
    CliKey key;
    key.pem_file = dir.file(std::string(name) + ".pem");
    EXPECT_TRUE(run("genrsa -out '" + key.pem_file + "' " + std::to_string(bits) + " 2>/dev/null"));
    key.components = cli_components(key.pem_file, dir);
    key.json = jsbn_json(key.components);
    return key;
}

/// `openssl pkeyutl -encrypt` of `plaintext` under the key; returns the raw ciphertext.
std::string cli_encrypt(const ScratchDir& dir,
                        const CliKey& key,
                        std::string_view plaintext,
                        std::string_view opts) {
    write_file(dir.file("otk.bin"), plaintext);
    EXPECT_TRUE(run("pkeyutl -encrypt -inkey '" + key.pem_file + "' " + std::string(opts) + " -in '" +
                    dir.file("otk.bin") + "' -out '" + dir.file("otk.enc") + "'"));
    return read_file(dir.file("otk.enc"));
}

constexpr std::string_view kPkcs1 = "-pkeyopt rsa_padding_mode:pkcs1";
constexpr std::string_view kOaepSha256 =
    "-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256";
constexpr std::string_view kOaepSha1 = "-pkeyopt rsa_padding_mode:oaep";

class RsaOpensslCli : public ::testing::Test {
   protected:
    static void SetUpTestSuite() {
        if (!openssl_on_path()) return;
        dir_ = new ScratchDir("ocean_rsa_cli_");
        key_ = new CliKey(cli_key(*dir_, "site", 2048));
    }
    static void TearDownTestSuite() {
        delete key_;
        delete dir_;
        key_ = nullptr;
        dir_ = nullptr;
    }
    void SetUp() override {
        if (!openssl_on_path()) GTEST_SKIP() << "openssl is not on PATH";
    }

    static RsaKey parsed() {
        auto key = parse_jsbn_private_key(key_->json);
        EXPECT_TRUE(succeeded(key));
        return succeeded(key) ? value(key) : RsaKey();
    }

    static ScratchDir* dir_;
    static CliKey* key_;
};

ScratchDir* RsaOpensslCli::dir_ = nullptr;
CliKey* RsaOpensslCli::key_ = nullptr;

TEST_F(RsaOpensslCli, UnwrapsWhatTheCliWrapsWithPkcs1) {
    const RsaKey key = parsed();
    ASSERT_EQ(key.modulus_bits(), 2048u);
    for (std::size_t size : {16u, 24u, 32u}) {
        SCOPED_TRACE("one-time key of " + std::to_string(size) + " bytes");
        const std::string otk = std::get<std::string>(random_bytes(size));
        const std::string ct = cli_encrypt(*dir_, *key_, otk, kPkcs1);
        ASSERT_EQ(ct.size(), 256u);
        auto back = unwrap_one_time_key_rsa(key, base64_encode(ct));
        ASSERT_TRUE(succeeded(back));
        EXPECT_TRUE(value(back) == otk);
    }
}

TEST_F(RsaOpensslCli, UnwrapsHexCiphertextAndTextOneTimeKeys) {  // [P] JSBN's hex, CryptoJS's text
    const RsaKey key = parsed();
    const std::string otk = std::get<std::string>(random_bytes(16));
    // JSBN's RSAKey.encrypt returns hex; BigInteger.toString drops a leading zero digit pair.
    const std::string ct = cli_encrypt(*dir_, *key_, otk, kPkcs1);
    auto from_hex_text = unwrap_one_time_key_rsa(key, hex_encode(ct));
    ASSERT_TRUE(succeeded(from_hex_text));
    EXPECT_TRUE(value(from_hex_text) == otk);
    auto upper = hex_encode(ct);
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    auto from_upper = unwrap_one_time_key_rsa(key, upper);
    ASSERT_TRUE(succeeded(from_upper));
    EXPECT_TRUE(value(from_upper) == otk);

    // The key wrapped as its hex text (CryptoJS's WordArray.toString()) or as base64 text.
    for (const std::string& text : {hex_encode(otk), base64_encode(otk)}) {
        SCOPED_TRACE("plaintext of " + std::to_string(text.size()) + " characters");
        auto back = unwrap_one_time_key_rsa(key, base64_encode(cli_encrypt(*dir_, *key_, text, kPkcs1)));
        ASSERT_TRUE(succeeded(back));
        EXPECT_TRUE(value(back) == otk);
    }
}

TEST_F(RsaOpensslCli, OaepIsSelectable) {
    const RsaKey key = parsed();
    const std::string otk = std::get<std::string>(random_bytes(32));
    const std::pair<std::string_view, RsaPadding> cases[] = {{kOaepSha1, RsaPadding::kOaepSha1},
                                                             {kOaepSha256, RsaPadding::kOaepSha256}};
    for (const auto& [opts, padding] : cases) {
        SCOPED_TRACE(to_string(padding));
        const std::string wrapped = base64_encode(cli_encrypt(*dir_, *key_, otk, opts));
        auto back = unwrap_one_time_key_rsa(key, wrapped, padding);
        ASSERT_TRUE(succeeded(back));
        EXPECT_TRUE(value(back) == otk);
        // Under the default (PKCS#1 v1.5) an OAEP ciphertext is refused, not mis-read.
        EXPECT_TRUE(failed_permanently(unwrap_one_time_key_rsa(key, wrapped)));
    }
}

TEST_F(RsaOpensslCli, TheCliUnwrapsWhatWeWrap) {
    const RsaKey key = parsed();
    const std::pair<std::string_view, RsaPadding> cases[] = {{kPkcs1, RsaPadding::kPkcs1v15},
                                                             {kOaepSha1, RsaPadding::kOaepSha1},
                                                             {kOaepSha256, RsaPadding::kOaepSha256}};
    for (const auto& [opts, padding] : cases) {
        SCOPED_TRACE(to_string(padding));
        const std::string otk = std::get<std::string>(generate_one_time_key());
        auto wrapped = wrap_one_time_key_rsa(key, otk, padding);
        ASSERT_TRUE(succeeded(wrapped));
        const auto ct = base64_decode(value(wrapped));
        ASSERT_TRUE(ct.has_value());
        ASSERT_EQ(ct->size(), 256u);
        write_file(dir_->file("ours.enc"), *ct);
        ASSERT_TRUE(run("pkeyutl -decrypt -inkey '" + key_->pem_file + "' " + std::string(opts) + " -in '" +
                        dir_->file("ours.enc") + "' -out '" + dir_->file("ours.bin") + "'"));
        EXPECT_TRUE(read_file(dir_->file("ours.bin")) == otk);
    }
}

TEST_F(RsaOpensslCli, JsbnJsonRoundTripsInJsbnSpelling) {
    const RsaKey key = parsed();
    auto json = rsa_key_to_jsbn_json(key);
    ASSERT_TRUE(succeeded(json));
    EXPECT_EQ(value(json), key_->json);  // the test's own spelling of the CLI's numbers
}

TEST_F(RsaOpensslCli, TheCliAcceptsAKeyWeGenerateAsJsbn) {
    // Our generated key, through our JSBN JSON, rebuilt as DER by the CLI from an ASN.1 template:
    // checks generate_rsa_key, rsa_key_to_jsbn_json and wrap_one_time_key_rsa against OpenSSL's CLI.
    auto key = generate_rsa_key(2048);
    ASSERT_TRUE(succeeded(key));
    auto json = rsa_key_to_jsbn_json(value(key));
    ASSERT_TRUE(succeeded(json));
    const auto doc = boost::json::parse(value(json)).as_object();
    std::string conf = "asn1=SEQUENCE:rsa_key\n[rsa_key]\nversion=INTEGER:0\n";
    for (const char* name : {"n", "e", "d", "p", "q", "dmp1", "dmq1", "coeff"}) {
        conf += std::string(name) + "=INTEGER:0x" + std::string(doc.at(name).as_string()) + "\n";
    }
    write_file(dir_->file("gen.cnf"), conf);
    ASSERT_TRUE(run("asn1parse -genconf '" + dir_->file("gen.cnf") + "' -out '" + dir_->file("gen.der") +
                    "' -noout"));
    ASSERT_TRUE(run("rsa -inform DER -in '" + dir_->file("gen.der") + "' -check -noout >/dev/null"));

    const std::string otk = std::get<std::string>(generate_one_time_key());
    auto wrapped = wrap_one_time_key_rsa(value(key), otk);
    ASSERT_TRUE(succeeded(wrapped));
    write_file(dir_->file("gen.enc"), *base64_decode(value(wrapped)));
    ASSERT_TRUE(run("pkeyutl -decrypt -keyform DER -inkey '" + dir_->file("gen.der") + "' " +
                    std::string(kPkcs1) + " -in '" + dir_->file("gen.enc") + "' -out '" +
                    dir_->file("gen.bin") + "'"));
    EXPECT_TRUE(read_file(dir_->file("gen.bin")) == otk);
}

/// `openssl enc` of `plaintext` under the padded SEK (spelled out by the caller); returns {body, iv}.
EncryptedBlock cli_encrypt_under_sek(const ScratchDir& dir,
                                     std::string_view padded_sek,
                                     std::string_view plaintext) {
    const std::string iv = std::get<std::string>(random_bytes(kIvBytes));
    write_file(dir.file("keys.json"), plaintext);
    const char* cipher = padded_sek.size() == 16   ? "aes-128-cbc"
                         : padded_sek.size() == 24 ? "aes-192-cbc"
                                                   : "aes-256-cbc";
    EXPECT_TRUE(run(std::string("enc -") + cipher + " -K " + hex_encode(padded_sek) + " -iv " +
                    hex_encode(iv) + " -in '" + dir.file("keys.json") + "' -out '" + dir.file("keys.enc") +
                    "'"));
    return EncryptedBlock{base64_encode(read_file(dir.file("keys.enc"))), base64_encode(iv)};
}

TEST_F(RsaOpensslCli, SitePrivateKeyEndpointObjectForm) {
    const EncryptedBlock body = cli_encrypt_under_sek(*dir_, "S3cr3tSEK-demo00", key_->json);
    auto keys = decrypt_site_private_key("S3cr3tSEK-demo", body.data_b64, body.iv_b64);
    ASSERT_TRUE(succeeded(keys));
    ASSERT_EQ(value(keys).size(), 1u);

    const std::string otk = std::get<std::string>(random_bytes(16));
    auto back = unwrap_one_time_key_rsa(value(keys), base64_encode(cli_encrypt(*dir_, *key_, otk, kPkcs1)));
    ASSERT_TRUE(succeeded(back));
    EXPECT_TRUE(value(back) == otk);

    // The body as a JSON string and as a signed-byte array (ocean-api.md §7) opens the same.
    for (const std::string& form :
         {"\"" + body.data_b64 + "\"", bytes_to_signed_byte_array(*base64_decode(body.data_b64))}) {
        auto again = decrypt_site_private_key("S3cr3tSEK-demo", form, body.iv_b64);
        ASSERT_TRUE(succeeded(again));
        EXPECT_EQ(value(again).size(), 1u);
    }
}

TEST_F(RsaOpensslCli, SitePrivateKeyEndpointListFormTriesEachKey) {  // [P] several keys
    const CliKey second = cli_key(*dir_, "second", 1024);
    const std::string list = "[" + key_->json + "," + second.json + "]";
    const EncryptedBlock body =
        cli_encrypt_under_sek(*dir_, "abcdefghijklmnopqrstuvwxyz012000", list);  // [P] AES-256 SEK
    auto keys = decrypt_site_private_key("abcdefghijklmnopqrstuvwxyz012", body.data_b64, body.iv_b64);
    ASSERT_TRUE(succeeded(keys));
    ASSERT_EQ(value(keys).size(), 2u);
    EXPECT_EQ(value(keys)[0].modulus_bits(), 2048u);
    EXPECT_EQ(value(keys)[1].modulus_bits(), 1024u);

    for (const CliKey* k : std::initializer_list<const CliKey*>{key_, &second}) {
        const std::string otk = std::get<std::string>(random_bytes(16));
        auto back = unwrap_one_time_key_rsa(value(keys), base64_encode(cli_encrypt(*dir_, *k, otk, kPkcs1)));
        ASSERT_TRUE(succeeded(back));
        EXPECT_TRUE(value(back) == otk);
    }
    // The first key of the same size that is not the right one is skipped too.
    const CliKey third = cli_key(*dir_, "third", 1024);
    auto with_third = parse_site_private_keys("[" + third.json + "," + second.json + "]");
    ASSERT_TRUE(succeeded(with_third));
    const std::string otk = std::get<std::string>(random_bytes(24));
    auto back =
        unwrap_one_time_key_rsa(value(with_third), base64_encode(cli_encrypt(*dir_, second, otk, kPkcs1)));
    ASSERT_TRUE(succeeded(back));
    EXPECT_TRUE(value(back) == otk);
}

TEST_F(RsaOpensslCli, WrongKeyTamperedAndTruncatedFailCleanly) {
    const RsaKey key = parsed();
    const std::string otk = std::get<std::string>(random_bytes(16));
    const std::string ct = cli_encrypt(*dir_, *key_, otk, kPkcs1);

    std::string tampered = ct;
    tampered[100] = static_cast<char>(tampered[100] ^ 0x01);
    EXPECT_TRUE(failed_permanently(unwrap_one_time_key_rsa(key, base64_encode(tampered))));

    auto other = generate_rsa_key(2048);
    ASSERT_TRUE(succeeded(other));
    auto wrong = unwrap_one_time_key_rsa(value(other), base64_encode(ct));
    ASSERT_TRUE(failed_permanently(wrong));
    EXPECT_NE(testing::error(wrong).message.find("does not decrypt"), std::string::npos);

    EXPECT_TRUE(failed_permanently(unwrap_one_time_key_rsa(key, base64_encode(ct.substr(0, 128)))));
    EXPECT_TRUE(failed_permanently(unwrap_one_time_key_rsa(key, base64_encode(ct).substr(0, 100))));
    EXPECT_TRUE(failed_permanently(unwrap_one_time_key_rsa(key, base64_encode(ct + "x"))));  // too long
    EXPECT_TRUE(failed_permanently(unwrap_one_time_key_rsa(key, "")));

    // A valid RSA ciphertext of something that is not a one-time key: the error gives the length only.
    auto twenty = unwrap_one_time_key_rsa(
        key, base64_encode(cli_encrypt(*dir_, *key_, "twenty bytes of text", kPkcs1)));
    ASSERT_TRUE(failed_permanently(twenty));
    EXPECT_NE(testing::error(twenty).message.find("20 bytes"), std::string::npos);
    EXPECT_EQ(testing::error(twenty).message.find("twenty"), std::string::npos);

    // The site key document under the wrong SEK, truncated, or with a bad iv.
    const EncryptedBlock body = cli_encrypt_under_sek(*dir_, "S3cr3tSEK-demo00", key_->json);
    EXPECT_TRUE(failed_permanently(decrypt_site_private_key("wrong-SEK", body.data_b64, body.iv_b64)));
    const std::string raw = *base64_decode(body.data_b64);
    EXPECT_TRUE(failed_permanently(decrypt_site_private_key(
        "S3cr3tSEK-demo", base64_encode(raw.substr(0, raw.size() - 16)), body.iv_b64)));
    EXPECT_TRUE(failed_permanently(decrypt_site_private_key(
        "S3cr3tSEK-demo", base64_encode(raw.substr(0, raw.size() - 3)), body.iv_b64)));
    EXPECT_TRUE(failed_permanently(decrypt_site_private_key("S3cr3tSEK-demo", body.data_b64, "")));
    EXPECT_TRUE(failed_permanently(decrypt_site_private_key("S3cr3tSEK-demo", body.data_b64, "AAAA")));
    EXPECT_TRUE(failed_permanently(decrypt_site_private_key("S3cr3tSEK-demo", "", body.iv_b64)));
    for (const std::string& json :
         {std::string("[]"), std::string("\"") + key_->json + "\"", std::string("{}")}) {
        const EncryptedBlock b = cli_encrypt_under_sek(*dir_, "S3cr3tSEK-demo00", json);
        auto r = decrypt_site_private_key("S3cr3tSEK-demo", b.data_b64, b.iv_b64);
        ASSERT_TRUE(failed_permanently(r));
        EXPECT_EQ(testing::error(r).message.find(key_->components.at("n").substr(0, 16)), std::string::npos);
    }
}

}  // namespace
}  // namespace relay::ocean
