#include "record.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace relay::relayctl {
namespace {

using namespace std::chrono;
using namespace std::chrono_literals;

SystemTime at(std::string_view text) {
    auto t = parse_rfc3339(text);
    EXPECT_TRUE(t.has_value()) << text;
    return t.value_or(SystemTime{});
}

DlqRecord letter(std::string destination, std::string referral, std::string reason, std::string dlq_at) {
    DlqRecord r;
    r.partition = 1;
    r.offset = 42;
    r.key = destination + "|" + referral;
    r.headers = {{"destination", destination}, {"referral-ref", referral}, {"dlq-reason", reason}};
    if (!dlq_at.empty()) r.headers.push_back({"dlq-at", dlq_at});
    return r;
}

TEST(RelayctlRecordRef, ParsesPartitionColonOffset) {
    EXPECT_EQ(parse_record_ref("3:1042"), (RecordRef{3, 1042}));
    EXPECT_EQ(parse_record_ref("0:0"), (RecordRef{0, 0}));
    for (const char* bad :
         {"", "3", "3:", ":5", "a:1", "1:b", "-1:4", "1:-4", "1:2:3", "1:2 ", " 1:2", "1.5:2"})
        EXPECT_FALSE(parse_record_ref(bad).has_value()) << bad;
    EXPECT_EQ(to_string(RecordRef{7, 9}), "7:9");
}

TEST(RelayctlRfc3339, ParsesUtcOffsetsFractionsAndDates) {
    const SystemTime base = sys_days(2026y / November / 24) + 15h + 17min + 5s;
    EXPECT_EQ(at("2026-11-24T15:17:05Z"), base);
    EXPECT_EQ(at("2026-11-24T15:17:05.123Z"), base + 123ms);
    EXPECT_EQ(at("2026-11-24t15:17:05.5z"), base + 500ms);
    EXPECT_EQ(at("2026-11-24 15:17:05Z"), base);
    EXPECT_EQ(at("2026-11-24T15:17:05.123456789Z"), base + duration_cast<SystemTime::duration>(123456789ns));
    EXPECT_EQ(at("2026-11-24T10:17:05-05:00"), base);
    EXPECT_EQ(at("2026-11-24T20:47:05+05:30"), base);
    EXPECT_EQ(at("2026-11-24"), SystemTime(sys_days(2026y / November / 24)));
    EXPECT_EQ(at("2024-02-29T00:00:00Z"), SystemTime(sys_days(2024y / February / 29)));
}

TEST(RelayctlRfc3339, RefusesWhatIsNotOne) {
    for (const char* bad : {"",
                            "2026-11-24T15:17:05",  // no offset: which zone?
                            "2026-11-24T15:17Z",
                            "2026-13-01",
                            "2026-02-30",
                            "2023-02-29T00:00:00Z",
                            "2026-11-24T24:00:00Z",
                            "2026-11-24T15:60:00Z",
                            "2026-11-24T15:17:05.Z",
                            "2026-11-24T15:17:05+0500",
                            "2026-11-24T15:17:05Zjunk",
                            "26-11-24",
                            "2026/11/24",
                            "yesterday"})
        EXPECT_FALSE(parse_rfc3339(bad).has_value()) << bad;
}

TEST(RelayctlTimeBound, AcceptsTimesAndAgesAndNamesTheOptionOtherwise) {
    const SystemTime now = at("2026-11-24T12:00:00Z");
    EXPECT_EQ(parse_time_bound("--since", "2026-11-20T00:00:00Z", now), at("2026-11-20T00:00:00Z"));
    EXPECT_EQ(parse_time_bound("--since", "2h", now), now - 2h);
    EXPECT_EQ(parse_time_bound("--since", "30m", now), now - 30min);
    EXPECT_EQ(parse_time_bound("--since", "45s", now), now - 45s);
    EXPECT_EQ(parse_time_bound("--since", "7d", now), now - 7 * 24h);
    EXPECT_EQ(parse_time_bound("--since", "0d", now), now);
    for (const char* bad : {"", "d", "-2h", "2 h", "2x", "1.5h", "99999999d", "2H"}) {
        try {
            parse_time_bound("--until", bad, now);
            ADD_FAILURE() << bad;
        } catch (const UsageError& e) {
            EXPECT_TRUE(std::string(e.what()).starts_with("--until: ")) << e.what();
        }
    }
}

TEST(RelayctlDlqRecord, FallsBackToTheKeyAndTheRecordTimestamp) {
    DlqRecord r;
    r.key = "intake|REF-9";
    r.timestamp_ms = 1'700'000'000'123;
    EXPECT_EQ(r.destination(), "intake");
    EXPECT_EQ(r.referral_ref(), "REF-9");
    EXPECT_EQ(r.dead_lettered_at(), SystemTime(milliseconds(1'700'000'000'123)));
    r.headers = {{"destination", "other"}, {"referral-ref", "REF-1"}, {"dlq-at", "2026-11-24T12:00:00.000Z"}};
    EXPECT_EQ(r.destination(), "other");
    EXPECT_EQ(r.referral_ref(), "REF-1");
    EXPECT_EQ(r.dead_lettered_at(), at("2026-11-24T12:00:00Z"));
    // A dlq-at that does not parse is no time at all: the record timestamp counts.
    r.headers.back().value = "garbage";
    EXPECT_EQ(r.dead_lettered_at(), SystemTime(milliseconds(1'700'000'000'123)));
    r.timestamp_ms = -1;
    EXPECT_FALSE(r.dead_lettered_at().has_value());
    // The last of repeated headers wins, as Message::header() has it.
    r.headers.push_back({"destination", "third"});
    EXPECT_EQ(r.header("destination"), "third");
}

TEST(RelayctlFilter, EmptySelectsEverything) {
    const Filter f;
    EXPECT_TRUE(f.empty());
    EXPECT_TRUE(f.matches(letter("intake", "R1", "retries exhausted", "")));
}

TEST(RelayctlFilter, AlternativesWithinAKindAllKindsTogether) {
    const DlqRecord a = letter("intake", "R1", "retries exhausted", "2026-11-24T10:00:00.000Z");
    const DlqRecord b = letter("simple", "R2", "permanent failure", "2026-11-24T11:00:00.000Z");
    Filter f;
    f.destinations = {"intake", "archive"};
    EXPECT_FALSE(f.empty());
    EXPECT_TRUE(f.matches(a));
    EXPECT_FALSE(f.matches(b));
    f.referrals = {"R2"};
    EXPECT_FALSE(f.matches(a));
    f.destinations.push_back("simple");
    EXPECT_TRUE(f.matches(b));

    Filter reason;
    reason.reason = "EXHAUSTED";
    EXPECT_TRUE(reason.matches(a));
    EXPECT_FALSE(reason.matches(b));

    Filter exact;
    exact.records = {{1, 41}, {1, 42}};
    EXPECT_TRUE(exact.matches(a));
    exact.records = {{0, 42}};
    EXPECT_FALSE(exact.matches(a));
}

TEST(RelayctlFilter, TimeBoundsAreInclusiveAndNeedATime) {
    const DlqRecord a = letter("intake", "R1", "x", "2026-11-24T10:00:00.000Z");
    Filter f;
    f.since = at("2026-11-24T10:00:00Z");
    EXPECT_TRUE(f.matches(a));
    f.until = at("2026-11-24T10:00:00Z");
    EXPECT_TRUE(f.matches(a));
    f.since = at("2026-11-24T10:00:00.001Z");
    f.until.reset();
    EXPECT_FALSE(f.matches(a));
    f.since.reset();
    f.until = at("2026-11-24T09:59:59.999Z");
    EXPECT_FALSE(f.matches(a));
    // Neither dlq-at nor a timestamp: no time bound can hold.
    Filter any_time;
    any_time.since = SystemTime{};
    EXPECT_FALSE(any_time.matches(letter("intake", "R1", "x", "")));
}

TEST(RelayctlFilter, ValidateRefusesReversedBounds) {
    Filter f;
    f.since = at("2026-11-24T10:00:00Z");
    f.until = at("2026-11-23T10:00:00Z");
    EXPECT_THROW(f.validate(), UsageError);
    f.until = f.since;
    EXPECT_NO_THROW(f.validate());
}

TEST(RelayctlReplay, HeadersKeepTheDeliveryAndStartAFreshRun) {
    DlqRecord r;
    r.partition = 2;
    r.offset = 17;
    r.headers = {{"destination", "intake"},
                 {"format", "fhir-r4"},
                 {"content-type", "application/fhir+json"},
                 {"idempotency-key", "idem-1"},
                 {"referral-ref", "R1"},
                 {"event", "new"},
                 {"site", "1234"},
                 {"source", "ocean.inbound.v1/3/9"},
                 {"traceparent", "00-abc-def-01"},
                 {"attempt", "9"},
                 {"first-attempt-at", "1700000000000"},
                 {"park-token", "p"},
                 {"due", "1700000005000"},
                 {"last-status", "503"},
                 {"last-reason", "server error"},
                 {"replayed-from", "relay.deliveries.dlq.v1/0/1"},
                 {"replayed-at", "2026-01-01T00:00:00.000Z"},
                 {"dlq-reason", "retries exhausted"},
                 {"dlq-status", "503"},
                 {"dlq-excerpt", "Service Unavailable"},
                 {"dlq-at", "2026-11-24T10:00:00.000Z"}};
    const auto headers = replay_headers(r, "relay.deliveries.dlq.v1", "2026-11-24T12:00:00.000Z");
    std::vector<std::pair<std::string, std::string>> got;
    for (const auto& h : headers) got.emplace_back(h.name, h.value);
    const std::vector<std::pair<std::string, std::string>> want{
        {"destination", "intake"},
        {"format", "fhir-r4"},
        {"content-type", "application/fhir+json"},
        {"idempotency-key", "idem-1"},
        {"referral-ref", "R1"},
        {"event", "new"},
        {"site", "1234"},
        {"source", "ocean.inbound.v1/3/9"},
        {"traceparent", "00-abc-def-01"},
        {"attempt", "0"},
        {"replayed-from", "relay.deliveries.dlq.v1/2/17"},
        {"replayed-at", "2026-11-24T12:00:00.000Z"}};
    EXPECT_EQ(got, want);
}

TEST(RelayctlReplay, EventNamesTheRecordAndItsOrigin) {
    DlqRecord r;
    r.partition = 2;
    r.offset = 17;
    r.key = "intake|R1";
    r.headers = {{"idempotency-key", "idem-1"}, {"event", "update"}, {"traceparent", "00-abc-def-01"}};
    const auto event = boost::json::parse(replayed_event(r, "dlq", "2026-11-24T12:00:00.000Z"));
    const boost::json::value want = boost::json::parse(R"({"outcome":"replayed","referral_ref":"R1",
        "destination":"intake","event":"update","idempotency_key":"idem-1",
        "dlq":{"topic":"dlq","partition":2,"offset":17},"at":"2026-11-24T12:00:00.000Z","by":"relayctl"})");
    EXPECT_EQ(event, want);
    const auto headers = replayed_event_headers(r);
    ASSERT_EQ(headers.size(), 3U);
    EXPECT_EQ(headers[0].name, "outcome");
    EXPECT_EQ(headers[0].value, "replayed");
    EXPECT_EQ(headers[1].name, "referral-ref");
    EXPECT_EQ(headers[1].value, "R1");
    EXPECT_EQ(headers[2].name, "traceparent");
}

}  // namespace
}  // namespace relay::relayctl

namespace relay::relayctl {
namespace {

/// A dead letter of the router: the inbound record as the ingress wrote it, plus the router's dlq-*.
DlqRecord inbound_letter(std::string event, std::string site) {
    DlqRecord r;
    r.partition = 0;
    r.offset = 5;
    r.key = "R9";
    r.headers = {{"kind", "fhir"},
                 {"integration", "clinic"},
                 {"site", site},
                 {"event", event},
                 {"referral-ref", "R9"},
                 {"received-at", "2026-11-24T09:00:00.000Z"},
                 {"event-handled", "false"},
                 {"traceparent", "00-abc-def-01"},
                 {"dlq-reason", "unhandled-event"},
                 {"dlq-at", "2026-11-24T09:00:01.000Z"},
                 {"dlq-source", "ocean.inbound.v1/0/12"}};
    return r;
}

TEST(RelayctlInbound, TheRoutersDeadLettersAreInboundRecordsAndFilterByEventAndSite) {
    const DlqRecord a = inbound_letter("notify-update-appointment", "1234");
    const DlqRecord b = inbound_letter("add-service-request", "5678");
    EXPECT_TRUE(a.is_inbound());
    EXPECT_FALSE(letter("intake", "R1", "x", "").is_inbound()) << "a delivery dead letter";
    EXPECT_EQ(a.destination(), "") << "none yet: --destination selects no inbound record";
    EXPECT_EQ(a.referral_ref(), "R9");

    Filter events;
    events.events = {"notify-update-appointment"};
    EXPECT_FALSE(events.empty());
    EXPECT_TRUE(events.matches(a));
    EXPECT_FALSE(events.matches(b));
    Filter sites;
    sites.sites = {"5678", "9999"};
    EXPECT_FALSE(sites.empty());
    EXPECT_FALSE(sites.matches(a));
    EXPECT_TRUE(sites.matches(b));
    Filter destination;
    destination.destinations = {"intake"};
    EXPECT_FALSE(destination.matches(a));
    Filter reason;
    reason.reason = "unhandled";
    EXPECT_TRUE(reason.matches(a));
}

TEST(RelayctlInbound, AReplayKeepsEveryInboundHeaderButTheDeadLettersAndAddsNoAttempt) {
    const DlqRecord r = inbound_letter("notify-update-appointment", "1234");
    const auto headers = replay_headers(r, "relay.inbound.dlq.v1", "2026-11-24T12:00:00.000Z");
    std::vector<std::pair<std::string, std::string>> got;
    for (const auto& h : headers) got.emplace_back(h.name, h.value);
    const std::vector<std::pair<std::string, std::string>> want{{"kind", "fhir"},
                                                                {"integration", "clinic"},
                                                                {"site", "1234"},
                                                                {"event", "notify-update-appointment"},
                                                                {"referral-ref", "R9"},
                                                                {"received-at", "2026-11-24T09:00:00.000Z"},
                                                                {"event-handled", "false"},
                                                                {"traceparent", "00-abc-def-01"},
                                                                {"replayed-from", "relay.inbound.dlq.v1/0/5"},
                                                                {"replayed-at", "2026-11-24T12:00:00.000Z"}};
    EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace relay::relayctl
