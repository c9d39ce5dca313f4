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

#include <cstdlib>
#include <cstring>
#include <iostream>

#include "tests/lan/netns.hpp"

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
    if (auto reason = p2p::test::lan_unavailable_reason()) {
      const char* req = std::getenv("P2P_REQUIRE_LAN");
      bool required = req != nullptr && std::strcmp(req, "1") == 0;
      std::cout << (required ? "FAILED" : "SKIPPED") << ": cannot build a LAN of network "
                << "namespaces: " << *reason << "\n";
      return required ? 1 : 77;
    }
    p2p::test::remove_stale_namespaces();
  }
  return Catch::Session().run(argc, argv);
}
