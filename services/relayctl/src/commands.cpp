#include "commands.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "relay/contracts/headers.hpp"
#include "relay/core/config.hpp"
#include "relay/core/time.hpp"
#include "relay/kafka/admin.hpp"
#include "relay/kafka/consumer.hpp"
#include "relay/kafka/producer.hpp"
#include "render.hpp"

namespace relay::relayctl {

namespace {

namespace asio = boost::asio;

/// Produces in flight at once during a replay: enough to hide the broker's round trip, few enough that
/// the values held for librdkafka stay bounded.
constexpr std::size_t kReplayWindow = 32;

kafka::ClientConfig client_config(const KafkaOptions& options) {
    kafka::ClientConfig client;
    client.bootstrap_servers = options.bootstrap_servers;
    client.client_id = "relayctl";
    client.properties = options.properties;
    return client;
}

void validate(const KafkaOptions& options) {
    if (options.bootstrap_servers.empty())
        throw UsageError(
            "no Kafka bootstrap servers: pass --bootstrap-servers or set RELAY_KAFKA_BOOTSTRAP_SERVERS");
    const std::pair<const char*, const std::string*> topics[] = {
        {"--dlq-topic", &options.dlq_topic},
        {"--deliveries-topic", &options.deliveries_topic},
        {"--events-topic", &options.events_topic}};
    for (const auto& [option, topic] : topics) {
        if (!is_valid_topic_name(*topic))
            throw UsageError(fmt::format("{}: '{}' is not a valid Kafka topic name", option, *topic));
    }
    if (options.timeout.count() <= 0) throw UsageError("--timeout: must be positive");
}

std::unique_ptr<kafka::Producer> connect(const KafkaOptions& options) {
    kafka::ProducerConfig config;
    config.client = client_config(options);
    config.delivery_timeout = options.timeout;
    config.linger = std::chrono::milliseconds(5);
    return std::make_unique<kafka::Producer>(config);
}

/// The topic's partition count. An unreachable cluster is a failure (exit 1); a topic that is not there
/// is a wrong name (exit 2), and the message says which of the two it is.
int partitions_of(kafka::Producer& producer,
                  const KafkaOptions& options,
                  const std::string& topic,
                  std::string_view option) {
    if (!producer.topics_available({}, options.timeout))
        throw std::runtime_error(fmt::format("cannot reach the Kafka cluster at {} within {}ms",
                                             options.bootstrap_servers,
                                             options.timeout.count()));
    const int partitions = kafka::partition_count(producer.handle(), topic, options.timeout);
    if (partitions <= 0) throw UsageError(fmt::format("{}: topic '{}' does not exist", option, topic));
    return partitions;
}

DlqRecord to_record(const kafka::Message& m, bool keep_value) {
    DlqRecord r;
    r.partition = m.partition();
    r.offset = m.offset();
    r.timestamp_ms = m.timestamp_ms();
    r.key.assign(m.key());
    r.value_size = m.value().size();
    if (keep_value) r.value.assign(m.value());
    r.headers = m.headers();
    return r;
}

struct Scan {
    std::vector<DlqRecord> matched;
    std::size_t read = 0;
    /// --record references that are not in the topic (past the end, or removed by retention).
    std::vector<RecordRef> missing;
};

/// Reads the DLQ's partitions from the beginning to their current end and keeps what `filter` selects.
/// Only matching records are held, and their values only when `keep_values` (a replay): bodies can be
/// megabytes each.
Scan scan_dlq(const KafkaOptions& options, int partitions, const Filter& filter, bool keep_values) {
    // Only the partitions that --record names can hold the records it names.
    std::set<std::int32_t> wanted;
    for (const auto& ref : filter.records) wanted.insert(ref.partition);
    std::set<RecordRef> found;
    Scan scan;
    const kafka::ClientConfig client = client_config(options);
    for (std::int32_t p = 0; p < partitions; ++p) {
        if (!wanted.empty() && !wanted.contains(p)) continue;
        try {
            kafka::read_partition_to_end(
                client,
                options.dlq_topic,
                p,
                [&](const kafka::Message& m) {
                    ++scan.read;
                    DlqRecord r = to_record(m, false);
                    if (!filter.records.empty() &&
                        std::find(filter.records.begin(), filter.records.end(), r.ref()) !=
                            filter.records.end())
                        found.insert(r.ref());
                    if (!filter.matches(r)) return;
                    if (keep_values) r.value.assign(m.value());
                    scan.matched.push_back(std::move(r));
                },
                options.timeout);
        } catch (const ConfigError&) {
            throw;
        } catch (const std::exception& e) {
            throw std::runtime_error(
                fmt::format("reading {} partition {}: {}", options.dlq_topic, p, e.what()));
        }
    }
    for (const auto& ref : filter.records)
        if (!found.contains(ref)) scan.missing.push_back(ref);
    return scan;
}

void report_missing(const Scan& scan, const std::string& topic, std::ostream& err) {
    for (const auto& ref : scan.missing)
        err << "relayctl: no record " << to_string(ref) << " in " << topic
            << " (past the end of its partition, or removed by retention)\n";
}

struct ReplayReport {
    std::size_t replayed = 0;
    std::size_t events = 0;
    std::vector<std::string> failures;
};

/// Produces records back to the deliveries topic as the DLQ is read, at most kReplayWindow at a time,
/// and a "replayed" event for each once the broker acknowledged it. send() runs on the reading thread;
/// the producer's completions run on the replayer's own I/O thread.
class Replayer {
   public:
    Replayer(kafka::Producer& producer,
             const KafkaOptions& options,
             std::size_t total,
             std::ostream& progress_out,
             bool tty)
        : producer_(producer),
          options_(options),
          // librdkafka gives up at options.timeout; the deadline only catches a report that never comes.
          deadline_(options.timeout + std::chrono::seconds(2)),
          progress_(progress_out, total, tty),
          work_(asio::make_work_guard(ioc_)),
          thread_([this] { ioc_.run(); }) {}

    ~Replayer() { finish(); }
    Replayer(const Replayer&) = delete;
    Replayer& operator=(const Replayer&) = delete;

    /// Waits for room in the window, then produces the record. Calls come in DLQ order (partition, then
    /// offset) and produce in that order: the idempotent producer keeps it within a partition, so two
    /// dead letters of one referral and destination are replayed in the order they were dead-lettered.
    void send(const kafka::Message& m) {
        {
            std::unique_lock lock(mutex_);
            room_.wait(lock, [&] { return in_flight_ < kReplayWindow; });
            ++in_flight_;
        }
        try {
            produce(m);
        } catch (...) {
            // Not handed to the producer: no completion will count it out of the window.
            std::lock_guard lock(mutex_);
            --in_flight_;
            room_.notify_all();
            throw;
        }
    }

    /// Waits until every sent record has its outcome, stops the I/O thread and ends the progress line.
    ReplayReport finish() {
        if (thread_.joinable()) {
            {
                std::unique_lock lock(mutex_);
                room_.wait(lock, [&] { return in_flight_ == 0; });
            }
            work_.reset();
            thread_.join();
            progress_.finish();
        }
        return report_;
    }

   private:
    void produce(const kafka::Message& m) {
        auto record = std::make_shared<DlqRecord>(to_record(m, false));
        const std::string at = format_rfc3339_millis(system_now());
        producer_.async_produce(
            options_.deliveries_topic,
            record->key,
            std::string(m.value()),
            replay_headers(*record, options_.dlq_topic, at),
            deadline_,
            asio::bind_executor(ioc_, [this, record, at](const kafka::DeliveryResult& result) {
                if (!result.ok) {
                    return done(
                        fmt::format("{}: not replayed: {}", to_string(record->ref()), result.error.message),
                        false,
                        false);
                }
                // Only now: the event says the record is on the deliveries topic.
                producer_.async_produce(
                    options_.events_topic,
                    record->referral_ref(),
                    replayed_event(*record, options_.dlq_topic, at),
                    replayed_event_headers(*record),
                    deadline_,
                    asio::bind_executor(ioc_, [this, record](const kafka::DeliveryResult& event) {
                        if (event.ok) return done({}, true, true);
                        done(fmt::format("{}: replayed, but its 'replayed' event failed: {}",
                                         to_string(record->ref()),
                                         event.error.message),
                             true,
                             false);
                    }));
            }));
    }

    /// On the I/O thread.
    void done(std::string failure, bool replayed, bool event) {
        std::lock_guard lock(mutex_);
        if (!failure.empty()) report_.failures.push_back(std::move(failure));
        if (replayed) ++report_.replayed;
        if (event) ++report_.events;
        --in_flight_;
        progress_.update(++finished_);
        room_.notify_all();
    }

    kafka::Producer& producer_;
    const KafkaOptions& options_;
    const std::chrono::milliseconds deadline_;
    std::mutex mutex_;
    std::condition_variable room_;
    std::size_t in_flight_ = 0;
    std::size_t finished_ = 0;
    ReplayReport report_;
    Progress progress_;
    asio::io_context ioc_;
    asio::executor_work_guard<asio::io_context::executor_type> work_;
    std::thread thread_;  ///< last: started once everything it uses exists
};

template <typename F>
int guarded(std::ostream& err, F&& body) {
    try {
        return body();
    } catch (const UsageError& e) {
        err << "relayctl: " << e.what() << '\n';
        return kExitUsage;
    } catch (const ConfigError& e) {
        // librdkafka refused a --kafka-property.
        err << "relayctl: " << e.what() << '\n';
        return kExitUsage;
    } catch (const std::exception& e) {
        err << "relayctl: " << e.what() << '\n';
        return kExitFailed;
    }
}

}  // namespace

int list_dlq(const ListOptions& options, std::ostream& out, std::ostream& err) {
    return guarded(err, [&] {
        validate(options.kafka);
        options.filter.validate();
        const auto producer = connect(options.kafka);
        const int partitions =
            partitions_of(*producer, options.kafka, options.kafka.dlq_topic, "--dlq-topic");
        const Scan scan = scan_dlq(options.kafka, partitions, options.filter, false);
        report_missing(scan, options.kafka.dlq_topic, err);
        if (options.format == ListFormat::kJson) {
            write_json_lines(out, options.kafka.dlq_topic, scan.matched);
        } else {
            write_table(out, scan.matched);
            err << fmt::format("{} record(s) listed, {} read from {}\n",
                               scan.matched.size(),
                               scan.read,
                               options.kafka.dlq_topic);
        }
        out.flush();
        return kExitOk;
    });
}

int inspect_dlq(const InspectOptions& options, std::ostream& out, std::ostream& err) {
    return guarded(err, [&] {
        validate(options.kafka);
        const auto producer = connect(options.kafka);
        const int partitions =
            partitions_of(*producer, options.kafka, options.kafka.dlq_topic, "--dlq-topic");
        if (options.record.partition >= partitions) {
            throw UsageError(fmt::format("record {}: {} has {} partition(s) (0 to {})",
                                         to_string(options.record),
                                         options.kafka.dlq_topic,
                                         partitions,
                                         partitions - 1));
        }
        Filter only;
        only.records = {options.record};
        Scan scan = scan_dlq(options.kafka, partitions, only, options.show_body);
        if (scan.matched.empty()) {
            report_missing(scan, options.kafka.dlq_topic, err);
            return kExitFailed;
        }
        write_inspection(out, options.kafka.dlq_topic, scan.matched.front(), options.show_body);
        out.flush();
        return kExitOk;
    });
}

int replay_dlq(const ReplayOptions& options, std::ostream& out, std::ostream& err) {
    return guarded(err, [&] {
        // Checked before anything touches the cluster: the guard against replaying everything by accident.
        if (options.filter.empty() && !options.all) {
            throw UsageError(
                "replay needs a filter (--destination, --referral, --event, --site, --since, --until, "
                "--record, --reason) or --all to replay every record");
        }
        if (options.all && !options.filter.empty())
            throw UsageError("--all replays every record: drop it, or drop the filters");
        validate(options.kafka);
        options.filter.validate();
        const KafkaOptions& kafka = options.kafka;

        const auto producer = connect(kafka);
        const int partitions = partitions_of(*producer, kafka, kafka.dlq_topic, "--dlq-topic");
        partitions_of(*producer, kafka, kafka.deliveries_topic, "--deliveries-topic");
        partitions_of(*producer, kafka, kafka.events_topic, "--events-topic");

        // First pass: choose, without values. The second pass below reads the values back as it produces
        // them, so memory holds a window of bodies, not every chosen one (each can be megabytes).
        const Scan scan = scan_dlq(kafka, partitions, options.filter, false);
        if (!scan.missing.empty()) {
            // The operator named exact records; replaying only some of them would be a surprise.
            report_missing(scan, kafka.dlq_topic, err);
            err << "relayctl: nothing replayed\n";
            return kExitFailed;
        }
        const std::vector<DlqRecord>& selected = scan.matched;
        const std::size_t total = selected.size();
        if (total == 0) {
            out << fmt::format(
                "no record of {} ({} read) matches; nothing to replay\n", kafka.dlq_topic, scan.read);
            return kExitOk;
        }
        if (options.dry_run) {
            write_table(out, selected);
            out << fmt::format("dry run: {} record(s) of {} would be replayed to {}; nothing was produced\n",
                               total,
                               kafka.dlq_topic,
                               kafka.deliveries_topic);
            return kExitOk;
        }

        std::map<std::string, std::size_t> by_destination;
        // Inbound records (the router's DLQ) have no destination yet: counted by event code instead.
        for (const auto& r : selected)
            ++by_destination[printable(r.is_inbound() ? "event " + r.header(contracts::header::kEvent)
                                                      : r.destination())];
        std::string destinations;
        for (const auto& [destination, count] : by_destination)
            destinations += fmt::format("{}{} {}", destinations.empty() ? "" : ", ", count, destination);
        err << fmt::format("replaying {} record(s) of {} to {} ({})\n",
                           total,
                           kafka.dlq_topic,
                           kafka.deliveries_topic,
                           destinations);
        if (!options.yes) {
            if (!options.confirm) {
                throw UsageError(
                    fmt::format("refusing to replay {} record(s) without confirmation: pass --yes (stdin is "
                                "not a terminal)",
                                total));
            }
            if (!options.confirm(total)) {
                err << "relayctl: not confirmed; nothing replayed\n";
                return kExitFailed;
            }
        }

        std::set<RecordRef> chosen;
        std::map<std::int32_t, std::size_t> per_partition;
        for (const auto& r : selected) {
            chosen.insert(r.ref());
            ++per_partition[r.partition];
        }
        std::set<RecordRef> sent;
        std::vector<std::string> read_errors;
        ReplayReport report;
        {
            Replayer replayer(*producer, kafka, total, err, options.progress_tty);
            const kafka::ClientConfig client = client_config(kafka);
            for (const auto& [partition, count] : per_partition) {
                // Reading waits for room in the window; each window may take a timeout for its deliveries
                // and one for their events when the broker struggles.
                const auto windows = (count + kReplayWindow - 1) / kReplayWindow;
                const auto read_timeout = kafka.timeout * static_cast<long>(2 + 2 * windows);
                try {
                    kafka::read_partition_to_end(
                        client,
                        kafka.dlq_topic,
                        partition,
                        [&](const kafka::Message& m) {
                            const RecordRef ref{m.partition(), m.offset()};
                            if (!chosen.contains(ref) || !sent.insert(ref).second) return;
                            replayer.send(m);
                        },
                        read_timeout);
                } catch (const std::exception& e) {
                    // Stop reading: what was sent finishes below and is reported.
                    read_errors.push_back(
                        fmt::format("reading {} partition {}: {}", kafka.dlq_topic, partition, e.what()));
                    break;
                }
            }
            report = replayer.finish();
        }
        producer->flush(kafka.timeout);

        for (const auto& ref : chosen) {
            if (!sent.contains(ref))
                report.failures.push_back(
                    fmt::format("{}: not replayed: not read back from {}", to_string(ref), kafka.dlq_topic));
        }
        for (const auto& e : read_errors) err << "relayctl: " << e << '\n';
        for (const auto& failure : report.failures) err << "relayctl: " << failure << '\n';
        out << fmt::format("replayed {} of {} record(s) from {} to {}; {} 'replayed' event(s) on {}",
                           report.replayed,
                           total,
                           kafka.dlq_topic,
                           kafka.deliveries_topic,
                           report.events,
                           kafka.events_topic);
        if (!report.failures.empty()) out << fmt::format("; {} failure(s)", report.failures.size());
        out << '\n';
        out.flush();
        return report.failures.empty() && read_errors.empty() ? kExitOk : kExitFailed;
    });
}

}  // namespace relay::relayctl
