#include "render.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <charconv>

#include "relay/contracts/headers.hpp"

namespace relay::relayctl {

namespace header = contracts::header;

namespace {

/// Length of the valid UTF-8 sequence starting at `i`, 0 if it is not one.
std::size_t utf8_length(std::string_view s, std::size_t i) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
    } else {
        return 0;
    }
    if (i + n > s.size()) return 0;
    for (std::size_t k = 1; k < n; ++k)
        if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
    return n;
}

/// A decimal header value as a JSON number, anything else as a string (null if absent).
boost::json::value number_or_text(const DlqRecord& record, std::string_view name) {
    if (!record.has_header(name)) return nullptr;
    const std::string text = record.header(name);
    std::int64_t n = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec == std::errc() && end == text.data() + text.size() && !text.empty()) return n;
    return boost::json::string(text);
}

std::string dlq_at_text(const DlqRecord& record) {
    if (const std::string at = record.header(header::kDlqAt); !at.empty()) return at;
    const auto at = record.dead_lettered_at();
    return at ? format_rfc3339_millis(*at) : std::string("-");
}

std::string or_dash(std::string text) {
    return text.empty() ? std::string("-") : printable(text);
}

}  // namespace

std::string printable(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c == '\\') {
            out += "\\\\";
            ++i;
        } else if (c >= 0x20 && c < 0x7F) {
            out += static_cast<char>(c);
            ++i;
        } else if (const std::size_t n = c >= 0x80 ? utf8_length(text, i) : 0; n > 0) {
            out.append(text.substr(i, n));
            i += n;
        } else {
            out += fmt::format("\\x{:02x}", c);
            ++i;
        }
    }
    return out;
}

void write_table(std::ostream& out, const std::vector<DlqRecord>& records) {
    if (records.empty()) return;
    constexpr std::size_t kColumns = 8;
    using Row = std::array<std::string, kColumns>;
    std::vector<Row> rows;
    rows.reserve(records.size() + 1);
    rows.push_back({"RECORD", "DLQ-AT", "DESTINATION", "REFERRAL", "EVENT", "ATTEMPTS", "STATUS", "REASON"});
    for (const auto& r : records) {
        rows.push_back({to_string(r.ref()),
                        or_dash(dlq_at_text(r)),
                        or_dash(r.destination()),
                        or_dash(r.referral_ref()),
                        or_dash(r.header(header::kEvent)),
                        or_dash(r.header(header::kAttempt)),
                        or_dash(r.header(header::kDlqStatus)),
                        or_dash(r.header(header::kDlqReason))});
    }
    std::array<std::size_t, kColumns> width{};
    for (const Row& row : rows)
        for (std::size_t c = 0; c < kColumns; ++c) width[c] = std::max(width[c], row[c].size());
    for (const Row& row : rows) {
        std::string line;
        for (std::size_t c = 0; c < kColumns; ++c) {
            line += row[c];
            // The last column is not padded: no trailing blanks.
            if (c + 1 < kColumns) line.append(width[c] - row[c].size() + 2, ' ');
        }
        out << line << '\n';
    }
}

void write_json_lines(std::ostream& out, const std::string& topic, const std::vector<DlqRecord>& records) {
    namespace json = boost::json;
    for (const auto& r : records) {
        json::object row{{"topic", topic},
                         {"partition", r.partition},
                         {"offset", r.offset},
                         {"dlq_at", dlq_at_text(r)},
                         {"destination", r.destination()},
                         {"referral_ref", r.referral_ref()},
                         {"event", r.header(header::kEvent)},
                         {"site", r.header(header::kSite)},
                         {"attempts", number_or_text(r, header::kAttempt)},
                         {"status", number_or_text(r, header::kDlqStatus)},
                         {"reason", r.header(header::kDlqReason)},
                         {"excerpt", r.header(header::kDlqExcerpt)},
                         {"idempotency_key", r.header(header::kIdempotencyKey)},
                         {"value_bytes", r.value_size}};
        out << json::serialize(row) << '\n';
    }
}

void write_inspection(std::ostream& out, const std::string& topic, const DlqRecord& r, bool show_body) {
    out << "record:     " << topic << '/' << r.partition << '/' << r.offset << '\n';
    out << "key:        " << printable(r.key) << '\n';
    out << "timestamp:  "
        << (r.timestamp_ms < 0 ? std::string("-")
                               : format_rfc3339_millis(SystemTime(std::chrono::milliseconds(r.timestamp_ms))))
        << '\n';
    out << "value:      " << r.value_size << " bytes";
    if (!show_body) out << " (not shown: it may contain PHI; --show-body prints it)";
    out << '\n';
    out << "headers:    " << r.headers.size() << '\n';
    std::size_t name_width = 0;
    for (const auto& h : r.headers) name_width = std::max(name_width, printable(h.name).size());
    for (const auto& h : r.headers) {
        const std::string name = printable(h.name);
        out << "  " << name << ':' << std::string(name_width - name.size() + 1, ' ');
        // Ocean's OperationOutcome (updates DLQ) may repeat the referral's data in its diagnostics: it is
        // shown with the body, on request.
        if (h.name == header::kDlqOperationOutcome && !show_body)
            out << "(" << h.value.size() << " bytes, not shown: it may contain PHI; --show-body prints it)";
        else
            out << printable(h.value);
        out << '\n';
    }
    if (show_body) {
        // Byte for byte, as it was delivered: the operator asked for the body, maybe to save it.
        out << "body:\n";
        out.write(r.value.data(), static_cast<std::streamsize>(r.value.size()));
        if (r.value.empty() || r.value.back() != '\n') out << '\n';
    }
}

std::string progress_bar(std::size_t done, std::size_t total, std::size_t width) {
    const std::size_t filled = total == 0 ? width : std::min(width, done * width / total);
    return fmt::format(
        "[{}{}] {}/{}", std::string(filled, '#'), std::string(width - filled, '.'), done, total);
}

Progress::Progress(std::ostream& out, std::size_t total, bool tty)
    : out_(out), total_(total), tty_(tty), every_(std::max<std::size_t>(1, total / 10)) {}

void Progress::update(std::size_t done) {
    done_ = done;
    if (!tty_ && done % every_ != 0 && done != total_) return;
    if (any_ && drawn_ == done) return;
    draw();
}

void Progress::finish() {
    if (!any_ || drawn_ != done_) draw();
    if (tty_) out_ << '\n' << std::flush;
}

void Progress::draw() {
    if (tty_) {
        out_ << '\r' << progress_bar(done_, total_) << std::flush;
    } else {
        out_ << progress_bar(done_, total_) << '\n' << std::flush;
    }
    drawn_ = done_;
    any_ = true;
}

}  // namespace relay::relayctl
