// Encryption at rest on the real broker: what a producer with kafka.at_rest writes to a sealed topic is
// ciphertext on the broker (read back by a client without keys), opens for every client with the keys,
// is not sealed twice when a sealed record is copied on as it was read, and tombstones and topics not
// listed stay as they are.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "relay/kafka/admin.hpp"
#include "relay/kafka/at_rest.hpp"
#include "relay/kafka/consumer.hpp"
#include "relay/kafka/producer.hpp"
#include "test_support.hpp"

namespace relay::test {
namespace {

using namespace std::chrono_literals;

const std::string kKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const std::string kPlain = R"({"patient":{"family":"Sealedfamilyname","hn":"9876543225"}})";

std::string unique_topic(const std::string& stem) {
    static std::atomic<int> counter{0};
    return fmt::format("at-rest-test.{}.{}.{}", stem, ::getpid(), counter.fetch_add(1));
}

kafka::ClientConfig client(std::shared_ptr<const kafka::AtRest> at_rest) {
    kafka::ClientConfig c;
    c.bootstrap_servers = kafka_bootstrap();
    c.client_id = "at-rest-test";
    c.at_rest = std::move(at_rest);
    return c;
}

std::shared_ptr<const kafka::AtRest> keys(std::vector<std::string> topics) {
    std::vector<kafka::AtRest::Key> list;
    list.push_back({"test-2026", Secret::from_value(kKey)});
    return std::make_shared<const kafka::AtRest>(std::move(list), "", std::move(topics), "kafka.at_rest");
}

kafka::DeliveryResult produce(kafka::Producer& producer,
                              const std::string& topic,
                              std::string value,
                              std::vector<kafka::Header> headers = {}) {
    std::promise<kafka::DeliveryResult> done;
    auto result = done.get_future();
    producer.async_produce(topic, "ref-1", std::move(value), std::move(headers), 20s,
                           [&done](kafka::DeliveryResult r) { done.set_value(std::move(r)); });
    return result.get();
}

struct Read {
    std::string value;
    bool has_value = false;
    std::optional<std::string> header;
    std::vector<kafka::Header> headers;
    std::optional<Error> error;
};

std::vector<Read> read_all(const kafka::ClientConfig& config, const std::string& topic) {
    std::vector<Read> out;
    kafka::read_partition_to_end(config, topic, 0, [&out](const kafka::Message& m) {
        Read r;
        r.value = std::string(m.value());
        r.has_value = m.has_value();
        if (auto h = m.header(kafka::AtRest::kHeader)) r.header = std::string(*h);
        r.headers = m.headers();
        r.error = m.at_rest_error();
        out.push_back(std::move(r));
    }, 30s);
    return out;
}

class KafkaAtRestTest : public ::testing::Test {
   protected:
    void SetUp() override {
        kafka::ProducerConfig config;
        config.client = client(nullptr);
        admin_ = std::make_unique<kafka::Producer>(config);
        sealed_ = unique_topic("sealed");
        copy_ = unique_topic("copy");
        plain_ = unique_topic("plain");
        std::vector<kafka::TopicSpec> specs;
        for (const auto& name : {sealed_, copy_, plain_}) {
            kafka::TopicSpec spec;
            spec.name = name;
            spec.partitions = 1;
            spec.replication_factor = 1;
            specs.push_back(spec);
        }
        kafka::ensure_topics(admin_->handle(), specs, true, 30s);
    }

    std::unique_ptr<kafka::Producer> admin_;
    std::string sealed_, copy_, plain_;
};

TEST_F(KafkaAtRestTest, SealedOnTheBrokerOpenedForAClientWithTheKeys) {
    auto at_rest = keys({"at-rest-test.sealed.*", "at-rest-test.copy.*"});
    kafka::ProducerConfig config;
    config.client = client(at_rest);
    kafka::Producer producer(config);
    ASSERT_TRUE(produce(producer, sealed_, kPlain, {{"site", "1234"}}).ok);
    ASSERT_TRUE(produce(producer, sealed_, "").ok);  // a tombstone stays a tombstone
    ASSERT_TRUE(produce(producer, plain_, kPlain).ok);

    // Without keys: the broker's bytes, which do not contain the plaintext.
    const auto raw = read_all(client(nullptr), sealed_);
    ASSERT_EQ(raw.size(), 2U);
    EXPECT_EQ(raw[0].header, "test-2026");
    EXPECT_EQ(raw[0].value.find("Sealedfamilyname"), std::string::npos);
    EXPECT_EQ(raw[0].value.find("9876543225"), std::string::npos);
    EXPECT_EQ(raw[0].value.size(), kPlain.size() + kafka::AtRest::kOverheadBytes);
    ASSERT_TRUE(raw[0].error.has_value());
    EXPECT_EQ(raw[0].error->message.find("Sealed"), std::string::npos);
    EXPECT_FALSE(raw[1].has_value);
    EXPECT_FALSE(raw[1].header.has_value());

    // With keys: the plaintext, the seal header hidden, the other headers kept.
    const auto opened = read_all(client(at_rest), sealed_);
    ASSERT_EQ(opened.size(), 2U);
    EXPECT_EQ(opened[0].value, kPlain);
    EXPECT_FALSE(opened[0].header.has_value());
    EXPECT_FALSE(opened[0].error.has_value());
    ASSERT_EQ(opened[0].headers.size(), 1U);
    EXPECT_EQ(opened[0].headers[0].name, "site");

    // A topic not listed is written in clear.
    const auto plain = read_all(client(nullptr), plain_);
    ASSERT_EQ(plain.size(), 1U);
    EXPECT_EQ(plain[0].value, kPlain);
    EXPECT_FALSE(plain[0].header.has_value());
}

TEST_F(KafkaAtRestTest, ACopyOfAnOpenedRecordIsSealedAgainAndASealedOneIsNotSealedTwice) {
    auto at_rest = keys({"at-rest-test.sealed.*", "at-rest-test.copy.*"});
    kafka::ProducerConfig config;
    config.client = client(at_rest);
    kafka::Producer producer(config);
    ASSERT_TRUE(produce(producer, sealed_, kPlain).ok);

    // A service with the keys reads the plaintext and forwards it with the headers it sees.
    const auto opened = read_all(client(at_rest), sealed_);
    ASSERT_EQ(opened.size(), 1U);
    ASSERT_TRUE(produce(producer, copy_, opened[0].value, opened[0].headers).ok);
    // A client without the keys (a dead letter of a record it could not open) forwards the bytes it has.
    const auto raw = read_all(client(nullptr), sealed_);
    ASSERT_EQ(raw.size(), 1U);
    ASSERT_TRUE(produce(producer, copy_, raw[0].value, raw[0].headers).ok);

    const auto copies = read_all(client(at_rest), copy_);
    ASSERT_EQ(copies.size(), 2U);
    for (const auto& copy : copies) {
        EXPECT_EQ(copy.value, kPlain);
        EXPECT_FALSE(copy.error.has_value());
    }
    const auto copies_raw = read_all(client(nullptr), copy_);
    ASSERT_EQ(copies_raw.size(), 2U);
    EXPECT_EQ(copies_raw[0].value.find("Sealedfamilyname"), std::string::npos);
    EXPECT_EQ(copies_raw[1].value, raw[0].value);  // the very bytes, not sealed twice
}

TEST_F(KafkaAtRestTest, AValueUnderAnUnknownKeyIsPassedOnSealed) {
    kafka::ProducerConfig config;
    config.client = client(keys({"*"}));
    kafka::Producer producer(config);
    ASSERT_TRUE(produce(producer, sealed_, kPlain).ok);
    std::vector<kafka::AtRest::Key> other;
    other.push_back({"other", Secret::from_value("HxsdHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=")});
    auto wrong = std::make_shared<const kafka::AtRest>(std::move(other), "", std::vector<std::string>{"*"}, "k");
    const auto read = read_all(client(wrong), sealed_);
    ASSERT_EQ(read.size(), 1U);
    EXPECT_EQ(read[0].header, "test-2026");
    ASSERT_TRUE(read[0].error.has_value());
    EXPECT_NE(read[0].error->message.find("test-2026"), std::string::npos);
    EXPECT_EQ(read[0].value.find("Sealedfamilyname"), std::string::npos);
}

}  // namespace
}  // namespace relay::test
