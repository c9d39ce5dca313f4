// The web page in headless Chromium (issue 13, item 5): a download from a
// rate-limited seeder runs while Chromium loads the page twice; the DOM the
// page's script builds from /api/status shows its progress growing, and a
// screenshot is kept (its path is printed).
#include <filesystem>
#include <iostream>
#include <regex>

#include "tests/support/daemon.hpp"
#include "tests/support/web_client.hpp"
#include "tests/web/chromium.hpp"

#ifndef P2P_ARTIFACT_DIR
#error "P2P_ARTIFACT_DIR must name where the tests leave screenshots"
#endif

using namespace p2p::test;

namespace {

// Every value of attribute `attr` in the dumped DOM, in order.
std::vector<std::string> attr_values(const std::string& dom, const std::string& attr) {
  std::vector<std::string> out;
  std::regex re(attr + "=\"([^\"]*)\"");
  for (auto it = std::sregex_iterator(dom.begin(), dom.end(), re); it != std::sregex_iterator();
       ++it)
    out.push_back((*it)[1]);
  return out;
}

// The page's DOM after ~3 s of its time; REQUIREs Chromium to succeed.
std::string page_dom(cluster& c, const std::string& url) {
  auto r = chromium(c.root(), url, {"--dump-dom"});
  INFO("chromium exit " << r.exit_code << "\nstderr tail:\n" << tail_lines(r.err, 20));
  REQUIRE(r.exit_code == 0);
  REQUIRE(contains(r.out, "</html>"));
  return r.out;
}

} // namespace

TEST_CASE("web page in headless Chromium: live download progress, names as text, screenshot",
          "[web][chromium]") {
  constexpr uint64_t size = 24 * MiB;
  // Seeder 0 sends 512 KiB/s: the download runs for ~48 s, long enough to
  // look at twice.
  cluster c(2, {}, nullptr, {{0, rate(512 * KiB)}, {1, {"--http", "127.0.0.1:0"}}});
  auto src = c.make_dir(c.root() + "/src");
  write_file(src + "/movie.mkv", random_bytes(size, 7));
  c.share_id(0, src + "/movie.mkv");
  // A shared name that is markup: the page must show it as text.
  const std::string markup_name = "<img id=\"injected\" src=x onerror=alert(1)>&amp;.txt";
  write_file(src + "/" + markup_name, "x");
  c.share_id(1, src + "/" + markup_name);
  REQUIRE_FALSE(c.wait_for_file(1, "movie.mkv", 1).is_null());
  auto r = c.cli(1, {"download", "-f", "movie.mkv", "-o", c.root() + "/out"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  bool ok = false;
  auto d = c.wait_download(
    1, "movie.mkv", [](const nlohmann::json& d) { return d.value("bytes_done", 0) > 0; }, 30s,
    ok);
  REQUIRE(ok);

  auto url = c.cli(1, {"web"});
  REQUIRE(url.exit_code == 0);
  auto page_url = url.out.substr(0, url.out.find('\n'));

  auto dom1 = page_dom(c, page_url);
  auto done1 = attr_values(dom1, "data-bytes-done");
  INFO("first DOM:\n" << dom1);
  REQUIRE(done1.size() == 1);
  auto first = std::stoull(done1[0]);
  // The page polled /api/status more than once in its ~3 s.
  auto polls1 = attr_values(dom1, "data-polls");
  REQUIRE(polls1.size() == 1);
  CHECK(std::stoi(polls1[0]) >= 2);
  CHECK(contains(dom1, ">movie.mkv<"));
  CHECK(contains(dom1, ">running<"));
  CHECK(first > 0);
  CHECK(first < size);
  // The markup name is text in a cell, never an element.
  CHECK(contains(dom1, "&lt;img id=\"injected\" src=x onerror=alert(1)&gt;&amp;amp;.txt"));
  CHECK_FALSE(contains(dom1, "<img id=\"injected\""));

  // The daemon has moved on; the page, loaded again, shows it.
  c.wait_download(
    1, "movie.mkv",
    [&](const nlohmann::json& d) { return d.value("bytes_done", uint64_t{0}) > first; }, 30s,
    ok);
  REQUIRE(ok);
  auto dom2 = page_dom(c, page_url);
  auto done2 = attr_values(dom2, "data-bytes-done");
  INFO("second DOM:\n" << dom2);
  REQUIRE(done2.size() == 1);
  auto second = std::stoull(done2[0]);
  CHECK(second > first);
  CHECK(second < size);

  // The screenshot, kept where the test run leaves its artifacts.
  std::filesystem::create_directories(P2P_ARTIFACT_DIR);
  auto shot = std::string(P2P_ARTIFACT_DIR) + "/web-page.png";
  std::filesystem::remove(shot);
  auto s = chromium(c.root(), page_url, {"--screenshot=" + shot});
  INFO("chromium exit " << s.exit_code << "\n" << tail_lines(s.err, 20));
  CHECK(s.exit_code == 0);
  REQUIRE(std::filesystem::exists(shot));
  CHECK(std::filesystem::file_size(shot) > 10000);
  std::cout << "web page screenshot: " << shot << " (progress " << first << " -> " << second
            << " of " << size << " bytes in the DOM)\n";
}
