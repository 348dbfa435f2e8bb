#include "ledger.hpp"

#include <algorithm>
#include <stdexcept>

namespace relay::router {

void PartitionLedger::add(std::int64_t offset, std::size_t acks, std::optional<PendingState> state) {
    if (!entries_.empty() && offset <= entries_.back().offset)
        throw std::logic_error("ledger: offsets must increase");
    entries_.push_back(Entry{offset, acks, std::move(state), false, false});
}

PartitionLedger::Entry* PartitionLedger::find(std::int64_t offset) {
    const auto it =
        std::lower_bound(entries_.begin(), entries_.end(), offset, [](const Entry& e, std::int64_t o) {
            return e.offset < o;
        });
    if (it == entries_.end() || it->offset != offset) return nullptr;
    return &*it;
}

void PartitionLedger::ack(std::int64_t offset) {
    Entry* entry = find(offset);
    if (entry != nullptr && entry->acks_outstanding > 0) --entry->acks_outstanding;
}

std::vector<std::pair<std::int64_t, PendingState>> PartitionLedger::take_ready_states() {
    std::vector<std::pair<std::int64_t, PendingState>> ready;
    while (emit_cursor_ < entries_.size() && entries_[emit_cursor_].acks_outstanding == 0) {
        Entry& entry = entries_[emit_cursor_];
        entry.state_emitted = true;
        if (entry.state) {
            ready.emplace_back(entry.offset, std::move(*entry.state));
            entry.state.reset();
        } else {
            entry.done = true;
            ++finished_;
        }
        ++emit_cursor_;
    }
    return ready;
}

void PartitionLedger::state_written(std::int64_t offset) {
    if (Entry* entry = find(offset); entry != nullptr && !entry->done) {
        entry->done = true;
        ++finished_;
    }
}

std::optional<std::int64_t> PartitionLedger::take_commit() {
    while (!entries_.empty() && entries_.front().done) {
        next_commit_ = entries_.front().offset + 1;
        entries_.pop_front();
        --finished_;
        --emit_cursor_;
    }
    if (next_commit_ <= committed_) return std::nullopt;
    committed_ = next_commit_;
    return committed_;
}

}  // namespace relay::router
