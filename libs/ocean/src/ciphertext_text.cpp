// Ciphertext in the textual forms Ocean puts on the wire: base64, a JSON string of base64, or (for
// historical reasons, per Ocean's public sample code) a JSON array of Java's signed bytes.

#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "relay/core/encoding.hpp"
#include "relay/ocean/crypto.hpp"

namespace relay::ocean {

namespace {

Error permanent(std::string message) {
    return Error(ErrorKind::kPermanent, "ocean crypto: " + std::move(message));
}

bool is_json_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_json_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_json_space(s.back())) s.remove_suffix(1);
    return s;
}

Result<std::string> decode_base64_text(std::string_view text) {
    auto bytes = base64_decode(text);
    if (!bytes) return permanent("ciphertext is not valid base64");
    return std::move(*bytes);
}

/// The contents of a JSON string literal holding base64. Base64 needs no escapes, but JSON encoders may
/// write '/' as "\/"; any other escape cannot be base64 and is refused.
Result<std::string> decode_json_string(std::string_view literal) {
    if (literal.size() < 2 || literal.back() != '"')
        return permanent("ciphertext JSON string is not terminated");
    const std::string_view inner = literal.substr(1, literal.size() - 2);
    if (inner.find('\\') == std::string_view::npos) return decode_base64_text(inner);
    std::string unescaped;
    unescaped.reserve(inner.size());
    for (std::size_t i = 0; i < inner.size(); ++i) {
        if (inner[i] != '\\') {
            unescaped += inner[i];
        } else if (i + 1 < inner.size() && inner[i + 1] == '/') {
            unescaped += '/';
            ++i;
        } else {
            return permanent("ciphertext JSON string has an escape that base64 never needs");
        }
    }
    return decode_base64_text(unescaped);
}

}  // namespace

Result<std::string> signed_byte_array_to_bytes(std::string_view json_array) {
    const std::string_view text = trim(json_array);
    if (text.size() < 2 || text.front() != '[' || text.back() != ']') {
        return permanent("ciphertext byte array is not a JSON array");
    }
    std::string out;
    out.reserve(text.size() / 3);  // "-35," is the typical element: about 3.5 characters per byte
    std::size_t i = 1;
    const std::size_t end = text.size() - 1;  // index of the closing ']'
    auto skip_space = [&] {
        while (i < end && is_json_space(text[i])) ++i;
    };
    skip_space();
    if (i == end) return out;  // []
    while (true) {
        const std::size_t element_start = i;
        const bool negative = text[i] == '-';
        if (negative) ++i;
        int value = 0;
        std::size_t digits = 0;
        while (i < end && text[i] >= '0' && text[i] <= '9') {
            // Four digits already exceed any byte; stop accumulating so the value cannot overflow.
            if (digits < 4) value = value * 10 + (text[i] - '0');
            ++digits;
            ++i;
        }
        if (digits == 0 || digits > 3 || (digits > 1 && text[element_start + (negative ? 1 : 0)] == '0')) {
            return permanent("ciphertext byte array element " + std::to_string(out.size()) +
                             " is not a JSON integer of at most three digits");
        }
        if (negative) value = -value;
        // [P] -128..127 is Java's byte; 128..255 is the same byte written unsigned.
        if (value < -128 || value > 255) {
            return permanent("ciphertext byte array element " + std::to_string(out.size()) +
                             " is out of range");
        }
        out += static_cast<char>(static_cast<unsigned char>(value & 0xff));
        skip_space();
        if (i == end) return out;
        if (text[i] != ',') {
            return permanent("ciphertext byte array has an unexpected character after element " +
                             std::to_string(out.size() - 1));
        }
        ++i;
        skip_space();
        if (i == end) return permanent("ciphertext byte array has a trailing comma");
    }
}

Result<std::string> decode_ciphertext(std::string_view text) {
    const std::string_view trimmed = trim(text);
    if (trimmed.empty()) return permanent("ciphertext is empty");
    if (trimmed.front() == '[') return signed_byte_array_to_bytes(trimmed);
    if (trimmed.front() == '"') return decode_json_string(trimmed);
    return decode_base64_text(trimmed);
}

Result<std::string> ciphertext_to_base64(std::string_view text) {
    auto bytes = decode_ciphertext(text);
    if (auto* e = std::get_if<Error>(&bytes)) return std::move(*e);
    return base64_encode(std::get<std::string>(bytes));
}

std::string bytes_to_signed_byte_array(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size() * 4 + 2);
    out += '[';
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (i > 0) out += ',';
        out += std::to_string(static_cast<int>(static_cast<signed char>(bytes[i])));
    }
    out += ']';
    return out;
}

}  // namespace relay::ocean
