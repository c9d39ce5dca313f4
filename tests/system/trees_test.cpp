// Names and trees (issue 11): every file is offered under its own name, links
// under theirs, long names download, folders download whole, and sharing
// thousands of files stays linear.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>

#include "tests/support/daemon.hpp"

using namespace p2p::test;
namespace fs = std::filesystem;

namespace {

// write_file, creating the parent folders first.
void write_tree(const std::string& path, const std::string& data) {
  fs::create_directories(fs::path(path).parent_path());
  write_file(path, data);
}

std::set<std::string> names_in(const nlohmann::json& ls) {
  std::set<std::string> out;
  for (auto& f : ls.value("files", nlohmann::json::array()))
    out.insert(f.value("name", ""));
  return out;
}

std::set<std::string> seeders_of(const nlohmann::json& ls, const std::string& name) {
  std::set<std::string> out;
  for (auto& s : cluster::find_by_name(ls, "files", name).value("seeders",
                                                                 nlohmann::json::array()))
    out.insert(s.get<std::string>());
  return out;
}

void require_download(cluster& c, size_t i, const std::string& name, const std::string& out,
                      const std::string& expected_path, const std::string& data) {
  auto dl = c.cli(i, {"download", "-f", name, "-o", out, "-w"}, 60s);
  INFO("download -f " << name << ": exit " << dl.exit_code << "\n" << dl.out << dl.err);
  REQUIRE(dl.exit_code == 0);
  REQUIRE(fs::exists(expected_path));
  CHECK(slurp(expected_path) == data);
}

// Seconds `share <dir>` takes on daemon i (REQUIREs success).
double share_seconds(cluster& c, size_t i, const std::string& dir) {
  auto t0 = std::chrono::steady_clock::now();
  auto r = c.cli(i, {"--json", "share", dir}, 300s);
  auto s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  INFO("share " << dir << ": exit " << r.exit_code << "\n" << r.err);
  REQUIRE(r.exit_code == 0);
  return s;
}

// `files` small files (1-4 KiB) spread over `folders` folders under `dir`.
void make_small_files(const std::string& dir, size_t files, size_t folders) {
  for (size_t k = 0; k < files; ++k)
    write_tree(dir + "/f" + std::to_string(k % folders) + "/file" + std::to_string(k),
               random_bytes(1024 + (k * 977) % 3072, k + 1));
}

} // namespace

TEST_CASE("the same bytes under several names are listed and downloadable under each",
          "[system][names]") {
  cluster c(3);
  auto data = random_bytes(50000, 11);
  auto a = c.make_dir(c.root() + "/A");
  write_file(a + "/a.bin", data);
  fs::create_hard_link(a + "/a.bin", a + "/b.bin");
  write_file(a + "/__init__.py", "");
  write_file(a + "/.keep", "");
  auto r = c.cli(0, {"share", a}, 60s);
  INFO("share: " << r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(contains(r.out, "shared A/a.bin"));
  CHECK(contains(r.out, "shared A/b.bin"));
  // Across hosts: the same report under two names.
  auto report = random_bytes(20000, 12);
  write_tree(c.root() + "/h0/report.pdf", report);
  write_tree(c.root() + "/h1/report-final.pdf", report);
  c.share_id(0, c.root() + "/h0/report.pdf");
  c.share_id(1, c.root() + "/h1/report-final.pdf");

  auto ls = c.wait_for_file(2, "report-final.pdf", 1, 30s);
  REQUIRE_FALSE(ls.is_null());
  ls = c.wait_for_file(2, "A/.keep", 1, 30s);
  auto names = names_in(ls);
  for (auto n : {"A/a.bin", "A/b.bin", "A/__init__.py", "A/.keep", "report.pdf",
                 "report-final.pdf"})
    CHECK(names.count(n) == 1);
  // The seeders of a name are all that offer its bytes.
  auto both = std::set<std::string>{c.node(0).peer_addr(), c.node(1).peer_addr()};
  CHECK(seeders_of(ls, "report.pdf") == both);
  CHECK(seeders_of(ls, "report-final.pdf") == both);

  auto out = c.root() + "/out";
  require_download(c, 2, "A/a.bin", out, out + "/A/a.bin", data);
  require_download(c, 2, "A/b.bin", out, out + "/A/b.bin", data);
  require_download(c, 2, "A/.keep", out, out + "/A/.keep", "");
  require_download(c, 2, "report-final.pdf", out, out + "/report-final.pdf", report);
}

TEST_CASE("names of 251 to 255 bytes download (the part file name fits)",
          "[system][names]") {
  cluster c(2);
  auto src = c.make_dir(c.root() + "/src");
  std::vector<std::pair<std::string, std::string>> files;
  for (size_t len : {251, 255}) {
    auto name = std::string(len - 4, len == 251 ? 'a' : 'b') + ".bin";
    files.emplace_back(name, random_bytes(30000 + len, len));
    write_file(src + "/" + name, files.back().second);
    c.share_id(0, src + "/" + name);
  }
  auto out = c.root() + "/out";
  for (auto& [name, data] : files) {
    REQUIRE_FALSE(c.wait_for_file(1, name, 1, 30s).is_null());
    require_download(c, 1, name, out, out + "/" + name, data);
  }
}

TEST_CASE("links are offered under their own names, a link leading outside the shared "
          "folder is skipped and reported",
          "[system][names]") {
  cluster c(2);
  auto share = c.make_dir(c.root() + "/share");
  c.make_dir(c.root() + "/private");
  auto iso = random_bytes(40000, 21);
  write_file(share + "/v1.2.3.iso", iso);
  write_file(c.root() + "/private/secret.txt", "secret");
  fs::create_symlink("v1.2.3.iso", share + "/latest.iso");
  fs::create_symlink("../private/secret.txt", share + "/alias.txt");
  auto r = c.cli(0, {"share", share}, 60s);
  INFO("share: " << r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(contains(r.out, "skipped " + share + "/alias.txt: link leads outside the shared "
                                             "folder"));
  CHECK(contains(r.out, "shared share/latest.iso"));
  auto doc = c.cli_json(0, {"share", share});
  REQUIRE(doc["skipped"].size() == 1);
  // Sharing a link directly: its target under the link's name.
  fs::create_symlink(share + "/v1.2.3.iso", c.root() + "/current.iso");
  c.share_id(0, c.root() + "/current.iso");

  auto ls = c.wait_for_file(1, "current.iso", 1, 30s);
  REQUIRE_FALSE(ls.is_null());
  ls = c.wait_for_file(1, "share/latest.iso", 1, 30s);
  CHECK(names_in(ls) == std::set<std::string>{"share/v1.2.3.iso", "share/latest.iso",
                                              "current.iso"});
  auto out = c.root() + "/out";
  require_download(c, 1, "share/latest.iso", out, out + "/share/latest.iso", iso);
  require_download(c, 1, "current.iso", out, out + "/current.iso", iso);
}

TEST_CASE("a shared folder is a tree: ls shows it as one row, download -f DIR fetches it "
          "whole",
          "[system][names]") {
  cluster c(2);
  auto dir = c.make_dir(c.root() + "/DIR");
  std::map<std::string, std::string> files{
    {"readme.txt", random_bytes(3000, 31)},
    {"sub/readme.txt", random_bytes(5000, 32)},
    {"sub/deep/x.bin", random_bytes(300000, 33)},
  };
  for (auto& [rel, data] : files)
    write_tree(dir + "/" + rel, data);
  REQUIRE(c.cli(0, {"share", dir}, 60s).exit_code == 0);
  auto ls = c.wait_for_file(1, "DIR/sub/deep/x.bin", 1, 30s);
  REQUIRE_FALSE(ls.is_null());
  // --json: one entry per file, full names.
  CHECK(names_in(ls) == std::set<std::string>{"DIR/readme.txt", "DIR/sub/readme.txt",
                                              "DIR/sub/deep/x.bin"});
  auto top = c.cli(1, {"ls"}, 30s);
  INFO("ls:\n" << top.out);
  CHECK(std::count(top.out.begin(), top.out.end(), '\n') == 2); // header + DIR/
  CHECK(contains(top.out, "DIR/"));
  CHECK(contains(top.out, "3 files"));
  auto inside = c.cli(1, {"ls", "DIR"}, 30s);
  INFO("ls DIR:\n" << inside.out);
  CHECK(std::count(inside.out.begin(), inside.out.end(), '\n') == 3);
  CHECK(contains(inside.out, "DIR/readme.txt"));
  CHECK(contains(inside.out, "DIR/sub/"));
  CHECK(c.cli_json(1, {"ls", "DIR/sub"})["files"].size() == 2);

  auto out = c.root() + "/out";
  auto dl = c.cli(1, {"download", "-f", "DIR", "-o", out, "-w"}, 60s);
  INFO("download -f DIR: exit " << dl.exit_code << "\n" << dl.out << dl.err);
  REQUIRE(dl.exit_code == 0);
  for (auto& [rel, data] : files) {
    REQUIRE(fs::exists(out + "/DIR/" + rel));
    CHECK(slurp(out + "/DIR/" + rel) == data);
  }
  // Nothing but the tree was written.
  size_t entries = 0;
  for (auto& e : fs::recursive_directory_iterator(out)) {
    (void)e;
    ++entries;
  }
  CHECK(entries == 6); // DIR, DIR/sub, DIR/sub/deep and the three files
}

TEST_CASE("cancel DIR cancels every download of the folder", "[system][names][cancel]") {
  // A slow seeder keeps the downloads running until cancelled.
  cluster c(2, {}, nullptr, {{0, rate(256 * 1024)}});
  auto dir = c.make_dir(c.root() + "/big");
  for (auto n : {"one.bin", "sub/two.bin"})
    write_tree(dir + "/" + n, random_bytes(4 * 1024 * 1024, 41));
  REQUIRE(c.cli(0, {"share", dir}, 60s).exit_code == 0);
  REQUIRE_FALSE(c.wait_for_file(1, "big/sub/two.bin", 1, 30s).is_null());
  auto out = c.root() + "/out";
  auto start = c.cli_json(1, {"download", "-f", "big", "-o", out});
  CHECK(start["download"]["name"] == "big");
  auto cancelled = c.cli_json(1, {"cancel", "big"});
  CHECK(cancelled["cancelled"].size() == 2);
  std::set<std::string> left;
  for (auto& e : fs::recursive_directory_iterator(out))
    if (e.is_regular_file())
      left.insert(e.path().filename().string());
  CHECK(left.empty()); // part files removed
}

TEST_CASE("sharing small files scales linearly: 4,000 files take at most 6 times as long "
          "as 1,000",
          "[system][names][scale]") {
  // Each size three times, interleaved, the fastest run of each compared: a
  // stall from other work on the machine (a build, another test) lengthens
  // one run, not all three, so load does not make the ratio fail; a
  // quadratic share (issue 11: 9.0 s for 1,000 files, 86 s for 4,000) fails
  // every run.
  cluster c(1);
  for (int r = 0; r < 3; ++r) {
    make_small_files(c.root() + "/k1_" + std::to_string(r), 1000, 10);
    make_small_files(c.root() + "/k4_" + std::to_string(r), 4000, 40);
  }
  double t1 = 1e9, t4 = 1e9;
  for (int r = 0; r < 3; ++r) {
    auto a = share_seconds(c, 0, c.root() + "/k1_" + std::to_string(r));
    auto b = share_seconds(c, 0, c.root() + "/k4_" + std::to_string(r));
    WARN("run " << r << ": sharing 1,000 files " << a << " s, 4,000 files " << b << " s");
    t1 = std::min(t1, a);
    t4 = std::min(t4, b);
  }
  // Quadratic growth would be 16 times; linear is 4 plus noise.
  CHECK(t4 <= 6 * t1);
}

TEST_CASE("10,000 small files in 100 folders: shared within 10 s, listed on another host "
          "within 30 s, ls within 1 s",
          "[system][names][scale]") {
  cluster c(2);
  make_small_files(c.root() + "/tenk", 10000, 100);
  auto shared = share_seconds(c, 0, c.root() + "/tenk");
  auto t0 = std::chrono::steady_clock::now();
  bool listed = wait_until(
    [&] {
      auto r = c.cli(1, {"--json", "ls"}, 30s);
      auto doc = nlohmann::json::parse(r.out, nullptr, false);
      return r.exit_code == 0 && doc.is_object() && doc["files"].size() == 10000;
    },
    30s, 200ms);
  auto listed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto t1 = std::chrono::steady_clock::now();
  auto ls = c.cli(1, {"ls"}, 30s);
  auto ls_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  WARN("10,000 files: shared in " << shared << " s, listed on the other host after "
                                  << listed_s << " s more, ls " << ls_s << " s");
  CHECK(shared <= 10.0);
  CHECK(listed);
  CHECK(ls.exit_code == 0);
  CHECK(ls_s <= 1.0);
}

TEST_CASE("cancel DIR also cancels the downloads still waiting for a slot",
          "[system][names][cancel][slots]") {
  // A slow seeder keeps the first 8 running; the other 4 wait.
  cluster c(2, {}, nullptr, {{0, rate(256 * 1024)}});
  auto dir = c.make_dir(c.root() + "/slow");
  for (int k = 0; k < 12; ++k)
    write_tree(dir + "/f" + std::to_string(k) + ".bin", random_bytes(2 * 1024 * 1024, 600 + k));
  REQUIRE(c.cli(0, {"share", dir}, 60s).exit_code == 0);
  REQUIRE_FALSE(c.wait_for_file(1, "slow/f11.bin", 1, 30s).is_null());
  auto out = c.root() + "/out";
  auto start = c.cli_json(1, {"download", "-f", "slow", "-o", out});
  CHECK(start["download"]["name"] == "slow");
  auto cancelled = c.cli_json(1, {"cancel", "slow"});
  CHECK(cancelled["cancelled"].size() == 12);
  for (auto& d : cancelled["cancelled"])
    CHECK(d["state"] == "cancelled");
  auto status = c.cli_json(1, {"status"});
  for (auto& d : status["downloads"])
    CHECK(d["state"] == "cancelled"); // none started later
  std::set<std::string> left;
  for (auto& e : fs::recursive_directory_iterator(out, fs::directory_options::none))
    if (fs::exists(out) && e.is_regular_file())
      left.insert(e.path().filename().string());
  CHECK(left.empty()); // part files removed
}
