// Opening an Open eReferral Referral JSON as Ocean serves it (ocean-api.md §4.4, §7): the one-time key
// from `oneTimeKeyEncryptedWithSiteSEK` under the site's SEK, then under it the patient data
// (`encryptedPtData`) and every conversation comment's `encryptedMsg`, whose plaintext goes into the
// comment's `message` (the encrypted member is dropped). Pure: no I/O, no logging.
#pragma once

#include <string>
#include <string_view>
#include <variant>

namespace relay::fetcher {

struct OpenedReferral {
    std::string referral_json;  ///< the Referral with its messages decrypted (patient data: never log)
    std::string patient_json;   ///< the decrypted patient data; "" when the referral has none
};

/// A fixed reason on failure: "referral-not-json", "rsa-wrapped-key-unsupported" (only the RSA-wrapped
/// keys are present: the site's private key path is not implemented), "decrypt-failed".
using OpenReferralResult = std::variant<OpenedReferral, std::string>;

OpenReferralResult open_referral(std::string_view sek, std::string_view referral_json);

}  // namespace relay::fetcher
