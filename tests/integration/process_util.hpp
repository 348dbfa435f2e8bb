// Services as child processes for the process-level tests (delivery, the whole loop): a scratch
// directory kept when a test fails, a child process with its configuration and log in it (the log printed
// when the test failed), free loopback ports, the admin endpoints and Prometheus samples.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace relay::test {

/// A scratch directory for one test's files (configurations, process logs): removed at the end of the
/// test, kept (and named) when it failed. Declared before the processes, so it outlives their logs.
class ScratchDir {
   public:
    explicit ScratchDir(const std::string& prefix = "relay-process");
    ~ScratchDir();
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    operator const std::filesystem::path&() const { return path_; }  // NOLINT(google-explicit-constructor)

   private:
    std::filesystem::path path_;
};

/// A service binary as a child process, its configuration (`yaml`) written to `<dir>/<name>.yaml` and
/// passed as `--config`, stdout and stderr in `<dir>/<name>.log` (the tail printed when the test failed).
/// SIGKILLed if still running when it goes out of scope.
class ChildProcess {
   public:
    ChildProcess(const std::filesystem::path& dir,
                 const std::string& name,
                 const std::string& binary,
                 const std::string& yaml,
                 std::vector<std::string> extra_args = {});
    ~ChildProcess();
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    [[nodiscard]] bool started() const { return pid_ > 0; }
    [[nodiscard]] pid_t pid() const { return pid_; }
    void kill_hard();
    /// SIGTERM; the exit code (-1 if it did not exit within `limit` and had to be killed).
    int terminate(std::chrono::milliseconds limit = std::chrono::seconds(30));
    /// Exited by itself (a crash or a configuration error): what the log says is in the failure message.
    [[nodiscard]] bool exited();
    [[nodiscard]] const std::filesystem::path& log_path() const { return log_; }

   private:
    std::filesystem::path config_, log_;
    pid_t pid_ = -1;
};

/// A field of /proc/<pid>/status in KiB ("VmRSS", "VmHWM"); -1 if it cannot be read.
long proc_status_kib(pid_t pid, const std::string& field);

/// A loopback port free a moment ago (bind port 0, read it, close): good enough for a test.
int free_port();

/// GET on a process's admin listener: {status, body}, status 0 if it does not answer (yet).
std::pair<int, std::string> admin_get(int port, const std::string& target);

/// One sample of a Prometheus text exposition: the metric `name` whose labels include every one of
/// `labels` (any order, others allowed). nullopt if there is none.
std::optional<double> sample(const std::string& exposition,
                             const std::string& name,
                             const std::map<std::string, std::string>& labels = {});

/// The sample from the process's /metrics.
std::optional<double> metric(int admin_port,
                             const std::string& name,
                             const std::map<std::string, std::string>& labels = {});

/// Waits (up to `limit`) until the process answers /readyz with 200; false if it exited or never did.
bool wait_ready(ChildProcess& process,
                int admin_port,
                std::chrono::milliseconds limit = std::chrono::seconds(60));

}  // namespace relay::test
