// Throughput of the ingress's per-request JSON work, over real Ocean bundles.
//
//   BM_Extract/<input>         relay::fhir::Extractor(strict_json=false): the On-Demand pass alone
//   BM_ExtractStrict/<input>   relay::fhir::Extractor(strict_json=true): On-Demand + a full DOM validation
//                              pass (what the ingress runs per request by default, fhir.strict_json: true)
//   BM_DomParse/<input>        simdjson::dom::parser::parse of the same bytes (the validation pass alone)
//   BM_DomParseKernel/<kernel>/<input>
//                              the DOM parse pinned to one simdjson kernel (haswell = AVX2, icelake =
//                              AVX-512,
//                              ...), to compare with the kernel libsimdjson.so picks at run time
//
// Inputs: every tests/fixtures/ocean-fhir-v0.11.1/*.json as published, and the first fixture (by name) with a
// base64 attachment (DocumentReference content[0].attachment.data) making it ~1 MiB and ~10 MiB: Ocean sends
// the referral letter that way. Inputs are padded once (simdjson::padded_string): no copy is timed.
//
// The extractor's translation unit is compiled with -march=x86-64-v3 (On-Demand is compiled into the caller,
// so it runs the haswell kernel); the DOM parser in libsimdjson.so dispatches at run time. Both kernel names
// are printed in the benchmark context.
#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "relay/fhir/extract.hpp"

#ifndef RELAY_FIXTURES_DIR
#error "RELAY_FIXTURES_DIR must name tests/fixtures"
#endif

namespace {

namespace fs = std::filesystem;

struct Input {
    std::string name;
    simdjson::padded_string json;
};

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path.string());
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

// Deterministic pseudo-random bytes (a compressed PDF looks random), base64-encoded to `chars` characters.
std::string base64_noise(std::size_t chars) {
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve(chars);
    std::uint64_t state = 0x9E3779B97F4A7C15ULL;
    while (out.size() < chars) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        for (int i = 0; i < 10 && out.size() < chars; ++i) out += kAlphabet[(state >> (6 * i)) & 63];
    }
    return out;
}

// Inserts "data": "<base64>" as the first member of the DocumentReference's first attachment, so the
// bundle is about `target_bytes` long. The original bytes are kept otherwise; validated by the caller.
std::string with_attachment(const std::string& bundle, std::size_t target_bytes) {
    const auto doc_ref = bundle.find("\"DocumentReference\"");
    if (doc_ref == std::string::npos) throw std::runtime_error("fixture has no DocumentReference");
    const auto attachment = bundle.find("\"attachment\"", doc_ref);
    if (attachment == std::string::npos) throw std::runtime_error("DocumentReference has no attachment");
    const auto brace = bundle.find('{', attachment);
    if (brace == std::string::npos) throw std::runtime_error("malformed attachment");
    const std::string prefix = "\"data\": \"";
    const std::string suffix = "\",";
    std::size_t chars = target_bytes > bundle.size() + prefix.size() + suffix.size()
                            ? target_bytes - bundle.size() - prefix.size() - suffix.size()
                            : 4;
    chars -= chars % 4;  // whole base64 quanta, no '=' padding needed
    std::string out;
    out.reserve(bundle.size() + prefix.size() + chars + suffix.size());
    out.append(bundle, 0, brace + 1);
    out += prefix;
    out += base64_noise(chars);
    out += suffix;
    out.append(bundle, brace + 1, std::string::npos);
    return out;
}

std::vector<Input> load_inputs() {
    const fs::path dir = fs::path(RELAY_FIXTURES_DIR) / "ocean-fhir-v0.11.1";
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir)) {
        if (entry.is_regular_file() && entry.path().extension() == ".json") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) throw std::runtime_error("no fixtures in " + dir.string());

    std::vector<Input> inputs;
    for (const auto& file : files) {
        std::string name = file.filename().string();
        if (const auto dot = name.find('.'); dot != std::string::npos) name.resize(dot);
        if (name.starts_with("ereferral_")) name.erase(0, 10);
        inputs.push_back(Input{name, simdjson::padded_string(read_file(file))});
    }
    const std::string base(inputs.front().json.data(), inputs.front().json.size());
    const std::string base_name = inputs.front().name;
    inputs.push_back(Input{base_name + "+1MiB", simdjson::padded_string(with_attachment(base, 1U << 20))});
    inputs.push_back(Input{base_name + "+10MiB", simdjson::padded_string(with_attachment(base, 10U << 20))});
    return inputs;
}

const std::vector<Input>& inputs() {
    static const std::vector<Input> all = load_inputs();
    return all;
}

void set_counters(benchmark::State& state, std::size_t bytes) {
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(bytes));
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
    state.counters["bytes"] = static_cast<double>(bytes);
}

void run_extract(benchmark::State& state, const Input& input, bool strict) {
    relay::fhir::Extractor extractor(strict);
    // Warm-up (sizes the parsers' buffers) and a correctness check: a failing extraction is not a benchmark.
    {
        auto result = extractor.extract(input.json);
        if (const auto* error = std::get_if<relay::fhir::ExtractError>(&result)) {
            state.SkipWithError((std::string("extract failed: ") + error->message).c_str());
            return;
        }
        const auto& facts = std::get<relay::fhir::InboundFacts>(result);
        if (facts.event_code.empty() || facts.referral_ref.empty()) {
            state.SkipWithError("extract found no event code or referral ref");
            return;
        }
    }
    for (auto _ : state) {
        auto result = extractor.extract(input.json);
        benchmark::DoNotOptimize(result);
    }
    set_counters(state, input.json.size());
}

void BM_Extract(benchmark::State& state, const Input* input) {
    run_extract(state, *input, false);
}
void BM_ExtractStrict(benchmark::State& state, const Input* input) {
    run_extract(state, *input, true);
}

void run_dom(benchmark::State& state, const Input& input) {
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (const auto error = parser.parse(input.json).get(root); error != simdjson::SUCCESS) {
        state.SkipWithError(simdjson::error_message(error));
        return;
    }
    for (auto _ : state) {
        auto error = parser.parse(input.json).get(root);
        benchmark::DoNotOptimize(error);
        benchmark::DoNotOptimize(root);
    }
    set_counters(state, input.json.size());
}

void BM_DomParse(benchmark::State& state, const Input* input) {
    run_dom(state, *input);
}

// The DOM parser allocates its kernel-specific implementation from the active implementation at allocation
// time, so pinning the active implementation around the parser's first parse pins the parser.
void BM_DomParseKernel(benchmark::State& state, const simdjson::implementation* kernel, const Input* input) {
    const simdjson::implementation* previous = simdjson::get_active_implementation();
    simdjson::get_active_implementation() = kernel;
    run_dom(state, *input);
    simdjson::get_active_implementation() = previous;
}

// Registered before main() (benchmark_main provides main): one benchmark per input.
const bool registered = [] {
    try {
        const auto& all = inputs();
        benchmark::AddCustomContext("extractor_kernel (On-Demand, compiled in)", relay::fhir::kernel_name());
        benchmark::AddCustomContext("dom_kernel (libsimdjson.so, run-time dispatch)",
                                    simdjson::get_active_implementation()->name());
        for (const auto& input : all) {
            benchmark::RegisterBenchmark(("BM_Extract/" + input.name).c_str(), BM_Extract, &input);
        }
        for (const auto& input : all) {
            benchmark::RegisterBenchmark(
                ("BM_ExtractStrict/" + input.name).c_str(), BM_ExtractStrict, &input);
        }
        for (const auto& input : all) {
            benchmark::RegisterBenchmark(("BM_DomParse/" + input.name).c_str(), BM_DomParse, &input);
        }
        for (const auto* kernel : simdjson::get_available_implementations()) {
            if (!kernel->supported_by_runtime_system() || kernel->name() == "fallback") continue;
            for (const auto& input : all) {
                benchmark::RegisterBenchmark(
                    ("BM_DomParseKernel/" + kernel->name() + "/" + input.name).c_str(),
                    BM_DomParseKernel,
                    kernel,
                    &input);
            }
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "extract_benchmark: %s\n", e.what());
        std::exit(1);
    }
    return true;
}();

}  // namespace
