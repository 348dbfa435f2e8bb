// log.hpp (JSON lines on stderr) and time.hpp.
#include "relay/core/log.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "relay/core/time.hpp"

namespace {

// Redirects file descriptor 2 into a temporary file while alive; text() returns what was written.
class StderrCapture {
   public:
    StderrCapture() : file_(std::tmpfile()), saved_(::dup(STDERR_FILENO)) {
        std::fflush(stderr);
        ::dup2(::fileno(file_), STDERR_FILENO);
    }
    ~StderrCapture() {
        restore();
        std::fclose(file_);
    }

    std::string text() {
        restore();
        std::string out;
        std::rewind(file_);
        char buffer[4096];
        for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, file_)) > 0;) out.append(buffer, n);
        return out;
    }

   private:
    void restore() {
        if (saved_ < 0) return;
        std::fflush(stderr);
        ::dup2(saved_, STDERR_FILENO);
        ::close(saved_);
        saved_ = -1;
    }
    std::FILE* file_;
    int saved_;
};

// Restores the process-wide log level after a test.
class LogTest : public ::testing::Test {
   protected:
    void TearDown() override { relay::log::set_level(relay::log::Level::kInfo); }
};

}  // namespace

TEST_F(LogTest, WritesOneJsonObjectPerLineWithEscapedFields) {
    StderrCapture capture;
    relay::log::set_service("unit-test");
    relay::log::info("hello \"world\"", {{"referral_ref", "a\nb"}, {"count", 42}});
    const std::string line = capture.text();
    ASSERT_FALSE(line.empty());
    EXPECT_EQ(line.front(), '{');
    EXPECT_EQ(line.substr(line.size() - 2), "}\n");
    EXPECT_EQ(line.find('\n'), line.size() - 1) << "exactly one line";
    EXPECT_NE(line.find(R"("level":"info")"), std::string::npos) << line;
    EXPECT_NE(line.find(R"("service":"unit-test")"), std::string::npos) << line;
    EXPECT_NE(line.find(R"("msg":"hello \"world\"")"), std::string::npos) << line;
    EXPECT_NE(line.find(R"("referral_ref":"a\nb")"), std::string::npos) << line;
    EXPECT_NE(line.find(R"("count":42)"), std::string::npos) << line;
    EXPECT_NE(line.find(R"("ts":")"), std::string::npos) << line;
}

TEST_F(LogTest, MessagesBelowTheLevelAreNotWritten) {
    relay::log::set_level("warn");
    EXPECT_FALSE(relay::log::enabled(relay::log::Level::kInfo));
    EXPECT_TRUE(relay::log::enabled(relay::log::Level::kError));
    StderrCapture capture;
    relay::log::info("dropped");
    relay::log::debug("dropped too");
    relay::log::warn("kept");
    const std::string text = capture.text();
    EXPECT_EQ(text.find("dropped"), std::string::npos) << text;
    EXPECT_NE(text.find(R"("msg":"kept")"), std::string::npos) << text;
}

TEST_F(LogTest, UnknownLevelNameIsRejected) {
    EXPECT_THROW(relay::log::set_level("verbose"), std::invalid_argument);
    EXPECT_THROW(relay::log::set_level("INFO"), std::invalid_argument);
    EXPECT_NO_THROW(relay::log::set_level("debug"));
    EXPECT_TRUE(relay::log::enabled(relay::log::Level::kDebug));
}

TEST(Time, FormatsRfc3339WithMillisecondsInUtc) {
    const relay::SystemTime t{std::chrono::milliseconds(1'795'533'425'123LL)};
    EXPECT_EQ(relay::format_rfc3339_millis(t), "2026-11-24T15:17:05.123Z");
    EXPECT_EQ(relay::format_rfc3339_millis(relay::SystemTime{}), "1970-01-01T00:00:00.000Z");
    EXPECT_EQ(relay::format_rfc3339_millis(relay::SystemTime{std::chrono::milliseconds(1'007)}),
              "1970-01-01T00:00:01.007Z");
}

TEST(Time, UnixSecondsTruncatesMilliseconds) {
    EXPECT_EQ(relay::unix_seconds(relay::SystemTime{std::chrono::milliseconds(1'795'533'425'999LL)}),
              1'795'533'425LL);
}
