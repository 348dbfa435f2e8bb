#include "relay/openapi/referral.hpp"

#include <boost/json.hpp>
#include <optional>

#include "relay/ocean/crypto.hpp"

namespace relay::openapi {

namespace json = boost::json;

namespace {

/// A `{data, iv}` member (data as base64 or Ocean's signed-byte array), if present and well formed.
std::optional<ocean::EncryptedBlock> block_of(const json::object& o, std::string_view member) {
    const json::value* v = o.if_contains(member);
    if (v == nullptr || !v->is_object()) return std::nullopt;
    auto block = ocean::parse_encrypted_block(json::serialize(*v));
    if (std::holds_alternative<Error>(block)) return std::nullopt;
    return std::get<ocean::EncryptedBlock>(block);
}

bool has_member(const json::object& o, std::string_view member) {
    const json::value* v = o.if_contains(member);
    return v != nullptr && !v->is_null();
}

/// Decrypts every comment's encryptedMsg into `message`; false if one does not decrypt.
bool open_comments(json::object& referral, std::string_view conversation, const std::string& otk) {
    json::value* list = referral.if_contains(conversation);
    if (list == nullptr || !list->is_array()) return true;
    for (json::value& item : list->as_array()) {
        if (!item.is_object()) continue;
        json::object& comment = item.as_object();
        if (!has_member(comment, "encryptedMsg")) continue;
        const auto block = block_of(comment, "encryptedMsg");
        if (!block) return false;
        auto plain = ocean::decrypt_block(otk, *block);
        if (std::holds_alternative<Error>(plain)) return false;
        comment["message"] = std::get<std::string>(plain);
        comment.erase("encryptedMsg");
    }
    return true;
}

}  // namespace

OpenReferralResult open_referral(std::string_view sek,
                                 std::string_view referral_json,
                                 const ocean::SitePrivateKeys* site_keys,
                                 bool need_one_time_key) {
    boost::system::error_code ec;
    json::value root = json::parse(referral_json, ec);
    if (ec || !root.is_object()) return std::string("referral-not-json");
    json::object& referral = root.as_object();

    const bool has_patient = has_member(referral, "encryptedPtData");
    const bool has_comments = [&] {
        for (const char* c : {"externalConversation", "internalConversation"}) {
            const json::value* list = referral.if_contains(c);
            if (list == nullptr || !list->is_array()) continue;
            for (const auto& item : list->as_array())
                if (item.is_object() && has_member(item.as_object(), "encryptedMsg")) return true;
        }
        return false;
    }();
    OpenedReferral opened;
    if (has_patient || has_comments || need_one_time_key) {
        ocean::Result<std::string> otk = Error(ErrorKind::kPermanent, "no one-time key");
        if (has_member(referral, "oneTimeKeyEncryptedWithSiteSEK")) {
            const auto wrapped = block_of(referral, "oneTimeKeyEncryptedWithSiteSEK");
            if (!wrapped) return std::string("decrypt-failed");
            otk = ocean::unwrap_one_time_key(sek, *wrapped);
        } else if (const json::value* rsa = referral.if_contains("oneTimeKeyEncryptedWithSitePublicKey");
                   rsa != nullptr && rsa->is_string()) {
            if (site_keys == nullptr) return std::string(kNeedsSitePrivateKey);
            otk = ocean::unwrap_one_time_key_rsa(*site_keys, rsa->as_string());
        }
        if (std::holds_alternative<Error>(otk)) return std::string("decrypt-failed");
        const std::string& key = std::get<std::string>(otk);
        opened.one_time_key = key;
        if (has_patient) {
            const auto block = block_of(referral, "encryptedPtData");
            if (!block) return std::string("decrypt-failed");
            auto plain = ocean::decrypt_block(key, *block);
            if (std::holds_alternative<Error>(plain)) return std::string("decrypt-failed");
            opened.patient_json = std::move(std::get<std::string>(plain));
            // The plaintext must be JSON: CBC has no integrity check, parsing catches a wrong key.
            (void)json::parse(opened.patient_json, ec);
            if (ec) return std::string("decrypt-failed");
        }
        if (!open_comments(referral, "externalConversation", key) || !open_comments(referral, "internalConversation", key))
            return std::string("decrypt-failed");
    }
    opened.referral_json = json::serialize(root);
    return opened;
}

std::optional<OpenedAttachment> open_attachment(std::string_view one_time_key, std::string_view answer) {
    boost::system::error_code ec;
    const json::value root = json::parse(answer, ec);
    if (ec || !root.is_object()) return std::nullopt;
    const auto block = block_of(root.as_object(), "encryptedData");
    if (!block) return std::nullopt;
    auto plain = ocean::decrypt_block(one_time_key, *block);
    if (std::holds_alternative<Error>(plain)) return std::nullopt;
    OpenedAttachment out;
    out.bytes = std::move(std::get<std::string>(plain));
    if (const auto* type = root.as_object().if_contains("contentType"); type != nullptr && type->is_string())
        out.content_type = std::string(type->as_string());
    if (out.content_type.empty()) out.content_type = "application/octet-stream";
    return out;
}

}  // namespace relay::openapi
