// Downloads that survive: real daemons on loopback killed, restarted,
// starved, lied to and slowed down. Slow seeders are emulated with
// --upload-rate-limit (per daemon), so a test can act at ~30 % or ~50 %.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <stdexcept>
#include <thread>

#include "protocol/frame.hpp"
#include "tests/support/daemon.hpp"
#include "tests/support/fake_seeder.hpp"
#include "util/hex.hpp"
#include "util/net.hpp"

using namespace p2p::test;
namespace fs = std::filesystem;
using steady = std::chrono::steady_clock;

namespace {

double seconds_since(steady::time_point t0) {
  return std::chrono::duration<double>(steady::now() - t0).count();
}

bool is_state(const nlohmann::json& d, const std::string& state) {
  return d.value("state", "") == state;
}

bool is_terminal(const nlohmann::json& d) {
  auto s = d.value("state", "");
  return s == "complete" || s == "failed" || s == "cancelled";
}

// A file every seeder of a test shares: one copy on disk and its SHA-256.
struct shared_file {
  std::string path;
  std::string expected;
};

// Writes `size` seeded random bytes to <root>/src/<name>, shares that one copy
// on each daemon in `seeders` and waits until daemon `leecher` lists it with
// that many seeders.
shared_file share_random_file(cluster& c, const std::string& name, uint64_t size,
                              uint64_t seed, const std::vector<size_t>& seeders,
                              size_t leecher) {
  auto src = c.make_dir(c.root() + "/src");
  shared_file f{src + "/" + name, {}};
  write_file(f.path, random_bytes(size, seed));
  f.expected = file_sha256(f.path);
  for (auto i : seeders)
    c.share_id(i, f.path);
  REQUIRE_FALSE(c.wait_for_file(leecher, name, seeders.size()).is_null());
  return f;
}

// Starts downloading `name` on daemon `leecher` into <root>/out without
// waiting for it (no -w); returns the out dir.
std::string start_download(cluster& c, size_t leecher, const std::string& name) {
  auto out = c.root() + "/out";
  auto r = c.cli(leecher, {"download", "-f", name, "-o", out});
  INFO("download: exit " << r.exit_code << "\n" << r.out << r.err);
  REQUIRE(r.exit_code == 0);
  return out;
}

// Bytes process `pid` has read through read(2) and friends.
uint64_t bytes_read_by(pid_t pid) {
  return proc_value(pid, "io", "rchar");
}

// Sends SIGTERM to daemon `i`: it must exit 0 within 2 s.
void require_quick_clean_exit(cluster& c, size_t i) {
  auto t0 = steady::now();
  auto st = c.stop(i, SIGTERM, 2s);
  INFO("stop took " << seconds_since(t0) << " s\n" << c.dump_logs(30));
  REQUIRE(st.has_value());
  CHECK(*st == 0);
}

// d["peers"] entry of `addr`, an empty object when it is not there (yet).
nlohmann::json peer_or_empty(const nlohmann::json& d, const std::string& addr) {
  auto e = cluster::peer_entry(d, addr);
  return e.is_object() ? e : nlohmann::json::object();
}

// Once daemon `leecher`'s download of `name` has bytes from daemon `seeder`,
// SIGKILLs the seeder and waits until the download lists it as dropped (five
// failed reconnects); returns the download document of that moment.
nlohmann::json kill_seeder_until_dropped(cluster& c, size_t seeder, size_t leecher,
                                         const std::string& name) {
  auto addr = c.node(seeder).peer_addr();
  bool ok = false;
  auto d = c.wait_download(
    leecher, name,
    [&](const nlohmann::json& d) { return peer_or_empty(d, addr).value("bytes", 0ULL) > 0; },
    20s, ok, 50ms);
  INFO("before the kill: " << d.dump());
  REQUIRE(ok);
  REQUIRE(c.stop(seeder, SIGKILL, 5s).has_value());
  d = c.wait_download(
    leecher, name,
    [&](const nlohmann::json& d) {
      return peer_or_empty(d, addr).value("state", "") == "dropped";
    },
    30s, ok, 100ms);
  INFO("after the kill: " << d.dump());
  REQUIRE(ok);
  return d;
}

} // namespace

TEST_CASE("kill -9 of the downloader at a random moment: after a restart it resumes by "
          "itself, keeps the chunks on disk the record did not vouch for, and fetches at "
          "most 10 % twice",
          "[system][resilience][resume]") {
  // Issue 7 item 4's case: 3 seeders, 192 MiB, a kill unrelated to the
  // record's once-a-second save. In flight by design when the downloader dies:
  // requests_in_flight (16) x chunk (256 KiB) x 3 seeders = 12 MiB (6.25 %),
  // plus chunks half received, plus chunks received and not yet written
  // (max_checking_bytes, 8 MiB, only while the disk or the verifiers lag: at
  // ~48 MiB/s they keep up); everything else on disk must be kept.
  const std::string name = "big192.bin";
  const uint64_t size = 192 * MiB;
  auto slow = rate(16 * MiB); // ~48 MiB/s from all three: ~4 s for the file
  cluster c(4, {}, nullptr, {{0, slow}, {1, slow}, {2, slow}});
  auto file = share_random_file(c, name, size, 192, {0, 1, 2}, 3);
  std::random_device rd;
  auto seed = rd();
  std::mt19937 rng(seed);
  // A random point between 20 % and 55 %, then a random 0-999 ms more (at
  // most 25 % of the file at this rate): the record's save (every 1,000 ms)
  // and the kill are unrelated, and the kill comes before the end.
  uint64_t at = size / 5 + std::uniform_int_distribution<uint64_t>(0, size * 35 / 100)(rng);
  auto extra = std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 999)(rng));
  INFO("seed " << seed << ": kill after " << at << " bytes + " << extra.count() << " ms");
  auto out = start_download(c, 3, name);
  bool ok = false;
  c.wait_download(
    3, name, [&](const nlohmann::json& d) { return d.value("bytes_done", 0ULL) >= at; }, 60s,
    ok, 20ms);
  REQUIRE(ok);
  std::this_thread::sleep_for(extra); // the random moment itself, not a wait for a condition
  auto recorded_at_kill = recorded_bytes(c.node(3));
  REQUIRE(c.stop(3, SIGKILL, 5s).has_value());
  auto uploaded = [&] {
    uint64_t sum = 0;
    for (size_t i = 0; i < 3; ++i)
      sum += c.cli_json(i, {"status"})["uploads"].value("bytes_total", 0ULL);
    return sum;
  };
  // What the seeders had sent when the downloader died: an upper bound of
  // what it received (some was still in socket buffers).
  uint64_t sent_before_kill = uploaded();
  REQUIRE(sent_before_kill < size); // killed mid-download
  CHECK(fs::exists(out + "/" + name + ".part"));
  CHECK_FALSE(resume_records(c.node(3)).empty());

  // Restart with the same ports and state dir; nobody asks for the file again.
  c.start(3);
  auto d = c.wait_download(3, name, is_terminal, 120s, ok, 200ms);
  INFO("download after the restart: " << d.dump());
  REQUIRE(ok);
  REQUIRE(is_state(d, "complete"));
  CHECK(d.value("bytes_done", uint64_t{0}) == size);
  REQUIRE(fs::exists(out + "/" + name));
  CHECK(file_sha256(out + "/" + name) == file.expected);
  CHECK_FALSE(fs::exists(out + "/" + name + ".part"));
  CHECK(download_state_files(c.node(3)).empty());
  CHECK(contains(slurp(c.node(3).log_path), "unrecorded chunks were on disk already"));

  uint64_t after = cluster::peer_bytes_sum(d);
  uint64_t sent_total = uploaded();
  CHECK(after + recorded_at_kill <= size); // nothing recorded was fetched again
  double twice = (double(sent_before_kill) + double(after) - double(size)) / double(size);
  std::printf("kill -9 at a random moment (seed %u): file %llu bytes; the record vouched for "
              "%llu (%.1f%%) at the kill; the seeders had sent %llu (%.1f%%) before it; "
              "fetched after the restart %llu (%.1f%%); share of the file fetched twice "
              "%.1f%%\n",
              seed, (unsigned long long)size, (unsigned long long)recorded_at_kill,
              100.0 * recorded_at_kill / size, (unsigned long long)sent_before_kill,
              100.0 * sent_before_kill / size, (unsigned long long)after,
              100.0 * after / size, 100.0 * twice);
  CHECK(twice <= 0.10);
  CHECK(sent_total >= sent_before_kill + after);
}

TEST_CASE("a resume record that does not match is discarded and the download still "
          "completes",
          "[system][resilience][resume]") {
  const std::string name = "tamper.bin";
  const uint64_t size = 6 * MiB + 12345; // not a multiple of the chunk size
  cluster c(2, {}, nullptr, {{0, rate(4 * MiB)}});
  auto file = share_random_file(c, name, size, 31, {0}, 1);
  auto out = start_download(c, 1, name);
  REQUIRE(wait_until([&] { return recorded_bytes(c.node(1)) >= 1 * MiB; }, 30s, 20ms));
  REQUIRE(c.stop(1, SIGKILL, 5s).has_value());
  auto records = resume_records(c.node(1));
  REQUIRE(records.size() == 1);
  auto part = out + "/" + name + ".part";
  REQUIRE(fs::exists(part));

  std::string what;
  SECTION("part file truncated") {
    what = "part file";
    fs::resize_file(part, size / 2);
  }
  SECTION("record with the wrong size") {
    what = "size";
    auto j = nlohmann::json::parse(slurp(records[0]));
    j["size"] = size - 1; // same chunk count, so the record still parses
    write_file(records[0], j.dump());
  }
  SECTION("part file longer than the file") {
    what = "part file";
    fs::resize_file(part, size + 1);
  }
  SECTION("record naming another content id") {
    // It no longer matches its own file name: dropped at start, with its
    // manifest; asking for the file again starts afresh over the old part file.
    what = "content id";
    auto j = nlohmann::json::parse(slurp(records[0]));
    auto id = j["id"].get<std::string>();
    id[0] = id[0] == '0' ? '1' : '0';
    j["id"] = id;
    write_file(records[0], j.dump());
    c.start(1);
    auto status = c.cli_json(1, {"status"});
    INFO("status after the restart: " << status.dump());
    CHECK(status["downloads"].empty());
    CHECK(download_state_files(c.node(1)).empty());
    auto r = c.cli(1, {"download", "-f", name, "-o", out, "-w"}, 60s);
    INFO("download again: exit " << r.exit_code << "\n" << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(file_sha256(out + "/" + name) == file.expected);
    CHECK_FALSE(fs::exists(part));
    CHECK(download_state_files(c.node(1)).empty());
    return;
  }
  c.start(1);
  bool ok = false;
  auto d = c.wait_download(1, name, is_terminal, 60s, ok, 200ms);
  INFO("tampered: " << what << "\ndownload after the restart: " << d.dump() << "\n"
                    << c.dump_logs(60));
  REQUIRE(ok);
  REQUIRE(is_state(d, "complete"));
  CHECK(file_sha256(out + "/" + name) == file.expected);
  CHECK(fs::file_size(out + "/" + name) == size);
  CHECK_FALSE(fs::exists(part));
  // Discarded, not trusted: the whole file came again from the seeder.
  CHECK(cluster::peer_bytes_sum(d) == size);
  CHECK(contains(slurp(c.node(1).log_path), "discarding resume record"));
  CHECK(download_state_files(c.node(1)).empty());
}

TEST_CASE("SIGTERM during a download exits 0 within 2 s and the download resumes after "
          "a restart",
          "[system][resilience][resume]") {
  const std::string name = "term.bin";
  const uint64_t size = 16 * MiB;
  cluster c(2, {}, nullptr, {{0, rate(4 * MiB)}});
  auto file = share_random_file(c, name, size, 15, {0}, 1);
  auto out = start_download(c, 1, name);
  bool ok = false;
  auto d = c.wait_download(
    1, name,
    [&](const nlohmann::json& d) {
      return d.value("bytes_done", 0ULL) >= size / 4 && d.value("rate_bps", 0ULL) > 0;
    },
    30s, ok, 50ms);
  INFO("running: " << d.dump());
  REQUIRE(ok);
  // status of a running download: state, bytes, rate, ETA, peers.
  CHECK(is_state(d, "running"));
  CHECK(d.value("eta_s", int64_t{-1}) >= 0);
  CHECK(d.value("eta_s", int64_t{-1}) <= 60);
  auto seeder = cluster::peer_entry(d, c.node(0).peer_addr());
  CHECK(seeder.value("state", "") == "active");
  CHECK(seeder.value("bytes", 0ULL) > 0);
  auto text = c.cli(1, {"status"});
  CHECK(contains(text.out, name));
  CHECK(contains(text.out, c.node(0).peer_addr()));

  auto t0 = steady::now();
  auto st = c.stop(1, SIGTERM, 2s);
  auto took = seconds_since(t0);
  INFO("stop took " << took << " s\n" << c.dump_logs(40));
  REQUIRE(st.has_value());
  CHECK(*st == 0);
  // The record was saved on the way out and vouches for what was verified.
  auto recorded = recorded_bytes(c.node(1));
  CHECK(recorded >= size / 4);
  CHECK(fs::exists(out + "/" + name + ".part"));

  c.start(1);
  d = c.wait_download(1, name, is_terminal, 60s, ok, 200ms);
  INFO("download after the restart: " << d.dump());
  REQUIRE(ok);
  REQUIRE(is_state(d, "complete"));
  CHECK(file_sha256(out + "/" + name) == file.expected);
  CHECK(cluster::peer_bytes_sum(d) <= size - recorded);
  CHECK(download_state_files(c.node(1)).empty());
}

TEST_CASE("one of three seeders killed at ~30%: the download completes from the other two",
          "[system][resilience][failover]") {
  const std::string name = "three.bin";
  const uint64_t size = 30 * MiB;
  auto slow = rate(3 * MiB); // ~9 MiB/s from all three
  cluster c(4, {}, nullptr, {{0, slow}, {1, slow}, {2, slow}});
  auto file = share_random_file(c, name, size, 3, {0, 1, 2}, 3);
  auto out = start_download(c, 3, name);
  bool ok = false;
  auto d = c.wait_download(
    3, name, [&](const nlohmann::json& d) { return d.value("bytes_done", 0ULL) >= size * 3 / 10; },
    30s, ok, 50ms);
  INFO("before the kill: " << d.dump());
  REQUIRE(ok);
  REQUIRE(c.stop(0, SIGKILL, 5s).has_value());

  d = c.wait_download(3, name, is_terminal, 60s, ok, 200ms);
  INFO("after the kill: " << d.dump());
  REQUIRE(ok);
  REQUIRE(is_state(d, "complete"));
  CHECK(file_sha256(out + "/" + name) == file.expected);
  auto dead = cluster::peer_entry(d, c.node(0).peer_addr());
  REQUIRE(dead.is_object());
  CHECK(dead.value("state", "") != "active");
  CHECK_FALSE(dead.value("error", "").empty());
  for (size_t i = 1; i < 3; ++i)
    CHECK(cluster::peer_entry(d, c.node(i).peer_addr()).value("bytes", 0ULL) > 0);
  CHECK(cluster::peer_bytes_sum(d) == size);
}

TEST_CASE("a seeder dropped as unreachable rejoins the download when it comes back",
          "[system][resilience][failover]") {
  const std::string name = "back.bin";
  const uint64_t size = 20 * MiB;
  auto slow = rate(1 * MiB); // alone, daemon 1 needs ~20 s for the file
  // Backoff capped at 1 s: dropped after 5 failed reconnects in 2.25-4.5 s,
  // tried again 1 s later at the next catalog poll (every 3 s).
  cluster c(3, {}, nullptr, {{0, slow}, {1, slow}, {2, {"--retry-max-ms", "1000"}}});
  auto file = share_random_file(c, name, size, 41, {0, 1}, 2);
  auto out = start_download(c, 2, name);
  auto peer0 = [&](const nlohmann::json& d) { return peer_or_empty(d, c.node(0).peer_addr()); };
  auto d = kill_seeder_until_dropped(c, 0, 2, name);
  REQUIRE_FALSE(is_terminal(d));
  uint64_t before = peer0(d).value("bytes", 0ULL);
  bool ok = false;

  // Back on the same address, still sharing the file: it serves again.
  c.start(0);
  d = c.wait_download(
    2, name,
    [&](const nlohmann::json& d) {
      return is_terminal(d) || peer0(d).value("bytes", 0ULL) > before;
    },
    30s, ok, 100ms);
  INFO("after the restart: " << d.dump());
  REQUIRE(ok);
  REQUIRE_FALSE(is_terminal(d));

  d = c.wait_download(2, name, is_terminal, 60s, ok, 200ms);
  INFO("at the end: " << d.dump());
  REQUIRE(ok);
  REQUIRE(is_state(d, "complete"));
  CHECK(file_sha256(out + "/" + name) == file.expected);
  CHECK(cluster::peer_bytes_sum(d) == size);
}

TEST_CASE("the only seeder, dropped as unreachable, is waited for while listed and "
          "rejoins when it comes back",
          "[system][resilience][failover]") {
  const std::string name = "only.bin";
  const uint64_t size = 12 * MiB;
  // Daemon 1 polls its static peer every 20 s: its catalog keeps listing the
  // seeder (as a multicast catalog does until the expiry) while it is down.
  cluster c(2, {}, nullptr,
            {{0, rate(2 * MiB)},
             {1, {"--retry-max-ms", "1000", "--announce-interval-ms", "20000"}}});
  auto file = share_random_file(c, name, size, 43, {0}, 1);
  auto out = start_download(c, 1, name);
  auto d = kill_seeder_until_dropped(c, 0, 1, name);
  bool ok = false;
  // Two more seconds without any seeder: still waiting, nothing removed.
  d = c.wait_download(1, name, is_terminal, 2s, ok, 100ms);
  CHECK_FALSE(ok);
  CHECK(fs::exists(out + "/" + name + ".part"));

  c.start(0);
  d = c.wait_download(1, name, is_terminal, 60s, ok, 200ms);
  INFO("after the restart: " << d.dump());
  REQUIRE(ok);
  REQUIRE(is_state(d, "complete"));
  CHECK(file_sha256(out + "/" + name) == file.expected);
}

TEST_CASE("the only seeder gone for good: the download fails once the catalog no longer "
          "lists it",
          "[system][resilience][failover]") {
  const std::string name = "gone.bin";
  const uint64_t size = 12 * MiB;
  cluster c(2, {}, nullptr, {{0, rate(2 * MiB)}, {1, {"--retry-max-ms", "1000"}}});
  share_random_file(c, name, size, 44, {0}, 1);
  auto out = start_download(c, 1, name);
  REQUIRE(wait_until([&] { return recorded_bytes(c.node(1)) > 0; }, 20s, 50ms));
  REQUIRE(c.stop(0, SIGKILL, 5s).has_value());
  bool ok = false;
  auto d = c.wait_download(1, name, is_terminal, 30s, ok, 200ms);
  INFO("after the kill: " << d.dump());
  REQUIRE(ok);
  REQUIRE(is_state(d, "failed"));
  CHECK(contains(d.value("error", ""), "no seeder could finish"));
  CHECK_FALSE(fs::exists(out + "/" + name + ".part"));
  CHECK(download_state_files(c.node(1)).empty());
}

TEST_CASE("a resumed download whose content changed on its only seeder fails after the "
          "peer expiry, names the new content id, and the new version then downloads",
          "[system][resilience][failover][unoffered]") {
  // Issue 7 item 3: before, it stayed `running` with no peers for good and the
  // new version was refused ("already downloading into ...") until `cancel`.
  const std::string name = "changing.bin";
  const uint64_t size = 16 * MiB;
  const uint32_t expiry_ms = 3000;
  cluster c(2, {"--peer-expiry-ms", std::to_string(expiry_ms)}, nullptr,
            {{0, rate(2 * MiB)}});
  auto file = share_random_file(c, name, size, 77, {0}, 1);
  auto old_id = cluster::find_by_name(c.cli_json(1, {"ls"}), "files", name).value("id", "");
  REQUIRE_FALSE(old_id.empty());
  auto out = start_download(c, 1, name);
  REQUIRE(wait_until([&] { return recorded_bytes(c.node(1)) > 0; }, 20s, 50ms));
  require_quick_clean_exit(c, 1);
  REQUIRE_FALSE(resume_records(c.node(1)).empty());

  // 1 MiB of the seeder's copy changes: re-hashed to a new content id.
  {
    auto bytes = slurp(file.path);
    for (size_t i = 0; i < MiB; ++i)
      bytes[4 * MiB + i] = static_cast<char>(~bytes[4 * MiB + i]);
    write_file(file.path, bytes);
  }
  std::string new_id;
  REQUIRE(wait_until(
    [&] {
      auto shares = c.cli_json(0, {"status"});
      auto e = cluster::find_by_name(shares, "shares", name);
      new_id = e.is_object() ? e.value("id", "") : "";
      return !new_id.empty() && new_id != old_id;
    },
    20s, 100ms));

  auto t0 = steady::now();
  c.start(1);
  bool ok = false;
  auto d = c.wait_download(1, name, is_terminal, 30s, ok, 100ms);
  double took = seconds_since(t0);
  INFO("after the restart (" << took << " s): " << d.dump() << "\n" << c.dump_logs(40));
  REQUIRE(ok);
  REQUIRE(is_state(d, "failed"));
  auto err = d.value("error", "");
  CHECK(contains(err, "no seeder has offered"));
  CHECK(contains(err, "now offered with content id " + new_id.substr(0, 8)));
  // Grace (scan window 1 s + one announce interval 5 s, the catalog's poll of
  // static peers) after the expiry of 3 s: ~6 s here, plus the start and a
  // tick or two.
  CHECK(took < 12);
  CHECK_FALSE(fs::exists(out + "/" + name + ".part"));
  CHECK(download_state_files(c.node(1)).empty());

  // The new version downloads without `cancel`.
  auto r = c.cli(1, {"download", "-f", name, "-o", out, "-w"}, 60s);
  INFO("download of the new version: exit " << r.exit_code << "\n" << r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(file_sha256(out + "/" + name) == file_sha256(file.path));
}

TEST_CASE("a seeder that accepts the connection and never answers does not stop the "
          "download",
          "[system][resilience][failover]") {
  const std::string name = "quiet.bin";
  const uint64_t size = 8 * MiB;
  // Daemon 1 also knows the silent peer; it gives up on silence after 1.5 s.
  auto dir = make_temp_dir("p2p-silent");
  struct keep_on_failure {
    std::string dir;
    ~keep_on_failure() {
      if (current_test_failed() || std::uncaught_exceptions() > 0)
        std::cerr << "(silent seeder test: source kept in " << dir << ")\n";
      else
        remove_tree(dir);
    }
  } dir_guard{dir};
  write_file(dir + "/" + name, random_bytes(size, 77));
  auto id = [&] {
    // The content id the real seeder will compute: hash it the same way.
    std::string err;
    auto m = p2p::build_manifest(dir + "/" + name, 256 * 1024, err);
    REQUIRE(m);
    auto d = p2p::content_id_of(*m);
    return p2p::to_hex(d.data(), d.size());
  }();
  fake_seeder fake({catalog_entry_of(id, size, name)});
  cluster c(2, {}, nullptr,
            {{0, rate(2 * MiB)}, {1, {"--peer", fake.addr(), "--stall-timeout-ms", "1500"}}});
  REQUIRE(c.share_id(0, dir + "/" + name) == id);
  REQUIRE_FALSE(c.wait_for_file(1, name, 2).is_null()); // the real one and the fake

  auto t0 = steady::now();
  auto out = c.root() + "/out";
  auto r = c.cli(1, {"download", "-f", name, "-o", out, "-w"}, 90s);
  auto took = seconds_since(t0);
  auto d = c.download_status(1, name);
  INFO("download -w: exit " << r.exit_code << " after " << took << " s\n"
                            << r.out << r.err << "\nstatus: " << d.dump()
                            << "\nfake: " << fake.connections() << " connections, "
                            << fake.manifest_requests() << " manifest and "
                            << fake.chunk_requests() << " chunk requests");
  REQUIRE(r.exit_code == 0);
  CHECK(slurp(out + "/" + name) == slurp(dir + "/" + name));
  // The fake was really tried, and it delivered nothing.
  CHECK(fake.connections() > 0);
  auto silent = cluster::peer_entry(d, fake.addr());
  REQUIRE(silent.is_object());
  CHECK(silent.value("bytes", 1ULL) == 0);
  // It was given chunks, held them past the stall timeout and lost them; the
  // download took ~4 s from the real seeder, not 5 s more waiting for the
  // fake's manifest.
  CHECK(fake.chunk_requests() > 0);
  CHECK(contains(silent.value("error", ""), "stalled"));
  // Every hello names this host, the fetcher's too (it said "p2p-daemon").
  CHECK(fake.last_hello_name() == p2p::local_host_name());
  CHECK(took < 12);
  CHECK(cluster::peer_entry(d, c.node(0).peer_addr()).value("bytes", 0ULL) == size);
}

TEST_CASE("endgame: a very slow seeder does not hold the last chunks",
          "[system][resilience][endgame]") {
  const std::string name = "endgame.bin";
  const uint64_t size = 8 * MiB;
  const uint64_t slow_rate = 100 * KiB;
  cluster c(3, {}, nullptr, {{1, rate(slow_rate)}});
  auto file = share_random_file(c, name, size, 8, {0, 1}, 2);

  auto t0 = steady::now();
  auto out = c.root() + "/out";
  auto r = c.cli(2, {"download", "-f", name, "-o", out, "-w"}, 90s);
  auto took = seconds_since(t0);
  auto d = c.download_status(2, name);
  INFO("download -w: exit " << r.exit_code << " after " << took << " s\n"
                            << r.err << "\nstatus: " << d.dump());
  REQUIRE(r.exit_code == 0);
  CHECK(file_sha256(out + "/" + name) == file.expected);
  auto slow = cluster::peer_entry(d, c.node(1).peer_addr());
  REQUIRE(slow.is_object());
  // The slow seeder took part (it had requests: 16 chunks of 256 KiB would
  // take it ~40 s), yet the file was done long before it could deliver them.
  CHECK(slow.value("state", "") != "connecting");
  double slow_alone = double(size) / 2 / double(slow_rate); // ~41 s for half the file
  CHECK(took < slow_alone / 3);
  CHECK(cluster::peer_bytes_sum(d) == size);
}

TEST_CASE("a seeder that starts sharing mid-download joins it",
          "[system][resilience][failover]") {
  const std::string name = "join.bin";
  const uint64_t size = 12 * MiB;
  cluster c(3, {}, nullptr, {{0, rate(1 * MiB)}});
  auto file = share_random_file(c, name, size, 12, {0}, 1);
  auto out = start_download(c, 1, name);
  bool ok = false;
  c.wait_download(
    1, name, [&](const nlohmann::json& d) { return d.value("bytes_done", 0ULL) > 0; }, 30s,
    ok, 50ms);
  REQUIRE(ok);

  c.share_id(2, file.path);
  c.cli(1, {"scan"}, 30s); // the downloader's catalog learns of it now
  auto d = c.wait_download(1, name, is_terminal, 60s, ok, 200ms);
  INFO("status: " << d.dump());
  REQUIRE(ok);
  REQUIRE(is_state(d, "complete"));
  CHECK(file_sha256(out + "/" + name) == file.expected);
  auto joined = cluster::peer_entry(d, c.node(2).peer_addr());
  REQUIRE(joined.is_object());
  CHECK(joined.value("bytes", 0ULL) > 0);
  CHECK(cluster::peer_bytes_sum(d) == size);
}

TEST_CASE("a seeder whose copy was corrupted in place is dropped and reported and the "
          "file still completes byte-identical",
          "[system][resilience][bad-data]") {
  const std::string name = "rot.bin";
  const uint64_t size = 8 * MiB;
  const uint64_t chunk = 256 * KiB;
  cluster c(3, {}, nullptr, {{0, rate(4 * MiB)}});
  auto good = c.make_dir(c.root() + "/good");
  auto bad = c.make_dir(c.root() + "/bad");
  auto data = random_bytes(size, 66);
  write_file(good + "/" + name, data);
  write_file(bad + "/" + name, data);
  auto expected = file_sha256(good + "/" + name);
  c.share_id(0, good + "/" + name);
  c.share_id(1, bad + "/" + name);

  // Flip one byte in every chunk of daemon 1's copy, then put its mtime back:
  // size and mtime match what it hashed, so it serves the rotten bytes.
  auto bad_path = bad + "/" + name;
  struct stat sb;
  REQUIRE(::stat(bad_path.c_str(), &sb) == 0);
  {
    int fd = ::open(bad_path.c_str(), O_RDWR);
    REQUIRE(fd >= 0);
    for (uint64_t off = 100; off < size; off += chunk) {
      char b = static_cast<char>(data[off] ^ 0x5a);
      REQUIRE(::pwrite(fd, &b, 1, static_cast<off_t>(off)) == 1);
    }
    ::close(fd);
  }
  struct timespec times[2] = {sb.st_atim, sb.st_mtim};
  REQUIRE(::utimensat(AT_FDCWD, bad_path.c_str(), times, 0) == 0);
  REQUIRE_FALSE(c.wait_for_file(2, name, 2).is_null());

  auto out = c.root() + "/out";
  auto r = c.cli(2, {"download", "-f", name, "-o", out, "-w"}, 90s);
  auto d = c.download_status(2, name);
  INFO("download -w: exit " << r.exit_code << "\n" << r.err << "\nstatus: " << d.dump());
  REQUIRE(r.exit_code == 0);
  CHECK(file_sha256(out + "/" + name) == expected);
  auto rotten = cluster::peer_entry(d, c.node(1).peer_addr());
  REQUIRE(rotten.is_object());
  CHECK(rotten.value("state", "") == "dropped");
  CHECK(contains(rotten.value("error", ""), "hash"));
  CHECK(rotten.value("bytes", 1ULL) == 0);
  CHECK(cluster::peer_entry(d, c.node(0).peer_addr()).value("bytes", 0ULL) == size);
  // The plain status says why too.
  auto text = c.cli(2, {"status"});
  CHECK(contains(text.out, c.node(1).peer_addr()));
  CHECK(contains(text.out, "failed their hash"));
}

TEST_CASE("a seeder whose file changed on disk stops offering the old content and never "
          "serves it",
          "[system][resilience][bad-data]") {
  const std::string name = "edit.bin";
  const uint64_t size = 8 * MiB;
  cluster c(3, {}, nullptr, {{0, rate(4 * MiB)}});
  auto good = c.make_dir(c.root() + "/good");
  auto edited = c.make_dir(c.root() + "/edited");
  auto data = random_bytes(size, 67);
  write_file(good + "/" + name, data);
  write_file(edited + "/" + name, data);
  auto expected = file_sha256(good + "/" + name);
  auto id = c.share_id(0, good + "/" + name);
  REQUIRE(c.share_id(1, edited + "/" + name) == id);
  REQUIRE_FALSE(c.wait_for_file(2, name, 2).is_null());

  // Edited in place, with a new mtime (same size).
  {
    int fd = ::open((edited + "/" + name).c_str(), O_RDWR);
    REQUIRE(fd >= 0);
    std::string junk(64 * 1024, 'x');
    REQUIRE(::pwrite(fd, junk.data(), junk.size(), 0) == static_cast<ssize_t>(junk.size()));
    ::close(fd);
    struct timespec times[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
    ::utimensat(AT_FDCWD, (edited + "/" + name).c_str(), times, 0);
  }
  auto out = c.root() + "/out";
  auto r = c.cli(2, {"--json", "download", "--id", id, "-o", out, "-w"}, 90s);
  auto d = c.download_status(2, name);
  INFO("download -w: exit " << r.exit_code << "\n" << r.err << "\nstatus: " << d.dump());
  REQUIRE(r.exit_code == 0);
  CHECK(file_sha256(out + "/" + name) == expected);
  auto e = cluster::peer_entry(d, c.node(1).peer_addr());
  if (e.is_object()) // it may have been withdrawn before the download asked
    CHECK(e.value("bytes", 1ULL) == 0);
  // The edited daemon re-hashed its file: the old id is gone, a new one is offered.
  nlohmann::json shares;
  bool rehashed = wait_until(
    [&] {
      shares = c.try_status(1);
      auto s = cluster::find_by_name(shares, "shares", name);
      return s.is_object() && s.value("id", "") != id && !s.value("id", "").empty();
    },
    20s, 200ms);
  INFO("status of the edited seeder: " << shares.dump());
  CHECK(rehashed);
}

TEST_CASE("SIGTERM exits within 2 s while a mute seeder holds a manifest request",
          "[system][resilience][shutdown]") {
  const std::string id(64, 'a'); // nobody has it: the fake only lists it
  fake_seeder fake({catalog_entry_of(id, 1 * MiB, "ghost.bin")});
  cluster c(1, {}, nullptr, {{0, {"--peer", fake.addr()}}});
  REQUIRE_FALSE(c.wait_for_file(0, "ghost.bin", 1).is_null());
  auto r = c.cli(0, {"download", "-f", "ghost.bin", "-o", c.root() + "/out"});
  INFO("download: exit " << r.exit_code << "\n" << r.out << r.err);
  REQUIRE(r.exit_code == 0);
  REQUIRE(wait_until([&] { return fake.manifest_requests() > 0; }, 10s));

  require_quick_clean_exit(c, 0);
}

TEST_CASE("SIGTERM exits within 2 s while a static peer never answers hello",
          "[system][resilience][shutdown]") {
  fake_seeder mute(0, fake_seeder::mode::mute);
  cluster c(1, {}, nullptr, {{0, {"--peer", mute.addr()}}});
  // The catalog's query has sent its hello and waits for an answer.
  REQUIRE(wait_until([&] { return mute.frames() > 0; }, 10s));
  require_quick_clean_exit(c, 0);
}

TEST_CASE("SIGTERM exits within 2 s while a large file is being hashed",
          "[system][resilience][shutdown]") {
  cluster c(1);
  auto path = c.make_dir(c.root() + "/src") + "/huge.bin";
  {
    // 16 GiB, sparse: hashing it all takes several seconds, the disk nothing.
    std::ofstream f(path, std::ios::binary);
    f.seekp(16 * 1024 * MiB - 1);
    f.put('z');
  }
  auto pid = c.node(0).proc->pid();
  auto before = bytes_read_by(pid);
  auto share = c.spawn_cli(0, {"share", path}, "share");
  // Hashing is under way once the daemon has read 256 MiB.
  REQUIRE(wait_until([&] { return bytes_read_by(pid) >= before + 256 * MiB; }, 20s, 10ms));

  // Still hashing when asked to stop: most of the file is unread.
  CHECK(bytes_read_by(pid) - before < 8 * 1024 * MiB);
  require_quick_clean_exit(c, 0);
}

namespace {

// The resume records of daemon `n` by file name: the bytes each vouches for.
std::map<std::string, uint64_t> records_by_name(const daemon_node& n) {
  std::map<std::string, uint64_t> out;
  for (auto& path : resume_records(n)) {
    auto text = p2p::read_file(path);
    auto rec = text ? p2p::resume_from_json(*text) : std::nullopt;
    if (rec)
      out[rec->name] = vouched_bytes(*rec);
  }
  return out;
}

} // namespace

TEST_CASE("two files of the same bytes in one folder keep a resume record each and both "
          "resume after a restart",
          "[system][resilience][resume]") {
  // Until 2026-12-01 a record's name hashed the content id and the out dir
  // only: the two downloads below wrote one record, and after the restart
  // one of them was gone.
  const uint64_t size = 8 * MiB;
  cluster c(2, {}, nullptr, {{0, rate(2 * MiB)}});
  auto dir = c.make_dir(c.root() + "/twins");
  auto bytes = random_bytes(size, 61);
  write_file(dir + "/a.bin", bytes);
  c.make_dir(dir + "/sub");
  write_file(dir + "/sub/b.bin", bytes);
  REQUIRE(c.cli(0, {"share", dir}, 60s).exit_code == 0);
  REQUIRE_FALSE(c.wait_for_file(1, "twins/sub/b.bin", 1, 30s).is_null());
  auto out = c.root() + "/out";
  auto r = c.cli(1, {"download", "-f", "twins", "-o", out});
  INFO("download: exit " << r.exit_code << "\n" << r.out << r.err);
  REQUIRE(r.exit_code == 0);

  std::map<std::string, uint64_t> recs;
  bool both = wait_until(
    [&] {
      recs = records_by_name(c.node(1));
      return recs.size() == 2 && recs["twins/a.bin"] > 0 && recs["twins/sub/b.bin"] > 0;
    },
    30s, 50ms);
  INFO("records: " << nlohmann::json(recs).dump() << "\n" << c.dump_logs(30));
  REQUIRE(both);
  require_quick_clean_exit(c, 1);
  recs = records_by_name(c.node(1));
  CHECK(recs.size() == 2);

  c.start(1);
  for (auto name : {"twins/a.bin", "twins/sub/b.bin"}) {
    bool ok = false;
    auto d = c.wait_download(1, name, is_terminal, 60s, ok, 200ms);
    INFO(name << " after the restart: " << d.dump());
    REQUIRE(ok);
    CHECK(is_state(d, "complete"));
    CHECK(cluster::peer_bytes_sum(d) <= size - recs[name]);
  }
  CHECK(slurp(out + "/twins/a.bin") == bytes);
  CHECK(slurp(out + "/twins/sub/b.bin") == bytes);
  CHECK(download_state_files(c.node(1)).empty());
}

TEST_CASE("resume records under their names from before 2026-12-01 are moved and resumed, "
          "and one beside a record under the new name is dropped",
          "[system][resilience][resume]") {
  const uint64_t size = 8 * MiB;
  cluster c(2, {}, nullptr, {{0, rate(2 * MiB)}});
  auto moved = share_random_file(c, "old.bin", size, 62, {0}, 1);
  auto twice = share_random_file(c, "twice.bin", size, 63, {0}, 1);
  start_download(c, 1, "old.bin");
  auto out = start_download(c, 1, "twice.bin");
  std::map<std::string, uint64_t> recs;
  REQUIRE(wait_until(
    [&] {
      recs = records_by_name(c.node(1));
      return recs.size() == 2 && recs["old.bin"] > 0 && recs["twice.bin"] > 0;
    },
    30s, 50ms));
  require_quick_clean_exit(c, 1);
  recs = records_by_name(c.node(1));
  // Each record's old name: 16 hex of the content id, "-", 8 hex of
  // SHA-256(out dir). old.bin's record is moved there; twice.bin's is copied
  // there, so that both names exist (the new one is kept).
  for (auto& path : resume_records(c.node(1))) {
    auto rec = p2p::resume_from_json(p2p::read_file(path).value_or(""));
    REQUIRE(rec);
    auto d = p2p::sha256(rec->out_dir.data(), rec->out_dir.size());
    auto old_stem = c.node(1).state_dir + "/downloads/" + rec->id_hex.substr(0, 16) + "-"
                    + p2p::to_hex(d.data(), 4);
    auto stem = path.substr(0, path.size() - 5);
    REQUIRE(stem != old_stem);
    if (rec->name == "old.bin") {
      fs::rename(stem + ".json", old_stem + ".json");
      fs::rename(stem + ".manifest", old_stem + ".manifest");
    } else {
      fs::copy_file(stem + ".json", old_stem + ".json");
      fs::copy_file(stem + ".manifest", old_stem + ".manifest");
    }
  }
  REQUIRE(download_state_files(c.node(1)).size() == 6);

  c.start(1);
  for (auto* f : {&moved, &twice}) {
    auto name = fs::path(f->path).filename().string();
    bool ok = false;
    auto st = c.wait_download(1, name, is_terminal, 60s, ok, 200ms);
    INFO(name << " after the restart: " << st.dump() << "\n" << c.dump_logs(30));
    REQUIRE(ok);
    CHECK(is_state(st, "complete"));
    CHECK(cluster::peer_bytes_sum(st) <= size - recs[name]);
    CHECK(file_sha256(out + "/" + name) == f->expected);
  }
  // twice.bin ran once, not once per record.
  auto doc = c.cli_json(1, {"status"});
  size_t runs = 0;
  for (auto& d : doc["downloads"])
    runs += d.value("name", "") == "twice.bin";
  CHECK(runs == 1);
  CHECK(download_state_files(c.node(1)).empty());
}
