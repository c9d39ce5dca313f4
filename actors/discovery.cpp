// discovery: LAN peer discovery by UDP multicast (see docs/protocol.md).
//
// A typed broker with two datagram servants on sockets made here:
// - the receiving socket: SO_REUSEADDR + SO_REUSEPORT (several daemons on one
//   host), bound to 0.0.0.0:<multicast port>, member of the group on the
//   configured interface; handed to CAF with add_datagram_servant(fd).
// - the sending socket: IP_MULTICAST_IF = the interface, TTL 1, loop on;
//   handed to CAF with add_datagram_servant_for_endpoint(fd, group endpoint),
//   so enqueue_datagram + flush on its handle does sendto(group). We make
//   this socket ourselves instead of add_udp_datagram_servant(group, port)
//   because that one gives no way to set IP_MULTICAST_IF: on a host with
//   several interfaces (Docker, VPNs) the kernel would pick the interface of
//   the default route and the group on our LAN would never hear us.
//
// Our own datagrams come back (loop is on, and other daemons on this host
// must hear us); they are dropped by peer id.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/io/network/ip_endpoint.hpp>
#include <spdlog/spdlog.h>

#include "actors/actors.hpp"
#include "actors/broker_lifetime.hpp"
#include "actors/crash_hook.hpp"
#include "config/defaults.hpp"
#include "protocol/datagram.hpp"
#include "storage/fs.hpp"
#include "util/net.hpp"

namespace p2p {

namespace {

using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;

// A scan is not answered when we announced this recently and the scanner was
// already listening then (see on_scan_received).
constexpr auto scan_suppress_window = milliseconds(defaults::scan_suppress_window_ms);
// Bound on the peers remembered for that rule.
constexpr size_t max_first_seen = 4096;
// A new catalog version is announced after this pause (several share changes
// in a burst give one announce).
constexpr auto shares_debounce = milliseconds(defaults::shares_debounce_ms);
// `bye` replies at the latest after this long even if the send is not acked.
constexpr auto bye_ack_timeout = milliseconds(defaults::bye_ack_timeout_ms);

struct discovery_state {
  static inline const char* name = "discovery";

  identity me;
  catalog_actor catalog;
  caf::io::datagram_handle recv_hdl;
  caf::io::datagram_handle send_hdl;
  std::string group_endpoint;       // "224.0.0.123:7645", for logs
  uint32_t announce_interval_ms = defaults::announce_interval_ms;
  uint32_t catalog_version = 0;
  clock_type::time_point next_announce;  // a tick is scheduled for it
  std::optional<clock_type::time_point> last_announce;
  // When we first heard each peer id (for scan suppression).
  std::unordered_map<uint64_t, clock_type::time_point> first_seen;
  std::mt19937_64 rng;
  uint64_t sent = 0;
  uint64_t received = 0;
  bool leaving = false;             // bye sent: no more announces
  caf::typed_response_promise<bool> bye_rp;
  bool bye_pending = false;
  clock_type::time_point bye_deadline;
  // Private swarm: datagrams are keyed (protocol/datagram.hpp); null: plain.
  std::shared_ptr<const network_secrets> network;
  uint64_t counter = 0;             // of our keyed datagrams
  proto::replay_guard replay;       // of theirs
};

// Wall-clock ms since the Unix epoch: keyed datagrams carry it, receivers on
// other hosts compare it with theirs (a steady clock is per host).
uint64_t unix_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count());
}

using discovery_ptr = discovery_actor::stateful_broker_pointer<discovery_state>;

void send_datagram(discovery_ptr self, proto::datagram_kind kind) {
  auto& st = self->state;
  proto::datagram d;
  d.kind = kind;
  d.peer_id = st.me.peer_id;
  d.tcp_port = st.me.peer_port;
  d.catalog_version = st.catalog_version;
  d.addr = st.me.advertise_addr;
  if (st.network) {
    d.time_ms = unix_ms();
    d.counter = ++st.counter;
  }
  self->enqueue_datagram(st.send_hdl, st.network ? proto::encode_keyed(d, st.network->datagram)
                                                 : proto::encode(d));
  self->flush(st.send_hdl);
  ++st.sent;
  spdlog::debug("discovery: sent {} to {} (version {}; {} sent, {} received)",
                kind == proto::datagram_kind::announce
                  ? "announce"
                  : kind == proto::datagram_kind::scan ? "scan" : "bye",
                st.group_endpoint, st.catalog_version, st.sent, st.received);
  if (kind == proto::datagram_kind::announce)
    st.last_announce = clock_type::now();
}

// Moves the next announce to `when` (if sooner, or `force`) and schedules a
// tick for it. Ticks for superseded times arrive early and are ignored.
void schedule_announce(discovery_ptr self, clock_type::time_point when,
                       bool force = false) {
  auto& st = self->state;
  if (!force && when >= st.next_announce)
    return;
  st.next_announce = when;
  auto delay = std::chrono::duration_cast<milliseconds>(when - clock_type::now());
  if (delay.count() < 0)
    delay = milliseconds(0);
  delayed_self_send(self, delay, tick_atom::value);
}

// The periodic interval with +-10% jitter, so daemons started together do
// not announce in lockstep.
milliseconds jittered_interval(discovery_state& st) {
  std::uniform_real_distribution<double> dist(0.9, 1.1);
  return milliseconds(static_cast<int64_t>(st.announce_interval_ms * dist(st.rng)));
}

void on_tick(discovery_ptr self) {
  auto& st = self->state;
  if (st.bye_pending && clock_type::now() >= st.bye_deadline) {
    // The bye datagram was not acknowledged in time; answer anyway.
    st.bye_pending = false;
    st.bye_rp.deliver(true);
  }
  if (st.leaving)
    return;
  auto now = clock_type::now();
  if (now + milliseconds(2) < st.next_announce)
    return; // a tick for a superseded time
  send_datagram(self, proto::datagram_kind::announce);
  schedule_announce(self, now + jittered_interval(st), true);
}

void on_scan_received(discovery_ptr self, const proto::datagram& d) {
  auto& st = self->state;
  auto now = clock_type::now();
  if (st.leaving)
    return;
  // Several scans in a burst (daemons starting together) get one answer: a
  // scheduled answer absorbs later scans, and an announce made in the last
  // 500 ms counts as the answer -- but only for a scanner we had heard before
  // that announce. A daemon that just joined the group did not hear it, so it
  // gets an answer (each daemon announces before it scans, so its first
  // datagram reaches us just before its scan).
  auto seen = st.first_seen.find(d.peer_id);
  if (st.last_announce && now - *st.last_announce < scan_suppress_window
      && seen != st.first_seen.end() && seen->second < *st.last_announce) {
    spdlog::debug("discovery: scan from {:016x} answered by our recent announce",
                  d.peer_id);
    return;
  }
  std::uniform_int_distribution<uint32_t> dist(0, defaults::scan_reply_jitter_ms);
  schedule_announce(self, now + milliseconds(dist(st.rng)));
}

// The datagram in `buf` if it is one this daemon listens to: plain without
// a network key; with one, tagged with our key and neither replayed nor stale.
std::optional<proto::datagram> accept_datagram(discovery_state& st,
                                               const caf::io::network::receive_buffer& buf) {
  if (!st.network) {
    auto d = proto::decode_datagram(buf.data(), buf.size());
    if (!d)
      spdlog::debug("discovery: ignoring undecodable datagram ({} bytes)", buf.size());
    return d;
  }
  auto d = proto::decode_keyed_datagram(buf.data(), buf.size(), st.network->datagram);
  if (!d) {
    spdlog::debug("discovery: ignoring a datagram without a valid tag of our network "
                  "key ({} bytes)", buf.size());
    return d;
  }
  if (d->peer_id == st.me.peer_id)
    return d; // our own, looped back: dropped by the caller
  auto verdict = st.replay.check(*d, unix_ms());
  if (verdict != proto::replay_guard::verdict::fresh) {
    spdlog::debug("discovery: ignoring a datagram from {:016x}: {}", d->peer_id,
                  proto::to_string(verdict));
    return std::nullopt;
  }
  return d;
}

void on_datagram(discovery_ptr self, const caf::io::network::receive_buffer& buf) {
  auto& st = self->state;
  ++st.received;
  auto d = accept_datagram(st, buf);
  if (!d || d->peer_id == st.me.peer_id)
    return; // not for us, or our own, looped back
  if (d->kind == proto::datagram_kind::bye) {
    st.first_seen.erase(d->peer_id);
  } else {
    if (st.first_seen.size() >= max_first_seen)
      st.first_seen.clear();
    st.first_seen.try_emplace(d->peer_id, clock_type::now());
  }
  switch (d->kind) {
    case proto::datagram_kind::announce:
      spdlog::debug("discovery: announce from {:016x} at {}:{} version {}",
                    d->peer_id, d->addr, d->tcp_port, d->catalog_version);
      if (d->addr.empty() || d->tcp_port == 0) {
        spdlog::debug("discovery: announce without an endpoint, ignored");
        return;
      }
      self->send(st.catalog, sighting_atom::value,
                 peer_sighting{d->peer_id, d->addr, d->tcp_port,
                               d->catalog_version, false});
      break;
    case proto::datagram_kind::scan:
      spdlog::debug("discovery: scan from {:016x}", d->peer_id);
      on_scan_received(self, *d);
      break;
    case proto::datagram_kind::bye:
      spdlog::debug("discovery: bye from {:016x}", d->peer_id);
      self->send(st.catalog, bye_atom::value, d->peer_id);
      break;
  }
}

discovery_actor::behavior_type discovery(discovery_ptr self, int recv_fd,
                                         int send_fd, caf::io::network::ip_endpoint group,
                                         std::string group_endpoint,
                                         uint32_t announce_interval_ms, identity me,
                                         catalog_actor catalog,
                                         std::shared_ptr<const network_secrets> network) {
  arm_crash_hook(self);
  auto& st = self->state;
  st.me = me;
  st.network = std::move(network);
  st.catalog = catalog;
  st.group_endpoint = group_endpoint;
  st.announce_interval_ms = announce_interval_ms;
  st.rng.seed(std::random_device{}() ^ me.peer_id);
  st.recv_hdl = self->add_datagram_servant(recv_fd);
  st.send_hdl = self->add_datagram_servant_for_endpoint(send_fd, group);
  // Announce at once, and ask everybody to announce so we learn the LAN now.
  st.next_announce = clock_type::now();
  on_tick(self);
  send_datagram(self, proto::datagram_kind::scan);
  return {
    [=](caf::io::new_datagram_msg& msg) { on_datagram(self, msg.buf); },
    [=](const caf::io::datagram_sent_msg& msg) {
      auto& st = self->state;
      if (st.bye_pending && msg.handle == st.send_hdl) {
        st.bye_pending = false;
        st.bye_rp.deliver(true);
      }
    },
    [=](const caf::io::datagram_servant_closed_msg& msg) {
      auto& st = self->state;
      bool sender = std::find(msg.handles.begin(), msg.handles.end(), st.send_hdl)
                    != msg.handles.end();
      spdlog::warn("discovery: multicast socket closed ({})",
                   sender ? "sending" : "receiving");
      if (sender && st.bye_pending) {
        st.bye_pending = false;
        st.bye_rp.deliver(false);
      }
    },
    [=](scan_atom) {
      if (!self->state.leaving)
        send_datagram(self, proto::datagram_kind::scan);
    },
    [=](have_atom, const std::string&, uint32_t) {
      // Chunks travel as have frames on peer connections, never as datagrams.
    },
    [=](share_atom, const share_info&) {
      // Its catalog version comes with the table that follows.
    },
    [=](shares_atom, const std::vector<share_info>&, uint32_t version) {
      auto& st = self->state;
      if (version == st.catalog_version)
        return;
      st.catalog_version = version;
      if (!st.leaving)
        schedule_announce(self, clock_type::now() + shares_debounce);
    },
    [=](tick_atom) { on_tick(self); },
    [=](bye_atom) -> caf::result<bool> {
      auto& st = self->state;
      if (st.leaving)
        return true;
      st.leaving = true;
      self->ack_writes(st.send_hdl, true);
      send_datagram(self, proto::datagram_kind::bye);
      spdlog::info("discovery: leaving; {} datagrams sent, {} received", st.sent,
                   st.received);
      st.bye_rp = self->make_response_promise<bool>();
      st.bye_pending = true;
      st.bye_deadline = clock_type::now() + bye_ack_timeout;
      delayed_self_send(self, bye_ack_timeout, tick_atom::value);
      return st.bye_rp;
    },
  };
}

// The address of the interface multicast uses: cfg.interface (a name or an
// address), else the advertised address if it is one of ours, else any.
caf::expected<in_addr> multicast_interface(const config& cfg, const identity& me) {
  in_addr addr{};
  addr.s_addr = htonl(INADDR_ANY);
  std::optional<std::string> ip;
  if (!cfg.interface.empty()) {
    ip = interface_ipv4(cfg.interface);
    if (!ip)
      return make_error(ec::io_error,
                        "no IPv4 address on interface '" + cfg.interface + "'");
  } else if (!me.advertise_addr.empty()) {
    ip = interface_ipv4(me.advertise_addr);
  }
  if (ip && inet_pton(AF_INET, ip->c_str(), &addr) != 1)
    return make_error(ec::io_error, "bad interface address '" + *ip + "'");
  return addr;
}

caf::expected<int> udp_socket() {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return make_error(ec::io_error, "cannot create UDP socket: " + errno_text(errno));
  return fd;
}

// The error of a failed set-up step (errno read first), with the socket closed.
caf::error close_failed(int fd, const std::string& what) {
  auto err = make_error(ec::io_error, what + ": " + errno_text(errno));
  ::close(fd);
  return err;
}

caf::expected<int> open_receiver(in_addr group, uint16_t port, in_addr iface) {
  auto sock = udp_socket();
  if (!sock)
    return sock.error();
  int fd = *sock;
  auto fail = [fd](const std::string& what) { return close_failed(fd, what); };
  int one = 1;
  int zero = 0;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)
    return fail("SO_REUSEADDR");
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
    return fail("SO_REUSEPORT");
#ifdef IP_MULTICAST_ALL
  // Only datagrams of groups this socket joined (Linux otherwise delivers
  // every group any socket on the host joined on this port).
  setsockopt(fd, IPPROTO_IP, IP_MULTICAST_ALL, &zero, sizeof(zero));
#endif
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_port = htons(port);
  local.sin_addr.s_addr = htonl(INADDR_ANY);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0)
    return fail("cannot bind UDP port " + std::to_string(port));
  ip_mreq mreq{};
  mreq.imr_multiaddr = group;
  mreq.imr_interface = iface;
  if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof(mreq)) != 0) {
    char buf[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &iface, buf, sizeof(buf));
    return fail(std::string{"cannot join the multicast group on "} + buf);
  }
  return fd;
}

caf::expected<int> open_sender(in_addr iface) {
  auto sock = udp_socket();
  if (!sock)
    return sock.error();
  int fd = *sock;
  auto fail = [fd](const std::string& what) { return close_failed(fd, what); };
  unsigned char ttl = defaults::multicast_ttl;
  unsigned char loop = 1; // other daemons on this host must hear us
  if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl)) != 0)
    return fail("IP_MULTICAST_TTL");
  if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof(loop)) != 0)
    return fail("IP_MULTICAST_LOOP");
  if (iface.s_addr != htonl(INADDR_ANY)
      && setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &iface, sizeof(iface)) != 0)
    return fail("IP_MULTICAST_IF");
  return fd;
}

} // namespace

caf::expected<discovery_actor> spawn_discovery(caf::actor_system& sys,
                                               const config& cfg, identity self,
                                               catalog_actor catalog) {
  auto group_ip = cfg.multicast_group.empty() ? std::string{defaults::multicast_group}
                                              : cfg.multicast_group;
  uint16_t port = cfg.multicast_port != 0 ? cfg.multicast_port
                                          : defaults::multicast_port;
  in_addr group{};
  if (inet_pton(AF_INET, group_ip.c_str(), &group) != 1
      || !IN_MULTICAST(ntohl(group.s_addr)))
    return make_error(ec::bad_request,
                      "multicast group '" + group_ip + "' is not an IPv4 multicast address");
  auto iface = multicast_interface(cfg, self);
  if (!iface)
    return iface.error();
  auto recv_fd = open_receiver(group, port, *iface);
  if (!recv_fd)
    return recv_fd.error();
  auto send_fd = open_sender(*iface);
  if (!send_fd) {
    ::close(*recv_fd);
    return send_fd.error();
  }
  caf::io::network::ip_endpoint ep;
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(port);
  dst.sin_addr = group;
  std::memcpy(ep.address(), &dst, sizeof(dst));
  *ep.length() = sizeof(dst);
  char iface_buf[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &*iface, iface_buf, sizeof(iface_buf));
  auto group_endpoint = group_ip + ":" + std::to_string(port);
  spdlog::info("discovery: joined {} on interface {}", group_endpoint, iface_buf);
  uint32_t interval = cfg.announce_interval_ms != 0 ? cfg.announce_interval_ms
                                                    : defaults::announce_interval_ms;
  return sys.middleman().spawn_broker(discovery, *recv_fd, *send_fd, std::move(ep),
                                      group_endpoint, interval, self,
                                      std::move(catalog), cfg.network);
}

} // namespace p2p
