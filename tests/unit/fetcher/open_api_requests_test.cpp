// The hub's Open API requests as Ocean's calls (services/fetcher/src/open_api_requests.hpp): what Ocean
// receives opens with the site's SEK to exactly what the hub sent, nothing readable travels in clear, and
// Ocean's answers are read strictly. The AES primitives are checked against the openssl CLI in
// tests/unit/ocean; here they open what the builder sealed.
#include "open_api_requests.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <string>

#include "relay/core/encoding.hpp"

namespace {

using namespace relay;
using namespace relay::fetcher;
namespace json = boost::json;

const std::string kSek = "0123456789abcdef";

template <typename T>
const T& ok(const ocean::Result<T>& r) {
    if (const auto* e = std::get_if<Error>(&r)) ADD_FAILURE() << e->message;
    return std::get<T>(r);
}

std::map<std::string, std::string> headers_of(const OpenApiCall& call) {
    return {call.headers.begin(), call.headers.end()};
}

hub::Update message_update() {
    hub::Update u;
    u.update_id = "m-1";
    u.referral_ref = "R-42";
    u.action = hub::Action::kOpenApiMessage;
    u.text = "Jane Doe's MRI is booked for Tuesday";
    u.requested_at = "2026-12-07T10:00:00Z";
    return u;
}

TEST(OpenApiRequests, AnAttachmentOpensWithTheSekToTheHubsBytes) {
    const std::string pdf = "%PDF-1.4\nJane Doe, HCN 1234-567-890\n";
    hub::AttachmentRequest attachment{"application/pdf", base64_encode(pdf), "jane-doe-mri.pdf"};
    const OpenApiCall call = ok(attachment_call(kSek, "R-42", attachment, OpenApiRequestOptions{}));
    EXPECT_EQ(call.target, "/svc/v1/referrals/R-42/attachments");
    EXPECT_EQ(call.content_type, "text/plain");
    auto h = headers_of(call);
    EXPECT_EQ(h["attachmentContentType"], "application/pdf");
    // Nothing readable in clear: not the bytes, not the file name.
    EXPECT_EQ(call.body.find("Jane"), std::string::npos);
    for (const auto& [name, value] : call.headers) EXPECT_EQ(value.find("jane"), std::string::npos) << name;

    // Ocean's side: the one-time key under the SEK (oneTimeKey, oneTimeKeyIv), the body under it (ivBase64).
    const std::string key = ok(ocean::unwrap_one_time_key(kSek, {h["oneTimeKey"], h["oneTimeKeyIv"]}));
    EXPECT_EQ(key.size(), 16U);
    const auto iv = base64_decode(h["ivBase64"]);
    ASSERT_TRUE(iv.has_value());
    ASSERT_EQ(iv->size(), 16U);
    const auto ciphertext = base64_decode(call.body);
    ASSERT_TRUE(ciphertext.has_value());
    EXPECT_EQ(ok(ocean::aes_cbc_decrypt(key, *iv, *ciphertext)), pdf);
    const auto name = base64_decode(h["encryptedFileName"]);
    ASSERT_TRUE(name.has_value());
    EXPECT_EQ(ok(ocean::aes_cbc_decrypt(key, *iv, *name)), "jane-doe-mri.pdf");

    // Fresh keys and IVs each time; a wrong SEK does not open it.
    const OpenApiCall again = ok(attachment_call(kSek, "R-42", attachment, OpenApiRequestOptions{}));
    EXPECT_NE(again.body, call.body);
    const auto wrong = ocean::unwrap_one_time_key("fedcba9876543210", {h["oneTimeKey"], h["oneTimeKeyIv"]});
    if (const auto* k = std::get_if<std::string>(&wrong)) {
        EXPECT_NE(*k, key);
    }
}

TEST(OpenApiRequests, AnAttachmentWithoutTitleHasNoFileNameAndBadDataIsRefused) {
    hub::AttachmentRequest attachment{"image/png", base64_encode("png"), ""};
    const OpenApiCall call = ok(attachment_call(kSek, "R-1", attachment, OpenApiRequestOptions{}));
    EXPECT_EQ(headers_of(call).count("encryptedFileName"), 0U);
    attachment.data = "not base64!";
    const auto refused = attachment_call(kSek, "R-1", attachment, OpenApiRequestOptions{});
    ASSERT_TRUE(std::holds_alternative<Error>(refused));
    EXPECT_EQ(std::get<Error>(refused).kind, ErrorKind::kPermanent);
    EXPECT_TRUE(std::holds_alternative<Error>(attachment_call("", "R-1", {"image/png", base64_encode("x"), ""}, OpenApiRequestOptions{})))
        << "an empty SEK is unusable";
}

TEST(OpenApiRequests, OnlyOceansDocumentedPartsWhenConfiguredSo) {
    OpenApiRequestOptions options;
    options.attachment_key_headers = false;
    options.encrypt_file_names = false;
    const OpenApiCall call = ok(attachment_call(kSek, "R-7", {"application/pdf", base64_encode("%PDF"), "a.pdf"}, options));
    ASSERT_EQ(call.headers.size(), 1U);
    EXPECT_EQ(call.headers[0].first, "ivBase64");
}

TEST(OpenApiRequests, AMessageIsSealedUnderAOneTimeKeyAndNamesItsAttachments) {
    const hub::Update u = message_update();
    const OpenApiCall call = ok(message_call(kSek, u, {"file-1", "file-2"}, OpenApiRequestOptions{}));
    EXPECT_EQ(call.target, "/svc/v1/referrals/R-42/messages");
    EXPECT_EQ(call.content_type, "application/json");
    EXPECT_EQ(call.body.find("Jane"), std::string::npos);
    const auto comment = json::parse(call.body).at("message").as_object();
    EXPECT_FALSE(comment.contains("message"));
    const auto block = [&](const char* name) {
        const auto& b = comment.at(name).as_object();
        return ocean::EncryptedBlock{std::string(b.at("data").as_string()), std::string(b.at("iv").as_string())};
    };
    ocean::SealedBlocks sealed{block("oneTimeKeyEncryptedWithSiteSEK"), block("encryptedMsg")};
    EXPECT_EQ(ok(ocean::open_blocks(kSek, sealed)), u.text);
    const auto& refs = comment.at("attachmentRefDtos").as_array();
    ASSERT_EQ(refs.size(), 2U);
    EXPECT_EQ(refs[0].at("fileRef"), "file-1");
    EXPECT_EQ(refs[1].at("fileRef"), "file-2");
    EXPECT_EQ(comment.at("commentDate"), "2026-12-07T10:00:00Z");
}

TEST(OpenApiRequests, APlainMessageWhenConfiguredSo) {
    OpenApiRequestOptions options;
    options.encrypt_messages = false;
    const OpenApiCall call = ok(message_call(kSek, message_update(), {}, options));
    const auto comment = json::parse(call.body).at("message").as_object();
    EXPECT_EQ(comment.at("message"), "Jane Doe's MRI is booked for Tuesday");
    EXPECT_FALSE(comment.contains("encryptedMsg"));
    EXPECT_FALSE(comment.contains("attachmentRefDtos"));
}

TEST(OpenApiRequests, AFormLinkRequestAndItsAnswer) {
    hub::Update u;
    u.update_id = "l-1";
    u.action = hub::Action::kEformLink;
    u.patient_ref = "690";
    u.form_refs = {"phq9", "gad7"};
    u.expiry_hours = 48;
    OpenApiRequestOptions options;
    OpenApiCall call = form_link_call(u, options);
    EXPECT_EQ(call.target, "/svc/v1/patients/690/formLinks");
    EXPECT_EQ(json::parse(call.body), json::parse(R"({"formRefs":["phq9","gad7"],"expiryHours":48})"));
    options.form_links_path = "/svc/v2/links/{ref}";
    u.expiry_hours = 0;
    call = form_link_call(u, options);
    EXPECT_EQ(call.target, "/svc/v2/links/690");
    EXPECT_FALSE(json::parse(call.body).as_object().contains("expiryHours"));

    const auto link = parse_form_link(
        R"({"url":"https://ocean.example/intake/patients.html?linkRef=abc","oceanSessionId":"1759442545187t415674","expiresAt":"2026-12-09T10:00:00Z"})");
    ASSERT_TRUE(link.has_value());
    EXPECT_EQ(link->session_id, "1759442545187t415674");
    const auto delivered = json::parse(form_link_delivery(u, "1234", *link));
    EXPECT_EQ(delivered.at("kind"), "eform-link");
    EXPECT_EQ(delivered.at("patient_ref"), "690");
    EXPECT_EQ(delivered.at("site"), "1234");
    EXPECT_EQ(delivered.at("url"), "https://ocean.example/intake/patients.html?linkRef=abc");
    EXPECT_EQ(delivered.at("ocean_session_id"), "1759442545187t415674");
    EXPECT_EQ(delivered.at("expires_at"), "2026-12-09T10:00:00Z");
    EXPECT_EQ(delivered.at("form_refs").as_array().size(), 2U);

    for (const char* bad : {"", "[]", "{}", R"j({"url":"javascript:alert(1)","oceanSessionId":"s"})j",
                            R"({"url":"https://x","oceanSessionId":"has space"})", R"({"url":7,"oceanSessionId":"s"})"}) {
        EXPECT_FALSE(parse_form_link(bad).has_value()) << bad;
    }
}

TEST(OpenApiRequests, CreatedRefsAreReadStrictly) {
    EXPECT_EQ(parse_created_ref("msg-123\n"), "msg-123");
    EXPECT_EQ(parse_created_ref(R"("att:9")"), "att:9");
    for (const char* bad : {"", "  ", "two words", "<html>", R"({"ref":"x"})"}) {
        EXPECT_FALSE(parse_created_ref(bad).has_value()) << bad;
    }
}

}  // namespace
