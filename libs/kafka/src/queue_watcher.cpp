#include "relay/kafka/queue_watcher.hpp"

#include <librdkafka/rdkafka.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <system_error>

namespace relay::kafka {
namespace asio = boost::asio;

// Shared with the pending wait and posted continuations, which may outlive the watcher's owner by one
// handler invocation after stop().
struct QueueWatcher::State : std::enable_shared_from_this<State> {
    State(asio::any_io_executor executor, rd_kafka_queue_t* q, std::function<bool()> s)
        : queue(q), executor(std::move(executor)), descriptor(std::in_place, this->executor), serve(std::move(s)) {}
    ~State() { release_queue(); }

    /// The queue's reference goes at stop(), not with the last handler: the client handle it belongs to
    /// may be destroyed right after.
    void release_queue() {
        if (queue == nullptr) return;
        rd_kafka_queue_io_event_enable(queue, -1, nullptr, 0);
        rd_kafka_queue_destroy(queue);
        queue = nullptr;
    }

    rd_kafka_queue_t* queue;
    asio::any_io_executor executor;
    /// Closed at stop(), while its io_context still exists.
    std::optional<asio::posix::stream_descriptor> descriptor;
    std::function<bool()> serve;
    bool stopped = false;

    void drain_descriptor() {
        std::uint64_t count = 0;
        // Non-blocking: EAGAIN when a spurious wake-up found nothing, which is harmless.
        [[maybe_unused]] const auto n = ::read(descriptor->native_handle(), &count, sizeof count);
    }

    void run_serve() {
        if (stopped) return;
        const bool more = serve();
        if (stopped) return;
        if (more) {
            asio::post(executor, [self = shared_from_this()] { self->run_serve(); });
            return;
        }
        wait();
    }

    void wait() {
        descriptor->async_wait(asio::posix::stream_descriptor::wait_read,
                              [self = shared_from_this()](boost::system::error_code ec) {
                                  if (ec || self->stopped) return;
                                  // Cleared before serving: a signal raised while we serve is kept.
                                  self->drain_descriptor();
                                  self->run_serve();
                              });
    }
};

QueueWatcher::QueueWatcher(asio::any_io_executor executor, rd_kafka_queue_s* queue, std::function<bool()> serve) {
    const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
    state_ = std::make_shared<State>(std::move(executor), queue, std::move(serve));
    state_->descriptor->assign(fd);
    static constexpr std::array<char, 8> kSignal{1, 0, 0, 0, 0, 0, 0, 0};  // eventfd adds 1
    rd_kafka_queue_io_event_enable(queue, fd, kSignal.data(), kSignal.size());
}

QueueWatcher::~QueueWatcher() {
    stop();
}

void QueueWatcher::start() {
    asio::post(state_->executor, [self = state_] { self->run_serve(); });
}

void QueueWatcher::stop() {
    if (!state_ || state_->stopped) return;
    state_->stopped = true;
    state_->release_queue();
    state_->descriptor.reset();  // closes the eventfd; a pending wait completes as aborted
}

}  // namespace relay::kafka
