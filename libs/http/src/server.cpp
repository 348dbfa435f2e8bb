#include "relay/http/server.hpp"

#include <fmt/format.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <mutex>
#include <type_traits>
#include <unordered_map>

#include "relay/core/config.hpp"
#include "relay/core/log.hpp"
#include "session.hpp"

namespace relay::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

using detail::ConnectionState;
using detail::kTuple;

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
    asio::io_context& ioc;
    ListenerConfig config;
    Handler handler;
    ServerHooks hooks;
    tcp::acceptor acceptor;
    std::optional<asio::ssl::context> tls;
    std::atomic<bool> draining{false};
    std::atomic<std::size_t> active{0};
    std::atomic<std::size_t> overflow{0};  // connections being told 503 past max_connections
    std::mutex mutex;
    std::unordered_map<std::uint64_t, std::shared_ptr<ConnectionState>> connections;
    std::uint64_t next_id = 0;
    detail::SessionEnv env;

    Impl(asio::io_context& io, ListenerConfig c, Handler h, ServerHooks k)
        : ioc(io),
          config(std::move(c)),
          handler(std::move(h)),
          hooks(std::move(k)),
          acceptor(asio::make_strand(io)),
          env{config,
              handler,
              hooks.admission,
              hooks.error_body,
              hooks.on_reject,
              *(hooks.body_budget ? hooks.body_budget : (hooks.body_budget = BodyBudget::process_default())),
              draining,
              active} {}

    void reject(std::string_view reason) const { env.reject(reason); }

    void track(const std::shared_ptr<ConnectionState>& state, std::uint64_t& id) {
        std::lock_guard lock(mutex);
        id = next_id++;
        connections.emplace(id, state);
    }
    void untrack(std::uint64_t id) {
        std::lock_guard lock(mutex);
        connections.erase(id);
    }
};

namespace {

// Cancels the connection's pending network step from its strand (the drain uses it on idle peers).
template <class Socket>
std::function<void()> canceller(Socket& socket) {
    return [&socket] {
        boost::system::error_code ignored;
        socket.cancel(ignored);
    };
}

// Forgets the canceller before the stream it points into goes, however the connection ends (an
// exception included): a drain posted meanwhile then finds nothing to cancel.
struct CancellerReset {
    ConnectionState& conn;
    ~CancellerReset() { conn.cancel = nullptr; }
};

asio::awaitable<void> run_plain(std::shared_ptr<Server::Impl> impl,
                                tcp::socket socket,
                                std::shared_ptr<ConnectionState> conn,
                                RequestContext context) {
    beast::tcp_stream stream(std::move(socket));
    conn->cancel = canceller(stream.socket());
    const CancellerReset reset{*conn};
    co_await detail::serve(impl->env, stream, conn, std::move(context));
    conn->cancel = nullptr;
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> run_tls(std::shared_ptr<Server::Impl> impl,
                              tcp::socket socket,
                              std::shared_ptr<ConnectionState> conn,
                              RequestContext context) {
    beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *impl->tls);
    conn->cancel = canceller(beast::get_lowest_layer(stream).socket());
    const CancellerReset reset{*conn};
    beast::get_lowest_layer(stream).expires_after(impl->config.limits.header_timeout);
    auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kTuple);
    if (ec) {
        impl->reject("tls_handshake_failed");
        conn->cancel = nullptr;
        co_return;
    }
    if (X509* peer = SSL_get1_peer_certificate(stream.native_handle()); peer != nullptr) {
        context.client_certificate_verified = SSL_get_verify_result(stream.native_handle()) == X509_V_OK;
        X509_free(peer);
    }
    co_await detail::serve(impl->env, stream, conn, std::move(context));
    conn->cancel = nullptr;
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(5));
    co_await stream.async_shutdown(kTuple);
}

asio::awaitable<void> run_connection(std::shared_ptr<Server::Impl> impl, tcp::socket socket) {
    auto conn = std::make_shared<ConnectionState>(socket.get_executor());
    std::uint64_t id = 0;
    impl->track(conn, id);
    RequestContext context{impl->config.name, {}, impl->tls.has_value()};
    beast::error_code ec;
    context.remote = socket.remote_endpoint(ec);
    try {
        if (impl->tls) {
            co_await run_tls(impl, std::move(socket), conn, std::move(context));
        } else {
            co_await run_plain(impl, std::move(socket), conn, std::move(context));
        }
    } catch (const std::exception& e) {
        log::error("connection failed", {{"listener", impl->config.name}, {"error", e.what()}});
    }
    impl->untrack(id);
}

// Past max_connections: a short answer instead of a silent close, so a caller (Ocean retries every
// non-2xx) and a load balancer see "busy" rather than a broken server. Bounded in time and in number.
template <class Stream>
asio::awaitable<void> answer_busy(std::shared_ptr<Server::Impl> impl, Stream& stream) {
    Response res = impl->env.error_response(
        bhttp::status::service_unavailable, "too_many_connections", "the server is busy; retry later", {}, 11);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
    auto [ec, n] = co_await bhttp::async_write(stream, res, kTuple);
    if (!ec) co_await detail::linger_close(stream);
}

asio::awaitable<void> refuse_connection(std::shared_ptr<Server::Impl> impl, tcp::socket socket) {
    try {
        if (impl->tls) {
            beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *impl->tls);
            beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
            auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kTuple);
            if (!ec) co_await answer_busy(impl, stream);
        } else {
            beast::tcp_stream stream(std::move(socket));
            co_await answer_busy(impl, stream);
        }
    } catch (const std::exception&) {
        // Best effort: the connection is refused either way.
    }
    impl->overflow.fetch_sub(1);
}

asio::awaitable<void> accept_loop(std::shared_ptr<Server::Impl> impl) {
    const std::size_t max_connections = impl->config.limits.max_connections;
    const std::size_t max_overflow = std::max<std::size_t>(16, max_connections / 16);
    for (;;) {
        auto [ec, socket] = co_await impl->acceptor.async_accept(asio::make_strand(impl->ioc), kTuple);
        if (ec == asio::error::operation_aborted || !impl->acceptor.is_open()) co_return;
        if (ec) {
            // EMFILE and friends: back off briefly instead of spinning.
            log::warn("accept failed", {{"listener", impl->config.name}, {"error", ec.message()}});
            asio::steady_timer timer(impl->acceptor.get_executor(), std::chrono::milliseconds(50));
            co_await timer.async_wait(kTuple);
            continue;
        }
        if (impl->draining.load()) {
            socket.close();
            continue;
        }
        std::size_t open = 0;
        {
            std::lock_guard lock(impl->mutex);
            open = impl->connections.size();
        }
        if (open >= max_connections) {
            impl->reject("too_many_connections");
            if (impl->overflow.fetch_add(1) < max_overflow) {
                auto executor = socket.get_executor();
                asio::co_spawn(executor, refuse_connection(impl, std::move(socket)), asio::detached);
            } else {
                impl->overflow.fetch_sub(1);
                socket.close();
            }
            continue;
        }
        auto executor = socket.get_executor();
        asio::co_spawn(executor, run_connection(impl, std::move(socket)), asio::detached);
    }
}

}  // namespace

Server::Server(asio::io_context& ioc,
               ListenerConfig config,
               Handler handler,
               ErrorBodyBuilder error_body,
               RejectObserver on_reject)
    : Server(ioc,
             std::move(config),
             std::move(handler),
             ServerHooks{std::move(error_body), std::move(on_reject), {}, {}}) {}

Server::Server(asio::io_context& ioc, ListenerConfig config, Handler handler, ServerHooks hooks)
    : impl_(std::make_shared<Impl>(ioc, std::move(config), std::move(handler), std::move(hooks))) {
    if (impl_->config.tls) {
        auto& ctx = impl_->tls.emplace(asio::ssl::context::tls_server);
        ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                        asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                        asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
        boost::system::error_code ec;
        ctx.use_certificate_chain_file(impl_->config.tls->cert_file, ec);
        if (ec) {
            throw ConfigError(fmt::format("listener '{}': cannot load TLS certificate '{}': {}",
                                          impl_->config.name,
                                          impl_->config.tls->cert_file,
                                          ec.message()));
        }
        ctx.use_private_key_file(impl_->config.tls->key_file, asio::ssl::context::pem, ec);
        if (ec) {
            throw ConfigError(fmt::format("listener '{}': cannot load TLS key '{}': {}",
                                          impl_->config.name,
                                          impl_->config.tls->key_file,
                                          ec.message()));
        }
        if (const auto& ca = impl_->config.tls->client_ca_file) {
            ctx.load_verify_file(*ca, ec);
            if (ec) {
                throw ConfigError(fmt::format(
                    "listener '{}': cannot load client CA '{}': {}", impl_->config.name, *ca, ec.message()));
            }
            ctx.set_verify_mode(asio::ssl::verify_peer | (impl_->config.tls->require_client_certificate
                                                              ? asio::ssl::verify_fail_if_no_peer_cert
                                                              : asio::ssl::verify_none));
        } else if (impl_->config.tls->require_client_certificate) {
            throw ConfigError(fmt::format("listener '{}': require_client_certificate needs client_ca_file",
                                          impl_->config.name));
        }
    }
}

Server::~Server() {
    stop_accepting();
}

void Server::start() {
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(impl_->config.address, ec);
    if (ec)
        throw ConfigError(
            fmt::format("listener '{}': invalid address '{}'", impl_->config.name, impl_->config.address));
    const tcp::endpoint endpoint(address, impl_->config.port);
    auto& acceptor = impl_->acceptor;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        throw ConfigError(fmt::format("listener '{}': cannot listen on {}:{}: {}",
                                      impl_->config.name,
                                      impl_->config.address,
                                      impl_->config.port,
                                      ec.message()));
    }
    asio::co_spawn(acceptor.get_executor(), accept_loop(impl_), asio::detached);
}

std::uint16_t Server::port() const {
    boost::system::error_code ec;
    auto endpoint = impl_->acceptor.local_endpoint(ec);
    return ec ? 0 : endpoint.port();
}

void Server::stop_accepting() {
    auto impl = impl_;
    asio::post(impl->acceptor.get_executor(), [impl] {
        boost::system::error_code ec;
        impl->acceptor.close(ec);
    });
}

void Server::drain() {
    impl_->draining.store(true);
    std::lock_guard lock(impl_->mutex);
    for (auto& entry : impl_->connections) {
        // A copy of the pointer, not the structured binding: the posted lambda outlives the loop.
        std::shared_ptr<ConnectionState> conn = entry.second;
        asio::post(conn->strand, [conn] {
            if (!conn->busy && conn->cancel) conn->cancel();
        });
    }
}

std::size_t Server::active_requests() const {
    return impl_->active.load();
}

std::size_t Server::open_connections() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->connections.size();
}

}  // namespace relay::http
