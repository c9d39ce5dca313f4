// p2p-cli exit codes and error lines: refused tokens, no daemon, usage errors.
#include <regex>
#include <set>

#include "tests/support/daemon.hpp"

#ifndef P2P_SOURCE_DIR
#error "P2P_SOURCE_DIR must name the source tree (README.md, docs/protocol.md)"
#endif

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

// The error codes the docs name: README's table of the CLI's codes (code ->
// exit code) and the daemon's list in docs/protocol.md (exit code -1: any).
std::map<std::string, int> documented_error_codes() {
  std::map<std::string, int> codes;
  auto readme = p2p::read_file(std::string(P2P_SOURCE_DIR) + "/README.md").value_or("");
  auto from = readme.find("### Error codes");
  readme = from == std::string::npos ? "" : readme.substr(from, readme.find("\n## ", from) - from);
  std::regex row("\\n\\| `([a-z_]+)` \\| ([0-9]+) \\|");
  for (auto it = std::sregex_iterator(readme.begin(), readme.end(), row);
       it != std::sregex_iterator(); ++it)
    codes[(*it)[1]] = std::stoi((*it)[2]);
  auto protocol = p2p::read_file(std::string(P2P_SOURCE_DIR) + "/docs/protocol.md").value_or("");
  auto at = protocol.find("Error codes: bad_json"); // the control channel's list
  if (at != std::string::npos) {
    auto list = protocol.substr(at, protocol.find('.', at) - at);
    std::regex word("[a-z]+_?[a-z_]*");
    for (auto it = std::sregex_iterator(list.begin() + 13, list.end(), word);
         it != std::sregex_iterator(); ++it)
      codes.emplace(it->str(), -1);
  }
  return codes;
}

} // namespace

TEST_CASE("p2p-cli --json errors: one object {error: {code, message}}, a documented code and its exit code",
          "[system][cli][json]") {
  cluster c(1);
  auto codes = documented_error_codes();
  INFO("documented codes: " << codes.size());
  REQUIRE(codes.count("usage") == 1);
  REQUIRE(codes.count("unauthorized") == 1);
  auto dead = c.make_dir(c.root() + "/dead");
  write_file(dead + "/control.addr", "127.0.0.1:" + std::to_string(free_port()) + "\n");
  write_file(dead + "/control.cookie", "x\n");
  struct error_case {
    std::vector<std::string> args;
    std::string code;
    int exit_code; // README: 1 failed operation, 2 usage error, 3 unreachable or refused
  };
  std::vector<error_case> cases{
    {{"--state-dir", c.node(0).state_dir, "--json", "download", "-o", c.root()}, "usage", 2},
    {{"--state-dir", c.make_dir(c.root() + "/never"), "--json", "status"}, "no_daemon", 3},
    {{"--state-dir", dead, "--json", "status"}, "unreachable", 3},
    {{"--state-dir", fake_state_dir(c, "no-cookie-json", ""), "--json", "ls"}, "no_cookie", 3},
    {{"--state-dir", fake_state_dir(c, "bad-cookie-json", "nope"), "--json", "ls"},
     "unauthorized", 3},
    {{"--state-dir", c.node(0).state_dir, "--json", "cancel", "nosuch.bin"}, "not_found", 1},
    {{"--state-dir", c.node(0).state_dir, "--json", "web"}, "no_web", 1},
  };
  for (auto& e : cases) {
    auto r = c.cli_raw(e.args);
    INFO("expected " << e.code << "; exit " << r.exit_code << "\nstdout: " << r.out
                     << "\nstderr: " << r.err);
    auto doc = nlohmann::json::parse(r.out, nullptr, false);
    REQUIRE(doc.is_object());
    CHECK(doc.size() == 1);
    REQUIRE(doc["error"].is_object());
    CHECK(doc["error"].size() == 2);
    REQUIRE(doc["error"]["code"].is_string());
    REQUIRE(doc["error"]["message"].is_string());
    CHECK_FALSE(doc["error"]["message"].get<std::string>().empty());
    auto code = doc["error"]["code"].get<std::string>();
    CHECK(code == e.code);
    REQUIRE(codes.count(code) == 1); // documented
    CHECK(r.exit_code == e.exit_code);
    if (codes[code] >= 0) // the README's table says it too
      CHECK(codes[code] == e.exit_code);
    CHECK(r.err.rfind("p2p-cli: ", 0) == 0);
  }
}

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
