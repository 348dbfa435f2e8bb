#include "relay/http/async_client.hpp"

#include <fmt/format.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>
#include <map>
#include <mutex>
#include <variant>
#include <vector>

#include "relay/core/config.hpp"
#include "relay/http/resolver_cache.hpp"

namespace relay::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

ClientResult failure(ErrorKind kind, std::string message) {
    return ClientResult{std::nullopt, Error(kind, std::move(message))};
}

ErrorKind classify(const boost::system::error_code& ec) {
    if (ec == beast::error::timeout || ec == asio::error::timed_out) return ErrorKind::kTimeout;
    if (ec == asio::error::operation_aborted) return ErrorKind::kCancelled;
    // Oversized responses fail the same way next time.
    if (ec == bhttp::error::body_limit || ec == bhttp::error::header_limit) return ErrorKind::kPermanent;
    // A failed TLS handshake (certificate verification included) is retryable: an expired or rotated
    // certificate is fixed on the other side, and a wrong CA file here by a configuration change and a
    // restart; either way the records waiting in retry then go through without anyone replaying them.
    // Callers bound the retries (a policy, a circuit breaker).
    if (ec.category() == asio::error::get_ssl_category() || ec == asio::ssl::error::stream_truncated)
        return ErrorKind::kRetryable;
    if (ec.category() == bhttp::make_error_code(bhttp::error::end_of_stream).category() &&
        ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
        return ErrorKind::kPermanent;  // unparseable HTTP
    }
    return ErrorKind::kRetryable;  // refused, reset, closed, DNS
}

// A closed keep-alive connection shows up as one of these before any byte of the response arrived.
bool closed_by_peer(const boost::system::error_code& ec) {
    return ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
           ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
           ec == asio::ssl::error::stream_truncated;
}

}  // namespace

std::optional<Url> Url::parse(std::string_view text) {
    auto parsed = boost::urls::parse_uri(text);
    if (!parsed) return std::nullopt;
    const auto& u = *parsed;
    Url url;
    const auto scheme = u.scheme();
    if (scheme == "https") {
        url.tls = true;
    } else if (scheme != "http") {
        return std::nullopt;
    }
    std::string host(u.encoded_host_address());
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (host.empty()) return std::nullopt;
    url.host = std::move(host);
    url.port = u.has_port() ? u.port_number() : (url.tls ? 443 : 80);
    if (u.has_port() && url.port == 0) return std::nullopt;
    std::string target(u.encoded_path());
    if (target.empty()) target = "/";
    if (u.has_query()) target += "?" + std::string(u.encoded_query());
    url.target = std::move(target);
    return url;
}

std::string Url::origin() const {
    return fmt::format("{}://{}:{}", tls ? "https" : "http", host, port);
}

struct Connection {
    std::optional<beast::tcp_stream> plain;
    std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
    beast::flat_buffer buffer;

    beast::tcp_stream& lowest() { return plain ? *plain : beast::get_lowest_layer(*secure); }
};

namespace {

// Addresses to connect to, and the cache entry they came from (0: none, e.g. a literal address).
struct Resolved {
    ResolverCache::Endpoints endpoints;
    std::uint64_t entry = 0;
};
using Resolution = std::variant<Resolved, Error>;

// A name lookup under way for one (host, port). Connections that need the same name meanwhile wait for
// it (each on a timer that the lookup cancels when it ends) rather than start lookups of their own.
struct Lookup {
    bool done = false;
    // False when the lookup was cancelled or abandoned by its own caller: that says nothing about the
    // name, so the waiters look it up again instead of sharing the outcome.
    bool shared = true;
    Resolution outcome;
    std::vector<std::shared_ptr<asio::steady_timer>> waiters;
};

}  // namespace

struct AsyncClient::Impl {
    asio::any_io_executor executor;
    ClientOptions options;
    asio::ssl::context tls{asio::ssl::context::tls_client};
    // Guards the pool and the resolver state below. The client is driven from one executor (a
    // single-threaded io_context or a strand) in every service, so this is never contended; it keeps the
    // client as safe as the pool has always been should a caller use it from several threads.
    std::mutex mutex;
    std::map<std::string, std::vector<std::unique_ptr<Connection>>> idle;
    ResolverCache dns;
    std::map<std::pair<std::string, std::uint16_t>, std::shared_ptr<Lookup>> lookups;  ///< under way
    std::uint64_t resolutions = 0;

    std::unique_ptr<Connection> take_idle(const std::string& origin) {
        std::lock_guard lock(mutex);
        auto it = idle.find(origin);
        if (it == idle.end() || it->second.empty()) return nullptr;
        auto conn = std::move(it->second.back());
        it->second.pop_back();
        return conn;
    }

    void give_back(const std::string& origin, std::unique_ptr<Connection> conn) {
        std::lock_guard lock(mutex);
        auto& pool = idle[origin];
        if (pool.size() < options.max_idle_per_origin) pool.push_back(std::move(conn));
    }
};

namespace {

using Clock = ResolverCache::Clock;

// Asks the system resolver, bounded by the connect timeout. The second member says whether the outcome
// tells something about the name (false: the caller cancelled the lookup).
asio::awaitable<std::pair<std::variant<ResolverCache::Endpoints, Error>, bool>> look_up(
    AsyncClient::Impl& impl, const Url& url) {
    {
        std::lock_guard lock(impl.mutex);
        ++impl.resolutions;
    }
    tcp::resolver resolver(impl.executor);
    asio::steady_timer timer(impl.executor, impl.options.connect_timeout);
    auto resolved = co_await (resolver.async_resolve(url.host, std::to_string(url.port), kTuple) ||
                              timer.async_wait(kTuple));
    if (resolved.index() == 1)
        co_return std::pair{Error(ErrorKind::kTimeout, "name resolution timed out"), true};
    auto [resolve_ec, results] = std::get<0>(resolved);
    if (resolve_ec)
        co_return std::pair{Error(ErrorKind::kRetryable, "cannot resolve host: " + resolve_ec.message()),
                            resolve_ec != asio::error::operation_aborted};
    ResolverCache::Endpoints endpoints;
    for (const auto& result : results) endpoints.push_back(result.endpoint());
    co_return std::pair{std::move(endpoints), true};
}

// Ends a lookup for its waiters: caches its outcome (a failure only if it says something about the
// name), publishes it and wakes them. If the leading coroutine is destroyed before the lookup ended
// (its io_context went away), the waiters are woken to look the name up themselves.
class LookupLead {
   public:
    LookupLead(std::shared_ptr<AsyncClient::Impl> impl, const Url& url, std::shared_ptr<Lookup> lookup)
        : impl_(std::move(impl)), host_(url.host), port_(url.port), lookup_(std::move(lookup)) {}
    LookupLead(const LookupLead&) = delete;
    LookupLead& operator=(const LookupLead&) = delete;
    ~LookupLead() {
        if (!lookup_->done) finish(Error(ErrorKind::kCancelled, "name resolution abandoned"), false);
    }

    Resolution finish(std::variant<ResolverCache::Endpoints, Error> outcome, bool meaningful) {
        std::lock_guard lock(impl_->mutex);
        const auto now = Clock::now();
        Resolution resolution;
        if (auto* endpoints = std::get_if<ResolverCache::Endpoints>(&outcome)) {
            const auto entry = impl_->dns.store(host_, port_, *endpoints, now);
            resolution = Resolved{std::move(*endpoints), entry};
        } else {
            auto& error = std::get<Error>(outcome);
            if (meaningful) impl_->dns.store_failure(host_, port_, error, now);
            resolution = std::move(error);
        }
        lookup_->done = true;
        lookup_->shared = meaningful;
        lookup_->outcome = resolution;
        auto it = impl_->lookups.find({host_, port_});
        if (it != impl_->lookups.end() && it->second == lookup_) impl_->lookups.erase(it);
        for (auto& timer : lookup_->waiters) asio::post(timer->get_executor(), [timer] { timer->cancel(); });
        lookup_->waiters.clear();
        return resolution;
    }

   private:
    std::shared_ptr<AsyncClient::Impl> impl_;
    std::string host_;
    std::uint16_t port_;
    std::shared_ptr<Lookup> lookup_;
};

// The addresses for url's host: the literal address itself, a cached result, the result of a lookup
// another connection has under way, or a lookup of our own.
asio::awaitable<Resolution> resolve(std::shared_ptr<AsyncClient::Impl> impl, const Url& url) {
    if (auto address = literal_address(url.host))
        co_return Resolved{ResolverCache::Endpoints{tcp::endpoint(*address, url.port)}, 0};
    if (!impl->dns.enabled()) {
        auto looked_up = co_await look_up(*impl, url);
        if (auto* error = std::get_if<Error>(&looked_up.first)) co_return std::move(*error);
        co_return Resolved{std::move(std::get<ResolverCache::Endpoints>(looked_up.first)), 0};
    }
    // A waiter's timer lives on the waiter's executor, and the lookup cancels it there (see
    // LookupLead::finish): the cancel then cannot overtake the waiter starting to wait.
    const auto executor = co_await asio::this_coro::executor;
    for (;;) {
        std::shared_ptr<Lookup> lookup;
        std::shared_ptr<asio::steady_timer> wait;
        {
            std::lock_guard lock(impl->mutex);
            if (auto cached = impl->dns.find(url.host, url.port, Clock::now())) {
                if (cached->error) co_return std::move(*cached->error);
                co_return Resolved{std::move(cached->endpoints), cached->id};
            }
            auto& slot = impl->lookups[{url.host, url.port}];
            if (slot) {
                // The waiter's own deadline is a safety net: the lookup it waits for ends within the
                // connect timeout, which started earlier.
                wait = std::make_shared<asio::steady_timer>(executor, impl->options.connect_timeout);
                slot->waiters.push_back(wait);
            } else {
                slot = std::make_shared<Lookup>();
            }
            lookup = slot;
        }
        if (!wait) {
            LookupLead lead(impl, url, lookup);
            auto [outcome, meaningful] = co_await look_up(*impl, url);
            co_return lead.finish(std::move(outcome), meaningful);
        }
        auto [wait_ec] = co_await wait->async_wait(kTuple);
        std::lock_guard lock(impl->mutex);
        if (lookup->done) {
            if (lookup->shared) co_return lookup->outcome;
            continue;  // its caller gave up on it: try again, from the cache or with a lookup of our own
        }
        std::erase(lookup->waiters, wait);
        if (!wait_ec) co_return Error(ErrorKind::kTimeout, "name resolution timed out");
        co_return Error(ErrorKind::kCancelled, "name resolution cancelled");
    }
}

// Connect errors that suggest nothing listens at the address any more, so a remembered lookup result
// should be dropped: refused and unreachable, and also a connect timeout, because an address given up
// after a move often just stops answering. (Dropping costs one lookup.)
bool address_gone(const boost::system::error_code& ec) {
    return ec == asio::error::connection_refused || ec == asio::error::host_unreachable ||
           ec == asio::error::network_unreachable || ec == beast::error::timeout ||
           ec == asio::error::timed_out;
}

asio::awaitable<std::variant<std::unique_ptr<Connection>, ClientResult>> connect(
    std::shared_ptr<AsyncClient::Impl> impl, const Url& url) {
    auto executor = impl->executor;
    auto resolution = co_await resolve(impl, url);
    if (auto* error = std::get_if<Error>(&resolution))
        co_return ClientResult{std::nullopt, std::move(*error)};
    auto& [endpoints, entry] = std::get<Resolved>(resolution);

    auto conn = std::make_unique<Connection>();
    if (url.tls) {
        conn->secure.emplace(executor, impl->tls);
        if (!SSL_set_tlsext_host_name(conn->secure->native_handle(), url.host.c_str())) {
            co_return failure(ErrorKind::kPermanent, "cannot set TLS server name");
        }
        if (impl->options.verify_peer) {
            conn->secure->set_verify_mode(asio::ssl::verify_peer);
            conn->secure->set_verify_callback(asio::ssl::host_name_verification(url.host));
        }
    } else {
        conn->plain.emplace(executor);
    }
    conn->lowest().expires_after(impl->options.connect_timeout);
    auto [connect_ec, endpoint] = co_await conn->lowest().async_connect(endpoints, kTuple);
    if (connect_ec) {
        if (entry != 0 && address_gone(connect_ec)) {
            std::lock_guard lock(impl->mutex);
            impl->dns.invalidate(url.host, url.port, entry);
        }
        co_return failure(classify(connect_ec), "cannot connect: " + connect_ec.message());
    }
    if (url.tls) {
        auto [handshake_ec] = co_await conn->secure->async_handshake(asio::ssl::stream_base::client, kTuple);
        if (handshake_ec)
            co_return failure(classify(handshake_ec), "TLS handshake failed: " + handshake_ec.message());
    }
    co_return conn;
}

template <class Stream>
asio::awaitable<std::pair<ClientResult, bool>> exchange(Stream& stream,
                                                        beast::tcp_stream& lowest,
                                                        beast::flat_buffer& buffer,
                                                        ClientRequest& request,
                                                        const ClientOptions& options) {
    // Returns the result and whether the peer had closed the connection before answering.
    lowest.expires_after(options.request_timeout);
    auto [write_ec, written] = co_await bhttp::async_write(stream, request, kTuple);
    if (write_ec)
        co_return std::pair{failure(classify(write_ec), "sending the request failed: " + write_ec.message()),
                            closed_by_peer(write_ec)};
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(options.response_body_limit);
    auto [read_ec, read] = co_await bhttp::async_read(stream, buffer, parser, kTuple);
    if (read_ec) {
        const bool nothing_received = !parser.got_some() && closed_by_peer(read_ec);
        co_return std::pair{failure(classify(read_ec), "reading the response failed: " + read_ec.message()),
                            nothing_received};
    }
    co_return std::pair{ClientResult{parser.release(), {}}, false};
}

}  // namespace

AsyncClient::AsyncClient(asio::any_io_executor executor, ClientOptions options)
    : impl_(std::make_shared<Impl>()) {
    impl_->executor = std::move(executor);
    impl_->options = std::move(options);
    impl_->dns = ResolverCache(impl_->options.dns_cache_ttl, impl_->options.dns_failure_ttl);
    auto& tls = impl_->tls;
    tls.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                    asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                    asio::ssl::context::no_tlsv1_1);
    boost::system::error_code ec;
    if (impl_->options.ca_file) {
        tls.load_verify_file(*impl_->options.ca_file, ec);
        if (ec)
            throw ConfigError(fmt::format(
                "http client: cannot load CA file '{}': {}", *impl_->options.ca_file, ec.message()));
    } else {
        tls.set_default_verify_paths(ec);
    }
    if (impl_->options.client_certificate) {
        tls.use_certificate_chain_file(impl_->options.client_certificate->cert_file, ec);
        if (!ec)
            tls.use_private_key_file(
                impl_->options.client_certificate->key_file, asio::ssl::context::pem, ec);
        if (ec)
            throw ConfigError(fmt::format("http client: cannot load client certificate: {}", ec.message()));
    }
}

AsyncClient::~AsyncClient() = default;

std::uint64_t AsyncClient::resolutions() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->resolutions;
}

asio::awaitable<ClientResult> AsyncClient::send(Url url, ClientRequest request) {
    auto impl = impl_;
    const std::string origin = url.origin();
    const bool default_port = url.port == (url.tls ? 443 : 80);
    request.set(bhttp::field::host, default_port ? url.host : url.host + ":" + std::to_string(url.port));
    request.target(url.target);
    request.keep_alive(true);
    request.prepare_payload();

    for (int attempt = 0; attempt < 2; ++attempt) {
        std::unique_ptr<Connection> conn = attempt == 0 ? impl->take_idle(origin) : nullptr;
        const bool reused = conn != nullptr;
        if (!conn) {
            auto connected = co_await connect(impl, url);
            if (auto* error = std::get_if<ClientResult>(&connected)) co_return std::move(*error);
            conn = std::move(std::get<0>(connected));
        }
        // Not a conditional expression: GCC 12 miscompiles co_await inside ?: (the result is destroyed
        // twice).
        std::pair<ClientResult, bool> exchanged;
        if (conn->plain) {
            exchanged = co_await exchange(*conn->plain, conn->lowest(), conn->buffer, request, impl->options);
        } else {
            exchanged =
                co_await exchange(*conn->secure, conn->lowest(), conn->buffer, request, impl->options);
        }
        auto& [result, closed] = exchanged;
        if (!result.ok()) {
            if (reused && closed) continue;  // the pooled connection had been closed: one fresh try
            co_return result;
        }
        if (result.response->keep_alive()) impl->give_back(origin, std::move(conn));
        co_return result;
    }
    co_return failure(ErrorKind::kRetryable, "connection closed by the server");
}

}  // namespace relay::http
