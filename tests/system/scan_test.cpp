// `scan --timeout-ms` sets how long the daemon waits for answers.
#include <chrono>

#include "tests/support/daemon.hpp"

using namespace p2p::test;
using namespace std::chrono_literals;

TEST_CASE("scan waits the window it is given", "[system][scan]") {
  cluster c(2);
  auto timed = [&](std::vector<std::string> args) {
    auto start = std::chrono::steady_clock::now();
    auto r = c.cli(0, args);
    return std::make_pair(r, std::chrono::steady_clock::now() - start);
  };
  auto [quick, quick_took] = timed({"--json", "scan", "--timeout-ms", "150"});
  INFO("stderr: " << quick.err);
  REQUIRE(quick.exit_code == 0);
  CHECK(nlohmann::json::parse(quick.out)["peers"] == 1);
  CHECK(quick_took >= 150ms);
  auto [slow, slow_took] = timed({"scan", "--timeout-ms", "1500"});
  REQUIRE(slow.exit_code == 0);
  CHECK(slow_took >= 1500ms);
  CHECK(slow_took > quick_took);
  CHECK(c.cli(0, {"scan", "--timeout-ms", "5"}).exit_code == 2);
}
