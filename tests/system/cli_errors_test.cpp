// p2p-cli exit codes and error lines: refused tokens, no daemon, usage errors.
#include "tests/support/daemon.hpp"

using namespace p2p::test;

namespace {

// A state dir that points at daemon 0's control port with the given cookie
// (none when `cookie` is empty).
std::string fake_state_dir(cluster& c, const std::string& name, const std::string& cookie) {
  auto dir = c.make_dir(c.root() + "/" + name);
  write_file(dir + "/control.addr", c.node(0).control_addr() + "\n");
  if (!cookie.empty())
    write_file(dir + "/control.cookie", cookie + "\n");
  return dir;
}

} // namespace

TEST_CASE("p2p-cli exits 3 when the daemon refuses or cannot be reached",
          "[system][cli]") {
  cluster c(1);

  SECTION("wrong cookie") {
    auto dir = fake_state_dir(c, "wrong-cookie", "0123456789abcdef-not-the-cookie");
    auto r = c.cli_raw({"--state-dir", dir, "status"});
    INFO("exit " << r.exit_code << "\nstdout: " << r.out << "\nstderr: " << r.err);
    CHECK(r.exit_code == 3);
    CHECK(r.err.rfind("p2p-cli: ", 0) == 0);
    auto j = c.cli_raw({"--state-dir", dir, "--json", "ls"});
    INFO("--json: exit " << j.exit_code << "\nstdout: " << j.out << "\nstderr: " << j.err);
    CHECK(j.exit_code == 3);
    auto doc = nlohmann::json::parse(j.out, nullptr, false);
    REQUIRE(doc.is_object());
    CHECK(doc["error"].value("code", "") == "unauthorized");
  }
  SECTION("wrong cookie, address given by --control") {
    auto dir = c.make_dir(c.root() + "/only-cookie");
    write_file(dir + "/control.cookie", "bad\n");
    auto r = c.cli_raw({"--control", c.node(0).control_addr(), "--state-dir", dir, "status"});
    INFO("exit " << r.exit_code << "\nstderr: " << r.err);
    CHECK(r.exit_code == 3);
  }
  SECTION("no cookie file") {
    auto dir = fake_state_dir(c, "no-cookie", "");
    auto r = c.cli_raw({"--state-dir", dir, "status"});
    INFO("exit " << r.exit_code << "\nstderr: " << r.err);
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("cookie") != std::string::npos);
  }
  SECTION("no daemon listening") {
    auto dir = c.make_dir(c.root() + "/nobody");
    auto addr = "127.0.0.1:" + std::to_string(free_port());
    auto r = c.cli_raw({"--control", addr, "--state-dir", dir, "status"});
    INFO("exit " << r.exit_code << "\nstderr: " << r.err);
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("cannot reach daemon at " + addr) != std::string::npos);
  }
  SECTION("the daemon has stopped") {
    REQUIRE(c.stop(0, SIGTERM, 5s).has_value());
    auto r = c.cli(0, {"status"});
    INFO("exit " << r.exit_code << "\nstderr: " << r.err);
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("cannot reach daemon") != std::string::npos);
  }
}

TEST_CASE("p2p-cli exits 2 on usage errors", "[system][cli]") {
  cluster c(1);
  auto out = c.root() + "/out";

  SECTION("download without -f or --id") {
    auto r = c.cli(0, {"download", "-o", out});
    INFO("exit " << r.exit_code << "\nstderr: " << r.err);
    CHECK(r.exit_code == 2);
    CHECK_FALSE(r.err.empty());
  }
  SECTION("download with -f and an --id that matches nothing is a failed operation") {
    auto r = c.cli(0, {"download", "-f", "a", "--id", std::string(64, 'a'), "-o", out});
    INFO("exit " << r.exit_code << "\nstderr: " << r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("no file named a with id aaaa") != std::string::npos);
  }
  SECTION("no command") {
    CHECK(c.cli(0, {}).exit_code == 2);
  }
  SECTION("unknown command") {
    CHECK(c.cli(0, {"frobnicate"}).exit_code == 2);
  }
  SECTION("share without a path") {
    CHECK(c.cli(0, {"share"}).exit_code == 2);
  }
  // Usage errors never reach the daemon, which still answers.
  CHECK(c.cli(0, {"status"}).exit_code == 0);
}
