#include "cli/client.hpp"

#include <cerrno>
#include <csignal>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/output.hpp"
#include "config/defaults.hpp"
#include "protocol/control.hpp"
#include "storage/fs.hpp"
#include "storage/names.hpp"
#include "util/net.hpp"

namespace p2p::cli {

namespace {

constexpr int connect_timeout_ms = 5000;
constexpr size_t max_reply_line = 256 * 1024 * 1024; // a status of many shares

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::string(v) : std::string();
}

std::string trim(const std::string& s) {
  const char* ws = " \t\r\n";
  auto b = s.find_first_not_of(ws);
  if (b == std::string::npos)
    return {};
  auto e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

// The daemon may listen on a wildcard address; we dial it on loopback.
std::string dialable(const std::string& addr) {
  auto hp = parse_host_port(addr);
  if (!hp)
    return addr;
  if (hp->host == "0.0.0.0" || hp->host.empty())
    return format_host_port("127.0.0.1", hp->port);
  if (hp->host == "::")
    return format_host_port("::1", hp->port);
  return addr;
}

void send_all(int fd, const std::string& data, const std::string& where) {
  size_t done = 0;
  while (done < data.size()) {
    auto n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      throw failure(exit_code::unreachable, "unreachable",
                    "cannot send to daemon at " + where + ": " + std::strerror(errno));
    done += static_cast<size_t>(n);
  }
}

volatile std::sig_atomic_t got_sigint = 0;

void on_sigint(int) {
  got_sigint = 1;
}

int remaining_ms(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
    deadline - std::chrono::steady_clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

} // namespace

void catch_interrupt() {
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0; // no SA_RESTART: poll() returns EINTR
  ::sigaction(SIGINT, &sa, nullptr);
}

bool interrupted() {
  return got_sigint != 0;
}

void reset_interrupt() {
  std::signal(SIGINT, SIG_DFL);
  got_sigint = 0;
}

std::string resolve_state_dir(const global_options& g) {
  if (!g.state_dir.empty())
    return absolute_path(g.state_dir);
  auto xdg = env_or_empty("XDG_STATE_HOME");
  if (!xdg.empty())
    return join_path(xdg, "p2p");
  auto home = env_or_empty("HOME");
  if (home.empty())
    home = ".";
  return join_path(home, ".local/state/p2p");
}

std::string resolve_control_addr(const global_options& g, const std::string& state_dir) {
  if (!g.control.empty())
    return g.control;
  if (auto text = read_file(join_path(state_dir, "control.addr"))) {
    auto addr = trim(*text);
    if (!addr.empty())
      return dialable(addr);
  }
  return format_host_port(defaults::control_host, defaults::control_port);
}

std::string absolute_path(const std::string& path) {
  std::error_code ec;
  auto abs = std::filesystem::absolute(path, ec);
  if (ec)
    abs = std::filesystem::path(path);
  auto norm = abs.lexically_normal().string();
  while (norm.size() > 1 && norm.back() == '/')
    norm.pop_back();
  return norm;
}

control_client::control_client(const global_options& g) {
  auto state_dir = resolve_state_dir(g);
  address_ = resolve_control_addr(g, state_dir);
  auto hp = parse_host_port(address_);
  if (!hp)
    throw failure(exit_code::usage, "usage",
                  "bad control address '" + address_ + "' (want HOST:PORT)");
  cookie_path_ = join_path(state_dir, "control.cookie");
  auto cookie = read_file(cookie_path_);
  // A daemon writes control.addr and the cookie at start: with neither, and
  // no --control, no daemon has ever run with this state dir.
  bool never_ran = g.control.empty() && !cookie
                   && !read_file(join_path(state_dir, "control.addr"));
  std::string err;
  fd_ = connect_with_timeout(hp->host, hp->port, connect_timeout_ms, err);
  if (fd_ < 0 && never_ran)
    throw failure(exit_code::unreachable, "no_daemon",
                  "no daemon: start p2p-daemon (nothing answers on " + address_
                    + ", and no daemon has run with the state dir " + state_dir
                    + "; one started with another --state-dir needs it here too)");
  if (fd_ < 0) {
    // err reads "cannot connect to HOST:PORT: reason"; keep only the reason.
    auto reason = err;
    auto prefix = "cannot connect to " + format_host_port(hp->host, hp->port) + ": ";
    if (reason.rfind(prefix, 0) == 0)
      reason = reason.substr(prefix.size());
    throw failure(exit_code::unreachable, "unreachable",
                  "cannot reach daemon at " + address_ + ": " + reason
                    + " (is p2p-daemon running?)");
  }
  if (!cookie)
    throw failure(exit_code::unreachable, "no_cookie",
                  "cannot read the control cookie " + cookie_path_
                    + " (wrong --state-dir, or no permission?)");
  token_ = trim(*cookie);
}

control_client::~control_client() {
  if (fd_ >= 0)
    ::close(fd_);
}

bool control_client::read_line(std::string& line, int timeout_ms, std::string& why) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    auto nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return true;
    }
    if (buffer_.size() > max_reply_line) {
      why = "reply longer than " + std::to_string(max_reply_line) + " bytes";
      return false;
    }
    pollfd pfd{};
    pfd.fd = fd_;
    pfd.events = POLLIN;
    int rc = interrupted() ? -1 : ::poll(&pfd, 1, remaining_ms(deadline));
    if (interrupted())
      throw failure(exit_code::interrupted, "interrupted", "interrupted");
    if (rc < 0 && errno == EINTR)
      continue;
    if (rc < 0) {
      why = std::string("poll: ") + std::strerror(errno);
      return false;
    }
    if (rc == 0) {
      why = "no reply within " + std::to_string(timeout_ms / 1000) + " s";
      return false;
    }
    char buf[64 * 1024];
    auto n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      why = std::strerror(errno);
      return false;
    }
    if (n == 0) {
      why = "connection closed before the reply (did p2p-daemon stop?)";
      return false;
    }
    buffer_.append(buf, static_cast<size_t>(n));
  }
}

nlohmann::json control_client::call(const std::string& cmd, nlohmann::json args,
                                    int idle_timeout_ms, const event_handler& on_event) {
  auto id = next_id_++;
  send_all(fd_, control::make_request_line(id, token_, cmd, std::move(args)), address_);
  for (;;) {
    std::string line;
    std::string why;
    if (!read_line(line, idle_timeout_ms, why))
      throw failure(exit_code::unreachable, "unreachable",
                    "daemon at " + address_ + ": " + why);
    auto msg = nlohmann::json::parse(line, nullptr, false);
    if (msg.is_discarded() || !msg.is_object())
      throw failure(exit_code::failed, "bad_reply",
                    "daemon at " + address_ + " sent a malformed reply");
    if (msg.contains("event")) {
      if (on_event)
        on_event(msg);
      continue;
    }
    // One request per connection: a reply with another (non-null) id is stray.
    if (msg.contains("id") && !msg["id"].is_null() && msg["id"] != id)
      continue;
    if (msg.value("ok", false))
      return msg.contains("result") ? msg["result"] : nlohmann::json::object();
    std::string code = "failed";
    std::string message = "request failed";
    if (auto e = msg.find("error"); e != msg.end() && e->is_object()) {
      if (auto c = e->find("code"); c != e->end() && c->is_string())
        code = c->get<std::string>();
      if (auto m = e->find("message"); m != e->end() && m->is_string()) {
        // JSON text of name_to_json; failures carry bytes (print_error escapes).
        auto bytes = name_from_json(m->get_ref<const std::string&>());
        message = bytes ? *bytes : m->get<std::string>();
      }
    }
    if (code == control::errc::unauthorized)
      throw failure(exit_code::unreachable, code,
                    "daemon at " + address_ + " refused the token from " + cookie_path_
                      + ": " + message);
    throw failure(exit_code::failed, code, message);
  }
}

int run_command(const global_options& g, const std::function<void()>& body) {
  try {
    body();
    return exit_code::ok;
  } catch (const failure& f) {
    print_error(g.json, f.code, f.what());
    return f.exit;
  } catch (const std::exception& e) {
    print_error(g.json, "internal", e.what());
    return exit_code::failed;
  }
}

} // namespace p2p::cli
