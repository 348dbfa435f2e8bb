// relayctl against the real broker: dead letters written as the delivery service writes them, then
// listed with every filter, inspected (body hidden unless asked), dry-run replayed (nothing produced) and
// replayed (exactly the chosen records, same key / value / idempotency key, a fresh attempt count, the
// DLQ headers gone, a "replayed" event each). The guards: no replay without a filter or --all, nor
// without --yes when nobody can be asked.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <cstdlib>
#include <future>
#include <map>
#include <set>
#include <sstream>

#include "cli.hpp"
#include "commands.hpp"
#include "record.hpp"
#include "relay/core/time.hpp"
#include "relay/kafka/admin.hpp"
#include "relay/kafka/producer.hpp"
#include "test_support.hpp"

namespace relay::test {
namespace {

using namespace std::chrono_literals;
using relayctl::kExitFailed;
using relayctl::kExitOk;
using relayctl::kExitUsage;

/// A stand-in for patient data in the bodies: it must never appear in relayctl's output unasked.
constexpr std::string_view kPhi = "Jane Q. Patient, HCN 1234-567-890";

kafka::Producer& producer() {
    static kafka::Producer instance([] {
        kafka::ProducerConfig config;
        config.client.bootstrap_servers = kafka_bootstrap();
        config.client.client_id = "relayctl-test";
        return config;
    }());
    return instance;
}

struct Topics {
    std::string dlq, deliveries, events;
};

Topics make_topics(const std::string& stem) {
    Topics topics{
        unique_topic(stem + ".dlq"), unique_topic(stem + ".deliveries"), unique_topic(stem + ".events")};
    std::vector<kafka::TopicSpec> specs;
    for (const auto* name : {&topics.dlq, &topics.deliveries, &topics.events})
        specs.push_back({.name = *name, .partitions = 3, .replication_factor = 1});
    kafka::ensure_topics(producer().handle(), specs, true, 30s);
    return topics;
}

relayctl::KafkaOptions kafka_options(const Topics& topics) {
    relayctl::KafkaOptions options;
    options.bootstrap_servers = kafka_bootstrap();
    options.dlq_topic = topics.dlq;
    options.deliveries_topic = topics.deliveries;
    options.events_topic = topics.events;
    options.timeout = 20s;
    return options;
}

struct DeadLetter {
    std::string name;  ///< the test's handle for it
    std::int32_t partition = 0;
    std::string destination, referral, event, reason, status;
    std::optional<std::string> dlq_at;  ///< absent: relayctl falls back to the record timestamp
    std::vector<kafka::Header> extra;   ///< headers of earlier hops
};

std::string iso(SystemTime t) {
    return format_rfc3339_millis(t);
}

/// Six dead letters over three partitions, written as the delivery service's DLQ step writes them.
/// Returns name → "partition:offset".
std::map<std::string, std::string> seed(const Topics& topics) {
    const auto now = system_now();
    const std::vector<DeadLetter> letters{
        {"A", 0, "intake", "REF-A1", "new", "retries exhausted", "503", "2020-01-01T10:00:00.000Z", {}},
        {"B", 1, "intake", "REF-B1", "update", "permanent failure", "400", "2020-01-02T10:00:00.000Z", {}},
        {"C", 2, "simple", "REF-A1", "new", "permanent failure", "422", "2020-01-03T10:00:00.000Z", {}},
        {"D", 0, "simple", "REF-C1", "new", "retries exhausted", "0", iso(now - 3h), {}},
        {"E", 1, "intake", "REF-D1", "new", "retries exhausted", "504", std::nullopt, {}},
        {"F",
         0,
         "intake",
         "REF-A1",
         "update",
         "retries exhausted",
         "503",
         iso(now - 10min),
         {{"park-token", "tok-1"},
          {"due", "1700000000000"},
          {"replayed-from", "old.dlq/0/3"},
          {"replayed-at", "2019-12-31T00:00:00.000Z"}}},
    };
    std::map<std::string, std::string> refs;
    for (const auto& l : letters) {
        std::vector<kafka::Header> headers{
            {"destination", l.destination},
            {"format", "hub-json"},
            {"content-type", "application/json"},
            {"idempotency-key", "idem-" + l.name},
            {"referral-ref", l.referral},
            {"event", l.event},
            {"site", "1234"},
            {"source", "ocean.inbound.v1/0/" + l.name},
            {"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
            {"attempt", "7"},
            {"first-attempt-at", "1600000000000"}};
        headers.insert(headers.end(), l.extra.begin(), l.extra.end());
        headers.push_back({"dlq-reason", l.reason});
        headers.push_back({"dlq-status", l.status});
        headers.push_back({"dlq-excerpt", "HTTP " + l.status + ": upstream said no"});
        if (l.dlq_at) headers.push_back({"dlq-at", *l.dlq_at});
        const std::string value = fmt::format(R"({{"record":"{}","patient":"{}"}})", l.name, kPhi);
        const auto result = producer()
                                .async_produce_to(topics.dlq,
                                                  l.partition,
                                                  l.destination + "|" + l.referral,
                                                  value,
                                                  std::move(headers),
                                                  30s,
                                                  boost::asio::use_future)
                                .get();
        EXPECT_TRUE(result.ok) << result.error.message;
        refs[l.name] = fmt::format("{}:{}", result.partition, result.offset);
    }
    return refs;
}

/// The test handles of the records in relayctl's JSON lines.
std::set<std::string> listed(const std::string& json_lines, const std::map<std::string, std::string>& refs) {
    std::map<std::string, std::string> by_ref;
    for (const auto& [name, ref] : refs) by_ref[ref] = name;
    std::set<std::string> out;
    std::istringstream lines(json_lines);
    for (std::string line; std::getline(lines, line);) {
        const auto row = boost::json::parse(line).as_object();
        const std::string ref =
            fmt::format("{}:{}", row.at("partition").as_int64(), row.at("offset").as_int64());
        EXPECT_TRUE(by_ref.contains(ref)) << ref;
        out.insert(by_ref[ref]);
    }
    return out;
}

class RelayctlKafka : public ::testing::Test {
   protected:
    void SetUp() override {
        topics_ = make_topics("relayctl");
        refs_ = seed(topics_);
    }

    /// `list --format json` with this filter: the test handles it printed.
    std::set<std::string> list(const relayctl::Filter& filter) {
        relayctl::ListOptions options;
        options.kafka = kafka_options(topics_);
        options.filter = filter;
        options.format = relayctl::ListFormat::kJson;
        std::ostringstream out, err;
        EXPECT_EQ(relayctl::list_dlq(options, out, err), kExitOk) << err.str();
        EXPECT_EQ(out.str().find(kPhi), std::string::npos);
        return listed(out.str(), refs_);
    }

    relayctl::RecordRef ref(const std::string& name) { return *relayctl::parse_record_ref(refs_.at(name)); }

    Topics topics_;
    std::map<std::string, std::string> refs_;
};

using Names = std::set<std::string>;

TEST_F(RelayctlKafka, ListAppliesEveryFilter) {
    const auto now = system_now();
    relayctl::Filter f;
    EXPECT_EQ(list(f), (Names{"A", "B", "C", "D", "E", "F"}));

    f = {};
    f.destinations = {"intake"};
    EXPECT_EQ(list(f), (Names{"A", "B", "E", "F"}));
    f.destinations = {"intake", "simple"};
    EXPECT_EQ(list(f), (Names{"A", "B", "C", "D", "E", "F"}));

    f = {};
    f.referrals = {"REF-A1"};
    EXPECT_EQ(list(f), (Names{"A", "C", "F"}));
    f.destinations = {"simple"};
    EXPECT_EQ(list(f), (Names{"C"}));

    f = {};
    f.since = relayctl::parse_time_bound("--since", "2020-01-02", now);
    f.until = relayctl::parse_time_bound("--until", "2020-01-02T23:59:59Z", now);
    EXPECT_EQ(list(f), (Names{"B"}));
    // E has no dlq-at: its record timestamp (a moment ago) counts.
    f = {};
    f.since = relayctl::parse_time_bound("--since", "1h", now);
    EXPECT_EQ(list(f), (Names{"E", "F"}));
    f.since = relayctl::parse_time_bound("--since", "5h", now);
    f.until = relayctl::parse_time_bound("--until", "1h", now);
    EXPECT_EQ(list(f), (Names{"D"}));

    f = {};
    f.reason = "exhausted";
    EXPECT_EQ(list(f), (Names{"A", "D", "E", "F"}));
    f.reason = "PERMANENT failure";
    EXPECT_EQ(list(f), (Names{"B", "C"}));

    f = {};
    f.records = {ref("C"), ref("E")};
    EXPECT_EQ(list(f), (Names{"C", "E"}));
}

TEST_F(RelayctlKafka, ListTableIsAlignedAndCounted) {
    relayctl::ListOptions options;
    options.kafka = kafka_options(topics_);
    options.filter.destinations = {"simple"};
    std::ostringstream out, err;
    ASSERT_EQ(relayctl::list_dlq(options, out, err), kExitOk) << err.str();
    std::vector<std::string> lines;
    std::istringstream in(out.str());
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    ASSERT_EQ(lines.size(), 3U) << out.str();
    EXPECT_TRUE(lines[0].starts_with("RECORD")) << lines[0];
    // In partition then offset order (D on partition 0, C on 2); columns line up: REASON starts at the
    // same position in every row.
    EXPECT_TRUE(lines[1].starts_with(refs_.at("D") + " ")) << lines[1];
    EXPECT_TRUE(lines[2].starts_with(refs_.at("C") + " ")) << lines[2];
    const auto reason_at = lines[0].find("REASON");
    EXPECT_EQ(lines[1].substr(reason_at), "retries exhausted");
    EXPECT_EQ(lines[2].substr(reason_at), "permanent failure");
    EXPECT_EQ(lines[2].find("2020-01-03T10:00:00.000Z"), lines[0].find("DLQ-AT"));
    EXPECT_EQ(lines[2].find("REF-A1"), lines[0].find("REFERRAL"));
    EXPECT_EQ(lines[2].find("422"), lines[0].find("STATUS"));
    EXPECT_EQ(out.str().find(kPhi), std::string::npos);
    EXPECT_EQ(err.str(), fmt::format("2 record(s) listed, 6 read from {}\n", topics_.dlq));
}

TEST_F(RelayctlKafka, ListNamesAMissingTopic) {
    relayctl::ListOptions options;
    options.kafka = kafka_options(topics_);
    options.kafka.dlq_topic = unique_topic("relayctl.absent");
    std::ostringstream out, err;
    EXPECT_EQ(relayctl::list_dlq(options, out, err), kExitUsage);
    EXPECT_NE(err.str().find("topic '" + options.kafka.dlq_topic + "' does not exist"), std::string::npos)
        << err.str();
}

TEST_F(RelayctlKafka, InspectShowsEveryHeaderAndHidesTheBodyUnlessAsked) {
    relayctl::InspectOptions options;
    options.kafka = kafka_options(topics_);
    options.record = ref("F");
    std::ostringstream out, err;
    ASSERT_EQ(relayctl::inspect_dlq(options, out, err), kExitOk) << err.str();
    const std::string text = out.str();
    EXPECT_EQ(text.find(kPhi), std::string::npos) << text;
    EXPECT_NE(text.find("key:        intake|REF-A1"), std::string::npos) << text;
    const std::string value = fmt::format(R"({{"record":"F","patient":"{}"}})", kPhi);
    EXPECT_NE(text.find(fmt::format("value:      {} bytes (not shown", value.size())), std::string::npos)
        << text;
    for (const char* line : {"idempotency-key:  idem-F",
                             "dlq-reason:       retries exhausted",
                             "dlq-status:       503",
                             "dlq-excerpt:      HTTP 503: upstream said no",
                             "park-token:       tok-1",
                             "first-attempt-at: 1600000000000"})
        EXPECT_NE(text.find(std::string("  ") + line + "\n"), std::string::npos) << line << "\n" << text;

    options.show_body = true;
    std::ostringstream shown, shown_err;
    ASSERT_EQ(relayctl::inspect_dlq(options, shown, shown_err), kExitOk) << shown_err.str();
    EXPECT_NE(shown.str().find("body:\n" + value + "\n"), std::string::npos) << shown.str();

    options.record = {0, 999};
    std::ostringstream none, none_err;
    EXPECT_EQ(relayctl::inspect_dlq(options, none, none_err), kExitFailed);
    EXPECT_NE(none_err.str().find("no record 0:999 in " + topics_.dlq), std::string::npos) << none_err.str();
    options.record = {7, 0};
    EXPECT_EQ(relayctl::inspect_dlq(options, none, none_err), kExitUsage);
}

TEST_F(RelayctlKafka, DryRunProducesNothing) {
    relayctl::ReplayOptions options;
    options.kafka = kafka_options(topics_);
    options.filter.destinations = {"intake"};
    options.dry_run = true;
    std::ostringstream out, err;
    ASSERT_EQ(relayctl::replay_dlq(options, out, err), kExitOk) << err.str();
    EXPECT_NE(
        out.str().find(fmt::format("dry run: 4 record(s) of {} would be replayed to {}; nothing was produced",
                                   topics_.dlq,
                                   topics_.deliveries)),
        std::string::npos)
        << out.str();
    for (const char* name : {"A", "B", "E", "F"})
        EXPECT_NE(out.str().find(refs_.at(name) + " "), std::string::npos) << name << "\n" << out.str();
    EXPECT_EQ(out.str().find(kPhi), std::string::npos);
    EXPECT_TRUE(consume_all(kafka_bootstrap(), topics_.deliveries, 1, 3s).empty());
    EXPECT_TRUE(consume_all(kafka_bootstrap(), topics_.events, 1, 1s).empty());
}

TEST_F(RelayctlKafka, ReplaysExactlyTheChosenRecordsWithTheirIdempotencyKeys) {
    relayctl::ReplayOptions options;
    options.kafka = kafka_options(topics_);
    options.filter.destinations = {"intake"};
    options.filter.referrals = {"REF-A1"};
    options.yes = true;
    std::ostringstream out, err;
    ASSERT_EQ(relayctl::replay_dlq(options, out, err), kExitOk) << err.str();
    EXPECT_EQ(out.str(),
              fmt::format("replayed 2 of 2 record(s) from {} to {}; 2 'replayed' event(s) on {}\n",
                          topics_.dlq,
                          topics_.deliveries,
                          topics_.events));
    // Not a terminal: one progress line at the end (and one per tenth of the records).
    EXPECT_NE(err.str().find("[##############################] 2/2\n"), std::string::npos) << err.str();
    EXPECT_EQ(err.str().find(kPhi), std::string::npos);

    // Exactly A and F: ask for one more than expected and wait for it in vain.
    const auto deliveries = consume_all(kafka_bootstrap(), topics_.deliveries, 3, 5s);
    ASSERT_EQ(deliveries.size(), 2U);
    std::set<std::string> replayed_from;
    for (const auto& d : deliveries) {
        const std::string name = d.header("idempotency-key").substr(5);  // "idem-A" → "A"
        ASSERT_TRUE(name == "A" || name == "F") << name;
        EXPECT_EQ(d.key, "intake|REF-A1");
        EXPECT_EQ(d.value, fmt::format(R"({{"record":"{}","patient":"{}"}})", name, kPhi));
        EXPECT_EQ(d.header("attempt"), "0");
        std::string from = refs_.at(name);
        from[from.find(':')] = '/';
        EXPECT_EQ(d.header("replayed-from"), topics_.dlq + "/" + from);
        replayed_from.insert(d.header("replayed-from"));
        EXPECT_TRUE(relayctl::parse_rfc3339(d.header("replayed-at")).has_value()) << d.header("replayed-at");
        EXPECT_GT(*relayctl::parse_rfc3339(d.header("replayed-at")), system_now() - 5min);
        // Kept: the delivery's own headers.
        EXPECT_EQ(d.header("destination"), "intake");
        EXPECT_EQ(d.header("referral-ref"), "REF-A1");
        EXPECT_EQ(d.header("format"), "hub-json");
        EXPECT_EQ(d.header("content-type"), "application/json");
        EXPECT_EQ(d.header("site"), "1234");
        EXPECT_EQ(d.header("source"), "ocean.inbound.v1/0/" + name);
        EXPECT_FALSE(d.header("traceparent").empty());
        EXPECT_EQ(d.header("event"), name == "A" ? "new" : "update");
        // Gone: the DLQ step's headers and the failed run's state; one attempt / replayed-* each.
        for (const auto& [header, v] : d.headers) {
            EXPECT_FALSE(header.starts_with("dlq-")) << header;
            EXPECT_NE(header, "park-token");
            EXPECT_NE(header, "due");
            EXPECT_NE(header, "first-attempt-at");
        }
        EXPECT_EQ(d.headers.count("attempt"), 1U);
        EXPECT_EQ(d.headers.count("replayed-from"), 1U);
        EXPECT_EQ(d.headers.count("replayed-at"), 1U);
        EXPECT_EQ(d.headers.size(), 12U);
    }
    EXPECT_EQ(replayed_from.size(), 2U);

    const auto events = consume_all(kafka_bootstrap(), topics_.events, 3, 3s);
    ASSERT_EQ(events.size(), 2U);
    std::set<std::string> event_keys;
    for (const auto& e : events) {
        EXPECT_EQ(e.key, "REF-A1");
        EXPECT_EQ(e.header("outcome"), "replayed");
        EXPECT_EQ(e.header("referral-ref"), "REF-A1");
        const auto body = boost::json::parse(e.value).as_object();
        EXPECT_EQ(body.at("outcome").as_string(), "replayed");
        EXPECT_EQ(body.at("referral_ref").as_string(), "REF-A1");
        EXPECT_EQ(body.at("destination").as_string(), "intake");
        EXPECT_EQ(body.at("by").as_string(), "relayctl");
        const std::string key(body.at("idempotency_key").as_string());
        event_keys.insert(key);
        const std::string name = key.substr(5);
        const auto& dlq = body.at("dlq").as_object();
        EXPECT_EQ(dlq.at("topic").as_string(), topics_.dlq);
        EXPECT_EQ(fmt::format("{}:{}", dlq.at("partition").as_int64(), dlq.at("offset").as_int64()),
                  refs_.at(name));
        EXPECT_EQ(body.at("event").as_string(), name == "A" ? "new" : "update");
        EXPECT_TRUE(relayctl::parse_rfc3339(std::string(body.at("at").as_string())).has_value());
    }
    EXPECT_EQ(event_keys, (std::set<std::string>{"idem-A", "idem-F"}));
}

TEST_F(RelayctlKafka, ReplayAllWithYesReplaysEveryRecord) {
    relayctl::ReplayOptions options;
    options.kafka = kafka_options(topics_);
    options.all = true;
    options.yes = true;
    std::ostringstream out, err;
    ASSERT_EQ(relayctl::replay_dlq(options, out, err), kExitOk) << err.str();
    const auto deliveries = consume_all(kafka_bootstrap(), topics_.deliveries, 7, 5s);
    EXPECT_EQ(deliveries.size(), 6U);
    EXPECT_EQ(consume_all(kafka_bootstrap(), topics_.events, 6, 20s).size(), 6U);
}

TEST_F(RelayctlKafka, ReplayIsRefusedWithoutAFilterOrConfirmation) {
    relayctl::ReplayOptions options;
    options.kafka = kafka_options(topics_);
    std::ostringstream out, err;
    // No filter, no --all.
    EXPECT_EQ(relayctl::replay_dlq(options, out, err), kExitUsage);
    EXPECT_NE(err.str().find("replay needs a filter"), std::string::npos) << err.str();
    // --all and a filter: which one was meant?
    options.all = true;
    options.filter.destinations = {"intake"};
    EXPECT_EQ(relayctl::replay_dlq(options, out, err), kExitUsage);
    // A filter, but no --yes and nobody to ask.
    options.all = false;
    EXPECT_EQ(relayctl::replay_dlq(options, out, err), kExitUsage);
    EXPECT_NE(err.str().find("refusing to replay 4 record(s) without confirmation"), std::string::npos)
        << err.str();
    // Asked, and the answer is no.
    std::size_t asked = 0;
    options.confirm = [&](std::size_t count) {
        asked = count;
        return false;
    };
    EXPECT_EQ(relayctl::replay_dlq(options, out, err), kExitFailed);
    EXPECT_EQ(asked, 4U);
    // A named record that is not there: nothing at all is replayed.
    options.yes = true;
    options.filter = {};
    options.filter.records = {ref("A"), {0, 999}};
    EXPECT_EQ(relayctl::replay_dlq(options, out, err), kExitFailed);
    EXPECT_NE(err.str().find("no record 0:999"), std::string::npos) << err.str();

    // Through the command line too.
    const std::string bootstrap = "--bootstrap-servers=" + kafka_bootstrap();
    const std::string dlq = "--dlq-topic=" + topics_.dlq;
    const char* argv[] = {"relayctl", "dlq", "replay", bootstrap.c_str(), dlq.c_str(), "--yes"};
    std::ostringstream cli_out, cli_err;
    EXPECT_EQ(relayctl::run_cli(6, argv, cli_out, cli_err, {}), kExitUsage);
    EXPECT_NE(cli_err.str().find("replay needs a filter"), std::string::npos) << cli_err.str();

    EXPECT_TRUE(consume_all(kafka_bootstrap(), topics_.deliveries, 1, 3s).empty());
    EXPECT_TRUE(consume_all(kafka_bootstrap(), topics_.events, 1, 1s).empty());
}

TEST_F(RelayctlKafka, CommandLineListsReplaysAndReportsEvents) {
    const std::string bootstrap = "--bootstrap-servers=" + kafka_bootstrap();
    const std::string dlq = "--dlq-topic=" + topics_.dlq;
    const std::string deliveries = "--deliveries-topic=" + topics_.deliveries;
    const std::string events = "--events-topic=" + topics_.events;
    {
        const char* argv[] = {"relayctl",
                              "dlq",
                              "list",
                              bootstrap.c_str(),
                              dlq.c_str(),
                              "--reason",
                              "permanent",
                              "--format",
                              "json"};
        std::ostringstream out, err;
        ASSERT_EQ(relayctl::run_cli(9, argv, out, err, {}), kExitOk) << err.str();
        EXPECT_EQ(listed(out.str(), refs_), (Names{"B", "C"}));
    }
    {
        const std::string record = refs_.at("D");
        const char* argv[] = {"relayctl",
                              bootstrap.c_str(),
                              dlq.c_str(),
                              deliveries.c_str(),
                              events.c_str(),
                              "dlq",
                              "replay",
                              "--record",
                              record.c_str(),
                              "-y"};
        std::ostringstream out, err;
        ASSERT_EQ(relayctl::run_cli(10, argv, out, err, {}), kExitOk) << err.str();
        const auto replayed = consume_all(kafka_bootstrap(), topics_.deliveries, 1, 10s);
        ASSERT_EQ(replayed.size(), 1U);
        EXPECT_EQ(replayed[0].header("idempotency-key"), "idem-D");
    }
}

TEST(RelayctlKafkaFailure, ARecordTheBrokerRefusesIsReportedAndHasNoEvent) {
    // A deliveries topic whose records must be small: the big dead letter cannot be written back.
    const Topics topics{unique_topic("relayctl-refused.dlq"),
                        unique_topic("relayctl-refused.deliveries"),
                        unique_topic("relayctl-refused.events")};
    kafka::ensure_topics(producer().handle(),
                         {{.name = topics.dlq, .partitions = 1, .replication_factor = 1},
                          {.name = topics.deliveries,
                           .partitions = 1,
                           .replication_factor = 1,
                           .configs = {{"max.message.bytes", "1024"}}},
                          {.name = topics.events, .partitions = 1, .replication_factor = 1}},
                         true,
                         30s);
    // Incompressible, so lz4 cannot squeeze it under the limit.
    std::string big(8000, ' ');
    std::uint32_t x = 12345;
    for (char& c : big) {
        x = x * 1664525U + 1013904223U;
        c = static_cast<char>('a' + (x >> 24) % 26);
    }
    const auto result = producer()
                            .async_produce(topics.dlq,
                                           "intake|REF-BIG",
                                           big,
                                           {{"destination", "intake"},
                                            {"referral-ref", "REF-BIG"},
                                            {"idempotency-key", "idem-big"},
                                            {"dlq-reason", "permanent failure"}},
                                           30s,
                                           boost::asio::use_future)
                            .get();
    ASSERT_TRUE(result.ok) << result.error.message;

    relayctl::ReplayOptions options;
    options.kafka = kafka_options(topics);
    options.filter.referrals = {"REF-BIG"};
    options.yes = true;
    std::ostringstream out, err;
    EXPECT_EQ(relayctl::replay_dlq(options, out, err), kExitFailed);
    EXPECT_EQ(
        out.str(),
        fmt::format("replayed 0 of 1 record(s) from {} to {}; 0 'replayed' event(s) on {}; 1 failure(s)\n",
                    topics.dlq,
                    topics.deliveries,
                    topics.events));
    EXPECT_NE(err.str().find("relayctl: 0:0: not replayed: "), std::string::npos) << err.str();
    EXPECT_TRUE(consume_all(kafka_bootstrap(), topics.events, 1, 2s).empty());
}

TEST(RelayctlKafkaOrder, OneKeysRecordsAreReplayedInTheirOrderBeyondTheWindow) {
    const Topics topics = make_topics("relayctl-order");
    // More records of one referral and destination than the replay keeps in flight at once.
    constexpr int kCount = 150;
    std::vector<std::future<kafka::DeliveryResult>> acks;
    for (int i = 0; i < kCount; ++i) {
        acks.push_back(producer().async_produce_to(topics.dlq,
                                                   1,
                                                   "intake|REF-ORDER",
                                                   std::to_string(i),
                                                   {{"destination", "intake"},
                                                    {"referral-ref", "REF-ORDER"},
                                                    {"idempotency-key", fmt::format("idem-{}", i)},
                                                    {"dlq-reason", "retries exhausted"}},
                                                   30s,
                                                   boost::asio::use_future));
    }
    for (auto& ack : acks) ASSERT_TRUE(ack.get().ok);

    relayctl::ReplayOptions options;
    options.kafka = kafka_options(topics);
    options.filter.referrals = {"REF-ORDER"};
    options.yes = true;
    std::ostringstream out, err;
    ASSERT_EQ(relayctl::replay_dlq(options, out, err), kExitOk) << err.str();
    EXPECT_NE(out.str().find(fmt::format("replayed {0} of {0} record(s)", kCount)), std::string::npos)
        << out.str();
    // Not a terminal: a line every tenth of the way.
    EXPECT_NE(err.str().find(fmt::format("] {}/{}\n", kCount / 10, kCount)), std::string::npos) << err.str();

    const auto deliveries = consume_all(kafka_bootstrap(), topics.deliveries, kCount, 30s);
    ASSERT_EQ(deliveries.size(), static_cast<std::size_t>(kCount));
    for (int i = 0; i < kCount; ++i) {
        EXPECT_EQ(deliveries[i].value, std::to_string(i));
        EXPECT_EQ(deliveries[i].header("idempotency-key"), fmt::format("idem-{}", i));
    }
    EXPECT_EQ(consume_all(kafka_bootstrap(), topics.events, kCount, 30s).size(),
              static_cast<std::size_t>(kCount));
}

int run_binary(const std::string& arguments) {
    const std::string command =
        std::string("'") + RELAY_RELAYCTL_BINARY + "' " + arguments + " >/dev/null 2>&1";
    const int status = std::system(command.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_F(RelayctlKafka, BinaryExitCodes) {
    const std::string common =
        fmt::format("--bootstrap-servers '{}' --dlq-topic '{}'", kafka_bootstrap(), topics_.dlq);
    EXPECT_EQ(run_binary(common + " dlq list"), 0);
    EXPECT_EQ(run_binary(common + " dlq inspect " + refs_.at("A")), 0);
    EXPECT_EQ(run_binary(common + " dlq inspect 0:999"), 1);
    EXPECT_EQ(run_binary(common + " dlq replay </dev/null"), 2);
    EXPECT_EQ(run_binary(common + " dlq list --since yesterday"), 2);
    EXPECT_EQ(run_binary("dlq list --bootstrap-servers 127.0.0.1:1 --timeout 1s"), 1);
}

}  // namespace
}  // namespace relay::test
