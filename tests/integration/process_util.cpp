#include "process_util.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "relay/http/client.hpp"

extern char** environ;

namespace relay::test {

using namespace std::chrono_literals;

ScratchDir::ScratchDir(const std::string& prefix) {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() / fmt::format("{}-{}-{}", prefix, ::getpid(), counter++);
    std::filesystem::create_directories(path_);
}

ScratchDir::~ScratchDir() {
    if (::testing::Test::HasFailure())
        std::cerr << "kept " << path_.string() << " (configurations and process logs)\n";
    else
        std::filesystem::remove_all(path_);
}

ChildProcess::ChildProcess(const std::filesystem::path& dir,
                           const std::string& name,
                           const std::string& binary,
                           const std::string& yaml,
                           std::vector<std::string> extra_args)
    : config_(dir / (name + ".yaml")), log_(dir / (name + ".log")) {
    std::ofstream(config_) << yaml;
    std::vector<std::string> args{binary, "--config", config_.string()};
    for (auto& a : extra_args) args.push_back(std::move(a));
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 2, 1);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    if (posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
}

ChildProcess::~ChildProcess() {
    if (pid_ > 0) kill_hard();
    if (::testing::Test::HasFailure()) {
        std::ifstream in(log_);
        std::stringstream text;
        text << in.rdbuf();
        std::string s = text.str();
        if (s.size() > 12'000) s = "..." + s.substr(s.size() - 12'000);
        std::cerr << "---- " << log_.filename().string() << " ----\n" << s << "---- end ----\n";
    }
}

void ChildProcess::kill_hard() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
}

int ChildProcess::terminate(std::chrono::milliseconds limit) {
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + limit;
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        std::this_thread::sleep_for(20ms);
    }
    kill_hard();
    return -1;
}

bool ChildProcess::exited() {
    int status = 0;
    if (pid_ > 0 && ::waitpid(pid_, &status, WNOHANG) == pid_) pid_ = -1;
    return pid_ <= 0;
}

long proc_status_kib(pid_t pid, const std::string& field) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
    }
    return -1;
}

int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

std::pair<int, std::string> admin_get(int port, const std::string& target) {
    try {
        http::BlockingClient admin("127.0.0.1", static_cast<std::uint16_t>(port), 2s);
        const auto response = admin.get(target);
        return {static_cast<int>(response.result_int()), response.body()};
    } catch (const std::exception&) {
        return {0, ""};
    }
}

std::optional<double> sample(const std::string& exposition,
                             const std::string& name,
                             const std::map<std::string, std::string>& labels) {
    std::istringstream lines(exposition);
    for (std::string line; std::getline(lines, line);) {
        if (line.rfind(name, 0) != 0 || line.size() <= name.size()) continue;
        const char next = line[name.size()];
        if (next != '{' && next != ' ') continue;
        std::string label_text;
        std::size_t value_at = name.size() + 1;
        if (next == '{') {
            const auto close = line.find('}', name.size());
            if (close == std::string::npos) continue;
            label_text = line.substr(name.size(), close - name.size() + 1);
            value_at = close + 2;
        }
        const bool all = std::all_of(labels.begin(), labels.end(), [&](const auto& l) {
            return label_text.find(fmt::format("{}=\"{}\"", l.first, l.second)) != std::string::npos;
        });
        if (!all || value_at >= line.size()) continue;
        return std::stod(line.substr(value_at));
    }
    return std::nullopt;
}

std::optional<double> metric(int admin_port,
                             const std::string& name,
                             const std::map<std::string, std::string>& labels) {
    const auto [status, body] = admin_get(admin_port, "/metrics");
    if (status != 200) return std::nullopt;
    return sample(body, name, labels);
}

bool wait_ready(ChildProcess& process, int admin_port, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (process.exited()) return false;
        if (admin_get(admin_port, "/readyz").first == 200) return true;
        std::this_thread::sleep_for(100ms);
    }
    return false;
}

}  // namespace relay::test
