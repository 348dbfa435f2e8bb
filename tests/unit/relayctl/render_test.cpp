#include "render.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <sstream>

namespace relay::relayctl {
namespace {

DlqRecord letter(std::int32_t partition, std::int64_t offset, std::string destination, std::string reason) {
    DlqRecord r;
    r.partition = partition;
    r.offset = offset;
    r.key = destination + "|REF-" + std::to_string(offset);
    r.value = "PATIENT DATA";
    r.value_size = r.value.size();
    r.headers = {{"destination", destination},
                 {"referral-ref", "REF-" + std::to_string(offset)},
                 {"event", "new"},
                 {"attempt", "5"},
                 {"dlq-reason", reason},
                 {"dlq-status", "503"},
                 {"dlq-at", "2026-11-24T10:00:00.000Z"}};
    return r;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

TEST(RelayctlPrintable, EscapesControlsAndKeepsUtf8) {
    EXPECT_EQ(printable("plain text: 1/2"), "plain text: 1/2");
    EXPECT_EQ(printable("a\x1b[31mred\n"), "a\\x1b[31mred\\x0a");
    EXPECT_EQ(printable("back\\slash"), "back\\\\slash");
    EXPECT_EQ(printable("Montr\xc3\xa9"
                        "al"),
              "Montr\xc3\xa9"
              "al");
    EXPECT_EQ(printable("bad \xc3 utf8 \xff"), "bad \\xc3 utf8 \\xff");
    EXPECT_EQ(printable(std::string_view("nul\0", 4)), "nul\\x00");
}

TEST(RelayctlTable, AlignsColumnsAndNeverPrintsValues) {
    std::ostringstream out;
    write_table(out,
                {letter(0, 7, "intake", "retries exhausted"), letter(11, 12345, "x", "permanent failure")});
    const auto lines = lines_of(out.str());
    ASSERT_EQ(lines.size(), 3U);
    EXPECT_EQ(lines[0],
              "RECORD    DLQ-AT                    DESTINATION  REFERRAL   EVENT  ATTEMPTS  STATUS  REASON");
    EXPECT_EQ(lines[1],
              "0:7       2026-11-24T10:00:00.000Z  intake       REF-7      new    5         503     retries "
              "exhausted");
    EXPECT_EQ(lines[2],
              "11:12345  2026-11-24T10:00:00.000Z  x            REF-12345  new    5         503     "
              "permanent failure");
    EXPECT_EQ(out.str().find("PATIENT"), std::string::npos);

    std::ostringstream empty;
    write_table(empty, {});
    EXPECT_EQ(empty.str(), "");
}

TEST(RelayctlTable, MissingHeadersShowAsDashes) {
    DlqRecord r;
    r.partition = 0;
    r.offset = 1;
    r.key = "intake|R";
    std::ostringstream out;
    write_table(out, {r});
    EXPECT_EQ(lines_of(out.str()).at(1), "0:1     -       intake       R         -      -         -       -");
}

TEST(RelayctlJsonLines, OneObjectPerRecordWithNumbersWhereTheyAre) {
    auto r = letter(1, 2, "intake", "retries exhausted");
    r.headers.push_back({"dlq-excerpt", "Service Unavailable"});
    auto odd = letter(1, 3, "intake", "x");
    odd.headers[3].value = "many";  // attempt
    std::ostringstream out;
    write_json_lines(out, "dlq", {r, odd});
    const auto lines = lines_of(out.str());
    ASSERT_EQ(lines.size(), 2U);
    const auto row = boost::json::parse(lines[0]).as_object();
    EXPECT_EQ(row.at("topic").as_string(), "dlq");
    EXPECT_EQ(row.at("partition").as_int64(), 1);
    EXPECT_EQ(row.at("offset").as_int64(), 2);
    EXPECT_EQ(row.at("attempts").as_int64(), 5);
    EXPECT_EQ(row.at("status").as_int64(), 503);
    EXPECT_EQ(row.at("reason").as_string(), "retries exhausted");
    EXPECT_EQ(row.at("excerpt").as_string(), "Service Unavailable");
    EXPECT_EQ(row.at("value_bytes").as_int64(), 12);
    EXPECT_EQ(boost::json::parse(lines[1]).at("attempts").as_string(), "many");
    EXPECT_EQ(out.str().find("PATIENT"), std::string::npos);
}

TEST(RelayctlInspection, HeadersAlwaysBodyOnlyOnRequest) {
    const auto r = letter(0, 7, "intake", "retries exhausted");
    std::ostringstream hidden;
    write_inspection(hidden, "dlq", r, false);
    EXPECT_NE(hidden.str().find("record:     dlq/0/7\n"), std::string::npos) << hidden.str();
    EXPECT_NE(hidden.str().find("value:      12 bytes (not shown"), std::string::npos) << hidden.str();
    EXPECT_NE(hidden.str().find("  dlq-reason:   retries exhausted\n"), std::string::npos) << hidden.str();
    EXPECT_EQ(hidden.str().find("PATIENT"), std::string::npos);

    std::ostringstream shown;
    write_inspection(shown, "dlq", r, true);
    EXPECT_TRUE(shown.str().ends_with("body:\nPATIENT DATA\n")) << shown.str();
}

TEST(RelayctlInspection, OceansOperationOutcomeIsShownOnlyWithTheBody) {
    // The updates DLQ keeps Ocean's OperationOutcome, whose diagnostics may repeat the referral's data.
    auto r = letter(1, 3, "", "rejected");
    const std::string outcome =
        R"({"resourceType":"OperationOutcome","issue":[{"diagnostics":"PATIENT NAME unknown"}]})";
    r.headers.push_back({"dlq-operation-outcome", outcome});
    std::ostringstream hidden;
    write_inspection(hidden, "relay.updates.dlq.v1", r, false);
    EXPECT_EQ(hidden.str().find("PATIENT"), std::string::npos) << hidden.str();
    EXPECT_NE(hidden.str().find(std::to_string(outcome.size()) + " bytes, not shown"), std::string::npos)
        << hidden.str();
    std::ostringstream shown;
    write_inspection(shown, "relay.updates.dlq.v1", r, true);
    EXPECT_NE(shown.str().find("PATIENT NAME unknown"), std::string::npos) << shown.str();
}

TEST(RelayctlProgressBar, FillsInProportion) {
    EXPECT_EQ(progress_bar(0, 40, 10), "[..........] 0/40");
    EXPECT_EQ(progress_bar(12, 40, 10), "[###.......] 12/40");
    EXPECT_EQ(progress_bar(40, 40, 10), "[##########] 40/40");
    EXPECT_EQ(progress_bar(0, 0, 4), "[####] 0/0");
}

TEST(RelayctlProgress, OnATerminalRedrawsInPlace) {
    std::ostringstream out;
    Progress progress(out, 3, true);
    for (std::size_t i = 1; i <= 3; ++i) progress.update(i);
    progress.finish();
    EXPECT_EQ(out.str(),
              "\r[##########....................] 1/3\r[####################..........] 2/3"
              "\r[##############################] 3/3\n");
}

TEST(RelayctlProgress, ElsewhereALineEveryTenthAndAtTheEnd) {
    std::ostringstream out;
    Progress progress(out, 25, false);
    for (std::size_t i = 1; i <= 25; ++i) progress.update(i);
    progress.finish();
    const auto lines = lines_of(out.str());
    // Every 2 records (25 / 10), and the end.
    ASSERT_EQ(lines.size(), 13U) << out.str();
    EXPECT_EQ(lines.front(), progress_bar(2, 25));
    EXPECT_EQ(lines.back(), progress_bar(25, 25));
}

TEST(RelayctlProgress, FinishShowsWhereItStopped) {
    std::ostringstream out;
    Progress progress(out, 100, false);
    progress.update(3);
    progress.finish();
    EXPECT_EQ(out.str(), progress_bar(3, 100) + "\n");
}

}  // namespace
}  // namespace relay::relayctl
