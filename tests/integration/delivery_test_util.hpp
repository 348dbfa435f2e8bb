// Helpers for the delivery service's broker tests: pos-sim on loopback, a delivery configuration over
// unique topics, records produced as the router writes them, and reading back what happened.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "pos_sim.hpp"
#include "relay/http/server.hpp"
#include "test_support.hpp"

namespace relay::test {

/// pos-sim on a thread of its own, configured by the YAML of its `routes:` list.
class PosSimServer {
   public:
    explicit PosSimServer(const std::string& routes_yaml);
    ~PosSimServer();
    PosSimServer(const PosSimServer&) = delete;
    PosSimServer& operator=(const PosSimServer&) = delete;

    [[nodiscard]] std::uint16_t port() const { return server_->port(); }
    [[nodiscard]] std::string url(const std::string& route) const;
    pos_sim::PosSim& sim() { return *sim_; }

   private:
    boost::asio::io_context ioc_;
    std::unique_ptr<pos_sim::PosSim> sim_;
    std::unique_ptr<http::Server> server_;
    std::thread thread_;
};

struct DeliveryTopics {
    std::string prefix;
    std::string deliveries, dlq, events, parked;
};
DeliveryTopics delivery_topics(const std::string& stem);

/// Delivery YAML on the real broker with `destinations_yaml` (the list's items), delay tiers
/// `tiers` (e.g. "[300ms, 1s]"), a unique group unless given, and `extra` top-level YAML.
std::string delivery_yaml(const DeliveryTopics& topics,
                          const std::string& destinations_yaml,
                          const std::string& tiers = "[300ms, 1s]",
                          const std::string& group = "",
                          int admin_port = 0,
                          const std::string& extra = "");

/// One record as the router writes it to relay.deliveries.v1.
struct DeliveryRecord {
    std::string destination;
    std::string referral_ref;
    std::string event;
    std::string idempotency_key;
    std::string body;
};
/// Produces it (acks=all) and waits for the acknowledgement.
void produce_delivery(const DeliveryTopics& topics, const DeliveryRecord& record);

/// `count` referrals with `events_each` events each for `destination`, produced interleaved (every
/// referral's first event, then every second event, ...). Idempotency keys are "<ref>/<n>".
std::vector<DeliveryRecord> produce_referrals(const DeliveryTopics& topics,
                                              const std::string& destination,
                                              const std::string& ref_stem,
                                              int count,
                                              int events_each);

/// Polls `condition` every 100 ms until it holds or `timeout` passes; its last value.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

/// Deliveries pos-sim accepted on `route`, per idempotency key: how often and the first arrival's
/// sequence number.
struct Received {
    int times = 0;
    std::uint64_t first_sequence = 0;
};
std::map<std::string, Received> received(pos_sim::PosSim& sim, const std::string& route);

/// Checks that every record was delivered and that, per referral, no event arrived (first) before an
/// earlier one. Returns "" or what is wrong.
std::string check_delivered_in_order(const std::map<std::string, Received>& got,
                                     const std::vector<DeliveryRecord>& sent);

/// Every record of `topic` (all partitions), waiting until at least `at_least` arrived or `timeout`.
std::vector<ConsumedRecord> read_topic(const std::string& topic,
                                       std::size_t at_least,
                                       std::chrono::milliseconds timeout);

}  // namespace relay::test
