// A daemon that cannot start exits at once; a daemon that loses a core actor
// exits non-zero instead of running on half dead (issue 7, items 2 and 2b).
// The LAN tier checks that a failed start announces nothing
// (tests/lan/startup_test.cpp).
#include <csignal>
#include <string>
#include <vector>

#include "tests/support/daemon.hpp"

using namespace p2p::test;

namespace {

using start_clock = std::chrono::steady_clock;

struct failed_start {
  std::optional<int> status; // nullopt: still running after 5 s (killed)
  long ms = 0;               // from spawn to exit
  std::string log;
};

// Runs p2p-daemon with `args` (plus a state dir and --no-multicast) next to
// the cluster's daemons and waits up to 5 s for it to exit.
failed_start start_failing_daemon(cluster& c, const std::string& label,
                                  std::vector<std::string> args) {
  spawn_options o;
  o.exe = daemon_exe();
  o.args = {"--state-dir", c.make_dir(c.root() + "/" + label), "--no-multicast"};
  o.args.insert(o.args.end(), args.begin(), args.end());
  o.env = {{"HOME", c.root() + "/home"}};
  o.unset_env = p2p_env_names();
  o.stdout_path = c.root() + "/" + label + ".log";
  o.stderr_path = o.stdout_path;
  auto t0 = start_clock::now();
  process p(o);
  failed_start r;
  r.status = p.wait_for(5s);
  r.ms = static_cast<long>(
    std::chrono::duration_cast<millis>(start_clock::now() - t0).count());
  if (!r.status)
    p.kill();
  r.log = slurp(o.stdout_path);
  return r;
}

size_t error_lines(const std::string& log) {
  size_t n = 0;
  for (size_t pos = log.find(" error "); pos != std::string::npos;
       pos = log.find(" error ", pos + 1))
    ++n;
  return n;
}

} // namespace

TEST_CASE("a daemon that cannot start exits 1 within a second with one error line",
          "[system][startup]") {
  cluster c(1);
  auto control = "127.0.0.1:" + std::to_string(free_port());
  auto peer_port = std::to_string(free_port());
  failed_start r;
  std::string expected;
  SECTION("peer port taken") {
    r = start_failing_daemon(c, "peer-taken", {"--control-addr", control, "--peer-port",
                                               std::to_string(c.node(0).peer_port)});
    expected = "cannot start: cannot listen on 0.0.0.0:" + std::to_string(c.node(0).peer_port);
  }
  SECTION("control port taken") {
    r = start_failing_daemon(c, "control-taken", {"--control-addr", c.node(0).control_addr(),
                                                  "--peer-port", peer_port});
    expected = "cannot start: cannot listen on control address " + c.node(0).control_addr();
  }
  SECTION("unknown interface") {
    r = start_failing_daemon(c, "no-interface", {"--control-addr", control, "--peer-port",
                                                 peer_port, "--interface", "p2pnosuch0"});
    expected = "cannot start: no IPv4 address on interface 'p2pnosuch0'";
  }
  SECTION("web page port taken") {
    r = start_failing_daemon(c, "web-taken", {"--control-addr", control, "--peer-port",
                                              peer_port, "--http", c.node(0).control_addr()});
    expected = "cannot start: cannot listen on web address " + c.node(0).control_addr()
               + ": Address already in use";
  }
  SECTION("web page address not on this machine") {
    // 192.0.2.1: TEST-NET-1 (RFC 5737), never a local address.
    r = start_failing_daemon(c, "web-not-local", {"--control-addr", control, "--peer-port",
                                                  peer_port, "--http", "192.0.2.1:8080"});
    expected = "cannot start: cannot listen on web address 192.0.2.1:8080: Cannot assign "
               "requested address";
  }
  INFO("exit " << (r.status ? std::to_string(*r.status) : "none (killed after 5 s)")
               << " after " << r.ms << " ms; log:\n" << r.log);
  REQUIRE(r.status.has_value());
  CHECK(*r.status == 1);
  CHECK(r.ms < 1000);
  CHECK(contains(r.log, expected));
  CHECK(error_lines(r.log) == 1);
  CHECK_FALSE(contains(r.log, "p2p-daemon ready"));
  // The daemon that holds the ports is unharmed.
  CHECK(c.try_status(0).is_object());
}

TEST_CASE("a core actor killed by an exception makes the daemon exit 1 at once, naming it",
          "[system][supervision]") {
  // discovery needs multicast: tests/lan/startup_test.cpp.
  auto actor = GENERATE(as<std::string>{}, "share_registry", "peer_server", "catalog",
                        "download_manager", "control_server");
  cluster c(1);
  REQUIRE(c.stop(0, SIGTERM).has_value());
  c.node(0).env["P2P_TEST_CRASH"] = actor;
  c.start(0);
  auto& n = c.node(0);
  auto t0 = start_clock::now();
  n.proc->signal(SIGUSR1);
  auto st = n.proc->wait_for(5s);
  auto ms = std::chrono::duration_cast<millis>(start_clock::now() - t0).count();
  auto log = slurp(n.log_path);
  INFO(actor << ": exit " << (st ? std::to_string(*st) : "none") << " after " << ms
             << " ms; log:\n" << tail_lines(log, 30));
  REQUIRE(st.has_value());
  CHECK(*st == 1);
  CHECK(ms < 3000);
  CHECK(contains(log, "test crash (P2P_TEST_CRASH)"));
  CHECK(contains(log, "error " + actor + " stopped ("));
}
