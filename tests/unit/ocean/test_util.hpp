#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "relay/ocean/crypto.hpp"

namespace relay::ocean::testing {

/// ASSERT_TRUE(succeeded(r)) prints the error message when `r` holds one.
template <typename T>
::testing::AssertionResult succeeded(const Result<T>& r) {
    if (std::holds_alternative<T>(r)) return ::testing::AssertionSuccess();
    const Error& e = std::get<Error>(r);
    return ::testing::AssertionFailure() << to_string(e.kind) << " error: " << e.message;
}

/// ASSERT_TRUE(failed_permanently(r)) for inputs that must be refused.
template <typename T>
::testing::AssertionResult failed_permanently(const Result<T>& r) {
    if (std::holds_alternative<T>(r)) return ::testing::AssertionFailure() << "unexpectedly succeeded";
    const Error& e = std::get<Error>(r);
    if (e.kind != ErrorKind::kPermanent) {
        return ::testing::AssertionFailure() << "error kind is " << to_string(e.kind) << ": " << e.message;
    }
    return ::testing::AssertionSuccess();
}

template <typename T>
const T& value(const Result<T>& r) {
    return std::get<T>(r);
}

template <typename T>
const Error& error(const Result<T>& r) {
    return std::get<Error>(r);
}

/// Raw bytes from lower-case or upper-case hex (test inputs only; aborts the test on bad input).
inline std::string from_hex(std::string_view hex) {
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    std::string out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
        const int hi = nibble(hex[i]);
        const int lo = nibble(hex[i + 1]);
        if (hi < 0 || lo < 0 || hex.size() % 2 != 0) {
            ADD_FAILURE() << "bad hex in test input";
            return {};
        }
        out += static_cast<char>(hi * 16 + lo);
    }
    return out;
}

/// Deterministic filler so a failure can be reproduced (not a secret, not random).
inline std::string pattern_bytes(std::size_t n, unsigned seed = 1) {
    std::string out(n, '\0');
    unsigned x = seed * 2654435761u + 1;
    for (auto& c : out) {
        x = x * 1664525u + 1013904223u;
        c = static_cast<char>(x >> 24);
    }
    return out;
}

}  // namespace relay::ocean::testing
