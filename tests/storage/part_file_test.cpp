#include <catch2/catch.hpp>

#include <cerrno>
#include <cstring>
#include <filesystem>

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

TEST_CASE("write_all_at writes through the verifiers' own descriptor, also once the part "
          "file is discarded", "[part_file]") {
  test::temp_dir dir;
  part_file f(dir.file("x.part"));
  REQUIRE(f.create(6) == "");
  int own = ::dup(f.fd());
  REQUIRE(own >= 0);
  CHECK(write_all_at(own, f.path(), 3, "god", 3) == "");
  CHECK(test::read_whole(f.path()) == std::string("\0\0\0god", 6));
  // A download that fails removes its part file while a verifier may still
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
