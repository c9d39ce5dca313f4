// Scale: 32 daemons on one bridge.
// - each sees all others' files within 3 s of the last start;
// - multicast datagrams per daemon per minute stay bounded;
// - a scan is answered by jittered announces, not a storm.
// Datagrams are counted from the daemons' own debug log lines
// ("discovery: sent <kind> ...", one per datagram sent).
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <numeric>

#include <catch2/catch.hpp>

#include "tests/lan/lan_util.hpp"

using namespace p2p::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

constexpr size_t hosts_n = 32;
constexpr long scan_jitter_ms = 200;        // defaults::scan_reply_jitter_ms

std::string file_name(size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "file%02zu.bin", i);
  return buf;
}

bool sees_all_others(size_t i, const json& ls) {
  for (size_t j = 0; j < hosts_n; ++j)
    if (j != i && !lists(ls, file_name(j)))
      return false;
  return true;
}

std::vector<size_t> all_hosts() {
  std::vector<size_t> v(hosts_n);
  std::iota(v.begin(), v.end(), 0);
  return v;
}

} // namespace

TEST_CASE("32 daemons: discovery within 3 s, bounded multicast, no scan storm",
          "[lan][scale]") {
  lan net(hosts_n);
  auto everyone = all_hosts();

  // Each daemon starts and at once shares its own small file; the last
  // start is the clock's zero.
  steady::time_point last_start;
  for (size_t i = 0; i < hosts_n; ++i) {
    auto dir = net.host(i).dir + "/share";
    std::filesystem::create_directories(dir);
    write_file(dir + "/" + file_name(i), random_bytes(4096 + i, 100 + i));
  }
  auto first_start = steady::now();
  long last_ready_ms = 0;
  long last_shared_ms = 0;
  for (size_t i = 0; i < hosts_n; ++i) {
    if (i + 1 == hosts_n)
      last_start = steady::now();
    net.start_daemon(i);
    last_ready_ms = ms_since(last_start);
    auto r = net.cli(i, {"share", net.host(i).dir + "/share/" + file_name(i)}, 30s);
    INFO("share on host " << i << ": " << r.out << r.err);
    REQUIRE(r.exit_code == 0);
    last_shared_ms = ms_since(last_start);
  }
  auto startup_ms = ms_since(first_start);

  std::vector<json> last;
  auto when = poll_ls(net, everyone, sees_all_others, last_start, 15s, &last);
  auto worst = *std::max_element(when.begin(), when.end());
  bool all_seen = std::none_of(when.begin(), when.end(), [](long t) { return t < 0; });
  std::cout << "lan scale: " << hosts_n << " daemons started in " << startup_ms
            << " ms; every ls lists all others' files " << worst
            << " ms after the last start (that daemon answered its control port after "
            << last_ready_ms << " ms and had shared its file after " << last_shared_ms
            << " ms; ls polled on all 32 at once, per host:";
  for (auto t : when)
    std::cout << " " << t;
  std::cout << ")\n";
  for (size_t k = 0; k < hosts_n; ++k) {
    INFO("host " << k << " last ls lists " << lan::file_names(last[k]).size() << " files: "
                 << last[k].dump());
    CHECK(when[k] >= 0);
  }
  REQUIRE(all_seen);
  CHECK(worst <= 3000);

  // Start-up traffic: datagrams sent by all daemons from the first start on.
  size_t startup_sent = 0;
  for (size_t i = 0; i < hosts_n; ++i)
    startup_sent += lines_with(net.log(i), "discovery: sent").size();

  // Steady state: count each daemon's datagrams over a fixed window.
  constexpr auto window = 20s;
  std::vector<size_t> from(hosts_n);
  for (size_t i = 0; i < hosts_n; ++i)
    from[i] = net.log_size(i);
  auto w0 = steady::now();
  std::this_thread::sleep_for(window);
  auto window_ms = ms_since(w0);
  std::vector<double> sent_per_min(hosts_n);
  std::vector<double> recv_per_min(hosts_n);
  for (size_t i = 0; i < hosts_n; ++i) {
    auto text = net.log(i, from[i]);
    auto sent = lines_with(text, "discovery: sent").size();
    auto heard = lines_with(text, "discovery: announce from").size()
                 + lines_with(text, "discovery: scan from").size()
                 + lines_with(text, "discovery: bye from").size();
    sent_per_min[i] = sent * 60000.0 / window_ms;
    recv_per_min[i] = heard * 60000.0 / window_ms;
  }
  auto max_sent = *std::max_element(sent_per_min.begin(), sent_per_min.end());
  auto mean_sent = std::accumulate(sent_per_min.begin(), sent_per_min.end(), 0.0) / hosts_n;
  auto mean_recv = std::accumulate(recv_per_min.begin(), recv_per_min.end(), 0.0) / hosts_n;
  std::printf("lan scale: start-up: %zu datagrams sent by %zu daemons (%.1f each)\n",
              startup_sent, hosts_n, static_cast<double>(startup_sent) / hosts_n);
  std::printf("lan scale: steady state over %ld ms: multicast datagrams sent per daemon "
              "per minute: mean %.1f, max %.1f; received per daemon per minute: mean %.1f\n",
              window_ms, mean_sent, max_sent, mean_recv);
  std::fflush(stdout);
  // 60000 / 5000 = 12 announces a minute, +-10% jitter; nothing else when
  // nobody scans. Bound: 30.
  CHECK(max_sent <= 30.0);
  CHECK(mean_sent >= 6.0); // they do announce
  // Hearing: the 31 others' announces (plus own looped-back ones, not logged).
  CHECK(mean_recv <= 31 * 30.0);

  // A scan on host 0: the others answer with jittered announces, at most one
  // each, spread over the jitter window.
  for (size_t i = 0; i < hosts_n; ++i)
    from[i] = net.log_size(i);
  auto scan = net.cli(0, {"scan"}, 30s);
  INFO("scan: " << scan.out << scan.err);
  REQUIRE(scan.exit_code == 0);
  std::this_thread::sleep_for(1500ms);
  auto scan_lines = lines_with(net.log(0, from[0]), "discovery: sent scan");
  REQUIRE(scan_lines.size() == 1);
  auto scan_at = log_line_ms(scan_lines[0]);
  REQUIRE(scan_at >= 0);
  std::vector<long> replies; // ms after the scan
  size_t suppressed = 0;
  for (size_t i = 1; i < hosts_n; ++i) {
    auto text = net.log(i, from[i]);
    for (auto& line : lines_with(text, "discovery: sent announce")) {
      auto t = log_line_ms(line);
      if (t >= scan_at && t <= scan_at + 1000)
        replies.push_back(t - scan_at);
    }
    suppressed += lines_with(text, "answered by our recent announce").size();
  }
  std::sort(replies.begin(), replies.end());
  long spread = replies.empty() ? 0 : replies.back() - replies.front();
  // Replies in any 10 ms: a storm would put them all in one.
  size_t max_in_10ms = 0;
  for (size_t a = 0; a < replies.size(); ++a) {
    size_t b = a;
    while (b < replies.size() && replies[b] - replies[a] < 10)
      ++b;
    max_in_10ms = std::max(max_in_10ms, b - a);
  }
  size_t heard = 0;
  for (auto& line : lines_with(net.log(0, from[0]), "discovery: announce from")) {
    auto t = log_line_ms(line);
    if (t >= scan_at && t <= scan_at + 1000)
      ++heard;
  }
  std::printf("lan scale: scan on host 0: %zu announces from the 31 others within 1 s "
              "(%zu answered by a recent announce instead), spread over %ld ms, at most "
              "%zu in any 10 ms; host 0 heard %zu\n",
              replies.size(), suppressed, spread, max_in_10ms, heard);
  std::fflush(stdout);
  // At most one reply each, plus a few periodic announces that fall in the
  // second (32 daemons every 5 s: about 6 a second).
  CHECK(replies.size() <= 31 + 8);
  CHECK(replies.size() + suppressed >= 25); // they do answer
  CHECK(spread >= scan_jitter_ms / 4);
  CHECK(max_in_10ms <= 12);
}
