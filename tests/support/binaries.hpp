// The binaries under test and the environment they start in, for every tier
// that starts them (system, LAN, web).
#pragma once

#include <cstdlib>
#include <string>
#include <vector>

#include <unistd.h> // environ (a GNU extension; g++ defines _GNU_SOURCE)

#ifndef P2P_BIN_DIR
#error "P2P_BIN_DIR must name the directory holding p2p-daemon and p2p-cli"
#endif

namespace p2p::test {

// The directory holding p2p-daemon and p2p-cli: $P2P_TEST_BIN_DIR when set
// and not empty (scripts/test.sh points it at the sanitizer build, so the
// Release test binaries drive sanitized daemons), else this build's bin dir.
inline std::string bin_dir() {
  if (const char* d = std::getenv("P2P_TEST_BIN_DIR"); d != nullptr && *d != '\0')
    return d;
  return P2P_BIN_DIR;
}

inline std::string daemon_exe() {
  return bin_dir() + "/p2p-daemon";
}

inline std::string cli_exe() {
  return bin_dir() + "/p2p-cli";
}

// The variables to remove from a child's inherited environment so that the
// developer's own daemon, config or state cannot leak into a test: every
// P2P_* variable set now (the daemon's and CLI's settings, and the tests' own
// P2P_TEST_* knobs), and XDG_STATE_HOME. Computed from the environment, so a
// new setting needs no edit here. A test that wants one sets it again through
// spawn_options::env, which applies after the removal.
inline std::vector<std::string> p2p_env_names() {
  std::vector<std::string> names{"XDG_STATE_HOME"};
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    if (kv.rfind("P2P_", 0) == 0)
      names.push_back(kv.substr(0, kv.find('=')));
  }
  return names;
}

} // namespace p2p::test
