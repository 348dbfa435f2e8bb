#include "relay/auth/failure_limiter.hpp"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <stdexcept>

#include "random_key.hpp"
#include "relay/core/encoding.hpp"

namespace relay::auth {
namespace {

std::string tag_text(const std::array<unsigned char, 4>& tag) {
    return hex_encode(std::string_view(reinterpret_cast<const char*>(tag.data()), tag.size()));
}

std::chrono::seconds ceil_seconds(SteadyTime::duration d) {
    return std::max(std::chrono::seconds(1), std::chrono::ceil<std::chrono::seconds>(d));
}

}  // namespace

const char* FailureLimiter::to_string(Scope scope) {
    return scope == Scope::kAddress ? "address" : "credential";
}

FailureLimiter::FailureLimiter(FailureLimits limits) : limits_(limits), key_(detail::random_key()) {
    if (limits_.window <= std::chrono::seconds(0)) {
        throw std::invalid_argument("a failure limiter's window must be positive");
    }
    if (limits_.max_tracked == 0) {
        throw std::invalid_argument("a failure limiter must track at least one key");
    }
}

std::size_t FailureLimiter::KeyHash::operator()(const Key& key) const {
    // The key is a keyed hash already: any 8 of its bytes are as good as a hash function's.
    std::size_t h = 0;
    std::memcpy(&h, key.data(), sizeof h);
    return h;
}

FailureLimiter::HashedKey FailureLimiter::hash(Scope scope, std::string_view text) const {
    std::string input(1, scope == Scope::kAddress ? 'a' : 'c');
    input.append(text);
    const std::string mac = hmac_sha256(key_, input);
    HashedKey hashed{};
    std::memcpy(hashed.key.data(), mac.data(), hashed.key.size());
    // The tag comes from other bytes than the map key, so logging it reveals nothing of the key.
    std::memcpy(hashed.tag.data(), mac.data() + hashed.key.size(), hashed.tag.size());
    return hashed;
}

std::uint32_t FailureLimiter::max_for(Scope scope) const {
    return scope == Scope::kAddress ? limits_.max_per_address : limits_.max_per_credential;
}

void FailureLimiter::end_episode(const Entry& entry, SteadyTime end, bool evicted) {
    if (ended_.size() >= limits_.max_tracked) ended_.pop_front();
    ended_.push_back(EndedEpisode{entry.scope,
                                  entry.failures,
                                  entry.refused,
                                  std::chrono::round<std::chrono::seconds>(end - entry.blocked_since),
                                  evicted,
                                  tag_text(entry.tag)});
}

void FailureLimiter::erase(std::unordered_map<Key, Entry, KeyHash>::iterator it) {
    (it->second.is_blocked ? blocked_ : counting_).erase(it->second.position);
    entries_.erase(it);
}

void FailureLimiter::prune(SteadyTime now) {
    while (!counting_.empty() && counting_.begin()->first <= now) {
        erase(entries_.find(counting_.begin()->second));
    }
    while (!blocked_.empty() && blocked_.begin()->first <= now) {
        const SteadyTime end = blocked_.begin()->first;
        const auto it = entries_.find(blocked_.begin()->second);
        end_episode(it->second, end, false);
        erase(it);
    }
}

FailureLimiter::Entry& FailureLimiter::find_or_add(const HashedKey& hashed, Scope scope, SteadyTime now) {
    if (const auto it = entries_.find(hashed.key); it != entries_.end()) return it->second;
    if (entries_.size() >= limits_.max_tracked) {
        // prune() ran: nothing tracked has expired. Drop the oldest count, else the block ending first.
        if (!counting_.empty()) {
            erase(entries_.find(counting_.begin()->second));
        } else {
            const auto it = entries_.find(blocked_.begin()->second);
            end_episode(it->second, now, true);
            erase(it);
        }
    }
    Entry entry{scope, hashed.tag, 0, 0, false, {}, counting_.emplace(now + limits_.window, hashed.key)};
    return entries_.emplace(hashed.key, entry).first->second;
}

std::optional<FailureLimiter::Blocked> FailureLimiter::blocked(std::string_view address,
                                                               std::string_view credential_id,
                                                               SteadyTime now) {
    std::optional<Blocked> answer;
    const std::lock_guard lock(mutex_);
    prune(now);
    if (blocked_.empty()) return answer;  // the usual case: no hashing needed
    for (const auto& [scope, text] :
         {std::pair{Scope::kAddress, address}, std::pair{Scope::kCredential, credential_id}}) {
        if (text.empty() || max_for(scope) == 0) continue;
        const auto it = entries_.find(hash(scope, text).key);
        if (it == entries_.end() || !it->second.is_blocked) continue;
        ++it->second.refused;
        const std::chrono::seconds wait = ceil_seconds(it->second.position->first - now);
        if (!answer || wait > answer->retry_after) answer = Blocked{scope, wait};
    }
    return answer;
}

std::vector<FailureLimiter::Episode> FailureLimiter::record_failure(std::string_view address,
                                                                    std::string_view credential_id,
                                                                    SteadyTime now) {
    struct Counted {
        Scope scope;
        std::uint32_t max;
        HashedKey hashed;
    };
    std::vector<Counted> keys;  // hashed before taking the lock
    for (const auto& [scope, text] :
         {std::pair{Scope::kAddress, address}, std::pair{Scope::kCredential, credential_id}}) {
        if (!text.empty() && max_for(scope) > 0) {
            keys.push_back(Counted{scope, max_for(scope), hash(scope, text)});
        }
    }
    std::vector<Episode> started;
    const std::lock_guard lock(mutex_);
    prune(now);
    for (const auto& [scope, max, hashed] : keys) {
        Entry& entry = find_or_add(hashed, scope, now);
        if (entry.failures < UINT32_MAX) ++entry.failures;
        if (entry.is_blocked || entry.failures < max) continue;
        // The count reached the maximum within the window: blocked for a window from now.
        counting_.erase(entry.position);
        entry.position = blocked_.emplace(now + limits_.window, hashed.key);
        entry.is_blocked = true;
        entry.blocked_since = now;
        started.push_back(Episode{scope, entry.failures, tag_text(hashed.tag)});
    }
    return started;
}

std::vector<FailureLimiter::EndedEpisode> FailureLimiter::take_ended_episodes(SteadyTime now) {
    const std::lock_guard lock(mutex_);
    prune(now);
    std::vector<EndedEpisode> ended(std::make_move_iterator(ended_.begin()),
                                    std::make_move_iterator(ended_.end()));
    ended_.clear();
    return ended;
}

std::size_t FailureLimiter::tracked() const {
    const std::lock_guard lock(mutex_);
    return entries_.size();
}

}  // namespace relay::auth
