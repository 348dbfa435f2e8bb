// librdkafka on Asio's event loop.
//
// librdkafka signals "this queue was empty and now holds something" by writing to a file descriptor
// (rd_kafka_queue_io_event_enable). A QueueWatcher owns such an eventfd, waits for it on an Asio
// executor and then calls `serve` there, so consumed records and delivery reports are handled on the
// service's own thread, without a polling thread that hands each of them over.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <memory>

struct rd_kafka_queue_s;

namespace relay::kafka {

class QueueWatcher {
   public:
    /// `serve` empties the queue (non-blocking polls) and returns true when it stopped early with
    /// elements left (a batch limit): it is then called again soon, since librdkafka only signals a
    /// queue that was empty. Takes a reference on `queue` of its own.
    QueueWatcher(boost::asio::any_io_executor executor, rd_kafka_queue_s* queue, std::function<bool()> serve);
    /// Stops watching (see stop()).
    ~QueueWatcher();
    QueueWatcher(const QueueWatcher&) = delete;
    QueueWatcher& operator=(const QueueWatcher&) = delete;

    /// Serves once at once (elements queued before the watch began raise no signal), then on every signal.
    void start();
    /// Call on the executor's thread (or once it has stopped): no `serve` call starts after this returns,
    /// librdkafka stops signalling and the queue reference is released (before the client handle goes).
    void stop();

   private:
    struct State;
    std::shared_ptr<State> state_;
};

}  // namespace relay::kafka
