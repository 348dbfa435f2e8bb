#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <any>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "relay/http/body.hpp"
#include "relay/http/body_budget.hpp"

namespace relay::http {

struct TlsFiles {
    std::string cert_file;  ///< PEM certificate chain
    std::string key_file;   ///< PEM private key
    /// Mutual TLS: CAs whose client certificates are accepted. Clients without one still connect
    /// unless `require_client_certificate`; handlers see RequestContext::client_certificate_verified.
    std::optional<std::string> client_ca_file;
    bool require_client_certificate = false;
};

/// Bounds on what one peer may cost us. Every network step has a deadline; every byte a peer sends
/// counts against a limit; the memory a connection holds is bounded.
struct Limits {
    /// Every byte of a request that is not body data: the request line and headers, and for chunked
    /// bodies every chunk-size line, chunk extension, CRLF and trailer field, all together.
    std::size_t header_limit = 16 * 1024;
    std::uint64_t body_limit = 20ULL << 20;            ///< request body (chunk data, or Content-Length)
    std::chrono::milliseconds idle_timeout{60'000};    ///< keep-alive wait for the next request
    std::chrono::milliseconds header_timeout{10'000};  ///< from the first byte to the end of the headers
    std::chrono::milliseconds body_timeout{60'000};    ///< to read the whole body
    std::chrono::milliseconds write_timeout{30'000};   ///< to write the response
    /// Open connections. Past it, a few more (1/16 of it, at least 16) are answered 503 with Retry-After
    /// and closed; beyond those, new connections are closed at once.
    std::size_t max_connections = 4096;
    /// Per-connection read size (6.5x throughput on 20 KB bodies over small reads). The read buffer never
    /// holds more than this plus header_limit: bytes not yet parsed never grow beyond that.
    std::size_t read_buffer = 64 * 1024;
    /// Retry-After of the 503 answers to overload (connections, body memory).
    std::chrono::seconds busy_retry_after{2};
};

struct ListenerConfig {
    std::string name = "http";
    std::string address = "0.0.0.0";
    std::uint16_t port = 8080;
    std::optional<TlsFiles> tls;
    Limits limits;
};

using Request = boost::beast::http::request<PaddedStringBody>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

struct RequestContext {
    std::string_view listener;
    boost::asio::ip::tcp::endpoint remote;
    bool tls = false;
    bool client_certificate_verified = false;  ///< mutual TLS: a client certificate chained to client_ca_file
    /// Set by the admission hook for the handler (which route, who was authenticated); reset per request.
    std::any admitted;
    /// The admission hook may lower the listener's body limit for this request (a route's own limit).
    std::optional<std::uint64_t> body_limit;
    /// The request's Content-Length, for the admission hook (none for chunked bodies).
    std::optional<std::uint64_t> content_length;
};

/// Thrown by a handler to drop the connection with a TCP reset instead of answering (fault injection).
struct AbortConnection : std::exception {
    [[nodiscard]] const char* what() const noexcept override { return "connection aborted by the handler"; }
};

/// Runs on the connection's strand; may co_await. Exceptions become a 500 and are logged;
/// AbortConnection resets the connection without an answer.
using Handler = std::function<boost::asio::awaitable<Response>(Request&, const RequestContext&)>;

/// Runs once the request line and headers are read, before any byte of the body is read, before
/// `100 Continue` and before the body is charged to the memory budget: the place to authenticate, so
/// an unauthenticated peer costs no body memory. `request` has the headers and an empty body. Returns
/// a response to answer now (the connection is then closed, its body unread), or nothing to go on;
/// may fill `context.admitted` and lower `context.body_limit`.
using Admission = std::function<std::optional<Response>(const Request& request, RequestContext& context)>;

/// Builds the body of a response the server sends itself (400, 408, 413, 431, 503 on overload, 500):
/// returns {content type, body}. `code` is a short machine-readable reason; `target` the request target
/// if the headers were read (empty otherwise).
using ErrorBodyBuilder = std::function<std::pair<std::string, std::string>(
    int status, std::string_view code, std::string_view message, std::string_view target)>;

/// Observes protocol-level rejections (reason codes such as "header_too_large", "body_too_large",
/// "header_timeout", "body_timeout", "bad_request", "too_many_connections").
using RejectObserver = std::function<void(std::string_view reason)>;

/// What a server may be given beside its handler.
struct ServerHooks {
    ErrorBodyBuilder error_body;
    RejectObserver on_reject;
    Admission admission;
    /// Shared by the process's listeners; BodyBudget::process_default() when empty.
    std::shared_ptr<BodyBudget> body_budget;
};

/// An HTTP/1.1 server with keep-alive, optional TLS, C++20 coroutines and a strand per connection.
/// Strict framing (RFC 9112): a Transfer-Encoding other than exactly `chunked`, or beside a
/// Content-Length, is answered 400 and the connection closed; so is every error answered before the
/// body was read whole.
class Server {
   public:
    Server(boost::asio::io_context& ioc,
           ListenerConfig config,
           Handler handler,
           ErrorBodyBuilder error_body = {},
           RejectObserver on_reject = {});
    Server(boost::asio::io_context& ioc, ListenerConfig config, Handler handler, ServerHooks hooks);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    /// Binds and listens; throws ConfigError naming the listener and address if it cannot.
    void start();
    /// The bound port (useful with port 0).
    [[nodiscard]] std::uint16_t port() const;
    /// Stops accepting new connections (the listening socket closes, so new connects are refused).
    void stop_accepting();
    /// Graceful drain: idle keep-alive connections are closed now; busy ones finish their current
    /// request and then close.
    void drain();
    [[nodiscard]] std::size_t active_requests() const;
    [[nodiscard]] std::size_t open_connections() const;

    struct Impl;

   private:
    std::shared_ptr<Impl> impl_;
};

}  // namespace relay::http
