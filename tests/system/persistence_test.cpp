// Shares survive a clean daemon restart.
#include "tests/support/daemon.hpp"

using namespace p2p::test;

TEST_CASE("shares persist across a daemon restart", "[system][persistence]") {
  cluster c(1);
  auto src = c.make_dir(c.root() + "/src");
  write_file(src + "/keep.bin", random_bytes(300 * 1024, 7));
  auto shared = c.cli_json(0, {"share", src + "/keep.bin"});
  INFO("share --json: " << shared.dump());
  auto share = cluster::find_by_name(shared, "shares", "keep.bin");
  REQUIRE(share.is_object());
  // One file is "1 file", not "1 files" (the daemon's log said so).
  CHECK_THAT(slurp(c.node(0).log_path),
             Catch::Contains("sharing " + src + "/keep.bin: 1 file to hash"));

  auto exit_status = c.stop(0, SIGTERM, 2s);
  INFO(c.dump_logs(40));
  REQUIRE(exit_status.has_value()); // stopped within 2 s
  CHECK(*exit_status == 0);

  c.start(0);
  auto status = c.cli_json(0, {"status"});
  INFO("status --json after restart: " << status.dump());
  auto again = cluster::find_by_name(status, "shares", "keep.bin");
  REQUIRE(again.is_object());
  CHECK(again.value("id", "") == share.value("id", "x"));
  CHECK(again.value("path", "") == src + "/keep.bin");
  CHECK(again.value("size", 0ULL) == 300 * 1024);
}

TEST_CASE("a completed download is still shared after a clean stop right after it",
          "[system][persistence]") {
  // shares.json is saved at most every share_flush_interval_ms while shares
  // change; the stop saves what that has not saved yet.
  cluster c(2);
  auto src = c.make_dir(c.root() + "/src");
  write_file(src + "/got.bin", random_bytes(100 * 1024, 8));
  REQUIRE(c.cli(0, {"share", src + "/got.bin"}).exit_code == 0);
  REQUIRE_FALSE(c.wait_for_file(1, "got.bin", 1).is_null());
  auto out = c.root() + "/out";
  auto r = c.cli(1, {"download", "-f", "got.bin", "-o", out, "-w"});
  INFO("download: " << r.out << r.err);
  REQUIRE(r.exit_code == 0);
  auto exit_status = c.stop(1, SIGTERM, 2s);
  INFO(c.dump_logs(40));
  REQUIRE(exit_status.has_value());
  CHECK(*exit_status == 0);

  c.start(1);
  auto status = c.cli_json(1, {"status"});
  INFO("status --json after restart: " << status.dump());
  auto again = cluster::find_by_name(status, "shares", "got.bin");
  REQUIRE(again.is_object());
  CHECK(again.value("path", "") == out + "/got.bin");
}
