#pragma once
// Test helpers for actor tests that talk to a peer_server: the fake seeder
// (tests/support/fake_seeder.hpp), fake content ids, a port nobody listens
// on. The actor system, eventually() etc. are in tests/support/actor_env.hpp.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "protocol/frame.hpp"
#include "storage/manifest.hpp"
#include "tests/support/fake_seeder.hpp"
#include "tests/support/socket_client.hpp"
#include "util/hex.hpp"

namespace p2p::test {

// A content id whose bytes are all `b`.
inline proto::content_id fake_id(uint8_t b) {
  proto::content_id id;
  id.fill(b);
  return id;
}

inline std::string hex_of(const proto::content_id& id) {
  return to_hex(id.data(), id.size());
}

// A port on 127.0.0.1 where nothing listens (bound, then closed).
inline uint16_t unused_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

} // namespace p2p::test
