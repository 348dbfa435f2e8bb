// The hub's Open API requests (relay/hub/update.hpp: open_api_message, open_api_attachment, eform_link)
// as Ocean's Open API calls, and Ocean's answers read back: pure, no I/O. The fetcher sends them with the
// site's credentials (open_api_client.hpp) and its retry policy.
//
// Wire format (ocean-api.md §4.3, §5.3, §7; [C] seen in Ocean's API, [P] our choice, configurable):
//   attachment  POST /svc/v1/referrals/{ref}/attachments [C], Content-Type text/plain, body = base64 of the
//               file encrypted AES-CBC under a fresh one-time key K with a fresh IV [C], header ivBase64 =
//               that IV [C]. K travels as Ocean's own responses carry it: header oneTimeKey = K encrypted
//               under the site's SEK with the IV in header oneTimeKeyIv [P]; attachmentContentType = the
//               media type [P]; encryptedFileName = the title under K and the body's IV [P] (a file name
//               can name the patient). Ocean answers the new attachment's ref as text [P].
//   message     POST /svc/v1/referrals/{ref}/messages [C], {"message": ReferralComment}: the text as
//               encryptedMsg {data, iv} under a fresh one-time key, that key as
//               oneTimeKeyEncryptedWithSiteSEK {data, iv} [P] (encrypt_messages; false: a plain `message`),
//               attachmentRefDtos [{fileRef}] for an attachment uploaded first. Ocean answers the message
//               ref as text [C].
//   form link   POST {form_links_path} [P] {"formRefs": [...], "expiryHours": n} → {"url",
//               "oceanSessionId", "expiresAt"}.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "relay/hub/update.hpp"
#include "relay/ocean/crypto.hpp"
#include "relay/openapi/client.hpp"

namespace relay::fetcher {

/// The [P] choices of the Open API writes.
struct OpenApiRequestOptions {
    /// A message's text encrypted under a one-time key wrapped by the SEK (true), or sent as Ocean's plain
    /// `message` member (false).
    bool encrypt_messages = true;
    /// The Patient Engagement form-link endpoint; `{ref}` is the patient ref.
    std::string form_links_path = "/svc/v1/patients/{ref}/formLinks";
    /// An attachment's one-time key (under the SEK) and media type in the headers oneTimeKey,
    /// oneTimeKeyIv and attachmentContentType (true), or only Ocean's documented body + ivBase64 (false).
    bool attachment_key_headers = true;
    /// The attachment's title, encrypted, in encryptedFileName (true), or no file name at all (false).
    bool encrypt_file_names = true;
};

using openapi::OpenApiCall;

/// The attachment upload for `referral_ref`. Errors: the attachment's data is not base64 (kPermanent),
/// the SEK is unusable (kPermanent), no randomness (kRetryable).
ocean::Result<OpenApiCall> attachment_call(std::string_view sek,
                                           const std::string& referral_ref,
                                           const hub::AttachmentRequest& attachment,
                                           const OpenApiRequestOptions& options);

/// The message for `update` (open_api_message), referencing the attachments Ocean stored (`file_refs`).
ocean::Result<OpenApiCall> message_call(std::string_view sek,
                                        const hub::Update& update,
                                        const std::vector<std::string>& file_refs,
                                        const OpenApiRequestOptions& options);

/// The form-link request for `update` (eform_link).
OpenApiCall form_link_call(const hub::Update& update, const OpenApiRequestOptions& options);

/// The ref Ocean answered for a created message or attachment: the body as text (a JSON string too),
/// trimmed; nullopt unless it is 1..128 of [A-Za-z0-9_.:-].
std::optional<std::string> parse_created_ref(std::string_view body);

/// Ocean's answer to a form-link request.
struct FormLink {
    std::string url;         ///< https, the patient's own link: a credential, never logged
    std::string session_id;  ///< the oceanSessionId the completed forms will carry
    std::string expires_at;  ///< as Ocean gave it, may be empty
};
/// nullopt unless the body is a JSON object with an https (or, for tests on loopback, http) `url` and an
/// `oceanSessionId` of 1..128 of [A-Za-z0-9_.:-].
std::optional<FormLink> parse_form_link(std::string_view body);

/// What the hub receives for an issued link (delivery value, application/json):
/// {"kind":"eform-link","update_id","site","patient_ref","form_refs","url","ocean_session_id","expires_at"}.
std::string form_link_delivery(const hub::Update& update, const std::string& site, const FormLink& link);

}  // namespace relay::fetcher
