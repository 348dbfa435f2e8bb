#pragma once

#include <algorithm>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/optional.hpp>
#include <cstdint>
#include <limits>
#include <string>

namespace relay::http {

/// Spare bytes kept after every request body, so a JSON parser that reads ahead in SIMD blocks
/// (simdjson needs SIMDJSON_PADDING = 64) can parse the body in place instead of copying it.
inline constexpr std::size_t kBodyPadding = 64;

/// The capacity a body string grows to when `needed` bytes (padding included) must fit: geometric, so
/// a body costs O(size) copies however it arrives, but never beyond `ceiling` (the announced length
/// plus padding) unless more is needed. Memory follows the bytes that arrived, not an announcement.
inline std::size_t grown_capacity(std::size_t capacity, std::size_t needed, std::size_t ceiling) {
    const std::size_t doubled =
        capacity > std::numeric_limits<std::size_t>::max() / 4 ? needed : std::max(capacity * 2, std::size_t{4096});
    // Straight to the ceiling when the next doubling would pass it anyway: no step lands just below it
    // (a body of 2^k + 1 bytes would otherwise hold 2^k, then 2^k + 1 beside it while copying).
    const std::size_t step = doubled * 2 > ceiling ? ceiling : doubled;
    return std::max(needed, std::min(step, ceiling));
}

/// Gives `s` exactly `capacity` bytes of room. libstdc++'s reserve() rounds any growth below twice the
/// current capacity up to twice it, so a body charged for n bytes could hold 2n: a fresh string gets the
/// exact size.
inline void reserve_exactly(std::string& s, std::size_t capacity) {
    if (capacity <= s.capacity()) return;
    std::string fresh;
    fresh.reserve(capacity);
    fresh.append(s);
    s.swap(fresh);
}

/// A Beast body whose value is a std::string with at least kBodyPadding bytes of capacity beyond its
/// size. Reading only (requests into the server).
struct PaddedStringBody {
    using value_type = std::string;

    static std::uint64_t size(const value_type& body) { return body.size(); }

    class reader {
       public:
        template <bool IsRequest, class Fields>
        reader(boost::beast::http::header<IsRequest, Fields>& /*header*/, value_type& body) : body_(body) {}

        void init(const boost::optional<std::uint64_t>& length, boost::beast::error_code& ec) {
            if (length) {
                if (*length > body_.max_size() - kBodyPadding) {
                    ec = boost::beast::http::error::buffer_overflow;
                    return;
                }
                // Nothing is reserved from the announcement: a peer that announces 20 MiB and sends
                // ten bytes costs ten bytes (plus the growth step).
                ceiling_ = static_cast<std::size_t>(*length) + kBodyPadding;
            }
            ec = {};
        }

        template <class ConstBufferSequence>
        std::size_t put(const ConstBufferSequence& buffers, boost::beast::error_code& ec) {
            const std::size_t extra = boost::beast::buffer_bytes(buffers);
            const std::size_t size = body_.size();
            if (extra > body_.max_size() - kBodyPadding - size) {
                ec = boost::beast::http::error::buffer_overflow;
                return 0;
            }
            const std::size_t needed = size + extra + kBodyPadding;
            if (body_.capacity() < needed) reserve_exactly(body_, grown_capacity(body_.capacity(), needed, ceiling_));
            // append copies without first zero-filling the new bytes (resize would).
            for (auto buffer : boost::beast::buffers_range_ref(buffers)) {
                body_.append(static_cast<const char*>(buffer.data()), buffer.size());
            }
            ec = {};
            return extra;
        }

        void finish(boost::beast::error_code& ec) { ec = {}; }

       private:
        value_type& body_;
        std::size_t ceiling_ = std::numeric_limits<std::size_t>::max();
    };
};

}  // namespace relay::http
