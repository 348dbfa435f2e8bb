// Ocean's receiving side of the Open API writes an integration makes (ocean-api.md §4.3, §5.3, §7):
// attachments (POST /svc/v1/referrals/{ref}/attachments: body = base64 AES-CBC ciphertext under a one-time
// key, that key AES-CBC under the site's SEK in headers), messages (POST /svc/v1/referrals/{ref}/messages:
// a ReferralComment, plain or encrypted as seal_blocks does) and Patient Engagement eForm links
// (POST /svc/v1/patients/{ptRef}/formLinks), which a simulated patient may later complete.
//
// The readers here are pure (request in, decrypted write or a fixed refusal out); OceanApi's handlers
// (defined in open_api_writes.cpp) check the site credentials and the ref, then store what was read in
// OpenApiWrites. What is stored is what a test asserts on: refs, sizes and SHA-256 digests. Decrypted
// texts are never kept, and decrypted file names stay in memory: neither is logged nor in to_json().
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "relay/core/time.hpp"
#include "relay/http/server.hpp"

namespace relay::ocean_sim {

class OceanApi;
class OpenApiNotifier;

/// Request body limits of the write endpoints. An attachment's body is base64 text, 4/3 of the file.
inline constexpr std::uint64_t kMaxAttachmentBody = 30ULL << 20;
inline constexpr std::uint64_t kMaxMessageBody = 1ULL << 20;
inline constexpr std::uint64_t kMaxFormLinkBody = 64ULL << 10;
/// The limit of every other API request (the HTTP server's default before the writes existed).
inline constexpr std::uint64_t kMaxOtherApiBody = 20ULL << 20;

/// The body limit of `request`'s route, for the API listener's admission hook (checked before the body
/// is read). The handlers check it too, for servers built without the hook.
std::uint64_t api_body_limit(const http::Request& request);

/// Why a write was refused: a status and a fixed error (the input is never echoed).
struct WriteRefusal {
    int status = 400;
    std::string_view error;
    std::string_view description;
};

// ---------------------------------------------------------------------------------------------------
// Readers

struct DecryptedAttachment {
    std::string content_type;              ///< header attachmentContentType
    std::string bytes;                     ///< the file
    std::optional<std::string> file_name;  ///< header encryptedFileName, decrypted
};
/// The headers ivBase64, oneTimeKey, oneTimeKeyIv, attachmentContentType and (optional)
/// encryptedFileName, and the base64 body, decrypted with the site's SEK.
std::variant<DecryptedAttachment, WriteRefusal> read_attachment(const http::Request& request,
                                                                std::string_view sek);

struct ReceivedMessage {
    bool encrypted = false;
    std::string text;
    std::vector<std::string> attachment_refs;  ///< attachmentRefDtos[].fileRef, in order
    std::string target_site_num;               ///< "" = absent
    std::optional<bool> show_for_other_sites;
};
/// `{"message": ReferralComment}` with either `message` (plain text) or `encryptedMsg` and
/// `oneTimeKeyEncryptedWithSiteSEK`, decrypted with the site's SEK. The attachment refs are not
/// checked here (the store knows them).
std::variant<ReceivedMessage, WriteRefusal> read_message(std::string_view body, std::string_view sek);

struct FormLinkRequest {
    std::vector<std::string> form_refs;
    int expiry_hours = 72;
};
/// `{"formRefs": [1..20 of [A-Za-z0-9_.:-]{1,64}], "expiryHours": 1..720 (default 72)}`.
std::variant<FormLinkRequest, WriteRefusal> read_form_link_request(std::string_view body);

// ---------------------------------------------------------------------------------------------------
// What was stored

struct StoredAttachment {
    std::string file_ref;
    std::string referral_ref;
    std::string site_num;
    std::string content_type;
    std::size_t size = 0;  ///< decrypted bytes
    std::string sha256;    ///< lower-case hex of the decrypted bytes
    /// Decrypted; in memory only (never logged, never in to_json).
    std::optional<std::string> file_name;
    std::string at;
};

struct StoredMessage {
    std::string message_ref;
    std::string referral_ref;
    std::string site_num;
    bool encrypted = false;
    std::size_t text_length = 0;  ///< UTF-8 bytes of the (decrypted) text
    std::string sha256;           ///< lower-case hex of the text
    std::vector<std::string> attachment_refs;
    std::string target_site_num;
    std::optional<bool> show_for_other_sites;
    std::string at;
};

struct FormLink {
    std::string link_ref;  ///< the URL's linkRef
    std::string patient_ref;
    std::string site_num;
    std::string session_id;  ///< oceanSessionId
    std::string url;
    std::vector<std::string> form_refs;
    int expiry_hours = 72;
    std::string issued_at;
    std::string expires_at;
    bool completed = false;
    std::string completed_at;
};

/// Everything the write endpoints stored, and how many requests each refused by status. Bounded: past
/// `capacity` per kind the oldest are dropped (and counted). Thread-safe.
class OpenApiWrites {
   public:
    explicit OpenApiWrites(std::size_t capacity = 10'000) : capacity_(capacity) {}

    void add(StoredAttachment attachment);
    void add(StoredMessage message);
    void add(FormLink link);
    /// Counts a refused request of `endpoint` (attachments | messages | formLinks).
    void refused(std::string_view endpoint, int status);

    /// Whether `file_ref` names an attachment stored for `referral_ref`.
    [[nodiscard]] bool has_attachment(std::string_view referral_ref, std::string_view file_ref) const;
    [[nodiscard]] std::optional<FormLink> link_of_session(std::string_view session_id) const;
    /// Marks the link of `session_id` completed at `at`; nullopt if it is unknown or was completed.
    std::optional<FormLink> complete(std::string_view session_id, std::string at);

    [[nodiscard]] std::vector<StoredAttachment> attachments() const;
    [[nodiscard]] std::vector<StoredMessage> messages() const;
    [[nodiscard]] std::vector<FormLink> links() const;
    /// {"attachments":{"received","dropped","items":[...]},"messages":{...},"form_links":{...},
    ///  "refused":{"<endpoint>":{"<status>":n}}}: refs, sizes, digests and counts only.
    [[nodiscard]] std::string to_json() const;

   private:
    template <typename T>
    struct Kept {
        std::deque<T> items;
        std::uint64_t received = 0;
        std::uint64_t dropped = 0;
    };
    template <typename T>
    void keep(Kept<T>& kept, T item);

    mutable std::mutex mutex_;
    std::size_t capacity_;
    Kept<StoredAttachment> attachments_;
    Kept<StoredMessage> messages_;
    Kept<FormLink> links_;
    std::map<std::string, std::map<int, std::uint64_t>, std::less<>> refused_;
};

// ---------------------------------------------------------------------------------------------------
// Patient notes and form completion

/// The PtUpdate (§5.2) of a patient who completed `form_refs`: structured answers per form plus a
/// rendered progress note. For {"phq9"} it is the PHQ-9 note the notes GET has always served.
std::string patient_note_json(const std::vector<std::string>& form_refs);

/// A new oceanSessionId shaped like Ocean's (§1): "<epoch ms>t<6 digits>".
std::string new_session_id(SystemTime now);

/// After `delay`, the patient of the link with `session_id` completes its forms: its note becomes
/// available at the notes GET and, with a notifier, Ocean's `notify-patient-message-forms-completion`
/// about it is sent. Spawn on the notifier's executor (any executor without one). `api` (and the
/// notifier) must outlive it.
boost::asio::awaitable<void> complete_form_link_after(OceanApi& api,
                                                      OpenApiNotifier* notifier,
                                                      std::string session_id,
                                                      std::chrono::milliseconds delay);

}  // namespace relay::ocean_sim
