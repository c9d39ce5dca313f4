#pragma once
// Set while the running Catch test case has a failed assertion (by the
// listener in tests/support/failure_listener.cpp); fixtures read it to print
// the daemons' logs and keep their files.
namespace p2p::test {

inline bool& current_test_failed() {
  static bool failed = false;
  return failed;
}

} // namespace p2p::test
