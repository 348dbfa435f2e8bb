// classify.hpp: HTTP status and transport outcomes, Retry-After parsing (RFC 9110 §10.2.3).
#include "relay/delivery/classify.hpp"

#include <gtest/gtest.h>

#include <cstdint>

namespace {

using namespace std::chrono_literals;
using relay::ErrorKind;
using relay::SystemTime;
using relay::delivery::classify_status;
using relay::delivery::classify_transport;
using relay::delivery::parse_retry_after;
using relay::delivery::TransportError;

// 1999-12-31T23:59:00Z, one minute before the RFC 9110 Retry-After example date.
SystemTime rfc_example_minus_one_minute() {
    return SystemTime(std::chrono::sys_days(std::chrono::year(1999) / 12 / 31) + 23h + 59min);
}

}  // namespace

TEST(ClassifyStatus, EveryTwoHundredIsDelivered) {
    for (int status = 200; status <= 299; ++status) {
        const auto outcome = classify_status(status);
        EXPECT_TRUE(outcome.delivered) << status;
    }
}

TEST(ClassifyStatus, RetryableClientErrorsAndEveryServerError) {
    for (int status : {408, 425, 429}) {
        const auto outcome = classify_status(status);
        EXPECT_FALSE(outcome.delivered) << status;
        EXPECT_EQ(outcome.kind, ErrorKind::kRetryable) << status;
    }
    for (int status = 500; status <= 599; ++status) {
        const auto outcome = classify_status(status);
        EXPECT_FALSE(outcome.delivered) << status;
        EXPECT_EQ(outcome.kind, ErrorKind::kRetryable) << status;
        EXPECT_EQ(outcome.reason, "server error");
    }
    EXPECT_EQ(classify_status(429).reason, "throttled");
}

TEST(ClassifyStatus, OtherClientErrorsArePermanent) {
    for (int status = 400; status <= 499; ++status) {
        if (status == 408 || status == 425 || status == 429) continue;
        const auto outcome = classify_status(status);
        EXPECT_FALSE(outcome.delivered) << status;
        EXPECT_EQ(outcome.kind, ErrorKind::kPermanent) << status;
        EXPECT_EQ(outcome.reason, "client error");
    }
}

TEST(ClassifyStatus, InterimRedirectAndNonsenseArePermanentWithTheirOwnReason) {
    EXPECT_EQ(classify_status(100).kind, ErrorKind::kPermanent);
    EXPECT_EQ(classify_status(103).reason, "interim response as final response");
    EXPECT_EQ(classify_status(301).kind, ErrorKind::kPermanent);
    EXPECT_EQ(classify_status(307).reason, "redirect not followed");
    for (int status : {-1, 0, 99, 600, 999}) {
        EXPECT_FALSE(classify_status(status).delivered) << status;
        EXPECT_EQ(classify_status(status).kind, ErrorKind::kPermanent) << status;
        EXPECT_EQ(classify_status(status).reason, "not an HTTP status") << status;
    }
}

TEST(ClassifyTransport, TimeoutIsATimeoutAndTheRestRetry) {
    EXPECT_EQ(classify_transport(TransportError::kTimeout).kind, ErrorKind::kTimeout);
    for (auto error : {TransportError::kConnectRefused,
                       TransportError::kConnectionReset,
                       TransportError::kResolveFailed,
                       TransportError::kTlsHandshakeFailed}) {
        const auto outcome = classify_transport(error);
        EXPECT_FALSE(outcome.delivered);
        EXPECT_EQ(outcome.kind, ErrorKind::kRetryable) << to_string(error);
        EXPECT_EQ(outcome.reason, to_string(error));
    }
}

TEST(RetryAfter, DeltaSecondsFromTheRfc) {
    const SystemTime now = rfc_example_minus_one_minute();
    EXPECT_EQ(parse_retry_after("120", now), 120s);
    EXPECT_EQ(parse_retry_after("0", now), 0s);
    EXPECT_EQ(parse_retry_after(" \t5 ", now), 5s);
    EXPECT_EQ(parse_retry_after("007", now), 7s);
}

TEST(RetryAfter, HugeDeltaSecondsSaturateAtTwoToTheThirtyFirst) {
    const auto parsed = parse_retry_after("99999999999999999999999999999", SystemTime{});
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(*parsed, std::chrono::seconds(std::int64_t{1} << 31));
}

TEST(RetryAfter, HttpDateFromTheRfc) {
    // RFC 9110 §10.2.3's example, one minute ahead of `now`.
    EXPECT_EQ(parse_retry_after("Fri, 31 Dec 1999 23:59:59 GMT", rfc_example_minus_one_minute()), 59s);
    // RFC 9110 §5.6.7's preferred-format example.
    const SystemTime before = SystemTime(std::chrono::sys_days(std::chrono::year(1994) / 11 / 6) + 8h);
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", before), 49min + 37s);
}

TEST(RetryAfter, HttpDateRoundsPartialMillisecondsUp) {
    const SystemTime now = rfc_example_minus_one_minute() + 500us;
    EXPECT_EQ(parse_retry_after("Fri, 31 Dec 1999 23:59:59 GMT", now), 59s);
}

TEST(RetryAfter, HttpDateWithALeapSecond) {
    // RFC 5322 allows second 60; it is read as the first second of the next minute.
    EXPECT_EQ(parse_retry_after("Fri, 31 Dec 1999 23:59:60 GMT", rfc_example_minus_one_minute()), 60s);
}

TEST(RetryAfter, HttpDateInThePastIsZero) {
    const SystemTime later = rfc_example_minus_one_minute() + 24h;
    EXPECT_EQ(parse_retry_after("Fri, 31 Dec 1999 23:59:59 GMT", later), 0s);
}

TEST(RetryAfter, HttpDateAcrossMonthsAndLeapDays) {
    const SystemTime now = SystemTime(std::chrono::sys_days(std::chrono::year(2024) / 2 / 28));
    EXPECT_EQ(parse_retry_after("Fri, 01 Mar 2024 00:00:00 GMT", now), 48h);
    EXPECT_EQ(parse_retry_after("Thu, 29 Feb 2024 00:00:00 GMT", now), 24h);
}

TEST(RetryAfter, MalformedValuesAreRejected) {
    const SystemTime now = rfc_example_minus_one_minute();
    for (const char* bad : {"",
                            "   ",
                            "-5",
                            "+5",
                            "1.5",
                            "12 s",
                            "soon",
                            "Sunday, 06-Nov-94 08:49:37 GMT",  // RFC 850: obsolete, not accepted
                            "Sun Nov  6 08:49:37 1994",        // asctime: obsolete, not accepted
                            "Sun, 06 Nov 1994 08:49:37 UTC",
                            "Sun, 6 Nov 1994 08:49:37 GMT",
                            "Xyz, 06 Nov 1994 08:49:37 GMT",
                            "Sun, 06 Foo 1994 08:49:37 GMT",
                            "Sun, 31 Feb 1994 08:49:37 GMT",
                            "Sun, 29 Feb 1995 08:49:37 GMT",
                            "Sun, 06 Nov 1994 24:00:00 GMT",
                            "Sun, 06 Nov 1994 08:60:00 GMT",
                            "Sun, 06 Nov 1994 08:49:61 GMT",
                            "Sun, 06 Nov 1994 08-49-37 GMT",
                            "Sun, 06 Nov 1994 08:49:37 GMT ,",
                            "Sun,06 Nov 1994 08:49:37 GMT"}) {
        EXPECT_FALSE(parse_retry_after(bad, now).has_value()) << '"' << bad << '"';
    }
}
