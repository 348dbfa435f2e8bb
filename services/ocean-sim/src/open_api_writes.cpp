#include "open_api_writes.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>
#include <random>
#include <utility>

#include "ocean_api.hpp"
#include "open_api_webhook.hpp"
#include "relay/core/encoding.hpp"
#include "relay/core/ids.hpp"
#include "relay/core/log.hpp"
#include "relay/ocean/crypto.hpp"

namespace relay::ocean_sim {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace json = boost::json;
using http::Request;
using http::Response;

namespace {

constexpr std::string_view kAttachments = "attachments";
constexpr std::string_view kMessages = "messages";
constexpr std::string_view kFormLinks = "formLinks";

constexpr WriteRefusal kBadCredentials{401, "unauthorized", "bad site credentials"};
constexpr WriteRefusal kTooLarge{413, "payload_too_large", "the request body is too large"};

/// A header's value, or nullopt when the request does not carry it.
std::optional<std::string> header(const Request& request, std::string_view name) {
    const auto it = request.find(boost::beast::string_view(name.data(), name.size()));
    if (it == request.end()) return std::nullopt;
    return std::string(it->value());
}

std::string_view trim(std::string_view text) {
    const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!text.empty() && space(text.front())) text.remove_prefix(1);
    while (!text.empty() && space(text.back())) text.remove_suffix(1);
    return text;
}

template <typename T>
const T* ok(const ocean::Result<T>& result) {
    return std::get_if<T>(&result);
}

bool is_iv(std::string_view b64) {
    const auto bytes = base64_decode(b64);
    return bytes && bytes->size() == ocean::kIvBytes;
}

bool is_tchar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

/// `type/subtype`, optionally followed by `;` parameters of printable ASCII (RFC 9110 §8.3.1).
bool is_media_type(std::string_view text) {
    if (text.empty() || text.size() > 255) return false;
    const auto semicolon = text.find(';');
    const std::string_view essence = trim(text.substr(0, semicolon));
    const auto slash = essence.find('/');
    if (slash == std::string_view::npos || slash == 0 || slash + 1 == essence.size()) return false;
    for (std::size_t i = 0; i < essence.size(); ++i)
        if (i != slash && !is_tchar(essence[i])) return false;
    return std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

bool is_text_plain(std::string_view content_type) {
    const std::string_view essence = trim(content_type.substr(0, content_type.find(';')));
    if (essence.size() != 10) return false;
    return std::equal(essence.begin(), essence.end(), "text/plain", [](char a, char b) {
        return (a >= 'A' && a <= 'Z' ? static_cast<char>(a - 'A' + 'a') : a) == b;
    });
}

/// Well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
bool is_utf8(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        std::size_t n = 0;
        unsigned min = 0;
        unsigned cp = 0;
        if (c < 0x80) {
            ++i;
            continue;
        }
        if ((c & 0xE0) == 0xC0) {
            n = 1, min = 0x80, cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, min = 0x800, cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, min = 0x10000, cp = c & 0x07;
        } else {
            return false;
        }
        if (i + n >= text.size()) return false;
        for (std::size_t k = 1; k <= n; ++k) {
            const auto cc = static_cast<unsigned char>(text[i + k]);
            if ((cc & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += n + 1;
    }
    return true;
}

/// A file name: 1..65536 bytes of UTF-8 (a hub's attachment title may be any text of that size).
bool is_file_name(std::string_view name) {
    return !name.empty() && name.size() <= 65536 && is_utf8(name);
}

bool is_form_ref(std::string_view ref) {
    if (ref.empty() || ref.size() > 64) return false;
    return std::all_of(ref.begin(), ref.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
               c == '.' || c == ':' || c == '-';
    });
}

const json::object* parse_object(std::string_view body, json::value& holder) {
    boost::system::error_code ec;
    holder = json::parse(body, ec);
    if (ec || !holder.is_object()) return nullptr;
    return &holder.as_object();
}

/// A member that is absent or JSON null is "not given".
const json::value* given(const json::object& object, std::string_view key) {
    const json::value* value = object.if_contains(key);
    return value == nullptr || value->is_null() ? nullptr : value;
}

std::optional<ocean::EncryptedBlock> block_of(const json::value& value) {
    if (!value.is_object()) return std::nullopt;
    const auto parsed = ocean::parse_encrypted_block(json::serialize(value));
    if (!ok(parsed)) return std::nullopt;
    return *ok(parsed);
}

std::string hex_sha256(std::string_view bytes) {
    return hex_encode(sha256(bytes));
}

/// Counts and logs a refused write (endpoint, status and error only) and answers its fixed error.
Response refuse(const Request& request,
                OpenApiWrites& writes,
                std::string_view endpoint,
                const WriteRefusal& refusal) {
    writes.refused(endpoint, refusal.status);
    log::info("Open API write refused",
              {{"endpoint", endpoint}, {"status", refusal.status}, {"error", refusal.error}});
    const json::object body{{"error", refusal.error}, {"error_description", refusal.description}};
    return make_response(
        request, static_cast<bhttp::status>(refusal.status), "application/json", json::serialize(body));
}

/// The site's referral `ref` (of any dialect the simulator sent): another site's is "not found".
bool referral_of_site(const ReferralState& state, std::string_view ref, const OceanApiSite& site) {
    const auto view = state.find(ref);
    return view && view->site == site.site_num;
}

json::object phq9_answers() {
    return json::object{{"q1", "1"}, {"q2", "1"}, {"q3", "2"}, {"q9", "0"}, {"total", "7"}};
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Readers

std::uint64_t api_body_limit(const Request& request) {
    if (request.method() != bhttp::verb::post) return kMaxOtherApiBody;
    const std::string_view target(request.target().data(), request.target().size());
    const std::string_view path = target.substr(0, target.find('?'));
    if (path.starts_with("/svc/v1/referrals/")) {
        if (path.ends_with("/attachments")) return kMaxAttachmentBody;
        if (path.ends_with("/messages")) return kMaxMessageBody;
    }
    if (path.starts_with("/svc/v1/patients/") && path.ends_with("/formLinks")) return kMaxFormLinkBody;
    return kMaxOtherApiBody;
}

std::variant<DecryptedAttachment, WriteRefusal> read_attachment(const Request& request,
                                                                std::string_view sek) {
    if (request.body().size() > kMaxAttachmentBody) return kTooLarge;
    const auto content_type = header(request, "Content-Type");
    if (!content_type || !is_text_plain(*content_type))
        return WriteRefusal{
            400, "invalid_content_type", "the body must be text/plain: the base64 ciphertext"};
    const auto iv = header(request, "ivBase64");
    const auto key_b64 = header(request, "oneTimeKey");
    const auto key_iv = header(request, "oneTimeKeyIv");
    const auto media_type = header(request, "attachmentContentType");
    if (!iv || !key_b64 || !key_iv || !media_type)
        return WriteRefusal{400,
                            "missing_header",
                            "ivBase64, oneTimeKey, oneTimeKeyIv and attachmentContentType are required"};
    if (!is_iv(*iv) || !is_iv(*key_iv))
        return WriteRefusal{400, "invalid_header", "ivBase64 and oneTimeKeyIv must be 16 bytes in base64"};
    if (!is_media_type(*media_type))
        return WriteRefusal{400, "invalid_header", "attachmentContentType must be a media type"};
    const auto key = ocean::unwrap_one_time_key(sek, ocean::EncryptedBlock{*key_b64, *key_iv});
    if (!ok(key) || ok(key)->size() != ocean::kOneTimeKeyBytes)
        return WriteRefusal{
            400, "invalid_key", "oneTimeKey does not decrypt to a 16-byte key under the site's SEK"};

    DecryptedAttachment out;
    out.content_type = *media_type;
    const std::string_view body = trim(request.body());
    if (body.empty()) return WriteRefusal{400, "empty_body", "the body must be the base64 ciphertext"};
    auto bytes = ocean::decrypt_block(*ok(key), ocean::EncryptedBlock{std::string(body), *iv});
    if (!ok(bytes)) return WriteRefusal{400, "undecryptable", "the body does not decrypt"};
    out.bytes = std::move(*std::get_if<std::string>(&bytes));
    if (const auto name = header(request, "encryptedFileName")) {
        // [P] The file name shares the body's key and IV.
        const auto plain = ocean::decrypt_block(*ok(key), ocean::EncryptedBlock{*name, *iv});
        if (!ok(plain) || !is_file_name(*ok(plain)))
            return WriteRefusal{
                400, "invalid_file_name", "encryptedFileName does not decrypt to a file name"};
        out.file_name = *ok(plain);
    }
    return out;
}

std::variant<ReceivedMessage, WriteRefusal> read_message(std::string_view body, std::string_view sek) {
    if (body.size() > kMaxMessageBody) return kTooLarge;
    constexpr WriteRefusal kNotAComment{
        400, "invalid_json", "the body must be {\"message\": ReferralComment}"};
    json::value holder;
    const json::object* root = parse_object(body, holder);
    if (root == nullptr) return kNotAComment;
    const json::value* comment_value = given(*root, "message");
    if (comment_value == nullptr || !comment_value->is_object()) return kNotAComment;
    const json::object& comment = comment_value->as_object();

    const json::value* plain = given(comment, "message");
    const json::value* encrypted = given(comment, "encryptedMsg");
    const json::value* wrapped_key = given(comment, "oneTimeKeyEncryptedWithSiteSEK");
    if ((plain == nullptr) == (encrypted == nullptr))
        return WriteRefusal{400, "invalid_message", "exactly one of message and encryptedMsg is required"};
    if ((encrypted == nullptr) != (wrapped_key == nullptr))
        return WriteRefusal{
            400, "invalid_message", "encryptedMsg and oneTimeKeyEncryptedWithSiteSEK come together"};

    ReceivedMessage out;
    if (plain != nullptr) {
        if (!plain->is_string()) return WriteRefusal{400, "invalid_message", "message must be a string"};
        out.text = std::string(plain->as_string());
    } else {
        const auto data = block_of(*encrypted);
        const auto key_block = block_of(*wrapped_key);
        if (!data || !key_block)
            return WriteRefusal{400, "invalid_message", "encryptedMsg and its key must be {data, iv} blocks"};
        const auto key = ocean::unwrap_one_time_key(sek, *key_block);
        if (!ok(key) || ok(key)->size() != ocean::kOneTimeKeyBytes)
            return WriteRefusal{400,
                                "invalid_key",
                                "oneTimeKeyEncryptedWithSiteSEK does not decrypt to a 16-byte key under the "
                                "site's SEK"};
        auto text = ocean::decrypt_block(*ok(key), *data);
        if (!ok(text)) return WriteRefusal{400, "undecryptable", "encryptedMsg does not decrypt"};
        out.text = std::move(*std::get_if<std::string>(&text));
        out.encrypted = true;
    }
    if (trim(out.text).empty() || !is_utf8(out.text))
        return WriteRefusal{400, "invalid_message", "the message text must be non-empty UTF-8"};

    constexpr WriteRefusal kBadRefs{
        400, "invalid_attachment_ref", "attachmentRefDtos must be a list of {\"fileRef\": \"<ref>\"}"};
    if (const json::value* refs = given(comment, "attachmentRefDtos")) {
        if (!refs->is_array() || refs->as_array().size() > 100) return kBadRefs;
        for (const auto& dto : refs->as_array()) {
            const json::value* file_ref = dto.is_object() ? given(dto.as_object(), "fileRef") : nullptr;
            if (file_ref == nullptr || !file_ref->is_string() || file_ref->as_string().empty() ||
                file_ref->as_string().size() > 128)
                return kBadRefs;
            out.attachment_refs.emplace_back(file_ref->as_string());
        }
    }
    if (const json::value* target = given(comment, "targetSiteNum")) {
        if (!target->is_string() || target->as_string().size() > 32)
            return WriteRefusal{400, "invalid_message", "targetSiteNum must be a site number"};
        out.target_site_num = std::string(target->as_string());
    }
    if (const json::value* show = given(comment, "showForOtherSites")) {
        if (!show->is_bool())
            return WriteRefusal{400, "invalid_message", "showForOtherSites must be a boolean"};
        out.show_for_other_sites = show->as_bool();
    }
    return out;
}

std::variant<FormLinkRequest, WriteRefusal> read_form_link_request(std::string_view body) {
    if (body.size() > kMaxFormLinkBody) return kTooLarge;
    json::value holder;
    const json::object* root = parse_object(body, holder);
    if (root == nullptr)
        return WriteRefusal{
            400, "invalid_json", "the body must be {\"formRefs\": [...], \"expiryHours\": n}"};
    constexpr WriteRefusal kBadRefs{
        400, "invalid_form_refs", "formRefs must be 1 to 20 form refs of [A-Za-z0-9_.:-]{1,64}"};
    const json::value* refs = given(*root, "formRefs");
    if (refs == nullptr || !refs->is_array() || refs->as_array().empty() || refs->as_array().size() > 20)
        return kBadRefs;
    FormLinkRequest out;
    for (const auto& ref : refs->as_array()) {
        if (!ref.is_string() || !is_form_ref(ref.as_string())) return kBadRefs;
        out.form_refs.emplace_back(ref.as_string());
    }
    if (const json::value* hours = given(*root, "expiryHours")) {
        constexpr WriteRefusal kBadHours{
            400, "invalid_expiry", "expiryHours must be an integer from 1 to 720"};
        // Integers that fit an int64 parse as one (a fraction or 72.0 is a double: refused).
        if (!hours->is_int64() || hours->as_int64() < 1 || hours->as_int64() > 720) return kBadHours;
        out.expiry_hours = static_cast<int>(hours->as_int64());
    }
    return out;
}

// ---------------------------------------------------------------------------------------------------
// The store

template <typename T>
void OpenApiWrites::keep(Kept<T>& kept, T item) {
    ++kept.received;
    kept.items.push_back(std::move(item));
    while (kept.items.size() > capacity_) {
        kept.items.pop_front();
        ++kept.dropped;
    }
}

void OpenApiWrites::add(StoredAttachment attachment) {
    std::lock_guard lock(mutex_);
    keep(attachments_, std::move(attachment));
}

void OpenApiWrites::add(StoredMessage message) {
    std::lock_guard lock(mutex_);
    keep(messages_, std::move(message));
}

void OpenApiWrites::add(FormLink link) {
    std::lock_guard lock(mutex_);
    keep(links_, std::move(link));
}

void OpenApiWrites::refused(std::string_view endpoint, int status) {
    std::lock_guard lock(mutex_);
    auto it = refused_.find(endpoint);
    if (it == refused_.end())
        it = refused_.emplace(std::string(endpoint), std::map<int, std::uint64_t>{}).first;
    ++it->second[status];
}

bool OpenApiWrites::has_attachment(std::string_view referral_ref, std::string_view file_ref) const {
    std::lock_guard lock(mutex_);
    return std::any_of(attachments_.items.begin(), attachments_.items.end(), [&](const StoredAttachment& a) {
        return a.file_ref == file_ref && a.referral_ref == referral_ref;
    });
}

std::optional<FormLink> OpenApiWrites::link_of_session(std::string_view session_id) const {
    std::lock_guard lock(mutex_);
    for (const auto& link : links_.items)
        if (link.session_id == session_id) return link;
    return std::nullopt;
}

std::optional<FormLink> OpenApiWrites::complete(std::string_view session_id, std::string at) {
    std::lock_guard lock(mutex_);
    for (auto& link : links_.items) {
        if (link.session_id != session_id) continue;
        if (link.completed) return std::nullopt;
        link.completed = true;
        link.completed_at = std::move(at);
        return link;
    }
    return std::nullopt;
}

std::vector<StoredAttachment> OpenApiWrites::attachments() const {
    std::lock_guard lock(mutex_);
    return {attachments_.items.begin(), attachments_.items.end()};
}

std::vector<StoredMessage> OpenApiWrites::messages() const {
    std::lock_guard lock(mutex_);
    return {messages_.items.begin(), messages_.items.end()};
}

std::vector<FormLink> OpenApiWrites::links() const {
    std::lock_guard lock(mutex_);
    return {links_.items.begin(), links_.items.end()};
}

std::string OpenApiWrites::to_json() const {
    const auto strings = [](const std::vector<std::string>& values) {
        json::array out;
        for (const auto& v : values) out.emplace_back(v);
        return out;
    };
    std::lock_guard lock(mutex_);
    json::array attachments;
    for (const auto& a : attachments_.items)
        attachments.emplace_back(json::object{{"file_ref", a.file_ref},
                                              {"referral_ref", a.referral_ref},
                                              {"site_num", a.site_num},
                                              {"content_type", a.content_type},
                                              {"size", a.size},
                                              {"sha256", a.sha256},
                                              {"has_file_name", a.file_name.has_value()},
                                              {"at", a.at}});
    json::array messages;
    for (const auto& m : messages_.items)
        messages.emplace_back(json::object{
            {"message_ref", m.message_ref},
            {"referral_ref", m.referral_ref},
            {"site_num", m.site_num},
            {"encrypted", m.encrypted},
            {"text_length", m.text_length},
            {"sha256", m.sha256},
            {"attachment_refs", strings(m.attachment_refs)},
            {"target_site_num",
             m.target_site_num.empty() ? json::value(nullptr) : json::value(m.target_site_num)},
            {"show_for_other_sites",
             m.show_for_other_sites ? json::value(*m.show_for_other_sites) : json::value(nullptr)},
            {"at", m.at}});
    json::array links;
    for (const auto& l : links_.items)
        links.emplace_back(
            json::object{{"link_ref", l.link_ref},
                         {"patient_ref", l.patient_ref},
                         {"site_num", l.site_num},
                         {"session_id", l.session_id},
                         {"url", l.url},
                         {"form_refs", strings(l.form_refs)},
                         {"expiry_hours", l.expiry_hours},
                         {"issued_at", l.issued_at},
                         {"expires_at", l.expires_at},
                         {"completed", l.completed},
                         {"completed_at", l.completed ? json::value(l.completed_at) : json::value(nullptr)}});
    json::object refused;
    for (const auto& [endpoint, statuses] : refused_) {
        json::object by_status;
        for (const auto& [status, n] : statuses) by_status[std::to_string(status)] = n;
        refused[endpoint] = std::move(by_status);
    }
    const auto section = [](const auto& kept, json::array items) {
        return json::object{
            {"received", kept.received}, {"dropped", kept.dropped}, {"items", std::move(items)}};
    };
    const json::object out{{"attachments", section(attachments_, std::move(attachments))},
                           {"messages", section(messages_, std::move(messages))},
                           {"form_links", section(links_, std::move(links))},
                           {"refused", std::move(refused)}};
    return json::serialize(out);
}

// ---------------------------------------------------------------------------------------------------
// Notes and completion

std::string patient_note_json(const std::vector<std::string>& form_refs) {
    const bool only_phq9 = form_refs.size() == 1 && form_refs.front() == "phq9";
    json::object completed;
    json::object metadata;
    std::string listed;
    for (const auto& ref : form_refs) {
        if (completed.contains(ref)) continue;
        if (!listed.empty()) listed += ", ";
        listed += ref;
        if (ref == "phq9") {
            completed[ref] = phq9_answers();
            metadata[ref] = json::object{{"total", json::object{{"hidden", true}}}};
        } else {
            // Any other form: two answered items, enough for a reader to map.
            completed[ref] = json::object{{"q1", "1"}, {"q2", "0"}};
            metadata[ref] = json::object{};
        }
    }
    std::string title = form_refs.size() == 1 ? form_refs.front() : std::string("Patient forms");
    std::string text = fmt::format("Forms completed by the patient: {}.", listed);
    if (only_phq9) {
        title = "PHQ-9";
        text = "PHQ-9 completed by the patient. Total score: 7 (mild).";
    }
    const json::object update{
        {"progressNote", json::object{{"title", title}, {"text", text}, {"noteType", "FORM"}}},
        {"completedForms", std::move(completed)},
        {"emrFieldUpdates", json::object{}},
        {"formMetadata", std::move(metadata)}};
    return json::serialize(update);
}

std::string new_session_id(SystemTime now) {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    return fmt::format("{}t{:06}", ms, rng() % 1'000'000);
}

asio::awaitable<void> complete_form_link_after(OceanApi& api,
                                               OpenApiNotifier* notifier,
                                               std::string session_id,
                                               std::chrono::milliseconds delay) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    timer.expires_after(delay);
    constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
    co_await timer.async_wait(kNoThrow);
    const auto link = api.complete_form_link(session_id);
    if (!link || notifier == nullptr) co_return;
    notifier->forms_completed(link->patient_ref, link->session_id);
}

// ---------------------------------------------------------------------------------------------------
// OceanApi's write endpoints (declared in ocean_api.hpp)

Response OceanApi::post_attachment(const Request& request, const RouteMatch& match) {
    const OceanApiSite* site = authenticated_site(request);
    if (site == nullptr) return refuse(request, writes_, kAttachments, kBadCredentials);
    if (!referral_of_site(state_, match.segment, *site))
        return refuse(request, writes_, kAttachments, WriteRefusal{404, "not_found", "unknown referral"});
    auto read = read_attachment(request, site->sek.reveal());
    if (const auto* refusal = std::get_if<WriteRefusal>(&read))
        return refuse(request, writes_, kAttachments, *refusal);
    auto& attachment = std::get<DecryptedAttachment>(read);
    StoredAttachment stored;
    stored.file_ref = new_message_id();
    stored.referral_ref = std::string(match.segment);
    stored.site_num = site->site_num;
    stored.content_type = std::move(attachment.content_type);
    stored.size = attachment.bytes.size();
    stored.sha256 = hex_sha256(attachment.bytes);
    stored.file_name = std::move(attachment.file_name);
    stored.at = format_rfc3339_millis(now());
    log::info("Open API attachment stored",
              {{"referral_ref", stored.referral_ref}, {"file_ref", stored.file_ref}, {"bytes", stored.size}});
    std::string file_ref = stored.file_ref;
    writes_.add(std::move(stored));
    return make_response(request, bhttp::status::ok, "text/plain", std::move(file_ref));
}

Response OceanApi::post_message(const Request& request, const RouteMatch& match) {
    const OceanApiSite* site = authenticated_site(request);
    if (site == nullptr) return refuse(request, writes_, kMessages, kBadCredentials);
    if (!referral_of_site(state_, match.segment, *site))
        return refuse(request, writes_, kMessages, WriteRefusal{404, "not_found", "unknown referral"});
    auto read = read_message(request.body(), site->sek.reveal());
    if (const auto* refusal = std::get_if<WriteRefusal>(&read))
        return refuse(request, writes_, kMessages, *refusal);
    auto& message = std::get<ReceivedMessage>(read);
    for (const auto& file_ref : message.attachment_refs)
        if (!writes_.has_attachment(match.segment, file_ref))
            return refuse(
                request,
                writes_,
                kMessages,
                WriteRefusal{400, "unknown_attachment", "a fileRef names no attachment of the referral"});
    StoredMessage stored;
    stored.message_ref = new_message_id();
    stored.referral_ref = std::string(match.segment);
    stored.site_num = site->site_num;
    stored.encrypted = message.encrypted;
    stored.text_length = message.text.size();
    stored.sha256 = hex_sha256(message.text);
    stored.attachment_refs = std::move(message.attachment_refs);
    stored.target_site_num = std::move(message.target_site_num);
    stored.show_for_other_sites = message.show_for_other_sites;
    stored.at = format_rfc3339_millis(now());
    log::info("Open API message stored",
              {{"referral_ref", stored.referral_ref},
               {"message_ref", stored.message_ref},
               {"text_bytes", stored.text_length},
               {"attachments", stored.attachment_refs.size()}});
    std::string message_ref = stored.message_ref;
    writes_.add(std::move(stored));
    return make_response(request, bhttp::status::ok, "text/plain", std::move(message_ref));
}

Response OceanApi::post_form_links(const Request& request, const RouteMatch& match) {
    const OceanApiSite* site = authenticated_site(request);
    if (site == nullptr) return refuse(request, writes_, kFormLinks, kBadCredentials);
    // The patients the simulator serves at GET /svc/v1/patients/{ref} are its referrals' (ocean_api.cpp).
    if (!referral_of_site(state_, match.segment, *site))
        return refuse(request, writes_, kFormLinks, WriteRefusal{404, "not_found", "unknown patient"});
    auto read = read_form_link_request(request.body());
    if (const auto* refusal = std::get_if<WriteRefusal>(&read))
        return refuse(request, writes_, kFormLinks, *refusal);
    auto& wanted = std::get<FormLinkRequest>(read);
    const SystemTime issued = now();
    FormLink link;
    link.link_ref = new_message_id();
    link.patient_ref = std::string(match.segment);
    link.site_num = site->site_num;
    // Two links in the same millisecond could draw the same digits; the session must name one link.
    do {
        link.session_id = new_session_id(issued);
    } while (writes_.link_of_session(link.session_id));
    std::string_view host = config_.ocean_host;
    while (host.ends_with('/')) host.remove_suffix(1);
    link.url = fmt::format("{}/intake/patients.html?linkRef={}", host, link.link_ref);
    link.form_refs = std::move(wanted.form_refs);
    link.expiry_hours = wanted.expiry_hours;
    link.issued_at = format_rfc3339_millis(issued);
    link.expires_at = format_rfc3339_millis(issued + std::chrono::hours(wanted.expiry_hours));
    const json::object body{
        {"url", link.url}, {"oceanSessionId", link.session_id}, {"expiresAt", link.expires_at}};
    log::info("Open API eForm link issued",
              {{"patient_ref", link.patient_ref},
               {"session_id", link.session_id},
               {"forms", link.form_refs.size()},
               {"expiry_hours", link.expiry_hours}});
    writes_.add(link);
    if (on_link_issued_) on_link_issued_(link);
    return make_response(request, bhttp::status::ok, "application/json", json::serialize(body));
}

std::optional<FormLink> OceanApi::complete_form_link(std::string_view session_id) {
    auto link = writes_.complete(session_id, format_rfc3339_millis(now()));
    if (link)
        log::info("eForm link completed by the simulated patient",
                  {{"patient_ref", link->patient_ref},
                   {"session_id", link->session_id},
                   {"forms", link->form_refs.size()}});
    return link;
}

}  // namespace relay::ocean_sim
