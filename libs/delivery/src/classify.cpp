#include "relay/delivery/classify.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

namespace relay::delivery {

namespace {

constexpr Outcome retryable(std::string_view reason) {
    return Outcome{false, ErrorKind::kRetryable, reason};
}

constexpr Outcome permanent(std::string_view reason) {
    return Outcome{false, ErrorKind::kPermanent, reason};
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

std::string_view trim_ows(std::string_view s) {
    const auto is_ows = [](char c) { return c == ' ' || c == '\t'; };
    while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
    return s;
}

// Exactly `width` digits; the grammar fixes the widths, so "7" for a day or "+5" is malformed.
std::optional<int> fixed_digits(std::string_view s, std::size_t pos, std::size_t width) {
    int value = 0;
    for (std::size_t i = pos; i < pos + width; ++i) {
        if (!is_digit(s[i])) return std::nullopt;
        value = value * 10 + (s[i] - '0');
    }
    return value;
}

std::optional<std::chrono::sys_seconds> parse_imf_fixdate(std::string_view s) {
    // "Sun, 06 Nov 1994 08:49:37 GMT"
    //  0123456789012345678901234567 8
    if (s.size() != 29) return std::nullopt;
    static constexpr std::array<std::string_view, 7> kDays = {
        "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
    static constexpr std::array<std::string_view, 12> kMonths = {
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    bool day_name_ok = false;
    for (auto name : kDays) day_name_ok = day_name_ok || s.substr(0, 3) == name;
    if (!day_name_ok) return std::nullopt;
    unsigned month = 0;
    for (unsigned i = 0; i < kMonths.size(); ++i) {
        if (s.substr(8, 3) == kMonths[i]) month = i + 1;
    }
    if (month == 0) return std::nullopt;
    if (s.substr(3, 2) != ", " || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[19] != ':' ||
        s[22] != ':' || s.substr(25) != " GMT") {
        return std::nullopt;
    }
    const auto day = fixed_digits(s, 5, 2);
    const auto year = fixed_digits(s, 12, 4);
    const auto hour = fixed_digits(s, 17, 2);
    const auto minute = fixed_digits(s, 20, 2);
    const auto second = fixed_digits(s, 23, 2);
    if (!day || !year || !hour || !minute || !second) return std::nullopt;
    // 60 is a leap second; it is read as the first second of the next minute.
    if (*hour > 23 || *minute > 59 || *second > 60) return std::nullopt;
    const std::chrono::year_month_day date{
        std::chrono::year(*year), std::chrono::month(month), std::chrono::day(static_cast<unsigned>(*day))};
    if (!date.ok()) return std::nullopt;
    return std::chrono::sys_days(date) + std::chrono::hours(*hour) + std::chrono::minutes(*minute) +
           std::chrono::seconds(*second);
}

}  // namespace

Outcome classify_status(int status) {
    if (status >= 200 && status <= 299) return Outcome{true, ErrorKind::kPermanent, "delivered"};
    switch (status) {
        case 408:
            return retryable("request timeout");
        case 425:
            return retryable("too early");
        case 429:
            return retryable("throttled");
        default:
            break;
    }
    if (status >= 500 && status <= 599) return retryable("server error");
    if (status >= 400 && status <= 499) return permanent("client error");
    if (status >= 300 && status <= 399) return permanent("redirect not followed");
    if (status >= 100 && status <= 199) return permanent("interim response as final response");
    return permanent("not an HTTP status");
}

Outcome classify_transport(TransportError error) {
    if (error == TransportError::kTimeout) return Outcome{false, ErrorKind::kTimeout, to_string(error)};
    return retryable(to_string(error));
}

std::optional<Duration> parse_retry_after(std::string_view value, SystemTime now) {
    value = trim_ows(value);
    if (value.empty()) return std::nullopt;

    if (is_digit(value.front())) {
        // RFC 9110 §1.2.1: a delta-seconds too large to hold is read as 2^31 seconds.
        constexpr std::uint64_t kSaturated = std::uint64_t{1} << 31;
        std::uint64_t seconds = 0;
        for (char c : value) {
            if (!is_digit(c)) return std::nullopt;
            seconds = std::min<std::uint64_t>(seconds * 10 + static_cast<std::uint64_t>(c - '0'), kSaturated);
        }
        return std::chrono::duration_cast<Duration>(std::chrono::seconds(seconds));
    }

    const auto when = parse_imf_fixdate(value);
    if (!when) return std::nullopt;
    const auto remaining = std::chrono::ceil<Duration>(SystemTime(*when) - now);
    return std::max(remaining, Duration::zero());
}

}  // namespace relay::delivery
