// Opening an Open eReferral Referral JSON as Ocean serves it (ocean-api.md §4.4, §7): the one-time key
// from `oneTimeKeyEncryptedWithSiteSEK` under the site's SEK, then under it the patient data
// (`encryptedPtData`) and every conversation comment's `encryptedMsg`, whose plaintext goes into the
// comment's `message` (the encrypted member is dropped). Pure: no I/O, no logging.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "relay/ocean/rsa.hpp"

namespace relay::openapi {

struct OpenedReferral {
    std::string referral_json;  ///< the Referral with its messages decrypted (patient data: never log)
    std::string patient_json;   ///< the decrypted patient data; "" when the referral has none
    /// The raw one-time key (its attachments are encrypted under it too); "" when nothing needed it.
    std::string one_time_key;
};

/// The reason open_referral gives when the one-time key is only RSA-wrapped and no site keys were given:
/// the caller fetches the site's private key (GET /svc/v1/site/privateKey) and calls again with it.
inline constexpr std::string_view kNeedsSitePrivateKey = "needs-site-private-key";

/// A fixed reason on failure: "referral-not-json", kNeedsSitePrivateKey, "decrypt-failed" (a wrong SEK or
/// site key, tampering, a truncated block).
using OpenReferralResult = std::variant<OpenedReferral, std::string>;

/// The one-time key comes from `oneTimeKeyEncryptedWithSiteSEK` when present, else from
/// `oneTimeKeyEncryptedWithSitePublicKey` under `site_keys` (PKCS#1 v1.5, [P] as JSBN).
/// `need_one_time_key`: unwrap the key even when no patient data or message needs it (to open the
/// referral's attachments).
OpenReferralResult open_referral(std::string_view sek,
                                 std::string_view referral_json,
                                 const ocean::SitePrivateKeys* site_keys = nullptr,
                                 bool need_one_time_key = false);

/// An Open eReferral attachment as Ocean serves it (`GET /svc/v1/referrals/{ref}/attachments/{fileRef}`:
/// `{"contentType", "encryptedData": {"data", "iv"}}`), opened with the referral's one-time key.
struct OpenedAttachment {
    std::string bytes;  ///< patient data: never log
    std::string content_type;
};
/// nullopt when the answer is not that JSON or does not decrypt under `one_time_key`.
std::optional<OpenedAttachment> open_attachment(std::string_view one_time_key, std::string_view answer);

}  // namespace relay::openapi
