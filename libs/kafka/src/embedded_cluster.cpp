#include "relay/kafka/embedded_cluster.hpp"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <array>
#include <stdexcept>

namespace relay::kafka {
namespace {
// Kafka protocol ApiKey of Produce requests (librdkafka keeps its RD_KAFKAP_* names private).
constexpr int16_t kProduceApiKey = 0;
}  // namespace

EmbeddedCluster::EmbeddedCluster(int brokers) {
    std::array<char, 512> error{};
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    // The mock cluster lives inside a client instance that is used for nothing else.
    rd_kafka_conf_set(conf, "client.id", "ocean-relay-embedded-broker", error.data(), error.size());
    // Its own client never connects anywhere; keep its "no bootstrap.servers" notice out of the logs.
    rd_kafka_conf_set(conf, "log_level", "3", error.data(), error.size());
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error.data(), error.size());
    if (rk_ == nullptr) {
        rd_kafka_conf_destroy(conf);
        throw std::runtime_error(std::string("embedded kafka: ") + error.data());
    }
    cluster_ = rd_kafka_mock_cluster_new(rk_, brokers);
    if (cluster_ == nullptr) {
        rd_kafka_destroy(rk_);
        throw std::runtime_error("embedded kafka: cannot start the mock cluster");
    }
    bootstrap_ = rd_kafka_mock_cluster_bootstraps(cluster_);
}

EmbeddedCluster::~EmbeddedCluster() {
    rd_kafka_mock_cluster_destroy(cluster_);
    rd_kafka_destroy(rk_);
}

void EmbeddedCluster::create_topic(const std::string& name, int partitions) {
    const auto err = rd_kafka_mock_topic_create(cluster_, name.c_str(), partitions, 1);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        throw std::runtime_error("embedded kafka: cannot create topic " + name + ": " +
                                 rd_kafka_err2str(err));
    }
}

void EmbeddedCluster::set_broker_down(int broker_id) {
    rd_kafka_mock_broker_set_down(cluster_, broker_id);
}
void EmbeddedCluster::set_broker_up(int broker_id) {
    rd_kafka_mock_broker_set_up(cluster_, broker_id);
}

void EmbeddedCluster::fail_next_produce_requests(int count, int kafka_error_code) {
    for (int i = 0; i < count; ++i) {
        rd_kafka_mock_push_request_errors(
            cluster_, kProduceApiKey, 1, static_cast<rd_kafka_resp_err_t>(kafka_error_code));
    }
}

}  // namespace relay::kafka
