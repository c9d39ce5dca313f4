// Tells the system and LAN fixtures when a test case has failed, so they can
// print the daemons' logs and keep their files.
#define CATCH_CONFIG_EXTERNAL_INTERFACES
#include <catch2/catch.hpp>

#include "tests/support/test_failed.hpp"

namespace {

struct failure_listener : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;

  void testCaseStarting(const Catch::TestCaseInfo&) override {
    p2p::test::current_test_failed() = false;
  }

  bool assertionEnded(const Catch::AssertionStats& stats) override {
    if (!stats.assertionResult.isOk())
      p2p::test::current_test_failed() = true;
    return true;
  }
};

} // namespace

CATCH_REGISTER_LISTENER(failure_listener)
