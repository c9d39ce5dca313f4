#pragma once
// Headless Chromium for the web page's tests: one run per question (the DOM
// after the page's script ran, or a screenshot), loopback only.
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/support/daemon.hpp"

namespace p2p::test {

// $P2P_CHROMIUM, else Debian's /usr/bin/chromium.
inline std::string chromium_exe() {
  if (const char* c = std::getenv("P2P_CHROMIUM"); c != nullptr && *c != '\0')
    return c;
  return "/usr/bin/chromium";
}

// Runs headless Chromium on `url` with `extra` (--dump-dom, --screenshot=...)
// for `budget_ms` of the page's (virtual) time: timers fire, the page polls.
// Its profile and home live under `dir`; it talks to nothing but the URL
// (no background, component or sync traffic).
inline run_result chromium(const std::string& dir, const std::string& url,
                           std::vector<std::string> extra, int budget_ms = 3000) {
  spawn_options o;
  o.exe = chromium_exe();
  o.args = {"--headless",
            "--no-sandbox", // root in CI containers
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--disable-extensions",
            "--disable-domain-reliability",
            "--window-size=1280,900",
            "--user-data-dir=" + dir + "/chromium-profile",
            "--virtual-time-budget=" + std::to_string(budget_ms)};
  o.args.insert(o.args.end(), extra.begin(), extra.end());
  o.args.push_back(url);
  o.env = {{"HOME", dir}};
  return run(o, 60s, dir);
}

} // namespace p2p::test
