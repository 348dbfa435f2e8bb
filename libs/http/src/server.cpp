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

namespace relay::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

namespace {
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// What the drain needs to reach a connection from outside its strand.
struct ConnectionState {
    asio::any_io_executor strand;   // the connection's strand
    tcp::socket* socket = nullptr;  // touched only on `strand`
    bool busy = false;              // touched only on `strand`
    explicit ConnectionState(asio::any_io_executor s) : strand(std::move(s)) {}
};
}  // namespace

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
    asio::io_context& ioc;
    ListenerConfig config;
    Handler handler;
    ErrorBodyBuilder error_body;
    RejectObserver on_reject;
    tcp::acceptor acceptor;
    std::optional<asio::ssl::context> tls;
    std::atomic<bool> draining{false};
    std::atomic<std::size_t> active{0};
    std::mutex mutex;
    std::unordered_map<std::uint64_t, std::shared_ptr<ConnectionState>> connections;
    std::uint64_t next_id = 0;

    Impl(asio::io_context& io, ListenerConfig c, Handler h, ErrorBodyBuilder e, RejectObserver r)
        : ioc(io),
          config(std::move(c)),
          handler(std::move(h)),
          error_body(std::move(e)),
          on_reject(std::move(r)),
          acceptor(asio::make_strand(io)) {}

    void reject(std::string_view reason) const {
        if (on_reject) on_reject(reason);
    }

    Response error_response(bhttp::status status,
                            std::string_view code,
                            std::string_view message,
                            std::string_view target,
                            unsigned version) const {
        Response res{status, version};
        res.set(bhttp::field::server, "ocean-relay");
        if (error_body) {
            auto [content_type, body] = error_body(static_cast<int>(status), code, message, target);
            res.set(bhttp::field::content_type, content_type);
            res.body() = std::move(body);
        } else {
            res.set(bhttp::field::content_type, "application/json");
            res.body() = fmt::format(R"({{"error":"{}","message":"{}"}})", code, message);
        }
        res.keep_alive(false);
        res.prepare_payload();
        return res;
    }

    std::shared_ptr<ConnectionState> track(const std::shared_ptr<ConnectionState>& state, std::uint64_t& id) {
        std::lock_guard lock(mutex);
        id = next_id++;
        connections.emplace(id, state);
        return state;
    }
    void untrack(std::uint64_t id) {
        std::lock_guard lock(mutex);
        connections.erase(id);
    }
};

namespace {

template <class Stream>
tcp::socket& lowest_socket(Stream& stream) {
    return beast::get_lowest_layer(stream).socket();
}

template <class Stream>
asio::awaitable<void> write_error(Server::Impl& impl,
                                  Stream& stream,
                                  bhttp::status status,
                                  std::string_view code,
                                  std::string_view message,
                                  std::string_view target,
                                  unsigned version) {
    impl.reject(code);
    Response res = impl.error_response(status, code, message, target, version);
    beast::get_lowest_layer(stream).expires_after(impl.config.limits.write_timeout);
    co_await bhttp::async_write(stream, res, kTuple);
}

template <class Stream>
asio::awaitable<void> serve(std::shared_ptr<Server::Impl> impl,
                            Stream& stream,
                            std::shared_ptr<ConnectionState> conn,
                            RequestContext context) {
    const Limits& limits = impl->config.limits;
    beast::flat_buffer buffer;
    buffer.reserve(limits.read_buffer);
    for (;;) {
        conn->busy = false;
        if (impl->draining.load()) co_return;
        if (buffer.size() == 0) {
            // Wait for the first byte of the next request under the idle deadline; the header deadline
            // starts only when a request begins, so an idle keep-alive peer costs nothing but a socket.
            beast::get_lowest_layer(stream).expires_after(limits.idle_timeout);
            auto [ec, n] = co_await stream.async_read_some(buffer.prepare(limits.read_buffer), kTuple);
            if (ec) {
                if (ec == beast::error::timeout) impl->reject("idle_timeout");
                co_return;
            }
            buffer.commit(n);
        }
        conn->busy = true;

        bhttp::request_parser<PaddedStringBody> parser;
        parser.header_limit(static_cast<std::uint32_t>(limits.header_limit));
        parser.body_limit(limits.body_limit);
        beast::get_lowest_layer(stream).expires_after(limits.header_timeout);
        {
            auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, parser, kTuple);
            if (ec == bhttp::error::body_limit) {
                // Content-Length above the limit: Beast refuses it as soon as the headers are read.
                co_await write_error(
                    *impl,
                    stream,
                    bhttp::status::payload_too_large,
                    "body_too_large",
                    fmt::format("the request body exceeds the limit of {} bytes", limits.body_limit),
                    std::string(parser.get().target()),
                    parser.get().version());
                co_return;
            }
            if (ec == bhttp::error::header_limit) {
                co_await write_error(*impl,
                                     stream,
                                     bhttp::status::request_header_fields_too_large,
                                     "header_too_large",
                                     "request headers exceed the configured limit",
                                     {},
                                     11);
                co_return;
            }
            if (ec == beast::error::timeout) {
                // tcp_stream closes the socket when its deadline passes: nothing more can be sent.
                impl->reject("header_timeout");
                co_return;
            }
            if (ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
                ec == asio::error::connection_reset || ec == asio::error::operation_aborted) {
                co_return;
            }
            if (ec) {
                co_await write_error(*impl,
                                     stream,
                                     bhttp::status::bad_request,
                                     "bad_request",
                                     "the request is not valid HTTP/1.1",
                                     {},
                                     11);
                co_return;
            }
        }
        const std::string target(parser.get().target());
        const unsigned version = parser.get().version();
        if (const auto length = parser.content_length(); length && *length > limits.body_limit) {
            // Refuse before reading: the declared body is over the limit.
            co_await write_error(
                *impl,
                stream,
                bhttp::status::payload_too_large,
                "body_too_large",
                fmt::format("the request body exceeds the limit of {} bytes", limits.body_limit),
                target,
                version);
            co_return;
        }
        if (bhttp::token_list(parser.get()[bhttp::field::expect]).exists("100-continue")) {
            bhttp::response<bhttp::empty_body> interim{bhttp::status::continue_, version};
            beast::get_lowest_layer(stream).expires_after(limits.write_timeout);
            auto [ec, n] = co_await bhttp::async_write(stream, interim, kTuple);
            if (ec) co_return;
        }
        beast::get_lowest_layer(stream).expires_after(limits.body_timeout);
        {
            auto [ec, n] = co_await bhttp::async_read(stream, buffer, parser, kTuple);
            if (ec == bhttp::error::body_limit) {
                co_await write_error(
                    *impl,
                    stream,
                    bhttp::status::payload_too_large,
                    "body_too_large",
                    fmt::format("the request body exceeds the limit of {} bytes", limits.body_limit),
                    target,
                    version);
                co_return;
            }
            if (ec == beast::error::timeout) {
                impl->reject("body_timeout");
                co_return;
            }
            if (ec == asio::error::eof || ec == bhttp::error::partial_message ||
                ec == asio::error::connection_reset || ec == asio::error::operation_aborted) {
                impl->reject("incomplete_body");
                co_return;
            }
            if (ec) {
                co_await write_error(*impl,
                                     stream,
                                     bhttp::status::bad_request,
                                     "bad_request",
                                     "the request body is not valid HTTP/1.1 framing",
                                     target,
                                     version);
                co_return;
            }
        }

        Request request = parser.release();
        Response response;
        bool abort_connection = false;
        impl->active.fetch_add(1);
        try {
            response = co_await impl->handler(request, context);
        } catch (const AbortConnection&) {
            abort_connection = true;
        } catch (const std::exception& e) {
            log::error("request handler failed", {{"listener", impl->config.name}, {"error", e.what()}});
            response = impl->error_response(bhttp::status::internal_server_error,
                                            "internal_error",
                                            "the request could not be processed",
                                            target,
                                            version);
        }
        impl->active.fetch_sub(1);
        if (abort_connection) {
            // A reset, not a close: linger 0 makes the kernel send RST, as a crashed peer would.
            auto& socket = lowest_socket(stream);
            boost::system::error_code ignored;
            socket.set_option(asio::socket_base::linger(true, 0), ignored);
            socket.close(ignored);
            co_return;
        }

        const bool keep_alive = request.keep_alive() && response.keep_alive() && !impl->draining.load();
        response.version(version);
        response.keep_alive(keep_alive);
        if (response[bhttp::field::server].empty()) response.set(bhttp::field::server, "ocean-relay");
        response.prepare_payload();
        beast::get_lowest_layer(stream).expires_after(limits.write_timeout);
        auto [ec, n] = co_await bhttp::async_write(stream, response, kTuple);
        if (ec || !keep_alive) co_return;
    }
}

asio::awaitable<void> run_plain(std::shared_ptr<Server::Impl> impl,
                                tcp::socket socket,
                                std::shared_ptr<ConnectionState> conn,
                                RequestContext context) {
    beast::tcp_stream stream(std::move(socket));
    conn->socket = &stream.socket();
    co_await serve(impl, stream, conn, context);
    conn->socket = nullptr;
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> run_tls(std::shared_ptr<Server::Impl> impl,
                              tcp::socket socket,
                              std::shared_ptr<ConnectionState> conn,
                              RequestContext context) {
    beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *impl->tls);
    conn->socket = &beast::get_lowest_layer(stream).socket();
    beast::get_lowest_layer(stream).expires_after(impl->config.limits.header_timeout);
    auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kTuple);
    if (ec) {
        impl->reject("tls_handshake_failed");
        conn->socket = nullptr;
        co_return;
    }
    if (X509* peer = SSL_get1_peer_certificate(stream.native_handle()); peer != nullptr) {
        context.client_certificate_verified = SSL_get_verify_result(stream.native_handle()) == X509_V_OK;
        X509_free(peer);
    }
    co_await serve(impl, stream, conn, context);
    conn->socket = nullptr;
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
            co_await run_tls(impl, std::move(socket), conn, context);
        } else {
            co_await run_plain(impl, std::move(socket), conn, context);
        }
    } catch (const std::exception& e) {
        log::error("connection failed", {{"listener", impl->config.name}, {"error", e.what()}});
    }
    impl->untrack(id);
}

asio::awaitable<void> accept_loop(std::shared_ptr<Server::Impl> impl) {
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
        if (open >= impl->config.limits.max_connections) {
            impl->reject("too_many_connections");
            socket.close();
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
    : impl_(std::make_shared<Impl>(
          ioc, std::move(config), std::move(handler), std::move(error_body), std::move(on_reject))) {
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
    for (auto& [id, conn] : impl_->connections) {
        asio::post(conn->strand, [conn] {
            if (!conn->busy && conn->socket != nullptr) {
                boost::system::error_code ec;
                conn->socket->cancel(ec);
            }
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
