#include "cli.hpp"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "commands.hpp"
#include "relay/core/config.hpp"
#include "relay/core/log.hpp"

namespace relay::relayctl {

namespace {

/// Filter options as typed, turned into a Filter once parsing succeeded (relative times need "now").
struct FilterArgs {
    std::vector<std::string> destinations;
    std::vector<std::string> referrals;
    std::vector<std::string> events;
    std::vector<std::string> sites;
    std::string since;
    std::string until;
    std::vector<std::string> records;
    std::string reason;

    void add_to(CLI::App& command) {
        command.add_option("--destination", destinations, "only this destination id (repeatable)");
        command.add_option("--referral", referrals, "only this referral ref (repeatable)");
        command.add_option("--event", events, "only this Ocean event code, the `event` header (repeatable)");
        command.add_option("--site", sites, "only this Ocean site, the `site` header (repeatable)");
        command.add_option("--since",
                           since,
                           "dead-lettered at or after: RFC 3339 (2026-11-24T15:00:00Z, 2026-11-24) or an age "
                           "(30m, 2h, 7d)");
        command.add_option("--until", until, "dead-lettered at or before (same forms as --since)");
        command.add_option("--record", records, "exactly this record, PARTITION:OFFSET (repeatable)");
        command.add_option("--reason", reason, "dlq-reason contains this text (case-insensitive)");
    }

    [[nodiscard]] Filter to_filter(SystemTime now) const {
        Filter filter;
        filter.destinations = destinations;
        filter.referrals = referrals;
        filter.events = events;
        filter.sites = sites;
        if (!since.empty()) filter.since = parse_time_bound("--since", since, now);
        if (!until.empty()) filter.until = parse_time_bound("--until", until, now);
        for (const auto& text : records) {
            const auto ref = parse_record_ref(text);
            if (!ref)
                throw UsageError(
                    fmt::format("--record: expected PARTITION:OFFSET such as 0:42, got '{}'", text));
            filter.records.push_back(*ref);
        }
        if (!reason.empty()) filter.reason = reason;
        return filter;
    }
};

std::vector<std::pair<std::string, std::string>> parse_properties(const std::vector<std::string>& texts) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& text : texts) {
        const auto eq = text.find('=');
        // The argument is not repeated: a mistyped one may hold a password.
        if (eq == std::string::npos || eq == 0)
            throw UsageError("--kafka-property: expected key=value, got an argument without a key and '='");
        out.emplace_back(text.substr(0, eq), text.substr(eq + 1));
    }
    return out;
}

bool ask(const Terminal& terminal, std::ostream& err, std::size_t count) {
    err << fmt::format("replay {} record(s)? [y/N] ", count) << std::flush;
    std::string answer;
    if (!std::getline(*terminal.in, answer)) return false;
    return answer == "y" || answer == "Y" || answer == "yes" || answer == "YES" || answer == "Yes";
}

}  // namespace

int run_cli(
    int argc, const char* const* argv, std::ostream& out, std::ostream& err, const Terminal& terminal) {
    CLI::App app{"relayctl: operate ocean-relay's delivery dead-letter topic (list, inspect, replay)"};
    app.name("relayctl");
    app.require_subcommand(1);
    app.set_version_flag("--version", RELAY_VERSION);

    KafkaOptions kafka;
    std::vector<std::string> properties;
    std::string timeout = "30s";
    app.add_option("--bootstrap-servers", kafka.bootstrap_servers, "Kafka bootstrap servers (host:port,...)")
        ->envname("RELAY_KAFKA_BOOTSTRAP_SERVERS");
    app.add_option("--kafka-property",
                   properties,
                   "extra librdkafka property key=value, e.g. security.protocol=SASL_SSL (repeatable)");
    CLI::Option* dlq_topic =
        app.add_option("--dlq-topic", kafka.dlq_topic, "dead-letter topic")->capture_default_str();
    CLI::Option* deliveries_topic =
        app.add_option("--deliveries-topic", kafka.deliveries_topic, "topic replays are produced to")
            ->capture_default_str();
    bool inbound = false;
    app.add_flag("--inbound",
                 inbound,
                 fmt::format("the router's dead letters: --dlq-topic {} --deliveries-topic {} unless given",
                             kInboundDlqTopic,
                             kInboundTopic));
    app.add_option("--events-topic", kafka.events_topic, "topic of the 'replayed' outcomes")
        ->capture_default_str();
    app.add_option("--timeout", timeout, "deadline of each broker round trip (250ms, 5s, 2m)")
        ->capture_default_str();

    CLI::App* dlq = app.add_subcommand("dlq", "the delivery dead-letter topic");
    dlq->require_subcommand(1);
    // Common options may follow the subcommands: `relayctl dlq list --bootstrap-servers ...`.
    dlq->fallthrough();

    FilterArgs filter_args;
    std::string format = "table";
    CLI::App* list = dlq->add_subcommand("list", "list dead letters (no values are printed)");
    list->fallthrough();
    filter_args.add_to(*list);
    list->add_option("--format", format, "table or json (one object per line)")
        ->check(CLI::IsMember({"table", "json"}))
        ->capture_default_str();

    std::string record_text;
    bool show_body = false;
    CLI::App* inspect =
        dlq->add_subcommand("inspect", "every header of one record; its body only on request");
    inspect->fallthrough();
    inspect->add_option("record", record_text, "PARTITION:OFFSET")->required();
    inspect->add_flag("--show-body", show_body, "print the value (it may contain PHI)");

    bool all = false, dry_run = false, yes = false;
    CLI::App* replay =
        dlq->add_subcommand("replay", "produce chosen dead letters to the deliveries topic again");
    replay->fallthrough();
    filter_args.add_to(*replay);
    replay->add_flag("--all", all, "every record (instead of filters)");
    replay->add_flag("--dry-run", dry_run, "show what would be replayed; produce nothing");
    replay->add_flag("-y,--yes", yes, "do not ask for confirmation");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // --help is an exit "error" with code 0; every real parse error is a usage error.
        const int code = app.exit(e, out, err);
        return code == 0 ? kExitOk : kExitUsage;
    }

    // Library log lines are for services; an operator's terminal gets relayctl's own messages.
    log::set_service("relayctl");
    log::set_level(log::Level::kError);

    if (inbound) {
        if (dlq_topic->count() == 0) kafka.dlq_topic = kInboundDlqTopic;
        if (deliveries_topic->count() == 0) kafka.deliveries_topic = kInboundTopic;
    }

    try {
        const auto parsed_timeout = parse_duration(timeout);
        if (!parsed_timeout || parsed_timeout->count() <= 0)
            throw UsageError(
                fmt::format("--timeout: expected a duration such as 5s or 2m, got '{}'", timeout));
        kafka.timeout = *parsed_timeout;
        kafka.properties = parse_properties(properties);

        if (list->parsed()) {
            ListOptions options;
            options.kafka = kafka;
            options.filter = filter_args.to_filter(system_now());
            options.format = format == "json" ? ListFormat::kJson : ListFormat::kTable;
            return list_dlq(options, out, err);
        }
        if (inspect->parsed()) {
            InspectOptions options;
            options.kafka = kafka;
            const auto ref = parse_record_ref(record_text);
            if (!ref)
                throw UsageError(
                    fmt::format("inspect: expected PARTITION:OFFSET such as 0:42, got '{}'", record_text));
            options.record = *ref;
            options.show_body = show_body;
            return inspect_dlq(options, out, err);
        }
        ReplayOptions options;
        options.kafka = kafka;
        options.filter = filter_args.to_filter(system_now());
        options.all = all;
        options.dry_run = dry_run;
        options.yes = yes;
        options.progress_tty = terminal.err_is_tty;
        if (terminal.in != nullptr && terminal.in_is_tty)
            options.confirm = [&](std::size_t count) { return ask(terminal, err, count); };
        return replay_dlq(options, out, err);
    } catch (const UsageError& e) {
        err << "relayctl: " << e.what() << '\n';
        return kExitUsage;
    }
}

}  // namespace relay::relayctl
