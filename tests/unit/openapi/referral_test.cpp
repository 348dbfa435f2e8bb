// open_referral: the Referral JSON's one-time key under the SEK, the patient data and the comments'
// messages under it; what fails gives a fixed reason and never content.
#include "relay/openapi/referral.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <variant>

#include "relay/ocean/crypto.hpp"
#include "relay/ocean/rsa.hpp"

namespace relay::openapi {
namespace {

namespace json = boost::json;

constexpr std::string_view kSek = "unit-test-sek-01";

json::object block(const ocean::EncryptedBlock& b) {
    return json::object{{"data", b.data_b64}, {"iv", b.iv_b64}};
}

/// A referral as Ocean serves it: patient data and one external message under a fresh OTK.
json::object sealed_referral(const std::string& patient, const std::string& message, std::string_view sek = kSek) {
    const std::string otk = std::get<std::string>(ocean::generate_one_time_key());
    const auto wrapped = std::get<ocean::EncryptedBlock>(ocean::wrap_one_time_key(sek, otk));
    const auto pt = std::get<ocean::EncryptedBlock>(ocean::encrypt_block(otk, patient));
    const auto msg = std::get<ocean::EncryptedBlock>(ocean::encrypt_block(otk, message));
    return json::object{{"referralRef", "r-1"},
                        {"oneTimeKeyEncryptedWithSiteSEK", block(wrapped)},
                        {"encryptedPtData", block(pt)},
                        {"externalConversation", json::array{json::object{{"ref", "c-1"}, {"encryptedMsg", block(msg)}}}},
                        {"internalConversation", json::array{json::object{{"ref", "c-2"}, {"message", "plain note"}}}}};
}

struct SealedForAttachments {
    std::string referral;
    std::string one_time_key;
};
/// A referral with only its wrapped key and patient data, and the key itself.
SealedForAttachments sealed_referral_for_attachments() {
    const std::string otk = std::get<std::string>(ocean::generate_one_time_key());
    const auto wrapped = std::get<ocean::EncryptedBlock>(ocean::wrap_one_time_key(kSek, otk));
    const auto pt = std::get<ocean::EncryptedBlock>(ocean::encrypt_block(otk, R"({"surname":"Attached"})"));
    return {json::serialize(json::object{{"referralRef", "r-3"},
                                         {"oneTimeKeyEncryptedWithSiteSEK", block(wrapped)},
                                         {"encryptedPtData", block(pt)},
                                         {"bookingFileRefs", json::array{json::object{{"fileRef", "f-1"}}}}}),
            otk};
}

TEST(OpenReferral, OpensThePatientDataAndEveryMessage) {
    const auto result = open_referral(kSek, json::serialize(sealed_referral(R"({"surname":"Opened"})", "See you Tuesday")));
    ASSERT_TRUE(std::holds_alternative<OpenedReferral>(result)) << std::get<std::string>(result);
    const auto& opened = std::get<OpenedReferral>(result);
    EXPECT_EQ(opened.patient_json, R"({"surname":"Opened"})");
    const json::object referral = json::parse(opened.referral_json).as_object();
    const auto& external = referral.at("externalConversation").as_array()[0].as_object();
    EXPECT_EQ(external.at("message").as_string(), "See you Tuesday");
    EXPECT_FALSE(external.contains("encryptedMsg"));
    EXPECT_EQ(referral.at("internalConversation").as_array()[0].at("message").as_string(), "plain note");
    EXPECT_EQ(referral.at("referralRef").as_string(), "r-1");
}

TEST(OpenReferral, SignedByteArrayCiphertextIsAccepted) {
    json::object referral = sealed_referral(R"({"surname":"Bytes"})", "m");
    json::object& pt = referral["encryptedPtData"].as_object();
    const std::string raw = std::get<std::string>(ocean::decode_ciphertext(pt.at("data").as_string()));
    pt["data"] = json::parse(ocean::bytes_to_signed_byte_array(raw));
    const auto result = open_referral(kSek, json::serialize(referral));
    ASSERT_TRUE(std::holds_alternative<OpenedReferral>(result)) << std::get<std::string>(result);
    EXPECT_EQ(std::get<OpenedReferral>(result).patient_json, R"({"surname":"Bytes"})");
}

TEST(OpenReferral, AReferralWithoutEncryptedMembersPassesAsItIs) {
    const auto result = open_referral(kSek, R"({"referralRef":"r-2","status":"NEW"})");
    ASSERT_TRUE(std::holds_alternative<OpenedReferral>(result));
    EXPECT_TRUE(std::get<OpenedReferral>(result).patient_json.empty());
}

TEST(OpenReferral, AnRsaWrappedKeyOpensWithTheSitePrivateKey) {
    const auto key = std::get<ocean::RsaKey>(ocean::generate_rsa_key(2048));
    const ocean::SitePrivateKeys keys{key};
    json::object referral = sealed_referral(R"({"surname":"Rsa"})", "By RSA");
    // The same one-time key, wrapped for the site's public key instead of under the SEK.
    const auto wrapped = std::get<ocean::EncryptedBlock>(ocean::parse_encrypted_block(
        json::serialize(referral.at("oneTimeKeyEncryptedWithSiteSEK"))));
    const std::string otk = std::get<std::string>(ocean::unwrap_one_time_key(kSek, wrapped));
    referral["oneTimeKeyEncryptedWithSiteSEK"] = nullptr;
    referral["oneTimeKeyEncryptedWithSitePublicKey"] = std::get<std::string>(ocean::wrap_one_time_key_rsa(key, otk));
    const std::string text = json::serialize(referral);
    EXPECT_EQ(std::get<std::string>(open_referral(kSek, text)), kNeedsSitePrivateKey);
    const auto opened = open_referral(kSek, text, &keys);
    ASSERT_TRUE(std::holds_alternative<OpenedReferral>(opened)) << std::get<std::string>(opened);
    EXPECT_EQ(std::get<OpenedReferral>(opened).patient_json, R"({"surname":"Rsa"})");
    // Another site's key does not open it.
    const ocean::SitePrivateKeys other{std::get<ocean::RsaKey>(ocean::generate_rsa_key(2048))};
    EXPECT_EQ(std::get<std::string>(open_referral(kSek, text, &other)), "decrypt-failed");
}

TEST(OpenReferral, FailuresAreFixedReasons) {
    EXPECT_EQ(std::get<std::string>(open_referral(kSek, "not json")), "referral-not-json");
    EXPECT_EQ(std::get<std::string>(open_referral(kSek, "[1,2]")), "referral-not-json");
    // Another site's SEK.
    const auto wrong = open_referral("a-different-sek!", json::serialize(sealed_referral(R"({"surname":"X"})", "m")));
    ASSERT_TRUE(std::holds_alternative<std::string>(wrong));
    EXPECT_EQ(std::get<std::string>(wrong), "decrypt-failed");
    // Tampered patient data.
    json::object tampered = sealed_referral(R"({"surname":"Tampered"})", "m");
    std::string data(tampered["encryptedPtData"].as_object()["data"].as_string());
    data[5] = data[5] == 'A' ? 'B' : 'A';
    tampered["encryptedPtData"].as_object()["data"] = data;
    const auto t = open_referral(kSek, json::serialize(tampered));
    ASSERT_TRUE(std::holds_alternative<std::string>(t));
    EXPECT_EQ(std::get<std::string>(t), "decrypt-failed");
    // Only an RSA-wrapped key.
    json::object rsa = sealed_referral(R"({"surname":"Rsa"})", "m");
    rsa.erase("oneTimeKeyEncryptedWithSiteSEK");
    rsa["oneTimeKeyEncryptedWithSitePublicKey"] = "c29tZS1yc2EtYmxvYg==";
    EXPECT_EQ(std::get<std::string>(open_referral(kSek, json::serialize(rsa))), kNeedsSitePrivateKey);
    // A truncated block.
    json::object truncated = sealed_referral(R"({"surname":"Cut"})", "m");
    truncated["encryptedPtData"].as_object()["data"] = "AAAA";
    EXPECT_EQ(std::get<std::string>(open_referral(kSek, json::serialize(truncated))), "decrypt-failed");
}

}  // namespace
}  // namespace relay::openapi

namespace relay::openapi {
namespace {

TEST(OpenAttachment, OpensUnderTheReferralsOneTimeKeyAndHandsTheKeyOut) {
    // The key the referral opens with is the key its attachments open with.
    const auto sealed = sealed_referral_for_attachments();
    const auto opened = open_referral(kSek, sealed.referral, nullptr, true);
    ASSERT_TRUE(std::holds_alternative<OpenedReferral>(opened));
    const std::string& otk = std::get<OpenedReferral>(opened).one_time_key;
    EXPECT_EQ(otk, sealed.one_time_key);
    const std::string pdf = "%PDF-1.4\nreferral form\n";
    const auto data = std::get<ocean::EncryptedBlock>(ocean::encrypt_block(otk, pdf));
    const std::string answer = json::serialize(json::object{{"contentType", "application/pdf"}, {"encryptedData", block(data)}});
    const auto attachment = open_attachment(otk, answer);
    ASSERT_TRUE(attachment.has_value());
    EXPECT_EQ(attachment->bytes, pdf);
    EXPECT_EQ(attachment->content_type, "application/pdf");
    // No media type: octet-stream; not that JSON, or another key: nothing.
    const auto untyped = open_attachment(otk, json::serialize(json::object{{"encryptedData", block(data)}}));
    ASSERT_TRUE(untyped.has_value());
    EXPECT_EQ(untyped->content_type, "application/octet-stream");
    EXPECT_FALSE(open_attachment(otk, "not json").has_value());
    EXPECT_FALSE(open_attachment(otk, R"({"contentType":"application/pdf"})").has_value());
    const std::string other = std::get<std::string>(ocean::generate_one_time_key());
    const auto wrong = open_attachment(other, answer);
    EXPECT_TRUE(!wrong.has_value() || wrong->bytes != pdf);
    // Without need_one_time_key a referral with nothing encrypted hands out no key.
    const auto bare = open_referral(kSek, R"({"referralRef":"r-2"})");
    ASSERT_TRUE(std::holds_alternative<OpenedReferral>(bare));
    EXPECT_TRUE(std::get<OpenedReferral>(bare).one_time_key.empty());
}

}  // namespace
}  // namespace relay::openapi
