#pragma once
// Helpers shared by the LAN test files.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/lan/netns.hpp"
#include "tests/support/bytes.hpp"

namespace p2p::test {

using steady = std::chrono::steady_clock;

// Writes `content` to <host i's dir>/share/`name` and shares it with host i's
// p2p-cli (30 s limit); REQUIREs exit 0.
inline void share_one(lan& net, size_t i, const std::string& name, const std::string& content) {
  using namespace std::chrono_literals;
  auto dir = net.host(i).dir + "/share";
  std::filesystem::create_directories(dir);
  write_file(dir + "/" + name, content);
  auto r = net.cli(i, {"share", dir + "/" + name}, 30s);
  INFO("share on host " << i << ": " << r.out << r.err);
  REQUIRE(r.exit_code == 0);
}

inline long ms_since(steady::time_point t0) {
  return static_cast<long>(
    std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - t0).count());
}

// Polls `ls --json` on `hosts` (all at once, each round) until `done(host,
// doc)` holds for every one of them, or `timeout` passes. Returns, per host
// (in the order of `hosts`), the milliseconds after `t0` of the round in
// which it first held (the round's end), or -1. `last` gets the last
// documents.
inline std::vector<long> poll_ls(lan& net, const std::vector<size_t>& hosts,
                                 const std::function<bool(size_t, const nlohmann::json&)>& done,
                                 steady::time_point t0, std::chrono::milliseconds timeout,
                                 std::vector<nlohmann::json>* last = nullptr,
                                 std::chrono::milliseconds interval
                                 = std::chrono::milliseconds(50)) {
  std::vector<long> when(hosts.size(), -1);
  std::vector<nlohmann::json> docs(hosts.size());
  auto deadline = steady::now() + timeout;
  for (int round = 0; round < 1000; ++round) {
    std::vector<size_t> ask;
    std::vector<size_t> pos;
    for (size_t k = 0; k < hosts.size(); ++k)
      if (when[k] < 0) {
        ask.push_back(hosts[k]);
        pos.push_back(k);
      }
    if (ask.empty())
      break;
    auto results = net.cli_many(ask, {"--json", "ls"}, std::chrono::seconds(10));
    auto t = ms_since(t0);
    for (size_t j = 0; j < ask.size(); ++j) {
      auto doc = nlohmann::json::parse(results[j].out, nullptr, false);
      docs[pos[j]] = doc;
      if (results[j].exit_code == 0 && !doc.is_discarded() && done(ask[j], doc))
        when[pos[j]] = t;
    }
    if (steady::now() >= deadline)
      break;
    std::this_thread::sleep_for(interval);
  }
  if (last != nullptr)
    *last = docs;
  return when;
}

inline bool lists(const nlohmann::json& ls, const std::string& name) {
  return !lan::find_file(ls, name).is_null();
}

// The lines of `text` containing `needle`.
inline std::vector<std::string> lines_with(const std::string& text, const std::string& needle) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    auto end = nl == std::string::npos ? text.size() : nl;
    auto line = text.substr(pos, end - pos);
    if (line.find(needle) != std::string::npos)
      out.push_back(std::move(line));
    pos = end + 1;
  }
  return out;
}

// Milliseconds since midnight of a daemon log line
// ("2024-05-01T12:34:56.789 debug ..."), or -1.
inline long log_line_ms(const std::string& line) {
  if (line.size() < 23 || line[10] != 'T' || line[19] != '.')
    return -1;
  try {
    auto h = std::stol(line.substr(11, 2));
    auto m = std::stol(line.substr(14, 2));
    auto s = std::stol(line.substr(17, 2));
    auto ms = std::stol(line.substr(20, 3));
    return ((h * 60 + m) * 60 + s) * 1000 + ms;
  } catch (...) {
    return -1;
  }
}

inline std::string host_of(const std::string& endpoint) {
  auto colon = endpoint.rfind(':');
  return colon == std::string::npos ? endpoint : endpoint.substr(0, colon);
}

} // namespace p2p::test
