#include "render_samples.hpp"

#include <filesystem>

#include "relay/transform/render.hpp"
#include "render_test_util.hpp"

namespace render_samples {

namespace fs = std::filesystem;

std::vector<Input> golden_inputs() {
    std::vector<Input> out;
    out.push_back({"handbuilt-full", render_test::full_referral()});
    out.push_back({"handbuilt-minimal", render_test::minimal_referral()});
    return out;
}

namespace {

void reset_dir(const fs::path& dir) {
    fs::remove_all(dir);
    fs::create_directories(dir);
}

}  // namespace

std::size_t write_samples(const std::string& fhir_dir, const std::string& hub_dir) {
    std::size_t written = 0;
    const std::vector<Input> inputs = golden_inputs();
    if (!fhir_dir.empty()) {
        reset_dir(fhir_dir);
        for (const auto& input : inputs) {
            render_test::write_file(fs::path(fhir_dir) / (input.name + ".fhir-r4.json"),
                                    relay::transform::render_fhir_r4(input.referral));
            ++written;
        }
    }
    if (!hub_dir.empty()) {
        reset_dir(hub_dir);
        for (const auto& input : inputs) {
            render_test::write_file(fs::path(hub_dir) / (input.name + ".hub-json.json"),
                                    relay::transform::render_hub_json(input.referral));
            ++written;
        }
        // Random referrals reach the schema's edges: empty lists, null optionals, every string shape.
        for (std::uint64_t seed = 0; seed < 40; ++seed) {
            render_test::write_file(
                fs::path(hub_dir) / ("random-" + std::to_string(seed) + ".hub-json.json"),
                relay::transform::render_hub_json(render_test::random_referral(seed, seed % 2 == 0)));
            ++written;
        }
    }
    return written;
}

}  // namespace render_samples
