// Fan-out on a LAN of namespaces: one seeder, eight downloaders starting
// together, every host's uplink capped at 100 Mbit with tc. With swarming the
// downloaders serve each other the chunks they have verified, so all eight
// take about as long as one alone (issue 10: before, 7.8x).
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include <catch2/catch.hpp>

#include "tests/lan/lan_util.hpp"

using namespace p2p::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// P2P_SWARM_MIB overrides the file size (default 48 MiB, as in the issue).
uint64_t swarm_size() {
  if (auto* v = std::getenv("P2P_SWARM_MIB"))
    return std::max<uint64_t>(1, std::strtoull(v, nullptr, 10)) << 20;
  return 48u << 20;
}

// Caps host i's uplink (egress of its veth) at 100 Mbit/s.
void cap_uplink(lan& net, size_t i) {
  spawn_options o;
  o.exe = ip_exe();
  o.args = {"netns", "exec", net.host(i).ns, "tc", "qdisc", "add", "dev",
            net.host(i).ifname, "root", "tbf", "rate", "100mbit", "burst", "256kb",
            "latency", "100ms"};
  auto r = run(o, 10s, net.host(i).dir);
  INFO("tc on host " << i << ": " << r.out << r.err);
  REQUIRE(r.exit_code == 0);
}

uint64_t uploaded(lan& net, size_t i) {
  auto st = net.cli_json(i, {"status"});
  return st.value("uploads", json::object()).value("bytes_total", uint64_t{0});
}

json download_of(lan& net, size_t i, const std::string& name) {
  json found;
  auto st = net.cli_json(i, {"status"});
  for (auto& d : st.value("downloads", json::array()))
    if (d.value("name", "") == name)
      found = d;
  return found;
}

} // namespace

TEST_CASE("fan-out: 1 seeder, 8 downloaders at 100 Mbit each; all eight within 1.5x "
          "one download alone, byte-identical, uploads among downloaders reported",
          "[lan][swarm]") {
  const size_t hosts = 9;
  const uint64_t size = swarm_size();
  lan net(hosts);
  for (size_t i = 0; i < hosts; ++i)
    cap_uplink(net, i);
  for (size_t i = 0; i < hosts; ++i)
    net.spawn_daemon(i);
  for (size_t i = 0; i < hosts; ++i)
    net.wait_ready(i);
  auto data = random_bytes(size, 0xfa4017);
  auto want = sha256_hex(data);
  auto share_dir = net.host(0).dir + "/share";
  std::filesystem::create_directories(share_dir);
  write_file(share_dir + "/fan.bin", data);
  data.clear();
  data.shrink_to_fit();
  REQUIRE(net.cli(0, {"share", share_dir + "/fan.bin"}, 60s).exit_code == 0);
  for (size_t i = 1; i < hosts; ++i) {
    auto when = poll_ls(
      net, {i}, [&](size_t, const json& ls) { return !lan::find_file(ls, "fan.bin").is_null(); },
      steady::now(), 10s);
    REQUIRE(when[0] >= 0);
  }

  // One download alone (host 8, not seeding afterwards).
  auto t0 = steady::now();
  auto alone = net.cli(8, {"download", "-f", "fan.bin", "-o", net.host(8).dir + "/alone",
                           "--no-seed", "-w"},
                       120s);
  auto one_ms = ms_since(t0);
  INFO("alone: " << alone.out << alone.err);
  REQUIRE(alone.exit_code == 0);
  CHECK(sha256_hex(slurp(net.host(8).dir + "/alone/fan.bin")) == want);
  std::filesystem::remove(net.host(8).dir + "/alone/fan.bin");

  std::vector<uint64_t> up_before(hosts);
  for (size_t i = 0; i < hosts; ++i)
    up_before[i] = uploaded(net, i);
  // All eight at once.
  auto start = steady::now();
  for (size_t i = 1; i < hosts; ++i) {
    auto r = net.cli(i, {"download", "-f", "fan.bin", "-o", net.host(i).dir + "/fan"}, 30s);
    INFO("download on " << i << ": " << r.out << r.err);
    REQUIRE(r.exit_code == 0);
  }
  std::vector<long> done_ms(hosts, -1);
  while (ms_since(start) < 120000) {
    bool all = true;
    for (size_t i = 1; i < hosts; ++i) {
      if (done_ms[i] >= 0)
        continue;
      auto d = download_of(net, i, "fan.bin");
      auto state = d.value("state", "");
      if (state == "complete" || state == "failed" || state == "cancelled")
        done_ms[i] = ms_since(start);
      else
        all = false;
    }
    if (all)
      break;
    std::this_thread::sleep_for(100ms);
  }
  long all_ms = *std::max_element(done_ms.begin() + 1, done_ms.end());
  std::cout << "lan swarm: " << (size >> 20) << " MiB, 100 Mbit uplinks; one alone "
            << one_ms << " ms; 1 -> 8 all done in " << all_ms << " ms (ratio "
            << static_cast<double>(all_ms) / static_cast<double>(one_ms) << ")\n"
            << "host  done_ms  uploaded_bytes\n";
  for (size_t i = 0; i < hosts; ++i)
    std::cout << "  " << i << (i == 0 ? " (seeder)" : "") << "  " << done_ms[i] << "  "
              << uploaded(net, i) - up_before[i] << "\n";
  uint64_t among = 0;
  for (size_t i = 1; i < hosts; ++i) {
    INFO("host " << i << " " << download_of(net, i, "fan.bin").dump() << "\n"
                 << net.dump_logs(40));
    REQUIRE(done_ms[i] >= 0);
    CHECK(download_of(net, i, "fan.bin").value("state", "") == "complete");
    CHECK(sha256_hex(slurp(net.host(i).dir + "/fan/fan.bin")) == want);
    among += uploaded(net, i) - up_before[i];
  }
  CHECK(among > size);
  CHECK(all_ms <= one_ms * 3 / 2);
}
