// The fetcher's per-notification work for a Patient Engagement session, in three layers:
//   BM_DecryptOnly            both payloads opened (SEK → one-time key → body, OpenSSL's AES-CBC)
//   BM_DecryptParseRender     + parse_patient_engagement + the FHIR R4 and hub JSON renderings
//   BM_FetchDecryptRender     + the two GETs over loopback to ocean-sim's Open API (HTTP keep-alive, the
//                             server's own sealing included: ocean-sim runs in this process, on a thread
//                             of its own, so CPU time counts both sides of the exchange)
// Also the Open eReferral referral: BM_OpenReferral (open_referral + pack + the Open API mapping); the hub's
// writes over the Open API: BM_AttachmentCall/<bytes> (a fresh one-time key, the file and its name encrypted,
// the key wrapped by the SEK, base64) and BM_MessageCall (the text sealed the same way, the JSON); and the
// inline documents: BM_EmbedDocuments/<bytes> (a hub JSON referral with one document of that size embedded).
// Rates are per second of CPU time of the whole process (per core).
#include <benchmark/benchmark.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <memory>
#include <string>
#include <thread>
#include <variant>

#include "generator.hpp"
#include "ocean_api.hpp"
#include "relay/openapi/client.hpp"
#include "open_api_requests.hpp"
#include "relay/openapi/referral.hpp"
#include "referral_state.hpp"
#include "relay/http/client.hpp"
#include "relay/http/server.hpp"
#include "relay/ocean/crypto.hpp"
#include "relay/transform/open_api_record.hpp"
#include "relay/transform/open_api_referral.hpp"
#include "relay/core/encoding.hpp"
#include "relay/transform/embed.hpp"
#include "relay/transform/referral.hpp"
#include "relay/transform/patient_engagement.hpp"
#include "relay/transform/render.hpp"

namespace {

namespace asio = boost::asio;
using namespace relay;

constexpr const char* kSite = "1234";
constexpr const char* kSiteKey = "bench-site-key";
constexpr const char* kCredential = "bench-site-credential";
constexpr const char* kSek = "bench-sek-0123456";

/// ocean-sim's Open API on 127.0.0.1 with one referral, on a thread of its own.
struct SimulatedOcean {
    SimulatedOcean() {
        ocean_sim::OceanApiConfig config;
        config.signing_key = Secret::from_value("bench-ocean-sim-signing-key-0123456789");
        config.sites.push_back({kSite, Secret::from_value(kSiteKey), Secret::from_value(kCredential), Secret::from_value(kSek)});
        api = std::make_unique<ocean_sim::OceanApi>(std::move(config), state);
        ocean_sim::ReferralSpec spec;
        spec.seed = 3;
        spec.site_number = kSite;
        spec.listing_ref = "bench-listing";
        spec.request_url = "https://relay.example/ocean/fhir/$process-message";
        sent = ocean_sim::generate(spec);
        state.record_sent(sent, "bench-listing", kSite);
        http::ListenerConfig listener;
        listener.address = "127.0.0.1";
        listener.port = 0;
        server = std::make_unique<http::Server>(ioc, listener, api->handler());
        server->start();
        thread = std::thread([this] { ioc.run(); });
    }
    ~SimulatedOcean() {
        ioc.stop();
        thread.join();
    }
    /// A GET as the fetcher makes it; the whole response.
    http::ClientResponse get(const std::string& target) {
        http::BlockingClient client("127.0.0.1", server->port());
        return client.get(target, {{"siteNum", kSite}, {"siteKey", kSiteKey}, {"siteCredential", kCredential}});
    }

    asio::io_context ioc;
    ocean_sim::ReferralState state;
    ocean_sim::GeneratedReferral sent;
    std::unique_ptr<ocean_sim::OceanApi> api;
    std::unique_ptr<http::Server> server;
    std::thread thread;
};

SimulatedOcean& ocean() {
    static SimulatedOcean instance;
    return instance;
}

ocean::EncryptedPayload payload_of(const http::ClientResponse& response) {
    auto header = [&response](std::string_view name) {
        const auto it = response.find(name);
        return it == response.end() ? std::string() : std::string(it->value());
    };
    ocean::EncryptedPayload p;
    p.ciphertext_b64 = std::get<std::string>(ocean::ciphertext_to_base64(response.body()));
    p.iv_b64 = header("iv");
    p.one_time_key_b64 = header("oneTimeKey");
    p.one_time_key_iv_b64 = header("oneTimeKeyIv");
    return p;
}

struct Payloads {
    ocean::EncryptedPayload patient, note;
};

const Payloads& payloads() {
    static const Payloads p{payload_of(ocean().get("/svc/v1/patients/" + ocean().sent.referral_ref)),
                            payload_of(ocean().get("/svc/v1/patients/" + ocean().sent.referral_ref +
                                                   "/notes?oceanSessionId=bench-session"))};
    return p;
}

std::string render_both(const std::string& patient, const std::string& note) {
    transform::PatientEngagementContext context{kSite, ocean().sent.referral_ref, "bench-session", "", ""};
    auto parsed = transform::parse_patient_engagement(patient, note, context);
    return transform::render_patient_engagement_fhir_r4(*parsed.engagement) +
           transform::render_patient_engagement_hub_json(*parsed.engagement);
}

void BM_DecryptOnly(benchmark::State& state) {
    const Payloads& p = payloads();
    for (auto _ : state) {
        auto patient = ocean::open(kSek, p.patient, ocean::HeaderLayout::kSharedIv);
        auto note = ocean::open(kSek, p.note, ocean::HeaderLayout::kSeparateKeyIv);
        benchmark::DoNotOptimize(&patient);
        benchmark::DoNotOptimize(&note);
    }
    state.counters["sessions_per_cpu_s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_DecryptParseRender(benchmark::State& state) {
    const Payloads& p = payloads();
    for (auto _ : state) {
        const std::string patient = std::get<std::string>(ocean::open(kSek, p.patient, ocean::HeaderLayout::kSharedIv));
        const std::string note = std::get<std::string>(ocean::open(kSek, p.note, ocean::HeaderLayout::kSeparateKeyIv));
        std::string out = render_both(patient, note);
        benchmark::DoNotOptimize(out.data());
    }
    state.counters["sessions_per_cpu_s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

asio::awaitable<std::size_t> fetch_session(openapi::OpenApiClient& client, const openapi::OpenApiSite& site,
                                           const std::string& patient_target, const std::string& note_target) {
    const ocean::HeaderLayout shared = ocean::HeaderLayout::kSharedIv;
    const ocean::HeaderLayout separate = ocean::HeaderLayout::kSeparateKeyIv;
    openapi::FetchResult patient = co_await client.get_decrypted(site, patient_target, shared);
    openapi::FetchResult note = co_await client.get_decrypted(site, note_target, separate);
    if (!std::holds_alternative<std::string>(patient) || !std::holds_alternative<std::string>(note)) co_return 0;
    co_return render_both(std::get<std::string>(patient), std::get<std::string>(note)).size();
}

void BM_FetchDecryptRender(benchmark::State& state) {
    openapi::OpenApiConfig config;
    config.base_url = "http://127.0.0.1:" + std::to_string(ocean().server->port());
    config.base = *http::Url::parse(config.base_url);
    openapi::OpenApiSite site;
    site.site = kSite;
    site.open_api = true;
    site.site_key = Secret::from_value(kSiteKey);
    site.site_credential = Secret::from_value(kCredential);
    site.sek = Secret::from_value(kSek);
    asio::io_context ioc;
    openapi::OpenApiClient client(ioc.get_executor(), config);
    const std::string patient_target = "/svc/v1/patients/" + ocean().sent.referral_ref;
    const std::string note_target = patient_target + "/notes?oceanSessionId=bench-session";
    for (auto _ : state) {
        auto done = asio::co_spawn(ioc, fetch_session(client, site, patient_target, note_target), asio::use_future);
        ioc.restart();
        ioc.run();
        if (done.get() == 0) state.SkipWithError("a fetch failed");
    }
    state.counters["sessions_per_cpu_s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_OpenReferral(benchmark::State& state) {
    const std::string body = ocean().get("/svc/v1/referrals/" + ocean().sent.referral_ref).body();
    transform::OpenApiReferralParser parser;
    for (auto _ : state) {
        auto opened = std::get<openapi::OpenedReferral>(openapi::open_referral(kSek, body));
        auto packed = transform::pack_open_api_record(opened.referral_json, opened.patient_json);
        auto record = transform::unpack_open_api_record(*packed);
        auto parsed = parser.parse(record->referral_json, record->patient_json, kSite);
        benchmark::DoNotOptimize(&parsed);
    }
    state.counters["referrals_per_cpu_s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_AttachmentCall(benchmark::State& state) {
    const std::string bytes(static_cast<std::size_t>(state.range(0)), 'x');
    const hub::AttachmentRequest attachment{"application/pdf", base64_encode(bytes), "consult-note.pdf"};
    const fetcher::OpenApiRequestOptions options;
    for (auto _ : state) {
        auto call = fetcher::attachment_call(kSek, "R-1", attachment, options);
        benchmark::DoNotOptimize(&call);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}

void BM_MessageCall(benchmark::State& state) {
    hub::Update update;
    update.update_id = "m-1";
    update.referral_ref = "R-1";
    update.action = hub::Action::kOpenApiMessage;
    update.text = std::string(400, 't');
    const fetcher::OpenApiRequestOptions options;
    for (auto _ : state) {
        auto call = fetcher::message_call(kSek, update, {"file-1"}, options);
        benchmark::DoNotOptimize(&call);
    }
    state.counters["messages_per_cpu_s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_EmbedDocuments(benchmark::State& state) {
    transform::ReferralParser parser;
    const auto parsed = parser.parse(ocean().sent.body);
    std::vector<transform::DocumentContent> documents;
    for (const auto& a : parsed.referral->attachments)
        if (!a.url.empty() && documents.empty())
            documents.push_back({a.url, std::string(static_cast<std::size_t>(state.range(0)), 'p'), "application/pdf"});
    const std::string payload = transform::render(transform::Format::kHubJson, *parsed.referral, ocean().sent.body);
    for (auto _ : state) {
        auto embedded = transform::embed_documents(transform::Format::kHubJson, payload, documents);
        benchmark::DoNotOptimize(&embedded);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}

}  // namespace

BENCHMARK(BM_AttachmentCall)->Arg(100 << 10)->Arg(1 << 20);
BENCHMARK(BM_MessageCall);
BENCHMARK(BM_EmbedDocuments)->Arg(100 << 10)->Arg(1 << 20);
BENCHMARK(BM_DecryptOnly);
BENCHMARK(BM_DecryptParseRender);
BENCHMARK(BM_FetchDecryptRender)->MeasureProcessCPUTime();
BENCHMARK(BM_OpenReferral);
BENCHMARK_MAIN();
