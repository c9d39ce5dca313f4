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

#include <cstdlib>
#include <cstring>
#include <iostream>

#include "tests/web/chromium.hpp"

namespace {

// True when Catch only lists or explains and runs no test.
bool runs_no_test(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    if (std::strncmp(a, "--list", 6) == 0 || std::strcmp(a, "-l") == 0
        || std::strcmp(a, "-t") == 0 || std::strcmp(a, "-h") == 0
        || std::strcmp(a, "-?") == 0 || std::strcmp(a, "--help") == 0)
      return true;
  }
  return false;
}

} // namespace

int main(int argc, char** argv) {
  if (!runs_no_test(argc, argv)) {
    auto exe = p2p::test::chromium_exe();
    if (::access(exe.c_str(), X_OK) != 0) {
      const char* req = std::getenv("P2P_REQUIRE_CHROMIUM");
      bool required = req != nullptr && std::strcmp(req, "1") == 0;
      std::cout << (required ? "FAILED" : "SKIPPED") << ": no headless browser: " << exe
                << " is not installed (Debian's chromium; scripts/install-deps.sh "
                   "installs it)\n";
      return required ? 1 : 77;
    }
  }
  return Catch::Session().run(argc, argv);
}
