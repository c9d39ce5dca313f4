#pragma once
// The skip rule of the test tiers that need what a machine may lack (network
// namespaces, a browser): where it is missing, the run prints
// "SKIPPED: <reason>" and exits 77, which ctest reports as skipped
// (SKIP_RETURN_CODE), never passed; with the tier's P2P_REQUIRE_* variable
// set to 1 it prints "FAILED: <reason>" and exits 1. Listing the tests (ctest
// discovery) always works. No Catch here: the tiers' mains include it.
#include <cstring>
#include <cstdlib>
#include <iostream>
#include <string>

namespace p2p::test {

// True when Catch only lists or explains and runs no test.
inline bool runs_no_test(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    if (std::strncmp(a, "--list", 6) == 0 || std::strcmp(a, "-l") == 0
        || std::strcmp(a, "-t") == 0 || std::strcmp(a, "-h") == 0
        || std::strcmp(a, "-?") == 0 || std::strcmp(a, "--help") == 0)
      return true;
  }
  return false;
}

// Says why the tier cannot run; returns its exit code: 77 (skipped), or 1
// when the environment variable `require_env` is "1".
inline int skip_or_fail(const char* require_env, const std::string& why) {
  const char* req = std::getenv(require_env);
  bool required = req != nullptr && std::strcmp(req, "1") == 0;
  std::cout << (required ? "FAILED" : "SKIPPED") << ": " << why << "\n";
  return required ? 1 : 77;
}

} // namespace p2p::test
