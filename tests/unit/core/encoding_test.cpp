// encoding.hpp: base64 / base64url (RFC 4648), hex, form decoding, HMAC-SHA256 (RFC 4231), JSON strings.
#include "relay/core/encoding.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace {

std::string all_bytes() {
    std::string bytes;
    for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
    return bytes;
}

std::string json_string(std::string_view s) {
    std::string out;
    relay::append_json_string(out, s);
    return out;
}

}  // namespace

// --- base64 -------------------------------------------------------------------------------------

TEST(Base64, EncodesTheRfc4648TestVectors) {
    const std::vector<std::pair<std::string, std::string>> vectors = {{"", ""},
                                                                      {"f", "Zg=="},
                                                                      {"fo", "Zm8="},
                                                                      {"foo", "Zm9v"},
                                                                      {"foob", "Zm9vYg=="},
                                                                      {"fooba", "Zm9vYmE="},
                                                                      {"foobar", "Zm9vYmFy"}};
    for (const auto& [plain, encoded] : vectors) {
        EXPECT_EQ(relay::base64_encode(plain), encoded) << plain;
        EXPECT_EQ(relay::base64_decode(encoded), plain) << encoded;
    }
}

TEST(Base64, RoundTripsEveryByteValueAtEveryLength) {
    const std::string bytes = all_bytes();
    for (std::size_t len = 0; len <= 64; ++len) {
        const std::string input = bytes.substr(256 - len);  // ends in 0xff: exercises '+' and '/'
        EXPECT_EQ(relay::base64_decode(relay::base64_encode(input)), input) << len;
    }
    EXPECT_EQ(relay::base64_decode(relay::base64_encode(bytes)), bytes);
}

TEST(Base64, RejectsMalformedText) {
    for (const char* text : {"Zg=", "Zg", "Z", "Zm9v!A==", "@@@@", "Zm9-", "Zm9_"}) {
        EXPECT_EQ(relay::base64_decode(text), std::nullopt) << text;
    }
}

TEST(Base64, RejectsMisplacedOrExcessPadding) {
    // Regression test for a bug this suite found (now fixed).
    for (const char* text : {"A===", "====", "Zg=A", "Zm9v====", "Zg==Zg=="}) {
        EXPECT_EQ(relay::base64_decode(text), std::nullopt) << text;
    }
}

TEST(Base64Url, RejectsALengthThatCannotEncodeWholeBytes) {
    // Regression test for a bug this suite found (now fixed).
    EXPECT_EQ(relay::base64url_decode("A"), std::nullopt);
    EXPECT_EQ(relay::base64url_decode("AAAAA"), std::nullopt);
}

TEST(Base64Url, UsesTheUrlAlphabetWithoutPadding) {
    EXPECT_EQ(relay::base64_encode("\xfb\xff\xbf"), "+/+/");
    EXPECT_EQ(relay::base64url_encode("\xfb\xff\xbf"), "-_-_");
    EXPECT_EQ(relay::base64url_encode("f"), "Zg");
    EXPECT_EQ(relay::base64url_encode("fo"), "Zm8");
    EXPECT_EQ(relay::base64url_encode("foobar"), "Zm9vYmFy");
    EXPECT_EQ(relay::base64url_encode(""), "");
}

TEST(Base64Url, DecodesUnpaddedText) {
    EXPECT_EQ(relay::base64url_decode("-_-_"), "\xfb\xff\xbf");
    EXPECT_EQ(relay::base64url_decode("Zg"), "f");
    EXPECT_EQ(relay::base64url_decode("Zm8"), "fo");
    EXPECT_EQ(relay::base64url_decode("Zm9vYmE"), "fooba");
    EXPECT_EQ(relay::base64url_decode(""), "");
}

TEST(Base64Url, RejectsTheStandardAlphabetAndPadding) {
    EXPECT_EQ(relay::base64url_decode("+/+/"), std::nullopt);
    EXPECT_EQ(relay::base64url_decode("Zg=="), std::nullopt);
    EXPECT_EQ(relay::base64url_decode("Zm9v!"), std::nullopt);
}

TEST(Base64Url, RoundTripsEveryByteValueAtEveryLength) {
    const std::string bytes = all_bytes();
    for (std::size_t len = 0; len <= 64; ++len) {
        const std::string input = bytes.substr(256 - len);
        const std::string encoded = relay::base64url_encode(input);
        EXPECT_EQ(encoded.find_first_of("+/="), std::string::npos) << encoded;
        EXPECT_EQ(relay::base64url_decode(encoded), input) << len;
    }
}

// --- hex ----------------------------------------------------------------------------------------

TEST(Hex, EncodesLowerCaseTwoDigitsPerByte) {
    EXPECT_EQ(relay::hex_encode(""), "");
    EXPECT_EQ(relay::hex_encode(std::string("\x00\xff\x10\xab", 4)), "00ff10ab");
    EXPECT_EQ(relay::hex_encode("foo"), "666f6f");
}

// --- form_url_decode ----------------------------------------------------------------------------

TEST(FormUrlDecode, PlusIsASpaceAndPercentEscapesAreDecoded) {
    EXPECT_EQ(relay::form_url_decode("a+b"), "a b");
    EXPECT_EQ(relay::form_url_decode("%41"), "A");
    EXPECT_EQ(relay::form_url_decode("x%41"), "xA");
    EXPECT_EQ(relay::form_url_decode("%2B"), "+");
    EXPECT_EQ(relay::form_url_decode("%2b%2F"), "+/");
    EXPECT_EQ(relay::form_url_decode("100%25"), "100%");
    EXPECT_EQ(relay::form_url_decode("%E2%82%AC"), "\xE2\x82\xAC");
    EXPECT_EQ(relay::form_url_decode("plain"), "plain");
    EXPECT_EQ(relay::form_url_decode(""), "");
}

TEST(FormUrlDecode, BadEscapesAreRejected) {
    for (const char* text : {"%4", "%", "%zz", "%4g", "%g4", "abc%", "abc%4", "%%41"}) {
        EXPECT_EQ(relay::form_url_decode(text), std::nullopt) << text;
    }
}

// --- HMAC-SHA256 --------------------------------------------------------------------------------

TEST(HmacSha256, MatchesRfc4231TestCase2) {
    EXPECT_EQ(relay::hex_encode(relay::hmac_sha256("Jefe", "what do ya want for nothing?")),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(HmacSha256, MatchesRfc4231TestCase1) {
    EXPECT_EQ(relay::hex_encode(relay::hmac_sha256(std::string(20, '\x0b'), "Hi There")),
              "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

TEST(HmacSha256, MatchesRfc4231TestCase6WithAKeyLongerThanABlock) {
    EXPECT_EQ(relay::hex_encode(relay::hmac_sha256(std::string(131, '\xaa'),
                                                   "Test Using Larger Than Block-Size Key - Hash Key First")),
              "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(HmacSha256, ReturnsThirtyTwoRawBytes) {
    EXPECT_EQ(relay::hmac_sha256("k", "").size(), 32u);
    EXPECT_NE(relay::hmac_sha256("k1", "d"), relay::hmac_sha256("k2", "d"));
}

// --- constant_time_equals -----------------------------------------------------------------------

TEST(ConstantTimeEquals, ComparesContentAndLength) {
    EXPECT_TRUE(relay::constant_time_equals("", ""));
    EXPECT_TRUE(relay::constant_time_equals("abc", "abc"));
    EXPECT_FALSE(relay::constant_time_equals("abc", "abd"));
    EXPECT_FALSE(relay::constant_time_equals("abc", "ab"));
    EXPECT_FALSE(relay::constant_time_equals("", "a"));
    EXPECT_TRUE(relay::constant_time_equals(std::string("a\0b", 3), std::string("a\0b", 3)));
    EXPECT_FALSE(relay::constant_time_equals(std::string("a\0b", 3), std::string("a\0c", 3)));
}

// --- append_json_string -------------------------------------------------------------------------

TEST(AppendJsonString, QuotesPlainText) {
    EXPECT_EQ(json_string("hello"), R"("hello")");
}

TEST(AppendJsonString, EscapesQuotesAndBackslashes) {
    EXPECT_EQ(json_string(R"(say "hi" \ bye)"), R"("say \"hi\" \\ bye")");
}

TEST(AppendJsonString, EscapesControlCharacters) {
    EXPECT_EQ(json_string("a\nb\rc\td"), R"("a\nb\rc\td")");
    EXPECT_EQ(json_string(std::string("\x00\x01\x1f", 3)), R"("\u0000\u0001\u001f")");
    EXPECT_EQ(json_string("\b\f"), R"("\u0008\u000c")");
}

TEST(AppendJsonString, PassesUtf8AndPrintableAsciiThrough) {
    EXPECT_EQ(json_string("caf\xC3\xA9 / <b>&"), "\"caf\xC3\xA9 / <b>&\"");
    EXPECT_EQ(json_string("\x7f"), "\"\x7f\"");
}

TEST(AppendJsonString, AppendsToExistingContent) {
    std::string out = "{\"k\":";
    relay::append_json_string(out, "v");
    EXPECT_EQ(out, R"({"k":"v")");
}

// FIPS 180-2 test vectors.
TEST(Sha256, KnownAnswers) {
    EXPECT_EQ(relay::hex_encode(relay::sha256("abc")),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(relay::hex_encode(relay::sha256("")),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(relay::hex_encode(relay::Sha256().update("a").update("bc").finish()),
              relay::hex_encode(relay::sha256("abc")));
}

TEST(Sha256, FieldsAreSeparated) {
    EXPECT_NE(relay::Sha256().field("ab").field("c").finish(), relay::Sha256().field("a").field("bc").finish());
}

TEST(QueryValues, EveryValueOfTheNameInOrderDecoded) {
    using Values = std::vector<std::optional<std::string>>;
    EXPECT_EQ(relay::query_values("a=1&k=x%2Dy&k=two+words&kk=3", "k"), (Values{"x-y", "two words"}));
    EXPECT_EQ(relay::query_values("k&a=1", "k"), (Values{""}));
    EXPECT_EQ(relay::query_values("k=%zz", "k"), (Values{std::nullopt}));
    EXPECT_EQ(relay::query_values("%6B=1", "k"), (Values{"1"})) << "names are decoded too";
    EXPECT_TRUE(relay::query_values("", "k").empty());
    EXPECT_TRUE(relay::query_values("a=1&&b=2", "k").empty());
}

TEST(HtmlEscape, EscapesTextAndAttributeDelimiters) {
    EXPECT_EQ(relay::html_escape(R"(<a href="x">Tom & Jerry's</a>)"),
              "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;");
    EXPECT_EQ(relay::html_escape("plain"), "plain");
    EXPECT_EQ(relay::html_escape(""), "");
}

TEST(QueryValues, SingleValueRefusesAbsentRepeatedAndBadlyEscaped) {
    EXPECT_EQ(relay::single_query_value("a=1&b=2", "b"), "2");
    EXPECT_EQ(relay::single_query_value("a=1&b=2", "c"), std::nullopt);
    EXPECT_EQ(relay::single_query_value("b=1&b=2", "b"), std::nullopt) << "repeated is refused";
    EXPECT_EQ(relay::single_query_value("b=%zz", "b"), std::nullopt);
}
