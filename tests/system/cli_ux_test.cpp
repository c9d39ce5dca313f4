// What a newcomer meets in p2p-cli: --version, mistyped commands, help
// examples, no daemon, Ctrl-C on `download -w`, progress off a terminal, a
// second `-w` that follows the first, ambiguous names, short ids, `clear`.
#include <algorithm>
#include <csignal>
#include <filesystem>

#include "protocol/frame.hpp"
#include "tests/support/daemon.hpp"

using namespace p2p::test;
namespace fs = std::filesystem;

namespace {

// The downloads of daemon i's status whose out_path is `path`.
nlohmann::json download_at(cluster& c, size_t i, const std::string& path) {
  auto st = c.cli_json(i, {"status"});
  for (auto& d : st["downloads"])
    if (d.value("out_path", "") == path)
      return d;
  return nullptr;
}

// Waits until daemon i's download into `path` has some bytes.
void require_started(cluster& c, size_t i, const std::string& path) {
  nlohmann::json d;
  bool ok = wait_until(
    [&] {
      d = download_at(c, i, path);
      return d.is_object() && d.value("bytes_done", 0ULL) > 0;
    },
    20s, 100ms);
  INFO("download into " << path << ": " << d.dump());
  REQUIRE(ok);
}

} // namespace

TEST_CASE("both binaries say --version, a mistyped command, help with an example, no daemon ever started",
          "[system][cli][ux]") {
  auto dir = make_temp_dir("p2p-ux");
  auto run_exe = [&](const std::string& exe, std::vector<std::string> args) {
    spawn_options o;
    o.exe = exe;
    o.args = std::move(args);
    o.unset_env = p2p_env_names();
    o.env = {{"HOME", dir + "/home"}};
    return run(o, 20s, dir);
  };
  for (auto exe : {cli_exe(), daemon_exe()}) {
    auto v = run_exe(exe, {"--version"});
    INFO(exe << " --version: exit " << v.exit_code << "\n" << v.out << v.err);
    CHECK(v.exit_code == 0);
    CHECK(contains(v.out, " 0."));
    CHECK(contains(v.out, "peer protocol " + std::to_string(p2p::proto::protocol_version)));
  }

  auto typo = run_exe(cli_exe(), {"sttaus"});
  INFO("sttaus: exit " << typo.exit_code << "\n" << typo.out << typo.err);
  CHECK(typo.exit_code == 2);
  CHECK(contains(typo.err, "did you mean 'status'?"));
  auto typo_json = run_exe(cli_exe(), {"--json", "dowload", "-f", "x"});
  INFO("--json dowload: " << typo_json.out);
  CHECK(typo_json.exit_code == 2);
  auto doc = nlohmann::json::parse(typo_json.out, nullptr, false);
  REQUIRE(doc.is_object());
  CHECK(doc["error"].value("code", "") == "usage");
  CHECK(contains(doc["error"].value("message", ""), "'download'"));
  auto far = run_exe(cli_exe(), {"xyzzy"});
  CHECK(far.exit_code == 2);
  CHECK_FALSE(contains(far.err, "did you mean"));
  // A usage error inside a command is one `p2p-cli: ...` line like every
  // other error (README), not CLI11's two lines (a newcomer's `download x`).
  auto stray = run_exe(cli_exe(), {"download", "x"});
  INFO("download x: exit " << stray.exit_code << "\n" << stray.err);
  CHECK(stray.exit_code == 2);
  CHECK(stray.err.rfind("p2p-cli: ", 0) == 0);
  CHECK(contains(stray.err, "x"));
  CHECK(contains(stray.err, "--help"));
  CHECK(std::count(stray.err.begin(), stray.err.end(), '\n') == 1);

  for (auto cmd : {"share", "unshare", "scan", "ls", "peers", "download", "cancel", "status",
                   "clear", "web"}) {
    auto h = run_exe(cli_exe(), {cmd, "--help"});
    INFO(cmd << " --help: exit " << h.exit_code << "\n" << h.out);
    CHECK(h.exit_code == 0);
    auto ex = h.out.rfind("Example:\n  p2p-cli ");
    CHECK(ex != std::string::npos);
    CHECK(contains(h.out.substr(ex == std::string::npos ? 0 : ex), std::string(cmd)));
  }

  // Nothing ever ran with this state dir (and nothing answers on the default
  // control address): say so, not "cannot read the cookie".
  auto none = run_exe(cli_exe(), {"--state-dir", dir + "/never", "status"});
  INFO("status without a daemon: exit " << none.exit_code << "\n" << none.err);
  CHECK(none.exit_code == 3);
  CHECK(contains(none.err, "no daemon: start p2p-daemon"));
  CHECK_FALSE(contains(none.err, "cookie"));
  auto none_json = run_exe(cli_exe(), {"--state-dir", dir + "/never", "--json", "ls"});
  auto nd = nlohmann::json::parse(none_json.out, nullptr, false);
  REQUIRE(nd.is_object());
  CHECK(nd["error"].value("code", "") == "no_daemon");
  remove_tree(dir);
}

TEST_CASE("unshare and cancel refuse a name with several matches, short ids, unshare DIR, "
          "clear, a refused download leaves no -o behind",
          "[system][cli][ux]") {
  cluster c(2, {}, nullptr, {{0, rate(1 * MiB)}});
  auto src = c.make_dir(c.root() + "/src");
  c.make_dir(src + "/a");
  c.make_dir(src + "/b");
  write_file(src + "/a/same.bin", random_bytes(3 * MiB, 1));
  write_file(src + "/b/same.bin", random_bytes(6 * MiB, 2));
  auto id_a = c.share_id(0, src + "/a/same.bin");
  auto id_b = c.share_id(0, src + "/b/same.bin");
  REQUIRE(id_a != id_b);

  SECTION("unshare") {
    auto amb = c.cli(0, {"unshare", "same.bin"});
    INFO("unshare same.bin: exit " << amb.exit_code << "\n" << amb.out << amb.err);
    CHECK(amb.exit_code == 1);
    CHECK(contains(amb.err, "'same.bin' matches 2"));
    CHECK(contains(amb.err, id_a.substr(0, 12) + " (3.0 MiB, " + src + "/a/same.bin)"));
    CHECK(contains(amb.err, id_b.substr(0, 12) + " (6.0 MiB, "));
    CHECK_FALSE(contains(amb.err, id_a)); // short ids only
    CHECK(c.cli_json(0, {"status"})["shares"].size() == 2); // nothing removed

    auto by_short = c.cli(0, {"unshare", id_a.substr(0, 6)});
    INFO("unshare by prefix: " << by_short.out << by_short.err);
    CHECK(by_short.exit_code == 0);
    CHECK(contains(by_short.out, "unshared same.bin (id " + id_a.substr(0, 12) + ")"));
    // A directory named without a slash, relative to the CLI's directory.
    auto by_dir = c.cli(0, {"unshare", "b"}, 60s, src);
    INFO("unshare b (in " << src << "): " << by_dir.out << by_dir.err);
    CHECK(by_dir.exit_code == 0);
    CHECK(contains(by_dir.out, "unshared same.bin (id " + id_b.substr(0, 12) + ")"));
    CHECK(c.cli_json(0, {"status"})["shares"].empty());
  }
  SECTION("cancel, clear, refused download") {
    REQUIRE_FALSE(c.wait_for_file(1, "same.bin", 1).is_null());
    REQUIRE(wait_until([&] { return c.cli_json(1, {"ls"})["files"].size() == 2; }, 20s));
    auto out_a = c.root() + "/out-a";
    auto out_b = c.root() + "/out-b";
    REQUIRE(c.cli(1, {"download", "--id", id_a.substr(0, 8), "-o", out_a}).exit_code == 0);
    REQUIRE(c.cli(1, {"download", "--id", id_b.substr(0, 8), "-o", out_b}).exit_code == 0);
    require_started(c, 1, out_a + "/same.bin");

    auto amb = c.cli(1, {"cancel", "same.bin"});
    INFO("cancel same.bin: exit " << amb.exit_code << "\n" << amb.out << amb.err);
    CHECK(amb.exit_code == 1);
    CHECK(contains(amb.err, "'same.bin' matches 2"));
    CHECK(contains(amb.err, "(3.0 MiB, " + out_a + "/same.bin)"));
    CHECK(contains(amb.err, "(6.0 MiB, " + out_b + "/same.bin)"));
    CHECK(download_at(c, 1, out_a + "/same.bin").value("state", "") != "cancelled");
    auto amb_json = c.cli(1, {"--json", "cancel", "same.bin"});
    auto doc = nlohmann::json::parse(amb_json.out, nullptr, false);
    REQUIRE(doc.is_object());
    CHECK(doc["error"].value("code", "") == "ambiguous");
    // download names the versions by short id and human size (issue 13 item 7).
    auto dl_amb = c.cli(1, {"download", "-f", "same.bin", "-o", c.root() + "/out-c"});
    INFO("download same.bin: exit " << dl_amb.exit_code << "\n" << dl_amb.err);
    CHECK(dl_amb.exit_code == 1);
    CHECK(contains(dl_amb.err, id_a.substr(0, 12) + " (3.0 MiB, "));
    CHECK(contains(dl_amb.err, id_b.substr(0, 12) + " (6.0 MiB, "));

    auto by_short = c.cli(1, {"cancel", id_a.substr(0, 6)});
    INFO("cancel by prefix: " << by_short.out << by_short.err);
    CHECK(by_short.exit_code == 0);
    CHECK(contains(by_short.out, "cancelled same.bin"));
    CHECK(download_at(c, 1, out_a + "/same.bin").value("state", "") == "cancelled");
    CHECK(download_at(c, 1, out_b + "/same.bin").value("state", "") != "cancelled");

    // clear forgets the finished one only.
    auto cleared = c.cli_json(1, {"clear"});
    INFO("clear: " << cleared.dump());
    REQUIRE(cleared["cleared"].size() == 1);
    CHECK(cleared["cleared"][0].value("id", "") == id_a);
    auto left = c.cli_json(1, {"status"})["downloads"];
    REQUIRE(left.size() == 1);
    CHECK(left[0].value("id", "") == id_b);

    // Now the name names one unfinished download.
    auto by_name = c.cli(1, {"cancel", "same.bin"});
    CHECK(by_name.exit_code == 0);
    auto human = c.cli(1, {"clear"});
    CHECK(human.exit_code == 0);
    CHECK(contains(human.out, "cleared 1 finished download\n"));
    CHECK(c.cli_json(1, {"status"})["downloads"].empty());

    // A refused download leaves no -o directory behind (nor its new parents).
    auto fresh = c.root() + "/new/deeper";
    auto refused = c.cli(1, {"download", "-f", "nothing-like-it.bin", "-o", fresh, "-w"});
    INFO("refused: " << refused.err);
    CHECK(refused.exit_code == 1);
    CHECK_FALSE(fs::exists(c.root() + "/new"));
  }
}

TEST_CASE("download -w: Ctrl-C leaves the download to the daemon and says how to stop it, "
          "--cancel-on-interrupt cancels, a second -w follows the first, progress lines off "
          "a terminal",
          "[system][cli][ux][download]") {
  const uint64_t size = 8 * MiB; // ~8 s at the seeder's 1 MiB/s
  cluster c(2, {}, nullptr, {{0, rate(1 * MiB)}});
  auto src = c.make_dir(c.root() + "/src");
  write_file(src + "/big.bin", random_bytes(size, 7));
  auto id = c.share_id(0, src + "/big.bin");
  REQUIRE_FALSE(c.wait_for_file(1, "big.bin", 1).is_null());
  auto drawn = [](process& p) { return contains(p.stderr_text(), "%"); };

  SECTION("--cancel-on-interrupt") {
    auto out = c.root() + "/out-cancel";
    auto w = c.spawn_cli(1, {"download", "-f", "big.bin", "-o", out, "-w",
                             "--cancel-on-interrupt"}, "cancel-w", true);
    REQUIRE(wait_until([&] { return drawn(*w); }, 20s));
    w->signal(SIGINT);
    auto st = w->wait_for(10s);
    INFO("stderr (terminal): " << w->stderr_text());
    REQUIRE(st.has_value());
    CHECK(*st == 130);
    CHECK(contains(w->stderr_text(), "interrupted: cancelled the download of big.bin"));
    CHECK(download_at(c, 1, out + "/big.bin").value("state", "") == "cancelled");
  }
  SECTION("Ctrl-C, then a second -w off a terminal follows it to the end") {
    auto out = c.root() + "/out";
    auto w = c.spawn_cli(1, {"download", "-f", "big.bin", "-o", out, "-w"}, "first-w", true);
    REQUIRE(wait_until([&] { return drawn(*w); }, 20s));
    w->signal(SIGINT);
    auto st = w->wait_for(10s);
    auto err = w->stderr_text();
    INFO("stderr (terminal): " << err);
    REQUIRE(st.has_value());
    CHECK(*st == 130);
    CHECK(err.find('\r') != std::string::npos); // the bar was drawn in place
    CHECK(contains(err, "interrupted: the download of big.bin goes on in the daemon"));
    CHECK(contains(err, "`p2p-cli cancel " + id.substr(0, 12) + "` stops it"));
    auto d = download_at(c, 1, out + "/big.bin");
    INFO("status: " << d.dump());
    CHECK((d.value("state", "") == "running" || d.value("state", "") == "queued"));

    // A second -w, stderr a file: follows the running download, a line every 3 s.
    auto second = c.cli(1, {"download", "-f", "big.bin", "-o", out, "-w"}, 60s);
    INFO("second -w: exit " << second.exit_code << "\nstdout: " << second.out
                            << "\nstderr: " << second.err);
    CHECK(second.exit_code == 0);
    CHECK(contains(second.err, "big.bin is already downloading there; following it"));
    CHECK(contains(second.err, "p2p-cli: big.bin  "));
    CHECK(contains(second.err, "/s  ETA 0:"));
    CHECK(second.err.find('\r') == std::string::npos);
    CHECK(contains(second.out, "downloaded big.bin (8.0 MiB) to " + out + "/big.bin in 0:"));
    CHECK(contains(second.out, "/s average\n"));
    CHECK(fs::file_size(out + "/big.bin") == size);

    // --quiet: nothing on stderr, the closing line on stdout.
    auto quiet = c.cli(1, {"download", "-f", "big.bin", "-o", c.root() + "/out-q", "-w", "-q"},
                       60s);
    INFO("quiet: " << quiet.out << quiet.err);
    CHECK(quiet.exit_code == 0);
    CHECK(quiet.err.empty());
    CHECK(contains(quiet.out, "downloaded big.bin"));
  }
}

TEST_CASE("share draws the hashing progress of a large file on a terminal, nothing off one",
          "[system][cli][ux][share]") {
  cluster c(1);
  auto src = c.make_dir(c.root() + "/src");
  auto big = src + "/sparse.img";
  write_file(big, "");
  fs::resize_file(big, 512 * MiB); // sparse: hashed, but takes no disk
  auto w = c.spawn_cli(0, {"share", big}, "share-tty", true);
  auto st = w->wait_for(180s);
  auto err = w->stderr_text();
  INFO("stderr (terminal): " << err << "\nstdout: " << w->stdout_text());
  REQUIRE(st.has_value());
  CHECK(*st == 0);
  CHECK(contains(err, "p2p-cli: hashing 1 file before sharing"));
  CHECK(contains(err, "100.0%  512.0 MiB / 512.0 MiB  complete"));
  CHECK(err.find('\r') != std::string::npos);
  CHECK(contains(w->stdout_text(), "shared sparse.img (512.0 MiB"));

  write_file(src + "/small.txt", "hello");
  auto plain = c.cli(0, {"share", src + "/small.txt"});
  CHECK(plain.exit_code == 0);
  CHECK(plain.err.empty());
}

TEST_CASE("status -w redraws until interrupted", "[system][cli][ux]") {
  cluster c(1);
  auto w = c.spawn_cli(0, {"status", "-w"}, "watch");
  auto frames = [&] {
    auto out = w->stdout_text();
    size_t n = 0;
    for (auto p = out.find("Shares ("); p != std::string::npos; p = out.find("Shares (", p + 1))
      ++n;
    return n;
  };
  CHECK(wait_until([&] { return frames() >= 2; }, 10s));
  CHECK(w->running());
  w->signal(SIGINT);
  auto st = w->wait_for(5s);
  INFO("stdout: " << w->stdout_text());
  REQUIRE(st.has_value());
  CHECK(*st == 128 + SIGINT);
}
