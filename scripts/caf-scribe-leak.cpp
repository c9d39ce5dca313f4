// CAF 0.17.6 alone (no p2p code): why LeakSanitizer runs on the unit tests
// only (docs/architecture.md, "Sanitizers"). A broker connects to a local
// listening socket, sends 4 bytes and then either quits at once (mode 1, in
// its init function) or waits for the peer's 4 bytes and quits then (mode 3);
// the peer closes 20 ms later. N connections, then the actor system stops.
//
//   g++ -std=c++17 -O1 -fsanitize=address,undefined scripts/caf-scribe-leak.cpp \
//     -o /tmp/caf-scribe-leak -lcaf_io -lcaf_core -pthread
//   ASAN_OPTIONS=detect_leaks=1 /tmp/caf-scribe-leak MODE N
//
// Measured (2026-11-30): mode 1 leaks one scribe per connection: N=1 352
// bytes in 3 allocations, N=11 3,872 bytes in 33; mode 3 leaks nothing. A
// broker still connected when the system stops leaks its scribe too (and,
// in p2p, the broker and what its state holds). Our reading of CAF's code
// (not verified in a debugger): a stream holds a strong reference to its
// scribe until the multiplexer removes the socket, and an add and a remove
// queued in the same loop iteration cancel out without that removal.
#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

namespace {

int listen_loopback(uint16_t& port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), len) != 0
      || ::listen(fd, 8) != 0
      || ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    std::exit(2);
  port = ntohs(a.sin_port);
  return fd;
}

caf::behavior client(caf::io::broker* self, caf::io::connection_handle hdl, int mode) {
  self->configure_read(hdl, caf::io::receive_policy::exactly(4));
  self->write(hdl, 4, "helo");
  self->flush(hdl);
  if (mode == 1)
    self->quit();
  return {
    [=](const caf::io::new_data_msg&) { self->quit(); },
    [=](const caf::io::connection_closed_msg&) { self->quit(); },
  };
}

} // namespace

int main(int argc, char** argv) {
  int mode = argc > 1 ? std::atoi(argv[1]) : 1;
  int n = argc > 2 ? std::atoi(argv[2]) : 1;
  uint16_t port = 0;
  int listener = listen_loopback(port);
  {
    caf::actor_system_config cfg;
    cfg.load<caf::io::middleman>();
    caf::actor_system sys{cfg};
    for (int i = 0; i < n; ++i) {
      auto b = sys.middleman().spawn_client(client, "127.0.0.1", port, mode);
      if (!b)
        return 2;
      int peer = ::accept(listener, nullptr, nullptr);
      if (::write(peer, "abcd", 4) != 4)
        return 2;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      ::close(peer);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  ::close(listener);
}
