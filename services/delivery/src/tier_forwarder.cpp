#include "tier_forwarder.hpp"

#include <algorithm>
#include <charconv>

#include "metrics.hpp"
#include "relay/contracts/headers.hpp"
#include "relay/core/log.hpp"

namespace relay::delivery_service {

namespace {

std::int64_t epoch_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::int64_t due_of(const kafka::Message& record) {
    const auto text = record.header(contracts::header::kDue);
    std::int64_t due = 0;
    if (!text || std::from_chars(text->data(), text->data() + text->size(), due).ec != std::errc{}) return 0;
    return due;  // no or unreadable due time: forward at once rather than hold forever
}

}  // namespace

TierForwarder::TierForwarder(TierForwarderConfig config,
                             kafka::Producer& producer,
                             DeliveryMetrics& metrics,
                             std::function<void(const std::string&)> on_fatal)
    : config_(std::move(config)), producer_(producer), metrics_(metrics), on_fatal_(std::move(on_fatal)) {}

TierForwarder::~TierForwarder() {
    stop();
}

void TierForwarder::start() {
    kafka::ConsumerConfig c;
    c.client = config_.client;
    c.group_id = config_.group_id;
    c.topics = config_.tier_topics;
    c.session_timeout = config_.session_timeout;
    c.max_fetch_bytes = config_.max_fetch_bytes;
    consumer_ = std::make_unique<kafka::GroupConsumer>(c, *this);
    thread_ = std::thread([this] { run(); });
}

void TierForwarder::stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
}

const std::string& TierForwarder::label(const std::string& topic) const {
    for (std::size_t i = 0; i < config_.tier_topics.size(); ++i)
        if (config_.tier_topics[i] == topic) return config_.tier_labels[i];
    return config_.tier_labels.front();
}

void TierForwarder::take_acks() {
    std::vector<Ack> acks;
    {
        std::lock_guard lock(acks_mutex_);
        acks.swap(acks_);
    }
    for (auto& ack : acks) {
        if (!ack.ok) {
            on_fatal_("a delay-tier record could not be handed back: " + ack.error);
            continue;  // not marked done: its offset is never committed, a restart forwards it again
        }
        if (const auto it = trackers_.find(ack.partition); it != trackers_.end()) it->second.done(ack.offset);
    }
}

void TierForwarder::commit(bool sync) {
    std::vector<kafka::TopicPartition> offsets;
    for (auto& [tp, tracker] : trackers_)
        if (const auto next = tracker.take_commit()) offsets.push_back({tp.first, tp.second, *next});
    if (!offsets.empty()) consumer_->commit(offsets, !sync);
}

void TierForwarder::forward(std::unique_ptr<kafka::Message> record) {
    Partition tp{std::string(record->topic()), record->partition()};
    const std::int64_t offset = record->offset();
    trackers_[tp].add(offset);
    metrics_.tier_forwarded(label(tp.first)).Increment();
    ++forwards_in_flight_;
    producer_.async_produce(config_.deliveries_topic,
                            std::string(record->key()),
                            std::string(record->value()),
                            record->headers(),
                            config_.produce_timeout,
                            [this, tp = std::move(tp), offset](kafka::DeliveryResult r) mutable {
                                std::lock_guard lock(acks_mutex_);
                                acks_.push_back({std::move(tp), offset, r.ok, r.ok ? "" : r.error.message});
                                --forwards_in_flight_;
                            });
}

void TierForwarder::drain(std::chrono::steady_clock::time_point deadline) {
    while (forwards_in_flight_.load() > 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    take_acks();
}

void TierForwarder::on_assigned(const std::vector<kafka::TopicPartition>& partitions) {
    for (const auto& tp : partitions) next_offset_.erase({tp.topic, tp.partition});
}

void TierForwarder::on_revoked(const std::vector<kafka::TopicPartition>& partitions, bool lost) {
    // Forwards in flight finish first, so what was handed back is committed and not forwarded twice.
    if (!lost) drain(std::chrono::steady_clock::now() + config_.grace_period);
    if (!lost) commit(/*sync=*/true);
    for (const auto& tp : partitions) {
        const Partition key{tp.topic, tp.partition};
        if (held_.erase(key) > 0) metrics_.tier_waiting(label(tp.topic)).Decrement();
        trackers_.erase(key);
        next_offset_.erase(key);
    }
}

void TierForwarder::run() {
    log::info("delay tiers consuming",
              {{"group", config_.group_id}, {"tiers", static_cast<long long>(config_.tier_topics.size())}});
    auto last_commit = std::chrono::steady_clock::now();
    while (!stopping_) {
        take_acks();
        if (std::chrono::steady_clock::now() - last_commit >= config_.commit_interval) {
            commit(/*sync=*/false);
            last_commit = std::chrono::steady_clock::now();
        }
        // Hand back every held head that is due, then let its partition go on from the next record.
        const std::int64_t now = epoch_ms();
        std::int64_t next_due = now + 100;
        for (auto it = held_.begin(); it != held_.end();) {
            if (it->second.due_ms > now) {
                next_due = std::min(next_due, it->second.due_ms);
                ++it;
                continue;
            }
            const Partition tp = it->first;
            const std::int64_t offset = it->second.record->offset();
            forward(std::move(it->second.record));
            it = held_.erase(it);
            metrics_.tier_waiting(label(tp.first)).Decrement();
            consumer_->seek({tp.first, tp.second, offset + 1});
            consumer_->resume({{tp.first, tp.second, -1}});
        }
        std::unique_ptr<kafka::Message> record;
        try {
            record =
                consumer_->poll(std::chrono::milliseconds(std::clamp<std::int64_t>(next_due - now, 1, 100)));
        } catch (const std::exception& e) {
            on_fatal_(std::string("delay-tier consumer failed: ") + e.what());
            break;
        }
        if (!record) continue;
        const Partition tp{std::string(record->topic()), record->partition()};
        // A record fetched before its partition was paused, or again after a seek: not ours to act on.
        if (held_.contains(tp)) continue;
        if (const auto next = next_offset_.find(tp);
            next != next_offset_.end() && record->offset() < next->second)
            continue;
        next_offset_[tp] = record->offset() + 1;
        const std::int64_t due = due_of(*record);
        if (due <= epoch_ms()) {
            forward(std::move(record));
            continue;
        }
        consumer_->pause({{tp.first, tp.second, -1}});
        held_.emplace(tp, Held{std::move(record), due});
        metrics_.tier_waiting(label(tp.first)).Increment();
    }
    drain(std::chrono::steady_clock::now() + config_.grace_period);
    commit(/*sync=*/true);
    consumer_->close();
    log::info("delay tiers stopped");
}

}  // namespace relay::delivery_service
