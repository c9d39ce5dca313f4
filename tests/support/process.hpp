#pragma once
// Child processes for system tests: spawn with args, env and cwd, stdout and
// stderr captured to files, wait with a timeout, signals; a child still
// running when its `process` is destroyed is killed.
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace p2p::test {

using namespace std::chrono_literals;
using millis = std::chrono::milliseconds;

struct spawn_options {
  std::string exe;                          // path of the program
  std::vector<std::string> args;            // without argv[0]
  std::map<std::string, std::string> env;   // set (overrides the inherited value)
  std::vector<std::string> unset_env;       // removed from the inherited environment
  std::string cwd;                          // empty: inherit
  std::string stdout_path;                  // empty: /dev/null
  std::string stderr_path;                  // empty: /dev/null
  bool stderr_tty = false; // stderr is a pseudo-terminal, copied into stderr_path
};

class process {
public:
  // Spawns the program; throws std::runtime_error when fork/exec fails
  // (an exec failure shows as exit code 127).
  explicit process(spawn_options opts);
  ~process();
  process(const process&) = delete;
  process& operator=(const process&) = delete;

  pid_t pid() const {
    return pid_;
  }
  // True while the child has not exited (reaps it when it has).
  bool running();
  // Waits up to `timeout`; the exit status (exit code, or 128 + signal) or
  // nullopt if the child still runs.
  std::optional<int> wait_for(millis timeout);
  // Sends a signal (no-op after exit).
  void signal(int sig);
  // SIGKILL and reap; returns the status.
  int kill();
  // The exit status once known.
  std::optional<int> status() const {
    return status_;
  }
  // Whole captured output so far ("" when not captured).
  std::string stdout_text() const;
  std::string stderr_text() const;
  const spawn_options& options() const {
    return opts_;
  }

private:
  bool reap(bool block);
  // Copies what the child wrote to its terminal into stderr_path.
  void drain_pty() const;
  spawn_options opts_;
  int pty_master_ = -1;
  pid_t pid_ = -1;
  std::optional<int> status_;
};

struct run_result {
  int exit_code = -1; // 128 + signal when killed; -1 when it timed out
  bool timed_out = false;
  std::string out;
  std::string err;
};

// Runs a program to its end (killed after `timeout`), output captured in
// temp files under `scratch_dir` (removed afterwards).
run_result run(spawn_options opts, millis timeout, const std::string& scratch_dir);

// Polls `pred` every `interval` until it holds or `timeout` passes.
bool wait_until(const std::function<bool()>& pred, millis timeout, millis interval = 50ms);

// File helpers for tests.
std::string slurp(const std::string& path);
void write_file(const std::string& path, const std::string& data);
// Creates a fresh directory under $TMPDIR (or /tmp) named prefix-XXXXXX.
std::string make_temp_dir(const std::string& prefix);
// rm -rf.
void remove_tree(const std::string& path);
// A TCP port free right now on every address (bound, then released): picked
// at random below the kernel's ephemeral range when there is room, so no
// outgoing connection's local port takes it before a daemon binds it; else
// one the kernel picks. Ports handed out by one process are never repeated.
uint16_t free_port();
// The last `max_lines` lines of `text`.
std::string tail_lines(const std::string& text, size_t max_lines);
// The number after "<key>:" in /proc/<pid>/<file> ("rchar" in "io", "VmHWM"
// in "status", whose unit, kB, is left to the caller); 0 when unreadable.
uint64_t proc_value(pid_t pid, const std::string& file, const std::string& key);

} // namespace p2p::test
