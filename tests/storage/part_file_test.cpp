#include <catch2/catch.hpp>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <tuple>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "storage/part_file.hpp"
#include "tests/support/sync_log.hpp"
#include "tests/support/temp_dir.hpp"

using namespace p2p;

namespace {

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i)
    s[i] = static_cast<char>('a' + i % 26);
  return s;
}

} // namespace

TEST_CASE("part_file: create reserves the size, write_at writes at offsets", "[part_file]") {
  test::temp_dir dir;
  part_file f(dir.file("x.part"));
  REQUIRE(f.create(100) == "");
  REQUIRE(f.is_open());
  CHECK(std::filesystem::file_size(f.path()) == 100);
  CHECK(f.write_at(10, "hello", 5) == "");
  CHECK(f.write_at(95, "world", 5) == "");
  CHECK(f.sync() == "");
  auto text = test::read_whole(f.path());
  REQUIRE(text.size() == 100);
  CHECK(text.substr(10, 5) == "hello");
  CHECK(text.substr(95, 5) == "world");
  CHECK(text[0] == '\0');
}

TEST_CASE("part_file: short writes and EINTR are continued", "[part_file]") {
  test::temp_dir dir;
  part_file f(dir.file("x.part"));
  REQUIRE(f.create(1000) == "");
  int calls = 0;
  f.set_pwrite([&](int fd, const void* p, size_t n, int64_t off) -> long {
    if (++calls % 3 == 0) {
      errno = EINTR;
      return -1;
    }
    return static_cast<long>(::pwrite(fd, p, std::min<size_t>(n, 7), off));
  });
  auto data = pattern(500);
  REQUIRE(f.write_at(300, data.data(), data.size()) == "");
  CHECK(calls > 500 / 7);
  CHECK(test::read_whole(f.path()).substr(300, 500) == data);
}

TEST_CASE("part_file: a failing write says which file and why", "[part_file]") {
  test::temp_dir dir;
  part_file f(dir.file("x.part"));
  REQUIRE(f.create(10) == "");
  SECTION("an error") {
    f.set_pwrite([](int, const void*, size_t, int64_t) -> long {
      errno = ENOSPC;
      return -1;
    });
    CHECK(f.write_at(0, "abc", 3) == "cannot write " + f.path() + ": " + std::strerror(ENOSPC));
  }
  SECTION("no progress at all") {
    f.set_pwrite([](int, const void*, size_t, int64_t) -> long { return 0; });
    CHECK(f.write_at(0, "abc", 3) == "cannot write " + f.path() + ": " + std::strerror(ENOSPC));
  }
}

TEST_CASE("part_file: reserve where the file system has no fallocate", "[part_file]") {
  test::temp_dir dir;
  for (int no : {EOPNOTSUPP, EINVAL}) {
    part_file f(dir.file("x.part"));
    int asked = 0;
    f.set_fallocate([&](int, int64_t, int64_t) { ++asked; return no; });
    REQUIRE(f.create(12345) == "");
    CHECK(asked == 1);
    CHECK(std::filesystem::file_size(f.path()) == 12345); // ftruncate instead
  }
  part_file full(dir.file("y.part"));
  full.set_fallocate([](int, int64_t, int64_t) { return ENOSPC; });
  CHECK(full.create(5) == "cannot reserve 5 bytes for " + full.path() + ": "
                            + std::strerror(ENOSPC));
}

TEST_CASE("part_file: create fails in a missing directory", "[part_file]") {
  test::temp_dir dir;
  part_file f(dir.file("no/such/x.part"));
  CHECK(f.create(1) == "cannot create " + f.path() + ": " + std::strerror(ENOENT));
  CHECK_FALSE(f.is_open());
}

TEST_CASE("write_all_at writes through the chunk writer's own descriptor, also once the part "
          "file is discarded", "[part_file]") {
  test::temp_dir dir;
  part_file f(dir.file("x.part"));
  REQUIRE(f.create(6) == "");
  int own = ::dup(f.fd());
  REQUIRE(own >= 0);
  CHECK(write_all_at(own, f.path(), 3, "god", 3) == "");
  CHECK(test::read_whole(f.path()) == std::string("\0\0\0god", 6));
  // A download that fails removes its part file while its writer may still
  // write: the write lands in the removed file, nothing comes back.
  f.discard();
  CHECK(write_all_at(own, f.path(), 0, "abc", 3) == "");
  CHECK_FALSE(std::filesystem::exists(f.path()));
  ::close(own);
  CHECK(write_all_at(-1, "/some/x.part", 0, "abc", 3)
        == std::string("cannot write /some/x.part: ") + std::strerror(EBADF));
}

TEST_CASE("part_file: commit renames and refuses to replace", "[part_file]") {
  test::temp_dir dir;
  auto final_path = dir.file("x");
  SECTION("nothing there: renamed, closed") {
    part_file f(dir.file("x.part"));
    REQUIRE(f.create(3) == "");
    REQUIRE(f.write_at(0, "abc", 3) == "");
    CHECK(f.commit(final_path, false) == "");
    CHECK_FALSE(f.is_open());
    CHECK(test::read_whole(final_path) == "abc");
    CHECK_FALSE(std::filesystem::exists(f.path()));
  }
  SECTION("a file there: refused, both kept") {
    test::write_file(final_path, "mine");
    part_file f(dir.file("x.part"));
    REQUIRE(f.create(3) == "");
    REQUIRE(f.write_at(0, "abc", 3) == "");
    CHECK(f.commit(final_path, false)
          == "cannot rename " + f.path() + " to " + final_path + ": " + std::strerror(EEXIST));
    CHECK(test::read_whole(final_path) == "mine");
    CHECK(test::read_whole(f.path()) == "abc");
  }
  SECTION("a file there, replace asked for") {
    test::write_file(final_path, "mine");
    part_file f(dir.file("x.part"));
    REQUIRE(f.create(3) == "");
    REQUIRE(f.write_at(0, "abc", 3) == "");
    CHECK(f.commit(final_path, true) == "");
    CHECK(test::read_whole(final_path) == "abc");
  }
}

TEST_CASE("part_file: open_existing checks the size, discard removes, RAII closes",
          "[part_file]") {
  test::temp_dir dir;
  auto path = dir.write("x.part", "0123456789");
  int fd = -1;
  {
    part_file f(path);
    CHECK(f.open_existing(9) == "part file missing or of the wrong size");
    REQUIRE(f.open_existing(10) == "");
    fd = f.fd();
    CHECK(::fcntl(fd, F_GETFD) != -1);
  }
  CHECK(::fcntl(fd, F_GETFD) == -1); // closed with the object
  CHECK(test::read_whole(path) == "0123456789");
  part_file g(path);
  g.discard(); // never opened by g: still removed
  CHECK_FALSE(std::filesystem::exists(path));
  part_file h(dir.file("gone.part"));
  CHECK(h.open_existing(1) == "part file missing or of the wrong size");
  part_file moved = std::move(h);
  CHECK(moved.path() == dir.file("gone.part"));
}

TEST_CASE("part_file: sync reaches the part file, and commit syncs it before the rename and the "
          "folder after",
          "[part_file]") {
  test::temp_dir dir;
  part_file f(dir.file("x.part"));
  REQUIRE(f.create(10) == "");
  REQUIRE(f.write_at(0, "0123456789", 10) == "");
  test::sync_log log;
  CHECK(f.sync() == "");
  CHECK(log.synced() == std::vector<std::string>{dir.file("x.part")});
  log.clear();
  REQUIRE(f.commit(dir.file("x"), false) == "");
  CHECK(log.synced() == std::vector<std::string>{dir.file("x.part"), dir.path()});
  CHECK(test::read_whole(dir.file("x")) == "0123456789");
}

namespace {

// The sync_file_range calls a write_behind made: (offset, length, flags).
struct range_calls {
  std::vector<std::tuple<int64_t, int64_t, unsigned>> calls;
  int fail_with = 0;    // errno for every call from now on (0: succeed)
  int interrupts = 0;   // the next this many calls fail with EINTR first
  write_behind::range_fn fn() {
    return [this](int, int64_t off, int64_t n, unsigned flags) {
      calls.emplace_back(off, n, flags);
      if (interrupts > 0) {
        --interrupts;
        errno = EINTR;
        return -1;
      }
      if (fail_with != 0) {
        errno = fail_with;
        return -1;
      }
      return 0;
    };
  }
};

constexpr unsigned start_flags = SYNC_FILE_RANGE_WRITE;
constexpr unsigned wait_flags =
  SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER;

} // namespace

TEST_CASE("write_behind starts each range's writeback and waits for the oldest past its limit",
          "[part_file][write_behind]") {
  range_calls r;
  write_behind wb(7, "/d/x.part", 100, r.fn());
  CHECK(wb.wrote(0, 60) == "");
  CHECK(wb.wrote(200, 40) == "");
  // 100 under way, not more than the limit: nothing waited for yet.
  CHECK(wb.under_way() == 100);
  using call = std::tuple<int64_t, int64_t, unsigned>;
  CHECK(r.calls == std::vector<call>{{0, 60, start_flags}, {200, 40, start_flags}});
  // 130 under way: the oldest (0, 60) is waited for, 70 are left.
  CHECK(wb.wrote(100, 30) == "");
  CHECK(wb.under_way() == 70);
  REQUIRE(r.calls.size() == 4);
  CHECK(r.calls[2] == call{100, 30, start_flags});
  CHECK(r.calls[3] == call{0, 60, wait_flags});
  // One range larger than the limit: everything older and itself waited for.
  CHECK(wb.wrote(300, 150) == "");
  CHECK(wb.under_way() == 0);
  CHECK(std::vector<call>(r.calls.begin() + 4, r.calls.end())
        == std::vector<call>{{300, 150, start_flags}, {200, 40, wait_flags},
                             {100, 30, wait_flags}, {300, 150, wait_flags}});
  // Nothing written, nothing asked.
  CHECK(wb.wrote(500, 0) == "");
  CHECK(r.calls.size() == 8);
}

TEST_CASE("write_behind: EINTR is retried, EIO is a write error, a file system without it "
          "turns it off", "[part_file][write_behind]") {
  range_calls r;
  write_behind wb(7, "/d/x.part", 10, r.fn());
  r.interrupts = 2;
  CHECK(wb.wrote(0, 5) == "");
  CHECK(r.calls.size() == 3); // twice EINTR, then done
  CHECK(wb.under_way() == 5);
  SECTION("EIO while starting") {
    r.fail_with = EIO;
    CHECK(wb.wrote(5, 5) == std::string("cannot write /d/x.part: ") + std::strerror(EIO));
  }
  SECTION("ENOSPC while waiting") {
    CHECK(wb.wrote(5, 5) == "");
    r.calls.clear();
    // The start succeeds; the wait for (0, 5) reports what the writeback met.
    auto next = r.fn();
    write_behind::range_fn failing_wait = [&](int fd, int64_t off, int64_t n, unsigned flags) {
      if (flags == wait_flags) {
        errno = ENOSPC;
        return -1;
      }
      return next(fd, off, n, flags);
    };
    write_behind wb2(7, "/d/y.part", 4, failing_wait);
    CHECK(wb2.wrote(0, 5) == std::string("cannot write /d/y.part: ") + std::strerror(ENOSPC));
  }
  SECTION("EINVAL: off, and asked no more") {
    r.fail_with = EINVAL;
    CHECK(wb.wrote(5, 5) == "");
    CHECK_FALSE(wb.enabled());
    CHECK(wb.under_way() == 0);
    auto asked = r.calls.size();
    CHECK(wb.wrote(10, 50) == "");
    CHECK(r.calls.size() == asked);
  }
}

TEST_CASE("write_behind on a real file: the written bytes stay as written", "[part_file][write_behind]") {
  test::temp_dir dir;
  part_file f(dir.file("x.part"));
  auto data = pattern(256 * 1024);
  REQUIRE(f.create(4 * data.size()) == "");
  write_behind wb(f.fd(), f.path(), data.size()); // ::sync_file_range
  for (size_t k = 0; k < 4; ++k) {
    REQUIRE(f.write_at(k * data.size(), data.data(), data.size()) == "");
    CHECK(wb.wrote(k * data.size(), data.size()) == "");
  }
  CHECK(wb.under_way() <= data.size());
  CHECK(test::read_whole(f.path()) == data + data + data + data);
}
