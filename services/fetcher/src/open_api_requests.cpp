#include "open_api_requests.hpp"

#include <boost/json.hpp>

#include "relay/core/encoding.hpp"

namespace relay::fetcher {

namespace json = boost::json;

namespace {

constexpr std::size_t kIvBytes = 16;

std::string target_for(std::string_view pattern, const std::string& ref) {
    std::string out(pattern);
    const auto at = out.find("{ref}");
    if (at != std::string::npos) out.replace(at, 5, ref);
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\n' || s.front() == '\r' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

template <typename T>
bool failed(const ocean::Result<T>& r) {
    return std::holds_alternative<Error>(r);
}

}  // namespace

ocean::Result<OpenApiCall> attachment_call(std::string_view sek,
                                           const std::string& referral_ref,
                                           const hub::AttachmentRequest& attachment,
                                           const OpenApiRequestOptions& options) {
    const auto bytes = base64_decode(attachment.data);
    if (!bytes) return Error{ErrorKind::kPermanent, "attachment data is not base64"};
    auto key = ocean::generate_one_time_key();
    if (failed(key)) return std::get<Error>(key);
    auto iv = ocean::random_bytes(kIvBytes);
    if (failed(iv)) return std::get<Error>(iv);
    const std::string& k = std::get<std::string>(key);
    const std::string& body_iv = std::get<std::string>(iv);
    auto ciphertext = ocean::aes_cbc_encrypt(k, body_iv, *bytes);
    if (failed(ciphertext)) return std::get<Error>(ciphertext);
    auto wrapped = ocean::wrap_one_time_key(sek, k);
    if (failed(wrapped)) return std::get<Error>(wrapped);

    OpenApiCall call;
    call.target = "/svc/v1/referrals/" + referral_ref + "/attachments";
    call.content_type = "text/plain";
    call.body = base64_encode(std::get<std::string>(ciphertext));
    const auto& wrapped_key = std::get<ocean::EncryptedBlock>(wrapped);
    call.headers = {{"ivBase64", base64_encode(body_iv)}};
    if (options.attachment_key_headers) {
        call.headers.emplace_back("oneTimeKey", wrapped_key.data_b64);
        call.headers.emplace_back("oneTimeKeyIv", wrapped_key.iv_b64);
        call.headers.emplace_back("attachmentContentType", attachment.content_type);
    }
    if (options.encrypt_file_names && !attachment.title.empty()) {
        auto name = ocean::aes_cbc_encrypt(k, body_iv, attachment.title);
        if (failed(name)) return std::get<Error>(name);
        call.headers.emplace_back("encryptedFileName", base64_encode(std::get<std::string>(name)));
    }
    return call;
}

ocean::Result<OpenApiCall> message_call(std::string_view sek,
                                        const hub::Update& update,
                                        const std::vector<std::string>& file_refs,
                                        const OpenApiRequestOptions& options) {
    json::object comment;
    if (options.encrypt_messages) {
        auto sealed = ocean::seal_blocks(sek, update.text);
        if (failed(sealed)) return std::get<Error>(sealed);
        const auto& blocks = std::get<ocean::SealedBlocks>(sealed);
        comment["encryptedMsg"] = json::object{{"data", blocks.data.data_b64}, {"iv", blocks.data.iv_b64}};
        comment["oneTimeKeyEncryptedWithSiteSEK"] =
            json::object{{"data", blocks.one_time_key.data_b64}, {"iv", blocks.one_time_key.iv_b64}};
    } else {
        comment["message"] = update.text;
    }
    if (!file_refs.empty()) {
        json::array refs;
        for (const auto& ref : file_refs) refs.emplace_back(json::object{{"fileRef", ref}});
        comment["attachmentRefDtos"] = std::move(refs);
    }
    if (!update.requested_at.empty()) comment["commentDate"] = update.requested_at;
    OpenApiCall call;
    call.target = "/svc/v1/referrals/" + update.referral_ref + "/messages";
    call.content_type = "application/json";
    call.body = json::serialize(json::object{{"message", std::move(comment)}});
    return call;
}

OpenApiCall form_link_call(const hub::Update& update, const OpenApiRequestOptions& options) {
    json::array forms;
    for (const auto& f : update.form_refs) forms.emplace_back(f);
    json::object body{{"formRefs", std::move(forms)}};
    if (update.expiry_hours > 0) body["expiryHours"] = update.expiry_hours;
    OpenApiCall call;
    call.target = target_for(options.form_links_path, update.patient_ref);
    call.content_type = "application/json";
    call.body = json::serialize(body);
    return call;
}

std::optional<std::string> parse_created_ref(std::string_view body) {
    std::string_view text = trim(body);
    if (text.size() >= 2 && text.front() == '"' && text.back() == '"') text = text.substr(1, text.size() - 2);
    if (!hub::is_ref(text)) return std::nullopt;
    return std::string(text);
}

std::optional<FormLink> parse_form_link(std::string_view body) {
    boost::system::error_code ec;
    const json::value v = json::parse(body, ec);
    if (ec || !v.is_object()) return std::nullopt;
    const auto& o = v.as_object();
    const auto* url = o.if_contains("url");
    const auto* session = o.if_contains("oceanSessionId");
    if (url == nullptr || session == nullptr || !url->is_string() || !session->is_string()) return std::nullopt;
    FormLink link;
    link.url = std::string(url->as_string());
    link.session_id = std::string(session->as_string());
    const bool web = link.url.starts_with("https://") || link.url.starts_with("http://");
    if (!web || link.url.size() > 2048 || !hub::is_ref(link.session_id)) return std::nullopt;
    if (const auto* expires = o.if_contains("expiresAt"); expires != nullptr && expires->is_string())
        link.expires_at = std::string(expires->as_string());
    return link;
}

std::string form_link_delivery(const hub::Update& update, const std::string& site, const FormLink& link) {
    json::array forms;
    for (const auto& f : update.form_refs) forms.emplace_back(f);
    json::object o{{"kind", "eform-link"},
                   {"update_id", update.update_id},
                   {"site", site},
                   {"patient_ref", update.patient_ref},
                   {"form_refs", std::move(forms)},
                   {"url", link.url},
                   {"ocean_session_id", link.session_id}};
    if (!link.expires_at.empty()) o["expires_at"] = link.expires_at;
    return json::serialize(o);
}

}  // namespace relay::fetcher
