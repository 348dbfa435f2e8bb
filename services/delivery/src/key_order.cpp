#include "key_order.hpp"

#include <algorithm>
#include <chrono>

#include "relay/core/log.hpp"

namespace relay::delivery_service {

namespace {

std::int64_t epoch_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string destination_of(std::string_view key) {
    return std::string(key.substr(0, key.find('|')));
}

}  // namespace

// -- partitions --

void KeyOrder::assign(std::int32_t partition, std::map<std::string, ParkedKey> keys) {
    Partition& p = partitions_[partition];
    p = Partition{};
    p.generation = next_generation_++;
    const std::int64_t now = epoch_ms();
    for (auto& [key, parked] : keys) {
        p.restored_tokens.insert(parked.head_token);
        for (const auto& r : parked.waiting) p.restored_tokens.insert(r.token);
        KeyState& ks = p.keys[key];
        ks.since_ms = now;
        ks.parked = std::move(parked);
        if (ks.parked->location == HeadLocation::kParked) {
            // It was being sent when the previous owner stopped: send it again.
            ks.busy = true;
            release(
                partition, p.generation, key, ParkedRecord{ks.parked->head_token, ks.parked->head_offset});
        }
    }
}

void KeyOrder::drain(std::int32_t partition) {
    if (const auto it = partitions_.find(partition); it != partitions_.end()) it->second.draining = true;
}

bool KeyOrder::busy(std::int32_t partition) const {
    const auto it = partitions_.find(partition);
    if (it == partitions_.end()) return false;
    for (const auto& [key, ks] : it->second.keys)
        if (ks.busy && !ks.release_deferred) return true;
    return false;
}

std::optional<std::int64_t> KeyOrder::revoke(std::int32_t partition) {
    const auto it = partitions_.find(partition);
    if (it == partitions_.end()) return std::nullopt;
    auto commit = it->second.tracker.position();
    in_flight_ -= it->second.tracker.in_flight();  // abandoned
    partitions_.erase(it);
    return commit;
}

std::optional<std::int64_t> KeyOrder::take_commit(std::int32_t partition) {
    const auto it = partitions_.find(partition);
    return it == partitions_.end() ? std::nullopt : it->second.tracker.take_commit();
}

// -- key state --

KeyOrder::Partition* KeyOrder::partition_of(const Head& h) {
    const auto it = partitions_.find(h.partition);
    if (it == partitions_.end() || it->second.generation != h.generation) return nullptr;
    return &it->second;
}

const KeyOrder::Partition* KeyOrder::partition_of(const Head& h) const {
    const auto it = partitions_.find(h.partition);
    if (it == partitions_.end() || it->second.generation != h.generation) return nullptr;
    return &it->second;
}

void KeyOrder::done(Partition& p, std::optional<std::int64_t> offset) {
    if (!offset) return;
    p.tracker.done(*offset);
    --in_flight_;
    io_.record_done();
}

void KeyOrder::write(std::int32_t partition,
                     std::vector<ChangelogRecord> records,
                     std::function<void()> then) {
    if (records.empty()) {
        then();
        return;
    }
    io_.write_changelog(partition, std::move(records), std::move(then));
}

void KeyOrder::arrive(Record record) {
    const auto it = partitions_.find(record.partition);
    if (it == partitions_.end()) return;  // the worker only hands over records of owned partitions
    ++in_flight_;
    Partition& p = it->second;
    p.tracker.add(record.offset);
    const std::string key = record.key;
    auto [ks, inserted] = p.keys.try_emplace(key);
    if (inserted) ks->second.since_ms = epoch_ms();
    ks->second.inbox.push_back(std::move(record));
    drive(it->first, key);
}

void KeyOrder::drive(std::int32_t partition_id, const std::string& key) {
    const auto pit = partitions_.find(partition_id);
    if (pit == partitions_.end()) return;
    Partition& p = pit->second;
    if (p.draining) return;
    const auto kit = p.keys.find(key);
    if (kit == p.keys.end()) return;
    KeyState& ks = kit->second;
    while (!ks.busy && !ks.inbox.empty()) {
        Record r = std::move(ks.inbox.front());
        ks.inbox.pop_front();
        if (r.park_token) {
            // A retry handed back by a delay tier: it goes only if it is still the key's head.
            if (ks.parked && ks.parked->location == HeadLocation::kTier && !ks.head_returned &&
                ks.parked->head_token == *r.park_token) {
                ks.head_returned = true;
                ks.busy = true;
                io_.start_send(Head{partition_id,
                                    p.generation,
                                    key,
                                    std::move(*r.park_token),
                                    std::move(r.message),
                                    r.offset,
                                    false});
            } else {
                io_.stale_retry();
                done(p, r.offset);
            }
            continue;
        }
        std::string token = make_token(r.partition, r.offset);
        if (p.restored_tokens.contains(token)) {
            done(p, r.offset);  // re-read after a restart: in a tier, parked, or already delivered
            continue;
        }
        if (ks.parked) {
            const bool known = ks.parked->head_token == token ||
                               std::any_of(ks.parked->waiting.begin(),
                                           ks.parked->waiting.end(),
                                           [&](const ParkedRecord& w) { return w.token == token; });
            if (known) {
                done(p, r.offset);  // re-read: already in a tier or parked
                continue;
            }
            ks.busy = true;
            park(partition_id, p.generation, key, std::move(token), ks.parked->head_token, std::move(r));
            continue;
        }
        ks.busy = true;
        io_.start_send(
            Head{partition_id, p.generation, key, std::move(token), std::move(r.message), r.offset, false});
    }
    if (!ks.busy && ks.inbox.empty() && !ks.parked) p.keys.erase(kit);
}

void KeyOrder::park(std::int32_t partition_id,
                    std::uint64_t generation,
                    const std::string& key,
                    std::string token,
                    const std::string& behind,
                    Record r) {
    Head h{partition_id, generation, key, std::move(token), std::move(r.message), r.offset, false};
    io_.write_parked(h, behind, [this, h](std::int64_t changelog_offset) {
        Partition* p = partition_of(h);
        if (p == nullptr) return;
        KeyState& ks = p->keys[h.key];
        ks.parked->waiting.push_back({h.token, changelog_offset});
        ks.busy = false;
        done(*p, h.main_offset);
        drive(h.partition, h.key);
    });
}

void KeyOrder::head_in_tier(Head h) {
    Partition* p = partition_of(h);
    if (p == nullptr) return;
    KeyState& ks = p->keys[h.key];
    const bool unchanged =
        ks.parked && ks.parked->location == HeadLocation::kTier && ks.parked->head_token == h.token;
    std::vector<ChangelogRecord> writes;
    if (!unchanged) writes.push_back({h.key, encode_head(h.token, HeadLocation::kTier)});
    if (h.from_parked) writes.push_back({parked_record_key(h.key, h.token), ""});
    const std::int32_t partition = h.partition;
    write(partition, std::move(writes), [this, h = std::move(h)] {
        Partition* p = partition_of(h);
        if (p == nullptr) return;
        KeyState& ks = p->keys[h.key];
        if (!ks.parked) ks.parked.emplace();
        ks.parked->head_token = h.token;
        ks.parked->location = HeadLocation::kTier;
        ks.parked->head_offset = -1;
        ks.head_returned = false;
        ks.busy = false;
        done(*p, h.main_offset);
        drive(h.partition, h.key);
    });
}

void KeyOrder::head_settled(Head h) {
    Partition* p = partition_of(h);
    if (p == nullptr) return;
    KeyState& ks = p->keys[h.key];
    if (!ks.parked) {
        ks.busy = false;
        done(*p, h.main_offset);
        drive(h.partition, h.key);
        return;
    }
    std::vector<ChangelogRecord> writes;
    std::optional<ParkedRecord> next;
    if (!ks.parked->waiting.empty()) {
        next = ks.parked->waiting.front();
        writes.push_back({h.key, encode_head(next->token, HeadLocation::kParked)});
    } else {
        writes.push_back({h.key, ""});
    }
    if (h.from_parked) writes.push_back({parked_record_key(h.key, h.token), ""});
    const std::int32_t partition = h.partition;
    write(partition, std::move(writes), [this, h = std::move(h), next] {
        Partition* p = partition_of(h);
        if (p == nullptr) return;
        KeyState& ks = p->keys[h.key];
        ks.head_returned = false;
        done(*p, h.main_offset);
        if (next) {
            ks.parked->waiting.pop_front();
            ks.parked->head_token = next->token;
            ks.parked->location = HeadLocation::kParked;
            ks.parked->head_offset = next->offset;
            release_or_defer(*p, h, *next);
            return;
        }
        ks.parked.reset();
        ks.busy = false;
        drive(h.partition, h.key);
    });
}

void KeyOrder::release(std::int32_t partition_id,
                       std::uint64_t generation,
                       const std::string& key,
                       const ParkedRecord& record) {
    log::debug("releasing a parked record",
               {{"partition", partition_id},
                {"token", record.token},
                {"offset", static_cast<long long>(record.offset)}});
    io_.read_parked(partition_id,
                    key,
                    record,
                    [this, partition_id, generation, key, record](std::shared_ptr<kafka::Message> m) {
                        Head h{partition_id, generation, key, record.token, std::move(m), std::nullopt, true};
                        Partition* p = partition_of(h);
                        if (p == nullptr) return;
                        if (p->draining) {
                            p->keys[key].release_deferred = true;
                            return;
                        }
                        if (!h.record) {
                            // Gone from the changelog: nothing can be sent. Count it loudly and go on with
                            // the key.
                            io_.parked_record_lost();
                            log::error("a parked record is gone from the changelog; it cannot be delivered",
                                       {{"key_destination", destination_of(key)}, {"token", record.token}});
                            head_settled(std::move(h));  // nothing to record: the key moves on
                            return;
                        }
                        io_.start_send(std::move(h));
                    });
}

void KeyOrder::release_or_defer(Partition& p, const Head& h, const ParkedRecord& next) {
    if (p.draining) {
        p.keys[h.key].release_deferred = true;  // the changelog names it as the head: restored later
        return;
    }
    release(h.partition, h.generation, h.key, next);
}

}  // namespace relay::delivery_service
