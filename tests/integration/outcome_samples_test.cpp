// Writes every OperationOutcome the ingress can answer with into $RELAY_FHIR_SAMPLES_DIR, taken from real
// responses over loopback, so that the HAPI FHIR validator (ctest "fhir_validate_outcomes") checks our
// FHIR output independently of our own code.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "ingress_harness.hpp"
#include "relay/fhir/operation_outcome.hpp"

namespace relay::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kConfig = R"(
service: {log_level: error, threads: 1}
listeners: [{address: 127.0.0.1, port: 0}]
admin: {address: 127.0.0.1, port: 0}
kafka: {embedded: true, partitions: 1, ack_timeout: 500ms}
limits: {max_body: 4KiB}
integrations:
  - site: "1234"
  - site: "2000"
    auth: {scheme: bearer, token: {value: "t0ken-value"}}
)";

class OutcomeSamples : public ::testing::Test {
   protected:
    std::filesystem::path dir;
    void SetUp() override {
        const char* env = std::getenv("RELAY_FHIR_SAMPLES_DIR");
        dir = env != nullptr ? env : (std::filesystem::temp_directory_path() / "relay-fhir-samples");
        std::filesystem::create_directories(dir);
    }
    void save(const std::string& name, const http::ClientResponse& res, int expected_status) {
        EXPECT_EQ(res.result_int(), expected_status) << name << ": " << res.body();
        EXPECT_EQ(res[boost::beast::http::field::content_type], "application/fhir+json") << name;
        std::ofstream(dir / (name + ".json")) << res.body();
    }
};

TEST_F(OutcomeSamples, EveryAnswerOfTheIngress) {
    RunningIngress running(kConfig);
    auto client = running.client();
    const std::string good = small_bundle("sample-ref");
    save("accepted-200", client.post("/ocean/1234/fhir", good, "application/fhir+json"), 200);
    save("ignored-200",
         client.post("/ocean/1234/fhir", small_bundle("r", "unknown-event"), "application/fhir+json"),
         200);
    save("not-json-400", client.post("/ocean/1234/fhir", "{\"resourceType\":", "application/fhir+json"), 400);
    save("not-a-bundle-400",
         client.post("/ocean/1234/fhir", R"({"resourceType":"Patient"})", "application/fhir+json"),
         400);
    save(
        "no-referral-400",
        client.post(
            "/ocean/1234/fhir",
            R"({"resourceType":"Bundle","type":"message","entry":[{"resource":{"resourceType":"MessageHeader","eventCoding":{"code":"add-service-request"}}}]})",
            "application/fhir+json"),
        400);
    save("unauthenticated-401", client.post("/ocean/2000/fhir", good, "application/fhir+json"), 401);
    save("not-found-404", client.post("/ocean/9/fhir", good, "application/fhir+json"), 404);
    save("method-405", client.get("/ocean/1234/fhir"), 405);
    save("too-large-413",
         client.post("/ocean/1234/fhir", std::string(8192, ' '), "application/fhir+json"),
         413);
    client.close();
    save("media-type-415", running.client().post("/ocean/1234/fhir", good, "text/plain"), 415);
    running.ingress().embedded_cluster()->set_broker_down(1);
    save("unavailable-503", running.client().post("/ocean/1234/fhir", good, "application/fhir+json"), 503);
    running.ingress().embedded_cluster()->set_broker_up(1);
}

TEST_F(OutcomeSamples, EscapedDiagnosticsStayValid) {
    std::ofstream(dir / "escaped-diagnostics.json")
        << fhir::operation_outcome("error",
                                   "invalid",
                                   "quote \" backslash \\ newline \n tab \t control \x01 é",
                                   "Bundle.entry[3].resource.identifier");
}

}  // namespace
}  // namespace relay::test
