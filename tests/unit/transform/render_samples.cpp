#include "render_samples.hpp"

#include <boost/json.hpp>
#include <filesystem>
#include <functional>
#include <stdexcept>

#include "ocean_json_samples.hpp"
#include "relay/transform/embed.hpp"
#include "relay/transform/patient_engagement.hpp"
#include "relay/transform/render.hpp"
#include "render_test_util.hpp"
#include "test_support.hpp"

namespace render_samples {

namespace fs = std::filesystem;

relay::ocean_sim::ReferralSpec generated_spec(std::uint64_t seed, relay::ocean_sim::Dialect dialect) {
    relay::ocean_sim::ReferralSpec s;
    s.seed = seed;
    s.dialect = dialect;
    s.site_number = "4321";
    s.listing_ref = "harbourfront_clinic-73632721";
    s.request_url = "https://relay.example/ocean/acme/fhir/$process-message";
    s.ocean_host = "https://test.cognisantmd.com";
    return s;
}

namespace {

relay::transform::Referral parsed(relay::transform::ReferralParser& parser,
                                  const std::string& body,
                                  const std::string& name) {
    auto result = parser.parse(body);
    if (!result.referral) throw std::runtime_error("golden input " + name + " does not parse");
    return std::move(*result.referral);
}

}  // namespace

std::vector<Input> golden_inputs() {
    std::vector<Input> out;
    out.push_back({"handbuilt-full", render_test::full_referral()});
    out.push_back({"handbuilt-minimal", render_test::minimal_referral()});

    relay::transform::ReferralParser parser;
    for (const auto& [file, body] : relay::test::ocean_fixtures()) {
        std::string name =
            file.substr(0, file.find('.'));  // ereferral_back_pain.bundle.json → ereferral_back_pain
        out.push_back({name, parsed(parser, body, name)});
    }
    using relay::ocean_sim::Dialect;
    for (const Dialect dialect : {Dialect::kV0_10, Dialect::kV0_11}) {
        const std::string v = dialect == Dialect::kV0_10 ? "v0.10" : "v0.11";
        for (const std::uint64_t seed : {1, 2}) {
            const auto spec = generated_spec(seed, dialect);
            out.push_back({"generated-" + v + "-seed" + std::to_string(seed),
                           parsed(parser, relay::ocean_sim::generate(spec).body, v)});
        }
        // Everything at once: a delegate typed it in, an inline attachment, test data, an External
        // Service ID, and a later echo carrying the receiver's Task and appointments.
        auto spec = relay::ocean_sim::resend_as_update(generated_spec(3, dialect));
        spec.delegate_submitter = true;
        spec.attachment_bytes = 600;
        spec.test_data_security_tag = true;
        spec.external_service_id = "Test";
        relay::ocean_sim::ReceiverProgress progress;
        progress.task_status = "rejected";
        progress.decline_reason = "Outside our catchment";
        progress.appointments.push_back({"",
                                         "booked",
                                         "2026-12-01T09:00:00-05:00",
                                         "2026-12-01T09:30:00-05:00",
                                         "accepted",
                                         "Bring your health card"});
        progress.appointments.push_back({"", "proposed", "", "", "", "We will call you"});
        spec.receiver_progress = progress;
        out.push_back({"generated-" + v + "-seed3-delegate-attachment-progress",
                       parsed(parser, relay::ocean_sim::generate(spec).body, v)});
    }
    // Ocean's Open API referral (ocean-api.md §4.4) with and without its decrypted patient data.
    out.push_back({"open-api-full", ocean_json_samples::open_api_full()});
    out.push_back({"open-api-without-patient", ocean_json_samples::open_api_without_patient()});
    return out;
}

namespace {

void reset_dir(const fs::path& dir) {
    fs::remove_all(dir);
    fs::create_directories(dir);
}

}  // namespace

namespace {

/// Stand-in bytes for each document `referral` points to by URL (documents: inline).
std::vector<relay::transform::DocumentContent> stand_in_documents(const relay::transform::Referral& referral) {
    std::vector<relay::transform::DocumentContent> documents;
    for (const auto& a : referral.attachments)
        if (!a.url.empty()) documents.push_back({a.url, "%PDF-1.4\n% stand-in for " + a.id + "\n", "application/pdf"});
    return documents;
}

/// `payload` with stand-in documents embedded, under `<name>.inline.<format>.json`; 0 when it has none.
std::size_t write_inline(const fs::path& dir, const Input& input, relay::transform::Format format, const std::string& payload) {
    const auto documents = stand_in_documents(input.referral);
    if (documents.empty()) return 0;
    const auto embedded = relay::transform::embed_documents(format, payload, documents);
    if (!embedded || embedded->embedded == 0) throw std::runtime_error("nothing embedded in " + input.name);
    render_test::write_file(dir / (input.name + ".inline." + relay::transform::to_string(format) + ".json"), embedded->payload);
    return 1;
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
            // documents: inline — the bytes in the DocumentReferences: still valid R4.
            written += write_inline(fhir_dir, input, relay::transform::Format::kFhirR4,
                                    relay::transform::render_fhir_r4(input.referral));
        }
        // Patient Engagement results: the collection Bundle, with and without the hidden items.
        relay::transform::PatientEngagementFhirOptions with_hidden;
        with_hidden.include_hidden_items = true;
        const auto full = ocean_json_samples::engagement_full();
        render_test::write_file(fs::path(fhir_dir) / "pe-full.fhir-r4.json",
                                relay::transform::render_patient_engagement_fhir_r4(full));
        render_test::write_file(fs::path(fhir_dir) / "pe-full-with-hidden.fhir-r4.json",
                                relay::transform::render_patient_engagement_fhir_r4(full, with_hidden));
        render_test::write_file(
            fs::path(fhir_dir) / "pe-update-only.fhir-r4.json",
            relay::transform::render_patient_engagement_fhir_r4(ocean_json_samples::engagement_update_only()));
        written += 3;
    }
    if (!hub_dir.empty()) {
        reset_dir(hub_dir);
        for (const auto& input : inputs) {
            render_test::write_file(fs::path(hub_dir) / (input.name + ".hub-json.json"),
                                    relay::transform::render_hub_json(input.referral));
            ++written;
            written += write_inline(hub_dir, input, relay::transform::Format::kHubJson,
                                    relay::transform::render_hub_json(input.referral));
        }
        // The schema must also reject: an unknown key, a missing key, a wrong type (each must FAIL).
        const fs::path invalid_dir = fs::path(hub_dir + "-invalid");
        reset_dir(invalid_dir);
        const auto mutated = [&](const std::string& name,
                                 const std::function<void(boost::json::object&)>& change) {
            boost::json::value v =
                boost::json::parse(relay::transform::render_hub_json(render_test::full_referral()));
            change(v.as_object());
            render_test::write_file(invalid_dir / (name + ".hub-json.json"), boost::json::serialize(v));
            ++written;
        };
        mutated("unknown-key", [](auto& o) { o["patient"].as_object()["nickname"] = "x"; });
        mutated("missing-key", [](auto& o) { o.erase("listing_ref"); });
        mutated("wrong-type", [](auto& o) { o["attachments"].as_array()[0].as_object()["size"] = "21"; });
        mutated("bad-date", [](auto& o) { o["authored_on"] = "03/03/2025"; });
        // Patient Engagement hub JSON, checked against its own schema (hub-patient-engagement.schema.json).
        const fs::path engagement_dir = fs::path(hub_dir + "-engagement");
        reset_dir(engagement_dir);
        render_test::write_file(
            engagement_dir / "pe-full.hub-json.json",
            relay::transform::render_patient_engagement_hub_json(ocean_json_samples::engagement_full()));
        render_test::write_file(
            engagement_dir / "pe-update-only.hub-json.json",
            relay::transform::render_patient_engagement_hub_json(ocean_json_samples::engagement_update_only()));
        render_test::write_file(engagement_dir / "pe-empty.hub-json.json",
                                relay::transform::render_patient_engagement_hub_json({}));
        written += 3;
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
