#include "relay/http/client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <optional>

namespace relay::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

struct BlockingClient::Impl {
    std::string host;
    std::uint16_t port;
    std::chrono::milliseconds timeout;
    asio::io_context ioc;
    std::optional<beast::tcp_stream> stream;
    beast::flat_buffer buffer;

    void connect() {
        asio::ip::tcp::resolver resolver(ioc);
        auto results = resolver.resolve(host, std::to_string(port));
        stream.emplace(ioc);
        stream->expires_after(timeout);
        stream->connect(results);
        buffer.clear();
    }
};

BlockingClient::BlockingClient(std::string host, std::uint16_t port, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
    impl_->host = std::move(host);
    impl_->port = port;
    impl_->timeout = timeout;
}

BlockingClient::~BlockingClient() = default;

void BlockingClient::close() {
    if (impl_->stream) {
        beast::error_code ignored;
        impl_->stream->socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
        impl_->stream.reset();
    }
}

ClientResponse BlockingClient::send(ClientRequest request) {
    request.set(bhttp::field::host, impl_->host + ":" + std::to_string(impl_->port));
    request.prepare_payload();
    for (int attempt = 0; attempt < 2; ++attempt) {
        const bool reused = impl_->stream.has_value();
        if (!impl_->stream) impl_->connect();
        beast::error_code ec;
        impl_->stream->expires_after(impl_->timeout);
        bhttp::async_write(*impl_->stream, request, [&](beast::error_code e, std::size_t) { ec = e; });
        impl_->ioc.restart();
        impl_->ioc.run();
        ClientResponse response;
        if (!ec) {
            bhttp::response_parser<bhttp::string_body> parser;
            parser.body_limit(boost::none);
            impl_->stream->expires_after(impl_->timeout);
            bhttp::async_read(
                *impl_->stream, impl_->buffer, parser, [&](beast::error_code e, std::size_t) { ec = e; });
            impl_->ioc.restart();
            impl_->ioc.run();
            if (!ec) response = parser.release();
        }
        if (ec) {
            close();
            // A kept-alive connection the server closed meanwhile: retry once on a new one.
            if (reused && (ec == bhttp::error::end_of_stream || ec == asio::error::connection_reset ||
                           ec == asio::error::eof || ec == asio::error::broken_pipe)) {
                continue;
            }
            throw boost::system::system_error(ec);
        }
        if (!response.keep_alive()) close();
        return response;
    }
    throw boost::system::system_error(asio::error::connection_reset);
}

ClientResponse BlockingClient::post(const std::string& target,
                                    std::string body,
                                    const std::string& content_type,
                                    const std::vector<std::pair<std::string, std::string>>& headers) {
    ClientRequest request{bhttp::verb::post, target, 11};
    request.set(bhttp::field::content_type, content_type);
    for (const auto& [name, value] : headers) request.set(name, value);
    request.body() = std::move(body);
    return send(std::move(request));
}

ClientResponse BlockingClient::get(const std::string& target,
                                   const std::vector<std::pair<std::string, std::string>>& headers) {
    ClientRequest request{bhttp::verb::get, target, 11};
    for (const auto& [name, value] : headers) request.set(name, value);
    return send(std::move(request));
}

}  // namespace relay::http
