// Throughput of the router's per-bundle transform work (libs/transform), single thread, beside a bare
// simdjson DOM parse of the same bytes.
//
//   BM_DomParse/<input>               simdjson::dom::parser::parse of the padded input (reused parser, no
//                                     copy): the floor any DOM-based parser stands on
//   BM_DomParseCopy/<input>           the same through parse(data, size), which copies into the parser's
//                                     padded buffer: exactly the DOM step ReferralParser::parse takes
//   BM_Parse/<input>                  relay::transform::ReferralParser::parse → Referral
//   BM_Render/<format>/<input>        relay::transform::render(format, referral, original) from a referral
//                                     parsed once before timing
//   BM_ParseRender/<format>/<input>   parse + render: what the router does per bundle and destination
//
// Every benchmark reports bundles/s (items_per_second) and input bytes/s, whatever it outputs, so that
// rows compare per bundle; `out_bytes` is the rendered size. `allocs` and `alloc_bytes` are operator new
// calls and bytes per iteration, counted by the replacement operator new below (malloc calls made
// directly, e.g. simdjson's own aligned buffers, are not counted; a reused parser makes none per parse).
//
// Inputs: the real v0.11.1 fixtures, ocean-sim bundles of both dialects (fixed seeds) and an ocean-sim
// v0.11 bundle with a 1 MiB inline attachment. `--dump-inputs=DIR` writes them to DIR (plus index.txt,
// their names in order) and exits; `--inputs=DIR` reads such a directory instead of building them, so
// that benchmarks/hapi/HapiBench.java and this program measure the same bytes
// (benchmarks/transform/run-transform-bench.sh does both).
#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
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
#include <vector>

#include "generator.hpp"
#include "relay/transform/referral.hpp"
#include "relay/transform/render.hpp"

#ifndef RELAY_FIXTURES_DIR
#error "RELAY_FIXTURES_DIR must name tests/fixtures"
#endif

// ---- allocation counting --------------------------------------------------------------------------------
// Thread-local plain counters rather than atomics: the benchmarks run on one thread, and a locked
// increment per allocation would itself show up in the timings of allocation-heavy code.

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
    // aligned_alloc wants a size that is a multiple of the alignment.
    const std::size_t rounded = (std::max<std::size_t>(size, 1) + align - 1) / align * align;
    if (void* p = std::aligned_alloc(align, rounded)) return p;
    throw std::bad_alloc();
}
}  // namespace

// libstdc++ routes the array and nothrow forms through these two, so replacing them counts every
// new-expression and every standard allocator in the process, including those inside shared libraries.
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
namespace transform = relay::transform;
namespace sim = relay::ocean_sim;

struct Input {
    std::string name;
    simdjson::padded_string json;
    std::string_view view() const { return {json.data(), json.size()}; }
};

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path.string());
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

void write_file(const fs::path& path, std::string_view bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error("cannot write " + path.string());
}

// The spec the ocean-sim generator tests use (tests/unit/ocean-sim/generator_test_util.hpp); the seed
// fixes everything else, so these bundles are the same bytes on every run and every machine.
sim::ReferralSpec generated_spec(std::uint64_t seed, sim::Dialect dialect) {
    sim::ReferralSpec spec;
    spec.seed = seed;
    spec.dialect = dialect;
    spec.site_number = "4321";
    spec.listing_ref = "harbourfront_clinic-73632721";
    spec.request_url = "https://relay.example/ocean/acme/fhir/$process-message";
    spec.ocean_host = "https://test.cognisantmd.com";
    return spec;
}

std::vector<Input> build_inputs() {
    std::vector<Input> inputs;
    for (const char* fixture : {"ereferral_back_pain", "ereferral_miscellaneous"}) {
        const fs::path path =
            fs::path(RELAY_FIXTURES_DIR) / "ocean-fhir-v0.11.1" / (std::string(fixture) + ".bundle.json");
        inputs.push_back(Input{std::string(fixture).substr(10), simdjson::padded_string(read_file(path))});
    }
    inputs.push_back(
        Input{"gen-v0.10",
              simdjson::padded_string(sim::generate(generated_spec(1010, sim::Dialect::kV0_10)).body)});
    inputs.push_back(
        Input{"gen-v0.11",
              simdjson::padded_string(sim::generate(generated_spec(1011, sim::Dialect::kV0_11)).body)});
    auto with_attachment = generated_spec(1012, sim::Dialect::kV0_11);
    with_attachment.attachment_bytes = std::size_t{1} << 20;  // decoded; about 1.4 MB of base64 in the bundle
    inputs.push_back(Input{"gen-v0.11+1MiB", simdjson::padded_string(sim::generate(with_attachment).body)});
    return inputs;
}

// index.txt keeps the order (real fixtures first) and is what the Java harness reads too.
std::vector<Input> read_inputs(const fs::path& dir) {
    std::ifstream index(dir / "index.txt");
    if (!index) throw std::runtime_error("no index.txt in " + dir.string());
    std::vector<Input> inputs;
    for (std::string name; std::getline(index, name);) {
        if (name.empty()) continue;
        inputs.push_back(Input{name, simdjson::padded_string(read_file(dir / (name + ".json")))});
    }
    if (inputs.empty()) throw std::runtime_error("index.txt in " + dir.string() + " names no input");
    return inputs;
}

void dump_inputs(const std::vector<Input>& inputs, const fs::path& dir) {
    fs::create_directories(dir);
    std::string index;
    for (const auto& input : inputs) {
        write_file(dir / (input.name + ".json"), input.view());
        index += input.name + "\n";
    }
    write_file(dir / "index.txt", index);
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

void BM_DomParse(benchmark::State& state, const Input* input) {
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (const auto error = parser.parse(input->json).get(root); error != simdjson::SUCCESS) {
        state.SkipWithError(simdjson::error_message(error));
        return;
    }
    const auto allocs0 = t_allocs;
    const auto alloc_bytes0 = t_alloc_bytes;
    for (auto _ : state) {
        auto error = parser.parse(input->json).get(root);
        benchmark::DoNotOptimize(error);
        benchmark::DoNotOptimize(root);
    }
    set_counters(state, input->json.size(), allocs0, alloc_bytes0);
}

void BM_DomParseCopy(benchmark::State& state, const Input* input) {
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    const auto view = input->view();
    if (const auto error = parser.parse(view.data(), view.size()).get(root); error != simdjson::SUCCESS) {
        state.SkipWithError(simdjson::error_message(error));
        return;
    }
    const auto allocs0 = t_allocs;
    const auto alloc_bytes0 = t_alloc_bytes;
    for (auto _ : state) {
        auto error = parser.parse(view.data(), view.size()).get(root);
        benchmark::DoNotOptimize(error);
        benchmark::DoNotOptimize(root);
    }
    set_counters(state, input->json.size(), allocs0, alloc_bytes0);
}

// Parses once outside the timing: sizes the parser's buffers, and a bundle that does not parse is a
// broken input, not a benchmark.
bool warm_up(benchmark::State& state, transform::ReferralParser& parser, const Input& input) {
    const auto result = parser.parse(input.view());
    if (!result.referral) {
        state.SkipWithError(
            ("parse failed: " + (result.error ? result.error->code : std::string("?"))).c_str());
        return false;
    }
    return true;
}

void BM_Parse(benchmark::State& state, const Input* input) {
    transform::ReferralParser parser;
    if (!warm_up(state, parser, *input)) return;
    const auto view = input->view();
    const auto allocs0 = t_allocs;
    const auto alloc_bytes0 = t_alloc_bytes;
    for (auto _ : state) {
        auto result = parser.parse(view);
        benchmark::DoNotOptimize(result);
    }
    set_counters(state, input->json.size(), allocs0, alloc_bytes0);
}

void BM_Render(benchmark::State& state, transform::Format format, const Input* input) {
    transform::ReferralParser parser;
    const auto view = input->view();
    const auto parsed = parser.parse(view);
    if (!parsed.referral) {
        state.SkipWithError("parse failed");
        return;
    }
    const auto& referral = *parsed.referral;
    const std::size_t out_bytes = transform::render(format, referral, view).size();
    const auto allocs0 = t_allocs;
    const auto alloc_bytes0 = t_alloc_bytes;
    for (auto _ : state) {
        auto out = transform::render(format, referral, view);
        benchmark::DoNotOptimize(out.data());
    }
    set_counters(state, input->json.size(), allocs0, alloc_bytes0);
    state.counters["out_bytes"] = static_cast<double>(out_bytes);
}

void BM_ParseRender(benchmark::State& state, transform::Format format, const Input* input) {
    transform::ReferralParser parser;
    if (!warm_up(state, parser, *input)) return;
    const auto view = input->view();
    const std::size_t out_bytes = transform::render(format, *parser.parse(view).referral, view).size();
    const auto allocs0 = t_allocs;
    const auto alloc_bytes0 = t_alloc_bytes;
    for (auto _ : state) {
        auto result = parser.parse(view);
        // Deterministic input, checked by warm_up: the referral is there.
        auto out = transform::render(format, *result.referral, view);
        benchmark::DoNotOptimize(out.data());
    }
    set_counters(state, input->json.size(), allocs0, alloc_bytes0);
    state.counters["out_bytes"] = static_cast<double>(out_bytes);
}

constexpr std::array kFormats = {transform::Format::kOceanFhir,
                                 transform::Format::kFhirR4,
                                 transform::Format::kOpenApi,
                                 transform::Format::kHubJson};

void register_all(const std::vector<Input>& inputs) {
    benchmark::AddCustomContext("dom_kernel (libsimdjson.so, run-time dispatch)",
                                simdjson::get_active_implementation()->name());
    for (const auto& input : inputs) {
        benchmark::RegisterBenchmark(("BM_DomParse/" + input.name).c_str(), BM_DomParse, &input);
    }
    for (const auto& input : inputs) {
        benchmark::RegisterBenchmark(("BM_DomParseCopy/" + input.name).c_str(), BM_DomParseCopy, &input);
    }
    for (const auto& input : inputs) {
        benchmark::RegisterBenchmark(("BM_Parse/" + input.name).c_str(), BM_Parse, &input);
    }
    for (const auto format : kFormats) {
        const std::string name = transform::to_string(format);
        for (const auto& input : inputs) {
            benchmark::RegisterBenchmark(
                ("BM_Render/" + name + "/" + input.name).c_str(), BM_Render, format, &input);
        }
    }
    for (const auto format : kFormats) {
        const std::string name = transform::to_string(format);
        for (const auto& input : inputs) {
            benchmark::RegisterBenchmark(
                ("BM_ParseRender/" + name + "/" + input.name).c_str(), BM_ParseRender, format, &input);
        }
    }
}

// Removes `--<flag>=VALUE` from argv (Google Benchmark rejects flags it does not know) and returns VALUE.
std::string take_flag(int& argc, char** argv, std::string_view flag) {
    const std::string prefix = "--" + std::string(flag) + "=";
    std::string value;
    int kept = 1;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg.starts_with(prefix)) {
            value = arg.substr(prefix.size());
        } else {
            argv[kept++] = argv[i];
        }
    }
    argc = kept;
    return value;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const std::string dump_dir = take_flag(argc, argv, "dump-inputs");
        const std::string inputs_dir = take_flag(argc, argv, "inputs");
        // Static: registered benchmarks keep pointers to the inputs until the program ends.
        static const std::vector<Input> inputs =
            inputs_dir.empty() ? build_inputs() : read_inputs(inputs_dir);
        if (!dump_dir.empty()) {
            dump_inputs(inputs, dump_dir);
            for (const auto& input : inputs) std::printf("%s\t%zu\n", input.name.c_str(), input.json.size());
            return 0;
        }
        benchmark::Initialize(&argc, argv);
        if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
        register_all(inputs);
        benchmark::RunSpecifiedBenchmarks();
        benchmark::Shutdown();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "transform_benchmark: %s\n", e.what());
        return 1;
    }
    return 0;
}
