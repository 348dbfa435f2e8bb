// The fetcher process: Ocean's Open API / Patient Engagement notifications (ocean.notifications.v1, as
// the ingress took them in) → the data they point to, fetched from Ocean's Open API with the site's
// credentials, decrypted with the site's SEK, rendered for each destination → relay.deliveries.v1,
// which the delivery service delivers like any referral.
//
// Patient Engagement (notify-patient-note-added, notify-patient-message-forms-completion): the patient
// (GET /svc/v1/patients/{ref}, shared-IV header layout) and the note of the session
// (GET …/notes?oceanSessionId=, separate-IV layout), mapped by relay/transform/patient_engagement.hpp to a
// FHIR R4 collection Bundle (Patient, QuestionnaireResponses, DocumentReference) or the hub JSON, one
// delivery per configured eForm destination. A session already delivered by this process (site, patient
// ref, session id; recorded on relay.fetcher.sessions.v1 and read back when a partition is assigned, kept
// eforms.remember_for) is not delivered again, across restarts and rebalances. Open eReferral types
// (open_ereferral.types): the referral re-fetched, opened (SEK or the site's RSA key) and written sealed to
// ocean.inbound.v1 for the router. A type matched by neither goes to the dead-letter topic intact,
// `unhandled-type`, to be replayed once it is handled — never dropped.
//
// Documents (relay.documents.v1, the router's requests): a FHIR referral's letter and attachments with the
// site's OAuth2 token (Ocean's FHIR API on the configured host only), an Open eReferral referral's
// attachments over the Open API (opened under the referral's one-time key); delivered each on its own after
// the referral, or embedded in the referral's own delivery (inline: a document that cannot be had is left
// out and counted, the referral always goes).
//
// The hub's Open API requests (relay.openapi.requests.v1, relay/contracts/open_api_requests.hpp) go the
// other way, with the same credentials: an attachment uploaded (encrypted under a fresh one-time key that
// the SEK wraps), a message posted (its text sealed the same way, referencing the attachment), an eForm
// link asked for and delivered to the link destinations. Ocean's answer (its refs) is an
// `open-api-request-sent` / `eform-link-issued` event; a refusal dead-letters the request; a request Ocean
// took is marked on the sessions topic and not sent again for the same update id. A write that timed out
// may have reached Ocean: its retry can make a second copy there (at least once, never lost).
//
// Every call to Ocean passes its site's circuit breaker and optional rate limit first.
//
// Order: one notification at a time per partition (the ingress keys them by site and ref, so a patient's
// or a referral's notifications are in order); Ocean failing (5xx, 429, 401/403, timeouts) is retried in
// memory with the retry policy while that partition waits; a permanent failure (404, a body that does
// not decrypt or parse) or an exhausted policy dead-letters the notification (value and headers
// unchanged, dlq-* headers added). Outcomes go to relay.events.v1.
//
// Decrypted patient data exists only in memory and in the deliveries, which kafka.at_rest seals (the
// configuration refuses to start otherwise). Logs, metric labels, events and dead-letter headers carry
// refs, session ids, the site, statuses and fixed reasons only.
//
// Threads: a worker of the service runtime (relay/service/worker.hpp); the admin listener has its own.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "config.hpp"

namespace relay::fetcher {

class FetcherService {
   public:
    /// Starts the embedded broker (if configured), checks or creates the topics, opens the admin
    /// listener. Throws ConfigError on configuration mistakes.
    explicit FetcherService(FetcherConfig config);
    ~FetcherService();
    FetcherService(const FetcherService&) = delete;
    FetcherService& operator=(const FetcherService&) = delete;

    /// Consumes until stop(); 0 on a clean stop, 1 after a failure (a produce that failed).
    int run();
    /// Thread-safe; what SIGTERM does.
    void stop();

    [[nodiscard]] std::uint16_t admin_port() const;
    [[nodiscard]] const std::string& bootstrap_servers() const;

    struct Impl;

   private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace relay::fetcher
