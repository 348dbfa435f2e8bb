// Which offset of one partition may be committed when records finish out of order.
//
// Records of a partition are processed concurrently (different keys, different destinations), so they
// finish in any order; the committed offset must never pass a record that is not finished, or a crash
// would lose it. The tracker hands out the first unfinished offset, and only when it moved.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <utility>

namespace relay::kafka {

class OffsetTracker {
   public:
    /// A record entered processing; offsets must increase (a smaller one is ignored: a re-read after a
    /// seek that is already tracked).
    void add(std::int64_t offset) {
        if (!entries_.empty() && offset <= entries_.back().first) return;
        entries_.emplace_back(offset, false);
    }

    /// The record at `offset` has a durable outcome. Unknown offsets are ignored.
    void done(std::int64_t offset) {
        auto it =
            std::lower_bound(entries_.begin(), entries_.end(), offset, [](const auto& e, std::int64_t o) {
                return e.first < o;
            });
        if (it == entries_.end() || it->first != offset) return;
        it->second = true;
        while (!entries_.empty() && entries_.front().second) {
            next_commit_ = entries_.front().first + 1;
            entries_.pop_front();
        }
    }

    /// The next offset to commit (one past the last finished record with nothing unfinished before it),
    /// if it moved since the last call.
    std::optional<std::int64_t> take_commit() {
        if (next_commit_ <= committed_) return std::nullopt;
        committed_ = next_commit_;
        return committed_;
    }

    /// The next offset to commit whether or not it was taken before: what a final, synchronous commit
    /// sends when the partition is given up (an earlier asynchronous commit of it may have failed).
    [[nodiscard]] std::optional<std::int64_t> position() const {
        if (next_commit_ < 0) return std::nullopt;
        return next_commit_;
    }

    /// Records added and not yet done.
    [[nodiscard]] std::size_t in_flight() const { return entries_.size(); }
    /// The offset of the oldest unfinished record, if any.
    [[nodiscard]] std::optional<std::int64_t> oldest() const {
        if (entries_.empty()) return std::nullopt;
        return entries_.front().first;
    }

   private:
    std::deque<std::pair<std::int64_t, bool>> entries_;
    std::int64_t next_commit_ = -1;
    std::int64_t committed_ = -1;
};

}  // namespace relay::kafka
