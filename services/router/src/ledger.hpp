// At-least-once bookkeeping for one inbound partition.
//
// Every inbound record goes through two phases: (1) its deliveries and outcome event are acknowledged
// by the broker; (2) its state changelog record is acknowledged. A record's changelog record is only
// produced once every earlier record of the partition has finished phase 1 — otherwise a crash could
// leave a changelog saying "seen" for a message whose deliveries were never written, and the restarted
// router would drop it as a duplicate. The committable offset is the first record not through phase 2,
// so a committed offset never skips unfinished work.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

namespace relay::router {

/// One record for the changelog topic.
struct ChangelogRecord {
    std::string key;
    std::string value;
};

/// The changelog records of one inbound record, waiting for their turn.
struct PendingState {
    std::vector<ChangelogRecord> records;
};

class PartitionLedger {
   public:
    /// A record entered processing; offsets must increase. `acks` = phase-1 acknowledgements expected
    /// (0 = nothing to produce); `state` = its changelog record, if it changed the state.
    void add(std::int64_t offset, std::size_t acks, std::optional<PendingState> state);

    /// One phase-1 acknowledgement for `offset`.
    void ack(std::int64_t offset);

    /// Changelog records whose turn has come, in offset order (each must be produced, then
    /// state_written called with its offset). Records without state pass phase 2 at once.
    std::vector<std::pair<std::int64_t, PendingState>> take_ready_states();

    /// Phase 2 done for `offset`.
    void state_written(std::int64_t offset);

    /// The next offset to commit if it advanced since the last call (then the caller commits it).
    std::optional<std::int64_t> take_commit();

    /// Records not yet handed out by take_commit (finished or not).
    [[nodiscard]] std::size_t in_flight() const { return entries_.size(); }
    /// Records not yet through phase 2.
    [[nodiscard]] std::size_t unfinished() const { return entries_.size() - finished_; }
    /// The last offset handed out by take_commit (-1 before any).
    [[nodiscard]] std::int64_t committed() const { return committed_; }

   private:
    struct Entry {
        std::int64_t offset = 0;
        std::size_t acks_outstanding = 0;
        std::optional<PendingState> state;
        bool state_emitted = false;
        bool done = false;
    };
    Entry* find(std::int64_t offset);

    std::deque<Entry> entries_;
    std::size_t emit_cursor_ = 0;  ///< index of the first entry whose state is not yet emitted
    std::size_t finished_ = 0;     ///< entries done and not yet taken by take_commit
    std::int64_t next_commit_ = -1;
    std::int64_t committed_ = -1;
};

}  // namespace relay::router
