// Dedup and echo decisions, the idempotency key, and the changelog encoding.
#include "state.hpp"

#include <gtest/gtest.h>

namespace relay::router {
namespace {

using transform::Referral;

Referral referral(const std::string& message_id, const std::string& event = "add-service-request") {
    Referral r;
    r.event = event;
    r.referral_ref = "ref-1";
    r.message_header_id = message_id;
    r.bundle_id = "bundle-" + message_id;
    r.timestamp = "2026-11-24T10:00:00-05:00";
    r.target.site_number = "1234";
    r.target.listing_ref = "listing-1";
    r.patient.health_number = "9876543217";
    r.notes.push_back({"<b>Reason:</b> knee", "Reason: knee", ""});
    return r;
}

Referral echo_of(Referral r, const std::string& message_id, const std::string& task_status) {
    r.event = "notify-update-service-request";
    r.message_header_id = message_id;
    r.bundle_id = "bundle-" + message_id;
    r.tasks = {transform::Task{"t-1", task_status, "", "", "process-request", "", ""}};
    return r;
}

PushedUpdate pushed_task(const std::string& status, const std::string& reason = "") {
    PushedUpdate p;
    p.referral_ref = "ref-1";
    transform::Task t;
    t.status = status;
    t.status_reason = reason;
    p.tasks.push_back(t);
    return p;
}

constexpr std::int64_t kNow = 1'800'000'000;

TEST(IdempotencyKey, SameMessageSameKeyAndEveryPartMatters) {
    const Referral a = referral("mh-1");
    EXPECT_EQ(idempotency_key(a), idempotency_key(referral("mh-1")));
    EXPECT_EQ(idempotency_key(a).size(), 64U);
    EXPECT_NE(idempotency_key(a), idempotency_key(referral("mh-2")));
    Referral other_event = referral("mh-1", "notify-update-service-request");
    EXPECT_NE(idempotency_key(a), idempotency_key(other_event));
    Referral other_time = a;
    other_time.timestamp = "2026-11-24T11:00:00-05:00";
    EXPECT_NE(idempotency_key(a), idempotency_key(other_time));
    Referral bundle_only = a;
    bundle_only.message_header_id.clear();
    EXPECT_NE(idempotency_key(a), idempotency_key(bundle_only)) << "Bundle.id is the fallback, not ignored";
}

TEST(ContentFingerprint, IgnoresTheEnvelopeAndTheReceiverSideButNotTheReferral) {
    const Referral a = referral("mh-1");
    EXPECT_EQ(content_fingerprint(a), content_fingerprint(echo_of(a, "mh-9", "accepted")));
    Referral changed = a;
    changed.patient.health_number = "1111111116";
    EXPECT_NE(content_fingerprint(a), content_fingerprint(changed));
    Referral note = a;
    note.notes[0].html += "!";
    EXPECT_NE(content_fingerprint(a), content_fingerprint(note));
}

TEST(PartitionStore, TheSameMessageIsADuplicateWithinTheWindowOnly) {
    DedupPolicy policy;
    policy.window = std::chrono::hours(100);
    PartitionStore store(policy);
    const Referral r = referral("mh-1");
    const std::string key = idempotency_key(r);
    EXPECT_EQ(store.take(r, key, kNow), Verdict::kDeliver);
    EXPECT_EQ(store.take(r, key, kNow + 3600), Verdict::kDuplicate) << "an Ocean retry an hour later";
    EXPECT_EQ(store.take(r, key, kNow + 95 * 3600), Verdict::kDuplicate) << "the last of 96 hours of retries";
    EXPECT_EQ(store.take(r, key, kNow + 101 * 3600 + 1), Verdict::kDeliver) << "outside the window";
    const Referral resend = referral("mh-2");
    EXPECT_EQ(store.take(resend, idempotency_key(resend), kNow + 102 * 3600), Verdict::kDeliver)
        << "a resend is a new message";
}

TEST(PartitionStore, KeepsAtMostMaxKeysPerReferral) {
    DedupPolicy policy;
    policy.max_keys = 3;
    PartitionStore store(policy);
    for (int i = 0; i < 5; ++i) {
        const Referral r = referral("mh-" + std::to_string(i));
        store.take(r, idempotency_key(r), kNow + i);
    }
    ASSERT_NE(store.find("ref-1"), nullptr);
    EXPECT_EQ(store.find("ref-1")->seen.size(), 3U);
    const Referral oldest = referral("mh-0");
    EXPECT_EQ(store.take(oldest, idempotency_key(oldest), kNow + 10), Verdict::kDeliver);
}

TEST(PartitionStore, OceansEchoOfWhatWePushedIsRecognised) {
    PartitionStore store(DedupPolicy{});
    const Referral original = referral("mh-1");
    ASSERT_EQ(store.take(original, idempotency_key(original), kNow), Verdict::kDeliver);
    store.record_pushed(pushed_task("accepted"), kNow + 1);
    const Referral echo = echo_of(original, "mh-2", "accepted");
    EXPECT_EQ(store.take(echo, idempotency_key(echo), kNow + 2), Verdict::kEcho);
    EXPECT_TRUE(store.find("ref-1")->pushed.empty()) << "an echoed push is consumed";
    // Ocean's next update that changes something else is delivered.
    Referral later = echo_of(original, "mh-3", "accepted");
    later.patient.name.family = "Changed";
    EXPECT_EQ(store.take(later, idempotency_key(later), kNow + 3), Verdict::kDeliver);
}

TEST(PartitionStore, AChangeWeDidNotPushIsDelivered) {
    PartitionStore store(DedupPolicy{});
    const Referral original = referral("mh-1");
    store.take(original, idempotency_key(original), kNow);
    store.record_pushed(pushed_task("accepted"), kNow + 1);
    const Referral declined_in_ocean = echo_of(original, "mh-2", "rejected");
    EXPECT_EQ(store.take(declined_in_ocean, idempotency_key(declined_in_ocean), kNow + 2), Verdict::kDeliver);
    Referral also_changed = echo_of(original, "mh-3", "accepted");
    also_changed.notes[0].html = "<b>Reason:</b> hip";
    EXPECT_EQ(store.take(also_changed, idempotency_key(also_changed), kNow + 3), Verdict::kDeliver)
        << "the referral content changed too: not only our push";
}

TEST(PartitionStore, EchoSuppressionCanBeTurnedOff) {
    DedupPolicy policy;
    policy.suppress_echo = false;
    PartitionStore store(policy);
    const Referral original = referral("mh-1");
    store.take(original, idempotency_key(original), kNow);
    store.record_pushed(pushed_task("accepted"), kNow + 1);
    const Referral echo = echo_of(original, "mh-2", "accepted");
    EXPECT_EQ(store.take(echo, idempotency_key(echo), kNow + 2), Verdict::kDeliver);
}

TEST(PartitionStore, AnUnchangedResendIsDeliveredNotTakenForAnEcho) {
    PartitionStore store(DedupPolicy{});
    const Referral original = referral("mh-1");
    store.take(original, idempotency_key(original), kNow);
    store.record_pushed(pushed_task("accepted"), kNow + 1);
    Referral resend = original;
    resend.event = "notify-update-service-request";
    resend.message_header_id = "mh-2";
    EXPECT_EQ(store.take(resend, idempotency_key(resend), kNow + 2), Verdict::kDeliver);
}

TEST(StateEncoding, RoundTripsAndRejectsOtherVersions) {
    ReferralState s;
    s.seen = {{"k1", 1}, {"k2", 2}};
    s.content = "abc";
    s.receiver = {"task|accepted|"};
    s.pushed = {"appointment|a1|booked|2026-12-01T09:00:00-05:00||accepted"};
    s.updated_at = 3;
    EXPECT_EQ(decode_state(encode_state(s)), s);
    EXPECT_EQ(decode_state(R"({"v":2,"seen":[]})"), std::nullopt);
    EXPECT_EQ(decode_state("not json"), std::nullopt);
    EXPECT_EQ(decode_state(R"({"v":1,"seen":[["k"]]})"), std::nullopt);
}

TEST(PushedEncoding, RoundTripsAndExplainsRejections) {
    PushedUpdate p = pushed_task("rejected", "Outside \"our\" catchment");
    transform::Appointment a;
    a.id = "a1";
    a.status = "booked";
    a.start = "2026-12-01T09:00:00-05:00";
    p.appointments.push_back(a);
    const auto decoded = decode_pushed(encode_pushed(p));
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->referral_ref, "ref-1");
    EXPECT_EQ(receiver_items(decoded->tasks, decoded->appointments, decoded->communications),
              receiver_items(p.tasks, p.appointments, p.communications));
    std::string why;
    EXPECT_FALSE(decode_pushed(R"({"tasks":[]})", &why));
    EXPECT_EQ(why, "referral_ref is missing");
    EXPECT_FALSE(decode_pushed(R"({"referral_ref":"r","tasks":[1]})", &why));
    EXPECT_EQ(why, "tasks[] must be objects");
}

}  // namespace
}  // namespace relay::router

namespace relay::router {
namespace {

TEST(PartitionStore, IdleReferralsAreForgottenAfterTheRetentionOnly) {
    DedupPolicy policy;
    policy.window = std::chrono::hours(100);
    policy.retention = std::chrono::hours(24 * 30);
    PartitionStore store(policy);
    transform::Referral a;
    a.referral_ref = "ref-a";
    a.message_header_id = "m1";
    transform::Referral b = a;
    b.referral_ref = "ref-b";
    const std::int64_t now = 1'800'000'000;
    store.take(a, idempotency_key(a), now);
    store.take(b, idempotency_key(b), now + 20 * 24 * 3600);
    EXPECT_TRUE(store.evict_idle(now + 29 * 24 * 3600).empty());
    EXPECT_EQ(store.evict_idle(now + 31 * 24 * 3600), std::vector<std::string>{"ref-a"});
    EXPECT_EQ(store.find("ref-a"), nullptr);
    ASSERT_NE(store.find("ref-b"), nullptr);
    EXPECT_EQ(store.size(), 1U);
}

}  // namespace
}  // namespace relay::router

namespace relay::router {
namespace {

TEST(OceanClock, FhirInstantsAreComparedAsInstantsNotAsText) {
    EXPECT_EQ(parse_fhir_instant_ms("1970-01-01T00:00:00Z"), 0);
    EXPECT_EQ(parse_fhir_instant_ms("1970-01-01T00:00:01.5Z"), 1'500);
    EXPECT_EQ(parse_fhir_instant_ms("1970-01-01T00:00:00.123456Z"), 123);
    EXPECT_EQ(parse_fhir_instant_ms("2025-05-27T11:45:06.783-04:00"),
              parse_fhir_instant_ms("2025-05-27T15:45:06.783Z"));
    // Toronto's offset changes with DST: 01:30-05:00 (after the switch back) is later than 01:45-04:00.
    EXPECT_LT(*parse_fhir_instant_ms("2026-11-01T01:45:00.000-04:00"),
              *parse_fhir_instant_ms("2026-11-01T01:30:00.000-05:00"));
    for (const char* bad : {"",
                            "2025-05-27",
                            "2025-05-27T11:45:06",
                            "2025-05-27T11:45:06.-04:00",
                            "2025-13-27T11:45:06Z",
                            "2025-05-27 11:45:06Z",
                            "2025-05-27T11:45:06+0400",
                            "2025-05-27T11:45:06Zjunk"})
        EXPECT_FALSE(parse_fhir_instant_ms(bad).has_value()) << bad;
}

TEST(OceanClock, BundleTimestampThenBundleLastUpdatedThenNone) {
    Referral r;
    r.timestamp = "2026-11-24T10:00:00.250-05:00";
    r.last_updated = "2026-11-24T09:00:00-05:00";
    EXPECT_EQ(ocean_time_ms(r), parse_fhir_instant_ms("2026-11-24T15:00:00.250Z"));
    r.timestamp.clear();
    EXPECT_EQ(ocean_time_ms(r), parse_fhir_instant_ms("2026-11-24T14:00:00Z"));
    r.timestamp = "not a time";
    EXPECT_EQ(ocean_time_ms(r), parse_fhir_instant_ms("2026-11-24T14:00:00Z"));
    r.last_updated.clear();
    EXPECT_FALSE(ocean_time_ms(r).has_value());
}

Referral version(const std::string& message_id, const std::string& timestamp, const std::string& note) {
    Referral r = referral(message_id, "notify-update-service-request");
    r.timestamp = timestamp;
    r.notes[0].html = note;
    return r;
}

TEST(PartitionStore, AVersionOlderThanTheLatestIsStaleAndChangesNothingButItsKey) {
    PartitionStore store(DedupPolicy{});
    const Referral created = version("mh-1", "2026-11-24T10:00:00.000-05:00", "first");
    const Referral updated = version("mh-2", "2026-11-24T11:00:00.000-05:00", "second");
    // A resend of the first version, phased in hours later: a new message, but Ocean's clock says older.
    const Referral resend = version("mh-3", "2026-11-24T10:30:00.000-05:00", "first");
    EXPECT_EQ(store.take(created, idempotency_key(created), kNow), Verdict::kDeliver);
    EXPECT_EQ(store.take(updated, idempotency_key(updated), kNow + 1), Verdict::kDeliver);
    const ReferralState latest = *store.find("ref-1");
    EXPECT_EQ(latest.ocean_ms, *ocean_time_ms(updated));

    EXPECT_EQ(store.take(resend, idempotency_key(resend), kNow + 2), Verdict::kStale);
    const ReferralState after = *store.find("ref-1");
    EXPECT_EQ(after.content, latest.content) << "the newer content stays the latest";
    EXPECT_EQ(after.receiver, latest.receiver);
    EXPECT_EQ(after.ocean_ms, latest.ocean_ms);
    ASSERT_EQ(after.seen.size(), 3U);
    EXPECT_EQ(after.seen.back().key, idempotency_key(resend));
    EXPECT_EQ(store.take(resend, idempotency_key(resend), kNow + 3), Verdict::kDuplicate)
        << "a retry of the stale message is a plain duplicate";
    EXPECT_EQ(to_string(Verdict::kStale), std::string("stale"));
}

TEST(PartitionStore, EqualOrMissingTimesOrderNothing) {
    PartitionStore store(DedupPolicy{});
    const Referral a = version("mh-1", "2026-11-24T10:00:00-05:00", "first");
    const Referral same_time = version("mh-2", "2026-11-24T10:00:00-05:00", "second");
    const Referral no_time = version("mh-3", "", "third");
    const Referral older = version("mh-4", "2026-11-24T09:00:00-05:00", "fourth");
    EXPECT_EQ(store.take(a, idempotency_key(a), kNow), Verdict::kDeliver);
    EXPECT_EQ(store.take(same_time, idempotency_key(same_time), kNow), Verdict::kDeliver);
    EXPECT_EQ(store.take(no_time, idempotency_key(no_time), kNow), Verdict::kDeliver);
    EXPECT_EQ(store.find("ref-1")->content, content_fingerprint(no_time));
    EXPECT_EQ(store.find("ref-1")->ocean_ms, *ocean_time_ms(a)) << "a version without a time keeps the clock";
    EXPECT_EQ(store.take(older, idempotency_key(older), kNow), Verdict::kStale);

    // A state restored from a changelog record written before the clock was kept: unknown, so the next
    // version is taken in whatever its time, and sets the clock.
    PartitionStore restored(DedupPolicy{});
    auto old_state =
        decode_state(R"({"v":1,"seen":[],"content":"x","receiver":[],"pushed":[],"updated_at":5})");
    ASSERT_TRUE(old_state);
    EXPECT_EQ(old_state->ocean_ms, 0);
    restored.restore("ref-1", *old_state);
    EXPECT_EQ(restored.take(older, idempotency_key(older), kNow), Verdict::kDeliver);
    EXPECT_EQ(restored.find("ref-1")->ocean_ms, *ocean_time_ms(older));
}

TEST(StateEncoding, TheOceanClockRoundTripsAndStaysOptional) {
    ReferralState state;
    state.content = "c";
    state.updated_at = 7;
    EXPECT_EQ(encode_state(state).find("ocean_at_ms"), std::string::npos)
        << "unknown is not written: the record is what an older router wrote";
    state.ocean_ms = 1'795'000'000'123;
    const auto decoded = decode_state(encode_state(state));
    ASSERT_TRUE(decoded);
    EXPECT_EQ(*decoded, state);
}

TEST(IdempotencyKey, TheRoutingSiteIsPartOfTheKey) {
    const Referral a = referral("mh-1");
    EXPECT_EQ(idempotency_key(a, "1234"), idempotency_key(a)) << "same site: the key records already had";
    EXPECT_NE(idempotency_key(a, "5678"), idempotency_key(a));
}

}  // namespace
}  // namespace relay::router

namespace relay::router {
namespace {

TEST(PartitionStore, AnOceanTimeFarAheadOfOursOrdersNothing) {
    PartitionStore store(DedupPolicy{});
    // kNow is 2027-01-15T08:00:00Z; this bundle claims a day later.
    const Referral future = version("mh-1", "2027-01-16T08:00:00Z", "first");
    const Referral next = version("mh-2", "2027-01-15T07:00:00Z", "second");
    EXPECT_EQ(store.take(future, idempotency_key(future), kNow), Verdict::kDeliver);
    EXPECT_EQ(store.find("ref-1")->ocean_ms, 0) << "not trusted for ordering";
    EXPECT_EQ(store.take(next, idempotency_key(next), kNow), Verdict::kDeliver) << "so not stale";
    EXPECT_EQ(store.find("ref-1")->ocean_ms, *ocean_time_ms(next));
    const Referral slightly_ahead = version("mh-3", "2027-01-15T08:30:00Z", "third");
    EXPECT_EQ(store.take(slightly_ahead, idempotency_key(slightly_ahead), kNow), Verdict::kDeliver);
    EXPECT_EQ(store.find("ref-1")->ocean_ms, *ocean_time_ms(slightly_ahead)) << "within the skew: trusted";
}

}  // namespace
}  // namespace relay::router
