// Ocean's own view of the referrals the simulator has sent: which listing receives each one, which
// folder it sits in (ocean-api.md §3.6), bookings, messages and forwards, plus the log of every update a
// receiver sent back ("what it saw"). OceanApi applies receiver updates here; the webhook side seeds it
// with record_sent so an update can be checked against a referral Ocean really sent.
//
// Everything here is thread-safe: the HTTP server runs one strand per connection, and the webhook
// sender records from its own strand.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "generator.hpp"

namespace relay::ocean_sim {

/// The receiver-side folders of ocean-api.md §3.6 that the simulator models.
enum class Folder {
    kNew,
    kPendingBooking,
    kBookingUnconfirmed,
    kBookingConfirmed,
    kDeclined,
    kCompleted,
    kCancelled,  ///< only the sender can cancel (§3.6): reachable through cancel_by_sender only
};

/// "New", "Pending Booking", "Booking Unconfirmed", ... (Ocean's folder names).
const char* to_string(Folder folder);
/// Declined, Completed or Cancelled: an active Task status re-opens these (§3.6 "Re-open").
bool is_terminal(Folder folder);

/// Where a receiver's Task.status puts a referral (§3.6 table), given its current folder.
struct TaskStatusEffect {
    bool in_table = false;  ///< false: Ocean ignores the status (draft, failed, entered-in-error, ...)
    Folder folder = Folder::kNew;
    bool reopened = false;  ///< an active status on a Declined/Completed/Cancelled referral
};
TaskStatusEffect task_status_effect(Folder current, std::string_view task_status);

struct Booking {
    std::string id;      ///< Appointment.id ("" if the receiver sent none)
    std::string status;  ///< Appointment.status
    std::string start;   ///< "" for booking instructions without a date
    std::string end;
    std::string participant_status;  ///< the patient's: tentative | accepted | ...
    std::string instructions;        ///< patientInstruction / description (booking comments)
};

struct RecordedMessage {
    std::string event;  ///< send-communication-from-provider, ...
    std::string id;     ///< Communication.id
    std::string text;   ///< contentString items joined by "\n" (synthetic data only)
    std::size_t attachments = 0;
    std::string at;  ///< when Ocean received it (RFC 3339)
};

struct HistoryEntry {
    std::string at;
    std::string event;   ///< the receiver's event code, or "sent"/"cancelled-by-sender"/...
    std::string change;  ///< status | appointment | booking-instructions | communication | forward | ...
    std::string detail;  ///< e.g. the Task status; never patient data
    Folder folder = Folder::kNew;  ///< folder after the change
};

/// A document Ocean serves at DocumentReference/{id}/$binary.
struct StoredDocument {
    std::string referral_ref;
    std::string content_type;
    /// Decoded inline attachment data; empty with `is_letter` = serve the referral letter PDF.
    std::string bytes;
    bool is_letter = false;
};

struct ReferralView {
    std::string ref;
    std::string site;         ///< the receiving site's number
    std::string listing_ref;  ///< the current receiver listing (id-referral-target-reference)
    std::string external_service_id;  ///< the listing's External Service ID ("" = none)
    Dialect dialect = Dialect::kV0_11;
    Folder folder = Folder::kNew;
    std::string task_status;  ///< the last Task.status Ocean acted on (empty: none yet)
    std::string decline_reason;
    std::vector<Booking> appointments;
    std::vector<RecordedMessage> communications;
    std::optional<std::string> forwarded_to;               ///< listing ref the receiver forwarded to
    std::optional<std::string> forwarded_service_request;  ///< the new ServiceRequest id of the forward
    std::optional<std::string> forwarded_from;             ///< on the new referral: the replaced ref
    std::vector<HistoryEntry> history;
    std::uint32_t messages_sent = 0;  ///< webhooks Ocean sent about it (sends, resends, updates)
    std::string created_at;
    std::string modified_at;
    /// Synthetic demographics taken from the generated Patient (the Open API's encryptedPtData).
    std::string patient_json;
    std::string referrer_first_name;  ///< synthetic, for the Open API Referral JSON
    std::string referrer_surname;
};

/// What Ocean echoes of the receiver's side: the Task with its last status and the appointments.
ReceiverProgress receiver_progress(const ReferralView& view);

class ReferralState {
   public:
    /// Ocean sent `sent` to `listing_ref` at `site`: registers the referral (folder New) or, for a
    /// resend or update of a known one, keeps its folder and bumps messages_sent. Also registers the
    /// bundle's DocumentReferences for $binary. A body that does not parse registers the ref only.
    /// `external_service_id`: the listing's External Service ID, if any (the Open API's externalServiceId).
    void record_sent(const GeneratedReferral& sent,
                     std::string_view listing_ref,
                     std::string_view site,
                     std::string_view external_service_id = {});

    /// A copy of Ocean's view of `ref`.
    [[nodiscard]] std::optional<ReferralView> find(std::string_view ref) const;
    [[nodiscard]] bool contains(std::string_view ref) const;
    /// Any referral ever sent to (or forwarded to) this listing.
    [[nodiscard]] bool known_listing(std::string_view listing_ref) const;
    [[nodiscard]] std::optional<StoredDocument> find_document(std::string_view id) const;
    [[nodiscard]] std::size_t size() const;

    /// Runs `change` on the referral under the lock; false if `ref` is unknown. `change` must not call
    /// back into this object.
    bool modify(std::string_view ref, const std::function<void(ReferralView&)>& change);
    /// Registers a referral created by a forward (§3.7.3: a new ServiceRequest replacing `from`).
    void add_forwarded(const ReferralView& from, std::string_view new_ref, std::string_view listing_ref);
    /// The sender cancelled in Ocean (the receiver cannot, §3.6); false if unknown.
    bool cancel_by_sender(std::string_view ref);

    /// Every referral as JSON (refs, folders, bookings, message counts; no patient data).
    [[nodiscard]] std::string to_json() const;

   private:
    mutable std::mutex mutex_;
    std::map<std::string, ReferralView, std::less<>> referrals_;
    std::map<std::string, StoredDocument, std::less<>> documents_;
    std::map<std::string, std::size_t, std::less<>> listings_;  ///< listing ref -> referrals
};

/// What became of one update a receiver sent (ocean-api.md §3.6, §3.9).
enum class UpdateOutcome {
    kAccepted,   ///< applied (possibly without a visible change, e.g. `received` on a New referral)
    kIgnored,    ///< well-formed but Ocean does not act on it (a Task status not in §3.6): 200 + warning
    kRefused,    ///< unknown referral, not the receiver, bad token...: 4xx
    kMalformed,  ///< not a valid update message: 400
};
const char* to_string(UpdateOutcome outcome);

/// One update as Ocean saw it; refs and statuses only, never patient data.
struct UpdateRecord {
    std::uint64_t seq = 0;
    std::string at;
    std::string event;
    std::string referral_ref;
    std::string resource;  ///< the focus resource type: Task, Appointment, Communication, ...
    std::string status;    ///< Task.status or Appointment.status as sent
    std::optional<Folder> folder_before;
    std::optional<Folder> folder_after;
    std::vector<std::string> changes;
    UpdateOutcome outcome = UpdateOutcome::kAccepted;
    int http_status = 200;
    std::string reason;  ///< why ignored / refused / malformed (a FHIRPath-like expression included)
};

/// The bounded log of received updates (the oldest are dropped past `capacity`, and counted).
class UpdateLog {
   public:
    explicit UpdateLog(std::size_t capacity = 10'000) : capacity_(capacity) {}
    /// Stamps seq and returns it.
    std::uint64_t add(UpdateRecord record);
    [[nodiscard]] std::vector<UpdateRecord> snapshot() const;
    /// {"received":n,"dropped":n,"updates":[...]}
    [[nodiscard]] std::string to_json() const;
    /// Also append every update as one JSON line to `path` (for assertions and rehearsals); throws
    /// ConfigError if it cannot be opened.
    void write_to(const std::string& path);

   private:
    mutable std::mutex mutex_;
    std::size_t capacity_;
    std::uint64_t next_seq_ = 1;
    std::uint64_t dropped_ = 0;
    std::deque<UpdateRecord> records_;
    std::optional<std::ofstream> file_;
};

}  // namespace relay::ocean_sim
