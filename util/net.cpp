#include "util/net.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace p2p {

namespace {

bool parse_port(const std::string& s, uint16_t& out) {
  if (s.empty() || s.size() > 5)
    return false;
  uint32_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9')
      return false;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v > 65535)
    return false;
  out = static_cast<uint16_t>(v);
  return true;
}

bool set_nonblocking(int fd, bool on) {
  int flags = fcntl(fd, F_GETFL, 0);
  if (flags < 0)
    return false;
  flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  return fcntl(fd, F_SETFL, flags) == 0;
}

} // namespace

std::optional<host_port> parse_host_port(const std::string& s) {
  host_port out;
  std::string port_text;
  if (!s.empty() && s[0] == '[') {
    auto close = s.find(']');
    if (close == std::string::npos || close == 1 || close + 1 >= s.size()
        || s[close + 1] != ':')
      return std::nullopt;
    out.host = s.substr(1, close - 1);
    if (out.host.find(':') == std::string::npos)
      return std::nullopt; // brackets are for IPv6 literals only
    port_text = s.substr(close + 2);
  } else {
    auto colon = s.rfind(':');
    if (colon == std::string::npos || colon == 0)
      return std::nullopt;
    out.host = s.substr(0, colon);
    if (out.host.find(':') != std::string::npos)
      return std::nullopt; // a bare IPv6 literal needs brackets
    port_text = s.substr(colon + 1);
  }
  for (char c : out.host)
    if (c == ' ' || c == '\t' || c == '[' || c == ']' || c == '/')
      return std::nullopt;
  if (!parse_port(port_text, out.port))
    return std::nullopt;
  return out;
}

std::string format_host_port(const std::string& host, uint16_t port) {
  if (host.find(':') != std::string::npos)
    return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

namespace {

struct endpoint {
  sockaddr_storage addr{};
  socklen_t len = 0;
  int family = AF_UNSPEC;
};

// Resolves numerically or via the local resolver; IPv4 first, because the
// peers of a LAN app listen on IPv4 and "localhost" often lists ::1 first.
std::vector<endpoint> resolve(const std::string& host, uint16_t port, std::string& err) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  auto port_text = std::to_string(port);
  int rc = getaddrinfo(host.c_str(), port_text.c_str(), &hints, &res);
  std::vector<endpoint> out;
  if (rc != 0) {
    err = "cannot resolve " + host + ": " + gai_strerror(rc);
    return out;
  }
  for (auto ai = res; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_addrlen > sizeof(sockaddr_storage))
      continue;
    endpoint e;
    std::memcpy(&e.addr, ai->ai_addr, ai->ai_addrlen);
    e.len = ai->ai_addrlen;
    e.family = ai->ai_family;
    out.push_back(e);
  }
  freeaddrinfo(res);
  std::stable_partition(out.begin(), out.end(),
                        [](const endpoint& e) { return e.family == AF_INET; });
  if (out.empty())
    err = "cannot resolve " + host + ": no address";
  return out;
}

// Non-blocking connect to one endpoint; the socket, or -1 with `err` set.
int start_connect_to(const endpoint& e, const std::string& where, std::string& err) {
  int fd = socket(e.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    err = "socket: " + std::string(std::strerror(errno));
    return -1;
  }
  if (!set_nonblocking(fd, true)) {
    err = "fcntl: " + std::string(std::strerror(errno));
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (connect(fd, reinterpret_cast<const sockaddr*>(&e.addr), e.len) == 0
      || errno == EINPROGRESS)
    return fd;
  err = "cannot connect to " + where + ": " + std::strerror(errno);
  close(fd);
  return -1;
}

// Waits for a connect in progress; 0 or the errno that ended it.
int finish_connect(int fd, int timeout_ms) {
  pollfd pfd{};
  pfd.fd = fd;
  pfd.events = POLLOUT;
  int rc;
  do {
    rc = poll(&pfd, 1, timeout_ms);
  } while (rc < 0 && errno == EINTR);
  if (rc == 0)
    return ETIMEDOUT;
  if (rc < 0)
    return errno;
  int so_error = 0;
  socklen_t len = sizeof(so_error);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0)
    return errno;
  return so_error;
}

} // namespace

int start_connect(const std::string& host, uint16_t port, std::string& err) {
  auto where = format_host_port(host, port);
  for (auto& e : resolve(host, port, err)) {
    int fd = start_connect_to(e, where, err);
    if (fd >= 0) {
      err.clear();
      return fd;
    }
  }
  return -1;
}

int connect_with_timeout(const std::string& host, uint16_t port, int timeout_ms,
                         std::string& err) {
  auto where = format_host_port(host, port);
  for (auto& e : resolve(host, port, err)) {
    int fd = start_connect_to(e, where, err);
    if (fd < 0)
      continue;
    int rc = finish_connect(fd, timeout_ms);
    if (rc == 0 && set_nonblocking(fd, false)) {
      err.clear();
      return fd;
    }
    err = "cannot connect to " + where + ": "
          + (rc == ETIMEDOUT ? std::string("timed out") : std::strerror(rc ? rc : errno));
    close(fd);
  }
  return -1;
}

std::optional<std::string> interface_ipv4(const std::string& name_or_ip) {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0)
    return std::nullopt;
  std::optional<std::string> found;
  for (auto ifa = list; ifa != nullptr && !found; ifa = ifa->ifa_next) {
    if (ifa->ifa_addr == nullptr || ifa->ifa_addr->sa_family != AF_INET)
      continue;
    char buf[INET_ADDRSTRLEN] = {};
    auto sin = reinterpret_cast<sockaddr_in*>(ifa->ifa_addr);
    if (inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf)) == nullptr)
      continue;
    if (name_or_ip == ifa->ifa_name || name_or_ip == buf)
      found = std::string(buf);
  }
  freeifaddrs(list);
  return found;
}

std::string local_host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0')
    return "p2p";
  return buf;
}

std::string default_lan_ipv4() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0)
    return "127.0.0.1";
  std::string found = "127.0.0.1";
  for (auto ifa = list; ifa != nullptr; ifa = ifa->ifa_next) {
    if (ifa->ifa_addr == nullptr || ifa->ifa_addr->sa_family != AF_INET)
      continue;
    if ((ifa->ifa_flags & IFF_UP) == 0 || (ifa->ifa_flags & IFF_LOOPBACK) != 0)
      continue;
    char buf[INET_ADDRSTRLEN] = {};
    auto sin = reinterpret_cast<sockaddr_in*>(ifa->ifa_addr);
    if (inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf)) == nullptr)
      continue;
    found = buf;
    break;
  }
  freeifaddrs(list);
  return found;
}

} // namespace p2p
