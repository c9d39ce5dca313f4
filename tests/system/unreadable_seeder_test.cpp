// Issue 7 item 3: a seeder that cannot read its file answers `io` to every
// chunk request; the download must not wait for it for ever. The seeder runs
// as the unprivileged user nobody (root reads a chmod 000 file anyway).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "tests/support/daemon.hpp"

using namespace p2p::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

TEST_CASE("a seeder that cannot read its file is dropped and the download fails, -w returns",
          "[system][resilience][io]") {
  INFO("this test runs the seeder as nobody: it needs root and /usr/bin/setpriv");
  REQUIRE(::geteuid() == 0);
  REQUIRE(fs::exists("/usr/bin/setpriv"));
  const uid_t nobody = 65534;
  // The seeder's tree: nobody may enter it and owns its state dir and file.
  auto area = make_temp_dir("p2p-nobody");
  struct cleanup {
    std::string dir;
    ~cleanup() { remove_tree(dir); }
  } guard{area};
  REQUIRE(::chmod(area.c_str(), 0755) == 0);
  auto state = area + "/state";
  auto src = area + "/src";
  fs::create_directories(state);
  fs::create_directories(src);
  auto file = src + "/locked.bin";
  write_file(file, random_bytes(2 << 20, 31));
  for (auto& p : {state, src, file})
    REQUIRE(::chown(p.c_str(), nobody, nobody) == 0);

  auto control_port = free_port();
  auto peer_port = free_port();
  spawn_options o;
  o.exe = "/usr/bin/setpriv";
  o.args = {"--reuid=65534", "--regid=65534", "--clear-groups", daemon_exe(),
            "--state-dir", state, "--control-addr", "127.0.0.1:" + std::to_string(control_port),
            "--peer-port", std::to_string(peer_port), "--advertise-addr", "127.0.0.1",
            "--no-multicast", "--log-level", "debug"};
  o.env = {{"HOME", area}, {"XDG_STATE_HOME", area + "/.state"}};
  o.unset_env = p2p_env_names();
  o.stdout_path = o.stderr_path = area + "/seeder.log";
  process seeder(o);

  cluster c(1, {}, nullptr, {{0, {"--peer", "127.0.0.1:" + std::to_string(peer_port)}}});
  auto seeder_cli = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--state-dir", state});
    return c.cli_raw(args, 30s);
  };
  REQUIRE(wait_until([&] { return seeder_cli({"status"}).exit_code == 0; }, 20s, 100ms));
  auto shared = seeder_cli({"--json", "share", file});
  INFO("share: " << shared.out << shared.err << "\nseeder log:\n" << slurp(area + "/seeder.log"));
  REQUIRE(shared.exit_code == 0);
  REQUIRE_FALSE(c.wait_for_file(0, "locked.bin", 1).is_null());
  {
    // A folder with a file this user cannot read: shared without it, and the
    // reply says so (issue 13 item 3), not only the daemon's log.
    auto dir = area + "/mixed";
    fs::create_directories(dir);
    write_file(dir + "/ok.bin", "ok");
    write_file(dir + "/secret.bin", "secret"); // root's, 0600
    REQUIRE(::chmod((dir + "/secret.bin").c_str(), 0600) == 0);
    REQUIRE(::chown(dir.c_str(), nobody, nobody) == 0);
    REQUIRE(::chown((dir + "/ok.bin").c_str(), nobody, nobody) == 0);
    auto mixed = seeder_cli({"share", dir});
    INFO("share of the folder: " << mixed.out << mixed.err);
    CHECK(mixed.exit_code == 0);
    CHECK(contains(mixed.out, "skipped " + dir + "/secret.bin: unreadable: Permission denied"));
    CHECK(contains(mixed.out, "shared mixed/ok.bin"));
  }

  REQUIRE(::chmod(file.c_str(), 0) == 0); // same size and mtime: still listed

  auto out = c.root() + "/out";
  auto t0 = std::chrono::steady_clock::now();
  auto r = c.cli(0, {"download", "-f", "locked.bin", "-o", out, "-w"}, 60s);
  auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto d = c.download_status(0, "locked.bin");
  INFO("download -w: exit " << r.exit_code << " after " << took << " s\n"
                            << r.out << r.err << "\nstatus: " << d.dump());
  CHECK(r.exit_code != 0);
  CHECK(took < 20);
  CHECK(d.value("state", "") == "failed");
  CHECK(d.value("error", "").find("io errors") != std::string::npos);
  CHECK(d.value("error", "").find("Permission denied") != std::string::npos);
  CHECK_FALSE(fs::exists(out + "/locked.bin.part"));
  CHECK_FALSE(fs::exists(out + "/locked.bin"));
  CHECK(resume_records(c.node(0)).empty());
  seeder.signal(SIGTERM);
  CHECK(seeder.wait_for(5s));
}
