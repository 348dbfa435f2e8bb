// kafka::AtRest: sealing and opening record values, checked against an independent AES-256-GCM
// implementation (Python's `cryptography`, run as a separate process) in both directions.
#include "relay/kafka/at_rest.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <variant>

#include "relay/core/config.hpp"
#include "relay/core/encoding.hpp"

namespace relay::kafka {
namespace {

// 32 bytes: 00 01 02 ... 1f, as hex and as base64.
const std::string kKeyHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const std::string kKeyB64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const std::string kOtherKeyB64 = "HxsdHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=";

AtRest make(std::vector<std::pair<std::string, std::string>> keys,
            std::string seal_with = "",
            std::vector<std::string> topics = {"*"}) {
    std::vector<AtRest::Key> list;
    for (auto& [id, material] : keys) list.push_back({id, Secret::from_value(material)});
    return AtRest(std::move(list), std::move(seal_with), std::move(topics), "kafka.at_rest");
}

std::string sealed_or_fail(const AtRest& at_rest, std::string_view plaintext) {
    auto sealed = at_rest.seal(plaintext);
    if (auto* e = std::get_if<Error>(&sealed)) ADD_FAILURE() << e->message;
    return std::get<std::string>(sealed);
}

std::string run(const std::string& command) {
    std::string out;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) return out;
    char buffer[4096];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
    const int status = ::pclose(pipe);
    if (status != 0) out = "exit status " + std::to_string(status) + ": " + out;
    return out;
}

bool python_cryptography_available() {
    return std::system("python3 -c 'import cryptography.hazmat.primitives.ciphers.aead' >/dev/null 2>&1") == 0;
}

TEST(KafkaAtRest, SealsAndOpensWithEitherKeySpelling) {
    const AtRest hex = make({{"k1", kKeyHex}});
    const AtRest b64 = make({{"k1", kKeyB64 + "\n"}});
    const std::string plaintext = R"({"resourceType":"Patient","name":[{"family":"Example"}]})";
    const std::string sealed = sealed_or_fail(hex, plaintext);
    EXPECT_EQ(sealed.size(), plaintext.size() + AtRest::kOverheadBytes);
    EXPECT_EQ(sealed.find("Example"), std::string::npos);
    auto opened = b64.open("k1", sealed);
    ASSERT_TRUE(std::holds_alternative<std::string>(opened)) << std::get<Error>(opened).message;
    EXPECT_EQ(std::get<std::string>(opened), plaintext);
}

TEST(KafkaAtRest, EverySealUsesAFreshNonce) {
    const AtRest at_rest = make({{"k1", kKeyB64}});
    EXPECT_NE(sealed_or_fail(at_rest, "same"), sealed_or_fail(at_rest, "same"));
}

TEST(KafkaAtRest, EmptyPlaintextRoundTrips) {
    const AtRest at_rest = make({{"k1", kKeyB64}});
    auto opened = at_rest.open("k1", sealed_or_fail(at_rest, ""));
    ASSERT_TRUE(std::holds_alternative<std::string>(opened));
    EXPECT_EQ(std::get<std::string>(opened), "");
}

TEST(KafkaAtRest, TamperedTruncatedOrForeignValuesDoNotOpen) {
    const AtRest at_rest = make({{"k1", kKeyB64}, {"k2", kOtherKeyB64}});
    const std::string sealed = sealed_or_fail(at_rest, "patient data");
    for (std::size_t i = 0; i < sealed.size(); ++i) {
        std::string tampered = sealed;
        tampered[i] = static_cast<char>(tampered[i] ^ 0x01);
        auto opened = at_rest.open("k1", tampered);
        ASSERT_TRUE(std::holds_alternative<Error>(opened)) << "byte " << i;
        EXPECT_EQ(std::get<Error>(opened).kind, ErrorKind::kPermanent);
        EXPECT_EQ(std::get<Error>(opened).message.find("patient"), std::string::npos);
    }
    EXPECT_TRUE(std::holds_alternative<Error>(at_rest.open("k1", sealed.substr(0, AtRest::kOverheadBytes - 1))));
    EXPECT_TRUE(std::holds_alternative<Error>(at_rest.open("k1", "")));
    // The key id is bound: the same bytes presented under the other key's id fail.
    EXPECT_TRUE(std::holds_alternative<Error>(at_rest.open("k2", sealed)));
    auto unknown = at_rest.open("k9", sealed);
    ASSERT_TRUE(std::holds_alternative<Error>(unknown));
    EXPECT_NE(std::get<Error>(unknown).message.find("k9"), std::string::npos);
    // A malformed id from a foreign record is not repeated.
    auto odd = at_rest.open("<script>", sealed);
    ASSERT_TRUE(std::holds_alternative<Error>(odd));
    EXPECT_EQ(std::get<Error>(odd).message.find("<script>"), std::string::npos);
}

TEST(KafkaAtRest, RotationSealsWithTheNamedKeyAndOpensWithEvery) {
    const AtRest old_only = make({{"2026a", kKeyB64}});
    const AtRest rotated = make({{"2026a", kKeyB64}, {"2026b", kOtherKeyB64}}, "2026b");
    EXPECT_EQ(old_only.seal_key_id(), "2026a");
    EXPECT_EQ(rotated.seal_key_id(), "2026b");
    const std::string before = sealed_or_fail(old_only, "written before the rotation");
    auto opened = rotated.open("2026a", before);
    ASSERT_TRUE(std::holds_alternative<std::string>(opened));
    EXPECT_EQ(std::get<std::string>(opened), "written before the rotation");
    const std::string after = sealed_or_fail(rotated, "after");
    EXPECT_TRUE(std::holds_alternative<Error>(old_only.open("2026b", after)));
    EXPECT_TRUE(std::holds_alternative<std::string>(rotated.open("2026b", after)));
}

TEST(KafkaAtRest, TopicPatterns) {
    const AtRest some = make({{"k1", kKeyB64}}, "", {"relay.deliveries.v1", "relay.deliveries.retry.*", "x*"});
    EXPECT_TRUE(some.seals("relay.deliveries.v1"));
    EXPECT_TRUE(some.seals("relay.deliveries.retry.30s"));
    EXPECT_TRUE(some.seals("xanything"));
    EXPECT_FALSE(some.seals("relay.deliveries.v1.extra"));
    EXPECT_FALSE(some.seals("ocean.inbound.v1"));
    const AtRest all = make({{"k1", kKeyB64}});
    EXPECT_TRUE(all.seals("ocean.inbound.v1"));
}

TEST(KafkaAtRest, ConfigurationMistakesNameTheKeyAndNeverTheSecret) {
    auto message = [](auto&& f) -> std::string {
        try {
            f();
        } catch (const ConfigError& e) {
            return e.what();
        }
        return "no error";
    };
    EXPECT_NE(message([] { make({}); }).find("kafka.at_rest.keys"), std::string::npos);
    const std::string short_key = message([] { make({{"k1", "c2hvcnQta2V5LXZhbHVl"}}); });
    EXPECT_NE(short_key.find("kafka.at_rest.keys[0].key"), std::string::npos);
    EXPECT_EQ(short_key.find("c2hvcnQta2V5LXZhbHVl"), std::string::npos);
    EXPECT_NE(message([] { make({{"bad id", kKeyB64}}); }).find("keys[0].id"), std::string::npos);
    EXPECT_NE(message([] { make({{"k1", kKeyB64}, {"k1", kOtherKeyB64}}); }).find("keys[1].id"), std::string::npos);
    EXPECT_NE(message([] { make({{"k1", kKeyB64}}, "k2"); }).find("seal_with"), std::string::npos);
    EXPECT_NE(message([] { make({{"k1", kKeyB64}}, "", {""}); }).find("topics"), std::string::npos);
}

// An independent implementation opens what we seal, and we open what it seals: the format is what the
// header comment says, not just what this code happens to round-trip.
TEST(KafkaAtRest, MatchesAnIndependentAesGcm) {
    ASSERT_TRUE(python_cryptography_available()) << "python3-cryptography is missing: scripts/install-deps.sh --test";
    const AtRest at_rest = make({{"k1", kKeyB64}});
    const std::string plaintext = "at-rest known answer \xe2\x9c\x93";
    const std::string sealed_b64 = base64_encode(sealed_or_fail(at_rest, plaintext));
    const std::string script =
        "import base64,sys\n"
        "from cryptography.hazmat.primitives.ciphers.aead import AESGCM\n"
        "key=bytes(range(32)); aad=b'ocean-relay/at-rest/v1/k1'\n"
        "v=base64.b64decode(sys.argv[1]); assert v[0]==1\n"
        "sys.stdout.write(base64.b64encode(AESGCM(key).decrypt(v[1:13],v[13:],aad)).decode()+' ')\n"
        "n=bytes(12*[7]); c=AESGCM(key).encrypt(n,'sealed by python'.encode(),aad)\n"
        "sys.stdout.write(base64.b64encode(b'\\x01'+n+c).decode())\n";
    const std::string path = ::testing::TempDir() + "/at_rest_check.py";
    std::ofstream(path) << script;
    const std::string out = run("python3 " + path + " " + sealed_b64);
    const auto space = out.find(' ');
    ASSERT_NE(space, std::string::npos) << out;
    EXPECT_EQ(base64_decode(out.substr(0, space)).value_or("?"), plaintext);
    auto theirs = base64_decode(out.substr(space + 1));
    ASSERT_TRUE(theirs.has_value()) << out;
    auto opened = at_rest.open("k1", *theirs);
    ASSERT_TRUE(std::holds_alternative<std::string>(opened)) << std::get<Error>(opened).message;
    EXPECT_EQ(std::get<std::string>(opened), "sealed by python");
}

}  // namespace
}  // namespace relay::kafka
