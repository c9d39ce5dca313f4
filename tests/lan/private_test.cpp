// Private swarms on a LAN (issue 12 item 5): four hosts in namespaces on one
// bridge, multicast discovery. Hosts 0 and 1 hold key A, host 2 key B, host 3
// none. A test socket in a namespace (tests/lan/datagram_tool.py) captures
// and replays a keyed datagram and sends a forged one.
#include <csignal>
#include <filesystem>
#include <iostream>
#include <set>

#include <catch2/catch.hpp>

#include "tests/lan/lan_util.hpp"
#include "util/hex.hpp"

using namespace p2p::test;
using namespace std::chrono_literals;
using nlohmann::json;

#ifndef P2P_LAN_TOOL
#error "P2P_LAN_TOOL must name tests/lan/datagram_tool.py"
#endif

namespace {

const std::string group = "224.0.0.123";
const std::string group_port = "7645";

std::string keygen(lan& net, const std::string& name) {
  auto path = net.root() + "/" + name;
  auto r = net.cli(0, {"keygen", path}, 10s);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return path;
}

// The peer addresses (host part) `peers --json` lists on host i.
std::set<std::string> peer_hosts(lan& net, size_t i) {
  std::set<std::string> out;
  for (auto& p : net.cli_json(i, {"peers"}).value("peers", json::array()))
    out.insert(host_of(p.value("addr", "")));
  return out;
}

run_result tool(lan& net, size_t in_host, std::vector<std::string> args,
                std::chrono::milliseconds timeout) {
  args.insert(args.begin(), P2P_LAN_TOOL);
  return run(net.in_ns(in_host, "/usr/bin/python3", args), timeout, net.root() + "/scratch");
}

bool log_gets(lan& net, size_t i, size_t from, const std::string& text,
              std::chrono::milliseconds timeout = 10s) {
  return wait_until([&] { return net.log(i, from).find(text) != std::string::npos; },
                    timeout, 50ms);
}

} // namespace

TEST_CASE("two private swarms on one bridge see and serve only their own members",
          "[lan][private]") {
  lan net(4);
  auto a = keygen(net, "a.key");
  auto b = keygen(net, "b.key");
  std::vector<std::vector<std::string>> args = {
    {"--network-key", a}, {"--network-key", a}, {"--network-key", b}, {}};
  for (size_t i = 0; i < 4; ++i)
    net.spawn_daemon(i, args[i]);
  for (size_t i = 0; i < 4; ++i)
    net.wait_ready(i);
  auto data = random_bytes(8u << 20, 0xa11ce);
  share_one(net, 0, "swarm-a.bin", data);
  share_one(net, 2, "swarm-b.bin", "only for key b\n");
  share_one(net, 3, "open.bin", "keyless\n");
  auto t0 = steady::now();
  std::vector<json> last;
  auto when = poll_ls(net, {1}, [](size_t, const json& ls) { return lists(ls, "swarm-a.bin"); },
                      t0, 10s, &last);
  INFO("host 1 ls: " << last[0].dump() << "\n" << net.dump_logs());
  REQUIRE(when[0] >= 0);
  std::cout << "lan: a private swarm's file in its member's ls after " << when[0] << " ms\n";

  // The member downloads it byte for byte.
  auto out = net.host(1).dir + "/downloads";
  auto dl = net.cli(1, {"download", "-f", "swarm-a.bin", "-o", out, "-w"}, 60s);
  INFO(dl.err);
  REQUIRE(dl.exit_code == 0);
  CHECK(sha256_hex(slurp(out + "/swarm-a.bin")) == sha256_hex(data));

  // Everyone heard everyone's datagrams by now (host 1 heard host 0's):
  // the others ignored what they could not verify or read.
  CHECK(log_gets(net, 2, 0, "ignoring a datagram without a valid tag of our network key"));
  CHECK(log_gets(net, 3, 0, "ignoring undecodable datagram"));
  net.cli_many({0, 1, 2, 3}, {"scan"}, 30s);
  for (size_t i = 0; i < 4; ++i) {
    auto ls = net.cli_json(i, {"ls"});
    INFO("host " << i << " ls: " << ls.dump());
    // Host 1 seeds its finished copy, so host 0 lists it too: members only.
    CHECK(lists(ls, "swarm-a.bin") == (i <= 1));
    CHECK_FALSE(lists(ls, "swarm-b.bin"));
    CHECK_FALSE(lists(ls, "open.bin"));
  }
  CHECK(peer_hosts(net, 0) == std::set<std::string>{net.addr(1)});
  CHECK(peer_hosts(net, 1) == std::set<std::string>{net.addr(0)});
  CHECK(peer_hosts(net, 2).empty());
  CHECK(peer_hosts(net, 3).empty());
}

TEST_CASE("a replayed and a forged keyed datagram are ignored", "[lan][private]") {
  lan net(3);
  auto a = keygen(net, "a.key");
  net.spawn_daemon(0, {"--network-key", a});
  net.spawn_daemon(1, {"--network-key", a});
  net.wait_ready(0);
  net.wait_ready(1);
  // Host 2 (no daemon) records one of host 1's announces off the wire.
  auto capture = net.root() + "/announce.hex";
  auto r = tool(net, 2, {"capture", group, group_port, net.addr(2), net.addr(1), capture, "15"},
                20s);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto recorded = slurp(capture);
  REQUIRE(wait_until([&] { return peer_hosts(net, 0).count(net.addr(1)) == 1; }, 10s, 100ms));

  // Host 1 leaves (bye); its recorded announce, replayed, must not bring it back.
  REQUIRE(net.stop_daemon(1, SIGTERM) == std::optional<int>(0));
  REQUIRE(wait_until([&] { return peer_hosts(net, 0).empty(); }, 10s, 100ms));
  auto from = net.log_size(0);
  REQUIRE(tool(net, 2, {"send", group, group_port, net.addr(2), recorded}, 10s).exit_code == 0);
  CHECK(log_gets(net, 0, from, "replayed (counter not newer)"));
  CHECK(peer_hosts(net, 0).empty());

  // A forged announce: the recorded one with another address (203.0.113.250,
  // 13 bytes: no host of the bridge has as long a one) and its old tag.
  auto bytes = *p2p::from_hex(recorded);
  std::string fake = "203.0.113.250";
  size_t old_len = bytes[20];
  std::vector<uint8_t> forged(bytes.begin(), bytes.begin() + 20);
  forged.push_back(static_cast<uint8_t>(fake.size()));
  forged.insert(forged.end(), fake.begin(), fake.end());
  forged.insert(forged.end(), bytes.begin() + 21 + old_len, bytes.end());
  from = net.log_size(0);
  REQUIRE(tool(net, 2, {"send", group, group_port, net.addr(2),
                        p2p::to_hex(forged.data(), forged.size())},
               10s)
            .exit_code == 0);
  CHECK(log_gets(net, 0, from,
                 "without a valid tag of our network key (" + std::to_string(forged.size())
                   + " bytes)"));
  CHECK(peer_hosts(net, 0).empty());
}

TEST_CASE("an encrypted download across the bridge is byte-identical", "[lan][private]") {
  lan net(3);
  auto a = keygen(net, "a.key");
  for (size_t i = 0; i < 3; ++i)
    net.spawn_daemon(i, {"--network-key", a, "--encrypt"});
  for (size_t i = 0; i < 3; ++i)
    net.wait_ready(i);
  auto data = random_bytes(32u << 20, 0x7e5);
  share_one(net, 0, "sealed.bin", data);
  share_one(net, 1, "sealed.bin", data);
  auto t0 = steady::now();
  std::vector<json> last;
  auto when = poll_ls(
    net, {2},
    [](size_t, const json& ls) {
      auto f = lan::find_file(ls, "sealed.bin");  // null until a seeder's catalog lists it
      return f.is_object() && f.value("seeders", json::array()).size() == 2;
    },
    t0, 10s, &last);
  INFO("host 2 ls: " << last[0].dump());
  REQUIRE(when[0] >= 0);
  auto out = net.host(2).dir + "/downloads";
  auto start = steady::now();
  auto dl = net.cli(2, {"download", "-f", "sealed.bin", "-o", out, "-w"}, 120s);
  INFO(dl.err << "\n" << net.dump_logs());
  REQUIRE(dl.exit_code == 0);
  std::cout << "lan: 32 MiB over TLS from 2 seeders in " << ms_since(start) << " ms\n";
  CHECK(sha256_hex(slurp(out + "/sealed.bin")) == sha256_hex(data));
  // Both seeders served over TLS: each one's bytes in the download's peers.
  auto status = net.cli_json(2, {"status"});
  for (auto& d : status.value("downloads", json::array()))
    if (d.value("name", "") == "sealed.bin")
      for (auto& p : d.value("peers", json::array()))
        CHECK(p.value("bytes", uint64_t{0}) > 0);
}
