#pragma once
// A blocking TCP test client on 127.0.0.1: connect with a timeout, send all,
// read with a timeout (SO_RCVTIMEO). Failures to connect or send are test
// failures; reads report EOF and timeouts to the caller.
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "util/net.hpp"

namespace p2p::test {

// Sends all `n` bytes; false when the peer is gone or on an error.
inline bool send_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    auto sent = ::send(fd, p, n, MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR)
      continue;
    if (sent <= 0)
      return false;
    p += sent;
    n -= static_cast<size_t>(sent);
  }
  return true;
}

class socket_client {
public:
  socket_client(uint16_t port, std::chrono::milliseconds connect_timeout,
                std::chrono::seconds read_timeout = std::chrono::seconds(10)) {
    std::string err;
    fd_ = connect_with_timeout("127.0.0.1", port, static_cast<int>(connect_timeout.count()),
                               err);
    INFO("connect to 127.0.0.1:" << port << ": " << err);
    REQUIRE(fd_ >= 0);
    timeval tv{static_cast<time_t>(read_timeout.count()), 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~socket_client() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  socket_client(const socket_client&) = delete;
  socket_client& operator=(const socket_client&) = delete;

  int fd() const { return fd_; }

  void send(const char* p, size_t n) { REQUIRE(send_all(fd_, p, n)); }
  void send(const std::vector<char>& buf) { send(buf.data(), buf.size()); }
  void send(const std::string& s) { send(s.data(), s.size()); }

  // Reads what is there (at most n bytes): > 0 bytes read, 0 on EOF, < 0 on
  // a timeout or an error.
  ssize_t read_some(char* p, size_t n) {
    for (;;) {
      auto r = ::recv(fd_, p, n, 0);
      if (r < 0 && errno == EINTR)
        continue;
      return r;
    }
  }

  // Reads exactly n bytes; false on EOF, a timeout or an error.
  bool read_exact(char* p, size_t n) {
    while (n > 0) {
      auto r = read_some(p, n);
      if (r <= 0)
        return false;
      p += r;
      n -= static_cast<size_t>(r);
    }
    return true;
  }

  // True when the server closed the connection (EOF).
  bool closed() {
    char c;
    return ::recv(fd_, &c, 1, 0) == 0;
  }

private:
  int fd_ = -1;
};

} // namespace p2p::test
