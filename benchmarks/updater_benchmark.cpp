// The updater's per-update CPU work and the hub API's request parsing, single thread, beside a bare
// simdjson DOM parse of the same inbound bundle.
//
//   BM_ParseUpdate/<type>              relay::hub::parse_update of the canonical request of each update
//                                      type (what the updater does with every relay.updates.v1 record)
//   BM_HubBuildUpdate/<route>          relay::ingress::hubapi::build_update: what the ingress's hub API
//                                      does with a request's path + body before it publishes (body parse,
//                                      merge with the path, serialize, parse_update, hub::to_json)
//   BM_DomParse/<fixture>              simdjson::dom::parser::parse of the padded bundle (reused parser):
//                                      the floor
//   BM_BoostParse/<fixture>            boost::json::parse of the bundle (default memory resource): the
//                                      parse build_update_message starts with
//   BM_BoostCopy/<fixture>             a deep copy of the parsed bundle (boost::json::value):
//   build_update_message
//                                      copies every resource twice
//   BM_BoostSerialize/<fixture>        boost::json::serialize of the parsed bundle: the step it ends with
//   BM_Build/<type>/<fixture>          relay::updater::build_update_message(update, latest, options) from an
//                                      update parsed before timing
//   BM_Pushed/<type>/<fixture>         relay::updater::pushed_update_json of the message BM_Build built
//   BM_PushedReusedParser/<type>/<f>   the same work through one ReferralParser kept across calls
//                                      (pushed_update_json makes a new one per call): what that costs
//   BM_Update/<type>/<fixture>         parse_update + build_update_message + pushed_update_json: the whole
//                                      per-update CPU path of the updater before it calls Ocean
//
// <type> is each update type of tests/unit/updater/updater_test_util.hpp every_type(), built the same
// way: over the fixture, or, for reopen, change_booking and cancel_booking, over the message of the step
// before (the declined Task, the booked Appointment), as Ocean's echo would carry it. <fixture> is each
// real tests/fixtures/ocean-fhir-v0.11.1 bundle. The "latest" bundle is that input.
//
// Rows report updates/s (items_per_second) and bytes/s of the latest bundle (of the request for
// BM_ParseUpdate and BM_HubBuildUpdate; of the built message for BM_Pushed*), `bytes` that size,
// `out_bytes` what the row produces, and `allocs` / `alloc_bytes`: operator new calls and bytes per
// operation, counted as in transform_benchmark.cpp by replacing the global operator new (malloc calls
// made directly, e.g. simdjson's aligned buffers, are not counted).
#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <new>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hub_api.hpp"
#include "message.hpp"
#include "pushed.hpp"
#include "relay/hub/update.hpp"
#include "relay/transform/pushed.hpp"
#include "relay/transform/referral.hpp"

#ifndef RELAY_FIXTURES_DIR
#error "RELAY_FIXTURES_DIR must name tests/fixtures"
#endif

// ---- allocation counting (as in transform_benchmark.cpp) ------------------------------------------------

namespace {
thread_local std::uint64_t t_allocs = 0;
thread_local std::uint64_t t_alloc_bytes = 0;

void* counted_alloc(std::size_t size) {
    ++t_allocs;
    t_alloc_bytes += size;
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc();
}

void* counted_aligned_alloc(std::size_t size, std::align_val_t alignment) {
    ++t_allocs;
    t_alloc_bytes += size;
    const auto align = static_cast<std::size_t>(alignment);
    const std::size_t rounded = (std::max<std::size_t>(size, 1) + align - 1) / align * align;
    if (void* p = std::aligned_alloc(align, rounded)) return p;
    throw std::bad_alloc();
}
}  // namespace

void* operator new(std::size_t size) {
    return counted_alloc(size);
}
void* operator new(std::size_t size, std::align_val_t alignment) {
    return counted_aligned_alloc(size, alignment);
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
    std::free(p);
}

namespace {

namespace fs = std::filesystem;
namespace hub = relay::hub;
namespace hubapi = relay::ingress::hubapi;
namespace updater = relay::updater;
namespace transform = relay::transform;

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path.string());
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

/// The referral ref of a bundle (MessageHeader ext-referral-identifier), as the updater tests read it.
std::string referral_ref_of(const std::string& bundle) {
    const boost::json::value b = boost::json::parse(bundle);
    const auto& header = b.at("entry").as_array()[0].at("resource").as_object();
    for (const auto& e : header.at("extension").as_array()) {
        if (e.as_object().contains("valueIdentifier"))
            return std::string(e.at("valueIdentifier").at("value").as_string());
    }
    throw std::runtime_error("fixture without a referral ref");
}

/// tests/unit/updater/updater_test_util.hpp request(): the canonical request of one update.
std::string request(const std::string& update_id, const std::string& ref, const std::string& members) {
    return R"({"update_id":")" + update_id + R"(","referral_ref":")" + ref +
           R"(","requested_at":"2026-11-24T10:15:00-05:00",)" + members + "}";
}

struct Step {
    std::string name;
    std::string members;
    bool over_fixture = true;
};

/// A copy of tests/unit/updater/updater_test_util.hpp every_type() (that header needs gtest).
std::vector<Step> every_type() {
    return {
        {"received", R"("action":"received")"},
        {"accept", R"("action":"accept","import_to_emr":true)"},
        {"decline", R"("action":"decline","reason":"Outside our catchment area")"},
        {"reopen", R"("action":"reopen")", false},
        {"complete", R"("action":"complete")"},
        {"forward", R"("action":"forward","listing_ref":"lakeside_clinic-11112222","reason":"Better fit")"},
        {"switch_type", R"("action":"switch_type","econsult":true)"},
        {"booking_instructions",
         R"("action":"booking_instructions","instructions":"Please call 555-0100 to book")"},
        {"message", R"("action":"message","text":"Please send the latest imaging report.")"},
        {"message_attachment",
         R"("action":"message","text":"Requisition attached.","attachment":{"content_type":"application/pdf","data":"JVBERi0xLjQKJcOkw7zDtsOfCg==","title":"requisition.pdf"})"},
        {"book",
         R"("action":"book","appointment":{"start":"2026-12-01T09:30:00-05:00","end":"2026-12-01T10:00:00-05:00","confirmed":false,"type_text":"Initial consult","instructions":"Bring your health card","wait_time_milestone":"wait-2"})"},
        {"change_booking",
         R"("action":"change_booking","appointment":{"start":"2026-12-02T13:00:00-05:00","end":"2026-12-02T13:45:00-05:00","confirmed":true})",
         false},
        {"cancel_booking", R"("action":"cancel_booking","reason":"Clinic closed that day")", false},
    };
}

/// One update over one fixture: the request, the bundle it is built over, and the message built once.
struct Case {
    std::string type;
    std::string fixture;
    std::string request;
    hub::Update update;
    std::string latest;
    std::string built;  ///< the message's bundle
};

struct Fixture {
    std::string name;
    simdjson::padded_string json;
};

struct Inputs {
    std::vector<Fixture> fixtures;
    std::vector<Case> cases;  ///< every type over fixture 0, then over fixture 1
};

hub::Update must_parse(const std::string& text) {
    auto r = hub::parse_update(text);
    if (!r.ok()) throw std::runtime_error("request does not parse: " + r.error_text());
    return *r.update;
}

Inputs build_inputs() {
    Inputs inputs;
    const updater::MessageOptions options;
    for (const char* name : {"ereferral_back_pain", "ereferral_miscellaneous"}) {
        const std::string text = read_file(fs::path(RELAY_FIXTURES_DIR) / "ocean-fhir-v0.11.1" /
                                           (std::string(name) + ".bundle.json"));
        const std::string short_name = std::string(name).substr(10);
        inputs.fixtures.push_back(Fixture{short_name, simdjson::padded_string(text)});
        const std::string ref = referral_ref_of(text);
        std::string previous = text;
        for (const auto& step : every_type()) {
            Case c;
            c.type = step.name;
            c.fixture = short_name;
            c.request = request("upd-" + step.name, ref, step.members);
            c.update = must_parse(c.request);
            c.latest = step.over_fixture ? text : previous;
            const auto built = updater::build_update_message(c.update, c.latest, options);
            if (!built.ok())
                throw std::runtime_error(step.name + " over " + short_name + ": " + built.error->code);
            c.built = built.message->bundle;
            if (!updater::pushed_update_json(c.built))
                throw std::runtime_error(step.name + " over " + short_name + ": no pushed JSON");
            previous = c.built;
            inputs.cases.push_back(std::move(c));
        }
    }
    return inputs;
}

void set_counters(benchmark::State& state,
                  std::size_t bytes,
                  std::uint64_t allocs0,
                  std::uint64_t alloc_bytes0) {
    // Read the counters before anything here allocates.
    const auto allocs = static_cast<double>(t_allocs - allocs0);
    const auto alloc_bytes = static_cast<double>(t_alloc_bytes - alloc_bytes0);
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(bytes));
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
    state.counters["bytes"] = static_cast<double>(bytes);
    state.counters["allocs"] = benchmark::Counter(allocs, benchmark::Counter::kAvgIterations);
    state.counters["alloc_bytes"] = benchmark::Counter(alloc_bytes, benchmark::Counter::kAvgIterations);
}

void BM_ParseUpdate(benchmark::State& state, const Case* c) {
    const std::string_view text = c->request;
    const auto allocs0 = t_allocs;
    const auto alloc_bytes0 = t_alloc_bytes;
    for (auto _ : state) {
        auto result = hub::parse_update(text);
        benchmark::DoNotOptimize(result);
    }
    set_counters(state, text.size(), allocs0, alloc_bytes0);
}

// A fixed id generator: build_update calls it only when neither the body nor Idempotency-Key has one.
std::string fixed_id() {
    return "generated-update-id";
}

void BM_HubBuildUpdate(benchmark::State& state,
                       boost::beast::http::verb method,
                       std::string path,
                       std::string body) {
    const auto match = hubapi::match_route(method, path);
    if (match.status != hubapi::RouteMatch::Status::kFound) {
        state.SkipWithError("route not found");
        return;
    }
    const auto first = hubapi::build_update(match.route, body, {}, &fixed_id);
    if (!std::holds_alternative<hubapi::BuiltUpdate>(first)) {
        state.SkipWithError("build_update refused the request");
        return;
    }
    const std::size_t out_bytes = std::get<hubapi::BuiltUpdate>(first).value.size();
    const auto allocs0 = t_allocs;
    const auto alloc_bytes0 = t_alloc_bytes;
    for (auto _ : state) {
        // The ingress matches the route per request too.
        auto m = hubapi::match_route(method, path);
        auto built = hubapi::build_update(m.route, body, {}, &fixed_id);
        benchmark::DoNotOptimize(built);
    }
    set_counters(state, body.size(), allocs0, alloc_bytes0);
    state.counters["out_bytes"] = static_cast<double>(out_bytes);
}

void BM_DomParse(benchmark::State& state, const Fixture* f) {
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (const auto error = parser.parse(f->json).get(root); error != simdjson::SUCCESS) {
        state.SkipWithError(simdjson::error_message(error));
        return;
    }
    const auto allocs0 = t_allocs;
    const auto alloc_bytes0 = t_alloc_bytes;
    for (auto _ : state) {
        auto error = parser.parse(f->json).get(root);
        benchmark::DoNotOptimize(error);
        benchmark::DoNotOptimize(root);
    }
    set_counters(state, f->json.size(), allocs0, alloc_bytes0);
}

void BM_BoostParse(benchmark::State& state, const Fixture* f) {
    const std::string_view text(f->json.data(), f->json.size());
    const auto allocs0 = t_allocs;
    const auto alloc_bytes0 = t_alloc_bytes;
    for (auto _ : state) {
        boost::system::error_code ec;
        auto value = boost::json::parse(text, ec);
        benchmark::DoNotOptimize(value);
    }
    set_counters(state, text.size(), allocs0, alloc_bytes0);
}

// What build_update_message does with the whole bundle besides parsing it: a deep copy of a parsed Boost.JSON
// value (it copies every resource twice: into its entry list, then into the output array) and a serialize.
void BM_BoostCopy(benchmark::State& state, const Fixture* f) {
    const boost::json::value parsed = boost::json::parse(std::string_view(f->json.data(), f->json.size()));
    const auto allocs0 = t_allocs;
    const auto alloc_bytes0 = t_alloc_bytes;
    for (auto _ : state) {
        boost::json::value copy = parsed;
        benchmark::DoNotOptimize(copy);
    }
    set_counters(state, f->json.size(), allocs0, alloc_bytes0);
}

void BM_BoostSerialize(benchmark::State& state, const Fixture* f) {
    const boost::json::value parsed = boost::json::parse(std::string_view(f->json.data(), f->json.size()));
    const std::size_t out_bytes = boost::json::serialize(parsed).size();
    const auto allocs0 = t_allocs;
    const auto alloc_bytes0 = t_alloc_bytes;
    for (auto _ : state) {
        auto out = boost::json::serialize(parsed);
        benchmark::DoNotOptimize(out.data());
    }
    set_counters(state, f->json.size(), allocs0, alloc_bytes0);
    state.counters["out_bytes"] = static_cast<double>(out_bytes);
}

void BM_Build(benchmark::State& state, const Case* c) {
    const updater::MessageOptions options;
    const std::string_view latest = c->latest;
    const auto allocs0 = t_allocs;
    const auto alloc_bytes0 = t_alloc_bytes;
    for (auto _ : state) {
        auto result = updater::build_update_message(c->update, latest, options);
        benchmark::DoNotOptimize(result);
    }
    set_counters(state, latest.size(), allocs0, alloc_bytes0);
    state.counters["out_bytes"] = static_cast<double>(c->built.size());
}

void BM_Pushed(benchmark::State& state, const Case* c) {
    const std::string_view built = c->built;
    const std::size_t out_bytes = updater::pushed_update_json(built)->size();
    const auto allocs0 = t_allocs;
    const auto alloc_bytes0 = t_alloc_bytes;
    for (auto _ : state) {
        auto pushed = updater::pushed_update_json(built);
        benchmark::DoNotOptimize(pushed);
    }
    set_counters(state, built.size(), allocs0, alloc_bytes0);
    state.counters["out_bytes"] = static_cast<double>(out_bytes);
}

// pushed_update_json's body with the ReferralParser (and its simdjson buffers) kept across calls.
void BM_PushedReusedParser(benchmark::State& state, const Case* c) {
    const std::string_view built = c->built;
    transform::ReferralParser parser;
    if (!parser.parse(built).referral) {
        state.SkipWithError("not a referral");
        return;
    }
    const auto allocs0 = t_allocs;
    const auto alloc_bytes0 = t_alloc_bytes;
    for (auto _ : state) {
        const auto parsed = parser.parse(built);
        const auto& r = *parsed.referral;
        auto pushed = transform::encode_pushed(
            transform::PushedUpdate{r.referral_ref, r.tasks, r.appointments, r.communications});
        benchmark::DoNotOptimize(pushed);
    }
    set_counters(state, built.size(), allocs0, alloc_bytes0);
}

void BM_Update(benchmark::State& state, const Case* c) {
    const updater::MessageOptions options;
    const std::string_view request = c->request;
    const std::string_view latest = c->latest;
    const auto allocs0 = t_allocs;
    const auto alloc_bytes0 = t_alloc_bytes;
    for (auto _ : state) {
        // Deterministic inputs, checked by build_inputs: every step succeeds.
        auto parsed = hub::parse_update(request);
        auto built = updater::build_update_message(*parsed.update, latest, options);
        auto pushed = updater::pushed_update_json(built.message->bundle);
        benchmark::DoNotOptimize(pushed);
    }
    set_counters(state, latest.size(), allocs0, alloc_bytes0);
    state.counters["out_bytes"] = static_cast<double>(c->built.size());
}

void register_all(const Inputs& inputs) {
    benchmark::AddCustomContext("dom_kernel (libsimdjson.so, run-time dispatch)",
                                simdjson::get_active_implementation()->name());
    // The requests differ between fixtures only by the referral ref: fixture 0's.
    for (const auto& c : inputs.cases) {
        if (c.fixture != inputs.fixtures[0].name) continue;
        benchmark::RegisterBenchmark(("BM_ParseUpdate/" + c.type).c_str(), BM_ParseUpdate, &c);
    }
    using boost::beast::http::verb;
    benchmark::RegisterBenchmark("BM_HubBuildUpdate/accept",
                                 BM_HubBuildUpdate,
                                 verb::post,
                                 std::string("/referrals/ref-000001/accept"),
                                 std::string(R"({"update_id":"load-0-1","import_to_emr":true})"));
    benchmark::RegisterBenchmark(
        "BM_HubBuildUpdate/book",
        BM_HubBuildUpdate,
        verb::post,
        std::string("/referrals/ref-000001/appointments"),
        std::string(
            R"({"update_id":"load-0-2","requested_at":"2026-11-24T10:15:00-05:00","appointment":{"start":"2026-12-01T09:30:00-05:00","end":"2026-12-01T10:00:00-05:00","confirmed":false,"type_text":"Initial consult","instructions":"Bring your health card","wait_time_milestone":"wait-2"}})"));
    for (const auto& f : inputs.fixtures) {
        benchmark::RegisterBenchmark(("BM_DomParse/" + f.name).c_str(), BM_DomParse, &f);
    }
    for (const auto& f : inputs.fixtures) {
        benchmark::RegisterBenchmark(("BM_BoostParse/" + f.name).c_str(), BM_BoostParse, &f);
    }
    for (const auto& f : inputs.fixtures) {
        benchmark::RegisterBenchmark(("BM_BoostCopy/" + f.name).c_str(), BM_BoostCopy, &f);
    }
    for (const auto& f : inputs.fixtures) {
        benchmark::RegisterBenchmark(("BM_BoostSerialize/" + f.name).c_str(), BM_BoostSerialize, &f);
    }
    for (const auto& c : inputs.cases) {
        benchmark::RegisterBenchmark(("BM_Build/" + c.type + "/" + c.fixture).c_str(), BM_Build, &c);
    }
    for (const auto& c : inputs.cases) {
        benchmark::RegisterBenchmark(("BM_Pushed/" + c.type + "/" + c.fixture).c_str(), BM_Pushed, &c);
    }
    for (const auto& c : inputs.cases) {
        benchmark::RegisterBenchmark(
            ("BM_PushedReusedParser/" + c.type + "/" + c.fixture).c_str(), BM_PushedReusedParser, &c);
    }
    for (const auto& c : inputs.cases) {
        benchmark::RegisterBenchmark(("BM_Update/" + c.type + "/" + c.fixture).c_str(), BM_Update, &c);
    }
}

}  // namespace

int main(int argc, char** argv) {
    try {
        // Static: registered benchmarks keep pointers to the inputs until the program ends.
        static const Inputs inputs = build_inputs();
        benchmark::Initialize(&argc, argv);
        if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
        register_all(inputs);
        benchmark::RunSpecifiedBenchmarks();
        benchmark::Shutdown();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "updater_benchmark: %s\n", e.what());
        return 1;
    }
    return 0;
}
