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
