#include <catch2/catch.hpp>

#include <cerrno>
#include <filesystem>

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>

#include "storage/fs.hpp"
#include "tests/support/sync_log.hpp"
#include "tests/support/temp_dir.hpp"

using namespace p2p;

TEST_CASE("write_file_atomic writes content and mode", "[fs]") {
  test::temp_dir dir;
  auto path = dir.file("cookie");
  REQUIRE(write_file_atomic(path, "secret", 0600) == "");
  CHECK(read_file(path) == std::string("secret"));
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  // Replacing keeps it atomic and applies the new mode.
  std::string binary("a\0b\xff", 4);
  REQUIRE(write_file_atomic(path, binary, 0644) == "");
  CHECK(read_file(path) == binary);
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0644);

  SECTION("no temp files are left behind") {
    auto listing = std::string();
    int entries = 0;
    if (auto d = ::opendir(dir.path().c_str())) {
      while (auto e = ::readdir(d))
        if (std::string(e->d_name) != "." && std::string(e->d_name) != "..")
          ++entries;
      ::closedir(d);
    }
    CHECK(entries == 1);
  }
  SECTION("an impossible path is an error naming it") {
    auto err = write_file_atomic(dir.file("missing/x"), "data");
    CHECK_THAT(err, Catch::Contains("missing/x"));
  }
}

TEST_CASE("write_file_atomic syncs the file, then its directory, only when durable", "[fs]") {
  test::temp_dir dir;
  auto path = dir.file("state.json");
  test::sync_log log;
  REQUIRE(write_file_atomic(path, "{}", 0644) == "");
  REQUIRE(log.synced().size() == 2);
  CHECK(test::starts_with(log.synced()[0], path + ".tmp.")); // before the rename
  CHECK(log.synced()[1] == dir.path());                       // after it
  log.clear();
  REQUIRE(write_file_atomic(path, "[]", 0644, false) == "");
  CHECK(log.synced().empty());
  CHECK(read_file(path) == std::string("[]")); // still replaced atomically
}

TEST_CASE("sync_file syncs an existing file and names a missing one", "[fs]") {
  test::temp_dir dir;
  auto path = dir.write("m.manifest", "bytes");
  test::sync_log log;
  CHECK(sync_file(path) == "");
  CHECK(log.synced() == std::vector<std::string>{path});
  auto err = sync_file(dir.file("gone.manifest"));
  CHECK_THAT(err, Catch::Contains("gone.manifest") && Catch::Contains("cannot open"));
}

TEST_CASE("read_file", "[fs]") {
  test::temp_dir dir;
  CHECK_FALSE(read_file(dir.file("nope")));
  CHECK(read_file(dir.write("empty", "")) == std::string());
  std::string big(200000, 'q');
  CHECK(read_file(dir.write("big", big)) == big);
}

TEST_CASE("make_dirs", "[fs]") {
  test::temp_dir dir;
  auto deep = dir.file("a/b/c");
  REQUIRE(make_dirs(deep) == "");
  struct stat st {};
  REQUIRE(::stat(deep.c_str(), &st) == 0);
  CHECK(S_ISDIR(st.st_mode));
  CHECK(make_dirs(deep) == "");        // existing is fine
  CHECK(make_dirs(deep + "/") == "");  // trailing slash
  std::filesystem::create_directory_symlink(dir.file("a"), dir.file("link"));
  CHECK(make_dirs(dir.file("link/b/c")) == ""); // existing, through a link
  CHECK(make_dirs(dir.file("link/b/new")) == ""); // made through a link
  CHECK(std::filesystem::is_directory(dir.file("a/b/new")));
  dir.write("file", "x");
  CHECK_FALSE(make_dirs(dir.file("file")).empty());
  CHECK_FALSE(make_dirs(dir.file("file/sub")).empty());
  CHECK_FALSE(make_dirs("").empty());
}

TEST_CASE("free_space and path helpers", "[fs]") {
  test::temp_dir dir;
  auto free = free_space(dir.path());
  REQUIRE(free);
  CHECK(*free > 0);
  CHECK_FALSE(free_space(dir.file("does/not/exist")));

  CHECK(join_path("/a/b", "c") == "/a/b/c");
  CHECK(join_path("/a/b/", "c") == "/a/b/c");
  CHECK(join_path("", "c") == "c");
  CHECK(base_name("/a/b.txt") == "b.txt");
  CHECK(base_name("b.txt") == "b.txt");
  CHECK(base_name("/a/dir/") == "dir");
  CHECK(base_name("/") == "/");
  CHECK_FALSE(errno_text(ENOENT).empty());
  fsync_dir(dir.path()); // must not crash
  fsync_dir(dir.file("nope"));
}

TEST_CASE("page_cache_holds tells a cached range from a dropped one", "[fs]") {
  test::temp_dir dir;
  auto path = dir.file("data.bin");
  REQUIRE(write_file_atomic(path, std::string(1024 * 1024 + 100, 'x'), 0644, false) == "");
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  auto whole = page_cache_holds(fd, 0, 1024 * 1024 + 100);
  if (!whole) {
    // A kernel before 6.5: the caller copies instead; nothing else to check.
    WARN("cachestat(2) unsupported here: " << errno_text(errno));
    ::close(fd);
    return;
  }
  CHECK(*whole); // just written: every page is in the cache
  CHECK(page_cache_holds(fd, 1024 * 1024 + 50, 50) == true); // the short last page
  CHECK(page_cache_holds(fd, 12345, 0) == true);
  // Written back and dropped: not in the cache (a range, and one byte of it).
  REQUIRE(::fdatasync(fd) == 0);
  REQUIRE(::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0);
  CHECK(page_cache_holds(fd, 0, 1024 * 1024 + 100) == false);
  CHECK(page_cache_holds(fd, 4096 * 3 + 7, 1) == false);
  // One page read back (read-ahead off): that page only.
  REQUIRE(::posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM) == 0);
  char c = 0;
  REQUIRE(::pread(fd, &c, 1, 4096 * 10) == 1);
  CHECK(page_cache_holds(fd, 4096 * 10, 4096) == true);
  CHECK(page_cache_holds(fd, 4096 * 10, 4097) == false);
  ::close(fd);
  CHECK_FALSE(page_cache_holds(fd, 0, 10)); // closed: EBADF, cannot tell
}
