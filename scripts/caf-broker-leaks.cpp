// CAF 0.17.6 alone (no p2p code): three ways a broker leaks, what p2p does
// about each (docs/architecture.md, "Sanitizers"; actors/broker_lifetime.hpp).
//
//   g++ -std=c++17 -O1 -fsanitize=address,undefined scripts/caf-broker-leaks.cpp \
//     -o /tmp/caf-broker-leaks -lcaf_io -lcaf_core -pthread
//   ASAN_OPTIONS=detect_leaks=1 /tmp/caf-broker-leaks MODE N
//
// Modes 1-3: a broker connects to a local listening socket, sends 4 bytes,
// and quits: 1 at once (in its init function), 2 one multiplexer iteration
// later (p2p's quit_next_iteration), 3 after reading the peer's 4 bytes. N
// connections one after another. Mode 1 leaks the connection's scribe: the
// epoll registration that connecting queued and the removal that quitting
// queued in the same loop iteration cancel out (default_multiplexer.hpp,
// new_event: "squashing events resulted in a NOP"), so removed_from_loop
// never runs and the stream keeps its reference to the scribe
// (stream::reader_, stream.cpp: activate sets it, only removed_from_loop
// resets it). Modes 2 and 3 leak nothing.
// Mode 4: N brokers each schedule a message to themselves (delayed_send, 50
// ms) and quit at once; the message arrives after they quit. It stays in the
// mailbox, which CAF never closes for a broker (abstract_broker.cpp:68,
// cleanup calls local_actor::cleanup, not scheduled_actor::cleanup, which
// closes and empties it), and as its sender keeps the broker alive. Mode 5:
// the same with delayed_anon_send (p2p's delayed_self_send): no leak.
// Mode 6: a broker receives one datagram from each of N senders on a UDP
// socket and quits. Each new sender makes datagram_handler::add_endpoint set
// writer_ (a reference to the servant itself) without registering the socket
// for writing, so only a write that completes releases it
// (removed_from_loop): a servant that only receives leaks itself, its
// socket and its 64 KiB receive buffer. p2p's discovery receives this way;
// scripts/lsan.supp suppresses this one.
//
// Measured (2026-11-30, Debian 12, CAF 0.17.6): mode 1 N=1 352 bytes in 3
// allocations, N=10 3,520 in 30; mode 4 N=1 1,352 bytes in 3, N=10 13,160
// in 21; mode 6 N=1 67,311 bytes in 11, N=10 70,335 in 47; modes 2, 3 and
// 5: nothing.
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

using namespace std::chrono_literals;

// A loopback socket of `type` bound to a free port (listening for TCP).
int bind_loopback(int type, uint16_t& port) {
  int fd = ::socket(AF_INET, type, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), len) != 0
      || (type == SOCK_STREAM && ::listen(fd, 8) != 0)
      || ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    std::exit(2);
  port = ntohs(a.sin_port);
  return fd;
}

// Quits `self` in the multiplexer's next loop iteration (as p2p does).
void quit_next_iteration(caf::io::broker* self) {
  auto* mpx = &self->backend();
  caf::strong_actor_ptr me{self->ctrl()};
  mpx->post([me, mpx] {
    auto* b = static_cast<caf::io::abstract_broker*>(caf::actor_cast<caf::abstract_actor*>(me));
    if (b->getf(caf::abstract_actor::is_terminated_flag))
      return;
    b->context(mpx);
    b->quit();
    b->finalize();
  });
}

caf::behavior client(caf::io::broker* self, caf::io::connection_handle hdl, int mode) {
  self->configure_read(hdl, caf::io::receive_policy::exactly(4));
  self->write(hdl, 4, "helo");
  self->flush(hdl);
  if (mode == 1)
    self->quit();
  if (mode == 2)
    quit_next_iteration(self);
  return {
    [=](const caf::io::new_data_msg&) { self->quit(); },
    [=](const caf::io::connection_closed_msg&) { self->quit(); },
  };
}

caf::behavior timer_then_quit(caf::io::broker* self, int mode) {
  if (mode == 4)
    self->delayed_send(self, 50ms, caf::atom("tick"));
  else
    caf::delayed_anon_send(caf::actor_cast<caf::actor>(self), 50ms, caf::atom("tick"));
  self->quit();
  return {[](caf::atom_value) {}};
}

caf::behavior receiver(caf::io::broker* self, int fd, int n) {
  self->add_datagram_servant(fd);
  auto left = std::make_shared<int>(n);
  return {
    [=](const caf::io::new_datagram_msg&) {
      if (--*left == 0)
        self->quit();
    },
  };
}

void connect_n(caf::actor_system& sys, int mode, int n) {
  uint16_t port = 0;
  int listener = bind_loopback(SOCK_STREAM, port);
  for (int i = 0; i < n; ++i) {
    auto b = sys.middleman().spawn_client(client, "127.0.0.1", port, mode);
    int peer = b ? ::accept(listener, nullptr, nullptr) : -1;
    if (peer < 0 || ::write(peer, "abcd", 4) != 4)
      std::exit(2);
    std::this_thread::sleep_for(20ms);
    ::close(peer);
  }
  std::this_thread::sleep_for(300ms);
  ::close(listener);
}

void receive_from_n(caf::actor_system& sys, int n) {
  uint16_t port = 0;
  int fd = bind_loopback(SOCK_DGRAM, port);
  sys.middleman().spawn_broker(receiver, fd, n);
  std::this_thread::sleep_for(100ms);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  to.sin_port = htons(port);
  for (int i = 0; i < n; ++i) { // a new sender (socket, port) each time
    uint16_t unused = 0;
    int s = bind_loopback(SOCK_DGRAM, unused);
    if (::sendto(s, "hi", 2, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) != 2)
      std::exit(2);
    ::close(s);
    std::this_thread::sleep_for(20ms);
  }
  std::this_thread::sleep_for(300ms);
}

} // namespace

int main(int argc, char** argv) {
  int mode = argc > 1 ? std::atoi(argv[1]) : 1;
  int n = argc > 2 ? std::atoi(argv[2]) : 1;
  caf::actor_system_config cfg;
  cfg.load<caf::io::middleman>();
  caf::actor_system sys{cfg};
  if (mode <= 3) {
    connect_n(sys, mode, n);
  } else if (mode <= 5) {
    for (int i = 0; i < n; ++i)
      sys.middleman().spawn_broker(timer_then_quit, mode);
    std::this_thread::sleep_for(300ms);
  } else {
    receive_from_n(sys, n);
  }
}
