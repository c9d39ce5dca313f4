// Swarming on loopback: downloaders serve each other the chunks they have
// verified (docs/protocol.md, "Swarming"), and a finished download seeds on
// unless --no-seed.
#include <catch2/catch.hpp>

#include "tests/support/bytes.hpp"
#include "tests/support/daemon.hpp"

using namespace p2p::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

uint64_t uploaded(cluster& c, size_t i) {
  auto st = c.try_status(i);
  REQUIRE(st.is_object());
  return st["uploads"].value("bytes_total", uint64_t{0});
}

} // namespace

TEST_CASE("three downloaders of one slow seeder trade chunks, finish byte-identical "
          "and seed on unless --no-seed",
          "[system][swarm]") {
  // Daemon 0 uploads at 1 MiB/s: three copies from it alone would take 48 s.
  // Static peers are polled every 500 ms so partial offers show up fast.
  const uint64_t size = 16 * MiB;
  cluster c(4, {}, nlohmann::json{{"announce_interval_ms", 500}}, {{0, rate(1 * MiB)}});
  auto src = c.make_dir(c.root() + "/src");
  const std::string name = "swarm.bin";
  write_file(src + "/" + name, random_bytes(size, 77));
  auto expected = file_sha256(src + "/" + name);
  REQUIRE(c.cli(0, {"share", src + "/" + name}, 120s).exit_code == 0);
  for (size_t i = 1; i <= 3; ++i)
    REQUIRE_FALSE(c.wait_for_file(i, name, 1, 30s).is_null());

  std::vector<std::string> outs;
  for (size_t i = 1; i <= 3; ++i) {
    outs.push_back(c.make_dir(c.root() + "/out" + std::to_string(i)));
    std::vector<std::string> args = {"download", "-f", name, "-o", outs.back()};
    if (i == 3)
      args.push_back("--no-seed");
    auto r = c.cli(i, args, 30s);
    INFO("download on " << i << ": " << r.out << r.err);
    REQUIRE(r.exit_code == 0);
  }
  for (size_t i = 1; i <= 3; ++i) {
    bool ok = false;
    auto d = c.wait_download(
      i, name, [](const nlohmann::json& d) { return d.value("state", "") != "running"
                                                    && d.value("state", "") != "queued"; },
      120s, ok, 200ms);
    INFO("download on " << i << ": " << d.dump() << "\n" << c.dump_logs(60));
    REQUIRE(ok);
    REQUIRE(d.value("state", "") == "complete");
    CHECK(file_sha256(outs[i - 1] + "/" + name) == expected);
    CHECK(d.value("seeding", false) == (i != 3));
  }
  uint64_t seeder = uploaded(c, 0);
  uint64_t among = 0;
  for (size_t i = 1; i <= 3; ++i)
    among += uploaded(c, i);
  INFO("seeder uploaded " << seeder << " bytes, the downloaders " << among);
  // Without swarming the seeder sends every byte three times and the
  // downloaders nothing.
  CHECK(among > size / 2);
  CHECK(seeder < 3 * size - size / 2);

  // The seeding ones list it as a share (it persists as any share); the
  // --no-seed one does not.
  auto s1 = c.cli_json(1, {"status"});
  CHECK_FALSE(cluster::find_by_name(s1, "shares", name).is_null());
  auto s3 = c.cli_json(3, {"status"});
  CHECK(cluster::find_by_name(s3, "shares", name).is_null());
}
