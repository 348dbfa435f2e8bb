// bare_beast_server: the machine's HTTP ceiling for benchmarks/load/run-load.sh.
//
// A minimal Boost.Beast HTTP/1.1 keep-alive server built the way the ingress's server is (C++20 coroutines,
// one io_context run by N threads, a strand per connection, a 64 KiB read buffer reserved per connection,
// the whole body read into a string, body limit 32 MiB), minus everything the ingress adds per request
// (routing, auth, JSON extraction, Kafka, metrics, logging, timeouts). Every request gets 200 and a tiny
// body.
//
//   bare_beast_server [port] [--threads N]     port 0 (default) picks a free one
//
// Prints "port <n>" on stdout once listening; stops on SIGINT/SIGTERM.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::uint64_t kBodyLimit = 32ULL << 20;
constexpr std::size_t kReadBuffer = 64 * 1024;
constexpr std::string_view kReply = R"({"ok":true})";

asio::awaitable<void> serve(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    buffer.reserve(kReadBuffer);
    for (;;) {
        bhttp::request_parser<bhttp::string_body> parser;
        parser.body_limit(kBodyLimit);
        auto [ec, n] = co_await bhttp::async_read(stream, buffer, parser, kTuple);
        if (ec) break;  // end of stream, reset, or a malformed request: just close
        const auto& request = parser.get();

        bhttp::response<bhttp::string_body> response{bhttp::status::ok, request.version()};
        response.set(bhttp::field::server, "bare-beast");
        response.set(bhttp::field::content_type, "application/json");
        response.keep_alive(request.keep_alive());
        response.body() = kReply;
        response.prepare_payload();
        auto [wec, wn] = co_await bhttp::async_write(stream, response, kTuple);
        if (wec || !response.keep_alive()) break;
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> accept_loop(asio::io_context& ioc, tcp::acceptor& acceptor) {
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(ioc), kTuple);
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
        if (ec) continue;
        auto executor = socket.get_executor();
        asio::co_spawn(executor, serve(std::move(socket)), asio::detached);
    }
}

[[noreturn]] void usage() {
    std::cerr << "usage: bare_beast_server [port] [--threads N] [--address A]\n";
    std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
    unsigned short port = 0;
    int threads = static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
    std::string address = "127.0.0.1";
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if ((arg == "--threads" || arg == "-t") && i + 1 < argc) {
            threads = std::atoi(argv[++i]);
        } else if (arg == "--address" && i + 1 < argc) {
            address = argv[++i];
        } else if (!arg.empty() && arg.front() != '-') {
            port = static_cast<unsigned short>(std::atoi(argv[i]));
        } else {
            usage();
        }
    }
    if (threads < 1) usage();

    asio::io_context ioc(threads);
    tcp::acceptor acceptor(asio::make_strand(ioc));
    const tcp::endpoint endpoint(asio::ip::make_address(address), port);
    acceptor.open(endpoint.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen(asio::socket_base::max_listen_connections);
    std::cout << "port " << acceptor.local_endpoint().port() << std::endl;

    asio::co_spawn(acceptor.get_executor(), accept_loop(ioc, acceptor), asio::detached);
    asio::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](beast::error_code, int) {
        asio::post(acceptor.get_executor(), [&] { acceptor.close(); });
        ioc.stop();
    });

    std::vector<std::thread> pool;
    for (int i = 1; i < threads; ++i) pool.emplace_back([&] { ioc.run(); });
    ioc.run();
    for (auto& t : pool) t.join();
    return 0;
}
