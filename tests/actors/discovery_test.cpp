// discovery: two discovery brokers in one process on a multicast group on the
// loopback interface, each reporting to a fake catalog.
#include <catch2/catch.hpp>

#include <caf/all.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <random>

#include "actors/actors.hpp"
#include "protocol/datagram.hpp"
#include "tests/actors/fake_peer_server.hpp"
#include "tests/support/actor_env.hpp"

using namespace p2p;
using namespace std::chrono_literals;
using p2p::test::actor_env;
using p2p::test::eventually;

namespace {

constexpr const char* test_group = "239.255.76.45";

// What a fake catalog was told.
struct catalog_log {
  std::mutex mtx;
  std::vector<peer_sighting> sightings;
  std::vector<uint64_t> byes;
  std::chrono::steady_clock::time_point last_time; // of the last sighting

  bool quiet_for(std::chrono::milliseconds d) {
    std::lock_guard<std::mutex> guard{mtx};
    return std::chrono::steady_clock::now() - last_time > d;
  }

  size_t count_from(uint64_t id) {
    std::lock_guard<std::mutex> guard{mtx};
    return std::count_if(sightings.begin(), sightings.end(),
                         [&](auto& s) { return s.peer_id == id; });
  }
  std::optional<peer_sighting> last_from(uint64_t id) {
    std::lock_guard<std::mutex> guard{mtx};
    for (auto it = sightings.rbegin(); it != sightings.rend(); ++it)
      if (it->peer_id == id)
        return *it;
    return std::nullopt;
  }
  bool got_bye(uint64_t id) {
    std::lock_guard<std::mutex> guard{mtx};
    return std::find(byes.begin(), byes.end(), id) != byes.end();
  }
};

catalog_actor::behavior_type fake_catalog(catalog_actor::pointer self,
                                          std::shared_ptr<catalog_log> log) {
  return {
    [=](sighting_atom, const peer_sighting& s) {
      std::lock_guard<std::mutex> guard{log->mtx};
      log->sightings.push_back(s);
      log->last_time = std::chrono::steady_clock::now();
    },
    [=](bye_atom, uint64_t id) {
      std::lock_guard<std::mutex> guard{log->mtx};
      log->byes.push_back(id);
    },
    [=](scan_atom, uint32_t) { return scan_result{}; },
    [=](list_atom) { return std::vector<file_offer>{}; },
    [=](list_atom, const std::string&, const std::string&) { return std::vector<file_offer>{}; },
    [=](peers_atom) { return std::vector<peer_info>{}; },
    [=](seeders_atom, const std::string&) { return std::vector<std::string>{}; },
    [=](tick_atom) {},
  };
}

uint16_t random_test_port() {
  std::random_device rd;
  return static_cast<uint16_t>(27645 + rd() % 2000);
}

// Sends n bytes from UDP socket s to the test group on `port`, out of
// 127.0.0.1; what sendto returns.
ssize_t send_to_group(int s, uint16_t port, const char* p, size_t n) {
  in_addr lo{};
  inet_pton(AF_INET, "127.0.0.1", &lo);
  setsockopt(s, IPPROTO_IP, IP_MULTICAST_IF, &lo, sizeof(lo));
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(port);
  inet_pton(AF_INET, test_group, &dst.sin_addr);
  return ::sendto(s, p, n, 0, reinterpret_cast<sockaddr*>(&dst), sizeof(dst));
}

// Can a datagram to the group on 127.0.0.1 reach a socket on this host? Tries
// with plain sockets; empty string when it works, else why not.
std::string loopback_multicast_problem(uint16_t port) {
  int r = ::socket(AF_INET, SOCK_DGRAM, 0);
  int s = ::socket(AF_INET, SOCK_DGRAM, 0);
  auto done = [&](std::string why) {
    ::close(r);
    ::close(s);
    return why;
  };
  int one = 1;
  setsockopt(r, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  setsockopt(r, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_port = htons(port);
  if (::bind(r, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0)
    return done(std::string{"bind: "} + strerror(errno));
  ip_mreq mreq{};
  inet_pton(AF_INET, test_group, &mreq.imr_multiaddr);
  inet_pton(AF_INET, "127.0.0.1", &mreq.imr_interface);
  if (setsockopt(r, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof(mreq)) != 0)
    return done(std::string{"IP_ADD_MEMBERSHIP on 127.0.0.1: "} + strerror(errno));
  timeval tv{1, 0};
  setsockopt(r, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (send_to_group(s, port, "probe", 5) != 5)
    return done(std::string{"sendto group via 127.0.0.1: "} + strerror(errno));
  char buf[16];
  if (::recv(r, buf, sizeof(buf), 0) != 5)
    return done("no datagram looped back on 127.0.0.1");
  return done("");
}

// Multicast over lo, turning lo's MULTICAST flag on if needed (root only).
std::string ensure_loopback_multicast(uint16_t port) {
  auto why = loopback_multicast_problem(port);
  if (why.empty())
    return why;
  if (std::system("ip link set lo multicast on >/dev/null 2>&1") == 0)
    why = loopback_multicast_problem(port);
  return why;
}

config test_config(uint16_t port) {
  config cfg;
  cfg.interface = "127.0.0.1";
  cfg.multicast_group = test_group;
  cfg.multicast_port = port;
  cfg.announce_interval_ms = 60000; // only the start and explicit announces
  return cfg;
}

// Sends raw bytes to the group (a stranger on the LAN).
void send_raw(uint16_t port, const std::vector<char>& bytes) {
  int s = ::socket(AF_INET, SOCK_DGRAM, 0);
  send_to_group(s, port, bytes.data(), bytes.size());
  ::close(s);
}

} // namespace

TEST_CASE("discovery finds another daemon over multicast", "[discovery]") {
  auto port = random_test_port();
  auto problem = ensure_loopback_multicast(port);
  if (!problem.empty()) {
    WARN("SKIPPED: multicast over loopback does not work here: " << problem);
    return;
  }
  actor_env env;
  auto log_a = std::make_shared<catalog_log>();
  auto log_b = std::make_shared<catalog_log>();
  auto cat_a = env.own(env.sys->spawn(fake_catalog, log_a));
  auto cat_b = env.own(env.sys->spawn(fake_catalog, log_b));
  auto cfg = test_config(port);
  auto a = spawn_discovery(*env.sys, cfg, identity{0xa, "127.0.0.1", 1001}, cat_a);
  REQUIRE(a);
  env.own(*a);
  auto b = spawn_discovery(*env.sys, cfg, identity{0xb, "127.0.0.1", 1002}, cat_b);
  REQUIRE(b);
  env.own(*b);

  // B started after A: A hears B's announce, and B's start-up scan makes A
  // announce again, so B learns A at once.
  REQUIRE(eventually([&] { return log_a->count_from(0xb) >= 1; }));
  REQUIRE(eventually([&] { return log_b->count_from(0xa) >= 1; }));
  auto s = log_a->last_from(0xb);
  CHECK(s->addr == "127.0.0.1");
  CHECK(s->port == 1002);
  CHECK_FALSE(s->is_static);
  // Own datagrams are never reported.
  CHECK(log_a->count_from(0xa) == 0);
  CHECK(log_b->count_from(0xb) == 0);

  SECTION("a new catalog version is announced at once") {
    caf::anon_send(*a, shares_atom::value, std::vector<share_info>{}, uint32_t{7});
    CHECK(eventually([&] {
      auto s = log_b->last_from(0xa);
      return s && s->catalog_version == 7;
    }, 2000ms));
  }
  SECTION("a scan is answered with an announce") {
    // B does not answer within 500 ms of its own last announce (which A
    // heard): wait until the start-up exchange is well over.
    REQUIRE(eventually([&] { return log_a->quiet_for(std::chrono::milliseconds(700)); }));
    auto before = log_a->count_from(0xb);
    caf::anon_send(*a, scan_atom::value);
    CHECK(eventually([&] { return log_a->count_from(0xb) > before; }, 2000ms));
  }
  SECTION("undecodable datagrams are ignored") {
    send_raw(port, {'j', 'u', 'n', 'k'});
    proto::datagram d;
    d.kind = proto::datagram_kind::announce;
    d.peer_id = 0xc;
    d.tcp_port = 1003;
    d.addr = "127.0.0.1";
    send_raw(port, proto::encode(d));
    // The valid one after the junk still arrives: the servant survived.
    CHECK(eventually([&] { return log_a->count_from(0xc) == 1; }, 2000ms));
  }
  SECTION("bye reaches the others") {
    caf::scoped_actor self{*env.sys};
    bool ok = false;
    self->request(*a, std::chrono::seconds(5), bye_atom::value)
      .receive([&](bool x) { ok = x; }, [&](caf::error& err) { FAIL(to_string(err)); });
    CHECK(ok);
    CHECK(eventually([&] { return log_b->got_bye(0xa); }, 2000ms));
    CHECK_FALSE(log_a->got_bye(0xa));
  }
}

TEST_CASE("discovery reports a bad interface", "[discovery]") {
  actor_env env;
  auto log = std::make_shared<catalog_log>();
  auto cat = env.own(env.sys->spawn(fake_catalog, log));
  auto cfg = test_config(random_test_port());
  cfg.interface = "no-such-if0";
  auto d = spawn_discovery(*env.sys, cfg, identity{0xa, "127.0.0.1", 1}, cat);
  CHECK_FALSE(d);
  CHECK_THAT(describe(d.error()).second, Catch::Contains("no-such-if0"));
  cfg.interface = "127.0.0.1";
  cfg.multicast_group = "10.1.2.3";
  d = spawn_discovery(*env.sys, cfg, identity{0xa, "127.0.0.1", 1}, cat);
  CHECK_FALSE(d);
}
