// The HTTP server's request reading (libs/http/src/session.hpp) over raw bytes: the input is what a peer
// sends on one connection, fed through an in-memory stream into the same session code that serves TCP and
// TLS, with small limits so that every bound is reached: header and framing limits, body limits lowered by
// admission, the body memory budget, keep-alive over several requests.
//
// Invariants: no exception escapes and nothing crashes or leaks; every body handed to the handler is
// within its limit and keeps the padding simdjson needs; the budget is whole again after the connection;
// no request reaches the handler for a path the admission refused; the answer stream starts with a status
// line whenever anything was answered.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "relay/core/log.hpp"
#include "session.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using relay::http::BodyBudget;
using relay::http::Request;
using relay::http::RequestContext;
using relay::http::Response;

constexpr std::uint64_t kBodyLimit = 4096;
constexpr std::uint64_t kSmallBodyLimit = 100;

relay::http::ListenerConfig listener() {
    relay::http::ListenerConfig config;
    config.name = "fuzz";
    config.limits.header_limit = 1024;
    config.limits.body_limit = kBodyLimit;
    config.limits.read_buffer = 512;
    return config;
}

bool starts_with(boost::core::string_view target, std::string_view prefix) {
    return target.size() >= prefix.size() && std::string_view(target.data(), prefix.size()) == prefix;
}

asio::awaitable<Response> handle(Request& request, const RequestContext& context) {
    // Admission refused these; the handler must never see them.
    FUZZ_CHECK(!starts_with(request.target(), "/deny"));
    const std::uint64_t limit = context.body_limit.value_or(kBodyLimit);
    FUZZ_CHECK(request.body().size() <= limit);
    FUZZ_CHECK(request.body().capacity() >= request.body().size() + relay::http::kBodyPadding || request.body().empty());
    Response res{bhttp::status::ok, request.version()};
    res.body() = std::to_string(request.body().size());
    co_return res;
}

std::optional<Response> admit(const Request& request, RequestContext& context) {
    if (starts_with(request.target(), "/deny")) return Response{bhttp::status::unauthorized, request.version()};
    if (starts_with(request.target(), "/small")) context.body_limit = kSmallBodyLimit;
    return std::nullopt;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    relay::log::set_level("error");
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const relay::http::ListenerConfig config = listener();
    static const relay::http::Handler handler = handle;
    static const relay::http::Admission admission = admit;
    static const relay::http::ErrorBodyBuilder error_body;
    static const relay::http::RejectObserver on_reject;
    // Two maximal bodies fit, a third does not: concurrent requests are impossible on one connection,
    // so the budget is exercised through the announced lengths.
    BodyBudget budget(2 * (kBodyLimit + relay::http::kBodyPadding) + 100);
    std::atomic<bool> draining{false};
    std::atomic<std::size_t> active{0};
    const relay::http::detail::SessionEnv env{config, handler, admission, error_body, on_reject, budget, draining, active};

    asio::io_context ioc;
    beast::test::stream peer(ioc);
    beast::test::stream server(ioc);
    peer.connect(server);
    server.append(std::string_view(reinterpret_cast<const char*>(data), size));
    peer.close();  // the peer has said all it will: the server then reads end of stream

    auto connection = std::make_shared<relay::http::detail::ConnectionState>(ioc.get_executor());
    RequestContext context{"fuzz", {}, false};
    asio::co_spawn(ioc, relay::http::detail::serve(env, server, connection, context), asio::detached);
    ioc.run();

    FUZZ_CHECK(budget.used() == 0);
    FUZZ_CHECK(active.load() == 0);
    const std::string answers = peer.str();
    FUZZ_CHECK(answers.empty() || answers.rfind("HTTP/1.", 0) == 0);
    return 0;
}
