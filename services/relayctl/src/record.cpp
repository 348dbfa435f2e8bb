#include "record.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <charconv>

#include "relay/contracts/headers.hpp"
#include "relay/core/config.hpp"

namespace relay::relayctl {

namespace header = contracts::header;

namespace {

template <typename Int>
bool parse_int(std::string_view text, Int& out) {
    if (text.empty()) return false;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size();
}

/// Exactly `n` digits at `pos`, as a number.
bool digits(std::string_view text, std::size_t pos, std::size_t n, int& out) {
    if (pos + n > text.size()) return false;
    out = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
        if (std::isdigit(static_cast<unsigned char>(text[i])) == 0) return false;
        out = out * 10 + (text[i] - '0');
    }
    return true;
}

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

bool is_dropped_on_replay(std::string_view name) {
    // The DLQ step's own headers, and the delivery service's state of the failed run: a replay starts
    // a fresh run, so its attempt count, parking and age limits must not carry over.
    static constexpr std::string_view kDropped[] = {header::kParkToken,
                                                    header::kDue,
                                                    header::kFirstAttemptAt,
                                                    header::kAttempt,
                                                    header::kLastStatus,
                                                    header::kLastReason,
                                                    header::kReplayedFrom,
                                                    header::kReplayedAt};
    if (name.starts_with(header::kDlqPrefix)) return true;
    return std::find(std::begin(kDropped), std::end(kDropped), name) != std::end(kDropped);
}

}  // namespace

std::optional<RecordRef> parse_record_ref(std::string_view text) {
    const auto colon = text.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    RecordRef ref;
    if (!parse_int(text.substr(0, colon), ref.partition) || !parse_int(text.substr(colon + 1), ref.offset))
        return std::nullopt;
    if (ref.partition < 0 || ref.offset < 0) return std::nullopt;
    return ref;
}

std::string to_string(const RecordRef& ref) {
    return fmt::format("{}:{}", ref.partition, ref.offset);
}

// -- DlqRecord ------------------------------------------------------------------------------------

std::string DlqRecord::header(std::string_view name) const {
    for (auto it = headers.rbegin(); it != headers.rend(); ++it)
        if (it->name == name) return it->value;
    return {};
}

bool DlqRecord::has_header(std::string_view name) const {
    return std::any_of(
        headers.begin(), headers.end(), [&](const kafka::Header& h) { return h.name == name; });
}

std::string DlqRecord::destination() const {
    if (has_header(header::kDestination)) return header(header::kDestination);
    const auto bar = key.find('|');
    return bar == std::string::npos ? std::string() : key.substr(0, bar);
}

std::string DlqRecord::referral_ref() const {
    if (has_header(header::kReferralRef)) return header(header::kReferralRef);
    const auto bar = key.find('|');
    return bar == std::string::npos ? key : key.substr(bar + 1);
}

bool DlqRecord::is_inbound() const {
    return has_header(header::kKind) && !has_header(header::kDestination);
}

std::optional<SystemTime> DlqRecord::dead_lettered_at() const {
    if (const std::string at = header(header::kDlqAt); !at.empty()) {
        if (auto parsed = parse_rfc3339(at)) return parsed;
    }
    if (timestamp_ms < 0) return std::nullopt;
    return SystemTime(std::chrono::milliseconds(timestamp_ms));
}

// -- time -----------------------------------------------------------------------------------------

std::optional<SystemTime> parse_rfc3339(std::string_view text) {
    using namespace std::chrono;
    int y = 0, mo = 0, d = 0;
    if (!digits(text, 0, 4, y) || text.size() < 10 || text[4] != '-' || !digits(text, 5, 2, mo) ||
        text[7] != '-' || !digits(text, 8, 2, d))
        return std::nullopt;
    const year_month_day date{year(y), month(static_cast<unsigned>(mo)), day(static_cast<unsigned>(d))};
    if (!date.ok()) return std::nullopt;
    SystemTime t = sys_days(date);
    if (text.size() == 10) return t;

    const char sep = text[10];
    if (sep != 'T' && sep != 't' && sep != ' ') return std::nullopt;
    int h = 0, mi = 0, s = 0;
    if (!digits(text, 11, 2, h) || text.size() < 19 || text[13] != ':' || !digits(text, 14, 2, mi) ||
        text[16] != ':' || !digits(text, 17, 2, s))
        return std::nullopt;
    if (h > 23 || mi > 59 || s > 60) return std::nullopt;  // 60: a leap second
    t += hours(h) + minutes(mi) + seconds(s);

    std::size_t pos = 19;
    if (pos < text.size() && text[pos] == '.') {
        ++pos;
        const std::size_t start = pos;
        std::int64_t nanos = 0;
        while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos])) != 0) {
            if (pos - start < 9) nanos = nanos * 10 + (text[pos] - '0');
            ++pos;
        }
        if (pos == start) return std::nullopt;
        for (std::size_t n = pos - start; n < 9; ++n) nanos *= 10;
        t += duration_cast<SystemTime::duration>(nanoseconds(nanos));
    }
    // RFC 3339 requires the offset: a time without one would silently mean the machine's zone.
    if (pos >= text.size()) return std::nullopt;
    if ((text[pos] == 'Z' || text[pos] == 'z') && pos + 1 == text.size()) return t;
    if (text[pos] != '+' && text[pos] != '-') return std::nullopt;
    int oh = 0, om = 0;
    if (text.size() != pos + 6 || !digits(text, pos + 1, 2, oh) || text[pos + 3] != ':' ||
        !digits(text, pos + 4, 2, om) || oh > 23 || om > 59)
        return std::nullopt;
    const minutes offset = hours(oh) + minutes(om);
    return text[pos] == '+' ? t - offset : t + offset;
}

SystemTime parse_time_bound(std::string_view option, std::string_view text, SystemTime now) {
    if (auto t = parse_rfc3339(text)) return *t;
    std::optional<std::chrono::milliseconds> age;
    if (text.size() > 1 && text.back() == 'd') {
        std::int64_t days = 0;
        // Days beyond a century are a typo, not an age.
        if (parse_int(text.substr(0, text.size() - 1), days) && days >= 0 && days <= 36'500)
            age = std::chrono::hours(24 * days);
    } else {
        age = parse_duration(text);
    }
    if (!age) {
        throw UsageError(fmt::format(
            "{}: expected an RFC 3339 time (2026-11-24T15:00:00Z, 2026-11-24) or an age such as 30m, 2h, 7d, "
            "got '{}'",
            option,
            text));
    }
    return now - std::chrono::duration_cast<SystemTime::duration>(*age);
}

// -- Filter ---------------------------------------------------------------------------------------

bool Filter::empty() const {
    return destinations.empty() && referrals.empty() && events.empty() && sites.empty() && !since && !until &&
           records.empty() && !reason;
}

bool Filter::matches(const DlqRecord& record) const {
    const auto one_of = [](const std::vector<std::string>& wanted, const std::string& value) {
        return wanted.empty() || std::find(wanted.begin(), wanted.end(), value) != wanted.end();
    };
    if (!one_of(destinations, record.destination())) return false;
    if (!one_of(referrals, record.referral_ref())) return false;
    if (!one_of(events, record.header(header::kEvent))) return false;
    if (!one_of(sites, record.header(header::kSite))) return false;
    if (!records.empty() && std::find(records.begin(), records.end(), record.ref()) == records.end())
        return false;
    if (reason && lower(record.header(header::kDlqReason)).find(lower(*reason)) == std::string::npos)
        return false;
    if (since || until) {
        const auto at = record.dead_lettered_at();
        if (!at) return false;
        if (since && *at < *since) return false;
        if (until && *at > *until) return false;
    }
    return true;
}

void Filter::validate() const {
    if (since && until && *since > *until)
        throw UsageError(fmt::format("--since ({}) is after --until ({}): nothing can match",
                                     format_rfc3339_millis(*since),
                                     format_rfc3339_millis(*until)));
    if (reason && reason->empty()) throw UsageError("--reason: must not be empty");
}

// -- replay ---------------------------------------------------------------------------------------

std::vector<kafka::Header> replay_headers(const DlqRecord& record,
                                          std::string_view dlq_topic,
                                          std::string_view replayed_at) {
    std::vector<kafka::Header> out;
    out.reserve(record.headers.size() + 3);
    for (const auto& h : record.headers)
        if (!is_dropped_on_replay(h.name)) out.push_back(h);
    if (!record.is_inbound()) out.push_back({std::string(header::kAttempt), "0"});
    out.push_back({std::string(header::kReplayedFrom),
                   fmt::format("{}/{}/{}", dlq_topic, record.partition, record.offset)});
    out.push_back({std::string(header::kReplayedAt), std::string(replayed_at)});
    return out;
}

std::string replayed_event(const DlqRecord& record, std::string_view dlq_topic, std::string_view at) {
    namespace json = boost::json;
    const json::object event{
        {"outcome", "replayed"},
        {"referral_ref", record.referral_ref()},
        {"destination", record.destination()},
        {"event", record.header(header::kEvent)},
        {"idempotency_key", record.header(header::kIdempotencyKey)},
        {"dlq",
         json::object{{"topic", dlq_topic}, {"partition", record.partition}, {"offset", record.offset}}},
        {"at", at},
        {"by", "relayctl"}};
    return json::serialize(event);
}

std::vector<kafka::Header> replayed_event_headers(const DlqRecord& record) {
    std::vector<kafka::Header> out{{std::string(header::kOutcome), "replayed"},
                                   {std::string(header::kReferralRef), record.referral_ref()}};
    // The replay continues the original trace, as the router's events do.
    if (const std::string traceparent = record.header(header::kTraceparent); !traceparent.empty())
        out.push_back({std::string(header::kTraceparent), traceparent});
    return out;
}

}  // namespace relay::relayctl
