// Ocean's retry schedule as the simulator models it, and the simulator's configuration.
#include <gtest/gtest.h>

#include "sim_config.hpp"

namespace {

using namespace std::chrono_literals;
using relay::ocean_sim::RetrySchedule;

TEST(RetrySchedule, SeveralInTheFirstHourThenHourlyUntil96Hours) {
    RetrySchedule schedule;
    EXPECT_EQ(schedule.offset_of_attempt(2), std::chrono::milliseconds(1min));
    EXPECT_EQ(schedule.offset_of_attempt(5), std::chrono::milliseconds(30min));
    EXPECT_EQ(schedule.offset_of_attempt(6), std::chrono::milliseconds(1h));
    EXPECT_EQ(schedule.offset_of_attempt(7), std::chrono::milliseconds(2h));
    EXPECT_EQ(schedule.offset_of_attempt(101), std::chrono::milliseconds(96h));
    EXPECT_FALSE(schedule.offset_of_attempt(102)) << "Ocean stops after 96 hours";
}

TEST(RetrySchedule, TimeScaleCompressesEveryDelay) {
    RetrySchedule schedule;
    schedule.time_scale = 0.001;
    EXPECT_EQ(schedule.offset_of_attempt(6), std::chrono::milliseconds(3600));
    EXPECT_FALSE(schedule.offset_of_attempt(102));
}

relay::ocean_sim::SimConfig parse(const std::string& yaml) {
    auto reader = relay::ConfigReader::from_string(
        yaml, "RELAY_SIM", [](const std::string&) { return std::optional<std::string>(); });
    return relay::ocean_sim::load_sim_config(reader);
}

TEST(SimConfig, OAuthPlanAsOceanSendsIt) {
    const auto config = parse(R"(
webhooks:
  target_url: http://127.0.0.1:8080/ocean/1234/fhir
  count: 5
  v0_10_share: 0.25
  retry: {time_scale: 0.001}
  auth: {scheme: oauth2, token_url: "http://127.0.0.1:8080/ocean/1234/oauth2/token", client_id: sim, client_secret: {value: s}}
)");
    EXPECT_EQ(config.webhooks.count, 5U);
    EXPECT_DOUBLE_EQ(config.webhooks.v0_10_share, 0.25);
    ASSERT_TRUE(config.webhooks.auth.oauth);
    EXPECT_EQ(config.webhooks.auth.oauth->style, relay::http::ClientAuthStyle::kFormFields);
    EXPECT_EQ(config.webhooks.auth.oauth->token_url.target, "/ocean/1234/oauth2/token");
}

TEST(SimConfig, MistakesNameTheKey) {
    auto message = [](const std::string& yaml) {
        try {
            parse(yaml);
        } catch (const relay::ConfigError& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_NE(message("webhooks: {target_url: x, duplicate_share: 2}\n").find("webhooks.duplicate_share"),
              std::string::npos);
    EXPECT_NE(message("webhooks: {target_url: http://h/, auth: {scheme: oauth2}}\n")
                  .find("webhooks.auth.token_url"),
              std::string::npos);
    EXPECT_NE(message("webhooks: {target_url: http://h/, colour: red}\n").find("webhooks.colour"),
              std::string::npos);
    EXPECT_NE(message("{}\n").find("webhooks.target_url"), std::string::npos);
}

}  // namespace
