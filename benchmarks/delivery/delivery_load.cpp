// delivery_load: the driver of benchmarks/delivery/run-delivery-bench.sh (issue 5's delivery benchmarks).
// It never starts a relay service itself; the script does, and hands it their pids in a file.
//
//   delivery_load prefill --bootstrap B --topic T --records N --referrals R [--format fhir-r4]
//       Creates T (6 partitions) and fills it with N records as the router writes them to
//       relay.deliveries.v1: key "<destination>|<referral ref>", the router's headers, and a body the
//       router's own renderer made from an ocean-sim bundle (one per referral; fhir-r4: ~9.7 KB).
//       Records go out interleaved (every referral's first event, then every second event, ...).
//
//   delivery_load receive --port P --expect N --pids-file F
//       A fast hub system: pos-sim in-process (route /hub, no auth, answers 200 at once) behind a wrapper
//       that notes every arrival's time. Prints "READY <port>", waits for F ("<name> <pid>" lines,
//       written by the script once the processes run), then for N distinct idempotency keys. CPU of each
//       named process, of this driver and of the whole machine is sampled at the first and at the N-th
//       distinct arrival: the window the rate and the CPU per delivery are computed over.
//
//   delivery_load e2e --port P --ingress-port I --client-id C --client-secret S --pids-file F
//                     [--rates 50,200,500] [--duration 20] [--warmup 3]
//       The whole chain: POSTs unique Ocean bundles (ocean-sim's generator, one referral each) to the
//       ingress with a Bearer token from its OAuth2 token endpoint, open loop at a fixed rate, notes when
//       each got its 200 ("accepted"), and when the same receiver as above saw the referral's delivery
//       (X-Relay-Referral-Ref). Per rate: wait for a quiet machine, warm up (and drain), sample each
//       process's CPU for --idle s without traffic, measure, drain. The CPU per referral is reported as is
//       and "marginal" (above the idle rate: what the traffic itself costs).
//
//   delivery_load hop --bootstrap B --topic T --pids-file F [--rates 200]
//       The delivery service alone: records produced straight to T (linger 0) at a fixed rate, one
//       referral each; latency from the produce call (and from the broker's ack) to the same receiver.
//
// Every measurement ends in one "RESULT key=value ..." line on stdout; progress goes to stderr.
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "generator.hpp"
#include "pos_sim.hpp"
#include "relay/core/config.hpp"
#include "relay/core/log.hpp"
#include "relay/http/async_client.hpp"
#include "relay/http/client.hpp"
#include "relay/http/server.hpp"
#include "relay/kafka/admin.hpp"
#include "relay/kafka/producer.hpp"
#include "relay/transform/referral.hpp"
#include "relay/transform/render.hpp"

namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using Clock = std::chrono::steady_clock;
using namespace relay;

constexpr const char* kSite = "1234";
constexpr const char* kListingRef = "hub_bench-1234";
constexpr const char* kExternalServiceId = "BENCH";
// What the ingress sets on every inbound record and the router copies onto each delivery record.
constexpr const char* kTraceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

void say(const std::string& text) {
    std::cerr << "delivery_load: " << text << std::endl;
}

double seconds_between(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

// ---- /proc --------------------------------------------------------------------------------------------

/// utime + stime of every thread of `pid`, in clock ticks (fields 14 and 15 of /proc/PID/stat); -1 if gone.
long long cpu_ticks(pid_t pid) {
    std::ifstream in(fmt::format("/proc/{}/stat", pid));
    std::string stat;
    if (!std::getline(in, stat)) return -1;
    const auto close = stat.rfind(')');
    if (close == std::string::npos) return -1;
    std::istringstream fields(stat.substr(close + 2));
    std::string field;
    long long utime = 0, stime = 0;
    // After "(comm) ": state is field 3, so utime (14) is the 12th token and stime (15) the 13th.
    for (int i = 3; i <= 15 && fields >> field; ++i) {
        if (i == 14) utime = std::stoll(field);
        if (i == 15) stime = std::stoll(field);
    }
    return utime + stime;
}

/// A kB field of /proc/PID/status (VmRSS, VmHWM); -1 if not there.
long long status_kb(pid_t pid, std::string_view field) {
    std::ifstream in(fmt::format("/proc/{}/status", pid));
    std::string line;
    while (std::getline(in, line)) {
        if (line.starts_with(field) && line.size() > field.size() && line[field.size()] == ':')
            return std::stoll(line.substr(field.size() + 1));
    }
    return -1;
}

/// Busy and total jiffies of all CPUs (/proc/stat's first line; idle = idle + iowait).
std::pair<long long, long long> machine_ticks() {
    std::ifstream in("/proc/stat");
    std::string cpu;
    in >> cpu;
    long long v = 0, total = 0, idle = 0;
    for (int i = 0; i < 8 && in >> v; ++i) {
        total += v;
        if (i == 3 || i == 4) idle += v;
    }
    return {total - idle, total};
}

/// Voluntary + involuntary context switches of every thread of `pid`.
long long context_switches(pid_t pid) {
    long long total = 0;
    std::error_code ec;
    for (const auto& task : std::filesystem::directory_iterator(fmt::format("/proc/{}/task", pid), ec)) {
        std::ifstream in(task.path() / "status");
        std::string line;
        while (std::getline(in, line))
            if (line.starts_with("voluntary_ctxt_switches:") || line.starts_with("nonvoluntary_ctxt_switches:"))
                total += std::stoll(line.substr(line.find(':') + 1));
    }
    return total;
}

/// CPU ticks of each thread of `pid`, by "tid:comm".
std::map<std::string, long long> thread_ticks(pid_t pid) {
    std::map<std::string, long long> out;
    std::error_code ec;
    for (const auto& task : std::filesystem::directory_iterator(fmt::format("/proc/{}/task", pid), ec)) {
        std::ifstream in(task.path() / "stat");
        std::string stat;
        if (!std::getline(in, stat)) continue;
        const auto open = stat.find('('), close = stat.rfind(')');
        if (open == std::string::npos || close == std::string::npos) continue;
        std::string comm = stat.substr(open + 1, close - open - 1);
        std::replace(comm.begin(), comm.end(), ' ', '_');
        std::istringstream fields(stat.substr(close + 2));
        std::string field;
        long long ticks = 0;
        for (int i = 3; i <= 15 && fields >> field; ++i)
            if (i == 14 || i == 15) ticks += std::stoll(field);
        out[task.path().filename().string() + ":" + comm] = ticks;
    }
    return out;
}

double self_cpu_seconds() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double load1() {
    std::ifstream in("/proc/loadavg");
    double l = -1;
    in >> l;
    return l;
}

using Pids = std::vector<std::pair<std::string, pid_t>>;

struct Snapshot {
    Clock::time_point at;
    std::map<std::string, long long> ticks;
    std::map<std::string, long long> switches;
    std::map<std::string, std::map<std::string, long long>> threads;  ///< per process: "tid:comm" -> ticks
    long long machine_busy = 0, machine_total = 0;
    double self_cpu = 0;
    double load = 0;
};

Snapshot snapshot(const Pids& pids) {
    Snapshot s;
    s.at = Clock::now();
    for (const auto& [name, pid] : pids) {
        s.ticks[name] = cpu_ticks(pid);
        s.switches[name] = context_switches(pid);
        if (name != "broker") s.threads[name] = thread_ticks(pid);  // the JVM has dozens
    }
    std::tie(s.machine_busy, s.machine_total) = machine_ticks();
    s.self_cpu = self_cpu_seconds();
    s.load = load1();
    return s;
}

/// "<name> <pid>" lines; waits for the file (the script writes it once every process is up).
Pids wait_for_pids(const std::string& path, std::chrono::seconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!std::filesystem::exists(path)) {
        if (Clock::now() > deadline) throw std::runtime_error("no pids file " + path);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    Pids pids;
    std::ifstream in(path);
    std::string name;
    pid_t pid = 0;
    while (in >> name >> pid) pids.emplace_back(name, pid);
    return pids;
}

/// key=value pairs for the CPU of each process (ms), the driver, the rest of the machine, and the load.
/// With `idle` (two snapshots around a period without traffic), also each process's idle cores and its
/// CPU per item above that idle rate ("marginal").
std::string window_fields(const Snapshot& a,
                          const Snapshot& b,
                          const Pids& pids,
                          std::size_t items,
                          const std::optional<std::pair<Snapshot, Snapshot>>& idle = std::nullopt) {
    const double tck = static_cast<double>(::sysconf(_SC_CLK_TCK));
    const double secs = seconds_between(a.at, b.at);
    std::string out;
    double named_ms = 0;
    for (const auto& [name, pid] : pids) {
        const double ms = static_cast<double>(b.ticks.at(name) - a.ticks.at(name)) * 1000.0 / tck;
        named_ms += ms;
        out += fmt::format(" cpu_ms.{}={:.0f} cpu_us_per_item.{}={:.1f} cores.{}={:.3f}", name, ms, name,
                           items ? ms * 1000.0 / static_cast<double>(items) : 0.0, name, secs > 0 ? ms / 1000.0 / secs : 0.0);
        if (idle) {
            const double idle_secs = seconds_between(idle->first.at, idle->second.at);
            const double idle_cores =
                static_cast<double>(idle->second.ticks.at(name) - idle->first.ticks.at(name)) / tck / idle_secs;
            const double marginal_ms = ms - idle_cores * secs * 1000.0;
            out += fmt::format(" idle_cores.{}={:.4f} marginal_us_per_item.{}={:.1f}", name, idle_cores, name,
                               items ? marginal_ms * 1000.0 / static_cast<double>(items) : 0.0);
        }
        out += fmt::format(" rss_kb.{}={} hwm_kb.{}={}", name, status_kb(pid, "VmRSS"), name, status_kb(pid, "VmHWM"));
        if (a.switches.count(name) && b.switches.count(name) && items)
            out += fmt::format(" cs_per_item.{}={:.2f}", name,
                               static_cast<double>(b.switches.at(name) - a.switches.at(name)) / static_cast<double>(items));
        // The busiest threads (cores over the window), e.g. "12345:ocean-relay-del:0.52,12350:rdk:broker1:0.10".
        if (a.threads.count(name) && b.threads.count(name) && secs > 0) {
            std::vector<std::pair<double, std::string>> busy;
            for (const auto& [thread, ticks] : b.threads.at(name)) {
                const auto before = a.threads.at(name).find(thread);
                const long long used = ticks - (before == a.threads.at(name).end() ? 0 : before->second);
                if (used > 0) busy.emplace_back(static_cast<double>(used) / tck / secs, thread);
            }
            std::sort(busy.rbegin(), busy.rend());
            std::string list;
            for (std::size_t i = 0; i < busy.size() && i < 6; ++i)
                list += fmt::format("{}{}:{:.2f}", i ? "," : "", busy[i].second, busy[i].first);
            if (!list.empty()) out += fmt::format(" threads.{}={}", name, list);
        }
    }
    const double driver_ms = (b.self_cpu - a.self_cpu) * 1000.0;
    const double busy_ms = static_cast<double>(b.machine_busy - a.machine_busy) * 1000.0 / tck;
    const double total_ms = static_cast<double>(b.machine_total - a.machine_total) * 1000.0 / tck;
    out += fmt::format(" cpu_ms.driver={:.0f} cores.driver={:.3f} machine_busy_pct={:.0f} other_cores={:.3f}"
                       " load1_start={:.2f} load1_end={:.2f}",
                       driver_ms,
                       secs > 0 ? driver_ms / 1000.0 / secs : 0.0,
                       total_ms > 0 ? 100.0 * busy_ms / total_ms : 0.0,
                       secs > 0 ? std::max(0.0, (busy_ms - named_ms - driver_ms) / 1000.0 / secs) : 0.0,
                       a.load,
                       b.load);
    return out;
}

/// Waits (polling every `poll`) until the 1-minute load average is below `threshold`, at most `max_wait`.
void wait_quiet(double threshold, std::chrono::seconds max_wait, std::chrono::seconds poll) {
    const auto deadline = Clock::now() + max_wait;
    double l = load1();
    while (l >= threshold && Clock::now() < deadline) {
        say(fmt::format("load average {:.2f} >= {:.2f}: waiting {} s for a quiet machine", l, threshold, poll.count()));
        std::this_thread::sleep_for(poll);
        l = load1();
    }
    if (l >= threshold) say(fmt::format("still busy (load {:.2f}) after {} s: measuring anyway", l, max_wait.count()));
}

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    // Nearest rank.
    const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
    return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

// ---- the receiving hub system ---------------------------------------------------------------------------

/// pos-sim on a thread of its own (route "hub" at /hub, no auth), every request's arrival time passed to
/// `on_arrival` before pos-sim handles it.
class Receiver {
   public:
    using Observer = std::function<void(const std::string& referral_ref, const std::string& idempotency_key, Clock::time_point at)>;

    Receiver(std::uint16_t port, Observer observer) : observer_(std::move(observer)) {
        const std::string yaml = fmt::format(R"(
log_level: warn
listener: {{address: 127.0.0.1, port: {}}}
admin: {{address: 127.0.0.1, port: 0}}
routes:
  - name: hub
)",
                                             port);
        auto parse = [&] {
            auto reader = ConfigReader::from_string(yaml, "RELAY_BENCH_POS", [](const std::string&) { return std::optional<std::string>(); });
            return pos_sim::load_pos_sim_config(reader);
        };
        sim_ = std::make_unique<pos_sim::PosSim>(parse());
        inner_ = sim_->handler();
        server_ = std::make_unique<http::Server>(ioc_, parse().listener, [this](http::Request& request, const http::RequestContext& context) {
            return handle(request, context);
        });
        server_->start();
        thread_ = std::thread([this] { ioc_.run(); });
    }
    ~Receiver() {
        server_->stop_accepting();
        ioc_.stop();
        thread_.join();
    }
    Receiver(const Receiver&) = delete;
    Receiver& operator=(const Receiver&) = delete;

    [[nodiscard]] std::uint16_t port() const { return server_->port(); }
    pos_sim::PosSim& sim() { return *sim_; }

   private:
    asio::awaitable<http::Response> handle(http::Request& request, const http::RequestContext& context) {
        const auto at = Clock::now();
        auto header = [&request](std::string_view name) {
            auto v = request[boost::core::string_view(name.data(), name.size())];
            return std::string(v.data(), v.size());
        };
        observer_(header("x-relay-referral-ref"), header("idempotency-key"), at);
        co_return co_await inner_(request, context);
    }

    Observer observer_;
    asio::io_context ioc_{1};
    std::unique_ptr<pos_sim::PosSim> sim_;
    http::Handler inner_;
    std::unique_ptr<http::Server> server_;
    std::thread thread_;
};

ocean_sim::ReferralSpec spec_of(std::uint64_t seed) {
    ocean_sim::ReferralSpec spec;
    spec.seed = seed;
    spec.site_number = kSite;
    spec.listing_ref = kListingRef;
    spec.external_service_id = kExternalServiceId;
    spec.request_url = fmt::format("https://relay.example/ocean/{}/fhir", kSite);
    return spec;
}

// ---- prefill ----------------------------------------------------------------------------------------------

struct PrefillOptions {
    std::string bootstrap;
    std::string topic;
    int partitions = 6;
    int records = 20'000;
    int referrals = 2'000;
    std::string destination = "hub";
    std::string format = "fhir-r4";
    std::uint64_t seed = 1;
};

/// `count` delivery bodies as the router makes them: ocean-sim bundles (seeds from `seed`) parsed and
/// rendered in `format`. Fills `refs` and `bodies`; returns the mean body size.
std::size_t render_bodies(const std::string& format_name, std::uint64_t seed, int count,
                          std::vector<std::string>& refs, std::vector<std::string>& bodies,
                          std::size_t* min_out = nullptr, std::size_t* max_out = nullptr) {
    const auto format = transform::parse_format(format_name);
    if (!format) throw std::runtime_error("unknown format " + format_name);
    const auto t_gen = Clock::now();
    transform::ReferralParser parser;
    std::size_t min_body = SIZE_MAX, max_body = 0, sum_body = 0;
    for (int i = 0; i < count; ++i) {
        auto bundle = ocean_sim::generate(spec_of(seed + static_cast<std::uint64_t>(i)));
        auto parsed = parser.parse(bundle.body);
        if (!parsed.referral) throw std::runtime_error("generated bundle does not parse: " + parsed.error->message);
        std::string body = transform::render(*format, *parsed.referral, bundle.body);
        min_body = std::min(min_body, body.size());
        max_body = std::max(max_body, body.size());
        sum_body += body.size();
        refs.push_back(bundle.referral_ref);
        bodies.push_back(std::move(body));
    }
    say(fmt::format("{} bodies ({}) rendered in {:.1f} s: {}-{} B, mean {} B",
                    count, format_name, seconds_between(t_gen, Clock::now()), min_body, max_body, sum_body / count));
    if (min_out) *min_out = min_body;
    if (max_out) *max_out = max_body;
    return sum_body / static_cast<std::size_t>(count);
}

/// The router's headers for one delivery record (delivery_test_util.cpp's produce_delivery has the same).
std::vector<kafka::Header> delivery_headers(const std::string& destination, const std::string& format, const std::string& ref,
                                            const std::string& idempotency_key, const char* event, const std::string& source) {
    return {{"destination", destination},
            {"format", format},
            {"content-type", transform::content_type(*transform::parse_format(format))},
            {"idempotency-key", idempotency_key},
            {"referral-ref", ref},
            {"event", event},
            {"site", kSite},
            {"attempt", "0"},
            {"source", source},
            {"traceparent", kTraceparent}};
}

int prefill(const PrefillOptions& o) {
    std::vector<std::string> refs, bodies;
    std::size_t min_body = 0, max_body = 0;
    const std::size_t mean_body = render_bodies(o.format, o.seed, o.referrals, refs, bodies, &min_body, &max_body);

    kafka::ProducerConfig config;
    config.client.bootstrap_servers = o.bootstrap;
    config.client.client_id = "delivery-bench-prefill";
    config.linger = std::chrono::milliseconds(5);  // as the router's producer
    config.delivery_timeout = std::chrono::seconds(60);
    kafka::Producer producer(config);
    kafka::ensure_topics(producer.handle(), {kafka::TopicSpec{o.topic, o.partitions, 1, 0, {}}}, true, std::chrono::seconds(30));

    asio::io_context ioc{1};
    auto work = asio::make_work_guard(ioc);
    std::thread io([&] { ioc.run(); });
    std::mutex mutex;
    std::condition_variable cv;
    int outstanding = 0, acked = 0, failed = 0;
    std::string first_error;
    const char* events[] = {"add-service-request", "notify-update-service-request"};
    const auto t0 = Clock::now();
    std::size_t bytes = 0;
    for (int k = 0; k < o.records; ++k) {
        const int i = k % o.referrals;
        const int e = k / o.referrals;
        {
            std::unique_lock lock(mutex);
            cv.wait(lock, [&] { return outstanding < 5'000; });
            ++outstanding;
        }
        auto headers = delivery_headers(o.destination, o.format, refs[i], fmt::format("{}/{}", refs[i], e),
                                        events[e == 0 ? 0 : 1], fmt::format("ocean.inbound.v1/{}/{}", i % o.partitions, k));
        bytes += bodies[i].size();
        producer.async_produce(o.topic,
                               o.destination + "|" + refs[i],
                               bodies[i],
                               std::move(headers),
                               std::chrono::seconds(60),
                               asio::bind_executor(ioc, [&](kafka::DeliveryResult r) {
                                   std::lock_guard lock(mutex);
                                   --outstanding;
                                   if (r.ok) {
                                       ++acked;
                                   } else if (failed++ == 0) {
                                       first_error = r.error.message;
                                   }
                                   cv.notify_all();
                               }));
    }
    {
        std::unique_lock lock(mutex);
        cv.wait(lock, [&] { return outstanding == 0; });
    }
    const double secs = seconds_between(t0, Clock::now());
    work.reset();
    io.join();
    if (failed > 0) throw std::runtime_error(fmt::format("{} records not acknowledged: {}", failed, first_error));
    std::cout << fmt::format("RESULT mode=prefill records={} referrals={} format={} bytes={} body_min={} body_mean={} body_max={} seconds={:.2f}",
                             acked, o.referrals, o.format, bytes, min_body, mean_body, max_body, secs)
              << std::endl;
    return 0;
}

// ---- receive (throughput) ----------------------------------------------------------------------------------

struct ReceiveOptions {
    std::uint16_t port = 0;
    std::size_t expect = 20'000;
    std::string pids_file;
    int timeout_s = 120;
};

int receive(const ReceiveOptions& o) {
    std::mutex mutex;
    std::condition_variable cv;
    std::unordered_set<std::string> keys;
    std::size_t arrivals = 0;
    Pids pids;
    bool pids_known = false;
    std::optional<Snapshot> first, last;
    std::vector<int> per_second;  // distinct arrivals per second since the first

    Receiver receiver(o.port, [&](const std::string&, const std::string& key, Clock::time_point at) {
        std::lock_guard lock(mutex);
        ++arrivals;
        if (!keys.insert(key).second) return;
        if (keys.size() == 1) {
            first = snapshot(pids_known ? pids : Pids{});
            first->at = at;
        }
        const auto second = static_cast<std::size_t>(seconds_between(first->at, at));
        if (per_second.size() <= second) per_second.resize(second + 1, 0);
        ++per_second[second];
        if (keys.size() == o.expect) {
            last = snapshot(pids);
            last->at = at;
            cv.notify_all();
        }
    });
    std::cout << "READY " << receiver.port() << std::endl;
    Snapshot started;  // about when the script started the delivery process (it writes the file right after)
    {
        auto p = wait_for_pids(o.pids_file, std::chrono::seconds(o.timeout_s));
        std::lock_guard lock(mutex);
        pids = std::move(p);
        pids_known = true;
        started = snapshot(pids);
    }
    say(fmt::format("receiving on :{}; waiting for {} deliveries", receiver.port(), o.expect));
    const auto deadline = Clock::now() + std::chrono::seconds(o.timeout_s);
    std::unique_lock lock(mutex);
    while (!last && Clock::now() < deadline) {
        cv.wait_for(lock, std::chrono::seconds(5));
        say(fmt::format("{} of {} delivered ({} requests)", keys.size(), o.expect, arrivals));
    }
    const bool complete = last.has_value();
    if (!first) {
        std::cout << "RESULT mode=throughput complete=0 unique=0 arrivals=0" << std::endl;
        return 3;
    }
    if (!last) {
        last = snapshot(pids);
    }
    // The first snapshot may have been taken before the pids were known (they are, in practice).
    for (const auto& [name, pid] : pids)
        if (!first->ticks.count(name)) first->ticks[name] = -1;
    const double secs = seconds_between(first->at, last->at);
    const std::size_t unique = keys.size();
    // Before the first delivery: start-up, topic checks, the group join and the first fetch.
    std::string startup;
    const double tck = static_cast<double>(::sysconf(_SC_CLK_TCK));
    for (const auto& [name, pid] : pids)
        if (first->ticks.at(name) >= 0)
            startup += fmt::format(" startup_cpu_ms.{}={:.0f}", name,
                                   static_cast<double>(first->ticks.at(name) - started.ticks.at(name)) * 1000.0 / tck);
    std::string timeline;
    for (std::size_t s = 0; s < per_second.size(); ++s) timeline += (s ? "," : "") + std::to_string(per_second[s]);
    std::cout << fmt::format("RESULT mode=throughput complete={} expected={} unique={} arrivals={} duplicates={} seconds={:.3f} rate={:.1f}",
                             complete ? 1 : 0, o.expect, unique, arrivals, arrivals - unique, secs,
                             secs > 0 ? static_cast<double>(unique - 1) / secs : 0.0)
              << fmt::format(" start_to_first_s={:.2f}", seconds_between(started.at, first->at)) << startup
              << window_fields(*first, *last, pids, unique) << " per_second=" << timeline << std::endl;
    return complete ? 0 : 3;
}

// ---- e2e --------------------------------------------------------------------------------------------------

struct E2eOptions {
    std::uint16_t port = 0;
    std::uint16_t ingress_port = 0;
    std::string client_id;
    std::string client_secret;
    std::string pids_file;
    std::vector<double> rates{50, 200, 500};
    double duration = 20;
    double warmup = 3;
    double drain = 30;
    double idle = 5;
    std::uint64_t seed = 1'000'000;
    std::size_t max_outstanding = 256;
    double quiet_load = 1.0;
    int quiet_max_s = 1200;
    int quiet_poll_s = 30;
};

struct Item {
    std::string ref;
    std::string body;
    Clock::time_point due, sent, accepted;
    int status = 0;
};

struct Arrival {
    Clock::time_point first;
    int count = 0;
};

class E2e {
   public:
    explicit E2e(E2eOptions o)
        : o_(std::move(o)),
          receiver_(o_.port, [this](const std::string& ref, const std::string&, Clock::time_point at) { arrived(ref, at); }) {}

    int run() {
        std::cout << "READY " << receiver_.port() << std::endl;
        pids_ = wait_for_pids(o_.pids_file, std::chrono::seconds(600));
        token_ = fetch_token();
        url_ = *http::Url::parse(fmt::format("http://127.0.0.1:{}/ocean/{}/fhir", o_.ingress_port, kSite));
        auto work = asio::make_work_guard(ioc_);
        std::thread io([this] { ioc_.run(); });
        int rc = 0;
        try {
            for (const double rate : o_.rates) rc = std::max(rc, run_rate(rate));
        } catch (...) {
            work.reset();
            ioc_.stop();
            io.join();
            throw;
        }
        work.reset();
        io.join();
        return rc;
    }

   private:
    void arrived(const std::string& ref, Clock::time_point at) {
        std::lock_guard lock(mutex_);
        Arrival& a = arrivals_[ref];
        if (a.count++ == 0) {
            a.first = at;
            if (phase_.count(ref)) {
                ++phase_arrived_;
                if (phase_arrived_ >= phase_.size()) cv_.notify_all();
            }
        }
    }

    std::string fetch_token() {
        http::BlockingClient client("127.0.0.1", o_.ingress_port);
        auto res = client.post(fmt::format("/ocean/{}/oauth2/token", kSite),
                               "grant_type=client_credentials&client_id=" + o_.client_id + "&client_secret=" + o_.client_secret,
                               "application/x-www-form-urlencoded");
        if (res.result_int() != 200) throw std::runtime_error(fmt::format("token request: {} {}", res.result_int(), res.body()));
        return std::string(boost::json::parse(res.body()).as_object().at("access_token").as_string());
    }

    std::vector<Item> make_items(double rate, double seconds) {
        const auto n = static_cast<std::size_t>(rate * seconds + 0.5);
        std::vector<Item> items(n);
        for (auto& item : items) {
            auto bundle = ocean_sim::generate(spec_of(o_.seed++));
            item.ref = std::move(bundle.referral_ref);
            item.body = std::move(bundle.body);
        }
        return items;
    }

    asio::awaitable<void> post_one(Item& item) {
        http::ClientRequest request{bhttp::verb::post, url_.target, 11};
        request.set(bhttp::field::content_type, "application/fhir+json");
        request.set(bhttp::field::authorization, "Bearer " + token_);
        request.body() = std::move(item.body);
        item.sent = Clock::now();
        auto result = co_await client_->send(url_, std::move(request));
        item.accepted = Clock::now();
        item.status = result.ok() ? result.response->result_int() : -1;
        --outstanding_;
    }

    asio::awaitable<void> schedule(std::vector<Item>& items, double rate) {
        asio::steady_timer timer(co_await asio::this_coro::executor);
        const auto t0 = Clock::now() + std::chrono::milliseconds(5);
        for (std::size_t i = 0; i < items.size(); ++i) {
            items[i].due = t0 + std::chrono::nanoseconds(static_cast<std::int64_t>(static_cast<double>(i) * 1e9 / rate));
            timer.expires_at(items[i].due);
            co_await timer.async_wait(asio::use_awaitable);
            while (outstanding_ >= o_.max_outstanding) {
                timer.expires_after(std::chrono::microseconds(200));
                co_await timer.async_wait(asio::use_awaitable);
            }
            ++outstanding_;
            asio::co_spawn(ioc_, post_one(items[i]), asio::detached);
        }
        while (outstanding_ > 0) {
            timer.expires_after(std::chrono::milliseconds(1));
            co_await timer.async_wait(asio::use_awaitable);
        }
    }

    /// Sends `items` at `rate` and waits until every accepted one was delivered or `drain` s passed.
    void send_and_drain(std::vector<Item>& items, double rate) {
        {
            std::lock_guard lock(mutex_);
            phase_.clear();
            phase_arrived_ = 0;
            for (const auto& item : items) phase_.insert(item.ref);
        }
        asio::co_spawn(ioc_, schedule(items, rate), asio::use_future).get();
        std::unique_lock lock(mutex_);
        // Refused requests will never arrive: only wait for the accepted ones.
        std::size_t refused = 0;
        for (const auto& item : items)
            if (item.status != 200) ++refused;
        cv_.wait_until(lock, Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o_.drain)),
                       [&] { return phase_arrived_ + refused >= phase_.size(); });
    }

    int run_rate(double rate) {
        say(fmt::format("rate {}/s: generating {} + {} bundles", rate, rate * o_.warmup, rate * o_.duration));
        auto warm = make_items(rate, o_.warmup);
        auto items = make_items(rate, o_.duration);
        client_ = std::make_unique<http::AsyncClient>(ioc_.get_executor(), [] {
            http::ClientOptions options;
            options.max_idle_per_origin = 64;
            options.request_timeout = std::chrono::seconds(30);
            return options;
        }());
        wait_quiet(o_.quiet_load, std::chrono::seconds(o_.quiet_max_s), std::chrono::seconds(o_.quiet_poll_s));
        if (!warm.empty()) {
            say(fmt::format("rate {}/s: warm-up {} s", rate, o_.warmup));
            send_and_drain(warm, rate);
        }
        std::optional<std::pair<Snapshot, Snapshot>> idle;
        if (o_.idle > 0) {
            // What the processes spend with no traffic (librdkafka's and the services' timers, the JVM):
            // subtracted from the window for the "marginal" CPU per referral.
            Snapshot i0 = snapshot(pids_);
            std::this_thread::sleep_for(std::chrono::duration<double>(o_.idle));
            idle.emplace(std::move(i0), snapshot(pids_));
        }
        say(fmt::format("rate {}/s: measuring {} s", rate, o_.duration));
        const Snapshot before = snapshot(pids_);
        send_and_drain(items, rate);
        const Snapshot after = snapshot(pids_);

        std::vector<double> latency_ms, response_ms, lag_ms;
        std::size_t accepted = 0, refused = 0, lost = 0, duplicates = 0, negative = 0;
        Clock::time_point first_sent = items.front().sent, last_sent = items.front().sent, last_arrival = before.at;
        {
            std::lock_guard lock(mutex_);
            for (const auto& item : items) {
                first_sent = std::min(first_sent, item.sent);
                last_sent = std::max(last_sent, item.sent);
                lag_ms.push_back(std::chrono::duration<double, std::milli>(item.sent - item.due).count());
                if (item.status != 200) {
                    ++refused;
                    continue;
                }
                ++accepted;
                response_ms.push_back(std::chrono::duration<double, std::milli>(item.accepted - item.sent).count());
                const auto it = arrivals_.find(item.ref);
                if (it == arrivals_.end()) {
                    ++lost;
                    continue;
                }
                duplicates += static_cast<std::size_t>(it->second.count - 1);
                last_arrival = std::max(last_arrival, it->second.first);
                const double l = std::chrono::duration<double, std::milli>(it->second.first - item.accepted).count();
                if (l < 0) ++negative;
                latency_ms.push_back(l);
            }
        }
        const double send_secs = seconds_between(first_sent, last_sent);
        std::cout << fmt::format(
                         "RESULT mode=e2e rate={} sent={} accepted={} refused={} delivered={} lost={} duplicates={} negative={}"
                         " achieved_rate={:.1f} send_lag_p99_ms={:.2f} send_lag_max_ms={:.2f}"
                         " lat_p50_ms={:.2f} lat_p90_ms={:.2f} lat_p99_ms={:.2f} lat_p999_ms={:.2f} lat_max_ms={:.2f} lat_min_ms={:.2f} lat_mean_ms={:.2f}"
                         " resp_p50_ms={:.2f} resp_p99_ms={:.2f} resp_max_ms={:.2f} window_s={:.2f} drain_after_last_send_s={:.2f}",
                         rate, items.size(), accepted, refused, latency_ms.size(), lost, duplicates, negative,
                         send_secs > 0 ? static_cast<double>(items.size() - 1) / send_secs : 0.0,
                         percentile(lag_ms, 99), percentile(lag_ms, 100),
                         percentile(latency_ms, 50), percentile(latency_ms, 90), percentile(latency_ms, 99),
                         percentile(latency_ms, 99.9), percentile(latency_ms, 100), percentile(latency_ms, 0),
                         latency_ms.empty() ? 0.0 : std::accumulate(latency_ms.begin(), latency_ms.end(), 0.0) / static_cast<double>(latency_ms.size()),
                         percentile(response_ms, 50), percentile(response_ms, 99), percentile(response_ms, 100),
                         seconds_between(before.at, after.at), seconds_between(last_sent, last_arrival))
                  << window_fields(before, after, pids_, accepted, idle) << std::endl;
        client_.reset();
        return lost > 0 || refused > 0 ? 3 : 0;
    }

    E2eOptions o_;
    Receiver receiver_;
    Pids pids_;
    std::string token_;
    http::Url url_;
    asio::io_context ioc_{1};
    std::unique_ptr<http::AsyncClient> client_;
    std::size_t outstanding_ = 0;  // on ioc_'s thread only

    std::mutex mutex_;
    std::condition_variable cv_;
    std::unordered_map<std::string, Arrival> arrivals_;
    std::unordered_set<std::string> phase_;
    std::size_t phase_arrived_ = 0;
};

// ---- hop: the delivery service alone at fixed rates ----------------------------------------------------------

struct HopOptions {
    std::string bootstrap;
    std::string topic;
    int partitions = 6;
    std::string format = "fhir-r4";
    std::uint16_t port = 0;
    std::string pids_file;
    std::vector<double> rates{200};
    double duration = 10;
    double warmup = 2;
    double drain = 30;
    double idle = 5;
    std::uint64_t seed = 5'000'000;
    double quiet_load = 1.0;
    int quiet_max_s = 1200;
    int quiet_poll_s = 30;
};

/// Records produced straight to relay.deliveries.v1 (linger 0) at a fixed rate, one referral each: the
/// latency of the delivery service's hop alone, from the produce call (and from the broker's
/// acknowledgement) to the receiver.
class Hop {
   public:
    explicit Hop(HopOptions o)
        : o_(std::move(o)),
          receiver_(o_.port, [this](const std::string& ref, const std::string&, Clock::time_point at) { arrived(ref, at); }) {
        kafka::ProducerConfig config;
        config.client.bootstrap_servers = o_.bootstrap;
        config.client.client_id = "delivery-bench-hop";
        config.linger = std::chrono::milliseconds(0);
        producer_ = std::make_unique<kafka::Producer>(config);
        kafka::ensure_topics(producer_->handle(), {kafka::TopicSpec{o_.topic, o_.partitions, 1, 0, {}}}, true, std::chrono::seconds(30));
    }

    int run() {
        std::cout << "READY " << receiver_.port() << std::endl;
        pids_ = wait_for_pids(o_.pids_file, std::chrono::seconds(600));
        auto work = asio::make_work_guard(ioc_);
        std::thread io([this] { ioc_.run(); });
        int rc = 0;
        for (const double rate : o_.rates) rc = std::max(rc, run_rate(rate));
        work.reset();
        io.join();
        return rc;
    }

   private:
    struct Record {
        std::string ref, body;
        Clock::time_point called, acked;
        bool ok = false;
    };

    void arrived(const std::string& ref, Clock::time_point at) {
        std::lock_guard lock(mutex_);
        Arrival& a = arrivals_[ref];
        if (a.count++ == 0) {
            a.first = at;
            if (phase_.count(ref) && ++phase_arrived_ >= phase_.size()) cv_.notify_all();
        }
    }

    std::vector<Record> make(double rate, double seconds) {
        std::vector<std::string> refs, bodies;
        const int n = static_cast<int>(rate * seconds + 0.5);
        if (n == 0) return {};
        render_bodies(o_.format, o_.seed, n, refs, bodies);
        o_.seed += static_cast<std::uint64_t>(n);
        std::vector<Record> records(static_cast<std::size_t>(n));
        for (int i = 0; i < n; ++i) {
            records[i].ref = std::move(refs[i]);
            records[i].body = std::move(bodies[i]);
        }
        return records;
    }

    void send_and_drain(std::vector<Record>& records, double rate) {
        {
            std::lock_guard lock(mutex_);
            phase_.clear();
            phase_arrived_ = 0;
            for (const auto& r : records) phase_.insert(r.ref);
        }
        std::atomic<std::size_t> pending{records.size()};
        const auto t0 = Clock::now() + std::chrono::milliseconds(5);
        for (std::size_t i = 0; i < records.size(); ++i) {
            std::this_thread::sleep_until(t0 + std::chrono::nanoseconds(static_cast<std::int64_t>(static_cast<double>(i) * 1e9 / rate)));
            Record& r = records[i];
            r.called = Clock::now();
            producer_->async_produce(o_.topic, "hub|" + r.ref, std::move(r.body),
                                     delivery_headers("hub", o_.format, r.ref, r.ref + "/0", "add-service-request",
                                                      fmt::format("ocean.inbound.v1/0/{}", i)),
                                     std::chrono::seconds(30),
                                     asio::bind_executor(ioc_, [&r, &pending](kafka::DeliveryResult result) {
                                         r.acked = Clock::now();
                                         r.ok = result.ok;
                                         --pending;
                                     }));
        }
        while (pending > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        std::unique_lock lock(mutex_);
        cv_.wait_until(lock, Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o_.drain)),
                       [&] { return phase_arrived_ >= phase_.size(); });
    }

    int run_rate(double rate) {
        auto warm = make(rate, o_.warmup);
        auto records = make(rate, o_.duration);
        wait_quiet(o_.quiet_load, std::chrono::seconds(o_.quiet_max_s), std::chrono::seconds(o_.quiet_poll_s));
        if (!warm.empty()) {
            say(fmt::format("hop {}/s: warm-up {} s", rate, o_.warmup));
            send_and_drain(warm, rate);
        }
        std::optional<std::pair<Snapshot, Snapshot>> idle;
        if (o_.idle > 0) {
            Snapshot i0 = snapshot(pids_);
            std::this_thread::sleep_for(std::chrono::duration<double>(o_.idle));
            idle.emplace(std::move(i0), snapshot(pids_));
        }
        say(fmt::format("hop {}/s: measuring {} s", rate, o_.duration));
        const Snapshot before = snapshot(pids_);
        send_and_drain(records, rate);
        const Snapshot after = snapshot(pids_);
        std::vector<double> from_call, from_ack, ack;
        std::size_t failed = 0, lost = 0, duplicates = 0;
        {
            std::lock_guard lock(mutex_);
            for (const auto& r : records) {
                if (!r.ok) {
                    ++failed;
                    continue;
                }
                ack.push_back(std::chrono::duration<double, std::milli>(r.acked - r.called).count());
                const auto it = arrivals_.find(r.ref);
                if (it == arrivals_.end()) {
                    ++lost;
                    continue;
                }
                duplicates += static_cast<std::size_t>(it->second.count - 1);
                from_call.push_back(std::chrono::duration<double, std::milli>(it->second.first - r.called).count());
                from_ack.push_back(std::chrono::duration<double, std::milli>(it->second.first - r.acked).count());
            }
        }
        std::cout << fmt::format("RESULT mode=hop rate={} sent={} failed={} delivered={} lost={} duplicates={}"
                                 " call_p50_ms={:.2f} call_p90_ms={:.2f} call_p99_ms={:.2f} call_max_ms={:.2f}"
                                 " ack_p50_ms={:.2f} ack_p99_ms={:.2f} fromack_p50_ms={:.2f} fromack_p99_ms={:.2f} window_s={:.2f}",
                                 rate, records.size(), failed, from_call.size(), lost, duplicates,
                                 percentile(from_call, 50), percentile(from_call, 90), percentile(from_call, 99), percentile(from_call, 100),
                                 percentile(ack, 50), percentile(ack, 99), percentile(from_ack, 50), percentile(from_ack, 99),
                                 seconds_between(before.at, after.at))
                  << window_fields(before, after, pids_, from_call.size(), idle) << std::endl;
        return lost > 0 || failed > 0 ? 3 : 0;
    }

    HopOptions o_;
    Receiver receiver_;
    std::unique_ptr<kafka::Producer> producer_;
    Pids pids_;
    asio::io_context ioc_{1};
    std::mutex mutex_;
    std::condition_variable cv_;
    std::unordered_map<std::string, Arrival> arrivals_;
    std::unordered_set<std::string> phase_;
    std::size_t phase_arrived_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"delivery_load: the delivery benchmarks' driver (benchmarks/delivery/README in benchmarks/README.md)"};
    app.require_subcommand(1);
    log::set_service("delivery-bench");
    log::set_level("warn");

    PrefillOptions p;
    auto* pre = app.add_subcommand("prefill", "fill a deliveries topic with records as the router writes them");
    pre->add_option("--bootstrap", p.bootstrap)->required();
    pre->add_option("--topic", p.topic)->required();
    pre->add_option("--partitions", p.partitions);
    pre->add_option("--records", p.records);
    pre->add_option("--referrals", p.referrals);
    pre->add_option("--destination", p.destination);
    pre->add_option("--format", p.format, "ocean-fhir | fhir-r4 | open-api | hub-json");
    pre->add_option("--seed", p.seed);

    ReceiveOptions r;
    auto* rec = app.add_subcommand("receive", "a fast hub system that measures the delivery rate and CPU per delivery");
    rec->add_option("--port", r.port, "0 = any");
    rec->add_option("--expect", r.expect)->required();
    rec->add_option("--pids-file", r.pids_file)->required();
    rec->add_option("--timeout", r.timeout_s, "seconds to wait for the deliveries");

    E2eOptions e;
    std::string rates = "50,200,500";
    auto* e2e = app.add_subcommand("e2e", "ingress -> router -> delivery -> receiver latency at fixed rates");
    e2e->add_option("--port", e.port, "receiver port (0 = any)");
    e2e->add_option("--ingress-port", e.ingress_port)->required();
    e2e->add_option("--client-id", e.client_id)->required();
    e2e->add_option("--client-secret", e.client_secret)->required();
    e2e->add_option("--pids-file", e.pids_file)->required();
    e2e->add_option("--rates", rates, "comma-separated requests per second");
    e2e->add_option("--duration", e.duration);
    e2e->add_option("--warmup", e.warmup);
    e2e->add_option("--drain", e.drain, "seconds to wait for the last deliveries");
    e2e->add_option("--idle", e.idle, "seconds without traffic before each measured run, for the idle CPU (0 = none)");
    e2e->add_option("--seed", e.seed);
    e2e->add_option("--max-outstanding", e.max_outstanding);
    e2e->add_option("--quiet-load", e.quiet_load);
    e2e->add_option("--quiet-max", e.quiet_max_s);
    e2e->add_option("--quiet-poll", e.quiet_poll_s);

    HopOptions h;
    std::string hop_rates = "200";
    auto* hop = app.add_subcommand("hop", "the delivery service alone: produce -> receiver latency at fixed rates");
    hop->add_option("--bootstrap", h.bootstrap)->required();
    hop->add_option("--topic", h.topic)->required();
    hop->add_option("--partitions", h.partitions);
    hop->add_option("--format", h.format);
    hop->add_option("--port", h.port, "receiver port (0 = any)");
    hop->add_option("--pids-file", h.pids_file)->required();
    hop->add_option("--rates", hop_rates, "comma-separated records per second");
    hop->add_option("--duration", h.duration);
    hop->add_option("--warmup", h.warmup);
    hop->add_option("--drain", h.drain);
    hop->add_option("--idle", h.idle);
    hop->add_option("--quiet-load", h.quiet_load);
    hop->add_option("--quiet-max", h.quiet_max_s);
    hop->add_option("--quiet-poll", h.quiet_poll_s);

    CLI11_PARSE(app, argc, argv);
    auto parse_rates = [](const std::string& text) {
        std::vector<double> out;
        std::stringstream in(text);
        for (std::string part; std::getline(in, part, ',');) out.push_back(std::stod(part));
        return out;
    };
    try {
        if (*pre) return prefill(p);
        if (*rec) return receive(r);
        if (*e2e) {
            e.rates = parse_rates(rates);
            E2e run(e);
            return run.run();
        }
        if (*hop) {
            h.rates = parse_rates(hop_rates);
            Hop run(h);
            return run.run();
        }
    } catch (const std::exception& ex) {
        say(std::string("error: ") + ex.what());
        return 1;
    }
    return 2;
}
