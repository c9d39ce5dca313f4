// What a download refuses to do or cleans up after: full disks, existing
// files, a second download into the same place; cancel and unshare.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "tests/support/daemon.hpp"

using namespace p2p::test;
namespace fs = std::filesystem;

namespace {

std::string first_existing(std::initializer_list<const char*> paths) {
  for (auto p : paths)
    if (::access(p, X_OK) == 0)
      return p;
  return {};
}

// Runs a system tool (mount, umount, mkfs); its exit code, -1 when missing.
int tool(const std::string& exe, std::vector<std::string> args, std::string* err = nullptr) {
  if (exe.empty())
    return -1;
  spawn_options o;
  o.exe = exe;
  o.args = std::move(args);
  auto scratch = make_temp_dir("p2p-tool");
  auto r = run(o, 30s, scratch);
  remove_tree(scratch);
  if (err)
    *err = r.out + r.err;
  return r.exit_code;
}

// A file system mounted for one test (a tmpfs, or an ext4 image on a loop
// device), unmounted when it goes out of scope. Needs root; `ok()` is false
// (with the reason in `why`) where mounting is not allowed.
class scoped_mount {
public:
  // A tmpfs of `bytes` at a new directory.
  static std::unique_ptr<scoped_mount> tmpfs(uint64_t bytes) {
    auto m = std::unique_ptr<scoped_mount>(new scoped_mount);
    m->dir_ = make_temp_dir("p2p-tmpfs");
    m->mount_({"-t", "tmpfs", "-o", "size=" + std::to_string(bytes), "tmpfs", m->dir_});
    return m;
  }

  // An ext4 file system (no journal) of `fs_bytes` whose image lives on a
  // tmpfs of only `backing_bytes`: the file system believes it has room (and
  // grants fallocate), but the blocks run out when data is written back.
  static std::unique_ptr<scoped_mount> thin_ext4(uint64_t fs_bytes, uint64_t backing_bytes) {
    auto m = std::unique_ptr<scoped_mount>(new scoped_mount);
    m->backing_ = tmpfs(backing_bytes);
    if (!m->backing_->ok()) {
      m->why = m->backing_->why;
      return m;
    }
    auto img = m->backing_->dir() + "/fs.img";
    write_file(img, "");
    if (::truncate(img.c_str(), static_cast<off_t>(fs_bytes)) != 0) {
      m->why = "cannot size the image";
      return m;
    }
    std::string out;
    auto mkfs = first_existing({"/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4"});
    if (tool(mkfs, {"-q", "-F", "-O", "^has_journal", img}, &out) != 0) {
      m->why = "mkfs.ext4 failed: " + out;
      return m;
    }
    m->dir_ = make_temp_dir("p2p-thin");
    m->mount_({"-o", "loop", img, m->dir_});
    return m;
  }

  ~scoped_mount() {
    auto umount = first_existing({"/usr/bin/umount", "/bin/umount"});
    if (mounted_ && tool(umount, {dir_}) != 0)
      tool(umount, {"-l", dir_});
    if (!dir_.empty())
      ::rmdir(dir_.c_str());
    backing_.reset();
  }

  bool ok() const { return mounted_; }
  const std::string& dir() const { return dir_; }
  std::string why;

private:
  scoped_mount() = default;

  void mount_(std::vector<std::string> args) {
    std::string out;
    auto exe = first_existing({"/usr/bin/mount", "/bin/mount"});
    if (::geteuid() != 0)
      why = "not root";
    else if (tool(exe, std::move(args), &out) == 0)
      mounted_ = true;
    else
      why = "mount failed: " + out;
  }

  std::string dir_;
  bool mounted_ = false;
  std::unique_ptr<scoped_mount> backing_;
};

bool has_part_file(const std::string& dir) {
  return !files_in(dir, ".part").empty();
}

} // namespace

TEST_CASE("a target without room for the file is refused before anything is written",
          "[system][guard][disk]") {
  auto mnt = scoped_mount::tmpfs(4 * MiB);
  if (!mnt->ok()) {
    WARN("skipped: cannot mount a tmpfs here (" << mnt->why << ")");
    return;
  }
  cluster c(2);
  auto src = c.make_dir(c.root() + "/src");
  write_file(src + "/huge.bin", random_bytes(6 * MiB, 1));
  write_file(src + "/small.bin", random_bytes(1 * MiB, 2));
  c.share_id(0, src + "/huge.bin");
  c.share_id(0, src + "/small.bin");
  REQUIRE_FALSE(c.wait_for_file(1, "huge.bin", 1).is_null());
  REQUIRE_FALSE(c.wait_for_file(1, "small.bin", 1).is_null());

  auto r = c.cli(1, {"--json", "download", "-f", "huge.bin", "-o", mnt->dir(), "-w"});
  INFO("download: exit " << r.exit_code << "\n" << r.out << r.err);
  CHECK(r.exit_code == 1);
  auto doc = nlohmann::json::parse(r.out, nullptr, false);
  REQUIRE(doc.is_object());
  CHECK(contains(doc["error"].value("message", ""), "not enough space"));
  CHECK_FALSE(has_part_file(mnt->dir()));
  CHECK(download_state_files(c.node(1)).empty());

  // The daemon is fine: it answers and downloads what fits.
  auto ok = c.cli(1, {"download", "-f", "small.bin", "-o", mnt->dir(), "-w"});
  INFO("small download: exit " << ok.exit_code << "\n" << ok.err);
  CHECK(ok.exit_code == 0);
  CHECK(file_sha256(mnt->dir() + "/small.bin") == file_sha256(src + "/small.bin"));
}

TEST_CASE("a disk that fills up under a download fails it cleanly and the daemon keeps "
          "serving",
          "[system][guard][disk]") {
  // ext4 says 64 MiB are free, but only ~3 MiB of blocks really exist.
  auto mnt = scoped_mount::thin_ext4(64 * MiB, 3 * MiB);
  if (!mnt->ok()) {
    WARN("skipped: cannot mount a loop file system here (" << mnt->why << ")");
    return;
  }
  const uint64_t size = 16 * MiB;
  cluster c(2, {}, nullptr, {{0, rate(8 * MiB)}}); // the once-a-second sync comes mid-way
  auto src = c.make_dir(c.root() + "/src");
  write_file(src + "/fill.bin", random_bytes(size, 3));
  write_file(src + "/mine.bin", random_bytes(512 * KiB, 4));
  write_file(src + "/later.bin", random_bytes(512 * KiB, 5));
  c.share_id(0, src + "/fill.bin");
  c.share_id(0, src + "/later.bin");
  c.share_id(1, src + "/mine.bin"); // the downloader shares something too
  REQUIRE_FALSE(c.wait_for_file(1, "fill.bin", 1).is_null());

  auto r = c.cli(1, {"download", "-f", "fill.bin", "-o", mnt->dir(), "-w"}, 60s);
  auto d = c.download_status(1, "fill.bin");
  INFO("download: exit " << r.exit_code << "\n" << r.err << "\nstatus: " << d.dump());
  CHECK(r.exit_code == 1);
  REQUIRE(d.is_object());
  CHECK(d.value("state", "") == "failed");
  auto err = d.value("error", "");
  CHECK((contains(err, "No space left") || contains(err, "Input/output")));
  CHECK(contains(r.err, "fill.bin"));
  CHECK_FALSE(fs::exists(mnt->dir() + "/fill.bin"));
  CHECK_FALSE(has_part_file(mnt->dir()));
  CHECK(download_state_files(c.node(1)).empty());

  // Still answering, still serving its own share, still downloading.
  auto status = c.cli_json(1, {"status"});
  CHECK(cluster::find_by_name(status, "shares", "mine.bin").is_object());
  REQUIRE_FALSE(c.wait_for_file(0, "mine.bin", 1).is_null());
  auto out0 = c.root() + "/out0";
  CHECK(c.cli(0, {"download", "-f", "mine.bin", "-o", out0, "-w"}).exit_code == 0);
  CHECK(file_sha256(out0 + "/mine.bin") == file_sha256(src + "/mine.bin"));
  auto out1 = c.root() + "/out1";
  CHECK(c.cli(1, {"download", "-f", "later.bin", "-o", out1, "-w"}).exit_code == 0);
  CHECK(file_sha256(out1 + "/later.bin") == file_sha256(src + "/later.bin"));
}

TEST_CASE("an existing file is kept unless --overwrite is given", "[system][guard]") {
  cluster c(2);
  auto src = c.make_dir(c.root() + "/src");
  write_file(src + "/doc.bin", random_bytes(700 * KiB, 9));
  c.share_id(0, src + "/doc.bin");
  REQUIRE_FALSE(c.wait_for_file(1, "doc.bin", 1).is_null());
  auto out = c.make_dir(c.root() + "/out");
  write_file(out + "/doc.bin", "my own precious notes");

  auto r = c.cli(1, {"download", "-f", "doc.bin", "-o", out, "-w"});
  INFO("without --overwrite: exit " << r.exit_code << "\n" << r.err);
  CHECK(r.exit_code == 1);
  CHECK(contains(r.err, "exists"));
  auto j = c.cli(1, {"--json", "download", "-f", "doc.bin", "-o", out});
  auto doc = nlohmann::json::parse(j.out, nullptr, false);
  INFO("--json: " << j.out);
  CHECK(j.exit_code == 1);
  REQUIRE(doc.is_object());
  CHECK(doc["error"].value("code", "") == "exists");
  CHECK(slurp(out + "/doc.bin") == "my own precious notes");
  CHECK_FALSE(has_part_file(out));

  auto w = c.cli(1, {"download", "-f", "doc.bin", "-o", out, "--overwrite", "-w"});
  INFO("with --overwrite: exit " << w.exit_code << "\n" << w.err);
  CHECK(w.exit_code == 0);
  CHECK(file_sha256(out + "/doc.bin") == file_sha256(src + "/doc.bin"));
  CHECK_FALSE(has_part_file(out));
}

TEST_CASE("the same download twice into one place is refused and cancel removes the part "
          "file and the record",
          "[system][guard][cancel]") {
  const uint64_t size = 8 * MiB;
  cluster c(2, {}, nullptr, {{0, rate(1 * MiB)}});
  auto src = c.make_dir(c.root() + "/src");
  write_file(src + "/twice.bin", random_bytes(size, 10));
  auto id = c.share_id(0, src + "/twice.bin");
  REQUIRE_FALSE(c.wait_for_file(1, "twice.bin", 1).is_null());
  auto out = c.root() + "/out";
  auto part = out + "/twice.bin.part";

  auto started = [&] {
    REQUIRE(c.cli(1, {"download", "-f", "twice.bin", "-o", out}).exit_code == 0);
    bool ok = wait_until(
      [&] { return recorded_bytes(c.node(1)) > 0 && fs::exists(part); }, 30s, 50ms);
    INFO("status: " << c.download_status(1, "twice.bin").dump());
    REQUIRE(ok);
  };
  started();

  auto again = c.cli(1, {"--json", "download", "-f", "twice.bin", "-o", out});
  INFO("second download: exit " << again.exit_code << "\n" << again.out << again.err);
  CHECK(again.exit_code == 1);
  auto doc = nlohmann::json::parse(again.out, nullptr, false);
  REQUIRE(doc.is_object());
  CHECK(doc["error"].value("code", "") == "exists");
  // With -w the second one follows the first instead (until it is cancelled).
  auto follower = c.spawn_cli(1, {"download", "-f", "twice.bin", "-o", out, "-w"}, "follower");
  CHECK(wait_until(
    [&] { return contains(follower->stderr_text(), "already downloading there; following it"); },
    20s));
  CHECK(follower->running());

  auto cancel_and_check = [&](const std::string& target) {
    auto r = c.cli(1, {"cancel", target});
    INFO("cancel " << target << ": exit " << r.exit_code << "\n" << r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(contains(r.out, "cancelled twice.bin"));
    auto d = c.download_status(1, "twice.bin");
    INFO("status: " << d.dump());
    CHECK(d.value("state", "") == "cancelled");
    CHECK_FALSE(fs::exists(part));
    CHECK_FALSE(fs::exists(out + "/twice.bin"));
    CHECK(download_state_files(c.node(1)).empty());
  };
  auto follower_ends_cancelled = [&] {
    auto st = follower->wait_for(10s);
    INFO("follower stderr: " << follower->stderr_text());
    REQUIRE(st.has_value());
    CHECK(*st == 1);
    CHECK(contains(follower->stderr_text(), "download of twice.bin cancelled"));
  };
  SECTION("by id") {
    cancel_and_check(id.substr(0, 12));
    follower_ends_cancelled();
  }
  SECTION("by name, then again after a fresh start") {
    cancel_and_check("twice.bin");
    follower_ends_cancelled();
    CHECK(c.cli(1, {"cancel", "twice.bin"}).exit_code == 1); // nothing left to cancel
    started(); // no longer refused: nothing runs there now
    cancel_and_check("twice.bin");
  }
}

TEST_CASE("unshare by name and by path", "[system][guard][unshare]") {
  cluster c(2);
  auto src = c.make_dir(c.root() + "/src");
  write_file(src + "/one.bin", random_bytes(100 * KiB, 11));
  write_file(src + "/two.bin", random_bytes(100 * KiB, 12));
  write_file(src + "/three.bin", random_bytes(100 * KiB, 13));
  for (auto n : {"one.bin", "two.bin", "three.bin"})
    c.share_id(0, src + "/" + n);
  REQUIRE_FALSE(c.wait_for_file(1, "one.bin", 1).is_null());
  REQUIRE_FALSE(c.wait_for_file(1, "two.bin", 1).is_null());

  auto by_name = c.cli(0, {"unshare", "one.bin"});
  INFO("unshare one.bin: " << by_name.out << by_name.err);
  CHECK(by_name.exit_code == 0);
  CHECK(contains(by_name.out, "unshared one.bin"));
  // A relative path, resolved against the CLI's working directory.
  auto by_path = c.cli(0, {"unshare", "./two.bin"}, 60s, src);
  INFO("unshare ./two.bin: " << by_path.out << by_path.err);
  CHECK(by_path.exit_code == 0);
  CHECK(contains(by_path.out, "unshared two.bin"));
  CHECK(c.cli(0, {"unshare", src + "/two.bin"}).exit_code == 1); // already gone
  CHECK(c.cli(0, {"unshare", "no-such.bin"}).exit_code == 1);

  auto status = c.cli_json(0, {"status"});
  INFO("status: " << status.dump());
  CHECK(cluster::find_by_name(status, "shares", "one.bin").is_null());
  CHECK(cluster::find_by_name(status, "shares", "two.bin").is_null());
  CHECK(cluster::find_by_name(status, "shares", "three.bin").is_object());
  CHECK(fs::exists(src + "/one.bin")); // the files themselves stay
  CHECK(fs::exists(src + "/two.bin"));

  // The other daemon stops seeing them and cannot download them.
  nlohmann::json ls;
  bool gone = wait_until(
    [&] {
      c.cli(1, {"scan"}, 30s);
      ls = nlohmann::json::parse(c.cli(1, {"--json", "ls"}).out, nullptr, false);
      return cluster::find_by_name(ls, "files", "one.bin").is_null()
             && cluster::find_by_name(ls, "files", "two.bin").is_null()
             && cluster::find_by_name(ls, "files", "three.bin").is_object();
    },
    20s, 200ms);
  INFO("ls on daemon 1: " << ls.dump());
  CHECK(gone);
  auto r = c.cli(1, {"download", "-f", "one.bin", "-o", c.root() + "/out", "-w"});
  CHECK(r.exit_code == 1);
}
