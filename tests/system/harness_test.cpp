// The system tier's own harness: what its daemons rely on.
#include <fstream>
#include <set>

#include "tests/support/daemon.hpp"

using namespace p2p::test;

TEST_CASE("free_port hands out distinct ports below the ephemeral range that bind",
          "[system][harness]") {
  // A daemon given a port from inside the ephemeral range failed with
  // "cannot listen" once an outgoing connection had taken it as its local
  // port (a parallel run of the system tier against the sanitized binaries).
  int lo = 32768, hi = 60999;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> lo >> hi;
  bool room = lo - 10000 >= 1000; // else any free port will do
  INFO("ephemeral range " << lo << "-" << hi);
  std::set<uint16_t> seen;
  for (int i = 0; i < 50; ++i) {
    auto port = free_port();
    INFO("port " << port);
    if (room) {
      CHECK(port >= 10000);
      CHECK(port < lo);
    }
    CHECK(seen.insert(port).second);
  }
}
