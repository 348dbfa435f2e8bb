#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "relay/core/error.hpp"
#include "relay/http/client.hpp"
#include "relay/http/server.hpp"

namespace relay::http {

/// An absolute http:// or https:// URL split for a request.
struct Url {
    bool tls = false;
    std::string host;
    std::uint16_t port = 0;
    std::string target = "/";  ///< path and query

    /// nullopt unless the scheme is http or https and a host is present.
    static std::optional<Url> parse(std::string_view text);
    [[nodiscard]] std::string origin() const;  ///< "https://host:port"
};

struct ClientOptions {
    std::chrono::milliseconds connect_timeout{5'000};
    /// Deadline for writing the request and reading the whole response.
    std::chrono::milliseconds request_timeout{30'000};
    std::uint64_t response_body_limit = 32ULL << 20;
    /// TLS: verify the server's certificate chain and host name (never turn off in production).
    bool verify_peer = true;
    std::optional<std::string> ca_file;          ///< else the system's trust store
    std::optional<TlsFiles> client_certificate;  ///< mutual TLS
    std::size_t max_idle_per_origin = 8;
    /// How long the addresses a host name resolved to are reused for new connections to it. Fixed,
    /// because getaddrinfo does not tell the records' TTLs: short enough to follow a DNS change
    /// (failover, migration) within a minute, long enough that a pool refilling after the peer closed
    /// its connections costs one lookup. 0 turns the cache off: every new connection resolves.
    std::chrono::milliseconds dns_cache_ttl{30'000};
    /// How long a failed lookup is remembered (0: not at all). Brief on purpose: a resolver failure is
    /// often transient, but while DNS is down, every connection attempt of a burst (or of each retry
    /// round) would otherwise wait for its own lookup to fail. Only with the cache on.
    std::chrono::milliseconds dns_failure_ttl{1'000};
};

/// The outcome of one exchange: a response (any status), or an error classified as retryable
/// (connection refused or reset, DNS), timeout, or permanent (bad URL, TLS verification failure,
/// response too large or malformed).
struct ClientResult {
    std::optional<ClientResponse> response;
    Error error;
    [[nodiscard]] bool ok() const { return response.has_value(); }
};

/// An asynchronous HTTP/1.1 client with keep-alive connection reuse per origin, TLS (SNI, chain and
/// host-name verification, optional client certificate) and a deadline on every step. Safe to use from
/// several coroutines at once; each exchange holds its own connection.
///
/// Host names are resolved once per ClientOptions::dns_cache_ttl, not per connection: concurrent
/// connections to a name whose lookup is under way wait for that lookup and share its result, and when
/// connecting to a remembered address fails (refused, unreachable, timed out) the result is dropped so
/// that the next connection asks DNS again — the host may have moved. Literal IP addresses are never
/// looked up.
class AsyncClient {
   public:
    AsyncClient(boost::asio::any_io_executor executor, ClientOptions options = {});
    ~AsyncClient();
    AsyncClient(const AsyncClient&) = delete;
    AsyncClient& operator=(const AsyncClient&) = delete;

    /// Sends `request` to `url` (Host, Content-Length and target are set from it). A pooled connection
    /// that turns out to be closed is replaced once, transparently, before anything was sent on it.
    boost::asio::awaitable<ClientResult> send(Url url, ClientRequest request);

    /// Name lookups this client has asked the system resolver for so far (cache hits, shared lookups and
    /// literal addresses do not count).
    [[nodiscard]] std::uint64_t resolutions() const;

    struct Impl;

   private:
    std::shared_ptr<Impl> impl_;
};

}  // namespace relay::http
