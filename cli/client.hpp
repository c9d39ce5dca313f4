#pragma once
// The CLI's side of the control channel: where the daemon is, the cookie, and
// one request per connection (one JSON line each way). Plain POSIX, no CAF.
#include <functional>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace p2p::cli {

// Process exit codes (DESIGN.md, `p2p-cli`).
namespace exit_code {
constexpr int ok = 0;
constexpr int failed = 1;      // the daemon said no (ok:false), or a local step failed
constexpr int usage = 2;       // bad command line
constexpr int unreachable = 3; // no daemon, no cookie, or the token was refused
constexpr int interrupted = 130; // Ctrl-C (128 + SIGINT, as shells report it)
} // namespace exit_code

// From now on SIGINT (Ctrl-C) does not kill the CLI: it sets a flag, and a
// control_client::call() waiting for the daemon throws failure{exit 130,
// "interrupted"} so the command can say what happens next.
void catch_interrupt();
// True once SIGINT arrived after catch_interrupt().
bool interrupted();
// Forgets a SIGINT that arrived and gives Ctrl-C its default effect again
// (a second one ends the CLI), so the command can still talk to the daemon.
void reset_interrupt();

// Options every subcommand sees (given before or after the subcommand).
struct global_options {
  std::string control;   // --control / P2P_CONTROL; empty: control.addr or default
  std::string state_dir; // --state-dir / P2P_STATE_DIR; empty: XDG default
  bool json = false;     // --json
};

// A command that cannot finish: what to print and how to exit.
struct failure : std::runtime_error {
  failure(int exit, std::string code, const std::string& message)
    : std::runtime_error(message), exit(exit), code(std::move(code)) {
  }
  int exit;
  std::string code; // daemon error code, or a CLI one ("unreachable", "usage", ...)
};

// --state-dir > P2P_STATE_DIR (via CLI11) > $XDG_STATE_HOME/p2p > $HOME/.local/state/p2p.
std::string resolve_state_dir(const global_options& g);

// --control > P2P_CONTROL (via CLI11) > <state>/control.addr > 127.0.0.1:7646.
// A wildcard host in control.addr (0.0.0.0, ::) is dialled on loopback.
std::string resolve_control_addr(const global_options& g, const std::string& state_dir);

// Makes `path` absolute against the current directory and normalises it
// ("a/../b/" -> "/cwd/b").
std::string absolute_path(const std::string& path);

// Progress events of a long request ({"id":..,"event":"progress",...}).
using event_handler = std::function<void(const nlohmann::json& event)>;

// One connection to the daemon. Connecting resolves the address, dials it
// and reads the cookie; each failure throws `failure` with exit code 3.
class control_client {
public:
  explicit control_client(const global_options& g);
  ~control_client();
  control_client(const control_client&) = delete;
  control_client& operator=(const control_client&) = delete;

  // Sends one request and returns the reply's "result". `idle_timeout_ms` is
  // the longest silence tolerated from the daemon (progress events restart
  // it). Throws `failure`: exit 1 for ok:false (3 for "unauthorized"), exit 3
  // when the daemon hangs up or stays silent, 130 on Ctrl-C (catch_interrupt).
  nlohmann::json call(const std::string& cmd, nlohmann::json args, int idle_timeout_ms,
                      const event_handler& on_event = {});

  const std::string& address() const {
    return address_;
  }
  // The control token read from the cookie file (`p2p-cli web` puts it in the URL).
  const std::string& token() const {
    return token_;
  }

private:
  // Next line from the daemon into `line`; false on EOF/error (`why` set).
  bool read_line(std::string& line, int timeout_ms, std::string& why);

  std::string address_;
  std::string cookie_path_;
  std::string token_;
  std::string buffer_;
  int fd_ = -1;
  uint64_t next_id_ = 1;
};

// Runs a command body: maps a thrown `failure` (or any other exception) to
// its exit code after printing it (stderr line; JSON error on stdout with --json).
int run_command(const global_options& g, const std::function<void()>& body);

// Default silences tolerated, in milliseconds.
constexpr int request_timeout_ms = 60'000;  // scan waits ~1 s; share hashes first
constexpr int share_timeout_ms = 600'000;   // hashing a large directory takes a while
constexpr int progress_timeout_ms = 30'000; // download -w gets ~4 events a second
// `share` on a terminal draws the hashing progress once this much is left.
constexpr uint64_t share_progress_min_bytes = 64ull << 20;

} // namespace p2p::cli
