#include "relay/core/ids.hpp"

#include <openssl/rand.h>

#include <array>
#include <stdexcept>

#include "relay/core/encoding.hpp"

namespace relay {
namespace {

template <std::size_t N>
std::array<unsigned char, N> random_bytes() {
    std::array<unsigned char, N> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(N)) != 1) {
        throw std::runtime_error("RAND_bytes failed");
    }
    return bytes;
}

bool is_lower_hex(std::string_view s) {
    for (char c : s) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

bool all_zero(std::string_view s) {
    return s.find_first_not_of('0') == std::string_view::npos;
}

std::string random_hex(std::size_t nbytes) {
    auto bytes = random_bytes<16>();
    return hex_encode(std::string_view(reinterpret_cast<const char*>(bytes.data()), nbytes));
}

}  // namespace

std::string new_message_id() {
    auto b = random_bytes<16>();
    b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
    b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
    const std::string hex = hex_encode(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
    std::string id;
    id.reserve(36);
    id.append(hex, 0, 8).append("-").append(hex, 8, 4).append("-").append(hex, 12, 4).append("-");
    id.append(hex, 16, 4).append("-").append(hex, 20, 12);
    return id;
}

std::optional<TraceParent> TraceParent::parse(std::string_view header) {
    // 00-<32 hex>-<16 hex>-<2 hex>
    if (header.size() != 55 || header[2] != '-' || header[35] != '-' || header[52] != '-')
        return std::nullopt;
    const auto version = header.substr(0, 2);
    const auto trace_id = header.substr(3, 32);
    const auto span_id = header.substr(36, 16);
    const auto flags = header.substr(53, 2);
    if (version != "00" || !is_lower_hex(trace_id) || !is_lower_hex(span_id) || !is_lower_hex(flags)) {
        return std::nullopt;
    }
    if (all_zero(trace_id) || all_zero(span_id)) return std::nullopt;
    return TraceParent{std::string(trace_id), std::string(span_id), std::string(flags)};
}

TraceParent TraceParent::new_root() {
    // One call to the random generator for both ids: this runs for every request without a traceparent.
    const auto bytes = random_bytes<24>();
    const std::string hex =
        hex_encode(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    std::string trace_id = hex.substr(0, 32);
    std::string span_id = hex.substr(32, 16);
    if (all_zero(trace_id)) trace_id[31] = '1';
    if (all_zero(span_id)) span_id[15] = '1';
    return TraceParent{std::move(trace_id), std::move(span_id), "01"};
}

TraceParent TraceParent::child() const {
    std::string span_id = random_hex(8);
    if (all_zero(span_id)) span_id[15] = '1';
    return TraceParent{trace_id, std::move(span_id), flags};
}

std::string TraceParent::to_string() const {
    return "00-" + trace_id + "-" + span_id + "-" + flags;
}

}  // namespace relay
