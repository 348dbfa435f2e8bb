// The RSA path's parsing and error handling (known-answer interop with the openssl CLI is in
// rsa_openssl_cli_test.cpp): JSBN key JSON in its accepted spellings, every malformed or inconsistent
// member refused by name without echoing key material, the list form, and concurrent use of one key.

#include "relay/ocean/rsa.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "relay/core/encoding.hpp"
#include "relay/ocean/crypto.hpp"
#include "test_util.hpp"

namespace relay::ocean {
namespace {

using testing::error;
using testing::failed_permanently;
using testing::succeeded;
using testing::value;

/// One generated key shared by the tests (2048-bit generation is the slow part).
const RsaKey& shared_key() {
    static const RsaKey key = [] {
        auto k = generate_rsa_key(2048);
        return std::holds_alternative<RsaKey>(k) ? std::get<RsaKey>(k) : RsaKey();
    }();
    return key;
}

boost::json::object shared_key_json() {
    auto json = rsa_key_to_jsbn_json(shared_key());
    EXPECT_TRUE(succeeded(json));
    return boost::json::parse(value(json)).as_object();
}

std::string with(boost::json::object obj, std::string_view member, boost::json::value v) {
    obj[member] = std::move(v);
    return boost::json::serialize(obj);
}

std::string with_text(boost::json::object obj, std::string_view member, const std::string& v) {
    return with(std::move(obj), member, boost::json::value(boost::json::string_view(v)));
}

std::string without(boost::json::object obj, std::string_view member) {
    obj.erase(member);
    return boost::json::serialize(obj);
}

/// The error names `member` and carries no key material (no 12-digit run of any member's hex).
void expect_refused(const Result<RsaKey>& r, std::string_view member, const boost::json::object& key) {
    ASSERT_TRUE(failed_permanently(r)) << member;
    const std::string& message = error(r).message;
    EXPECT_NE(message.find("\"" + std::string(member) + "\""), std::string::npos) << message;
    for (const auto& [name, v] : key) {
        const std::string_view hex = v.as_string();
        if (hex.size() >= 12) {
            EXPECT_EQ(message.find(hex.substr(0, 12)), std::string::npos) << message;
        }
    }
}

TEST(Rsa, GeneratedKeyRoundTripsThroughJsbnJson) {
    ASSERT_FALSE(shared_key().empty());
    EXPECT_EQ(shared_key().modulus_bits(), 2048u);
    const auto obj = shared_key_json();
    EXPECT_EQ(obj.at("e").as_string(), "10001");  // JSBN's spelling of 65537
    for (const auto& [name, v] : obj) {
        const std::string_view hex = v.as_string();
        EXPECT_NE(hex.front(), '0') << name;
        EXPECT_EQ(hex.find_first_not_of("0123456789abcdef"), std::string_view::npos) << name;
    }
    auto parsed = parse_jsbn_private_key(boost::json::serialize(obj));
    ASSERT_TRUE(succeeded(parsed));
    auto again = rsa_key_to_jsbn_json(value(parsed));
    ASSERT_TRUE(succeeded(again));
    EXPECT_EQ(boost::json::parse(value(again)).as_object(), obj);

    const std::string otk = std::get<std::string>(generate_one_time_key());
    auto wrapped = wrap_one_time_key_rsa(shared_key(), otk);
    ASSERT_TRUE(succeeded(wrapped));
    EXPECT_EQ(base64_decode(value(wrapped))->size(), 256u);
    auto back = unwrap_one_time_key_rsa(value(parsed), value(wrapped));
    ASSERT_TRUE(succeeded(back));
    EXPECT_TRUE(value(back) == otk);
}

TEST(Rsa, AcceptedSpellings) {
    auto obj = shared_key_json();
    // Upper case, leading zeros, e as a JSON number ([P] a serialised JSBN RSAKey), extra members.
    std::string upper(obj.at("n").as_string());
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    obj["n"] = upper;
    obj["d"] = "000" + std::string(obj.at("d").as_string());
    obj["e"] = 65537;
    obj["kid"] = "rotated-2024";
    auto key = parse_jsbn_private_key(boost::json::serialize(obj));
    ASSERT_TRUE(succeeded(key));
    const std::string otk = std::get<std::string>(generate_one_time_key());
    auto wrapped = wrap_one_time_key_rsa(shared_key(), otk);
    ASSERT_TRUE(succeeded(wrapped));
    auto back = unwrap_one_time_key_rsa(value(key), value(wrapped));
    ASSERT_TRUE(succeeded(back));
    EXPECT_TRUE(value(back) == otk);
}

TEST(Rsa, MalformedMembersAreRefusedByName) {
    const auto obj = shared_key_json();
    for (const char* m : {"n", "e", "d", "p", "q", "dmp1", "dmq1", "coeff"}) {
        SCOPED_TRACE(m);
        expect_refused(parse_jsbn_private_key(without(obj, m)), m, obj);
        expect_refused(parse_jsbn_private_key(with(obj, m, nullptr)), m, obj);
        expect_refused(parse_jsbn_private_key(with(obj, m, "")), m, obj);
        expect_refused(parse_jsbn_private_key(with(obj, m, "xyz")), m, obj);
        expect_refused(
            parse_jsbn_private_key(with_text(obj, m, "-" + std::string(obj.at(m).as_string()))), m, obj);
        expect_refused(
            parse_jsbn_private_key(with_text(obj, m, "0x" + std::string(obj.at(m).as_string()))), m, obj);
        expect_refused(parse_jsbn_private_key(with(obj, m, " 1")), m, obj);
        expect_refused(parse_jsbn_private_key(with(obj, m, "0")), m, obj);
        expect_refused(parse_jsbn_private_key(with(obj, m, boost::json::array{1, 2})), m, obj);
        expect_refused(parse_jsbn_private_key(with_text(obj, m, std::string(5000, 'f'))), m, obj);
    }
    expect_refused(parse_jsbn_private_key(with(obj, "n", 17)), "n", obj);  // only e may be a number
    expect_refused(parse_jsbn_private_key(with(obj, "e", -3)), "e", obj);
}

TEST(Rsa, InconsistentMembersAreRefusedByName) {
    const auto obj = shared_key_json();
    const auto bumped = [&](const char* m) {
        // The last hex digit + 2 (mod 16), keeping parity for e: a different, still well-formed number.
        std::string hex(obj.at(m).as_string());
        auto& c = hex.back();
        const int v = (c <= '9' ? c - '0' : c - 'a' + 10);
        c = "0123456789abcdef"[(v + 2) % 16];
        return with_text(obj, m, hex);
    };
    expect_refused(parse_jsbn_private_key(bumped("n")), "p", obj);  // "p" and "q" do not multiply to n
    expect_refused(parse_jsbn_private_key(bumped("e")), "e", obj);
    expect_refused(parse_jsbn_private_key(bumped("d")), "e", obj);  // "e" and "d" are not inverse
    expect_refused(parse_jsbn_private_key(bumped("p")), "p", obj);
    expect_refused(parse_jsbn_private_key(bumped("dmp1")), "dmp1", obj);
    expect_refused(parse_jsbn_private_key(bumped("dmq1")), "dmq1", obj);
    expect_refused(parse_jsbn_private_key(bumped("coeff")), "coeff", obj);
    expect_refused(parse_jsbn_private_key(with(obj, "e", "10000")), "e", obj);  // even
    expect_refused(parse_jsbn_private_key(with(obj, "e", "1")), "e", obj);

    // Below the minimum modulus size.
    auto small = parse_jsbn_private_key(with(obj, "n", "abcdef"));
    ASSERT_TRUE(failed_permanently(small));
    EXPECT_NE(error(small).message.find("24 bits"), std::string::npos) << error(small).message;
}

TEST(Rsa, DocumentShapes) {  // [P] an object or a list of them
    const std::string one = boost::json::serialize(shared_key_json());
    auto single = parse_site_private_keys(one);
    ASSERT_TRUE(succeeded(single));
    EXPECT_EQ(value(single).size(), 1u);
    auto list = parse_site_private_keys("[" + one + "," + one + "]");
    ASSERT_TRUE(succeeded(list));
    EXPECT_EQ(value(list).size(), 2u);

    EXPECT_TRUE(failed_permanently(parse_site_private_keys("")));
    EXPECT_TRUE(failed_permanently(parse_site_private_keys("not json")));
    EXPECT_TRUE(failed_permanently(parse_site_private_keys("[]")));
    EXPECT_TRUE(failed_permanently(parse_site_private_keys("\"" + std::string(64, 'a') + "\"")));
    EXPECT_TRUE(failed_permanently(parse_site_private_keys(one.substr(0, one.size() / 2))));
    auto bad_second = parse_site_private_keys("[" + one + ",{\"n\":\"1\"}]");
    ASSERT_TRUE(failed_permanently(bad_second));
    EXPECT_NE(error(bad_second).message.find("[1]"), std::string::npos) << error(bad_second).message;
    EXPECT_TRUE(failed_permanently(parse_jsbn_private_key("[" + one + "]")));  // one key means an object
}

TEST(Rsa, SitePrivateKeyEnvelopeRoundTrip) {
    for (bool as_list : {true, false}) {
        auto body = encrypt_site_private_key("S3cr3tSEK-demo", {shared_key()}, as_list);
        ASSERT_TRUE(succeeded(body));
        auto keys = decrypt_site_private_key("S3cr3tSEK-demo", value(body).data_b64, value(body).iv_b64);
        ASSERT_TRUE(succeeded(keys));
        ASSERT_EQ(value(keys).size(), 1u);
        // The plaintext under the SEK is the JSON document, in the chosen shape.
        const auto plain = aes_cbc_decrypt(std::get<std::string>(sek_key_bytes("S3cr3tSEK-demo")),
                                           *base64_decode(value(body).iv_b64),
                                           *base64_decode(value(body).data_b64));
        ASSERT_TRUE(succeeded(plain));
        EXPECT_EQ(value(plain).front(), as_list ? '[' : '{');
    }
    EXPECT_TRUE(
        failed_permanently(encrypt_site_private_key("S3cr3tSEK-demo", {shared_key(), shared_key()}, false)));
    EXPECT_TRUE(failed_permanently(encrypt_site_private_key("S3cr3tSEK-demo", {}, true)));
    EXPECT_TRUE(failed_permanently(encrypt_site_private_key("", {shared_key()}, true)));
}

TEST(Rsa, ShortCiphertextIsLeftPadded) {
    // JSBN's BigInteger.toString drops leading zeros: a ciphertext whose first byte is 0 may arrive a
    // byte short, in base64 or in hex (odd length included).
    const std::string otk = std::get<std::string>(generate_one_time_key());
    for (int attempt = 0; attempt < 20000; ++attempt) {
        auto wrapped = wrap_one_time_key_rsa(shared_key(), otk);
        ASSERT_TRUE(succeeded(wrapped));
        const std::string ct = *base64_decode(value(wrapped));
        if (ct[0] != '\0') continue;
        const std::string shorter = ct.substr(1);
        std::string hex = hex_encode(shorter);
        if (hex[0] == '0') hex.erase(0, 1);
        for (const std::string& text : {base64_encode(shorter), hex}) {
            auto back = unwrap_one_time_key_rsa(shared_key(), text);
            ASSERT_TRUE(succeeded(back));
            EXPECT_TRUE(value(back) == otk);
        }
        return;
    }
    FAIL() << "no ciphertext with a leading zero byte in 20000 tries";
}

TEST(Rsa, UnusableInputsAreErrors) {
    const std::string otk = std::get<std::string>(generate_one_time_key());
    EXPECT_TRUE(failed_permanently(wrap_one_time_key_rsa(shared_key(), "short")));
    EXPECT_TRUE(failed_permanently(wrap_one_time_key_rsa(RsaKey(), otk)));
    EXPECT_TRUE(failed_permanently(unwrap_one_time_key_rsa(RsaKey(), "AAAA")));
    EXPECT_TRUE(failed_permanently(unwrap_one_time_key_rsa(SitePrivateKeys{}, "AAAA")));
    EXPECT_TRUE(failed_permanently(unwrap_one_time_key_rsa(shared_key(), "not base64 or hex!")));
    EXPECT_TRUE(failed_permanently(rsa_key_to_jsbn_json(RsaKey())));
    EXPECT_TRUE(failed_permanently(generate_rsa_key(512)));
    EXPECT_EQ(RsaKey().modulus_bits(), 0u);
}

TEST(Rsa, OneKeyIsSafeToShareBetweenThreads) {
    const RsaKey& key = shared_key();
    std::vector<std::thread> threads;
    std::vector<int> good(4, 0);
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 25; ++i) {
                const std::string otk = std::get<std::string>(generate_one_time_key());
                auto wrapped = wrap_one_time_key_rsa(key, otk);
                if (!std::holds_alternative<std::string>(wrapped)) continue;
                auto back = unwrap_one_time_key_rsa(key, std::get<std::string>(wrapped));
                if (std::holds_alternative<std::string>(back) && std::get<std::string>(back) == otk)
                    ++good[t];
            }
        });
    }
    for (auto& th : threads) th.join();
    for (int n : good) EXPECT_EQ(n, 25);
}

}  // namespace
}  // namespace relay::ocean
