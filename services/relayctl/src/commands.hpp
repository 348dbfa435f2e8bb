// relayctl's commands over the DLQ topic: list, inspect, replay. Each takes its options and the streams
// to write to and returns the process exit code (kExitOk / kExitFailed / kExitUsage), so tests run them
// in-process against a real broker.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "record.hpp"

namespace relay::relayctl {

struct KafkaOptions {
    std::string bootstrap_servers;
    /// Extra librdkafka properties (security.protocol, sasl.*, ssl.*), applied as given.
    std::vector<std::pair<std::string, std::string>> properties;
    std::string dlq_topic{kDefaultDlqTopic};
    std::string deliveries_topic{kDefaultDeliveriesTopic};
    std::string events_topic{kDefaultEventsTopic};
    /// For each broker round trip: metadata, reading a partition to its end, a produce's ack.
    std::chrono::milliseconds timeout{30'000};
};

enum class ListFormat { kTable, kJson };

struct ListOptions {
    KafkaOptions kafka;
    Filter filter;
    ListFormat format = ListFormat::kTable;
};

struct InspectOptions {
    KafkaOptions kafka;
    RecordRef record;
    bool show_body = false;
};

struct ReplayOptions {
    KafkaOptions kafka;
    Filter filter;
    /// Every record; required when the filter is empty, refused with one.
    bool all = false;
    bool dry_run = false;
    /// Replay without asking.
    bool yes = false;
    /// Asked (unless `yes`) with the number of records before anything is produced; true = go on.
    /// Unset means nobody can answer (stdin is not a terminal): the replay is refused unless `yes`.
    std::function<bool(std::size_t count)> confirm;
    /// The progress bar is redrawn in place (stderr is a terminal).
    bool progress_tty = false;
};

/// One row per matching record (table, with a count on `err`; or JSON lines).
int list_dlq(const ListOptions& options, std::ostream& out, std::ostream& err);
/// Every header of one record, its value size, and its value only with show_body.
int inspect_dlq(const InspectOptions& options, std::ostream& out, std::ostream& err);
/// Produces the selected records back to the deliveries topic (same key, value and idempotency key) and
/// a "replayed" event for each once the broker acknowledged it.
int replay_dlq(const ReplayOptions& options, std::ostream& out, std::ostream& err);

}  // namespace relay::relayctl
