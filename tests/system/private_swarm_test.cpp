// Private swarms (issue 12 item 5): p2p-cli keygen, the daemon's checks of
// its key file, and daemons with and without the key on loopback (static
// peers, no multicast; the multicast side is in tests/lan).
#include <sys/stat.h>

#include <filesystem>

#include "tests/support/daemon.hpp"

using namespace p2p::test;

namespace {

spawn_options tool(const std::string& exe, std::vector<std::string> args,
                   const std::string& home) {
  spawn_options o;
  o.exe = exe;
  o.args = std::move(args);
  o.env = {{"HOME", home}};
  o.unset_env = p2p_env_names();
  return o;
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  ::lstat(path.c_str(), &st);
  return st.st_mode & 07777;
}

// A directory with two keys made by p2p-cli keygen: a.key and b.key.
struct key_dir {
  std::string path = make_temp_dir("p2p-keys");
  ~key_dir() { remove_tree(path); }
  std::string make(const std::string& name) {
    auto file = path + "/" + name;
    auto r = run(tool(cli_exe(), {"keygen", file}, path), 10s, path);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return file;
  }
};

bool log_has(const daemon_node& n, const std::string& text) {
  return contains(slurp(n.log_path), text);
}

// Asks daemon i to scan (which dials every peer) until its log has `text`:
// true within 20 s, else false.
bool logs_after_scan(cluster& c, size_t i, const std::string& text) {
  return wait_until(
    [&] {
      c.cli(i, {"scan"}, 30s);
      return log_has(c.node(i), text);
    },
    20s, 200ms);
}

} // namespace

TEST_CASE("keygen writes a 0600 key once and never overwrites it", "[system][private]") {
  key_dir keys;
  auto file = keys.path + "/net.key";
  auto r = run(tool(cli_exe(), {"keygen", file}, keys.path), 10s, keys.path);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(mode_of(file) == 0600);
  auto text = slurp(file);
  REQUIRE(text.size() == 65);
  CHECK(text.back() == '\n');
  CHECK(text.find_first_not_of("0123456789abcdef") == 64);
  CHECK_FALSE(contains(r.out + r.err, text.substr(0, 64))); // the key is never shown
  auto again = run(tool(cli_exe(), {"keygen", file}, keys.path), 10s, keys.path);
  CHECK(again.exit_code == 1);
  CHECK(contains(again.err, "exists; not overwritten"));
  CHECK(slurp(file) == text);
  auto json = run(tool(cli_exe(), {"--json", "keygen", keys.path + "/other.key"}, keys.path),
                  10s, keys.path);
  CHECK(json.exit_code == 0);
  CHECK(nlohmann::json::parse(json.out).value("path", "") == keys.path + "/other.key");
}

TEST_CASE("the daemon refuses a key file others can read or a malformed one, exit 1",
          "[system][private]") {
  key_dir keys;
  auto file = keys.make("net.key");
  auto key_text = slurp(file).substr(0, 64);
  auto start = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"--state-dir", keys.path + "/state", "--no-multicast",
                                     "--control-addr", "127.0.0.1:0", "--peer-port", "0"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run(tool(daemon_exe(), args, keys.path), 20s, keys.path);
  };
  SECTION("group-readable") {
    ::chmod(file.c_str(), 0640);
    auto r = start({"--network-key", file});
    INFO(r.err);
    CHECK(r.exit_code == 1);
    CHECK(contains(r.err, "cannot start: network key " + file + ": mode 0640"));
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK_FALSE(contains(r.err, key_text));
  }
  SECTION("malformed") {
    write_file(file, "not a key " + key_text + "\n");
    ::chmod(file.c_str(), 0600);
    auto r = start({"--network-key", file});
    INFO(r.err);
    CHECK(r.exit_code == 1);
    CHECK(contains(r.err, "cannot start: network key " + file + ": malformed"));
    CHECK_FALSE(contains(r.err, key_text));
  }
  SECTION("missing, from the environment") {
    auto o = tool(daemon_exe(), {"--state-dir", keys.path + "/state", "--no-multicast",
                                 "--control-addr", "127.0.0.1:0", "--peer-port", "0"},
                  keys.path);
    o.env["P2P_NETWORK_KEY"] = keys.path + "/none.key";
    auto r = run(o, 20s, keys.path);
    CHECK(r.exit_code == 1);
    CHECK(contains(r.err, "cannot start: network key " + keys.path + "/none.key"));
  }
  SECTION("--encrypt without a key is a usage error") {
    auto r = start({"--encrypt"});
    CHECK(r.exit_code == 2);
    CHECK(contains(r.err, "encrypt: needs a network key"));
  }
}

TEST_CASE("daemons with one key serve each other, others are refused both ways",
          "[system][private]") {
  key_dir keys;
  auto a = keys.make("a.key");
  auto b = keys.make("b.key");
  // 0 and 1 hold key a, 2 has none, 3 holds key b; all are each other's
  // static peers.
  cluster c(4, {}, nullptr,
            {{0, {"--network-key", a}}, {1, {"--network-key", a}}, {3, {"--network-key", b}}});
  auto data = random_bytes(3 * MiB + 17, 12);
  auto src = c.make_dir(c.root() + "/src") + "/private.bin";
  write_file(src, data);
  c.share_id(0, src);
  auto open_src = c.make_dir(c.root() + "/src2") + "/open.bin";
  write_file(open_src, "keyless\n");
  c.share_id(2, open_src);

  // The member finds the file and downloads it byte for byte.
  REQUIRE(c.wait_for_file(1, "private.bin", 1).is_object());
  auto out = c.make_dir(c.root() + "/out");
  auto dl = c.cli(1, {"download", "-f", "private.bin", "-o", out, "-w"}, 60s);
  INFO(dl.err);
  REQUIRE(dl.exit_code == 0);
  CHECK(slurp(out + "/private.bin") == data);

  // The keyless daemon and the one with key b are refused, and say why.
  CHECK(logs_after_scan(c, 2, "this daemon is in a private swarm: the peer has no network key"));
  CHECK(logs_after_scan(c, 3, "the peer's network key differs from ours"));
  CHECK(log_has(c.node(0), "refused 127.0.0.1:"));
  // ... and the member refuses the keyless daemon's catalog in turn.
  CHECK(logs_after_scan(c, 0, "peer error: this daemon has no network key"));
  for (size_t i : {size_t{2}, size_t{3}}) {
    auto ls = c.cli_json(i, {"ls"});
    CHECK(cluster::find_by_name(ls, "files", "private.bin").is_null());
  }
  auto ls0 = c.cli_json(0, {"ls"});
  CHECK(cluster::find_by_name(ls0, "files", "open.bin").is_null());
  // The key never reaches a log, status or peers.
  for (size_t i = 0; i < c.size(); ++i) {
    auto shown = slurp(c.node(i).log_path) + c.cli(i, {"--json", "status"}).out
                 + c.cli(i, {"--json", "peers"}).out + c.cli(i, {"status"}).out;
    CHECK_FALSE(contains(shown, slurp(a).substr(0, 64)));
    CHECK_FALSE(contains(shown, slurp(b).substr(0, 64)));
  }
}

TEST_CASE("encrypting members download byte-identical over TLS, a plain member is refused",
          "[system][private][encrypt]") {
  key_dir keys;
  auto a = keys.make("a.key");
  // 0 and 1 encrypt; 2 holds the same key without --encrypt.
  cluster c(3, {"--network-key", a}, nullptr, {{0, {"--encrypt"}}, {1, {"--encrypt"}}});
  auto data = random_bytes(5 * MiB + 3, 77);
  auto src = c.make_dir(c.root() + "/src") + "/secret.bin";
  write_file(src, data);
  c.share_id(0, src);
  REQUIRE(c.wait_for_file(1, "secret.bin", 1).is_object());
  auto out = c.make_dir(c.root() + "/out");
  auto dl = c.cli(1, {"download", "-f", "secret.bin", "-o", out, "-w"}, 60s);
  INFO(dl.err);
  REQUIRE(dl.exit_code == 0);
  CHECK(slurp(out + "/secret.bin") == data);
  CHECK(contains(slurp(c.node(0).log_path), "private swarm, encrypted"));

  // The plain member and the encrypting ones refuse each other, and say so.
  CHECK(logs_after_scan(c, 0, "the peer does not encrypt"));
  CHECK(logs_after_scan(c, 2, "this daemon runs --encrypt; the peer does not"));
  auto ls = c.cli_json(2, {"ls"});
  CHECK(cluster::find_by_name(ls, "files", "secret.bin").is_null());
}
