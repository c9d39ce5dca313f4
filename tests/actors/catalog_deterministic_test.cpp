// catalog on the deterministic scheduler: expiry, static polls and fetch
// timeouts happen on the ticks of a clock the test moves (no sleeps).
#include <catch2/catch.hpp>

#include <functional>

#include "actors/actors.hpp"
#include "config/defaults.hpp"
#include "tests/support/actor_env.hpp"
#include "tests/support/deterministic.hpp"

using namespace p2p;
using namespace p2p::test;
using namespace std::chrono_literals;

namespace {

constexpr uint64_t my_id = 0x5e1f;

struct catalog_fixture {
  deterministic_system d;
  std::shared_ptr<fake_lan> lan = std::make_shared<fake_lan>();
  catalog_actor cat;

  // peer_expiry_ms 1000 gives a tick of 250 ms (a quarter of the expiry).
  // `prepare` fills the LAN before the catalog starts.
  explicit catalog_fixture(config cfg, std::function<void(fake_lan&)> prepare = {}) {
    if (prepare)
      prepare(*lan);
    cat = d.own(spawn_catalog(d.sys(), cfg, identity{my_id, "10.0.0.100", 7647},
                              lan->links()));
    d.run();
  }

  // Peer n at 10.0.0.n:7000 offering one file (named f<n>).
  std::string add_peer(uint64_t n) {
    auto endpoint = "10.0.0." + std::to_string(n) + ":7000";
    auto& p = lan->peers[endpoint];
    p.peer_id = n;
    p.files = {remote_file{"f" + std::to_string(n), std::string(64, 'a' + n % 6), 100}};
    return endpoint;
  }

  void sighting(uint64_t n, uint32_t version = 1) {
    caf::anon_send(cat, sighting_atom::value,
                   peer_sighting{n, "10.0.0." + std::to_string(n), 7000, version, false});
    d.run();
  }

  std::vector<peer_info> peers() { return d.get<std::vector<peer_info>>(cat, peers_atom::value); }
  std::vector<file_offer> files() { return d.get<std::vector<file_offer>>(cat, list_atom::value); }
};

config expiry_config(uint32_t expiry_ms) {
  config cfg;
  cfg.peer_expiry_ms = expiry_ms;
  cfg.announce_interval_ms = 2000;
  return cfg;
}

} // namespace

TEST_CASE("catalog forgets a multicast peer at the first tick after peer_expiry_ms of silence",
          "[catalog][deterministic]") {
  catalog_fixture fx{expiry_config(1000)};
  fx.add_peer(1);
  fx.sighting(1);
  REQUIRE(fx.files().size() == 1);
  // Silent for exactly peer_expiry_ms at the tick of t+1000: still known.
  fx.d.advance(1000ms);
  auto ps = fx.peers();
  REQUIRE(ps.size() == 1);
  CHECK(ps[0].last_seen_ms == 1000);
  // The next tick (250 ms later) finds it silent for longer: gone, files too.
  fx.d.advance(240ms);
  CHECK(fx.peers().size() == 1);
  fx.d.advance(10ms);
  CHECK(fx.peers().empty());
  CHECK(fx.files().empty());
}

TEST_CASE("catalog keeps a multicast peer that announces itself within peer_expiry_ms",
          "[catalog][deterministic]") {
  catalog_fixture fx{expiry_config(1000)};
  fx.add_peer(1);
  fx.add_peer(2);
  fx.sighting(1);
  fx.sighting(2);
  for (int i = 0; i < 10; ++i) {
    fx.d.advance(900ms);
    fx.sighting(1); // peer 2 stays silent
  }
  auto ps = fx.peers();
  REQUIRE(ps.size() == 1);
  CHECK(ps[0].peer_id == 1);
  CHECK(ps[0].last_seen_ms == 0);
  // The same version announced again costs no catalog fetch.
  CHECK(fx.lan->queries == 2);
}

TEST_CASE("catalog never expires a static peer and polls it every announce interval",
          "[catalog][deterministic]") {
  auto cfg = expiry_config(1000);
  cfg.peers = {"10.0.0.3:7000"};
  catalog_fixture fx{cfg, [](fake_lan& lan) {
                       lan.peers["10.0.0.3:7000"]
                         = fake_lan::peer{3, {remote_file{"s", std::string(64, 'c'), 5}}, {}};
                     }};
  CHECK(fx.lan->queries == 1); // at start
  fx.d.advance(1990ms);
  CHECK(fx.lan->queries == 1);
  fx.d.advance(10ms); // announce_interval_ms after the start
  CHECK(fx.lan->queries == 2);
  fx.d.advance(2000ms);
  CHECK(fx.lan->queries == 3);
  auto ps = fx.peers();
  REQUIRE(ps.size() == 1);
  CHECK(ps[0].source == "static");
  CHECK(fx.files().size() == 1);
}

TEST_CASE("catalog withdraws a peer's files when its catalog fetch times out on the clock",
          "[catalog][deterministic]") {
  catalog_fixture fx{expiry_config(86400000)};
  auto ep = fx.add_peer(4);
  fx.sighting(4, 1);
  REQUIRE(fx.files().size() == 1);
  // A new catalog version from a peer that no longer answers: the old files
  // stay offered while the fetch may still succeed ...
  fx.lan->peers[ep].silent = true;
  fx.sighting(4, 2);
  CHECK(fx.lan->queries == 2);
  uint32_t timeout_ms = defaults::connect_timeout_ms + defaults::catalog_fetch_slack_ms;
  fx.d.advance(std::chrono::milliseconds(timeout_ms - 10));
  CHECK(fx.files().size() == 1);
  // ... and are withdrawn when it times out; the peer stays known.
  fx.d.advance(10ms);
  CHECK(fx.files().empty());
  CHECK(fx.peers().size() == 1);
}

TEST_CASE("catalog's static polls name the version it holds, and catalog_same keeps the files",
          "[catalog][deterministic]") {
  auto cfg = expiry_config(1000);
  cfg.peers = {"10.0.0.3:7000"};
  catalog_fixture fx{cfg, [](fake_lan& lan) {
                       auto& p = lan.peers["10.0.0.3:7000"];
                       p.peer_id = 3;
                       p.files = {remote_file{"s", std::string(64, 'c'), 5}};
                       p.version = 40;
                     }};
  auto& p = fx.lan->peers["10.0.0.3:7000"];
  fx.d.advance(2000ms);
  fx.d.advance(2000ms);
  CHECK(p.asked == std::vector<uint32_t>{0, 40, 40});
  CHECK(fx.files().size() == 1); // unchanged answers keep the files
  // A new version: the next poll gets the files and asks with it after.
  p.files.push_back(remote_file{"t", std::string(64, 'd'), 6});
  p.version = 41;
  fx.d.advance(2000ms);
  CHECK(fx.files().size() == 2);
  fx.d.advance(2000ms);
  CHECK(p.asked == std::vector<uint32_t>{0, 40, 40, 40, 41});
  // Another daemon at that endpoint answering catalog_same for a version we
  // hold from the old one (a restart): not trusted, the whole catalog is
  // asked for at once.
  p.peer_id = 33;
  p.files = {remote_file{"u", std::string(64, 'e'), 7}};
  fx.d.advance(2000ms);
  CHECK(p.asked == std::vector<uint32_t>{0, 40, 40, 40, 41, 41, 0});
  auto fs = fx.files();
  REQUIRE(fs.size() == 1);
  CHECK(fs[0].name == "u");
}
