#pragma once
// LAN tests: a real little LAN made of Linux network namespaces.
//
// `lan` builds, for one test case:
// - a hub namespace `p2plan<pid>-hub` holding a bridge `p2pbr<pid%10000>`
//   (multicast snooping off). The bridge lives in its own namespace so the
//   host's firewall (br_netfilter, Docker's FORWARD DROP) never sees our
//   frames, and nothing of ours shows in the host's namespace at all;
// - N host namespaces `p2plan<pid>-<i>`, each with `lo` up and a veth
//   `lan<i>` (its peer `h<i>` enslaved to the bridge) holding
//   10.<a>.<b>.<i+1>/24 (a, b derived from the pid) and a route
//   224.0.0.0/4 dev lan<i>;
// - one p2p-daemon per namespace (`ip netns exec NS p2p-daemon ...
//   --interface lan<i>`), each with its own state dir and log; its control
//   and peer ports keep their defaults (127.0.0.1:7646, 7647), which every
//   namespace has to itself.
// The destructor (and a failed constructor) stops the daemons and deletes
// every namespace it made (with them the bridge and the veths). Namespaces
// left behind by a test run that was killed are removed on the next run.
//
// Traffic goes only to addresses inside these namespaces and to the
// multicast group.
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/binaries.hpp"
#include "tests/support/process.hpp"
#include "tests/support/test_failed.hpp"

namespace p2p::test {


// Why a LAN cannot be built here (not root, no `ip`, `ip netns add` fails),
// or nullopt when it can. Probes once by making and deleting a namespace.
std::optional<std::string> lan_unavailable_reason();

// Removes namespaces of earlier runs whose process is gone.
void remove_stale_namespaces();

// The `ip` binary (absolute path), or "" if there is none.
const std::string& ip_exe();

struct lan_host {
  size_t index = 0;
  std::string ns;         // namespace name
  std::string ifname;     // veth inside the namespace
  std::string addr;       // its IPv4 address
  std::string dir;        // the host's directory (state dir, files)
  std::string state_dir;
  std::string log_path;
  std::unique_ptr<process> daemon;
  std::vector<std::string> daemon_args; // of the last start (without --state-dir etc.)
};

class lan {
public:
  // Makes the bridge and `n` namespaces. Throws std::runtime_error (after
  // removing what it made) when a step fails.
  explicit lan(size_t n);
  ~lan();
  lan(const lan&) = delete;
  lan& operator=(const lan&) = delete;

  size_t size() const {
    return hosts_.size();
  }
  lan_host& host(size_t i) {
    return *hosts_.at(i);
  }
  const std::string& root() const {
    return root_;
  }
  // "10.a.b.<i+1>"
  std::string addr(size_t i) const {
    return hosts_.at(i)->addr;
  }
  // "10.a.b.<i+1>:7647"
  std::string peer_endpoint(size_t i) const {
    return addr(i) + ":7647";
  }

  // Spawns p2p-daemon in namespace i with --state-dir, --interface and
  // --log-level debug, plus `extra`. Does not wait.
  void spawn_daemon(size_t i, const std::vector<std::string>& extra = {});
  // Waits until daemon i answers `status` (REQUIREs it).
  void wait_ready(size_t i, std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // spawn_daemon + wait_ready.
  void start_daemon(size_t i, const std::vector<std::string>& extra = {});
  // Sends `sig` and waits; the exit status, or nullopt when it had to be killed.
  std::optional<int> stop_daemon(size_t i, int sig, std::chrono::milliseconds timeout
                                                    = std::chrono::seconds(5));

  // A program run inside namespace i (for `process` / `run`).
  spawn_options in_ns(size_t i, const std::string& exe,
                      const std::vector<std::string>& args) const;
  // p2p-cli --state-dir <state of i> args..., inside namespace i.
  spawn_options cli_options(size_t i, const std::vector<std::string>& args) const;
  run_result cli(size_t i, const std::vector<std::string>& args,
                 std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // `p2p-cli --json args...` on host i; REQUIREs exit 0 and a JSON document.
  nlohmann::json cli_json(size_t i, const std::vector<std::string>& args,
                          std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // The same command on several hosts at once; results in the order of `hosts`.
  std::vector<run_result> cli_many(const std::vector<size_t>& hosts,
                                   const std::vector<std::string>& args,
                                   std::chrono::milliseconds timeout);

  // Daemon i's log, whole or from a byte offset.
  std::string log(size_t i, size_t from = 0) const;
  size_t log_size(size_t i) const;
  // Every daemon's log tail, for failure reports.
  std::string dump_logs(size_t lines = 80) const;

  // Names of the files in an `ls --json` document.
  static std::vector<std::string> file_names(const nlohmann::json& ls);
  // The entry of `ls --json` named `name` (null when absent).
  static nlohmann::json find_file(const nlohmann::json& ls, const std::string& name);

private:
  void build(size_t n);
  void teardown() noexcept;
  std::string ip_batch(const std::vector<std::string>& commands, const std::string& ns = {});

  std::string root_;
  std::string tag_;    // "p2plan<pid>"
  std::string hub_ns_;
  std::string bridge_;
  std::vector<std::string> made_ns_; // namespaces made so far, for teardown
  std::vector<std::unique_ptr<lan_host>> hosts_;
};

} // namespace p2p::test
