// The command line's usage errors: all exit 2 with a message naming the option, before any broker is
// contacted (the bootstrap address below has nothing listening).
#include "cli.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "record.hpp"

namespace relay::relayctl {
namespace {

struct Result {
    int code = -1;
    std::string out, err;
};

Result run(std::vector<std::string> args) {
    ::unsetenv("RELAY_KAFKA_BOOTSTRAP_SERVERS");
    args.insert(args.begin(), "relayctl");
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    std::ostringstream out, err;
    Result r;
    r.code = run_cli(static_cast<int>(argv.size()), argv.data(), out, err, {});
    r.out = out.str();
    r.err = err.str();
    return r;
}

const std::string kNobody = "--bootstrap-servers=127.0.0.1:1";

TEST(RelayctlCli, HelpAndVersionExitZero) {
    const auto help = run({"--help"});
    EXPECT_EQ(help.code, kExitOk);
    EXPECT_NE(help.out.find("dlq"), std::string::npos);
    const auto replay_help = run({"dlq", "replay", "--help"});
    EXPECT_EQ(replay_help.code, kExitOk);
    EXPECT_NE(replay_help.out.find("--dry-run"), std::string::npos);
    EXPECT_EQ(run({"--version"}).code, kExitOk);
    EXPECT_NE(help.out.find("--inbound"), std::string::npos) << "the router's dead letters";
    EXPECT_NE(replay_help.out.find("--event"), std::string::npos);
    EXPECT_NE(replay_help.out.find("--site"), std::string::npos);
}

TEST(RelayctlCli, ParseErrorsAreUsageErrors) {
    EXPECT_EQ(run({}).code, kExitUsage);
    EXPECT_EQ(run({"dlq"}).code, kExitUsage);
    EXPECT_EQ(run({"dlq", "purge"}).code, kExitUsage);
    EXPECT_EQ(run({"dlq", "list", "--format", "xml"}).code, kExitUsage);
    EXPECT_EQ(run({"dlq", "inspect"}).code, kExitUsage);
}

TEST(RelayctlCli, ReplayNeedsAFilterOrAll) {
    const auto r = run({"dlq", "replay", kNobody, "--yes"});
    EXPECT_EQ(r.code, kExitUsage);
    EXPECT_NE(r.err.find("replay needs a filter"), std::string::npos) << r.err;
    EXPECT_EQ(run({"dlq", "replay", kNobody, "--dry-run"}).code, kExitUsage);
    const auto both = run({"dlq", "replay", kNobody, "--all", "--destination", "intake"});
    EXPECT_EQ(both.code, kExitUsage);
    EXPECT_NE(both.err.find("--all"), std::string::npos) << both.err;
}

TEST(RelayctlCli, MistakesAreNamed) {
    const auto expect = [](std::vector<std::string> args, const std::string& message) {
        const auto r = run(std::move(args));
        EXPECT_EQ(r.code, kExitUsage);
        EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
    };
    expect({"dlq", "list"}, "no Kafka bootstrap servers");
    expect({"dlq", "list", kNobody, "--since", "yesterday"}, "--since: expected an RFC 3339 time");
    expect({"dlq", "list", kNobody, "--until", "2026-11-24T10:00:00"}, "--until:");
    expect({"dlq", "list", kNobody, "--since", "1h", "--until", "2h"}, "is after --until");
    expect({"dlq", "list", kNobody, "--record", "3"}, "--record: expected PARTITION:OFFSET");
    expect({"dlq", "inspect", kNobody, "x:1"}, "inspect: expected PARTITION:OFFSET");
    expect({"dlq", "list", kNobody, "--dlq-topic", "no spaces"}, "--dlq-topic: 'no spaces' is not a valid");
    expect({"dlq", "list", kNobody, "--timeout", "soon"}, "--timeout:");
    expect({"dlq", "list", kNobody, "--kafka-property", "no.such.property=1"}, "no.such.property");
    // A malformed property is not repeated: it may hold a password.
    const auto secret = run({"dlq", "list", kNobody, "--kafka-property", "sasl.password:hunter2"});
    EXPECT_EQ(secret.code, kExitUsage);
    EXPECT_EQ(secret.err.find("hunter2"), std::string::npos) << secret.err;
}

TEST(RelayctlCli, TheEnvironmentGivesTheBootstrapServers) {
    ::setenv("RELAY_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1", 1);
    const char* argv[] = {"relayctl", "dlq", "list", "--timeout", "300ms"};
    std::ostringstream out, err;
    // Read from the environment, so the failure is the unreachable cluster (1), not a usage error (2).
    EXPECT_EQ(run_cli(5, argv, out, err, {}), kExitFailed);
    EXPECT_NE(err.str().find("cannot reach the Kafka cluster at 127.0.0.1:1"), std::string::npos)
        << err.str();
    ::unsetenv("RELAY_KAFKA_BOOTSTRAP_SERVERS");
}

}  // namespace
}  // namespace relay::relayctl
