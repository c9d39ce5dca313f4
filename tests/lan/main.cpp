// lan_tests: real daemons in network namespaces joined by a bridge.
//
// Building that LAN needs root and iproute2. Where it cannot be built, the
// run prints "SKIPPED: <reason>" and exits 77, which ctest reports as
// skipped (SKIP_RETURN_CODE), not passed; with P2P_REQUIRE_LAN=1 it fails
// (exit 1) instead. Listing the tests (ctest discovery) always works.
#define CATCH_CONFIG_CONSOLE_WIDTH 300 // no wrapped names in ctest discovery
#define CATCH_CONFIG_RUNNER
#define CATCH_CONFIG_EXTERNAL_INTERFACES
#include <catch2/catch.hpp>

#include "tests/lan/netns.hpp"
#include "tests/support/skip.hpp"

int main(int argc, char** argv) {
  if (!p2p::test::runs_no_test(argc, argv)) {
    if (auto reason = p2p::test::lan_unavailable_reason())
      return p2p::test::skip_or_fail("P2P_REQUIRE_LAN",
                                     "cannot build a LAN of network namespaces: " + *reason);
    p2p::test::remove_stale_namespaces();
  }
  return Catch::Session().run(argc, argv);
}
