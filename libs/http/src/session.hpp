// One HTTP/1.1 connection of the server: reading requests under every limit, admission before the body,
// the body budget, the handler, the answer. A template over the stream so that the same code serves plain
// TCP, TLS, and an in-memory stream (the fuzzer feeds raw bytes through it).
#pragma once

#include <fmt/format.h>

#include <array>
#include <functional>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <boost/beast/http/write.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "relay/core/log.hpp"
#include "relay/http/body_budget.hpp"
#include "relay/http/server.hpp"

namespace relay::http::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

inline constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

/// Read size until a request is admitted: an unauthenticated connection holds at most its header plus this.
inline constexpr std::size_t kHeaderReadStep = 4096;

/// What a connection needs of its server. References: the server outlives its connections.
struct SessionEnv {
    const ListenerConfig& config;
    const Handler& handler;
    const Admission& admission;
    const ErrorBodyBuilder& error_body;
    const RejectObserver& on_reject;
    BodyBudget& budget;
    const std::atomic<bool>& draining;
    std::atomic<std::size_t>& active;

    void reject(std::string_view reason) const {
        if (on_reject) on_reject(reason);
    }

    [[nodiscard]] Response error_response(bhttp::status status,
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
        if (status == bhttp::status::service_unavailable) {
            res.set(bhttp::field::retry_after, std::to_string(config.limits.busy_retry_after.count()));
        }
        res.keep_alive(false);
        res.prepare_payload();
        return res;
    }
};

/// What the drain needs to reach a connection from outside its strand.
struct ConnectionState {
    asio::any_io_executor strand;
    bool busy = false;  ///< touched only on `strand`
    /// Cancels the connection's pending network step; set by the transport, touched only on `strand`.
    std::function<void()> cancel;
    explicit ConnectionState(asio::any_io_executor s) : strand(std::move(s)) {}
};

// Deadlines and socket operations where the stream has them (TCP, TLS over TCP); an in-memory stream
// has neither.
template <class Stream>
void set_deadline(Stream& stream, std::chrono::milliseconds timeout) {
    auto& lowest = beast::get_lowest_layer(stream);
    if constexpr (requires { lowest.expires_after(timeout); }) lowest.expires_after(timeout);
}

template <class Stream>
constexpr bool kPlainTcp = std::is_same_v<Stream, beast::tcp_stream>;

/// After an answer sent before the request was read whole: no more answers on this connection. The
/// unread rest is read and thrown away for a moment (bounded in time and bytes, into a small fixed
/// buffer), so the peer reads the answer instead of a reset caused by data it already sent.
template <class Stream>
asio::awaitable<void> linger_close(Stream& stream) {
    if constexpr (kPlainTcp<Stream>) {
        boost::system::error_code ignored;
        stream.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    }
    // TLS: the answer is already out; the rest is read through the session (a close_notify sent now
    // would make the peer's next record an error), then the caller shuts TLS down.
    set_deadline(stream, std::chrono::seconds(1));
    std::array<char, 4096> sink{};
    std::size_t discarded = 0;
    while (discarded < (1U << 20)) {
        auto [ec, n] = co_await stream.async_read_some(asio::buffer(sink), kTuple);
        if (ec) break;
        discarded += n;
    }
}

template <class Stream>
void reset_connection(Stream& stream) {
    auto& lowest = beast::get_lowest_layer(stream);
    if constexpr (requires { lowest.socket(); }) {
        // A reset, not a close: linger 0 makes the kernel send RST, as a crashed peer would.
        boost::system::error_code ignored;
        lowest.socket().set_option(asio::socket_base::linger(true, 0), ignored);
        lowest.socket().close(ignored);
    }
}

/// RFC 9112 §6.1: the only transfer coding this server reads is `chunked`, alone. Anything else
/// (`gzip`, `chunked, identity`, `xchunked`, two fields, or beside a Content-Length) would leave the
/// body's end to guesswork: refused.
inline bool acceptable_framing(const Request& request) {
    const auto te_fields = request.count(bhttp::field::transfer_encoding);
    if (te_fields == 0) return true;
    // HTTP/1.0 has no chunked coding (RFC 9112 §6.1): a 1.0 message with one is framed by the close.
    if (request.version() < 11) return false;
    if (te_fields > 1 || request.count(bhttp::field::content_length) > 0) return false;
    std::string_view value(request[bhttp::field::transfer_encoding].data(),
                           request[bhttp::field::transfer_encoding].size());
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    return beast::iequals(value, "chunked");
}

enum class Next { kKeepAlive, kClose, kLingerClose };

struct Rejection {
    bhttp::status status;
    std::string_view code;
    std::string message;
};

/// Reads one request whose first bytes are in `buffer`, answers it; says what becomes of the connection.
template <class Stream>
asio::awaitable<Next> serve_request(const SessionEnv& env,
                                    Stream& stream,
                                    beast::flat_buffer& buffer,
                                    const RequestContext& connection_context,
                                    bool& admitted) {
    const Limits& limits = env.config.limits;
    // A connection whose last request was admitted reads in read_buffer steps from the start, as a
    // stranger's does only once admitted.
    const bool trusted_reads = admitted;
    admitted = false;
    RequestContext context = connection_context;
    BudgetLease lease(env.budget);
    std::uint64_t body_limit = limits.body_limit;
    std::uint64_t consumed = 0;  // bytes of this request the parser took: framing + body
    bool budget_exhausted = false;

    bhttp::request_parser<PaddedStringBody> parser;
    // Chunk data is appended here rather than by the body reader, so that it is charged to the budget
    // before the memory is taken.
    auto on_chunk_body = [&parser, &lease, &budget_exhausted, &body_limit](
                             std::uint64_t /*remain*/, std::string_view data, beast::error_code& ec) -> std::size_t {
        std::string& body = parser.get().body();
        const std::size_t needed = body.size() + data.size() + kBodyPadding;
        if (body.capacity() < needed) {
            const std::size_t ceiling = static_cast<std::size_t>(body_limit) + kBodyPadding;
            const std::size_t capacity = grown_capacity(body.capacity(), needed, ceiling);
            if (!lease.grow_to(capacity)) {
                budget_exhausted = true;
                ec = bhttp::error::buffer_overflow;
                return 0;
            }
            reserve_exactly(body, capacity);
        }
        body.append(data.data(), data.size());
        ec = {};
        return data.size();
    };
    parser.on_chunk_body(on_chunk_body);
    parser.header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(limits.header_limit, UINT32_MAX)));
    parser.body_limit(limits.body_limit);

    std::string target;
    unsigned version = 11;
    std::size_t header_fields = 0;
    auto framing_bytes = [&] { return consumed - parser.get().body().size(); };

    // Parses what is buffered; need_more is not an error. Stops once the header is done while
    // `header_only`, so that admission runs before any body byte is taken.
    auto parse_buffered = [&](bool header_only) -> beast::error_code {
        beast::error_code ec;
        while (buffer.size() > 0 && !parser.is_done()) {
            const std::size_t n = parser.put(buffer.data(), ec);
            buffer.consume(n);
            consumed += n;
            if (ec && ec != bhttp::error::need_more) return ec;
            if (framing_bytes() > limits.header_limit) return bhttp::error::header_limit;
            if (ec == bhttp::error::need_more) return {};
            if (header_only && parser.is_header_done()) return {};
            if (n == 0) return {};
        }
        return ec;
    };

    std::optional<Rejection> rejection;
    bool header_phase = true;
    for (;;) {
        const beast::error_code ec = parse_buffered(header_phase);
        if (ec) {
            if (budget_exhausted) {
                rejection = Rejection{bhttp::status::service_unavailable,
                                      "body_budget_exhausted",
                                      "the server is busy; retry later"};
            } else if (ec == bhttp::error::body_limit) {
                rejection = Rejection{bhttp::status::payload_too_large,
                                      "body_too_large",
                                      fmt::format("the request body exceeds the limit of {} bytes", body_limit)};
            } else if (ec == bhttp::error::header_limit && header_phase) {
                rejection = Rejection{bhttp::status::request_header_fields_too_large,
                                      "header_too_large",
                                      "request headers exceed the configured limit"};
            } else if (ec == bhttp::error::header_limit) {
                rejection = Rejection{bhttp::status::bad_request,
                                      "framing_too_large",
                                      "chunk size lines, chunk extensions and trailers exceed the configured limit"};
            } else {
                rejection = Rejection{bhttp::status::bad_request,
                                      header_phase ? "bad_request" : "bad_framing",
                                      header_phase ? "the request is not valid HTTP/1.1"
                                                   : "the request body is not valid HTTP/1.1 framing"};
            }
            break;
        }
        if (header_phase && parser.is_header_done()) {
            header_phase = false;
            const Request& header = parser.get();
            target.assign(header.target().data(), header.target().size());
            version = header.version();
            if (!acceptable_framing(header)) {
                rejection = Rejection{bhttp::status::bad_request,
                                      "bad_transfer_encoding",
                                      "Transfer-Encoding must be exactly 'chunked' and not beside Content-Length"};
                break;
            }
            const bool has_body = parser.chunked() || parser.content_length().value_or(0) > 0;
            if (const auto length = parser.content_length()) context.content_length = *length;
            if (env.admission) {
                if (auto answer = env.admission(header, context)) {
                    Response res = std::move(*answer);
                    res.version(version);
                    res.keep_alive(!has_body && header.keep_alive() && !env.draining.load());
                    if (res[bhttp::field::server].empty()) res.set(bhttp::field::server, "ocean-relay");
                    res.prepare_payload();
                    set_deadline(stream, limits.write_timeout);
                    auto [wec, wn] = co_await bhttp::async_write(stream, res, kTuple);
                    if (wec) co_return Next::kClose;
                    co_return res.keep_alive() ? Next::kKeepAlive : has_body ? Next::kLingerClose : Next::kClose;
                }
            }
            admitted = true;
            if (context.body_limit) body_limit = std::min(body_limit, *context.body_limit);
            parser.body_limit(body_limit);
            if (const auto length = parser.content_length(); length && *length > body_limit) {
                rejection = Rejection{bhttp::status::payload_too_large,
                                      "body_too_large",
                                      fmt::format("the request body exceeds the limit of {} bytes", body_limit)};
                break;
            }
            if (const auto length = parser.content_length(); length && *length > 0 &&
                                                             !lease.grow_to(*length + kBodyPadding)) {
                rejection = Rejection{bhttp::status::service_unavailable,
                                      "body_budget_exhausted",
                                      "the server is busy; retry later"};
                break;
            }
            if (has_body && bhttp::token_list(header[bhttp::field::expect]).exists("100-continue")) {
                bhttp::response<bhttp::empty_body> interim{bhttp::status::continue_, version};
                set_deadline(stream, limits.write_timeout);
                auto [wec, wn] = co_await bhttp::async_write(stream, interim, kTuple);
                if (wec) co_return Next::kClose;
            }
            header_fields = static_cast<std::size_t>(std::distance(header.begin(), header.end()));
            parser.eager(true);
            set_deadline(stream, limits.body_timeout);
            continue;  // parse whatever of the body is already buffered
        }
        if (parser.is_done()) {
            // Beast merges chunked trailer fields into the header: the handler would then see fields
            // (credentials, signatures) that admission never judged. The relay has no use for trailers.
            const Request& message = parser.get();
            if (static_cast<std::size_t>(std::distance(message.begin(), message.end())) != header_fields) {
                rejection = Rejection{bhttp::status::bad_request, "trailer_fields", "trailer fields are not accepted"};
            }
            break;
        }

        // Read more: the buffer never holds more than header_limit + read_buffer unparsed bytes.
        const std::size_t room = buffer.max_size() - buffer.size();
        if (room == 0) {
            rejection = header_phase ? Rejection{bhttp::status::request_header_fields_too_large,
                                                 "header_too_large",
                                                 "request headers exceed the configured limit"}
                                     : Rejection{bhttp::status::bad_request,
                                                 "framing_too_large",
                                                 "a chunk size line or trailer exceeds the configured limit"};
            break;
        }
        // Before admission a peer is nobody: it gets small reads, so its buffer stays near its header's
        // size; an admitted body is read in read_buffer steps.
        const std::size_t step =
            header_phase && !trusted_reads ? std::min(limits.read_buffer, kHeaderReadStep) : limits.read_buffer;
        auto [rec, n] = co_await stream.async_read_some(buffer.prepare(std::min(room, step)), kTuple);
        if (rec) {
            if (rec == beast::error::timeout) {
                // tcp_stream closes the socket when its deadline passes: nothing more can be sent.
                env.reject(header_phase ? "header_timeout" : "body_timeout");
            } else if (!header_phase) {
                env.reject("incomplete_body");
            }
            co_return Next::kClose;
        }
        buffer.commit(n);
    }

    if (rejection) {
        env.reject(rejection->code);
        if (target.empty() && rejection->status != bhttp::status::request_header_fields_too_large) {
            // Refused while the header completed (a Content-Length over the limit): the request line
            // is parsed, so the answer can take the route's form.
            target.assign(parser.get().target().data(), parser.get().target().size());
            if (parser.get().version() != 0) version = parser.get().version();
        }
        Response res = env.error_response(rejection->status,
                                          rejection->code,
                                          rejection->message,
                                          target,
                                          version);
        set_deadline(stream, limits.write_timeout);
        auto [wec, wn] = co_await bhttp::async_write(stream, res, kTuple);
        co_return wec ? Next::kClose : Next::kLingerClose;
    }

    Request request = parser.release();
    Response response;
    bool abort_connection = false;
    env.active.fetch_add(1);
    try {
        response = co_await env.handler(request, context);
    } catch (const AbortConnection&) {
        abort_connection = true;
    } catch (const std::exception& e) {
        log::error("request handler failed", {{"listener", env.config.name}, {"error", e.what()}});
        response = env.error_response(
            bhttp::status::internal_server_error, "internal_error", "the request could not be processed", target, version);
    } catch (...) {
        log::error("request handler failed", {{"listener", env.config.name}, {"error", "unknown exception"}});
        response = env.error_response(
            bhttp::status::internal_server_error, "internal_error", "the request could not be processed", target, version);
    }
    env.active.fetch_sub(1);
    if (abort_connection) {
        reset_connection(stream);
        co_return Next::kClose;
    }
    const bool keep_alive = request.keep_alive() && response.keep_alive() && !env.draining.load();
    response.version(version);
    response.keep_alive(keep_alive);
    if (response[bhttp::field::server].empty()) response.set(bhttp::field::server, "ocean-relay");
    response.prepare_payload();
    set_deadline(stream, limits.write_timeout);
    auto [wec, wn] = co_await bhttp::async_write(stream, response, kTuple);
    if (wec || !keep_alive) co_return Next::kClose;
    co_return Next::kKeepAlive;
}

/// Serves requests on one connection until it closes, fails, goes idle too long or the server drains.
template <class Stream>
asio::awaitable<void> serve(const SessionEnv& env,
                            Stream& stream,
                            std::shared_ptr<ConnectionState> conn,
                            RequestContext context) {
    const Limits& limits = env.config.limits;
    beast::flat_buffer buffer(limits.header_limit + limits.read_buffer);
    bool admitted = false;  // the last request on this connection passed admission
    for (;;) {
        conn->busy = false;
        if (env.draining.load()) co_return;
        if (buffer.size() == 0 && admitted) {
            // A peer whose last request was admitted (Ocean, a hub system on keep-alive) keeps its
            // buffer between requests and reads the next one whole: the hot path of a busy integration.
            set_deadline(stream, limits.idle_timeout);
            auto [ec, n] = co_await stream.async_read_some(buffer.prepare(limits.read_buffer), kTuple);
            if (ec || n == 0) {
                if (ec == beast::error::timeout) env.reject("idle_timeout");
                co_return;
            }
            buffer.commit(n);
        } else if (buffer.size() == 0) {
            // Anyone else waits for the first byte of the next request under the idle deadline; the
            // header deadline starts only when a request begins. The wait reads one byte into the
            // connection state, so such an idle connection holds no read buffer at all (10,000 idle peers
            // cost no 640 MiB).
            buffer.shrink_to_fit();
            set_deadline(stream, limits.idle_timeout);
            char first = 0;
            auto [ec, n] = co_await stream.async_read_some(asio::mutable_buffer(&first, 1), kTuple);
            if (ec || n == 0) {
                if (ec == beast::error::timeout) env.reject("idle_timeout");
                co_return;
            }
            auto space = buffer.prepare(std::min(limits.read_buffer, kHeaderReadStep));
            *static_cast<char*>(space.data()) = first;
            buffer.commit(1);
        }
        conn->busy = true;
        set_deadline(stream, limits.header_timeout);
        const Next next = co_await serve_request(env, stream, buffer, context, admitted);
        if (next == Next::kLingerClose) co_await linger_close(stream);
        if (next != Next::kKeepAlive) co_return;
    }
}

}  // namespace relay::http::detail
