// Real daemons on loopback moving real files.
#include <fcntl.h>
#include <unistd.h>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "storage/fs.hpp"
#include "tests/support/daemon.hpp"

using namespace p2p::test;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> dir_entries(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(dir, ec))
    out.push_back(e.path().filename().string());
  return out;
}

bool has_part_file(const std::string& dir) {
  for (auto& name : dir_entries(dir))
    if (name.size() >= 5 && name.compare(name.size() - 5, 5, ".part") == 0)
      return true;
  return false;
}

// Peak resident set of process `pid` in bytes, 0 when unreadable.
uint64_t peak_rss(pid_t pid) {
  return proc_value(pid, "status", "VmHWM") * 1024; // "VmHWM:   22528 kB"
}

} // namespace

TEST_CASE("a file two daemons share downloads from both, byte-identical",
          "[system][transfer]") {
  cluster c(3);
  const std::string name = "big.bin";
  const size_t size = 20 * 1024 * 1024;
  auto data = random_bytes(size, 20240501);
  // Each seeder its own copy of the same content.
  auto src0 = c.make_dir(c.root() + "/src0");
  auto src1 = c.make_dir(c.root() + "/src1");
  write_file(src0 + "/" + name, data);
  write_file(src1 + "/" + name, data);
  auto expected = file_sha256(src0 + "/" + name);

  // A relative path is resolved against the CLI's working directory.
  auto r0 = c.cli(0, {"share", name}, 120s, src0);
  INFO("share on daemon 0: exit " << r0.exit_code << "\n" << r0.out << r0.err);
  REQUIRE(r0.exit_code == 0);
  auto r1 = c.cli(1, {"share", src1 + "/" + name}, 120s);
  INFO("share on daemon 1: exit " << r1.exit_code << "\n" << r1.out << r1.err);
  REQUIRE(r1.exit_code == 0);

  auto ls = c.wait_for_file(2, name, 2, 30s);
  REQUIRE_FALSE(ls.is_null());
  auto listed = cluster::find_by_name(ls, "files", name);
  CHECK(listed.value("size", 0ULL) == size);
  std::set<std::string> seeders;
  for (auto& s : listed["seeders"])
    seeders.insert(s.get<std::string>());
  CHECK(seeders.count(c.node(0).peer_addr()) == 1);
  CHECK(seeders.count(c.node(1).peer_addr()) == 1);

  // -o names a directory that does not exist yet.
  auto out = c.root() + "/downloads/nested";
  auto dl = c.cli(2, {"download", "-f", name, "-o", out, "-w"}, 120s);
  INFO("download: exit " << dl.exit_code << "\nstdout: " << dl.out << "\nstderr: " << dl.err);
  REQUIRE(dl.exit_code == 0);
  // stderr is not a terminal here: no progress bar.
  CHECK(dl.err.find('\r') == std::string::npos);
  REQUIRE(fs::exists(out + "/" + name));
  CHECK(fs::file_size(out + "/" + name) == size);
  CHECK(file_sha256(out + "/" + name) == expected);
  CHECK_FALSE(has_part_file(out));

  auto status = c.cli_json(2, {"status"});
  auto d = cluster::find_by_name(status, "downloads", name);
  INFO("status --json of the downloader: " << status.dump());
  REQUIRE(d.is_object());
  CHECK(d.value("state", "") == "complete");
  CHECK(d.value("bytes_done", 0ULL) == size);
  CHECK(d.value("out_path", "") == out + "/" + name);
  REQUIRE(d.contains("peers"));
  REQUIRE(d["peers"].is_array());
  uint64_t sum = 0;
  std::set<std::string> contributors;
  for (auto& p : d["peers"]) {
    auto bytes = p.value("bytes", 0ULL);
    sum += bytes;
    CHECK(p.value("state", "") == "done");
    if (bytes > 0)
      contributors.insert(p.value("addr", ""));
  }
  CHECK(contributors.count(c.node(0).peer_addr()) == 1);
  CHECK(contributors.count(c.node(1).peer_addr()) == 1);
  CHECK(sum == size);
}

TEST_CASE("an empty file and a one-byte file download byte-identical",
          "[system][transfer]") {
  cluster c(2);
  auto src = c.make_dir(c.root() + "/src");
  write_file(src + "/empty.bin", "");
  write_file(src + "/one.bin", "x");
  for (auto name : {"empty.bin", "one.bin"}) {
    auto r = c.cli(0, {"share", src + "/" + name});
    INFO("share " << name << ": exit " << r.exit_code << "\n" << r.out << r.err);
    REQUIRE(r.exit_code == 0);
  }
  REQUIRE_FALSE(c.wait_for_file(1, "empty.bin", 1).is_null());
  REQUIRE_FALSE(c.wait_for_file(1, "one.bin", 1).is_null());

  auto out = c.make_dir(c.root() + "/out");
  for (auto name : {"empty.bin", "one.bin"}) {
    auto dl = c.cli(1, {"download", "-f", name, "-o", out, "-w"}, 60s);
    INFO("download " << name << ": exit " << dl.exit_code << "\nstdout: " << dl.out
                     << "\nstderr: " << dl.err);
    CHECK(dl.exit_code == 0);
    REQUIRE(fs::exists(out + "/" + name));
    CHECK(slurp(out + "/" + name) == slurp(src + "/" + name));
  }
  CHECK_FALSE(has_part_file(out));
  auto status = c.cli_json(1, {"status"});
  INFO("status --json: " << status.dump());
  for (auto name : {"empty.bin", "one.bin"}) {
    auto d = cluster::find_by_name(status, "downloads", name);
    REQUIRE(d.is_object());
    CHECK(d.value("state", "") == "complete");
  }
}

TEST_CASE("downloading an unknown name fails with exit 1 and names it",
          "[system][transfer]") {
  cluster c(2);
  auto src = c.make_dir(c.root() + "/src");
  write_file(src + "/known.bin", "known");
  REQUIRE(c.cli(0, {"share", src + "/known.bin"}).exit_code == 0);
  REQUIRE_FALSE(c.wait_for_file(1, "known.bin", 1).is_null());
  auto out = c.root() + "/out";
  const std::string unknown = "no-such-file.bin";

  SECTION("waiting") {
    auto r = c.cli(1, {"download", "-f", unknown, "-o", out, "-w"}, 60s);
    INFO("exit " << r.exit_code << "\nstdout: " << r.out << "\nstderr: " << r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find(unknown) != std::string::npos);
    CHECK(r.err.rfind("p2p-cli: ", 0) == 0);
  }
  SECTION("not waiting") {
    auto r = c.cli(1, {"download", "-f", unknown, "-o", out}, 60s);
    INFO("exit " << r.exit_code << "\nstdout: " << r.out << "\nstderr: " << r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find(unknown) != std::string::npos);
  }
  SECTION("--json prints the error document") {
    auto r = c.cli(1, {"--json", "download", "-f", unknown, "-o", out, "-w"}, 60s);
    INFO("exit " << r.exit_code << "\nstdout: " << r.out << "\nstderr: " << r.err);
    CHECK(r.exit_code == 1);
    auto doc = nlohmann::json::parse(r.out, nullptr, false);
    REQUIRE(doc.is_object());
    REQUIRE(doc.contains("error"));
    CHECK(doc["error"].value("code", "") == "not_found");
    CHECK(doc["error"].value("message", "").find(unknown) != std::string::npos);
  }
  CHECK_FALSE(fs::exists(out + "/" + unknown));
  CHECK_FALSE(fs::exists(out + "/" + unknown + ".part"));
}

// A sparse file of `size` bytes (one byte at the end) shared on daemon
// `seeder` and downloaded by daemon `leecher` with -w into <root>/out.
void share_and_download_sparse(cluster& c, size_t seeder, size_t leecher,
                               const std::string& name, uint64_t size) {
  auto src = c.make_dir(c.root() + "/src") + "/" + name;
  {
    std::ofstream f(src, std::ios::binary);
    f.seekp(static_cast<std::streamoff>(size - 1));
    f.put('z');
  }
  c.share_id(seeder, src);
  REQUIRE_FALSE(c.wait_for_file(leecher, name, 1).is_null());
  auto out = c.root() + "/out";
  auto dl = c.cli(leecher, {"download", "-f", name, "-o", out, "-w"}, 120s);
  INFO("download of " << name << ": exit " << dl.exit_code << "\n" << dl.out << dl.err);
  REQUIRE(dl.exit_code == 0);
  CHECK(file_sha256(out + "/" + name) == file_sha256(src));
}

TEST_CASE("memory stays bounded by the requests in flight, not by the file size",
          "[system][transfer][memory]") {
  cluster c(2);
  auto seeder_pid = c.node(0).proc->pid();
  auto leecher_pid = c.node(1).proc->pid();
  // Warm up with 32 MiB: buffers, connections and caches exist afterwards.
  share_and_download_sparse(c, 0, 1, "small.bin", 32 * MiB);
  auto seeder_before = peak_rss(seeder_pid);
  auto leecher_before = peak_rss(leecher_pid);
  // Then 256 MiB more through the same daemons.
  share_and_download_sparse(c, 0, 1, "large.bin", 256 * MiB);
  auto seeder_after = peak_rss(seeder_pid);
  auto leecher_after = peak_rss(leecher_pid);
  std::printf("peak RSS after 32 MiB / after 256 MiB more: seeder %llu / %llu MiB, "
              "downloader %llu / %llu MiB\n",
              static_cast<unsigned long long>(seeder_before / MiB),
              static_cast<unsigned long long>(seeder_after / MiB),
              static_cast<unsigned long long>(leecher_before / MiB),
              static_cast<unsigned long long>(leecher_after / MiB));
  REQUIRE(seeder_before > 0);
  REQUIRE(leecher_before > 0);
  // 16 requests of 256 KiB in flight are 4 MiB; the file is 64 times that.
  CHECK(seeder_after - seeder_before < 24 * MiB);
  CHECK(leecher_after - leecher_before < 24 * MiB);
}

TEST_CASE("chunks not in the page cache are read by the disk reader, not on the I/O "
          "thread, and arrive byte-identical",
          "[system][transfer][disk]") {
  // The seeder's broker reads cached chunks with preadv2(RWF_NOWAIT); a chunk
  // the kernel would fetch from the disk (EAGAIN) and each connection's first
  // read (open, fstat) go to the disk reader: status counts them.
  const uint64_t size = 16 * 1024 * 1024 + 4321; // 65 chunks of 256 KiB
  cluster c(2);
  auto src = c.make_dir(c.root() + "/src");
  write_file(src + "/warm.bin", random_bytes(size, 61));
  write_file(src + "/cold.bin", random_bytes(size, 62));
  write_file(src + "/evicted.bin", random_bytes(size, 63));
  for (auto name : {"warm.bin", "cold.bin", "evicted.bin"})
    c.share_id(0, src + "/" + name);
  REQUIRE_FALSE(c.wait_for_file(1, "evicted.bin", 1).is_null());
  auto out = c.make_dir(c.root() + "/out");
  auto disk_reads = [&] {
    return c.cli_json(0, {"status"})["uploads"].value("disk_reads", uint64_t{0});
  };
  auto download = [&](const std::string& name) {
    auto dl = c.cli(1, {"download", "-f", name, "-o", out, "-w"}, 60s);
    INFO("download " << name << ": exit " << dl.exit_code << "\n" << dl.out << dl.err);
    REQUIRE(dl.exit_code == 0);
    CHECK(file_sha256(out + "/" + name) == file_sha256(src + "/" + name));
  };
  // Drops `name`'s pages from the page cache (written back first).
  auto evict = [&](const std::string& name) {
    int fd = ::open((src + "/" + name).c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    ::fdatasync(fd);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
  };

  // Just written and hashed: every chunk is in the page cache. Only the
  // first read of the one connection goes to the disk reader (it opens the
  // file); all 65 chunks go by sendfile, not through the write buffer.
  download("warm.bin");
  CHECK(disk_reads() == 1);
  int probe = ::open((src + "/warm.bin").c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(probe >= 0);
  bool cachestat = p2p::page_cache_holds(probe, 0, 1).has_value();
  ::close(probe);
  CHECK(c.cli_json(0, {"status"})["uploads"].value("zero_copy_chunks", uint64_t{0})
        == (cachestat ? 65u : 0u));

  // Out of the page cache (written back, then dropped): the first read goes
  // to the disk reader, which also asks the kernel to read ahead the queued
  // chunks; how many of the rest are cached by the time they are served
  // depends on the disk (a fast one keeps up: one read in all, seen in CI).
  // The disk reader only brought the cold chunks into the page cache: they
  // went by sendfile too.
  evict("cold.bin");
  download("cold.bin");
  auto after_cold = disk_reads();
  CHECK(after_cold >= 2);
  CHECK(c.cli_json(0, {"status"})["uploads"].value("zero_copy_chunks", uint64_t{0})
        == (cachestat ? 130u : 0u));

  // Evicted again and again while it is served (every millisecond, for at
  // most 60 s): chunks past the first are found out of the page cache too,
  // and each such read goes to the disk reader, not the broker.
  std::atomic<bool> done{false};
  std::thread evictor([&] {
    auto until = std::chrono::steady_clock::now() + 60s;
    while (!done && std::chrono::steady_clock::now() < until) {
      int fd = ::open((src + "/evicted.bin").c_str(), O_RDONLY | O_CLOEXEC);
      if (fd >= 0) {
        ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        ::close(fd);
      }
      std::this_thread::sleep_for(1ms);
    }
  });
  evict("evicted.bin");
  auto dl = c.cli(1, {"download", "-f", "evicted.bin", "-o", out, "-w"}, 60s);
  done = true;
  evictor.join();
  INFO("download evicted.bin: exit " << dl.exit_code << "\n" << dl.out << dl.err);
  REQUIRE(dl.exit_code == 0);
  CHECK(file_sha256(out + "/evicted.bin") == file_sha256(src + "/evicted.bin"));
  auto reads = disk_reads();
  INFO("disk reads: " << after_cold << " after the cold file, " << reads
                      << " after the evicted one");
  CHECK(reads >= after_cold + 2); // its first read and at least one cache miss
}

TEST_CASE("a download keeps at most about 16 MiB written and not on the disk, and its "
          "chunks stay in the page cache for seeding",
          "[system][transfer][write_behind]") {
  // The chunk writer starts each span's writeback at once and waits for the
  // oldest past defaults::write_behind_bytes (16 MiB): 64 MiB/s from two
  // seeders, buffered without it, left up to a second's worth dirty between
  // the part file's periodic syncs.
  const uint64_t MiB = 1024 * 1024;
  const uint64_t size = 96 * MiB + 1234; // the last chunk short
  cluster c(3, {}, nullptr, {{0, rate(32 * MiB)}, {1, rate(32 * MiB)}});
  auto src = c.make_dir(c.root() + "/src");
  write_file(src + "/wb.bin", random_bytes(size, 71));
  c.share_id(0, src + "/wb.bin");
  c.share_id(1, src + "/wb.bin");
  REQUIRE_FALSE(c.wait_for_file(2, "wb.bin", 2).is_null());
  auto out = c.make_dir(c.root() + "/out");
  auto part = out + "/wb.bin.part";
  auto done = out + "/wb.bin";
  auto r = c.cli(2, {"download", "-f", "wb.bin", "-o", out});
  INFO("download: exit " << r.exit_code << "\n" << r.out << r.err);
  REQUIRE(r.exit_code == 0);
  // Samples the part file's pages every 2 ms until it is renamed.
  const auto page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  uint64_t most = 0; // dirty + under writeback, bytes
  size_t samples = 0;
  bool known = true;
  auto until = std::chrono::steady_clock::now() + 60s;
  int fd = -1;
  while (!std::filesystem::exists(done) && std::chrono::steady_clock::now() < until) {
    if (fd < 0)
      fd = ::open(part.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      auto st = p2p::page_cache_stat(fd, 0, size);
      if (!st) {
        known = false;
        break;
      }
      most = std::max<uint64_t>(most, (st->dirty + st->writeback) * page);
      ++samples;
    }
    std::this_thread::sleep_for(2ms);
  }
  if (fd >= 0)
    ::close(fd);
  bool finished = false;
  c.wait_download(2, "wb.bin", [](const nlohmann::json& d) {
    return d.value("state", "") == "complete"; }, 60s, finished);
  REQUIRE(finished);
  CHECK(file_sha256(done) == file_sha256(src + "/wb.bin"));
  if (!known) {
    WARN("no cachestat(2) here: only the bytes are checked");
    return;
  }
  INFO(samples << " samples; at most " << most / MiB << " MiB written and not on the disk");
  REQUIRE(samples >= 100); // ~1.5 s at 64 MiB/s
  // The limit, plus the span being written and the one being started (a
  // chunk run: at most 1 MiB each).
  CHECK(most <= 16 * MiB + 2 * MiB);
  // Written through the page cache: the first chunks are still there (a
  // partial seeder serves them by sendfile, no disk read).
  fd = ::open(done.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  auto first = p2p::page_cache_holds(fd, 0, 256 * 1024);
  ::close(fd);
  REQUIRE(first);
  CHECK(*first);

  // tmpfs (no writeback to start): byte-identical too.
  if (!std::filesystem::is_directory("/dev/shm")) {
    WARN("no /dev/shm here: the tmpfs case is not run");
    return;
  }
  auto shm = c.make_dir("/dev/shm/p2p-wb-" + std::to_string(::getpid()));
  auto dl = c.cli(2, {"download", "-f", "wb.bin", "-o", shm, "-w"}, 60s);
  INFO("download into " << shm << ": exit " << dl.exit_code << "\n" << dl.out << dl.err);
  CHECK(dl.exit_code == 0);
  CHECK(file_sha256(shm + "/wb.bin") == file_sha256(src + "/wb.bin"));
  std::filesystem::remove_all(shm);
}
