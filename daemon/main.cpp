// p2p-daemon: shares files on the LAN and downloads them from every seeder.
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>
#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <nlohmann/json.hpp>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include "actors/crash_hook.hpp"
#include "actors/system.hpp"
#include "config/config.hpp"
#include "http/web_server.hpp"
#include "p2p/version.hpp"
#include "storage/fs.hpp"
#include "util/hex.hpp"
#include "util/net.hpp"

namespace {

// Registers every flag; each one the user gives lands in `flags` under its
// config key, so flags win over env and file in resolve_config.
void add_flags(CLI::App& app, nlohmann::json& flags, std::optional<std::string>& file) {
  auto str = [&](const char* flag, const char* key, const char* help) {
    app.add_option_function<std::string>(
      flag, [&flags, key](const std::string& v) { flags[key] = v; }, help);
  };
  auto num = [&](const char* flag, const char* key, const char* help) {
    app.add_option_function<uint64_t>(
      flag, [&flags, key](const uint64_t& v) { flags[key] = v; }, help);
  };
  app.add_option_function<std::string>(
    "--config", [&file](const std::string& v) { file = v; }, "JSON config file");
  str("--state-dir", "state_dir", "state directory (shares, resume records, cookie)");
  str("--control-addr", "control_addr", "control channel HOST:PORT (default 127.0.0.1:7646)");
  num("--peer-port", "peer_port", "TCP port for other daemons (default 7647, 0: any)");
  str("--advertise-addr", "advertise_addr", "address other daemons should dial");
  str("--interface", "interface", "interface NAME or IP for multicast");
  str("--multicast-group", "multicast_group", "multicast group (default 224.0.0.123)");
  num("--multicast-port", "multicast_port", "multicast port (default 7645)");
  app.add_option_function<std::vector<std::string>>(
    "--peer", [&flags](const std::vector<std::string>& v) { flags["peers"] = v; },
    "static peer HOST:PORT (repeatable)");
  num("--chunk-size", "chunk_size", "chunk size in bytes, power of two 4096..16777216");
  str("--log-level", "log_level", "trace|debug|info|warn|error (env P2P_LOG)");
  app.add_flag_callback("--no-multicast", [&flags] { flags["multicast"] = false; },
                        "no multicast discovery (use --peer)");
  num("--announce-interval-ms", "announce_interval_ms", "periodic announce interval");
  num("--peer-expiry-ms", "peer_expiry_ms", "silent peers expire after this");
  num("--stall-timeout-ms", "stall_timeout_ms", "a seeder silent this long is dropped");
  num("--retry-max-ms", "retry_max_ms",
      "cap of the reconnect backoff; an unreachable seeder that was dropped is "
      "tried again after this");
  num("--upload-rate-limit", "upload_rate_limit", "upload bytes/s, 0 = unlimited (testing)");
  num("--max-connections", "max_connections", "peer connections open at once (default 256)");
  num("--max-connections-per-addr", "max_connections_per_addr",
      "peer connections open at once from one IP address (default 32)");
  num("--hello-timeout-ms", "hello_timeout_ms",
      "a peer connection that sent no hello this long is closed (default 10000)");
  str("--network-key", "network_key",
      "private swarm: the key FILE (p2p-cli keygen FILE); only daemons with the same "
      "key find and serve each other");
  app.add_flag_callback("--encrypt", [&flags] { flags["encrypt"] = true; },
                        "TLS 1.3 on peer connections, keyed from --network-key");
  str("--http", "http_addr",
      "serve the read-only web page on HOST:PORT (PORT alone: 127.0.0.1:PORT); "
      "off by default; `p2p-cli web` prints its URL");
}

std::string make_cookie() {
  unsigned char buf[32];
  if (RAND_bytes(buf, sizeof(buf)) != 1)
    throw std::runtime_error("no randomness for the control cookie");
  return p2p::to_hex(buf, sizeof(buf));
}

// True when stderr is the journal stream systemd gave us: JOURNAL_STREAM
// holds "DEVICE:INODE" of that stream (systemd.exec(5)); a child that merely
// inherited the variable has another stderr and logs as on a terminal.
bool stderr_is_journal() {
  const char* js = std::getenv("JOURNAL_STREAM");
  struct stat st {};
  if (js == nullptr || ::fstat(STDERR_FILENO, &st) != 0)
    return false;
  return std::string(js)
         == std::to_string(static_cast<unsigned long long>(st.st_dev)) + ":"
              + std::to_string(static_cast<unsigned long long>(st.st_ino));
}

// "%*": the sd-daemon(3) priority prefix ("<6>" for info) that journald
// reads off the start of a stderr line.
class journal_priority_flag : public spdlog::custom_flag_formatter {
public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    // trace, debug, info, warn, err, critical (syslog 7, 7, 6, 4, 3, 2).
    static constexpr const char* prefix[] = {"<7>", "<7>", "<6>", "<4>", "<3>", "<2>"};
    auto i = static_cast<size_t>(msg.level);
    if (i < std::size(prefix))
      dest.append(prefix[i], prefix[i] + 3);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<journal_priority_flag>();
  }
};

// Logs to stderr: "2026-11-30T09:41:00.123 info message", coloured on a
// terminal; under systemd's journal "<6>info message" (journald stamps the
// time itself and takes the priority from the prefix).
void setup_logging(const std::string& level) {
  if (stderr_is_journal()) {
    auto logger = spdlog::stderr_logger_mt("p2p");
    auto fmt = std::make_unique<spdlog::pattern_formatter>();
    fmt->add_flag<journal_priority_flag>('*').set_pattern("%*%l %v");
    logger->set_formatter(std::move(fmt));
    spdlog::set_default_logger(logger);
  } else {
    auto logger = spdlog::stderr_color_mt("p2p");
    spdlog::set_default_logger(logger);
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  }
  spdlog::set_level(spdlog::level::from_str(level));
}

// Writes the cookie (0600) and the control address where p2p-cli finds them.
std::string write_control_files(const p2p::config& cfg, const std::string& cookie,
                                uint16_t control_port) {
  auto err = p2p::write_file_atomic(p2p::join_path(cfg.state_dir, "control.cookie"),
                                    cookie + "\n", 0600);
  if (!err.empty())
    return err;
  return p2p::write_file_atomic(
    p2p::join_path(cfg.state_dir, "control.addr"),
    p2p::format_host_port(cfg.control_host, control_port) + "\n", 0644);
}

// Ends the process with `code` if it is still running after `delay`: a
// daemon that failed must not hang in shutdown (actor_system's destructor
// waits for every actor).
void exit_anyway_after(std::chrono::milliseconds delay, int code) {
  std::thread([delay, code] {
    std::this_thread::sleep_for(delay);
    std::fflush(nullptr);
    std::_Exit(code);
  }).detach();
}

// Waits for a stop signal or for a core actor to stop. Returns 0 after a
// signal; logs which actor stopped and returns 1 when one did (none stops on
// its own: an exception, or a closed listening socket, ends it). `signals`
// is blocked in every thread. With P2P_TEST_CRASH set (tests only), SIGUSR1
// makes the named actor throw (actors/crash_hook.hpp).
int wait_for_stop(caf::actor_system& sys, const p2p::daemon_handles& h, sigset_t signals) {
  caf::scoped_actor self{sys};
  auto actors = p2p::core_actors(h);
  for (auto& a : actors)
    self->monitor(a.second);
  const char* crash_target = std::getenv(p2p::crash_hook_env);
  auto me = caf::actor_cast<caf::actor>(self);
  std::thread waiter([&] {
    for (;;) {
      int sig = 0;
      sigwait(&signals, &sig);
      if (sig != SIGUSR1) {
        caf::anon_send(me, p2p::stop_atom::value, sig);
        return;
      }
      for (auto& [name, hdl] : actors)
        if (crash_target != nullptr && name == crash_target)
          caf::anon_send(hdl, p2p::crash_atom::value);
    }
  });
  int code = 0;
  self->receive(
    [&](p2p::stop_atom, int sig) { spdlog::info("signal {}: stopping", sig); },
    [&](caf::down_msg& dm) {
      std::string name = "an actor";
      for (auto& a : actors)
        if (a.second.address() == dm.source)
          name = a.first;
      spdlog::error("{} stopped ({}); exiting", name, caf::to_string(dm.reason));
      code = 1;
      pthread_kill(waiter.native_handle(), SIGTERM); // ends its sigwait
    });
  waiter.join();
  return code;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"p2p-daemon: share files on the LAN, download from every seeder"};
  nlohmann::json flags = nlohmann::json::object();
  std::optional<std::string> config_file;
  add_flags(app, flags, config_file);
  app.set_version_flag("--version", p2p::version_line("p2p-daemon"));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  auto loaded = p2p::load_config(config_file, p2p::process_env(), flags);
  if (!loaded.cfg) {
    std::cerr << "p2p-daemon: " << loaded.error << '\n';
    return 2;
  }
  setup_logging(loaded.cfg->log_level);
  if (!loaded.cfg->network_key_file.empty()) {
    std::string err;
    auto key = p2p::load_network_key(loaded.cfg->network_key_file, err);
    if (!key) {
      spdlog::error("cannot start: {}", err);
      return 1;
    }
    loaded.cfg->network =
      std::make_shared<const p2p::network_secrets>(p2p::derive_secrets(*key));
    OPENSSL_cleanse(key->data(), key->size()); // only the derived keys stay
  }
  const p2p::config& cfg = *loaded.cfg;
  if (auto err = p2p::make_dirs(cfg.state_dir); !err.empty()) {
    spdlog::error("cannot create state dir {}: {}", cfg.state_dir, err);
    return 1;
  }
  // Block the stop signals in every thread; wait_for_stop waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  if (std::getenv(p2p::crash_hook_env) != nullptr)
    sigaddset(&stop_signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  // The web page's port first: a taken one fails the start before any actor
  // runs or anything is announced.
  std::unique_ptr<p2p::web_server> web;
  auto http_addr_path = p2p::join_path(cfg.state_dir, "http.addr");
  if (!cfg.http_host.empty()) {
    std::string err;
    web = p2p::web_server::bind(cfg.http_host, cfg.http_port, err);
    if (!web) {
      spdlog::error("cannot start: {}", err);
      return 1;
    }
  } else {
    std::remove(http_addr_path.c_str()); // a page of an earlier run is gone
  }

  caf::actor_system_config caf_cfg;
  p2p::configure_actor_system(caf_cfg);
  caf::actor_system sys{caf_cfg};
  auto cookie = make_cookie();
  auto started = p2p::start_daemon(sys, cfg, cookie);
  if (!started) {
    auto [code, msg] = p2p::describe(started.error());
    spdlog::error("cannot start: {}", msg.empty() ? code : msg);
    exit_anyway_after(std::chrono::seconds(2), 1);
    return 1;
  }
  auto& h = *started;
  if (auto err = write_control_files(cfg, cookie, h.control_port); !err.empty()) {
    spdlog::error("cannot write control files in {}: {}", cfg.state_dir, err);
    p2p::stop_daemon(sys, h);
    exit_anyway_after(std::chrono::seconds(2), 1);
    return 1;
  }
  if (web) {
    web->start(sys, h.control, h.catalog, cookie);
    auto err = p2p::write_file_atomic(
      http_addr_path, p2p::format_host_port(cfg.http_host, web->port()) + "\n", 0644);
    if (!err.empty()) {
      spdlog::error("cannot write {}: {}", http_addr_path, err);
      web->stop();
      p2p::stop_daemon(sys, h);
      exit_anyway_after(std::chrono::seconds(2), 1);
      return 1;
    }
  }
  spdlog::info("p2p-daemon ready: control {}, peers {}:{}, multicast {}, state {}{}",
               p2p::format_host_port(cfg.control_host, h.control_port),
               h.self.advertise_addr, h.self.peer_port,
               cfg.multicast ? p2p::format_host_port(cfg.multicast_group,
                                                     cfg.multicast_port)
                             : std::string{"off"},
               cfg.state_dir,
               !cfg.network ? "" : cfg.encrypt ? ", private swarm, encrypted"
                                               : ", private swarm");
  int code = wait_for_stop(sys, h, stop_signals);
  if (web)
    web->stop(); // no request may ask an actor that stop_daemon ends
  p2p::stop_daemon(sys, h);
  if (code != 0)
    exit_anyway_after(std::chrono::seconds(2), code);
  return code;
}
