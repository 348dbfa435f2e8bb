// The contracts between the services are wire bytes: records already in a topic carry them. These pin
// every value, so a rename of a constant's value is a deliberate change of this test too.
#include <gtest/gtest.h>

#include "relay/contracts/changelog.hpp"
#include "relay/contracts/headers.hpp"
#include "relay/contracts/pushed.hpp"

namespace relay::contracts {

namespace {

TEST(ContractsHeaders, WireNames) {
    EXPECT_EQ(header::kReferralRef, "referral-ref");
    EXPECT_EQ(header::kTraceparent, "traceparent");
    EXPECT_EQ(header::kContentType, "content-type");
    EXPECT_EQ(header::kReceivedAt, "received-at");
    EXPECT_EQ(header::kKind, "kind");
    EXPECT_EQ(header::kIntegration, "integration");
    EXPECT_EQ(header::kSite, "site");
    EXPECT_EQ(header::kEvent, "event");
    EXPECT_EQ(header::kMessageId, "message-id");
    EXPECT_EQ(header::kFhirDialect, "fhir-dialect");
    EXPECT_EQ(header::kEventHandled, "event-handled");
    EXPECT_EQ(header::kListingRef, "listing-ref");
    EXPECT_EQ(header::kExternalServiceId, "external-service-id");
    EXPECT_EQ(header::kMessageHeaderId, "message-header-id");
    EXPECT_EQ(header::kBundleId, "bundle-id");
    EXPECT_EQ(header::kHubSystem, "hub-system");
    EXPECT_EQ(header::kUpdateId, "update-id");
    EXPECT_EQ(header::kAction, "action");
    EXPECT_EQ(header::kDestination, "destination");
    EXPECT_EQ(header::kFormat, "format");
    EXPECT_EQ(header::kIdempotencyKey, "idempotency-key");
    EXPECT_EQ(header::kAttempt, "attempt");
    EXPECT_EQ(header::kSource, "source");
    EXPECT_EQ(header::kStale, "stale");
    EXPECT_EQ(header::kParkToken, "park-token");
    EXPECT_EQ(header::kDue, "due");
    EXPECT_EQ(header::kFirstAttemptAt, "first-attempt-at");
    EXPECT_EQ(header::kLastStatus, "last-status");
    EXPECT_EQ(header::kLastReason, "last-reason");
    EXPECT_EQ(header::kOutcome, "outcome");
    EXPECT_EQ(header::kReplayedFrom, "replayed-from");
    EXPECT_EQ(header::kReplayedAt, "replayed-at");
}

TEST(ContractsHeaders, DeadLetterNamesShareThePrefix) {
    EXPECT_EQ(header::kDlqPrefix, "dlq-");
    EXPECT_EQ(header::kDlqReason, "dlq-reason");
    EXPECT_EQ(header::kDlqAt, "dlq-at");
    EXPECT_EQ(header::kDlqSource, "dlq-source");
    EXPECT_EQ(header::kDlqExcerpt, "dlq-excerpt");
    EXPECT_EQ(header::kDlqStatus, "dlq-status");
    EXPECT_EQ(header::kDlqAttempts, "dlq-attempts");
    EXPECT_EQ(header::kDlqSite, "dlq-site");
    EXPECT_EQ(header::kDlqOperationOutcome, "dlq-operation-outcome");
    for (const auto name : {header::kDlqReason,
                            header::kDlqAt,
                            header::kDlqSource,
                            header::kDlqExcerpt,
                            header::kDlqStatus,
                            header::kDlqAttempts,
                            header::kDlqSite,
                            header::kDlqOperationOutcome})
        EXPECT_TRUE(name.starts_with(header::kDlqPrefix)) << name;
}

TEST(ContractsPushed, Kind) {
    EXPECT_EQ(kPushedKind, "relay-pushed");
}

TEST(ContractsChangelog, BundleKey) {
    EXPECT_EQ(changelog::kBundleKeySuffix, "#bundle");
    EXPECT_EQ(changelog::bundle_key("ref-1"), "ref-1#bundle");
    EXPECT_EQ(changelog::bundle_key(""), "#bundle");
}

TEST(ContractsChangelog, BundleKeyRef) {
    EXPECT_EQ(changelog::bundle_key_ref("ref-1#bundle"), "ref-1");
    EXPECT_EQ(changelog::bundle_key_ref(changelog::bundle_key("a#b")), "a#b");
    EXPECT_EQ(changelog::bundle_key_ref("ref-1#bundle#bundle"), "ref-1#bundle");
    EXPECT_FALSE(changelog::bundle_key_ref("ref-1"));
    EXPECT_FALSE(changelog::bundle_key_ref("#bundle"));
    EXPECT_FALSE(changelog::bundle_key_ref("ref-1#bundl"));
    EXPECT_FALSE(changelog::bundle_key_ref(""));
}

}  // namespace

}  // namespace relay::contracts
