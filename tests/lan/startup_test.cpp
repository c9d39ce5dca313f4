// Start-up failures and supervision with multicast on (issue 7, items 2 and
// 2b): a daemon that cannot start announces nothing, and a daemon whose
// discovery dies exits 1. The loopback tier checks exit codes and times of
// the other cases (tests/system/supervision_test.cpp).
#include <csignal>
#include <filesystem>
#include <map>
#include <memory>
#include <set>

#include <catch2/catch.hpp>

#include "tests/lan/lan_util.hpp"

using namespace p2p::test;
using namespace std::chrono_literals;

namespace {

bool contains_text(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

// p2p-daemon in namespace i with its own state dir `label` and `args`;
// output into <host dir>/<label>.log.
std::unique_ptr<process> spawn_in(lan& net, size_t i, const std::string& label,
                                  std::vector<std::string> args,
                                  std::map<std::string, std::string> env = {}) {
  auto dir = net.host(i).dir + "/" + label;
  std::filesystem::create_directories(dir);
  std::vector<std::string> a{"--state-dir", dir, "--log-level", "debug"};
  a.insert(a.end(), args.begin(), args.end());
  auto o = net.in_ns(i, daemon_exe(), a);
  o.env.insert(env.begin(), env.end());
  o.stdout_path = dir + ".log";
  o.stderr_path = o.stdout_path;
  return std::make_unique<process>(o);
}

// Peer ids in a daemon's log lines "discovery: announce from <id> at
// <addr>:..." and "discovery: scan from <id>" (scans carry no address: in a
// two-host LAN every scan host 0 logs came from host 1).
std::set<std::string> ids_heard_from(const std::string& log, const std::string& addr) {
  std::set<std::string> ids;
  for (auto& line : lines_with(log, "discovery: announce from ")) {
    auto at = line.find(" at " + addr + ":");
    if (at == std::string::npos)
      continue;
    auto from = line.find("announce from ") + 14;
    ids.insert(line.substr(from, at - from));
  }
  for (auto& line : lines_with(log, "discovery: scan from "))
    ids.insert(line.substr(line.find("scan from ") + 10, 16));
  return ids;
}

} // namespace

TEST_CASE("a daemon that cannot start exits 1 within a second and announces nothing",
          "[lan][startup]") {
  lan net(2);
  net.start_daemon(0); // hears and logs every datagram
  auto from = net.log_size(0);
  std::unique_ptr<process> holder; // holds the port the failing daemon wants
  std::vector<std::string> failing_args{"--interface", net.host(1).ifname};
  std::string expected;
  SECTION("peer port taken") {
    holder = spawn_in(net, 1, "holder", {"--no-multicast", "--control-addr",
                                         "127.0.0.1:7700"});
    expected = "cannot listen on 0.0.0.0:7647";
  }
  SECTION("control port taken") {
    holder = spawn_in(net, 1, "holder", {"--no-multicast", "--peer-port", "7700"});
    expected = "cannot listen on control address 127.0.0.1:7646";
  }
  SECTION("unknown interface") {
    failing_args = {"--interface", "p2pnosuch0"};
    expected = "no IPv4 address on interface 'p2pnosuch0'";
  }
  if (holder) {
    auto holder_log = net.host(1).dir + "/holder.log";
    REQUIRE(wait_until([&] { return contains_text(slurp(holder_log), "p2p-daemon ready"); },
                       20s));
  }
  auto t0 = steady::now();
  auto failing = spawn_in(net, 1, "failing", failing_args);
  auto st = failing->wait_for(5s);
  auto ms = ms_since(t0);
  auto log = slurp(net.host(1).dir + "/failing.log");
  INFO("exit " << (st ? std::to_string(*st) : "none") << " after " << ms << " ms; log:\n"
               << log);
  if (!st)
    failing->kill();
  REQUIRE(st.has_value());
  CHECK(*st == 1);
  CHECK(ms < 1000);
  CHECK(contains_text(log, "cannot start: " + expected));
  CHECK(lines_with(log, " error ").size() == 1);
  if (holder) {
    holder->signal(SIGTERM);
    REQUIRE(holder->wait_for(5s).has_value());
  }

  // A daemon that does start on host 1 is heard by host 0; datagrams are
  // handled in order, so anything the failing one sent was logged before.
  net.start_daemon(1);
  REQUIRE(wait_until(
    [&] { return !ids_heard_from(net.log(0, from), net.addr(1)).empty(); }, 10s));
  auto heard = ids_heard_from(net.log(0, from), net.addr(1));
  INFO("host 0 heard these peer ids since the failed start: " << heard.size() << "\n"
                                                              << net.log(0, from));
  CHECK(heard.size() == 1);
}

TEST_CASE("a daemon whose discovery dies exits 1 at once, naming it", "[lan][supervision]") {
  lan net(1);
  auto p = spawn_in(net, 0, "crash", {"--interface", net.host(0).ifname},
                    {{"P2P_TEST_CRASH", "discovery"}});
  auto log_path = net.host(0).dir + "/crash.log";
  REQUIRE(wait_until([&] { return contains_text(slurp(log_path), "p2p-daemon ready"); }, 20s));
  auto t0 = steady::now();
  p->signal(SIGUSR1);
  auto st = p->wait_for(5s);
  auto ms = ms_since(t0);
  auto log = slurp(log_path);
  INFO("exit " << (st ? std::to_string(*st) : "none") << " after " << ms << " ms; log:\n"
               << log);
  if (!st)
    p->kill();
  REQUIRE(st.has_value());
  CHECK(*st == 1);
  CHECK(ms < 3000);
  CHECK(contains_text(log, "error discovery stopped ("));
}
