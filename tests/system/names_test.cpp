// Names are bytes: files whose names are not UTF-8 or are unsafe to print are
// shared, listed and downloaded under their own names (issues 7 and 11).
#include <filesystem>

#include "storage/names.hpp"
#include "tests/support/daemon.hpp"

using namespace p2p::test;
namespace fs = std::filesystem;

namespace {

size_t count_lines(const std::string& s) {
  return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}

bool has_terminal_control(const std::string& s) {
  for (unsigned char c : s)
    if ((c < 0x20 && c != '\n') || c == 0x7f)
      return true;
  return false;
}

} // namespace

TEST_CASE("a Latin-1 name in a shared directory is shared, listed and downloaded "
          "byte-identical",
          "[system][names]") {
  cluster c(2);
  const std::string latin = "\xe9t\xe9.txt"; // "été.txt" in Latin-1: not UTF-8
  auto dir = c.make_dir(c.root() + "/d");
  auto latin_data = random_bytes(100 * 1024 + 7, 7);
  auto plain_data = random_bytes(3000, 8);
  write_file(dir + "/" + latin, latin_data);
  write_file(dir + "/plain.txt", plain_data);

  auto r = c.cli(0, {"share", dir}, 60s);
  INFO("share: exit " << r.exit_code << "\n" << r.out << r.err << c.dump_logs());
  REQUIRE(r.exit_code == 0);
  // Offered as the folder's files: d/<name>.
  CHECK(contains(r.out, "shared d/\\xe9t\\xe9.txt"));
  CHECK(contains(r.out, "shared d/plain.txt"));
  CHECK(p2p::is_utf8(r.out)); // escaped, not raw bytes

  // The daemon is whole afterwards: status answers and lists both names in
  // the documented JSON text.
  auto status = c.cli_json(0, {"status"});
  CHECK(cluster::find_by_name(status, "shares", "d/\\xe9t\\xe9.txt").is_object());
  CHECK(cluster::find_by_name(status, "shares", "d/plain.txt").is_object());

  auto ls = c.wait_for_file(1, p2p::name_to_json("d/" + latin), 1, 30s);
  REQUIRE_FALSE(ls.is_null());
  auto human = c.cli(1, {"ls", "d"}, 30s);
  CHECK(contains(human.out, "\\xe9t\\xe9.txt"));
  CHECK(p2p::is_utf8(human.out));

  auto out = c.root() + "/out";
  for (auto& [name, data] : {std::pair{"d/" + latin, latin_data},
                             std::pair{std::string("d/plain.txt"), plain_data}}) {
    auto dl = c.cli(1, {"download", "-f", name, "-o", out, "-w"}, 60s);
    INFO("download " << p2p::printable_name(name) << ": exit " << dl.exit_code << "\n"
                     << dl.out << dl.err);
    REQUIRE(dl.exit_code == 0);
    REQUIRE(fs::exists(out + "/" + name)); // under its own bytes
    CHECK(slurp(out + "/" + name) == data);
  }
  // Sharing the file directly (the path is bytes in argv) offers it under its
  // own name.
  auto direct = c.cli(0, {"share", dir + "/" + latin}, 60s);
  INFO("direct share: " << direct.out << direct.err);
  CHECK(direct.exit_code == 0);
  CHECK(contains(direct.out, "shared \\xe9t\\xe9.txt ("));
}

TEST_CASE("names with escape sequences and newlines print escaped, one row per file, "
          "--json stays exact",
          "[system][names]") {
  cluster c(2);
  const std::string red = "x\x1b[31mRED.txt";
  const std::string forged = "a\nfake.txt   999 GiB";
  auto dir = c.make_dir(c.root() + "/d");
  write_file(dir + "/" + red, random_bytes(1000, 1));
  write_file(dir + "/" + forged, random_bytes(2000, 2));
  auto r = c.cli(0, {"share", dir}, 60s);
  INFO("share: " << r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_FALSE(has_terminal_control(r.out));
  CHECK(count_lines(r.out) == 2);

  auto doc = c.wait_for_file(1, "d/" + forged, 1, 30s);
  REQUIRE_FALSE(doc.is_null());
  // --json carries the exact names (JSON escapes the control characters).
  CHECK(cluster::find_by_name(doc, "files", "d/" + red).is_object());
  CHECK(cluster::find_by_name(doc, "files", "d/" + forged).is_object());

  auto ls = c.cli(1, {"ls"}, 30s);
  INFO("ls:\n" << ls.out);
  REQUIRE(ls.exit_code == 0);
  CHECK_FALSE(has_terminal_control(ls.out));
  CHECK(count_lines(ls.out) == 2); // header + the folder
  auto inside = c.cli(1, {"ls", "d"}, 30s);
  INFO("ls d:\n" << inside.out);
  CHECK_FALSE(has_terminal_control(inside.out));
  CHECK(count_lines(inside.out) == 3); // header + one row per file
  CHECK(contains(inside.out, "d/x\\x1b[31mRED.txt"));
  CHECK(contains(inside.out, "d/a\\x0afake.txt   999 GiB"));

  auto status = c.cli(0, {"status"}, 30s);
  CHECK_FALSE(has_terminal_control(status.out));

  // An error that quotes a name escapes it too.
  auto missing = c.cli(1, {"download", "-f", "no\x1b[2Jsuch", "-o", c.root() + "/o"}, 30s);
  CHECK(missing.exit_code != 0);
  CHECK(contains(missing.err, "no\\x1b[2Jsuch"));
  CHECK_FALSE(has_terminal_control(missing.err));
}
