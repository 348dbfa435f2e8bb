#include "ingress_harness.hpp"

namespace relay::test {

ingress::IngressConfig parse_ingress_config(const std::string& yaml) {
    auto reader = ConfigReader::from_string(
        yaml, "RELAY_TEST_UNUSED", [](const std::string&) { return std::optional<std::string>(); });
    return ingress::load_config(reader);
}

RunningIngress::RunningIngress(const std::string& yaml) : config_(parse_ingress_config(yaml)) {
    ingress_ = std::make_unique<ingress::Ingress>(config_);
    ingress_->start();
}

RunningIngress::~RunningIngress() {
    stop();
}

bool RunningIngress::stop() {
    if (stopped_) return true;
    stopped_ = true;
    ingress_->shutdown();
    return ingress_->wait();
}

std::string small_bundle(const std::string& ref, const std::string& event, const std::string& site) {
    return R"({"resourceType":"Bundle","id":"b-)" + ref +
           R"(","type":"message","entry":[{"fullUrl":"urn:uuid:mh-)" + ref +
           R"(","resource":{"resourceType":"MessageHeader","id":"mh-)" + ref +
           R"(","extension":[{"url":"http://ehealthontario.ca/fhir/StructureDefinition/ext-referral-identifier",)"
           R"("valueIdentifier":{"system":"https://ocean.cognisantmd.com/svc/fhir/v1/NamingSystem/id-ereferral-reference","value":")" +
           ref +
           R"("}}],"eventCoding":{"system":"https://ehealthontario.ca/fhir/CodeSystem/message-event-code","code":")" +
           event +
           R"("},"destination":[{"receiver":{"reference":"urn:uuid:pr-1"}}]}},)"
           R"({"fullUrl":"urn:uuid:pr-1","resource":{"resourceType":"PractitionerRole","identifier":[)"
           R"({"system":"https://ocean.cognisantmd.com/svc/fhir/v1/NamingSystem/id-referral-target-reference","value":"listing_1"},)"
           R"({"system":"https://ocean.cognisantmd.com/svc/fhir/v1/NamingSystem/id-site-number","value":")" + site + R"("}]}}]})";
}

}  // namespace relay::test
