// The CLI's human tables against golden files (tests/cli/golden/*.txt):
// `ls`, `scan`, `peers`, `status` of a downloader and of a seeder, `share`
// and `download -w` off a terminal, between two daemons on loopback. What
// varies from run to run is normalised first, keeping every column's width:
// the temp root, 5-digit ports, 16-hex peer ids, ages; elapsed time and
// average rate of download -w.
// P2P_UPDATE_GOLDEN=1 rewrites the files from this run (then read the diff).
#include <cstdlib>
#include <fstream>
#include <regex>

#include "tests/support/daemon.hpp"

#ifndef P2P_GOLDEN_DIR
#error "P2P_GOLDEN_DIR must name tests/cli/golden"
#endif

using namespace p2p::test;

namespace {

// Replaces every match of `re` by `fill` repeated to the match's length (a
// table's columns keep their widths).
std::string mask(const std::string& text, const std::regex& re, char fill) {
  std::string out;
  size_t at = 0;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator();
       ++it) {
    out += text.substr(at, static_cast<size_t>(it->position()) - at);
    out += std::string(static_cast<size_t>(it->length()), fill);
    at = static_cast<size_t>(it->position() + it->length());
  }
  return out + text.substr(at);
}

// The run-dependent parts of the CLI's output, normalised.
std::string normalise(std::string text, const std::string& root) {
  for (size_t at; (at = text.find(root)) != std::string::npos;)
    text.replace(at, root.size(), "<root>");
  text = mask(text, std::regex("\\b[0-9]{5}\\b"), 'p');       // ports (ephemeral: 5 digits)
  text = mask(text, std::regex("\\b[0-9a-f]{16}\\b"), 'h');  // peer ids
  text = mask(text, std::regex("\\b[0-9]+:[0-9]{2} ago"), 't'); // ages
  // download -w's closing line (no table: its length may change)
  return std::regex_replace(text, std::regex("in [0-9:]+, [0-9.]+ [KMGT]?i?B/s average"),
                            "in <elapsed>, <rate> average");
}

// Compares `got` (already normalised) with tests/cli/golden/<name>.txt, or
// writes the file when P2P_UPDATE_GOLDEN=1.
void check_golden(const std::string& name, const std::string& got) {
  auto path = std::string(P2P_GOLDEN_DIR) + "/" + name + ".txt";
  if (const char* u = std::getenv("P2P_UPDATE_GOLDEN"); u != nullptr && std::string(u) == "1") {
    write_file(path, got);
    WARN("rewrote " << path);
    return;
  }
  auto want = p2p::read_file(path);
  INFO("golden file " << path << " (P2P_UPDATE_GOLDEN=1 rewrites it)\n--- want\n"
                      << want.value_or("<missing>") << "--- got\n"
                      << got);
  REQUIRE(want.has_value());
  CHECK(*want == got);
}

} // namespace

TEST_CASE("ls, scan, peers, status, share and download -w print the tables of the golden files",
          "[system][cli][golden]") {
  cluster c(2);
  auto src = c.make_dir(c.root() + "/src");
  write_file(src + "/alpha.bin", random_bytes(3 * 1024 * 1024 + 17, 41));
  write_file(src + "/notes with spaces.txt", random_bytes(3000, 42));
  auto norm = [&](const run_result& r) {
    INFO("exit " << r.exit_code << "\n" << r.out << r.err);
    REQUIRE(r.exit_code == 0);
    return normalise(r.out, c.root());
  };

  // share off a terminal: one line per file
  std::string shared = norm(c.cli(0, {"share", src + "/alpha.bin"}));
  shared += norm(c.cli(0, {"share", src + "/notes with spaces.txt"}));
  check_golden("share", shared);

  REQUIRE_FALSE(c.wait_for_file(1, "alpha.bin", 1).is_null());
  REQUIRE_FALSE(c.wait_for_file(1, "notes with spaces.txt", 1).is_null());
  check_golden("ls", norm(c.cli(1, {"ls"})));
  check_golden("scan", norm(c.cli(1, {"scan"})));
  check_golden("peers", norm(c.cli(1, {"peers"})));

  auto out = c.make_dir(c.root() + "/out");
  check_golden("download", norm(c.cli(1, {"download", "-f", "alpha.bin", "-o", out, "-w"})));

  // The seeder's uploads settle (no connection left serving) before its table.
  bool idle = wait_until(
    [&] {
      auto st = c.cli_json(0, {"status"});
      return st["uploads"].value("active", 1) == 0;
    },
    10s, 100ms);
  REQUIRE(idle);
  check_golden("status-downloader", norm(c.cli(1, {"status"})));
  check_golden("status-seeder", norm(c.cli(0, {"status"})));
}
