// PaddedStringBody: request bodies keep kBodyPadding spare bytes so simdjson can parse them in place.
// Parsed from memory with Beast's parser (no sockets).
#include "relay/http/body.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <string>

namespace http = boost::beast::http;

namespace {

// Feeds `wire` to a request parser `chunk` bytes at a time (as if read from a socket); returns the
// body and stores its capacity.
std::string parse_body(const std::string& wire, std::size_t chunk, std::size_t* capacity) {
    http::request_parser<relay::http::PaddedStringBody> parser;
    parser.eager(true);
    boost::beast::error_code ec;
    std::string pending;  // received but not yet consumed by the parser
    std::size_t offset = 0;
    while (!parser.is_done()) {
        const bool more_input = offset < wire.size();
        if (more_input) {
            const std::size_t n = std::min(chunk, wire.size() - offset);
            pending.append(wire, offset, n);
            offset += n;
        }
        const std::size_t used = parser.put(boost::asio::buffer(pending), ec);
        pending.erase(0, used);
        if (ec == http::error::need_more) {
            ec = {};
            if (!more_input) {
                ADD_FAILURE() << "message incomplete";
                return {};
            }
            continue;
        }
        if (ec) {
            ADD_FAILURE() << "parse error: " << ec.message();
            return {};
        }
        if (used == 0 && !more_input && !parser.is_done()) {
            ADD_FAILURE() << "parser made no progress";
            return {};
        }
    }
    std::string body = parser.release().body();
    *capacity = body.capacity();
    return body;
}

}  // namespace

TEST(PaddedStringBody, ContentLengthBodyKeepsThePadding) {
    const std::string payload = R"({"resourceType":"Bundle","type":"message"})";
    const std::string wire =
        "POST /ocean/1234/fhir HTTP/1.1\r\nHost: x\r\nContent-Type: "
        "application/fhir+json\r\nContent-Length: " +
        std::to_string(payload.size()) + "\r\n\r\n" + payload;
    std::size_t capacity = 0;
    EXPECT_EQ(parse_body(wire, wire.size(), &capacity), payload);
    EXPECT_GE(capacity, payload.size() + relay::http::kBodyPadding);
}

TEST(PaddedStringBody, ContentLengthBodyArrivingInSmallPiecesKeepsThePadding) {
    const std::string payload(5000, 'x');
    const std::string wire = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + payload;
    std::size_t capacity = 0;
    EXPECT_EQ(parse_body(wire, 7, &capacity), payload);
    EXPECT_GE(capacity, payload.size() + relay::http::kBodyPadding);
}

TEST(PaddedStringBody, ChunkedBodyIsReassembledWithThePadding) {
    const std::string wire =
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\nhello\r\n"
        "1\r\n \r\n"
        "5\r\nworld\r\n"
        "0\r\n\r\n";
    std::size_t capacity = 0;
    EXPECT_EQ(parse_body(wire, 3, &capacity), "hello world");
    EXPECT_GE(capacity, std::string("hello world").size() + relay::http::kBodyPadding);
}

TEST(PaddedStringBody, EmptyBodyIsEmpty) {
    const std::string wire = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
    std::size_t capacity = 0;
    EXPECT_EQ(parse_body(wire, wire.size(), &capacity), "");
}

TEST(PaddedStringBody, BodyOverTheParserLimitIsRefused) {
    http::request_parser<relay::http::PaddedStringBody> parser;
    parser.body_limit(10);
    const std::string wire = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n01234567890";
    boost::beast::error_code ec;
    parser.put(boost::asio::buffer(wire), ec);
    EXPECT_EQ(ec, http::error::body_limit);
}
