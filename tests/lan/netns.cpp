#include "tests/lan/netns.hpp"

#include <csignal>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <unistd.h>

#include <catch2/catch.hpp>

namespace p2p::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

const char* netns_dir = "/var/run/netns";
const char* ns_prefix = "p2plan";

std::string join(const std::vector<std::string>& args) {
  std::string s;
  for (auto& a : args)
    s += (s.empty() ? "" : " ") + a;
  return s;
}

// Runs `ip args...` in the current namespace; the result.
run_result run_ip(const std::vector<std::string>& args, const std::string& scratch) {
  spawn_options o;
  o.exe = ip_exe();
  o.args = args;
  return run(o, 30s, scratch);
}

} // namespace

const std::string& ip_exe() {
  static const std::string path = [] {
    for (const char* p : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"})
      if (::access(p, X_OK) == 0)
        return std::string(p);
    return std::string();
  }();
  return path;
}

std::optional<std::string> lan_unavailable_reason() {
  if (::geteuid() != 0)
    return std::string("not root (network namespaces and a bridge need root)");
  if (ip_exe().empty())
    return std::string("no `ip` binary (iproute2) found");
  for (auto exe : {daemon_exe(), cli_exe()})
    if (::access(exe.c_str(), X_OK) != 0)
      return "no " + exe + " (build it first)";
  auto scratch = make_temp_dir("p2p-lan-probe");
  auto ns = std::string(ns_prefix) + std::to_string(::getpid()) + ".probe";
  auto add = run_ip({"netns", "add", ns}, scratch);
  std::optional<std::string> reason;
  if (add.exit_code != 0) {
    reason = "`ip netns add` failed: " + add.err;
  } else {
    auto veth = run_ip({"-n", ns, "link", "add", "pa", "type", "veth", "peer", "name", "pb"},
                       scratch);
    auto br = run_ip({"-n", ns, "link", "add", "pbr", "type", "bridge"}, scratch);
    if (veth.exit_code != 0)
      reason = "cannot make a veth pair: " + veth.err;
    else if (br.exit_code != 0)
      reason = "cannot make a bridge: " + br.err;
    run_ip({"netns", "del", ns}, scratch);
  }
  remove_tree(scratch);
  if (reason)
    while (!reason->empty() && (reason->back() == '\n' || reason->back() == ' '))
      reason->pop_back();
  return reason;
}

void remove_stale_namespaces() {
  std::error_code ec;
  if (!fs::is_directory(netns_dir, ec))
    return;
  std::vector<std::string> stale;
  for (auto& e : fs::directory_iterator(netns_dir, ec)) {
    auto name = e.path().filename().string();
    if (name.rfind(ns_prefix, 0) != 0)
      continue;
    auto rest = name.substr(std::string(ns_prefix).size());
    size_t digits = 0;
    while (digits < rest.size() && std::isdigit(static_cast<unsigned char>(rest[digits])))
      ++digits;
    if (digits == 0 || digits > 9)
      continue;
    auto pid = std::stol(rest.substr(0, digits));
    if (pid == ::getpid() || fs::exists("/proc/" + std::to_string(pid)))
      continue;
    stale.push_back(name);
  }
  if (stale.empty())
    return;
  auto scratch = make_temp_dir("p2p-lan-stale");
  for (auto& ns : stale) {
    std::cerr << "lan: removing namespace " << ns << " left by an earlier run";
    // Daemons of that run may still live in it (it was killed, so it could
    // not stop them): they are the only processes in our namespaces.
    auto pids = run_ip({"netns", "pids", ns}, scratch);
    std::istringstream in(pids.out);
    long pid = 0;
    while (in >> pid)
      if (pid > 1 && pid != ::getpid()) {
        std::cerr << ", killing its process " << pid;
        ::kill(static_cast<pid_t>(pid), SIGKILL);
      }
    std::cerr << "\n";
    run_ip({"netns", "del", ns}, scratch);
  }
  remove_tree(scratch);
}

lan::lan(size_t n) : root_(make_temp_dir("p2p-lan")) {
  static unsigned counter = 0;
  unsigned k = counter++;
  auto pid = static_cast<unsigned>(::getpid());
  tag_ = std::string(ns_prefix) + std::to_string(pid) + "." + std::to_string(k);
  hub_ns_ = tag_ + "-hub";
  bridge_ = "p2pbr" + std::to_string(pid % 10000);
  fs::create_directories(root_ + "/home");
  fs::create_directories(root_ + "/scratch");
  try {
    build(n);
  } catch (...) {
    teardown();
    remove_tree(root_);
    throw;
  }
}

std::string lan::ip_batch(const std::vector<std::string>& commands, const std::string& ns) {
  static unsigned counter = 0;
  auto file = root_ + "/scratch/batch-" + std::to_string(counter++);
  std::string text;
  for (auto& c : commands)
    text += c + "\n";
  write_file(file, text);
  std::vector<std::string> args;
  if (!ns.empty())
    args = {"-n", ns};
  args.insert(args.end(), {"-batch", file});
  auto r = run_ip(args, root_ + "/scratch");
  std::remove(file.c_str());
  if (r.exit_code != 0)
    return "ip " + join(args) + " failed (exit " + std::to_string(r.exit_code) + "): "
           + r.err + r.out;
  return {};
}

void lan::build(size_t n) {
  if (n == 0 || n > 250)
    throw std::runtime_error("lan: 1..250 hosts");
  auto pid = static_cast<unsigned>(::getpid());
  // 10.a.b.0/24: a in 16..215, b in 0..255, from the pid and the lan's number.
  auto a = 16 + (pid / 256) % 200;
  auto b = (pid + static_cast<unsigned>(std::stoul(tag_.substr(tag_.find('.') + 1)))) % 256;
  auto subnet = "10." + std::to_string(a) + "." + std::to_string(b) + ".";

  std::vector<std::string> ns_cmds;
  made_ns_.push_back(hub_ns_);
  ns_cmds.push_back("netns add " + hub_ns_);
  for (size_t i = 0; i < n; ++i) {
    auto h = std::make_unique<lan_host>();
    h->index = i;
    h->ns = tag_ + "-" + std::to_string(i);
    h->ifname = "lan" + std::to_string(i);
    h->addr = subnet + std::to_string(i + 1);
    h->dir = root_ + "/host" + std::to_string(i);
    h->state_dir = h->dir + "/state";
    h->log_path = h->dir + "/daemon.log";
    fs::create_directories(h->state_dir);
    made_ns_.push_back(h->ns);
    ns_cmds.push_back("netns add " + h->ns);
    hosts_.push_back(std::move(h));
  }
  if (auto err = ip_batch(ns_cmds); !err.empty())
    throw std::runtime_error("lan: cannot make namespaces: " + err);

  std::vector<std::string> hub_cmds{
    "link add " + bridge_ + " type bridge mcast_snooping 0 stp_state 0",
    "link set " + bridge_ + " up"};
  for (auto& h : hosts_) {
    auto port = "h" + std::to_string(h->index);
    hub_cmds.push_back("link add " + port + " type veth peer name " + h->ifname + " netns "
                       + h->ns);
    hub_cmds.push_back("link set " + port + " master " + bridge_);
    hub_cmds.push_back("link set " + port + " up");
  }
  if (auto err = ip_batch(hub_cmds, hub_ns_); !err.empty())
    throw std::runtime_error("lan: cannot make the bridge: " + err);

  for (auto& h : hosts_) {
    std::vector<std::string> cmds{"link set lo up",
                                  "addr add " + h->addr + "/24 dev " + h->ifname,
                                  "link set " + h->ifname + " up",
                                  "route add 224.0.0.0/4 dev " + h->ifname};
    if (auto err = ip_batch(cmds, h->ns); !err.empty())
      throw std::runtime_error("lan: cannot set up " + h->ns + ": " + err);
  }
}

void lan::teardown() noexcept {
  try {
    for (auto& h : hosts_)
      if (h->daemon && h->daemon->running()) {
        h->daemon->signal(SIGTERM);
        if (!h->daemon->wait_for(3s))
          h->daemon->kill();
      }
  } catch (...) {
  }
  try {
    std::vector<std::string> cmds;
    for (auto& ns : made_ns_)
      cmds.push_back("netns del " + ns);
    if (!cmds.empty()) {
      auto file = root_ + "/teardown.batch";
      std::string text;
      for (auto& c : cmds)
        text += c + "\n";
      write_file(file, text);
      fs::create_directories(root_ + "/scratch");
      run_ip({"-force", "-batch", file}, root_ + "/scratch");
      std::remove(file.c_str());
    }
    made_ns_.clear();
  } catch (const std::exception& e) {
    std::cerr << "lan: teardown failed: " << e.what() << "\n";
  }
}

lan::~lan() {
  bool failed = current_test_failed() || std::uncaught_exceptions() > 0;
  teardown();
  if (failed) {
    std::cerr << dump_logs(hosts_.size() > 8 ? 25 : 80) << "(LAN test files kept in " << root_
              << "; files over 4 MiB removed)\n";
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root_, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec))
      if (it->is_regular_file(ec) && it->file_size(ec) > (4u << 20))
        fs::remove(it->path(), ec);
  } else {
    remove_tree(root_);
  }
}

spawn_options lan::in_ns(size_t i, const std::string& exe,
                         const std::vector<std::string>& args) const {
  spawn_options o;
  o.exe = ip_exe();
  o.args = {"netns", "exec", hosts_.at(i)->ns, exe};
  o.args.insert(o.args.end(), args.begin(), args.end());
  o.env = {{"HOME", root_ + "/home"}};
  o.unset_env = p2p_env_names();
  return o;
}

spawn_options lan::cli_options(size_t i, const std::vector<std::string>& args) const {
  std::vector<std::string> a{"--state-dir", hosts_.at(i)->state_dir};
  a.insert(a.end(), args.begin(), args.end());
  return in_ns(i, cli_exe(), a);
}

void lan::spawn_daemon(size_t i, const std::vector<std::string>& extra) {
  auto& h = host(i);
  std::vector<std::string> args{"--state-dir", h.state_dir,   "--interface",
                                h.ifname,      "--log-level", "debug"};
  args.insert(args.end(), extra.begin(), extra.end());
  h.daemon_args = extra;
  std::ofstream(h.log_path, std::ios::app)
    << "----- test harness: starting p2p-daemon in " << h.ns << " (" << h.addr << ") "
    << join(args) << " -----\n";
  auto o = in_ns(i, daemon_exe(), args);
  o.stdout_path = h.log_path;
  o.stderr_path = h.log_path;
  h.daemon = std::make_unique<process>(o);
}

void lan::wait_ready(size_t i, std::chrono::milliseconds timeout) {
  auto& h = host(i);
  bool ready = wait_until(
    [&] {
      if (!h.daemon->running())
        return true;
      if (!fs::exists(h.state_dir + "/control.cookie"))
        return false;
      return cli(i, {"status", "--json"}, 5s).exit_code == 0;
    },
    timeout, 50ms);
  INFO("daemon " << i << " log:\n" << tail_lines(log(i), 60));
  REQUIRE(h.daemon->running());
  REQUIRE(ready);
}

void lan::start_daemon(size_t i, const std::vector<std::string>& extra) {
  spawn_daemon(i, extra);
  wait_ready(i);
}

std::optional<int> lan::stop_daemon(size_t i, int sig, std::chrono::milliseconds timeout) {
  auto& h = host(i);
  h.daemon->signal(sig);
  auto st = h.daemon->wait_for(timeout);
  if (!st)
    h.daemon->kill();
  return st;
}

run_result lan::cli(size_t i, const std::vector<std::string>& args,
                    std::chrono::milliseconds timeout) {
  return run(cli_options(i, args), timeout, root_ + "/scratch");
}

nlohmann::json lan::cli_json(size_t i, const std::vector<std::string>& args,
                             std::chrono::milliseconds timeout) {
  std::vector<std::string> a{"--json"};
  a.insert(a.end(), args.begin(), args.end());
  auto r = cli(i, a, timeout);
  INFO("p2p-cli " << join(a) << " on host " << i << "\nexit " << r.exit_code
                  << "\nstdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  auto doc = nlohmann::json::parse(r.out, nullptr, false);
  REQUIRE_FALSE(doc.is_discarded());
  return doc;
}

std::vector<run_result> lan::cli_many(const std::vector<size_t>& hosts,
                                      const std::vector<std::string>& args,
                                      std::chrono::milliseconds timeout) {
  static unsigned counter = 0;
  std::vector<std::unique_ptr<process>> procs;
  for (auto i : hosts) {
    auto o = cli_options(i, args);
    auto base = root_ + "/scratch/many-" + std::to_string(counter++);
    o.stdout_path = base + ".out";
    o.stderr_path = base + ".err";
    procs.push_back(std::make_unique<process>(o));
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<run_result> results;
  for (auto& p : procs) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    auto st = p->wait_for(std::max(left, std::chrono::milliseconds(0)));
    run_result r;
    if (!st) {
      r.timed_out = true;
      p->kill();
    } else {
      r.exit_code = *st;
    }
    r.out = p->stdout_text();
    r.err = p->stderr_text();
    std::remove(p->options().stdout_path.c_str());
    std::remove(p->options().stderr_path.c_str());
    results.push_back(std::move(r));
  }
  return results;
}

std::string lan::log(size_t i, size_t from) const {
  auto text = slurp(hosts_.at(i)->log_path);
  return from < text.size() ? text.substr(from) : std::string();
}

size_t lan::log_size(size_t i) const {
  std::error_code ec;
  auto sz = fs::file_size(hosts_.at(i)->log_path, ec);
  return ec ? 0 : static_cast<size_t>(sz);
}

std::string lan::dump_logs(size_t lines) const {
  std::string out;
  for (auto& h : hosts_)
    out += "----- host " + std::to_string(h->index) + " (" + h->ns + ", " + h->addr
           + ") daemon log, last " + std::to_string(lines) + " lines -----\n"
           + tail_lines(slurp(h->log_path), lines);
  return out;
}

std::vector<std::string> lan::file_names(const nlohmann::json& ls) {
  std::vector<std::string> names;
  if (ls.is_object() && ls.contains("files") && ls["files"].is_array())
    for (auto& f : ls["files"])
      if (f.is_object() && f.contains("name") && f["name"].is_string())
        names.push_back(f["name"].get<std::string>());
  return names;
}

nlohmann::json lan::find_file(const nlohmann::json& ls, const std::string& name) {
  if (ls.is_object() && ls.contains("files") && ls["files"].is_array())
    for (auto& f : ls["files"])
      if (f.is_object() && f.value("name", "") == name)
        return f;
  return nullptr;
}

} // namespace p2p::test
