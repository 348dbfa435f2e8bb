#pragma once

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "relay/core/error.hpp"

namespace relay::http {

/// `host` as an IP address if it is one ("127.0.0.1", "::1", "fe80::1%eth0"); nullopt for a name.
/// Such a host never goes to the resolver: there is nothing to look up.
std::optional<boost::asio::ip::address> literal_address(std::string_view host);

/// What name resolution gave for each (host, port) an AsyncClient connects to, kept for a while so that
/// new connections to an origin reuse it instead of each asking the system resolver again. Every lookup
/// is a getaddrinfo call on asio's single resolver thread, so a slow DNS server serialises all of them;
/// a burst of new connections (a pool refilling after the peer closed its keep-alive connections)
/// should cost one lookup, not one each.
///
/// Only the bookkeeping: no I/O and no clock of its own — every call is given `now` — so expiry and
/// invalidation are tested without DNS or sleeping. Not synchronised: the owner serialises calls.
class ResolverCache {
   public:
    using Clock = std::chrono::steady_clock;
    using Endpoints = std::vector<boost::asio::ip::tcp::endpoint>;

    struct Entry {
        Endpoints endpoints;         ///< the addresses (empty for a cached failure)
        std::optional<Error> error;  ///< set for a cached failure
        std::uint64_t id = 0;        ///< names this result for invalidate(); never 0
        Clock::time_point expires;
    };

    /// `ttl`: how long a successful lookup is reused; zero or less turns the cache off (store() and
    /// store_failure() keep nothing). `failure_ttl`: how long a failed one is (zero or less: not at all).
    explicit ResolverCache(Clock::duration ttl = std::chrono::seconds(30),
                           Clock::duration failure_ttl = std::chrono::seconds(1));

    [[nodiscard]] bool enabled() const { return ttl_ > Clock::duration::zero(); }

    /// The result for (host, port) unless there is none or it has expired at `now` (an expired one is
    /// dropped).
    [[nodiscard]] std::optional<Entry> find(const std::string& host,
                                            std::uint16_t port,
                                            Clock::time_point now);

    /// Keeps `endpoints` for (host, port) until now + ttl, replacing what was there; returns the
    /// entry's id, or 0 if the cache is off (or `endpoints` is empty: nothing to connect to).
    std::uint64_t store(const std::string& host,
                        std::uint16_t port,
                        Endpoints endpoints,
                        Clock::time_point now);

    /// Remembers a failed lookup until now + failure_ttl, so that connections made right after it fail
    /// at once instead of each waiting for DNS again. Returns the entry's id, or 0 if not kept.
    std::uint64_t store_failure(const std::string& host,
                                std::uint16_t port,
                                Error error,
                                Clock::time_point now);

    /// Drops the result for (host, port) if it is still the one named `id` (connecting to its addresses
    /// failed: the host may have moved). A newer result, stored since by another connection, stays.
    /// Returns whether something was dropped.
    bool invalidate(const std::string& host, std::uint16_t port, std::uint64_t id);

    /// Entries held, expired ones included until they are next looked at.
    [[nodiscard]] std::size_t size() const { return entries_.size(); }

   private:
    using Key = std::pair<std::string, std::uint16_t>;

    std::uint64_t put(const std::string& host, std::uint16_t port, Entry entry, Clock::time_point now);

    Clock::duration ttl_;
    Clock::duration failure_ttl_;
    std::uint64_t next_id_ = 1;
    std::map<Key, Entry> entries_;
};

}  // namespace relay::http
