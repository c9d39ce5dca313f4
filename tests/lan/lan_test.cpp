// LAN scenarios: four hosts in network namespaces on one bridge.
#include <csignal>
#include <filesystem>
#include <iostream>
#include <set>

#include <catch2/catch.hpp>

#include "tests/lan/lan_util.hpp"

using namespace p2p::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

constexpr size_t big_size = 64u << 20; // 64 MiB

// Three hosts share their own copy of one 64 MiB file; the fourth runs scan,
// ls and download -w. The file arrives byte-identical and every seeder
// served part of it. `args(i)` are daemon i's extra flags.
void three_seeders_one_downloader(lan& net,
                                  const std::function<std::vector<std::string>(size_t)>& args) {
  for (size_t i = 0; i < 4; ++i)
    net.spawn_daemon(i, args(i));
  for (size_t i = 0; i < 4; ++i)
    net.wait_ready(i);

  auto data = random_bytes(big_size, 0x5eed64);
  auto want = sha256_hex(data);
  for (size_t i = 0; i < 3; ++i) {
    auto dir = net.host(i).dir + "/share";
    std::filesystem::create_directories(dir);
    write_file(dir + "/big.bin", data);
    auto shared = net.cli_json(i, {"share", dir + "/big.bin"}, 60s);
    INFO(shared.dump());
  }
  data.clear();
  data.shrink_to_fit();

  std::set<std::string> seeder_hosts{net.addr(0), net.addr(1), net.addr(2)};
  auto scan = net.cli(3, {"scan"}, 30s);
  INFO("scan: exit " << scan.exit_code << "\n" << scan.out << scan.err);
  REQUIRE(scan.exit_code == 0);
  // The scan window normally covers it; allow the catalogs a little longer.
  std::vector<json> last;
  auto t0 = steady::now();
  auto when = poll_ls(
    net, {3},
    [&](size_t, const json& ls) {
      auto f = lan::find_file(ls, "big.bin");
      if (f.is_null())
        return false;
      std::set<std::string> hosts;
      for (auto& s : f.value("seeders", json::array()))
        hosts.insert(host_of(s.get<std::string>()));
      return hosts == seeder_hosts;
    },
    t0, 10s, &last);
  INFO("ls --json on host 3: " << last[0].dump());
  REQUIRE(when[0] >= 0);
  auto entry = lan::find_file(last[0], "big.bin");
  CHECK(entry.value("size", uint64_t{0}) == big_size);

  auto out_dir = net.host(3).dir + "/downloads";
  auto start = steady::now();
  auto dl = net.cli(3, {"download", "-f", "big.bin", "-o", out_dir, "-w"}, 150s);
  auto took = ms_since(start);
  INFO("download -w: exit " << dl.exit_code << (dl.timed_out ? " (timed out)" : "")
                            << "\nstdout: " << tail_lines(dl.out, 5)
                            << "\nstderr: " << tail_lines(dl.err, 20));
  REQUIRE(dl.exit_code == 0);
  auto got = slurp(out_dir + "/big.bin");
  CHECK(got.size() == big_size);
  CHECK(sha256_hex(got) == want);
  got.clear();
  got.shrink_to_fit();

  auto status = net.cli_json(3, {"status"});
  INFO("status --json on host 3: " << status.dump());
  json download;
  for (auto& d : status.value("downloads", json::array()))
    if (d.value("name", "") == "big.bin")
      download = d;
  REQUIRE(download.is_object());
  CHECK(download.value("state", "") == "complete");
  CHECK(download.value("bytes_done", uint64_t{0}) == big_size);
  std::map<std::string, uint64_t> served;
  for (auto& p : download.value("peers", json::array()))
    served[host_of(p.value("addr", ""))] += p.value("bytes", uint64_t{0});
  std::cout << "lan: 64 MiB from 3 seeders in " << took << " ms; per seeder:";
  for (auto& [host, bytes] : served)
    std::cout << " " << host << "=" << bytes;
  std::cout << "\n";
  for (auto& h : seeder_hosts) {
    INFO("seeder " << h);
    CHECK(served[h] > 0);
  }
  CHECK(served.size() == 3);
}

// Polls hosts 0, 1 and 2 (for up to 5 s after `t0`) until each lists `name`,
// prints when each first did ("lan: <what> in the others' ls after (ms): ...")
// and checks that every one of them did within 2 s.
void check_listed_within_2s(lan& net, const std::string& name, steady::time_point t0,
                            const std::string& what) {
  std::vector<json> last;
  auto when = poll_ls(
    net, {0, 1, 2}, [&](size_t, const json& ls) { return lists(ls, name); }, t0, 5s, &last);
  std::cout << "lan: " << what << " in the others' ls after (ms):";
  for (auto t : when)
    std::cout << " " << t;
  std::cout << "\n";
  for (size_t k = 0; k < 3; ++k) {
    INFO("host " << k << " last ls: " << last[k].dump());
    CHECK(when[k] >= 0);
    CHECK(when[k] <= 2000);
  }
}

} // namespace

TEST_CASE("four hosts: three seeders, the fourth downloads 64 MiB from all of them",
          "[lan][multicast]") {
  lan net(4);
  three_seeders_one_downloader(net, [](size_t) { return std::vector<std::string>{}; });
  // Multicast really carried it: the downloader heard the seeders' announces.
  auto log = net.log(3);
  CHECK(log.find("discovery: announce from") != std::string::npos);
}

TEST_CASE("with --no-multicast and --peer only, the same download works",
          "[lan][static]") {
  lan net(4);
  three_seeders_one_downloader(net, [&](size_t i) {
    std::vector<std::string> a{"--no-multicast"};
    for (size_t j = 0; j < 4; ++j)
      if (j != i)
        a.insert(a.end(), {"--peer", net.peer_endpoint(j)});
    return a;
  });
  for (size_t i = 0; i < 4; ++i) {
    INFO("host " << i << " must not use multicast");
    CHECK(net.log(i).find("discovery: sent") == std::string::npos);
    CHECK(net.log(i).find("discovery: joined") == std::string::npos);
  }
}

TEST_CASE("a daemon started later appears in ls on the others within 2 s, without a scan",
          "[lan][multicast]") {
  lan net(4);
  // Host 3 gets its share while it runs alone without multicast, so its
  // later start is the start of a daemon that already shares a file.
  net.start_daemon(3, {"--no-multicast"});
  share_one(net, 3, "late.bin", random_bytes(100000, 3));
  REQUIRE(net.stop_daemon(3, SIGTERM) == 0);

  for (size_t i = 0; i < 3; ++i)
    net.spawn_daemon(i);
  for (size_t i = 0; i < 3; ++i)
    net.wait_ready(i);
  for (size_t i = 0; i < 3; ++i)
    share_one(net, i, "early" + std::to_string(i) + ".bin",
              random_bytes(50000, 10 + i));
  // The three know each other (multicast alone, no scan).
  auto settled = poll_ls(
    net, {0, 1, 2},
    [](size_t i, const json& ls) {
      for (size_t j = 0; j < 3; ++j)
        if (j != i && !lists(ls, "early" + std::to_string(j) + ".bin"))
          return false;
      return true;
    },
    steady::now(), 10s);
  for (auto t : settled)
    REQUIRE(t >= 0);

  // Nobody knows host 3's file yet.
  for (size_t i = 0; i < 3; ++i) {
    auto ls = net.cli_json(i, {"ls"});
    INFO("host " << i << " ls before host 3 starts: " << ls.dump());
    REQUIRE_FALSE(lists(ls, "late.bin"));
  }

  auto t0 = steady::now();
  net.spawn_daemon(3);
  std::vector<json> last;
  check_listed_within_2s(net, "late.bin", t0, "late daemon's file");
  // And the newcomer learnt the others from its start-up scan.
  auto mine = poll_ls(
    net, {3},
    [](size_t, const json& ls) {
      return lists(ls, "early0.bin") && lists(ls, "early1.bin") && lists(ls, "early2.bin");
    },
    t0, 5s, &last);
  INFO("host 3 last ls: " << last[0].dump());
  CHECK(mine[0] >= 0);
  CHECK(mine[0] <= 2000);

  // A share added later is announced at once (no scan needed either).
  auto t1 = steady::now();
  share_one(net, 3, "later.bin", random_bytes(70000, 4));
  check_listed_within_2s(net, "later.bin", t1, "a new share");
}

TEST_CASE("a killed daemon disappears from ls after the expiry, a stopped one at once",
          "[lan][multicast]") {
  constexpr long interval_ms = 1000;
  constexpr long expiry_ms = 3000;
  std::vector<std::string> args{"--announce-interval-ms", std::to_string(interval_ms),
                                "--peer-expiry-ms", std::to_string(expiry_ms)};
  lan net(3);
  for (size_t i = 0; i < 3; ++i)
    net.spawn_daemon(i, args);
  for (size_t i = 0; i < 3; ++i)
    net.wait_ready(i);
  share_one(net, 2, "going.bin", random_bytes(60000, 2));
  auto seen = poll_ls(
    net, {0, 1}, [](size_t, const json& ls) { return lists(ls, "going.bin"); },
    steady::now(), 10s);
  REQUIRE(seen[0] >= 0);
  REQUIRE(seen[1] >= 0);

  // SIGKILL: no bye, so only the expiry removes it.
  auto t0 = steady::now();
  REQUIRE(net.stop_daemon(2, SIGKILL).has_value());
  std::vector<json> last;
  auto gone = poll_ls(
    net, {0, 1}, [](size_t, const json& ls) { return !lists(ls, "going.bin"); }, t0,
    std::chrono::milliseconds(expiry_ms + 5000), &last);
  std::cout << "lan: killed daemon gone from ls after (ms): " << gone[0] << " " << gone[1]
            << " (expiry " << expiry_ms << ", announce interval " << interval_ms << ")\n";
  for (size_t k = 0; k < 2; ++k) {
    INFO("host " << k << " last ls: " << last[k].dump());
    CHECK(gone[k] >= 0);
    // Last heard at most one interval (+10% jitter) before the kill.
    CHECK(gone[k] >= expiry_ms - interval_ms * 11 / 10 - 200);
    // The expiry, one catalog tick (expiry / 4) and polling slack.
    CHECK(gone[k] <= expiry_ms + expiry_ms / 4 + 1000);
  }

  // Back again, then SIGTERM: the bye removes it well before any expiry.
  net.start_daemon(2, args);
  seen = poll_ls(
    net, {0, 1}, [](size_t, const json& ls) { return lists(ls, "going.bin"); },
    steady::now(), 10s);
  REQUIRE(seen[0] >= 0);
  REQUIRE(seen[1] >= 0);
  auto t1 = steady::now();
  CHECK(net.stop_daemon(2, SIGTERM) == 0);
  gone = poll_ls(
    net, {0, 1}, [](size_t, const json& ls) { return !lists(ls, "going.bin"); }, t1,
    std::chrono::milliseconds(expiry_ms + 5000), &last);
  std::cout << "lan: stopped (SIGTERM) daemon gone from ls after (ms): " << gone[0] << " "
            << gone[1] << "\n";
  for (size_t k = 0; k < 2; ++k) {
    INFO("host " << k << " last ls: " << last[k].dump());
    CHECK(gone[k] >= 0);
    CHECK(gone[k] <= 1500);
  }
}

TEST_CASE("the LAN fixture leaves no namespace, bridge or veth behind", "[lan][fixture]") {
  std::vector<std::string> names;
  {
    lan net(2);
    for (size_t i = 0; i < 2; ++i) {
      names.push_back(net.host(i).ns);
      // Each host has its own address on its veth, and reaches the other.
      auto r = run(net.in_ns(i, ip_exe(), {"-4", "-o", "addr", "show", "dev",
                                           net.host(i).ifname}),
                   10s, net.root() + "/scratch");
      INFO(r.out << r.err);
      CHECK(r.out.find(net.addr(i) + "/24") != std::string::npos);
    }
    net.start_daemon(0);
    net.start_daemon(1);
    auto peers = poll_ls(
      net, {0},
      [&](size_t, const json&) {
        auto doc = net.cli_json(0, {"peers"});
        for (auto& p : doc.value("peers", json::array()))
          if (host_of(p.value("addr", "")) == net.addr(1))
            return true;
        return false;
      },
      steady::now(), 10s);
    CHECK(peers[0] >= 0);
  }
  for (auto& ns : names) {
    INFO(ns);
    CHECK_FALSE(std::filesystem::exists("/var/run/netns/" + ns));
  }
  auto hub = names[0].substr(0, names[0].rfind('-')) + "-hub";
  CHECK_FALSE(std::filesystem::exists("/var/run/netns/" + hub));
}
