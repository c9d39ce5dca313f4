// Fan-out on a LAN of namespaces (issue 10): one seeder, N downloaders
// starting together, every host's uplink capped at 100 Mbit/s with tc. With
// swarming the downloaders serve each other the chunks they have verified,
// so all of them together take about as long as one download alone (before
// swarming: 7.8x for 8 downloaders of 48 MiB).
//
// The CI size is the issue's: 48 MiB and 8 downloaders (at 24 MiB the fixed
// costs, start-up and the first seeder polls, made the ratio 1.34-1.49 against
// the 1.5 bound; at 48 MiB it was 1.18-1.21). bench/fanout.sh runs the same
// cases bigger through the environment:
//   P2P_SWARM_MIB          file size in MiB (default 48)
//   P2P_SWARM_DOWNLOADERS  downloaders (default 8, 1..30)
//   P2P_SWARM_UNCAPPED=1   no tc (the 1 -> 16 correctness run): the ratio is
//                          reported, not checked (2 shared cores bound it)
#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>

#include <catch2/catch.hpp>

#include "storage/resume.hpp"
#include "tests/lan/lan_util.hpp"

using namespace p2p::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const std::string file_name = "fan.bin";

uint64_t env_number(const char* name, uint64_t fallback, uint64_t lo, uint64_t hi) {
  auto* v = std::getenv(name);
  if (v == nullptr || *v == '\0')
    return fallback;
  return std::clamp<uint64_t>(std::strtoull(v, nullptr, 10), lo, hi);
}

uint64_t swarm_size() {
  return env_number("P2P_SWARM_MIB", 48, 1, 4096) << 20;
}
size_t swarm_downloaders() {
  return env_number("P2P_SWARM_DOWNLOADERS", 8, 1, 30);
}
bool capped() {
  auto* v = std::getenv("P2P_SWARM_UNCAPPED");
  return v == nullptr || std::string(v) != "1";
}

// Caps host i's uplink (egress of its veth) at 100 Mbit/s: a token bucket
// with a 256 KiB burst (one chunk) and at most 100 ms of queue.
void cap_uplink(lan& net, size_t i) {
  auto o = net.in_ns(i, "/usr/sbin/tc",
                     {"qdisc", "add", "dev", net.host(i).ifname, "root", "tbf", "rate",
                      "100mbit", "burst", "256kb", "latency", "100ms"});
  auto r = run(o, 10s, net.root() + "/scratch");
  INFO("tc on host " << i << ": " << r.out << r.err);
  REQUIRE(r.exit_code == 0);
}

uint64_t uploaded(lan& net, size_t i) {
  return net.cli_json(i, {"status"})
    .value("uploads", json::object())
    .value("bytes_total", uint64_t{0});
}

// A swarm: host 0 shares `size` random bytes as fan.bin, hosts 1..n list it.
struct swarm {
  lan net;
  uint64_t size;
  std::string want; // SHA-256 hex of the file
  explicit swarm(size_t downloaders)
    : net(downloaders + 1), size(swarm_size()) {
    if (capped())
      for (size_t i = 0; i < net.size(); ++i)
        cap_uplink(net, i);
    for (size_t i = 0; i < net.size(); ++i)
      net.spawn_daemon(i);
    for (size_t i = 0; i < net.size(); ++i)
      net.wait_ready(i);
    auto share_dir = net.host(0).dir + "/share";
    std::filesystem::create_directories(share_dir);
    {
      auto data = random_bytes(size, 0xfa4017);
      want = sha256_hex(data);
      write_file(share_dir + "/" + file_name, data);
    }
    auto r = net.cli(0, {"share", share_dir + "/" + file_name}, 120s);
    INFO("share: " << r.out << r.err);
    REQUIRE(r.exit_code == 0);
    std::vector<size_t> all;
    for (size_t i = 1; i < net.size(); ++i)
      all.push_back(i);
    auto when = poll_ls(
      net, all, [](size_t, const json& ls) { return lists(ls, file_name); }, steady::now(),
      20s);
    for (size_t k = 0; k < all.size(); ++k) {
      INFO("host " << all[k] << " does not list " << file_name);
      REQUIRE(when[k] >= 0);
    }
  }
  std::string out_dir(size_t i, const std::string& sub) {
    return net.host(i).dir + "/" + sub;
  }
};

// From daemon i's log: when (ms of the day) its download of fan.bin into
// `dir` started and when it completed; -1 for what is not there. The daemons
// share the machine's clock, so spans of different hosts compare exactly
// (the CLI's -w would add its own polling to each).
std::pair<long, long> download_span(lan& net, size_t i, const std::string& dir) {
  auto lines = lines_with(net.log(i), "info download " + file_name);
  long started = -1;
  long completed = -1;
  for (const auto& line : lines) {
    if (started < 0) {
      if (line.size() >= dir.size() && line.compare(line.size() - dir.size(), dir.size(), dir) == 0)
        started = log_line_ms(line);
    } else if (line.find(file_name + " complete") != std::string::npos) {
      completed = log_line_ms(line);
      break;
    }
  }
  return {started, completed};
}

// `download -f fan.bin -o <host dir>/<sub> -w` on `hosts` at once; each
// exit's time in ms after the start is kept, so the total is not blurred by
// polling several daemons in turn.
struct waiting_downloads {
  std::vector<size_t> hosts;
  std::vector<std::unique_ptr<process>> procs;
  std::vector<long> done_ms;
  std::string sub;
  steady::time_point start;

  waiting_downloads(swarm& s, std::vector<size_t> hs, const std::string& sub_dir,
                    const std::vector<std::string>& extra = {})
    : hosts(std::move(hs)), done_ms(hosts.size(), -1), sub(sub_dir) {
    start = steady::now();
    for (auto i : hosts) {
      std::vector<std::string> args{"download", "-f", file_name, "-o", s.out_dir(i, sub), "-w",
                                    "-q"};
      args.insert(args.end(), extra.begin(), extra.end());
      auto o = s.net.cli_options(i, args);
      o.stdout_path = s.net.root() + "/scratch/dl-" + sub + "-" + std::to_string(i) + ".out";
      o.stderr_path = s.net.root() + "/scratch/dl-" + sub + "-" + std::to_string(i) + ".err";
      procs.push_back(std::make_unique<process>(o));
    }
  }
  // Polls every 10 ms until all have exited or `timeout` passes (bounded).
  bool wait(std::chrono::milliseconds timeout) {
    return wait_until(
      [&] {
        bool all = true;
        for (size_t k = 0; k < procs.size(); ++k)
          if (done_ms[k] < 0) {
            if (procs[k]->running())
              all = false;
            else
              done_ms[k] = ms_since(start);
          }
        return all;
      },
      timeout, 10ms);
  }
  long all_ms() const {
    return *std::max_element(done_ms.begin(), done_ms.end());
  }
  // First start to last completion by the daemons' logs (-1 if one is missing).
  long daemon_ms(lan& net) const {
    long first = -1;
    long last = -1;
    for (auto i : hosts) {
      auto [a, b] = download_span(net, i, net.host(i).dir + "/" + sub);
      if (a < 0 || b < 0)
        return -1;
      first = first < 0 ? a : std::min(first, a);
      last = std::max(last, b);
    }
    return last - first;
  }
  std::string describe(size_t k) const {
    std::ostringstream o;
    o << "download -w on host " << hosts[k] << ": exit "
      << (procs[k]->status() ? std::to_string(*procs[k]->status()) : "none (running)")
      << " after " << done_ms[k] << " ms\nstderr: " << tail_lines(procs[k]->stderr_text(), 10);
    return o.str();
  }
};

void print_table(const std::string& title, swarm& s, const std::vector<uint64_t>& up,
                 const waiting_downloads& w) {
  std::cout << title << "\n  host         daemon_ms  cli_ms  uploaded_MiB\n";
  for (size_t i = 0; i < s.net.size(); ++i) {
    long done = -1;
    long took = -1;
    for (size_t k = 0; k < w.hosts.size(); ++k)
      if (w.hosts[k] == i) {
        done = w.done_ms[k];
        auto [a, b] = download_span(s.net, i, s.out_dir(i, w.sub));
        took = a >= 0 && b >= 0 ? b - a : -1;
      }
    std::cout << "  " << std::setw(2) << i << (i == 0 ? " seeder " : "        ")
              << std::setw(10) << took << std::setw(8) << done << "  " << std::fixed
              << std::setprecision(1) << std::setw(12) << static_cast<double>(up[i]) / (1 << 20)
              << "\n";
  }
  std::cout << std::flush;
}

} // namespace

TEST_CASE("fan-out: 1 seeder and 8 downloaders at 100 Mbit each, all eight within 1.5x "
          "one download alone, byte-identical, the downloaders upload to each other",
          "[lan][swarm]") {
  const size_t n = swarm_downloaders();
  swarm s(n);
  auto& net = s.net;

  // One download alone (the last host, not seeding afterwards).
  long one_ms = 0;     // by the daemon's log
  long one_cli_ms = 0; // as download -w saw it
  {
    waiting_downloads alone(s, {n}, "alone", {"--no-seed"});
    REQUIRE(alone.wait(120s));
    INFO(alone.describe(0));
    REQUIRE(alone.procs[0]->status() == 0);
    one_cli_ms = alone.done_ms[0];
    one_ms = alone.daemon_ms(net);
    REQUIRE(one_ms > 0);
    CHECK(sha256_hex(slurp(s.out_dir(n, "alone") + "/" + file_name)) == s.want);
    std::filesystem::remove(s.out_dir(n, "alone") + "/" + file_name);
  }
  INFO(net.cli(n, {"status"}).out); // it lists no share of fan.bin (--no-seed)
  REQUIRE(net.cli_json(n, {"status"}).value("shares", json::array()).empty());

  std::vector<uint64_t> before(net.size());
  for (size_t i = 0; i < net.size(); ++i)
    before[i] = uploaded(net, i);
  std::vector<size_t> hosts;
  for (size_t i = 1; i <= n; ++i)
    hosts.push_back(i);
  waiting_downloads all(s, hosts, "fan");
  bool finished = all.wait(240s);
  std::vector<uint64_t> up(net.size());
  uint64_t among = 0;
  for (size_t i = 0; i < net.size(); ++i) {
    up[i] = uploaded(net, i) - before[i];
    if (i > 0)
      among += up[i];
  }
  long all_ms = finished ? all.daemon_ms(net) : -1;
  auto copies = [&](uint64_t b) { return static_cast<double>(b) / static_cast<double>(s.size); };
  std::ostringstream title;
  title << std::fixed << std::setprecision(2) << "lan swarm: " << (s.size >> 20) << " MiB, "
        << (capped() ? "100 Mbit uplinks" : "uncapped") << "; one alone " << one_ms
        << " ms (cli " << one_cli_ms << "); 1 -> " << n << " all done in " << all_ms
        << " ms (cli " << all.all_ms() << "), ratio "
        << static_cast<double>(all_ms) / static_cast<double>(one_ms) << " (cli "
        << static_cast<double>(all.all_ms()) / static_cast<double>(one_cli_ms)
        << "); uploaded: seeder " << copies(up[0]) << " copies, downloaders "
        << copies(among) << " (" << n << " needed in all)";
  print_table(title.str(), s, up, all);

  REQUIRE(finished);
  REQUIRE(all_ms > 0);
  for (size_t k = 0; k < hosts.size(); ++k) {
    INFO(all.describe(k) << "\n" << net.dump_logs(30));
    CHECK(all.procs[k]->status() == 0);
    CHECK(sha256_hex(slurp(s.out_dir(hosts[k], "fan") + "/" + file_name)) == s.want);
  }
  // Without swarming the seeder sends all n copies and the downloaders none.
  if (n > 1)
    CHECK(among > s.size);
  // Little is sent twice: duplicates cancelled too late are bounded.
  CHECK(up[0] + among <= s.size * n * 5 / 4);
  if (capped())
    CHECK(all_ms * 2 <= one_ms * 3);
}

TEST_CASE("fan-out: the original seeder killed once it has sent half a copy, every "
          "downloader gets every chunk that exists among them, all complete once it is back",
          "[lan][swarm]") {
  const size_t n = swarm_downloaders();
  swarm s(n);
  auto& net = s.net;
  std::vector<size_t> hosts;
  for (size_t i = 1; i <= n; ++i)
    hosts.push_back(i);
  waiting_downloads all(s, hosts, "fan");

  // Each downloader's bytes_done (-1 when status failed).
  auto progress = [&] {
    std::vector<int64_t> done(n, -1);
    auto rs = net.cli_many(hosts, {"--json", "status"}, 10s);
    for (size_t k = 0; k < n; ++k) {
      auto doc = json::parse(rs[k].out, nullptr, false);
      if (doc.is_discarded())
        continue;
      for (auto& d : doc.value("downloads", json::array()))
        done[k] = d.value("bytes_done", int64_t{0});
    }
    return done;
  };
  // kill -9 of the only full seeder once it has sent half a copy: the chunks
  // that exist among the downloaders are at most what it sent (its counter
  // counts bytes handed to the kernel), so they cannot complete without it.
  // At 100 Mbit it needs ~2 s more for the rest of a copy, the margin for
  // this poll and the kill. Triggered by the downloaders' progress instead
  // (half of the n copies verified), the kill came late under load (a
  // sanitized clean-clone run beside two builds): the union was already the
  // whole file, every download completed and left no record to compare.
  uint64_t seeder_up = 0;
  REQUIRE(wait_until(
    [&] {
      seeder_up = uploaded(net, 0);
      return seeder_up * 2 >= s.size;
    },
    120s, 20ms));
  auto kill_ms = ms_since(all.start);
  REQUIRE(net.stop_daemon(0, SIGKILL).has_value());
  uint64_t total = 0; // verified among the downloaders just after the kill
  for (auto d : progress())
    total += static_cast<uint64_t>(std::max<int64_t>(d, 0));

  // The downloaders trade what they have until each holds the same bytes and
  // nothing moves for 3 s (the resume records, saved every second, are then
  // current).
  std::vector<int64_t> last;
  auto still_since = steady::now();
  bool settled = wait_until(
    [&] {
      auto now = progress();
      if (now != last) {
        last = now;
        still_since = steady::now();
        return false;
      }
      return std::all_of(now.begin(), now.end(), [&](int64_t d) { return d == now[0]; })
             && steady::now() - still_since >= 3s;
    },
    90s, 200ms);
  INFO("bytes_done per downloader: " << json(last).dump() << "; the seeder had sent "
       << seeder_up << " of " << s.size << " bytes before the kill");
  REQUIRE(settled);
  // Every downloader holds exactly the same chunks: the union of what existed
  // among them (their records say which).
  std::vector<std::vector<bool>> have;
  for (auto i : hosts)
    for (auto& e : std::filesystem::directory_iterator(net.host(i).state_dir + "/downloads"))
      if (e.path().extension() == ".json") {
        auto rec = p2p::resume_from_json(slurp(e.path().string()));
        REQUIRE(rec);
        have.push_back(rec->have);
      }
  REQUIRE(have.size() == n);
  for (size_t k = 1; k < n; ++k)
    CHECK(have[k] == have[0]);
  auto chunks = have[0].size();
  auto held = static_cast<size_t>(std::count(have[0].begin(), have[0].end(), true));
  std::vector<uint64_t> up(net.size());
  up[0] = seeder_up;
  for (size_t i = 1; i < net.size(); ++i)
    up[i] = uploaded(net, i);

  // The seeder comes back (its share persisted): everyone completes, and it
  // sends little more than the chunks that were missing.
  auto back = steady::now();
  net.start_daemon(0);
  bool finished = all.wait(120s);
  auto seeder_after = uploaded(net, 0);
  std::ostringstream title;
  title << std::fixed << std::setprecision(2) << "lan swarm, seeder killed: "
        << (s.size >> 20) << " MiB, " << (capped() ? "100 Mbit uplinks" : "uncapped")
        << "; killed after " << kill_ms << " ms with " << static_cast<double>(total) / s.size
        << " copies verified among the downloaders, the seeder having sent "
        << static_cast<double>(seeder_up) / s.size << " copies; the downloaders then all held "
        << held << " of " << chunks << " chunks; the seeder back, all done "
        << ms_since(back) << " ms later, it sent "
        << static_cast<double>(seeder_after) / s.size << " copies more";
  print_table(title.str(), s, up, all);
  REQUIRE(finished);
  for (size_t k = 0; k < hosts.size(); ++k) {
    INFO(all.describe(k) << "\n" << net.dump_logs(30));
    CHECK(all.procs[k]->status() == 0);
    CHECK(sha256_hex(slurp(s.out_dir(hosts[k], "fan") + "/" + file_name)) == s.want);
  }
  // Without trading, each would fetch its own missing chunks from it.
  auto missing = static_cast<double>(chunks - held) / static_cast<double>(chunks);
  CHECK(static_cast<double>(seeder_after) <= 3.0 * missing * static_cast<double>(s.size)
                                                + 4.0 * (256 << 10));
}
