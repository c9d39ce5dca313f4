#include <catch2/catch.hpp>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/dir_watch.hpp"
#include "tests/support/temp_dir.hpp"

using namespace p2p;
namespace stdfs = std::filesystem;

namespace {

bool has(const dir_watch::changes& c, const std::string& dir) {
  return std::find(c.dirs.begin(), c.dirs.end(), dir) != c.dirs.end();
}

} // namespace

TEST_CASE("dir_watch reports the directories whose entries changed", "[dir_watch]") {
  test::temp_dir tmp;
  auto a = tmp.file("a");
  auto b = tmp.file("b");
  stdfs::create_directories(a);
  stdfs::create_directories(b);
  test::write_file(a + "/f", "one");
  test::write_file(b + "/g", "two");
  dir_watch w;
  REQUIRE(w.ok());
  REQUIRE(w.add(a));
  REQUIRE(w.add(b));
  REQUIRE(w.add(a)); // again: still one watch
  auto none = w.poll();
  CHECK(none.dirs.empty());
  CHECK_FALSE(none.overflow);

  SECTION("a write") {
    test::write_file(a + "/f", "changed");
    auto c = w.poll();
    CHECK(c.dirs == std::vector<std::string>{a});
    CHECK(w.poll().dirs.empty()); // drained
  }
  SECTION("a new mtime and nothing else (touch)") {
    struct timespec times[2] = {{0, UTIME_OMIT}, {1'600'000'000, 0}};
    REQUIRE(::utimensat(AT_FDCWD, (b + "/g").c_str(), times, 0) == 0);
    CHECK(w.poll().dirs == std::vector<std::string>{b});
  }
  SECTION("a delete, and a file renamed over another across directories") {
    test::write_file(b + "/tmp", "new");
    (void) w.poll();
    REQUIRE(::rename((b + "/tmp").c_str(), (a + "/f").c_str()) == 0);
    auto c = w.poll();
    CHECK(has(c, a));
    CHECK(has(c, b));
    REQUIRE(::unlink((b + "/g").c_str()) == 0);
    CHECK(w.poll().dirs == std::vector<std::string>{b});
  }
  SECTION("reading a file is no change") {
    CHECK(test::read_whole(a + "/f") == "one");
    CHECK(w.poll().dirs.empty());
  }
  SECTION("a removed watch reports nothing") {
    w.remove(a);
    w.remove(a); // twice: nothing
    test::write_file(a + "/f", "changed");
    CHECK(w.poll().dirs.empty());
    test::write_file(b + "/g", "changed");
    CHECK(w.poll().dirs == std::vector<std::string>{b});
  }
  SECTION("a deleted directory is reported once and no longer watched") {
    stdfs::remove_all(a);
    auto c = w.poll();
    CHECK(has(c, a));
    CHECK_FALSE(has(c, b));
    CHECK(w.poll().dirs.empty());
    errno = 0;
    CHECK_FALSE(w.add(a));
    CHECK(errno == ENOENT);
    stdfs::create_directories(a);
    REQUIRE(w.add(a)); // a new directory under the old name
    test::write_file(a + "/h", "x");
    CHECK(w.poll().dirs == std::vector<std::string>{a});
  }
  SECTION("a moved directory is reported and no longer watched") {
    auto moved = tmp.file("moved");
    REQUIRE(::rename(a.c_str(), moved.c_str()) == 0);
    CHECK(has(w.poll(), a));
    test::write_file(moved + "/f", "after the move");
    CHECK(w.poll().dirs.empty());
  }
}

TEST_CASE("dir_watch: one directory under two names reports both", "[dir_watch]") {
  test::temp_dir tmp;
  auto real = tmp.file("real");
  auto link = tmp.file("link");
  stdfs::create_directories(real);
  stdfs::create_directory_symlink(real, link);
  dir_watch w;
  REQUIRE(w.add(real));
  REQUIRE(w.add(link));
  test::write_file(real + "/f", "x");
  auto c = w.poll();
  CHECK(has(c, real));
  CHECK(has(c, link));
  // Removing one name keeps the other watched.
  w.remove(link);
  test::write_file(real + "/f", "y");
  CHECK(w.poll().dirs == std::vector<std::string>{real});
}

TEST_CASE("dir_watch refuses what is not a directory", "[dir_watch]") {
  test::temp_dir tmp;
  auto file = tmp.write("plain", "x");
  dir_watch w;
  errno = 0;
  CHECK_FALSE(w.add(file));
  CHECK(errno == ENOTDIR);
  errno = 0;
  CHECK_FALSE(w.add(tmp.file("missing")));
  CHECK(errno == ENOENT);
  CHECK(w.poll().dirs.empty());
}
