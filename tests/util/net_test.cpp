#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/net.hpp"

using namespace p2p;

namespace {

// A loopback listener on an ephemeral port, closed at scope exit.
struct listener {
  int fd = -1;
  uint16_t port = 0;
  listener() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
    REQUIRE(::listen(fd, 4) == 0);
    socklen_t len = sizeof(a);
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    port = ntohs(a.sin_port);
  }
  ~listener() { ::close(fd); }
};

} // namespace

TEST_CASE("parse_host_port", "[net]") {
  auto hp = parse_host_port("127.0.0.1:7646");
  REQUIRE(hp);
  CHECK(hp->host == "127.0.0.1");
  CHECK(hp->port == 7646);

  hp = parse_host_port("[::1]:80");
  REQUIRE(hp);
  CHECK(hp->host == "::1");
  CHECK(hp->port == 80);

  hp = parse_host_port("localhost:0");
  REQUIRE(hp);
  CHECK(hp->port == 0);
  CHECK(parse_host_port("h:65535")->port == 65535);

  for (auto bad : {"", ":80", "host", "host:", "host:65536", "host:-1", "host:8o",
                   "host:99999999999", "::1:80", "[::1]", "[::1]80", "[]:80",
                   "[1.2.3.4]:80", "host:80 ", "ho st:80", "[::1:80"})
    CHECK_FALSE(parse_host_port(bad));
}

TEST_CASE("format_host_port", "[net]") {
  CHECK(format_host_port("10.0.0.1", 7647) == "10.0.0.1:7647");
  CHECK(format_host_port("::1", 80) == "[::1]:80");
  auto hp = parse_host_port(format_host_port("fe80::1", 9));
  REQUIRE(hp);
  CHECK(hp->host == "fe80::1");
}

TEST_CASE("start_connect to a loopback listener", "[net]") {
  listener l;
  std::string err;
  int fd = start_connect("127.0.0.1", l.port, err);
  INFO(err);
  REQUIRE(fd >= 0);
  pollfd p{fd, POLLOUT, 0};
  REQUIRE(::poll(&p, 1, 2000) == 1);
  int so_error = -1;
  socklen_t len = sizeof(so_error);
  REQUIRE(::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) == 0);
  CHECK(so_error == 0);
  int peer = ::accept(l.fd, nullptr, nullptr);
  CHECK(peer >= 0);
  ::close(peer);
  ::close(fd);

  fd = start_connect("localhost", l.port, err);
  CHECK(fd >= 0);
  if (fd >= 0)
    ::close(fd);
}

TEST_CASE("connect_with_timeout", "[net]") {
  listener l;
  std::string err;
  int fd = connect_with_timeout("127.0.0.1", l.port, 2000, err);
  INFO(err);
  REQUIRE(fd >= 0);
  CHECK(err.empty());
  CHECK(::write(fd, "x", 1) == 1);
  ::close(fd);

  // "localhost" may list ::1 first; an IPv4-only listener must still be reached.
  fd = connect_with_timeout("localhost", l.port, 2000, err);
  CHECK(fd >= 0);
  if (fd >= 0)
    ::close(fd);

  // A port nobody listens on: refused, with a message naming the address.
  uint16_t closed_port = 0;
  {
    listener gone;
    closed_port = gone.port;
  }
  fd = connect_with_timeout("127.0.0.1", closed_port, 2000, err);
  CHECK(fd == -1);
  CHECK_THAT(err, Catch::Contains("127.0.0.1:" + std::to_string(closed_port)));

  fd = start_connect("no-such-host.invalid", 80, err);
  CHECK(fd == -1);
  CHECK_FALSE(err.empty());
}

TEST_CASE("interface helpers", "[net]") {
  CHECK(interface_ipv4("lo") == std::string("127.0.0.1"));
  CHECK(interface_ipv4("127.0.0.1") == std::string("127.0.0.1"));
  CHECK_FALSE(interface_ipv4("no-such-if0"));
  auto lan = default_lan_ipv4();
  in_addr a{};
  CHECK(::inet_pton(AF_INET, lan.c_str(), &a) == 1);
}
