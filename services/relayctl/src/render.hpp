// How relayctl shows DLQ records: an aligned table or JSON lines for `list`, every header for `inspect`,
// and the replay progress bar. Nothing here prints a record's value except inspect with show_body.
#pragma once

#include <cstddef>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "record.hpp"

namespace relay::relayctl {

/// `text` made safe for a terminal: control characters, DEL and invalid UTF-8 become \xNN escapes and
/// backslashes are doubled. Header values come from remote systems (a response excerpt); an escape
/// sequence in one must not drive the operator's terminal.
std::string printable(std::string_view text);

/// One row per record, columns aligned: RECORD (partition:offset), DLQ-AT, DESTINATION, REFERRAL,
/// EVENT, ATTEMPTS, STATUS, REASON. Writes nothing for no records.
void write_table(std::ostream& out, const std::vector<DlqRecord>& records);

/// One JSON object per line, with the table's fields (attempts and status as numbers when they are).
void write_json_lines(std::ostream& out, const std::string& topic, const std::vector<DlqRecord>& records);

/// Key, timestamp, value size and every header; the value itself only with `show_body`.
void write_inspection(std::ostream& out, const std::string& topic, const DlqRecord& record, bool show_body);

/// "[#####.....] 12/40" with `width` cells.
std::string progress_bar(std::size_t done, std::size_t total, std::size_t width = 30);

/// The replay's progress on stderr: redrawn in place with '\r' on a terminal; otherwise (a log file, CI)
/// one line every `every` records and at the end, so the log is neither silent nor flooded.
class Progress {
   public:
    Progress(std::ostream& out, std::size_t total, bool tty);
    void update(std::size_t done);
    /// Draws the last state (if not drawn yet) and ends the line.
    void finish();

   private:
    void draw();

    std::ostream& out_;
    std::size_t total_;
    bool tty_;
    std::size_t every_;
    std::size_t done_ = 0;
    std::size_t drawn_ = 0;
    bool any_ = false;
};

}  // namespace relay::relayctl
