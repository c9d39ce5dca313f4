#include "util/net.hpp"

#include <cerrno>
#include <cstring>

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

int start_connect(const std::string& host, uint16_t port, std::string& err) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
  addrinfo* res = nullptr;
  auto port_text = std::to_string(port);
  int rc = getaddrinfo(host.c_str(), port_text.c_str(), &hints, &res);
  if (rc != 0 && hints.ai_flags & AI_ADDRCONFIG) {
    // AI_ADDRCONFIG hides loopback-only families on hosts without a LAN address.
    hints.ai_flags = AI_NUMERICSERV;
    rc = getaddrinfo(host.c_str(), port_text.c_str(), &hints, &res);
  }
  if (rc != 0) {
    err = "cannot resolve " + host + ": " + gai_strerror(rc);
    return -1;
  }
  err = "cannot connect to " + format_host_port(host, port);
  for (auto ai = res; ai != nullptr; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      err = "socket: " + std::string(std::strerror(errno));
      continue;
    }
    if (!set_nonblocking(fd, true)) {
      err = "fcntl: " + std::string(std::strerror(errno));
      close(fd);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS) {
      freeaddrinfo(res);
      err.clear();
      return fd;
    }
    err = "cannot connect to " + format_host_port(host, port) + ": "
          + std::strerror(errno);
    close(fd);
  }
  freeaddrinfo(res);
  return -1;
}

int connect_with_timeout(const std::string& host, uint16_t port, int timeout_ms,
                         std::string& err) {
  int fd = start_connect(host, port, err);
  if (fd < 0)
    return -1;
  pollfd pfd{};
  pfd.fd = fd;
  pfd.events = POLLOUT;
  int rc;
  do {
    rc = poll(&pfd, 1, timeout_ms);
  } while (rc < 0 && errno == EINTR);
  auto where = format_host_port(host, port);
  if (rc == 0) {
    err = "cannot connect to " + where + ": timed out";
    close(fd);
    return -1;
  }
  if (rc < 0) {
    err = "cannot connect to " + where + ": " + std::strerror(errno);
    close(fd);
    return -1;
  }
  int so_error = 0;
  socklen_t len = sizeof(so_error);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0)
    so_error = errno;
  if (so_error != 0) {
    err = "cannot connect to " + where + ": " + std::strerror(so_error);
    close(fd);
    return -1;
  }
  if (!set_nonblocking(fd, false)) {
    err = "fcntl: " + std::string(std::strerror(errno));
    close(fd);
    return -1;
  }
  err.clear();
  return fd;
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
