// A waiting `download -w` while things go wrong: the download is cancelled,
// or the daemon dies under it.
#include <chrono>
#include <csignal>
#include <filesystem>

#include "tests/support/daemon.hpp"

using namespace p2p::test;

namespace {

constexpr size_t file_size = 6 * 1024 * 1024;
constexpr uint64_t rate_limit = 1024 * 1024; // bytes/s: the download takes ~6 s

// Two daemons; 0 shares big.bin at a limited rate, 1 has started waiting for
// it in the background and has received some bytes.
struct slow_download {
  cluster c{2, {}, nlohmann::json{{"upload_rate_limit", rate_limit}}};
  std::string out = c.root() + "/out";
  std::unique_ptr<process> waiter;

  slow_download() {
    auto src = c.make_dir(c.root() + "/src");
    write_file(src + "/big.bin", random_bytes(file_size, 99));
    REQUIRE(c.cli(0, {"share", src + "/big.bin"}).exit_code == 0);
    REQUIRE_FALSE(c.wait_for_file(1, "big.bin", 1).is_null());
    waiter = c.spawn_cli(1, {"download", "-f", "big.bin", "-o", out, "-w"}, "waiter");
    nlohmann::json last;
    bool started = wait_until(
      [&] {
        last = nlohmann::json::parse(c.cli(1, {"--json", "status"}, 10s).out, nullptr, false);
        auto d = cluster::find_by_name(last, "downloads", "big.bin");
        return d.is_object() && d.value("bytes_done", 0ULL) > 0;
      },
      20s, 100ms);
    INFO("status of the downloader: " << last.dump() << "\nwaiter stderr: "
                                      << waiter->stderr_text());
    REQUIRE(started);
    REQUIRE(waiter->running());
  }
};

} // namespace

TEST_CASE("cancel stops a running download and the waiting CLI exits 1",
          "[system][download]") {
  slow_download s;
  auto r = s.c.cli(1, {"cancel", "big.bin"});
  INFO("cancel: exit " << r.exit_code << "\nstdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("cancelled big.bin") != std::string::npos);

  auto st = s.waiter->wait_for(10s);
  INFO("waiter stderr: " << s.waiter->stderr_text());
  REQUIRE(st.has_value());
  CHECK(*st == 1);
  CHECK(s.waiter->stderr_text().find("big.bin") != std::string::npos);

  auto status = s.c.cli_json(1, {"status"});
  INFO("status: " << status.dump());
  auto d = cluster::find_by_name(status, "downloads", "big.bin");
  REQUIRE(d.is_object());
  CHECK(d.value("state", "") == "cancelled");
  CHECK_FALSE(std::filesystem::exists(s.out + "/big.bin"));

  // Nothing left to cancel.
  CHECK(s.c.cli(1, {"cancel", "big.bin"}).exit_code == 1);
}

TEST_CASE("download -w exits 3 at once when its daemon stops or dies, and the download "
          "resumes by itself when the daemon is back",
          "[system][download]") {
  int sig = GENERATE(SIGTERM, SIGKILL);
  slow_download s;
  REQUIRE(s.c.stop(1, sig, 5s).has_value());
  auto t0 = std::chrono::steady_clock::now();
  auto st = s.waiter->wait_for(10s);
  auto ms = std::chrono::duration_cast<millis>(std::chrono::steady_clock::now() - t0).count();
  INFO("signal " << sig << "; waiter exit after " << ms
                 << " ms, stderr: " << s.waiter->stderr_text());
  REQUIRE(st.has_value());
  CHECK(*st == 3);
  CHECK(ms < 1000);
  CHECK(s.waiter->stderr_text().find("p2p-cli: ") != std::string::npos);

  // Nobody asks again: the restarted daemon resumes the download from its record.
  s.c.start(1);
  bool ok = false;
  auto d = s.c.wait_download(
    1, "big.bin",
    [](const nlohmann::json& d) {
      auto state = d.value("state", "");
      return state == "complete" || state == "failed" || state == "cancelled";
    },
    60s, ok, 200ms);
  INFO("download after the restart: " << d.dump());
  REQUIRE(ok);
  CHECK(d.value("state", "") == "complete");
  CHECK(file_sha256(s.out + "/big.bin") == sha256_hex(random_bytes(file_size, 99)));
}

TEST_CASE("download -w draws a progress bar when stderr is a terminal",
          "[system][download]") {
  cluster c{2, {}, nlohmann::json{{"upload_rate_limit", 4 * rate_limit}}};
  auto src = c.make_dir(c.root() + "/src");
  write_file(src + "/bar.bin", random_bytes(file_size, 5));
  REQUIRE(c.cli(0, {"share", src + "/bar.bin"}).exit_code == 0);
  REQUIRE_FALSE(c.wait_for_file(1, "bar.bin", 1).is_null());

  spawn_options o;
  o.exe = cli_exe();
  o.args = {"--state-dir", c.node(1).state_dir, "download", "-f", "bar.bin",
            "-o", c.root() + "/out", "-w"};
  o.unset_env = p2p_env_names();
  o.stdout_path = c.root() + "/tty.out";
  o.stderr_path = c.root() + "/tty.err";
  o.stderr_tty = true;
  process cli(o);
  auto st = cli.wait_for(60s);
  auto err = cli.stderr_text();
  INFO("stderr (terminal): " << err << "\nstdout: " << cli.stdout_text());
  REQUIRE(st.has_value());
  CHECK(*st == 0);
  CHECK(err.find('\r') != std::string::npos);
  CHECK(err.find("100.0%") != std::string::npos);
  CHECK(err.find("MiB/s") != std::string::npos);
  CHECK(cli.stdout_text().find("downloaded bar.bin") != std::string::npos);
}
