#include "relay/http/resolver_cache.hpp"

namespace relay::http {

std::optional<boost::asio::ip::address> literal_address(std::string_view host) {
    boost::system::error_code ec;
    auto address = boost::asio::ip::make_address(std::string(host), ec);
    if (ec) return std::nullopt;
    return address;
}

ResolverCache::ResolverCache(Clock::duration ttl, Clock::duration failure_ttl)
    : ttl_(ttl), failure_ttl_(failure_ttl) {}

std::optional<ResolverCache::Entry> ResolverCache::find(const std::string& host,
                                                        std::uint16_t port,
                                                        Clock::time_point now) {
    auto it = entries_.find(Key{host, port});
    if (it == entries_.end()) return std::nullopt;
    if (now >= it->second.expires) {
        entries_.erase(it);
        return std::nullopt;
    }
    return it->second;
}

std::uint64_t ResolverCache::store(const std::string& host,
                                   std::uint16_t port,
                                   Endpoints endpoints,
                                   Clock::time_point now) {
    if (!enabled() || endpoints.empty()) return 0;
    return put(host, port, Entry{std::move(endpoints), std::nullopt, 0, now + ttl_}, now);
}

std::uint64_t ResolverCache::store_failure(const std::string& host,
                                           std::uint16_t port,
                                           Error error,
                                           Clock::time_point now) {
    if (!enabled() || failure_ttl_ <= Clock::duration::zero()) return 0;
    return put(host, port, Entry{{}, std::move(error), 0, now + failure_ttl_}, now);
}

bool ResolverCache::invalidate(const std::string& host, std::uint16_t port, std::uint64_t id) {
    auto it = entries_.find(Key{host, port});
    if (it == entries_.end() || it->second.id != id) return false;
    entries_.erase(it);
    return true;
}

std::uint64_t ResolverCache::put(const std::string& host,
                                 std::uint16_t port,
                                 Entry entry,
                                 Clock::time_point now) {
    // A client talks to a handful of origins, so sweeping out every expired entry here is cheap, and it
    // keeps names that are no longer used from staying in memory for the client's lifetime.
    std::erase_if(entries_, [now](const auto& kv) { return now >= kv.second.expires; });
    entry.id = next_id_++;
    const std::uint64_t id = entry.id;
    entries_.insert_or_assign(Key{host, port}, std::move(entry));
    return id;
}

}  // namespace relay::http
