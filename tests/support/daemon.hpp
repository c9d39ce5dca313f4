#pragma once
// System-test fixture: N real p2p-daemon processes on loopback, each with its
// own temp state dir, control port and peer port, every other daemon given as
// a static --peer (no multicast). Runs p2p-cli against any of them. When a
// test fails, each daemon's log tail is printed and the temp dir is kept.
#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <functional>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "storage/fs.hpp"
#include "storage/manifest.hpp"
#include "storage/resume.hpp"
#include "tests/support/binaries.hpp"
#include "tests/support/bytes.hpp"
#include "tests/support/process.hpp"
#include "tests/support/test_failed.hpp"
#include "util/hex.hpp"

namespace p2p::test {


constexpr uint64_t KiB = 1024;
constexpr uint64_t MiB = 1024 * 1024;

// Daemon flags that cap its uploads (the tests' slow seeder).
inline std::vector<std::string> rate(uint64_t bytes_per_s) {
  return {"--upload-rate-limit", std::to_string(bytes_per_s)};
}

// Paths of the entries of `dir` whose names end in `suffix` ("" for all).
inline std::vector<std::string> files_in(const std::string& dir,
                                         const std::string& suffix = "") {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto& e : std::filesystem::directory_iterator(dir, ec)) {
    auto n = e.path().filename().string();
    if (n.size() >= suffix.size()
        && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0)
      out.push_back(e.path().string());
  }
  return out;
}

inline bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

struct daemon_node {
  size_t index = 0;
  std::string state_dir;
  std::string log_path;
  uint16_t control_port = 0;
  uint16_t peer_port = 0;
  std::vector<std::string> args;
  std::map<std::string, std::string> env; // extra environment for its next start
  std::unique_ptr<process> proc;

  std::string control_addr() const {
    return "127.0.0.1:" + std::to_string(control_port);
  }
  std::string peer_addr() const {
    return "127.0.0.1:" + std::to_string(peer_port);
  }
  // The control cookie as the daemon wrote it (trimmed).
  std::string token() const {
    auto t = slurp(state_dir + "/control.cookie");
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' '))
      t.pop_back();
    return t;
  }
};

// Resume records (<state>/downloads/*.json) of daemon `n`.
inline std::vector<std::string> resume_records(const daemon_node& n) {
  return files_in(n.state_dir + "/downloads", ".json");
}

// Every file in <state>/downloads of daemon `n` (records and manifests).
inline std::vector<std::string> download_state_files(const daemon_node& n) {
  return files_in(n.state_dir + "/downloads");
}

// Bytes resume record `rec` vouches for (its verified chunks' lengths).
inline uint64_t vouched_bytes(const resume_record& rec) {
  uint64_t sum = 0;
  for (size_t i = 0; i < rec.have.size(); ++i)
    if (rec.have[i])
      sum += std::min<uint64_t>(rec.chunk_size, rec.size - uint64_t{i} * rec.chunk_size);
  return sum;
}

// Bytes the first readable resume record of daemon `n` vouches for; 0 when
// there is none (records are replaced atomically: a read never sees half).
inline uint64_t recorded_bytes(const daemon_node& n) {
  for (auto& path : resume_records(n)) {
    auto text = read_file(path);
    if (auto rec = text ? resume_from_json(*text) : std::nullopt)
      return vouched_bytes(*rec);
  }
  return 0;
}

class cluster {
public:
  // Starts `n` daemons and waits until each answers `status`. `config`, when
  // not null, is written to a file every daemon gets with --config.
  // `node_args[i]` are flags for daemon i alone (after the common ones, so
  // they win), e.g. {{0, {"--upload-rate-limit", "1048576"}}}.
  explicit cluster(size_t n, std::vector<std::string> extra_args = {},
                   const nlohmann::json& config = nullptr,
                   const std::map<size_t, std::vector<std::string>>& node_args = {})
    : root_(make_temp_dir("p2p-system")) {
    make_dir(root_ + "/home");
    make_dir(root_ + "/scratch");
    if (!config.is_null()) {
      write_file(root_ + "/config.json", config.dump());
      extra_args.insert(extra_args.end(), {"--config", root_ + "/config.json"});
    }
    for (size_t i = 0; i < n; ++i) {
      auto node = std::make_unique<daemon_node>();
      node->index = i;
      node->state_dir = root_ + "/daemon" + std::to_string(i);
      node->log_path = root_ + "/daemon" + std::to_string(i) + ".log";
      node->control_port = free_port();
      node->peer_port = free_port();
      make_dir(node->state_dir);
      nodes_.push_back(std::move(node));
    }
    for (auto& node : nodes_) {
      node->args = {"--state-dir",      node->state_dir,
                    "--control-addr",   node->control_addr(),
                    "--peer-port",      std::to_string(node->peer_port),
                    "--advertise-addr", "127.0.0.1",
                    "--no-multicast",   "--log-level",
                    "debug"};
      for (auto& other : nodes_)
        if (other != node) {
          node->args.push_back("--peer");
          node->args.push_back(other->peer_addr());
        }
      node->args.insert(node->args.end(), extra_args.begin(), extra_args.end());
      if (auto it = node_args.find(node->index); it != node_args.end())
        node->args.insert(node->args.end(), it->second.begin(), it->second.end());
    }
    for (size_t i = 0; i < n; ++i)
      start(i);
  }

  ~cluster() {
    bool failed = current_test_failed() || std::uncaught_exceptions() > 0;
    for (auto& node : nodes_)
      if (node->proc) {
        node->proc->signal(SIGTERM);
        if (!node->proc->wait_for(3s))
          node->proc->kill();
      }
    if (failed) {
      std::cerr << dump_logs() << "(test files kept in " << root_ << ")\n";
    } else if (std::getenv("P2P_TEST_KEEP") != nullptr) {
      std::cerr << "(P2P_TEST_KEEP: test files kept in " << root_ << ")\n";
    } else {
      remove_tree(root_);
    }
  }

  cluster(const cluster&) = delete;
  cluster& operator=(const cluster&) = delete;

  size_t size() const {
    return nodes_.size();
  }
  daemon_node& node(size_t i) {
    return *nodes_.at(i);
  }
  // A directory for the test's own files (kept when the test fails).
  const std::string& root() const {
    return root_;
  }
  std::string make_dir(const std::string& path) {
    std::filesystem::create_directories(path);
    return path;
  }

  // Spawns daemon i (again) and waits until it answers status.
  void start(size_t i, millis timeout = 20s) {
    auto& n = node(i);
    write_log_marker(n, "----- test harness: starting p2p-daemon -----\n");
    spawn_options o;
    o.exe = daemon_exe();
    o.args = n.args;
    o.env = base_env();
    o.env.insert(n.env.begin(), n.env.end());
    o.unset_env = p2p_env_names();
    o.stderr_path = n.log_path;
    o.stdout_path = n.log_path;
    n.proc = std::make_unique<process>(o);
    bool ready = wait_until(
      [&] {
        if (!n.proc->running())
          return true; // exited: no point in waiting longer
        return cli(i, {"status", "--json"}, 5s).exit_code == 0;
      },
      timeout, 100ms);
    INFO("daemon " << i << " log:\n" << tail_lines(slurp(n.log_path), 60));
    REQUIRE(n.proc->running());
    REQUIRE(ready);
  }

  // Sends `sig` to daemon i and waits for it to exit; the exit status or
  // nullopt if it still runs after `timeout` (then it is killed).
  std::optional<int> stop(size_t i, int sig = SIGTERM, millis timeout = 5s) {
    auto& n = node(i);
    n.proc->signal(sig);
    auto st = n.proc->wait_for(timeout);
    if (!st)
      n.proc->kill();
    return st;
  }

  // `status --json` of daemon i, or null when it does not answer (for polls:
  // no assertion).
  nlohmann::json try_status(size_t i, millis timeout = 10s) {
    auto r = cli(i, {"--json", "status"}, timeout);
    if (r.exit_code != 0)
      return nullptr;
    auto doc = nlohmann::json::parse(r.out, nullptr, false);
    return doc.is_discarded() ? nlohmann::json() : doc;
  }

  // The download named `name` in daemon i's status (the newest one of that
  // name), or null.
  nlohmann::json download_status(size_t i, const std::string& name, millis timeout = 10s) {
    auto doc = try_status(i, timeout);
    nlohmann::json found;
    if (doc.is_object() && doc.contains("downloads") && doc["downloads"].is_array())
      for (auto& d : doc["downloads"])
        if (d.is_object() && d.value("name", "") == name)
          found = d;
    return found;
  }

  // Polls daemon i until the download `name` satisfies `pred`; the last
  // download document seen (null if none), `ok` tells whether pred held.
  nlohmann::json wait_download(size_t i, const std::string& name,
                               const std::function<bool(const nlohmann::json&)>& pred,
                               millis timeout, bool& ok, millis interval = 100ms) {
    nlohmann::json last;
    ok = wait_until(
      [&] {
        last = download_status(i, name);
        return last.is_object() && pred(last);
      },
      timeout, interval);
    return last;
  }

  // Bytes a download document says came from each seeder in this daemon run.
  static uint64_t peer_bytes_sum(const nlohmann::json& d) {
    uint64_t sum = 0;
    if (d.is_object() && d.contains("peers") && d["peers"].is_array())
      for (auto& p : d["peers"])
        sum += p.value("bytes", uint64_t{0});
    return sum;
  }

  // The entry of d["peers"] whose addr is `addr`, or null.
  static nlohmann::json peer_entry(const nlohmann::json& d, const std::string& addr) {
    if (d.is_object() && d.contains("peers") && d["peers"].is_array())
      for (auto& p : d["peers"])
        if (p.value("addr", "") == addr)
          return p;
    return nullptr;
  }

  // p2p-cli with --state-dir of daemon i (which finds control.addr there).
  run_result cli(size_t i, std::vector<std::string> args, millis timeout = 60s,
                 const std::string& cwd = {}) {
    args.insert(args.begin(), {"--state-dir", node(i).state_dir});
    return cli_raw(std::move(args), timeout, cwd);
  }

  // p2p-cli with exactly these args (and the test environment).
  run_result cli_raw(std::vector<std::string> args, millis timeout = 60s,
                     const std::string& cwd = {}) {
    return run(cli_options(std::move(args), cwd), timeout, root_ + "/scratch");
  }

  // p2p-cli on daemon i left running in the background; its output goes to
  // <root>/<label>.out and .err; with `stderr_tty` its stderr is a terminal.
  std::unique_ptr<process> spawn_cli(size_t i, std::vector<std::string> args,
                                     const std::string& label, bool stderr_tty = false) {
    args.insert(args.begin(), {"--state-dir", node(i).state_dir});
    auto o = cli_options(std::move(args), {});
    o.stdout_path = root_ + "/" + label + ".out";
    o.stderr_path = root_ + "/" + label + ".err";
    o.stderr_tty = stderr_tty;
    return std::make_unique<process>(o);
  }

  // `p2p-cli ... --json` on daemon i; REQUIREs exit 0 and one JSON document.
  nlohmann::json cli_json(size_t i, std::vector<std::string> args, millis timeout = 60s) {
    args.insert(args.begin(), "--json");
    auto r = cli(i, args, timeout);
    INFO("p2p-cli " << describe(args) << " on daemon " << i << "\nexit " << r.exit_code
                    << "\nstdout: " << r.out << "\nstderr: " << r.err);
    REQUIRE(r.exit_code == 0);
    auto doc = nlohmann::json::parse(r.out, nullptr, false);
    REQUIRE_FALSE(doc.is_discarded());
    return doc;
  }

  // Shares `path` on daemon i; REQUIREs success and returns the content id.
  std::string share_id(size_t i, const std::string& path) {
    auto doc = cli_json(i, {"share", path}, 120s);
    auto name = std::filesystem::path(path).filename().string();
    auto s = find_by_name(doc, "shares", name);
    INFO("share --json on daemon " << i << ": " << doc.dump());
    REQUIRE(s.is_object());
    return s.value("id", "");
  }

  // Polls daemon i (`scan`, then `ls --json`) until `name` shows with at
  // least `seeders` seeders. Returns the last `ls` document, or null on timeout.
  nlohmann::json wait_for_file(size_t i, const std::string& name, size_t seeders,
                               millis timeout = 30s) {
    nlohmann::json last;
    bool seen = wait_until(
      [&] {
        cli(i, {"scan"}, 30s);
        auto r = cli(i, {"--json", "ls"}, 30s);
        last = nlohmann::json::parse(r.out, nullptr, false);
        return r.exit_code == 0 && !find_by_name(last, "files", name).is_null()
               && find_by_name(last, "files", name).value("seeders", nlohmann::json::array())
                      .size()
                    >= seeders;
      },
      timeout, 200ms);
    INFO("last ls --json on daemon " << i << ": " << last.dump());
    CHECK(seen);
    return seen ? last : nlohmann::json();
  }

  // The element of doc[list] whose "name" is `name`; null when none.
  static nlohmann::json find_by_name(const nlohmann::json& doc, const std::string& list,
                                     const std::string& name) {
    if (!doc.is_object() || !doc.contains(list) || !doc[list].is_array())
      return nullptr;
    for (auto& e : doc[list])
      if (e.is_object() && e.value("name", "") == name)
        return e;
    return nullptr;
  }

  // Every daemon's log tail, for failure reports.
  std::string dump_logs(size_t lines = 200) const {
    std::string out;
    for (auto& n : nodes_)
      out += "----- daemon " + std::to_string(n->index) + " (control " + n->control_addr()
             + ", peer " + n->peer_addr() + ") log, last " + std::to_string(lines)
             + " lines -----\n" + tail_lines(slurp(n->log_path), lines);
    return out;
  }

  static std::string describe(const std::vector<std::string>& args) {
    std::string s;
    for (auto& a : args)
      s += (s.empty() ? "" : " ") + a;
    return s;
  }

private:
  spawn_options cli_options(std::vector<std::string> args, const std::string& cwd) const {
    spawn_options o;
    o.exe = cli_exe();
    o.args = std::move(args);
    o.env = base_env();
    o.unset_env = p2p_env_names();
    o.cwd = cwd;
    return o;
  }

  std::map<std::string, std::string> base_env() const {
    return {{"HOME", root_ + "/home"}, {"XDG_STATE_HOME", root_ + "/home/.state"}};
  }

  static void write_log_marker(const daemon_node& n, const std::string& text) {
    std::ofstream(n.log_path, std::ios::app) << text;
  }

  std::string root_;
  std::vector<std::unique_ptr<daemon_node>> nodes_;
};

} // namespace p2p::test
