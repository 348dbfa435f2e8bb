// libs/service's run_main as a real process (service_main_fixture): --check-config, --version,
// configuration errors (exit 2 naming the key), SIGTERM / SIGINT → Process::stop() and run()'s exit code,
// a second SIGTERM logged and not fatal.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "process_util.hpp"

extern char** environ;

namespace relay::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

/// The fixture binary as a child process: `args` after the binary, stdout and stderr in files of their
/// own (printed when the test failed), SIGKILLed if still running at the end.
class Fixture {
   public:
    Fixture(const fs::path& dir, const std::string& name, std::vector<std::string> args)
        : out_(dir / (name + ".out")), err_(dir / (name + ".err")) {
        args.insert(args.begin(), RELAY_SERVICE_FIXTURE_BINARY);
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&actions, 1, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_addopen(&actions, 2, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
        posix_spawn_file_actions_destroy(&actions);
    }
    ~Fixture() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        if (::testing::Test::HasFailure())
            std::cerr << "---- stdout ----\n" << out() << "---- stderr ----\n" << err() << "---- end ----\n";
    }
    Fixture(const Fixture&) = delete;
    Fixture& operator=(const Fixture&) = delete;

    [[nodiscard]] bool started() const { return pid_ > 0; }
    void signal(int sig) const { ::kill(pid_, sig); }

    /// The exit code once it exited within `limit` (128 + the signal if a signal ended it).
    std::optional<int> wait(std::chrono::milliseconds limit = 10s) {
        if (code_) return code_;
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (pid_ > 0) {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                break;
            }
            if (std::chrono::steady_clock::now() >= deadline) break;
            std::this_thread::sleep_for(10ms);
        }
        return code_;
    }

    /// Waits until stderr (the log) holds `text`.
    bool wait_for_log(const std::string& text, std::chrono::milliseconds limit = 10s) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < deadline) {
            if (err().find(text) != std::string::npos) return true;
            std::this_thread::sleep_for(10ms);
        }
        return false;
    }

    [[nodiscard]] std::string out() const { return read_file(out_); }
    [[nodiscard]] std::string err() const { return read_file(err_); }

   private:
    fs::path out_, err_;
    pid_t pid_ = -1;
    std::optional<int> code_;
};

fs::path write_config(const fs::path& dir, const std::string& name, const std::string& yaml) {
    const fs::path path = dir / (name + ".yaml");
    std::ofstream(path) << yaml;
    return path;
}

std::size_t occurrences(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

TEST(ServiceMain, CheckConfigPrintsTheSummaryAndStartsNothing) {
    ScratchDir dir("service-main");
    // fail_at_start: start() would refuse; --check-config does not call it.
    const auto config =
        write_config(dir, "ok", "fixture: {name: alpha, exit_code: 3, fail_at_start: true}\n");
    Fixture fixture(dir, "check", {"--config", config.string(), "--check-config"});
    ASSERT_TRUE(fixture.started());
    EXPECT_EQ(fixture.wait(), 0);
    EXPECT_EQ(fixture.out(), "configuration OK: fixture 'alpha', exit code 3\n");
    EXPECT_EQ(fixture.err().find("fixture running"), std::string::npos) << "the process was started";
    EXPECT_EQ(fixture.err().find("refused to start"), std::string::npos) << "the process was started";

    // -c is --config.
    Fixture short_flag(dir, "check-short", {"-c", config.string(), "--check-config"});
    EXPECT_EQ(short_flag.wait(), 0);
    EXPECT_EQ(short_flag.out(), "configuration OK: fixture 'alpha', exit code 3\n");
}

TEST(ServiceMain, ConfigurationErrorsExit2NamingTheKey) {
    ScratchDir dir("service-main");
    struct Case {
        std::string name, yaml, expected;
        bool check_only;
    };
    const std::vector<Case> cases = {
        {"unknown-key", "fixture: {name: a, colour: blue}\n", "fixture.colour: unknown key", true},
        {"bad-value", "fixture: {name: a, exit_code: lots}\n", "fixture.exit_code", true},
        {"missing", "fixture: {exit_code: 1}\n", "fixture.name: is required", true},
        {"bad-level", "log_level: loud\nfixture: {name: a}\n", "log_level", true},
        {"yaml-syntax", "fixture: {name: a\n", "line", true},
        {"unknown-key-run", "fixture: {name: a}\nextra: 1\n", "extra: unknown key", false},
        // Found only when starting: a configuration error all the same.
        {"at-start",
         "fixture: {name: a, fail_at_start: true}\n",
         "fixture.fail_at_start: refused to start",
         false},
    };
    for (const auto& c : cases) {
        const auto config = write_config(dir, c.name, c.yaml);
        std::vector<std::string> args{"--config", config.string()};
        if (c.check_only) args.push_back("--check-config");
        Fixture fixture(dir, c.name, args);
        EXPECT_EQ(fixture.wait(), 2) << c.name;
        EXPECT_NE(fixture.err().find("configuration error: "), std::string::npos)
            << c.name << ": " << fixture.err();
        EXPECT_NE(fixture.err().find(c.expected), std::string::npos) << c.name << ": " << fixture.err();
        EXPECT_EQ(fixture.out().find("configuration OK"), std::string::npos) << c.name;
        EXPECT_EQ(fixture.err().find("fixture running"), std::string::npos) << c.name;
    }

    // A file that is not there.
    Fixture missing(dir, "no-file", {"--config", (fs::path(dir) / "absent.yaml").string(), "--check-config"});
    EXPECT_EQ(missing.wait(), 2);
    EXPECT_NE(missing.err().find("absent.yaml"), std::string::npos) << missing.err();
}

TEST(ServiceMain, VersionAndUsage) {
    ScratchDir dir("service-main");
    Fixture version(dir, "version", {"--version"});
    EXPECT_EQ(version.wait(), 0);
    EXPECT_EQ(version.out(), std::string("ocean-relay fixture ") + RELAY_EXPECTED_VERSION + "\n");

    // --config is required; no configuration, no start.
    Fixture bare(dir, "bare", {});
    const auto code = bare.wait();
    ASSERT_TRUE(code.has_value());
    EXPECT_NE(*code, 0);
    EXPECT_NE(*code, 2) << "a usage error is not a configuration error";
    EXPECT_NE(bare.err().find("--config"), std::string::npos) << bare.err();
    EXPECT_EQ(bare.err().find("fixture running"), std::string::npos);

    Fixture help(dir, "help", {"--help"});
    EXPECT_EQ(help.wait(), 0);
    EXPECT_NE(help.out().find("run_main's test fixture"), std::string::npos) << help.out();
    EXPECT_NE(help.out().find("--check-config"), std::string::npos) << help.out();
}

TEST(ServiceMain, SigtermStopsTheProcessWhichExitsWithRunsCode) {
    ScratchDir dir("service-main");
    for (const int sig : {SIGTERM, SIGINT}) {
        const std::string name = sig == SIGTERM ? "sigterm" : "sigint";
        const auto config = write_config(dir, name, "fixture: {name: " + name + ", exit_code: 3}\n");
        Fixture fixture(dir, name, {"--config", config.string()});
        ASSERT_TRUE(fixture.wait_for_log("fixture running")) << name;
        std::this_thread::sleep_for(200ms);
        EXPECT_FALSE(fixture.wait(0ms).has_value()) << name << ": run() returned by itself";
        fixture.signal(sig);
        EXPECT_EQ(fixture.wait(10s), 3) << name << ": the exit code is run()'s";
        const std::string log = fixture.err();
        EXPECT_NE(log.find(sig == SIGTERM ? "\"SIGTERM\"" : "\"SIGINT\""), std::string::npos) << log;
        EXPECT_NE(log.find("\"stop_calls\":1"), std::string::npos) << log;
        EXPECT_NE(log.find("fixture stopped"), std::string::npos) << log;
    }
    // Exit code 0 too.
    const auto config = write_config(dir, "zero", "fixture: {name: zero}\n");
    Fixture zero(dir, "zero", {"--config", config.string()});
    ASSERT_TRUE(zero.wait_for_log("fixture running"));
    zero.signal(SIGTERM);
    EXPECT_EQ(zero.wait(10s), 0);
}

TEST(ServiceMain, ASecondSigtermIsLoggedNotFatal) {
    ScratchDir dir("service-main");
    const auto config =
        write_config(dir, "twice", "fixture: {name: twice, exit_code: 4, stop_delay: 1500ms}\n");
    Fixture fixture(dir, "twice", {"--config", config.string()});
    ASSERT_TRUE(fixture.wait_for_log("fixture running"));
    fixture.signal(SIGTERM);
    ASSERT_TRUE(fixture.wait_for_log("\"SIGTERM\""));
    // While the first stop drains: a second and a third signal.
    fixture.signal(SIGTERM);
    EXPECT_TRUE(fixture.wait_for_log("already stopping", 1s)) << fixture.err();
    fixture.signal(SIGINT);
    EXPECT_FALSE(fixture.wait(200ms).has_value()) << "a second signal ended the process";
    EXPECT_EQ(fixture.wait(10s), 4) << "exited with run()'s code, not by the signal";
    const std::string log = fixture.err();
    EXPECT_EQ(occurrences(log, "already stopping"), 2U) << log;
    EXPECT_NE(log.find("\"stop_calls\":1"), std::string::npos) << "stop() is called once: " << log;
}

}  // namespace
}  // namespace relay::test
