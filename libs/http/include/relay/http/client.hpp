#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace relay::http {

using ClientRequest = boost::beast::http::request<boost::beast::http::string_body>;
using ClientResponse = boost::beast::http::response<boost::beast::http::string_body>;

/// A blocking HTTP/1.1 client over one keep-alive connection, for tests, tools and simulators. It
/// reconnects when the server closed the connection. Not for the data path.
class BlockingClient {
   public:
    BlockingClient(std::string host,
                   std::uint16_t port,
                   std::chrono::milliseconds timeout = std::chrono::seconds(30));
    ~BlockingClient();
    BlockingClient(const BlockingClient&) = delete;
    BlockingClient& operator=(const BlockingClient&) = delete;

    /// Sends `request` (Host and Content-Length are filled in) and returns the response; throws
    /// boost::system::system_error on network errors and timeouts.
    ClientResponse send(ClientRequest request);

    /// POST helper.
    ClientResponse post(const std::string& target,
                        std::string body,
                        const std::string& content_type,
                        const std::vector<std::pair<std::string, std::string>>& headers = {});
    ClientResponse get(const std::string& target,
                       const std::vector<std::pair<std::string, std::string>>& headers = {});

    /// Closes the connection (the next request opens a new one).
    void close();

   private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace relay::http
