// The web page in headless Chromium (issue 13, item 5): a download from a
// rate-limited seeder runs while Chromium loads the page twice; the DOM the
// page's script builds from /api/status shows its progress growing; then,
// within one page load watched over the DevTools protocol in real time, the
// progress grows and the per-peer rate shows; a screenshot is kept (its path
// is printed).
#include <filesystem>
#include <iostream>
#include <regex>

#include "tests/support/daemon.hpp"
#include "tests/support/web_client.hpp"
#include "tests/web/chromium.hpp"

#ifndef P2P_CDP_SAMPLE
#error "P2P_CDP_SAMPLE must name tests/web/cdp_sample.py"
#endif
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

  // One page load, watched for 6 s of real time over the DevTools protocol
  // (virtual time, as --dump-dom uses, runs ahead of the daemon).
  auto profile = c.root() + "/chromium-cdp";
  spawn_options o;
  o.exe = chromium_exe();
  o.args = {"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-extensions", "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0", "--user-data-dir=" + profile, page_url};
  o.env = {{"HOME", c.root()}};
  process browser(o);
  spawn_options py;
  py.exe = "/usr/bin/python3";
  py.args = {P2P_CDP_SAMPLE, profile, "6", "500",
             "(() => { const tr = document.querySelector('tr.download');"
             " const rates = [...document.querySelectorAll('td.peer-rate')];"
             " return {polls: +(document.body.dataset.polls || 0),"
             " first: tr ? +tr.dataset.firstBytesDone : -1, done: tr ? +tr.dataset.bytesDone : -1,"
             " bps: rates.map(td => +td.dataset.bps), rate_text: rates.map(td => td.textContent)};"
             " })()"};
  auto sampled = run(py, 60s, c.root());
  browser.kill();
  INFO("cdp_sample exit " << sampled.exit_code << "\n" << sampled.err << "\nsamples: " << sampled.out);
  REQUIRE(sampled.exit_code == 0);
  auto samples = nlohmann::json::parse(sampled.out);
  REQUIRE(samples.is_array());
  REQUIRE(samples.size() >= 8);
  const nlohmann::json* last = nullptr;
  uint64_t load_first = 0;
  bool rate_shown = false;
  for (auto& s : samples) {
    auto& v = s["value"];
    if (!v.is_object() || v["first"].get<int64_t>() < 0)
      continue; // before the first poll
    if (last == nullptr)
      load_first = v["first"].get<uint64_t>();
    // One load: the first value it saw never changes, the polls only count up.
    CHECK(v["first"].get<uint64_t>() == load_first);
    if (last != nullptr)
      CHECK(v["polls"].get<int>() >= (*last)["polls"].get<int>());
    for (size_t i = 0; i < v["bps"].size(); ++i)
      if (v["bps"][i].get<int64_t>() > 0) {
        rate_shown = true;
        CHECK(contains(v["rate_text"][i].get<std::string>(), "/s"));
      }
    last = &v;
  }
  REQUIRE(last != nullptr);
  CHECK(load_first >= second);
  CHECK((*last)["polls"].get<int>() >= 4);
  CHECK((*last)["done"].get<uint64_t>() > load_first);
  CHECK((*last)["done"].get<uint64_t>() < size);
  CHECK(rate_shown);
  std::cout << "one page load over 6 s: " << (*last)["polls"] << " polls, progress " << load_first
            << " -> " << (*last)["done"] << " bytes\n";

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
