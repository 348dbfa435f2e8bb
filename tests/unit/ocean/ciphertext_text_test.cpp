// Normalising ciphertext from its wire forms: base64 text, a JSON string, a JSON signed-byte array.

#include <gtest/gtest.h>

#include <string>

#include "relay/core/encoding.hpp"
#include "relay/ocean/crypto.hpp"
#include "test_util.hpp"

namespace relay::ocean {
namespace {

using testing::failed_permanently;
using testing::pattern_bytes;
using testing::succeeded;
using testing::value;

const std::string kBytes("\xf4\x22\x00\x7f\x80\xff\x01", 7);

TEST(DecodeCiphertext, SignedByteArray) {
    auto r = decode_ciphertext("[-12, 34, 0, 127, -128, -1, 1]");
    ASSERT_TRUE(succeeded(r));
    EXPECT_EQ(value(r), kBytes);
}

TEST(DecodeCiphertext, UnsignedSpellingIsTheSameByte) {  // [P]
    auto r = decode_ciphertext("[244,34,0,127,128,255,1]");
    ASSERT_TRUE(succeeded(r));
    EXPECT_EQ(value(r), kBytes);
}

TEST(DecodeCiphertext, ArrayWhitespaceAndEmptyArray) {
    auto r = decode_ciphertext(" \r\n[ -12 ,\n34\t, 0,127 , -128,-1,1 ]\n");
    ASSERT_TRUE(succeeded(r));
    EXPECT_EQ(value(r), kBytes);
    auto empty = decode_ciphertext("[ ]");
    ASSERT_TRUE(succeeded(empty));
    EXPECT_TRUE(value(empty).empty());
}

TEST(DecodeCiphertext, BareBase64) {
    auto r = decode_ciphertext(base64_encode(kBytes));
    ASSERT_TRUE(succeeded(r));
    EXPECT_EQ(value(r), kBytes);
    auto padded = decode_ciphertext("  " + base64_encode(kBytes) + "\n");
    ASSERT_TRUE(succeeded(padded));
    EXPECT_EQ(value(padded), kBytes);
}

TEST(DecodeCiphertext, JsonStringOfBase64) {
    // "9CIAf4D/AQ==" holds '/', which some JSON encoders escape as "\/".
    ASSERT_EQ(base64_encode(kBytes), "9CIAf4D/AQ==");
    auto plain = decode_ciphertext(R"("9CIAf4D/AQ==")");
    ASSERT_TRUE(succeeded(plain));
    EXPECT_EQ(value(plain), kBytes);
    auto escaped = decode_ciphertext(R"( "9CIAf4D\/AQ==" )");
    ASSERT_TRUE(succeeded(escaped));
    EXPECT_EQ(value(escaped), kBytes);
}

TEST(DecodeCiphertext, Refusals) {
    for (std::string_view bad : {
             "",
             "   ",
             "[",
             "[1,2",
             "[1,,2]",
             "[1,2,]",
             "[,1]",
             "[1 2]",
             "[256]",
             "[-129]",
             "[1000]",
             "[-0001]",
             "[01]",
             "[1.0]",
             "[1e2]",
             "[+1]",
             "[\"1\"]",
             "[1]x",
             "[-]",
             "\"abc",
             R"("9CIAf4D\nAQ==")",
             R"("9CIAf4D/AQ==\")",
             "not base64!",
             "9CIAf4D/AQ=",
             "9CIAf4D_AQ==",  // base64url is not what Ocean sends
         }) {
        EXPECT_TRUE(failed_permanently(decode_ciphertext(bad))) << "input: " << bad;
    }
}

TEST(DecodeCiphertext, HugeElementDoesNotOverflow) {
    EXPECT_TRUE(failed_permanently(decode_ciphertext("[99999999999999999999999999]")));
    EXPECT_TRUE(failed_permanently(decode_ciphertext("[-99999999999999999999999999]")));
}

TEST(SignedByteArray, OnlyArraysAccepted) {
    EXPECT_TRUE(failed_permanently(signed_byte_array_to_bytes(base64_encode(kBytes))));
    auto r = signed_byte_array_to_bytes("[-12,34,0,127,-128,-1,1]");
    ASSERT_TRUE(succeeded(r));
    EXPECT_EQ(value(r), kBytes);
}

TEST(SignedByteArray, RenderingMatchesJavaBytes) {
    EXPECT_EQ(bytes_to_signed_byte_array(kBytes), "[-12,34,0,127,-128,-1,1]");
    EXPECT_EQ(bytes_to_signed_byte_array(""), "[]");
}

TEST(SignedByteArray, RoundTripAllByteValuesAndLargeInput) {
    std::string all;
    for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
    auto r = signed_byte_array_to_bytes(bytes_to_signed_byte_array(all));
    ASSERT_TRUE(succeeded(r));
    EXPECT_EQ(value(r), all);

    const std::string big = pattern_bytes(1 << 20);
    auto big_r = decode_ciphertext(bytes_to_signed_byte_array(big));
    ASSERT_TRUE(succeeded(big_r));
    EXPECT_TRUE(value(big_r) == big);
}

TEST(CiphertextToBase64, NormalisesEveryForm) {
    for (std::string_view form : {"[-12,34,0,127,-128,-1,1]", "9CIAf4D/AQ==", R"("9CIAf4D\/AQ==")"}) {
        auto r = ciphertext_to_base64(form);
        ASSERT_TRUE(succeeded(r)) << form;
        EXPECT_EQ(value(r), "9CIAf4D/AQ==") << form;
    }
    EXPECT_TRUE(failed_permanently(ciphertext_to_base64("[1,")));
}

}  // namespace
}  // namespace relay::ocean
