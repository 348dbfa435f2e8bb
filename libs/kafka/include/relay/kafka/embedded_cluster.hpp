#pragma once

#include <string>

struct rd_kafka_s;
struct rd_kafka_mock_cluster_s;

namespace relay::kafka {

/// An in-process Kafka-protocol broker (librdkafka's mock cluster) on loopback ports, for the quick
/// start, trying ocean-relay on a laptop, and broker fault injection in tests. It keeps everything in
/// memory: NOT durable, never for production.
class EmbeddedCluster {
   public:
    explicit EmbeddedCluster(int brokers = 1);
    ~EmbeddedCluster();
    EmbeddedCluster(const EmbeddedCluster&) = delete;
    EmbeddedCluster& operator=(const EmbeddedCluster&) = delete;

    [[nodiscard]] const std::string& bootstrap_servers() const { return bootstrap_; }
    void create_topic(const std::string& name, int partitions);
    /// Broker ids are 1..brokers.
    void set_broker_down(int broker_id);
    void set_broker_up(int broker_id);
    /// Makes the next `count` Produce requests fail with the given Kafka error code.
    void fail_next_produce_requests(int count, int kafka_error_code);

   private:
    rd_kafka_s* rk_ = nullptr;
    rd_kafka_mock_cluster_s* cluster_ = nullptr;
    std::string bootstrap_;
};

}  // namespace relay::kafka
