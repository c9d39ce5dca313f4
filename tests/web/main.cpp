// web_tests: the web page of p2p-daemon --http in headless Chromium.
//
// Needs Debian's `chromium` (scripts/install-deps.sh installs it). Where it
// is missing the run prints "SKIPPED: <reason>" and exits 77, which ctest
// reports as skipped (SKIP_RETURN_CODE), not passed; with
// P2P_REQUIRE_CHROMIUM=1 it fails (exit 1) instead. Listing the tests
// (ctest discovery) always works.
#define CATCH_CONFIG_CONSOLE_WIDTH 300 // no wrapped names in ctest discovery
#define CATCH_CONFIG_RUNNER
#define CATCH_CONFIG_EXTERNAL_INTERFACES
#include <catch2/catch.hpp>

#include <unistd.h>

#include "tests/web/chromium.hpp"
#include "tests/support/skip.hpp"

int main(int argc, char** argv) {
  if (!p2p::test::runs_no_test(argc, argv)) {
    auto exe = p2p::test::chromium_exe();
    if (::access(exe.c_str(), X_OK) != 0)
      return p2p::test::skip_or_fail("P2P_REQUIRE_CHROMIUM",
                                     "no headless browser: " + exe
                                       + " is not installed (Debian's chromium; "
                                         "scripts/install-deps.sh installs it)");
  }
  return Catch::Session().run(argc, argv);
}
