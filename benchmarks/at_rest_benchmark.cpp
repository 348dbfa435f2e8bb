// kafka::AtRest: the cost of sealing and opening one record value (AES-256-GCM, OpenSSL's EVP) at the
// sizes the relay writes: a 1 KiB update, a ~10 KiB FHIR bundle or rendered delivery, a 1 MiB bundle
// with an attachment. Compared with a plain copy of the same bytes, which every seal and open also makes.
#include <benchmark/benchmark.h>

#include <string>
#include <variant>
#include <vector>

#include "relay/kafka/at_rest.hpp"

namespace {

relay::kafka::AtRest make_at_rest() {
    std::vector<relay::kafka::AtRest::Key> keys;
    keys.push_back({"bench", relay::Secret::from_value("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")});
    return relay::kafka::AtRest(std::move(keys), "", {"*"}, "kafka.at_rest");
}

std::string payload(std::size_t size) {
    std::string s(size, '\0');
    for (std::size_t i = 0; i < size; ++i) s[i] = static_cast<char>('a' + (i * 7) % 26);
    return s;
}

void BM_Copy(benchmark::State& state) {
    const std::string value = payload(static_cast<std::size_t>(state.range(0)));
    for (auto _ : state) {
        std::string copy = value;
        benchmark::DoNotOptimize(copy.data());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}

void BM_Seal(benchmark::State& state) {
    const auto at_rest = make_at_rest();
    const std::string value = payload(static_cast<std::size_t>(state.range(0)));
    for (auto _ : state) {
        auto sealed = at_rest.seal(value);
        benchmark::DoNotOptimize(&sealed);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}

void BM_Open(benchmark::State& state) {
    const auto at_rest = make_at_rest();
    const std::string sealed = std::get<std::string>(at_rest.seal(payload(static_cast<std::size_t>(state.range(0)))));
    for (auto _ : state) {
        auto opened = at_rest.open("bench", sealed);
        benchmark::DoNotOptimize(&opened);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}

}  // namespace

BENCHMARK(BM_Copy)->Arg(1 << 10)->Arg(10 << 10)->Arg(1 << 20);
BENCHMARK(BM_Seal)->Arg(1 << 10)->Arg(10 << 10)->Arg(1 << 20);
BENCHMARK(BM_Open)->Arg(1 << 10)->Arg(10 << 10)->Arg(1 << 20);
