#include "relay/auth/replay_guard.hpp"

#include <cstring>
#include <stdexcept>

#include "random_key.hpp"
#include "relay/core/encoding.hpp"

namespace relay::auth {

ReplayGuard::ReplayGuard(std::size_t max_entries) : max_entries_(max_entries), key_(detail::random_key()) {
    if (max_entries_ == 0) throw std::invalid_argument("a replay guard needs room for at least one entry");
}

bool ReplayGuard::is_valid_id(std::string_view id) {
    if (id.empty() || id.size() > kMaxIdBytes) return false;
    for (const char ch : id) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c == 0x7f) return false;
    }
    return true;
}

std::size_t ReplayGuard::DigestHash::operator()(const Digest& digest) const {
    // The digest is a keyed hash already: any 8 of its bytes are as good as a hash function's.
    std::size_t h = 0;
    std::memcpy(&h, digest.data(), sizeof h);
    return h;
}

ReplayGuard::Digest ReplayGuard::digest_of(std::string_view audience, std::string_view id) const {
    // The audience's length first, so ("ab", "c") and ("a", "bc") differ.
    std::string input = std::to_string(audience.size());
    input += ':';
    input.append(audience).append(id);
    const std::string mac = hmac_sha256(key_, input);
    Digest digest{};
    std::memcpy(digest.data(), mac.data(), digest.size());
    return digest;
}

void ReplayGuard::prune(SystemTime now) {
    // An entry is kept through its expiry instant: a timestamp exactly `tolerance` old is still accepted.
    while (!by_expiry_.empty() && by_expiry_.begin()->first < now) {
        entries_.erase(by_expiry_.begin()->second);
        by_expiry_.erase(by_expiry_.begin());
    }
}

ReplayGuard::Verdict ReplayGuard::remember(std::string_view audience,
                                           std::string_view id,
                                           SystemTime expires_at,
                                           SystemTime now) {
    if (!is_valid_id(id)) return Verdict::kMalformedId;
    const Digest digest = digest_of(audience, id);
    const std::lock_guard lock(mutex_);
    prune(now);
    if (entries_.contains(digest)) return Verdict::kReplayed;
    if (expires_at < now) return Verdict::kFirstSeen;  // nothing to remember: it would be pruned at once
    if (entries_.size() >= max_entries_) {
        entries_.erase(by_expiry_.begin()->second);
        by_expiry_.erase(by_expiry_.begin());
        ++evictions_;
    }
    entries_.emplace(digest, by_expiry_.emplace(expires_at, digest));
    return Verdict::kFirstSeen;
}

void ReplayGuard::forget(std::string_view audience, std::string_view id) {
    if (!is_valid_id(id)) return;
    const Digest digest = digest_of(audience, id);
    const std::lock_guard lock(mutex_);
    const auto it = entries_.find(digest);
    if (it == entries_.end()) return;
    by_expiry_.erase(it->second);
    entries_.erase(it);
}

std::size_t ReplayGuard::size() const {
    const std::lock_guard lock(mutex_);
    return entries_.size();
}

std::uint64_t ReplayGuard::evictions() const {
    const std::lock_guard lock(mutex_);
    return evictions_;
}

}  // namespace relay::auth
