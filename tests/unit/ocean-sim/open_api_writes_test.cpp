// ocean-sim's receiving side of the Open API writes over real loopback sockets: attachments and messages
// encrypted with libs/ocean as an integration encrypts them, eForm links and their completion (the note,
// and Ocean's forms-completion notification), what is stored and exposed, refusals, and fault injection.
#include "open_api_writes.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "api_faults.hpp"
#include "generator.hpp"
#include "observations.hpp"
#include "ocean_api.hpp"
#include "open_api_webhook.hpp"
#include "referral_state.hpp"
#include "relay/core/encoding.hpp"
#include "relay/http/client.hpp"
#include "relay/ocean/crypto.hpp"
#include "sim_config.hpp"

namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace json = boost::json;
namespace ocean = relay::ocean;
using namespace relay::ocean_sim;
using relay::Secret;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr std::string_view kSite = "4321";
constexpr std::string_view kSiteKey = "site-key-abc";
constexpr std::string_view kSiteCredential = "site-credential-xyz";
constexpr std::string_view kSek = "0123456789abcdef";
constexpr std::string_view kOtherSite = "9876";
constexpr std::string_view kOtherSiteKey = "other-key";
constexpr std::string_view kOtherSiteCredential = "other-credential";

template <typename T>
T value(const ocean::Result<T>& result) {
    if (const auto* error = std::get_if<relay::Error>(&result)) ADD_FAILURE() << error->message;
    return std::get<T>(result);
}

Headers site_headers(std::string_view credential = kSiteCredential) {
    return {{"siteNum", std::string(kSite)},
            {"siteKey", std::string(kSiteKey)},
            {"siteCredential", std::string(credential)}};
}

Headers other_site_headers() {
    return {{"siteNum", std::string(kOtherSite)},
            {"siteKey", std::string(kOtherSiteKey)},
            {"siteCredential", std::string(kOtherSiteCredential)}};
}

std::string hex_sha256(std::string_view bytes) {
    return relay::hex_encode(relay::sha256(bytes));
}

/// An attachment as an integration sends it: the file under a fresh one-time key K and IV, K under the
/// site's SEK with its own IV, the file name under K with the file's IV.
struct Upload {
    std::string iv;          ///< raw
    std::string ciphertext;  ///< raw
    Headers headers;         ///< the crypto headers (not the site's)
    [[nodiscard]] std::string body() const { return relay::base64_encode(ciphertext); }
};

Upload make_upload(std::string_view bytes,
                   std::string_view file_name = {},
                   std::string_view sek = kSek,
                   std::string content_type = "application/pdf") {
    const std::string key = value(ocean::generate_one_time_key());
    Upload up;
    up.iv = value(ocean::random_bytes(16));
    up.ciphertext = value(ocean::aes_cbc_encrypt(key, up.iv, bytes));
    const auto wrapped = value(ocean::wrap_one_time_key(sek, key));
    up.headers = {{"ivBase64", relay::base64_encode(up.iv)},
                  {"oneTimeKey", wrapped.data_b64},
                  {"oneTimeKeyIv", wrapped.iv_b64},
                  {"attachmentContentType", std::move(content_type)}};
    if (!file_name.empty())
        up.headers.emplace_back("encryptedFileName",
                                relay::base64_encode(value(ocean::aes_cbc_encrypt(key, up.iv, file_name))));
    return up;
}

Headers with(Headers a, const Headers& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

Headers without(Headers headers, std::string_view name) {
    std::erase_if(headers, [&](const auto& h) { return h.first == name; });
    return headers;
}

/// A file of `size` bytes that is not all one byte.
std::string file_bytes(std::size_t size) {
    std::string out = minimal_pdf("Consult note");
    while (out.size() < size) out += static_cast<char>('a' + out.size() % 26);
    out.resize(size);
    return out;
}

std::string message_json(const json::object& comment) {
    return json::serialize(json::object{{"message", comment}});
}

json::object encrypted_comment(std::string_view text, std::string_view sek = kSek) {
    const auto sealed = value(ocean::seal_blocks(sek, text));
    return json::object{
        {"encryptedMsg", json::object{{"data", sealed.data.data_b64}, {"iv", sealed.data.iv_b64}}},
        {"oneTimeKeyEncryptedWithSiteSEK",
         json::object{{"data", sealed.one_time_key.data_b64}, {"iv", sealed.one_time_key.iv_b64}}}};
}

/// The Open API webhook endpoint of an integration: echoes the challenge, records every body.
struct WebhookEndpoint {
    std::mutex mutex;
    std::vector<json::object> received;

    relay::http::Response respond(const relay::http::Request& request) {
        relay::http::Response res{bhttp::status::ok, request.version()};
        res.set(bhttp::field::content_type, "application/json");
        const json::object body = json::parse(request.body()).as_object();
        std::lock_guard lock(mutex);
        received.push_back(body);
        res.body() = body.contains("challenge")
                         ? json::serialize(json::object{{"challenge", body.at("challenge")}})
                         : std::string(R"({"status":"accepted"})");
        return res;
    }
    std::vector<json::object> seen() {
        std::lock_guard lock(mutex);
        return received;
    }
};

bool eventually(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
        if (done()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return done();
}

class OpenApiWritesTest : public ::testing::Test {
   protected:
    void SetUp() override {
        OceanApiConfig config;
        config.clients.push_back({"client-0123456789abcdef0123456789ab", Secret::from_value("secret")});
        config.signing_key = Secret::from_value("ocean-sim-test-signing-key-0123456789");
        config.sites.push_back({std::string(kSite),
                                Secret::from_value(std::string(kSiteKey)),
                                Secret::from_value(std::string(kSiteCredential)),
                                Secret::from_value(std::string(kSek))});
        config.sites.push_back({std::string(kOtherSite),
                                Secret::from_value(std::string(kOtherSiteKey)),
                                Secret::from_value(std::string(kOtherSiteCredential)),
                                Secret::from_value("fedcba9876543210")});
        config.rsa_key_bits = 1024;
        api_ = std::make_unique<OceanApi>(std::move(config), state_);

        ReferralSpec spec;
        spec.seed = 7;
        spec.site_number = std::string(kSite);
        spec.listing_ref = "harbourfront_clinic-73632721";
        spec.request_url = "https://relay.example/ocean/fhir/$process-message";
        sent_ = generate(spec);
        state_.record_sent(sent_, spec.listing_ref, kSite);
        spec.seed = 8;
        second_ = generate(spec);
        state_.record_sent(second_, spec.listing_ref, kSite);

        faults_ = std::make_unique<ApiFaults>(fault_rules(), 1);
        relay::http::ListenerConfig listener;
        listener.address = "127.0.0.1";
        listener.port = 0;
        server_ = std::make_unique<relay::http::Server>(ioc_, listener, faults_->wrap(api_->handler()));
        server_->start();
        thread_ = std::thread([this] { ioc_.run(); });
        client_ = std::make_unique<relay::http::BlockingClient>("127.0.0.1", server_->port());
    }

    /// The API listener's fault rules (subclasses).
    virtual std::vector<ApiFaultRule> fault_rules() { return {}; }

    void TearDown() override {
        client_.reset();
        ioc_.stop();
        thread_.join();
        webhook_server_.reset();
        server_.reset();
    }

    relay::http::ClientResponse post_attachment(const std::string& ref,
                                                const std::string& body,
                                                const Headers& headers,
                                                const std::string& content_type = "text/plain") {
        return client_->post("/svc/v1/referrals/" + ref + "/attachments", body, content_type, headers);
    }

    relay::http::ClientResponse post_message(const std::string& ref,
                                             const std::string& body,
                                             const Headers& headers = site_headers()) {
        return client_->post("/svc/v1/referrals/" + ref + "/messages", body, "application/json", headers);
    }

    relay::http::ClientResponse post_form_links(const std::string& patient_ref,
                                                const std::string& body,
                                                const Headers& headers = site_headers()) {
        return client_->post(
            "/svc/v1/patients/" + patient_ref + "/formLinks", body, "application/json", headers);
    }

    /// Uploads `bytes` to the first referral and returns the fileRef.
    std::string upload(std::string_view bytes, const std::string& ref = {}) {
        const Upload up = make_upload(bytes, "scan.pdf");
        const auto res = post_attachment(
            ref.empty() ? sent_.referral_ref : ref, up.body(), with(site_headers(), up.headers));
        EXPECT_EQ(res.result_int(), 200u) << res.body();
        return res.body();
    }

    /// The decrypted PtUpdate of GET /svc/v1/patients/{ref}/notes?oceanSessionId=, or the status.
    std::variant<json::object, unsigned> note(const std::string& patient_ref, const std::string& session) {
        const auto res = client_->get("/svc/v1/patients/" + patient_ref + "/notes?oceanSessionId=" + session,
                                      site_headers());
        if (res.result_int() != 200) return res.result_int();
        const ocean::EncryptedPayload payload{res.body(),
                                              std::string(res["iv"]),
                                              std::string(res["oneTimeKey"]),
                                              std::string(res["oneTimeKeyIv"])};
        return json::parse(value(ocean::open(kSek, payload, ocean::HeaderLayout::kSeparateKeyIv)))
            .as_object();
    }

    /// Starts an integration's Open API webhook endpoint and a notifier aimed at it (nothing planned).
    OpenApiNotifier& start_notifier() {
        relay::http::ListenerConfig listener;
        listener.address = "127.0.0.1";
        listener.port = 0;
        webhook_server_ = std::make_unique<relay::http::Server>(
            ioc_, listener, [this](relay::http::Request& request, const relay::http::RequestContext&) {
                return [](relay::http::Response r) -> asio::awaitable<relay::http::Response> {
                    co_return r;
                }(endpoint_.respond(request));
            });
        webhook_server_->start();
        OpenApiWebhookPlan plan;
        plan.url = "http://127.0.0.1:" + std::to_string(webhook_server_->port()) + "/openapi/webhook";
        plan.site_number = std::string(kSite);
        notifier_ = std::make_unique<OpenApiNotifier>(strand_, plan, 0, observations_);
        return *notifier_;
    }

    asio::io_context ioc_;
    asio::any_io_executor strand_ = asio::make_strand(ioc_);
    ReferralState state_;
    std::unique_ptr<OceanApi> api_;
    std::unique_ptr<ApiFaults> faults_;
    std::unique_ptr<relay::http::Server> server_;
    std::thread thread_;
    std::unique_ptr<relay::http::BlockingClient> client_;
    GeneratedReferral sent_;
    GeneratedReferral second_;
    WebhookEndpoint endpoint_;
    Observations observations_;
    std::unique_ptr<relay::http::Server> webhook_server_;
    std::unique_ptr<OpenApiNotifier> notifier_;
};

/// A refusal is Ocean-style JSON with a fixed error and description, and nothing else.
void expect_fixed_error(const relay::http::ClientResponse& res, std::string_view error) {
    EXPECT_EQ(res[bhttp::field::content_type], "application/json");
    const auto body = json::parse(res.body()).as_object();
    EXPECT_EQ(body.size(), 2u) << res.body();
    EXPECT_EQ(body.at("error").as_string(), error) << res.body();
    EXPECT_TRUE(body.contains("error_description"));
}

// ---- attachments

TEST_F(OpenApiWritesTest, AttachmentEncryptedWithTheLibraryIsStoredWithItsDigest) {
    const std::string bytes = file_bytes(5000);
    const Upload up = make_upload(bytes, "Échographie 2026.pdf");
    const auto res = post_attachment(sent_.referral_ref, up.body(), with(site_headers(), up.headers));
    ASSERT_EQ(res.result_int(), 200u) << res.body();
    EXPECT_EQ(res[bhttp::field::content_type], "text/plain");
    const std::string file_ref = res.body();
    EXPECT_EQ(file_ref.size(), 36u) << "a uuid";

    const auto stored = api_->writes().attachments();
    ASSERT_EQ(stored.size(), 1u);
    EXPECT_EQ(stored[0].file_ref, file_ref);
    EXPECT_EQ(stored[0].referral_ref, sent_.referral_ref);
    EXPECT_EQ(stored[0].site_num, kSite);
    EXPECT_EQ(stored[0].content_type, "application/pdf");
    EXPECT_EQ(stored[0].size, bytes.size());
    EXPECT_EQ(stored[0].sha256, hex_sha256(bytes));
    EXPECT_EQ(stored[0].file_name, "Échographie 2026.pdf") << "decrypted, kept in memory";

    const auto exposed = json::parse(api_->writes_json()).as_object();
    const auto& attachments = exposed.at("attachments").as_object();
    EXPECT_EQ(attachments.at("received").to_number<std::uint64_t>(), 1u);
    const auto& item = attachments.at("items").as_array().at(0).as_object();
    EXPECT_EQ(item.at("file_ref").as_string(), file_ref);
    EXPECT_EQ(item.at("sha256").as_string(), hex_sha256(bytes));
    EXPECT_EQ(item.at("size").to_number<std::uint64_t>(), bytes.size());
    EXPECT_TRUE(item.at("has_file_name").as_bool());
    EXPECT_EQ(api_->writes_json().find("chographie"), std::string::npos) << "no file name exposed";
}

TEST_F(OpenApiWritesTest, AttachmentWithoutFileNameAndAnyTextPlainSpelling) {
    const std::string bytes = "x";  // one block of ciphertext
    const Upload up = make_upload(bytes, {}, kSek, "image/png");
    const auto res = post_attachment(sent_.referral_ref,
                                     up.body() + "\r\n",
                                     with(site_headers(), up.headers),
                                     "Text/Plain; charset=utf-8");
    ASSERT_EQ(res.result_int(), 200u) << res.body();
    const auto stored = api_->writes().attachments();
    ASSERT_EQ(stored.size(), 1u);
    EXPECT_FALSE(stored[0].file_name);
    EXPECT_EQ(stored[0].content_type, "image/png");
    EXPECT_EQ(stored[0].size, 1u);
}

TEST_F(OpenApiWritesTest, AttachmentWithWrongCredentialsIs401) {
    const Upload up = make_upload(file_bytes(100));
    const auto wrong =
        post_attachment(sent_.referral_ref, up.body(), with(site_headers("wrong"), up.headers));
    EXPECT_EQ(wrong.result_int(), 401u);
    expect_fixed_error(wrong, "unauthorized");
    EXPECT_EQ(post_attachment(sent_.referral_ref, up.body(), up.headers).result_int(), 401u);
    // A site number Ocean does not know gets the same answer as a wrong secret (as the GETs do).
    Headers unknown_site = site_headers();
    unknown_site[0].second = "5555";
    EXPECT_EQ(post_attachment(sent_.referral_ref, up.body(), with(unknown_site, up.headers)).result_int(),
              401u);
    EXPECT_TRUE(api_->writes().attachments().empty());
    const auto refused = json::parse(api_->writes_json()).at("refused").as_object();
    EXPECT_EQ(refused.at("attachments").at("401").to_number<std::uint64_t>(), 3u);
}

TEST_F(OpenApiWritesTest, AttachmentForAnUnknownOrAnotherSitesReferralIs404) {
    const Upload up = make_upload(file_bytes(100));
    const auto unknown = post_attachment("no-such-referral", up.body(), with(site_headers(), up.headers));
    EXPECT_EQ(unknown.result_int(), 404u);
    expect_fixed_error(unknown, "not_found");
    // The referral is site 4321's: for site 9876 it does not exist.
    EXPECT_EQ(
        post_attachment(sent_.referral_ref, up.body(), with(other_site_headers(), up.headers)).result_int(),
        404u);
    EXPECT_TRUE(api_->writes().attachments().empty());
}

TEST_F(OpenApiWritesTest, TamperedCiphertextWrongSekAndBadHeadersAre400WithoutEchoingTheInput) {
    const std::string bytes = file_bytes(1000);  // 1000 % 16 = 8: eight bytes of padding, two+ blocks
    const auto expect_400 = [&](const std::string& body,
                                const Headers& crypto,
                                std::string_view error,
                                const std::string& content_type = "text/plain") {
        const auto res =
            post_attachment(sent_.referral_ref, body, with(site_headers(), crypto), content_type);
        EXPECT_EQ(res.result_int(), 400u) << error;
        expect_fixed_error(res, error);
        if (!body.empty()) {
            EXPECT_EQ(res.body().find(body.substr(0, 16)), std::string::npos) << "the input is not echoed";
        }
    };

    // Flipping the second-to-last block turns the last padding byte (8) into 0: never valid padding.
    Upload tampered = make_upload(bytes);
    tampered.ciphertext[tampered.ciphertext.size() - 17] ^= 8;
    expect_400(tampered.body(), tampered.headers, "undecryptable");

    const Upload foreign = make_upload(bytes, {}, "another-site-sek");  // K wrapped under another SEK
    expect_400(foreign.body(), foreign.headers, "invalid_key");

    const Upload good = make_upload(bytes, "scan.pdf");
    expect_400("not base64 at all!", good.headers, "undecryptable");
    expect_400(good.body().substr(0, good.body().size() - 4), good.headers, "undecryptable");  // truncated
    expect_400("", good.headers, "empty_body");
    expect_400(good.body(), without(good.headers, "ivBase64"), "missing_header");
    expect_400(good.body(), without(good.headers, "oneTimeKey"), "missing_header");
    expect_400(good.body(), without(good.headers, "oneTimeKeyIv"), "missing_header");
    expect_400(good.body(), without(good.headers, "attachmentContentType"), "missing_header");
    Headers short_iv = without(good.headers, "ivBase64");
    short_iv.emplace_back("ivBase64", relay::base64_encode("12345678"));
    expect_400(good.body(), short_iv, "invalid_header");
    Headers bad_type = without(good.headers, "attachmentContentType");
    bad_type.emplace_back("attachmentContentType", "pdf");
    expect_400(good.body(), bad_type, "invalid_header");
    Headers bad_name = without(good.headers, "encryptedFileName");
    bad_name.emplace_back("encryptedFileName", "bm90IGNpcGhlcnRleHQ=");
    expect_400(good.body(), bad_name, "invalid_file_name");
    expect_400(good.body(), good.headers, "invalid_content_type", "application/octet-stream");

    EXPECT_TRUE(api_->writes().attachments().empty());
    // The untouched upload is accepted.
    EXPECT_EQ(
        post_attachment(sent_.referral_ref, good.body(), with(site_headers(), good.headers)).result_int(),
        200u);
}

TEST_F(OpenApiWritesTest, OversizedBodiesAre413) {
    const std::string big(kMaxMessageBody + 1, ' ');
    const auto res = post_message(sent_.referral_ref, big);
    EXPECT_EQ(res.result_int(), 413u);
    expect_fixed_error(res, "payload_too_large");
}

// ---- messages

TEST_F(OpenApiWritesTest, PlainMessageIsStoredAsLengthAndDigest) {
    const std::string text = "Appointment booked; please bring the requisition.";
    const auto res = post_message(
        sent_.referral_ref, message_json(json::object{{"message", text}, {"showForOtherSites", false}}));
    ASSERT_EQ(res.result_int(), 200u) << res.body();
    EXPECT_EQ(res[bhttp::field::content_type], "text/plain");
    const auto stored = api_->writes().messages();
    ASSERT_EQ(stored.size(), 1u);
    EXPECT_EQ(stored[0].message_ref, res.body());
    EXPECT_EQ(stored[0].referral_ref, sent_.referral_ref);
    EXPECT_FALSE(stored[0].encrypted);
    EXPECT_EQ(stored[0].text_length, text.size());
    EXPECT_EQ(stored[0].sha256, hex_sha256(text));
    EXPECT_EQ(stored[0].show_for_other_sites, false);
    EXPECT_EQ(api_->writes_json().find("requisition"), std::string::npos) << "no text exposed";
}

TEST_F(OpenApiWritesTest, EncryptedMessageWithAttachmentsIsDecryptedAndLinked) {
    const std::string first = upload(file_bytes(300));
    const std::string second = upload(file_bytes(40));
    const std::string text = "Consult note attached — see page 2.";
    json::object comment = encrypted_comment(text);
    comment["attachmentRefDtos"] =
        json::array{json::object{{"fileRef", first}}, json::object{{"fileRef", second}}};
    comment["targetSiteNum"] = "1234";
    comment["showForOtherSites"] = true;
    const auto res = post_message(sent_.referral_ref, message_json(comment));
    ASSERT_EQ(res.result_int(), 200u) << res.body();
    const auto stored = api_->writes().messages();
    ASSERT_EQ(stored.size(), 1u);
    EXPECT_TRUE(stored[0].encrypted);
    EXPECT_EQ(stored[0].text_length, text.size());
    EXPECT_EQ(stored[0].sha256, hex_sha256(text));
    EXPECT_EQ(stored[0].attachment_refs, (std::vector<std::string>{first, second}));
    EXPECT_EQ(stored[0].target_site_num, "1234");
    EXPECT_EQ(stored[0].show_for_other_sites, true);

    const auto item =
        json::parse(api_->writes_json()).at("messages").at("items").as_array().at(0).as_object();
    EXPECT_EQ(item.at("message_ref").as_string(), res.body());
    EXPECT_EQ(item.at("attachment_refs").as_array().size(), 2u);
    EXPECT_EQ(item.at("sha256").as_string(), hex_sha256(text));
}

TEST_F(OpenApiWritesTest, MessageNamingAnUnknownOrAnotherReferralsFileRefIs400) {
    const std::string of_second = upload(file_bytes(64), second_.referral_ref);
    json::object comment{{"message", "see attached"}};
    comment["attachmentRefDtos"] = json::array{json::object{{"fileRef", "no-such-file"}}};
    const auto unknown = post_message(sent_.referral_ref, message_json(comment));
    EXPECT_EQ(unknown.result_int(), 400u);
    expect_fixed_error(unknown, "unknown_attachment");
    comment["attachmentRefDtos"] = json::array{json::object{{"fileRef", of_second}}};
    EXPECT_EQ(post_message(sent_.referral_ref, message_json(comment)).result_int(), 400u)
        << "an attachment of another referral";
    EXPECT_EQ(post_message(second_.referral_ref, message_json(comment)).result_int(), 200u);
    EXPECT_EQ(api_->writes().messages().size(), 1u);
}

TEST_F(OpenApiWritesTest, MalformedOrUndecryptableMessagesAre400) {
    const auto expect_400 = [&](const std::string& body, std::string_view error) {
        const auto res = post_message(sent_.referral_ref, body);
        EXPECT_EQ(res.result_int(), 400u) << body;
        expect_fixed_error(res, error);
    };
    expect_400("not json", "invalid_json");
    expect_400(R"({"text": "hello"})", "invalid_json");
    expect_400(R"({"message": "hello"})", "invalid_json");
    expect_400(message_json(json::object{}), "invalid_message");
    expect_400(message_json(json::object{{"message", "   "}}), "invalid_message");
    expect_400(message_json(json::object{{"message", 42}}), "invalid_message");
    json::object both = encrypted_comment("secret");
    both["message"] = "plain";
    expect_400(message_json(both), "invalid_message");
    json::object no_key = encrypted_comment("secret");
    no_key.erase("oneTimeKeyEncryptedWithSiteSEK");
    expect_400(message_json(no_key), "invalid_message");
    expect_400(message_json(encrypted_comment("sealed under another SEK", "another-site-sek")),
               "invalid_key");
    json::object tampered = encrypted_comment("0123456789abcdef0123456789");  // 26 bytes: 6 of padding
    auto data = *relay::base64_decode(tampered.at("encryptedMsg").at("data").as_string());
    data[data.size() - 17] ^= 6;  // the last padding byte becomes 0
    tampered["encryptedMsg"].as_object()["data"] = relay::base64_encode(data);
    expect_400(message_json(tampered), "undecryptable");
    json::object bad_refs{{"message", "hi"}, {"attachmentRefDtos", json::array{"ref"}}};
    expect_400(message_json(bad_refs), "invalid_attachment_ref");
    expect_400(message_json(json::object{{"message", "hi"}, {"showForOtherSites", "yes"}}),
               "invalid_message");
    expect_400(message_json(json::object{{"message", "hi"}, {"targetSiteNum", 1234}}), "invalid_message");
    EXPECT_TRUE(api_->writes().messages().empty());

    EXPECT_EQ(
        post_message(sent_.referral_ref, message_json(json::object{{"message", "hi"}}), site_headers("x"))
            .result_int(),
        401u);
    EXPECT_EQ(post_message("no-such-referral", message_json(json::object{{"message", "hi"}})).result_int(),
              404u);
}

// ---- eForm links

TEST_F(OpenApiWritesTest, FormLinkReturnsUrlAndSessionAndItsNoteAppearsOnceCompleted) {
    const std::string patient = sent_.referral_ref;  // the simulator's patients are its referrals
    const auto res = post_form_links(patient, R"({"formRefs": ["phq9", "gad7"], "expiryHours": 48})");
    ASSERT_EQ(res.result_int(), 200u) << res.body();
    EXPECT_EQ(res[bhttp::field::content_type], "application/json");
    const auto body = json::parse(res.body()).as_object();
    const std::string url(body.at("url").as_string());
    const std::string session(body.at("oceanSessionId").as_string());
    EXPECT_TRUE(std::regex_match(
        url, std::regex("https://ocean\\.cognisantmd\\.com/intake/patients\\.html\\?linkRef=[0-9a-f-]{36}")))
        << url;
    EXPECT_TRUE(std::regex_match(session, std::regex("[0-9]{13}t[0-9]{6}"))) << session;
    EXPECT_TRUE(std::regex_match(std::string(body.at("expiresAt").as_string()),
                                 std::regex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z")));

    const auto links = api_->writes().links();
    ASSERT_EQ(links.size(), 1u);
    EXPECT_EQ(links[0].patient_ref, patient);
    EXPECT_EQ(links[0].session_id, session);
    EXPECT_EQ(links[0].url, url);
    EXPECT_EQ(links[0].form_refs, (std::vector<std::string>{"phq9", "gad7"}));
    EXPECT_EQ(links[0].expiry_hours, 48);
    EXPECT_FALSE(links[0].completed);

    // Not completed yet: no note for the session.
    EXPECT_EQ(std::get<unsigned>(note(patient, session)), 404u);
    ASSERT_TRUE(api_->complete_form_link(session));
    EXPECT_FALSE(api_->complete_form_link(session)) << "a link is completed once";
    EXPECT_FALSE(api_->complete_form_link("1759442545187t415674")) << "not a session of a link";

    const auto completed = note(patient, session);
    ASSERT_TRUE(std::holds_alternative<json::object>(completed));
    const auto& update = std::get<json::object>(completed);
    const auto& forms = update.at("completedForms").as_object();
    EXPECT_EQ(forms.size(), 2u);
    EXPECT_EQ(forms.at("phq9").at("total").as_string(), "7");
    EXPECT_TRUE(forms.contains("gad7"));
    EXPECT_EQ(update.at("progressNote").at("noteType").as_string(), "FORM");
    // The session is this patient's only.
    EXPECT_EQ(std::get<unsigned>(note(second_.referral_ref, session)), 404u);
    // Sessions Ocean started itself still get the PHQ-9 note, as before.
    const auto other = note(patient, "1759442545187t415674");
    ASSERT_TRUE(std::holds_alternative<json::object>(other));
    EXPECT_EQ(std::get<json::object>(other).at("progressNote").at("title").as_string(), "PHQ-9");

    const auto item =
        json::parse(api_->writes_json()).at("form_links").at("items").as_array().at(0).as_object();
    EXPECT_EQ(item.at("session_id").as_string(), session);
    EXPECT_TRUE(item.at("completed").as_bool());
    EXPECT_EQ(item.at("form_refs").as_array().size(), 2u);
}

TEST_F(OpenApiWritesTest, FormLinkRequestsAreChecked) {
    const std::string patient = sent_.referral_ref;
    ASSERT_EQ(post_form_links(patient, R"({"formRefs": ["yas_ereferral_form:v2"]})").result_int(), 200u);
    EXPECT_EQ(api_->writes().links().back().expiry_hours, 72) << "the default";
    const auto expect_400 = [&](const std::string& body, std::string_view error) {
        const auto res = post_form_links(patient, body);
        EXPECT_EQ(res.result_int(), 400u) << body;
        expect_fixed_error(res, error);
    };
    expect_400("[]", "invalid_json");
    expect_400(R"({"expiryHours": 5})", "invalid_form_refs");
    expect_400(R"({"formRefs": []})", "invalid_form_refs");
    expect_400(R"({"formRefs": ["phq 9"]})", "invalid_form_refs");
    expect_400(R"({"formRefs": [""]})", "invalid_form_refs");
    expect_400(R"({"formRefs": [7]})", "invalid_form_refs");
    expect_400(R"({"formRefs": [")" + std::string(65, 'a') + R"("]})", "invalid_form_refs");
    json::array many;
    for (int i = 0; i < 21; ++i) many.emplace_back("form" + std::to_string(i));
    expect_400(json::serialize(json::object{{"formRefs", many}}), "invalid_form_refs");
    expect_400(R"({"formRefs": ["phq9"], "expiryHours": 0})", "invalid_expiry");
    expect_400(R"({"formRefs": ["phq9"], "expiryHours": 721})", "invalid_expiry");
    expect_400(R"({"formRefs": ["phq9"], "expiryHours": 1.5})", "invalid_expiry");
    expect_400(R"({"formRefs": ["phq9"], "expiryHours": "72"})", "invalid_expiry");
    EXPECT_EQ(post_form_links("no-such-patient", R"({"formRefs": ["phq9"]})").result_int(), 404u);
    EXPECT_EQ(post_form_links(patient, R"({"formRefs": ["phq9"]})", site_headers("x")).result_int(), 401u);
    EXPECT_EQ(api_->writes().links().size(), 1u);
}

TEST_F(OpenApiWritesTest, CompletionWithoutANotifierMakesTheNoteAvailable) {
    const auto res = post_form_links(sent_.referral_ref, R"({"formRefs": ["gad7"]})");
    ASSERT_EQ(res.result_int(), 200u);
    const std::string session(json::parse(res.body()).at("oceanSessionId").as_string());
    asio::co_spawn(strand_,
                   complete_form_link_after(*api_, nullptr, session, std::chrono::milliseconds(20)),
                   asio::detached);
    ASSERT_TRUE(
        eventually([&] { return std::holds_alternative<json::object>(note(sent_.referral_ref, session)); }));
    const auto update = std::get<json::object>(note(sent_.referral_ref, session));
    EXPECT_TRUE(update.at("completedForms").as_object().contains("gad7"));
}

TEST_F(OpenApiWritesTest, CompletionSendsOceansFormsCompletionNotificationAfterTheChallenge) {
    OpenApiNotifier& notifier = start_notifier();
    // As main wires it: every link issued is completed after a delay, then notified.
    api_->on_link_issued([this, &notifier](const FormLink& link) {
        asio::co_spawn(
            strand_,
            complete_form_link_after(*api_, &notifier, link.session_id, std::chrono::milliseconds(50)),
            asio::detached);
    });
    const auto res = post_form_links(sent_.referral_ref, R"({"formRefs": ["phq9", "gad7"]})");
    ASSERT_EQ(res.result_int(), 200u);
    const std::string session(json::parse(res.body()).at("oceanSessionId").as_string());

    ASSERT_TRUE(eventually([&] { return endpoint_.seen().size() >= 2; }));
    const auto seen = endpoint_.seen();
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_TRUE(seen[0].contains("challenge")) << "the endpoint is validated first";
    const auto& n = seen[1];
    EXPECT_EQ(n.at("type").as_string(), "notify-patient-message-forms-completion");
    EXPECT_EQ(n.at("ref").as_string(), sent_.referral_ref);
    EXPECT_EQ(n.at("siteNum").as_string(), kSite);
    EXPECT_EQ(n.at("customProperties").at("oceanSessionId").as_string(), session);

    // By the time Ocean notifies, the note is there for the fetcher to pull.
    const auto update = note(sent_.referral_ref, session);
    ASSERT_TRUE(std::holds_alternative<json::object>(update));
    EXPECT_EQ(std::get<json::object>(update).at("completedForms").as_object().size(), 2u);
    const auto summary = observations_.summary().open_api;
    EXPECT_EQ(summary.challenge, "passed");
    EXPECT_EQ(summary.delivered_by_type.at("notify-patient-message-forms-completion"), 1u);

    // A second link: no second challenge.
    ASSERT_EQ(post_form_links(sent_.referral_ref, R"({"formRefs": ["phq9"]})").result_int(), 200u);
    ASSERT_TRUE(eventually([&] { return endpoint_.seen().size() >= 3; }));
    EXPECT_EQ(endpoint_.seen()[2].at("type").as_string(), "notify-patient-message-forms-completion");
    asio::post(strand_, [&notifier] { notifier.stop(); });
}

TEST_F(OpenApiWritesTest, WriteRoutesTakePostOnly) {
    EXPECT_EQ(
        client_->get("/svc/v1/referrals/" + sent_.referral_ref + "/attachments", site_headers()).result_int(),
        405u);
    EXPECT_EQ(
        client_->get("/svc/v1/referrals/" + sent_.referral_ref + "/messages", site_headers()).result_int(),
        405u);
    EXPECT_EQ(
        client_->get("/svc/v1/patients/" + sent_.referral_ref + "/formLinks", site_headers()).result_int(),
        405u);
}

TEST(OpenApiWriteLimits, EachRouteHasItsBodyLimit) {
    const auto limit = [](bhttp::verb method, std::string target) {
        relay::http::Request request{method, target, 11};
        return api_body_limit(request);
    };
    EXPECT_EQ(limit(bhttp::verb::post, "/svc/v1/referrals/r1/attachments"), kMaxAttachmentBody);
    EXPECT_EQ(limit(bhttp::verb::post, "/svc/v1/referrals/r1/messages"), kMaxMessageBody);
    EXPECT_EQ(limit(bhttp::verb::post, "/svc/v1/patients/p1/formLinks?x=1"), kMaxFormLinkBody);
    EXPECT_EQ(limit(bhttp::verb::post, "/svc/fhir/v1/$process-messages"), kMaxOtherApiBody);
    EXPECT_EQ(limit(bhttp::verb::get, "/svc/v1/referrals/r1/attachments"), kMaxOtherApiBody);
}

// ---- configuration and fault injection

SimConfig parse(const std::string& yaml) {
    auto reader = relay::ConfigReader::from_string(
        yaml, "RELAY_SIM", [](const std::string&) { return std::optional<std::string>(); });
    return load_sim_config(reader);
}

std::string config_error(const std::string& yaml) {
    try {
        parse(yaml);
    } catch (const relay::ConfigError& e) {
        return e.what();
    }
    return "no error";
}

constexpr std::string_view kApiYaml = R"(
webhooks: {target_url: "http://127.0.0.1:8080/ocean/1234/fhir", ocean_host: "https://test.cognisantmd.com/"}
api:
  signing_key: {value: ocean-sim-test-signing-key-0123456789}
  clients: [{client_id: c, client_secret: {value: s}}]
  sites: [{site_num: "4321", site_key: {value: k}, site_credential: {value: c}, sek: {value: "0123456789abcdef"}}]
  faults:
    - {kind: down, status: 500, delay: 1h, path_prefix: /svc/v1/referrals/, method: POST}
    - {kind: status, status: 401, path_prefix: /svc/v1/patients/, method: POST}
)";

TEST(OpenApiWritesConfig, CompletionDelayFaultMethodsHostAndBodyLimit) {
    const auto config = parse(std::string(kApiYaml) + R"(
open_api: {url: "http://127.0.0.1:1/openapi/webhook", complete_links_after: 250ms}
)");
    ASSERT_TRUE(config.open_api);
    ASSERT_TRUE(config.open_api->complete_links_after);
    EXPECT_EQ(*config.open_api->complete_links_after, std::chrono::milliseconds(250));
    ASSERT_TRUE(config.api);
    EXPECT_EQ(config.api->ocean_host, "https://test.cognisantmd.com/");
    EXPECT_EQ(config.api_listener.limits.body_limit, kMaxAttachmentBody);
    ASSERT_EQ(config.api_faults.size(), 2u);
    EXPECT_EQ(config.api_faults[0].method, bhttp::verb::post);
    EXPECT_EQ(config.api_faults[0].rule.kind, relay::http::FaultRule::Kind::kDown);
    EXPECT_EQ(config.api_faults[1].rule.status, 401);

    const auto plain = parse(std::string(kApiYaml) + "open_api: {url: \"http://127.0.0.1:1/hook\"}\n");
    EXPECT_FALSE(plain.open_api->complete_links_after) << "off unless set";
    EXPECT_NE(config_error("webhooks: {target_url: \"http://x/\"}\n"
                           "open_api: {url: \"http://x/\", complete_links_after: 1s}\n")
                  .find("open_api.complete_links_after"),
              std::string::npos)
        << "links come from the api section";
    EXPECT_NE(config_error(std::string(kApiYaml) + "    - {kind: reset, method: PATCH}\n").find("method"),
              std::string::npos);
}

/// The API listener with the faults of kApiYaml: the writes fail, the reads on the same paths do not.
class OpenApiWritesFaultTest : public OpenApiWritesTest {
   protected:
    std::vector<ApiFaultRule> fault_rules() override { return parse(std::string(kApiYaml)).api_faults; }
};

TEST_F(OpenApiWritesFaultTest, FaultsApplyToTheWritesByMethod) {
    const Upload up = make_upload(file_bytes(100));
    const auto attachment = post_attachment(sent_.referral_ref, up.body(), with(site_headers(), up.headers));
    EXPECT_EQ(attachment.result_int(), 500u);
    EXPECT_EQ(post_message(sent_.referral_ref, message_json(json::object{{"message", "hi"}})).result_int(),
              500u);
    EXPECT_EQ(post_form_links(sent_.referral_ref, R"({"formRefs": ["phq9"]})").result_int(), 401u);
    // The GETs on the same paths are not POSTs: served.
    EXPECT_EQ(client_->get("/svc/v1/referrals/" + sent_.referral_ref, site_headers()).result_int(), 200u);
    EXPECT_EQ(client_->get("/svc/v1/patients/" + sent_.referral_ref, site_headers()).result_int(), 200u);
    EXPECT_TRUE(api_->writes().attachments().empty());
    EXPECT_TRUE(api_->writes().links().empty());
    const auto injected = faults_->injected();
    EXPECT_EQ(injected.at("down"), 2u);
    EXPECT_EQ(injected.at("status"), 1u);
}

TEST(ApiFaults, RulesWithoutAMethodApplyToEveryMethod) {
    relay::http::FaultRule rule;
    rule.kind = relay::http::FaultRule::Kind::kStatus;
    rule.status = 503;
    rule.path_prefix = "/svc/v1/";
    ApiFaults faults({ApiFaultRule{rule, std::nullopt}}, 1);
    asio::io_context ioc;
    relay::http::ListenerConfig listener;
    listener.address = "127.0.0.1";
    listener.port = 0;
    relay::http::Server server(
        ioc, listener, faults.wrap([](relay::http::Request& request, const relay::http::RequestContext&) {
            return [](unsigned version) -> asio::awaitable<relay::http::Response> {
                co_return relay::http::Response{bhttp::status::ok, version};
            }(request.version());
        }));
    server.start();
    std::thread thread([&ioc] { ioc.run(); });
    {
        relay::http::BlockingClient client("127.0.0.1", server.port());
        EXPECT_EQ(client.get("/svc/v1/referrals/r").result_int(), 503u);
        EXPECT_EQ(client.post("/svc/v1/referrals/r/messages", "{}", "application/json").result_int(), 503u);
        EXPECT_EQ(client.get("/svc/fhir/v1/x").result_int(), 200u);
    }
    ioc.stop();
    thread.join();
    EXPECT_EQ(faults.injected().at("status"), 2u);
}

}  // namespace
