#include "tests/support/process.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace p2p::test {

namespace {

int decode_status(int st) {
  if (WIFEXITED(st))
    return WEXITSTATUS(st);
  if (WIFSIGNALED(st))
    return 128 + WTERMSIG(st);
  return -1;
}

// The environment for the child, built before fork (no allocation after it).
std::vector<std::string> child_environment(const spawn_options& o) {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos)
      env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (auto& name : o.unset_env)
    env.erase(name);
  for (auto& [k, v] : o.env)
    env[k] = v;
  std::vector<std::string> out;
  for (auto& [k, v] : env)
    out.push_back(k + "=" + v);
  return out;
}

[[noreturn]] void child_fail(const char* what) {
  // Only async-signal-safe calls between fork and exec.
  ssize_t ignored = ::write(STDERR_FILENO, what, std::strlen(what));
  (void) ignored;
  _exit(127);
}

} // namespace

process::process(spawn_options opts) : opts_(std::move(opts)) {
  std::vector<std::string> argv_s;
  argv_s.push_back(opts_.exe);
  argv_s.insert(argv_s.end(), opts_.args.begin(), opts_.args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  auto env_s = child_environment(opts_);
  std::vector<char*> envp;
  for (auto& e : env_s)
    envp.push_back(e.data());
  envp.push_back(nullptr);
  auto out_path = opts_.stdout_path.empty() ? std::string("/dev/null") : opts_.stdout_path;
  auto err_path = opts_.stderr_path.empty() ? std::string("/dev/null") : opts_.stderr_path;

  int pty_slave = -1;
  if (opts_.stderr_tty) {
    winsize ws{};
    ws.ws_row = 24;
    ws.ws_col = 120;
    if (::openpty(&pty_master_, &pty_slave, nullptr, nullptr, &ws) != 0)
      throw std::runtime_error(std::string("openpty: ") + std::strerror(errno));
    ::fcntl(pty_master_, F_SETFD, FD_CLOEXEC);
    ::fcntl(pty_master_, F_SETFL, ::fcntl(pty_master_, F_GETFL) | O_NONBLOCK);
  }
  pid_ = ::fork();
  if (pid_ < 0)
    throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid_ == 0) {
    int in = ::open("/dev/null", O_RDONLY);
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int err = pty_slave >= 0 ? pty_slave
                             : ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in < 0 || out < 0 || err < 0)
      child_fail("spawn: cannot open stdio files\n");
    ::dup2(in, STDIN_FILENO);
    ::dup2(out, STDOUT_FILENO);
    ::dup2(err, STDERR_FILENO);
    if (!opts_.cwd.empty() && ::chdir(opts_.cwd.c_str()) != 0)
      child_fail("spawn: chdir failed\n");
    ::execve(argv[0], argv.data(), envp.data());
    child_fail("spawn: execve failed\n");
  }
  if (pty_slave >= 0)
    ::close(pty_slave);
}

process::~process() {
  if (!status_)
    kill();
  drain_pty();
  if (pty_master_ >= 0)
    ::close(pty_master_);
}

void process::drain_pty() const {
  if (pty_master_ < 0)
    return;
  std::ofstream out(opts_.stderr_path, std::ios::app | std::ios::binary);
  char buf[4096];
  for (;;) {
    auto n = ::read(pty_master_, buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return; // EAGAIN: nothing more now; EIO: the child closed its side
    out.write(buf, n);
  }
}

bool process::reap(bool block) {
  drain_pty(); // keep the terminal from filling up while we wait
  if (status_)
    return true;
  int st = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &st, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) {
    status_ = decode_status(st);
    return true;
  }
  if (r < 0) {
    status_ = -1; // not our child any more; nothing left to wait for
    return true;
  }
  return false;
}

bool process::running() {
  return !reap(false);
}

std::optional<int> process::wait_for(millis timeout) {
  wait_until([this] { return reap(false); }, timeout, 10ms);
  return status_;
}

void process::signal(int sig) {
  if (!status_ && !reap(false))
    ::kill(pid_, sig);
}

int process::kill() {
  if (!status_ && !reap(false)) {
    ::kill(pid_, SIGKILL);
    reap(true);
  }
  return *status_;
}

std::string process::stdout_text() const {
  return opts_.stdout_path.empty() ? std::string() : slurp(opts_.stdout_path);
}

std::string process::stderr_text() const {
  drain_pty();
  return opts_.stderr_path.empty() ? std::string() : slurp(opts_.stderr_path);
}

uint64_t proc_value(pid_t pid, const std::string& file, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/" + file);
  std::string line;
  while (std::getline(in, line))
    if (line.size() > key.size() && line.compare(0, key.size(), key) == 0
        && line[key.size()] == ':')
      return std::strtoull(line.c_str() + key.size() + 1, nullptr, 10);
  return 0;
}

run_result run(spawn_options opts, millis timeout, const std::string& scratch_dir) {
  static std::atomic<unsigned> counter{0};
  auto n = std::to_string(::getpid()) + "-" + std::to_string(counter++);
  opts.stdout_path = scratch_dir + "/run-" + n + ".out";
  opts.stderr_path = scratch_dir + "/run-" + n + ".err";
  run_result r;
  {
    process p(opts);
    auto st = p.wait_for(timeout);
    if (!st) {
      r.timed_out = true;
      p.kill();
    } else {
      r.exit_code = *st;
    }
    r.out = p.stdout_text();
    r.err = p.stderr_text();
  }
  std::remove(opts.stdout_path.c_str());
  std::remove(opts.stderr_path.c_str());
  return r;
}

bool wait_until(const std::function<bool()>& pred, millis timeout, millis interval) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred())
      return true;
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(interval);
  }
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (!out)
    throw std::runtime_error("cannot write " + path);
}

std::string make_temp_dir(const std::string& prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string templ = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/"
                      + prefix + "-XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr)
    throw std::runtime_error("mkdtemp " + templ + ": " + std::strerror(errno));
  return buf.data();
}

void remove_tree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

namespace {

// The kernel's ephemeral port range (/proc/sys/net/ipv4/ip_local_port_range);
// {32768, 60999} when unreadable (Linux's default).
std::pair<int, int> ephemeral_ports() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int lo = 0, hi = 0;
  if (in >> lo >> hi && lo > 0 && hi >= lo)
    return {lo, hi};
  return {32768, 60999};
}

// Binds `port` (0: any) on every address, without SO_REUSEADDR, and closes
// it again. The bound port, or 0 when it is taken.
uint16_t try_bind(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_ANY);
  sa.sin_port = htons(port);
  socklen_t len = sizeof(sa);
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0
            && ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) == 0;
  ::close(fd);
  return ok ? ntohs(sa.sin_port) : 0;
}

} // namespace

uint16_t free_port() {
  // Below the ephemeral range when there is room (10000 up to it): a port
  // from inside it, free when picked, could be taken by any outgoing
  // connection's local port before the daemon binds it, and a daemon then
  // failed with "cannot listen" (seen in a parallel run of the system tier).
  // Random per process, so parallel test processes rarely try the same one.
  static std::mutex mu;
  static std::set<uint16_t> handed_out;
  static std::atomic<uint32_t> seed{static_cast<uint32_t>(::getpid()) * 2654435761u
                                    ^ static_cast<uint32_t>(std::time(nullptr))};
  std::lock_guard<std::mutex> lock(mu);
  auto [eph_lo, eph_hi] = ephemeral_ports();
  (void) eph_hi;
  constexpr int first = 10000;
  if (eph_lo - first >= 1000) {
    for (int attempt = 0; attempt < 200; ++attempt) {
      auto x = seed.load() * 1103515245u + 12345u;
      seed.store(x);
      auto port = static_cast<uint16_t>(first + (x >> 8) % static_cast<uint32_t>(eph_lo - first));
      if (handed_out.count(port) != 0 || try_bind(port) == 0)
        continue;
      handed_out.insert(port);
      return port;
    }
  }
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto port = try_bind(0);
    if (port == 0)
      throw std::runtime_error(std::string("bind: ") + std::strerror(errno));
    if (handed_out.insert(port).second)
      return port;
  }
  throw std::runtime_error("no free port found");
}

std::string tail_lines(const std::string& text, size_t max_lines) {
  if (max_lines == 0)
    return {};
  size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n')
    --pos; // the final newline ends the last line, it does not start one
  size_t count = 0;
  while (pos > 0) {
    auto nl = text.rfind('\n', pos - 1);
    if (nl == std::string::npos)
      return text;
    if (++count == max_lines)
      return text.substr(nl + 1);
    pos = nl;
  }
  return text;
}

} // namespace p2p::test
