// catalog with fake peer_servers on loopback.
#include <catch2/catch.hpp>

#include <caf/all.hpp>

#include "actors/actors.hpp"
#include "tests/actors/fake_peer_server.hpp"
#include "tests/support/actor_env.hpp"

using namespace p2p;
using namespace std::chrono_literals;
using p2p::test::actor_env;
using p2p::test::eventually;
using p2p::test::fake_seeder;

namespace {

constexpr uint64_t my_id = 0x5e1f;

config test_config() {
  config cfg;
  cfg.announce_interval_ms = 200;
  cfg.peer_expiry_ms = 60000;
  cfg.scan_window_ms = 300;
  return cfg;
}

identity my_identity() {
  return identity{my_id, "127.0.0.1", 1};
}

// Asks the catalog (5 s); an error fails the test as "<what> failed: ...".
template <class T, class... Ts>
T ask_catalog(caf::actor_system& sys, const catalog_actor& cat, const char* what,
              Ts... xs) {
  caf::scoped_actor self{sys};
  auto res = test::ask_within<T>(self, 5s, cat, xs...);
  if (!res)
    FAIL(what << " failed: " << to_string(res.error()));
  return std::move(*res);
}

std::vector<file_offer> list(caf::actor_system& sys, catalog_actor cat) {
  return ask_catalog<std::vector<file_offer>>(sys, cat, "list", list_atom::value);
}

std::vector<peer_info> peers(caf::actor_system& sys, catalog_actor cat) {
  return ask_catalog<std::vector<peer_info>>(sys, cat, "peers", peers_atom::value);
}

std::vector<std::string> seeders(caf::actor_system& sys, catalog_actor cat,
                                 const std::string& id) {
  return ask_catalog<std::vector<std::string>>(sys, cat, "seeders", seeders_atom::value, id);
}

peer_sighting sighting(uint64_t id, uint16_t port, uint32_t version) {
  return peer_sighting{id, "127.0.0.1", port, version, false};
}

std::string endpoint(const fake_seeder& s) {
  return "127.0.0.1:" + std::to_string(s.port());
}

// A catalog whose one static peer is `s` (polled every 200 ms); returns
// once it lists `files` files.
catalog_actor catalog_of_static(actor_env& env, const fake_seeder& s, size_t files) {
  auto cfg = test_config();
  cfg.peers = {endpoint(s)};
  auto cat = env.own(spawn_catalog(*env.sys, cfg, my_identity()));
  REQUIRE(eventually([&] { return list(*env.sys, cat).size() == files; }));
  return cat;
}

} // namespace

TEST_CASE("catalog merges a file offered by two peers", "[catalog]") {
  actor_env env;
  fake_seeder a{0xa}, b{0xb};
  a.set_files({{test::fake_id(1), 100, "shared.bin"}, {test::fake_id(2), 5, "only-a.txt"}});
  b.set_files({{test::fake_id(1), 100, "shared.bin"}, {test::fake_id(3), 7, "b.txt"}});
  auto cat = env.own(spawn_catalog(*env.sys, test_config(), my_identity()));
  caf::anon_send(cat, sighting_atom::value, sighting(0xa, a.port(), 1));
  caf::anon_send(cat, sighting_atom::value, sighting(0xb, b.port(), 1));
  REQUIRE(eventually([&] { return list(*env.sys, cat).size() == 3; }));
  auto files = list(*env.sys, cat);
  // Sorted by name.
  CHECK(files[0].name == "b.txt");
  CHECK(files[1].name == "only-a.txt");
  CHECK(files[2].name == "shared.bin");
  CHECK(files[2].id_hex == test::hex_of(test::fake_id(1)));
  CHECK(files[2].size == 100);
  auto expected = std::vector<std::string>{endpoint(a), endpoint(b)};
  std::sort(expected.begin(), expected.end());
  CHECK(files[2].seeders == expected);
  CHECK(files[0].seeders == std::vector<std::string>{endpoint(b)});
  CHECK(seeders(*env.sys, cat, test::hex_of(test::fake_id(1))) == expected);
  CHECK(seeders(*env.sys, cat, test::hex_of(test::fake_id(9))).empty());

  auto ps = peers(*env.sys, cat);
  REQUIRE(ps.size() == 2);
  for (auto& p : ps) {
    CHECK(p.files == 2);
    CHECK(p.source == "multicast");
  }

  SECTION("an unchanged catalog version is not fetched again") {
    auto before = a.connections();
    caf::anon_send(cat, sighting_atom::value, sighting(0xa, a.port(), 1));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CHECK(a.connections() == before);
  }
  SECTION("a new catalog version is fetched") {
    a.set_files({{test::fake_id(4), 1, "new.txt"}});
    caf::anon_send(cat, sighting_atom::value, sighting(0xa, a.port(), 2));
    REQUIRE(eventually([&] {
      auto fs = list(*env.sys, cat);
      return fs.size() == 3 && fs[1].name == "new.txt";
    }));
    CHECK(seeders(*env.sys, cat, test::hex_of(test::fake_id(1)))
          == std::vector<std::string>{endpoint(b)});
  }
  SECTION("bye removes a peer and its files at once") {
    caf::anon_send(cat, bye_atom::value, uint64_t{0xa});
    REQUIRE(eventually([&] { return list(*env.sys, cat).size() == 2; }, 1000ms));
    auto fs = list(*env.sys, cat);
    CHECK(fs[0].name == "b.txt");
    CHECK(fs[1].name == "shared.bin");
    CHECK(fs[1].seeders == std::vector<std::string>{endpoint(b)});
    CHECK(peers(*env.sys, cat).size() == 1);
  }
  SECTION("scan re-fetches and replies after the scan window") {
    auto before = a.connections();
    caf::scoped_actor self{*env.sys};
    auto start = std::chrono::steady_clock::now();
    scan_result res;
    self->request(cat, std::chrono::seconds(5), scan_atom::value, uint32_t{0})
      .receive([&](scan_result& r) { res = r; },
               [&](caf::error& err) { FAIL(to_string(err)); });
    CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(250));
    CHECK(res.peers == 2);
    CHECK(res.files == 3);
    CHECK(a.connections() > before);
  }
}

TEST_CASE("catalog answers a download's query with the matching offers only", "[catalog]") {
  actor_env env;
  fake_seeder a{0xa}, b{0xb};
  // Content 5 is listed under two names: two offers, each with both seeders.
  a.set_files({{test::fake_id(1), 100, "shared.bin"}, {test::fake_id(2), 5, "only-a.txt"},
               {test::fake_id(5), 9, "z.bin"}});
  b.set_files({{test::fake_id(1), 100, "shared.bin"}, {test::fake_id(3), 7, "b.txt"},
               {test::fake_id(5), 9, "a-name.bin"}});
  auto cat = env.own(spawn_catalog(*env.sys, test_config(), my_identity()));
  caf::anon_send(cat, sighting_atom::value, sighting(0xa, a.port(), 1));
  caf::anon_send(cat, sighting_atom::value, sighting(0xb, b.port(), 1));
  REQUIRE(eventually([&] { return list(*env.sys, cat).size() == 5; }));
  auto all = list(*env.sys, cat);
  auto query = [&](const std::string& name, const std::string& id_prefix) {
    return ask_catalog<std::vector<file_offer>>(*env.sys, cat, "list query", list_atom::value,
                                                name, id_prefix);
  };
  auto entry = [&](const std::string& name) {
    for (auto& f : all)
      if (f.name == name)
        return f;
    FAIL("no " << name << " in the list");
    return file_offer{};
  };
  auto same = [](const std::vector<file_offer>& x, const std::vector<file_offer>& y) {
    if (x.size() != y.size())
      return false;
    for (size_t i = 0; i < x.size(); ++i)
      if (x[i].id_hex != y[i].id_hex || x[i].name != y[i].name || x[i].size != y[i].size
          || x[i].seeders != y[i].seeders)
        return false;
    return true;
  };
  CHECK(same(query("", ""), all));
  CHECK(same(query("shared.bin", ""), {entry("shared.bin")}));
  CHECK(query("shared.bin", "")[0].seeders.size() == 2);
  CHECK(same(query("", test::hex_of(test::fake_id(2))), {entry("only-a.txt")}));
  CHECK(same(query("shared.bin", test::hex_of(test::fake_id(1)).substr(0, 8)),
             {entry("shared.bin")}));
  CHECK(query("shared.bin", test::hex_of(test::fake_id(2))).empty());
  CHECK(same(query("a-name.bin", ""), {entry("a-name.bin")}));
  CHECK(query("a-name.bin", "")[0].seeders.size() == 2);
  CHECK(same(query("z.bin", ""), {entry("z.bin")}));
  CHECK(query("z.bin", "")[0].seeders.size() == 2);
  CHECK(query("nope", "").empty());
  CHECK(query("", "ffff").empty());
}

TEST_CASE("catalog expires silent multicast peers", "[catalog]") {
  actor_env env;
  fake_seeder a{0xa};
  a.set_files({{test::fake_id(1), 100, "x"}});
  auto cfg = test_config();
  cfg.peer_expiry_ms = 400;
  auto cat = env.own(spawn_catalog(*env.sys, cfg, my_identity()));
  caf::anon_send(cat, sighting_atom::value, sighting(0xa, a.port(), 1));
  REQUIRE(eventually([&] { return list(*env.sys, cat).size() == 1; }));
  // Still there while it keeps announcing.
  for (int i = 0; i < 4; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    caf::anon_send(cat, sighting_atom::value, sighting(0xa, a.port(), 1));
  }
  CHECK(peers(*env.sys, cat).size() == 1);
  // Gone once silent.
  CHECK(eventually([&] { return peers(*env.sys, cat).empty(); }, 2000ms));
  CHECK(list(*env.sys, cat).empty());
}

TEST_CASE("catalog drops itself", "[catalog]") {
  actor_env env;
  fake_seeder me{my_id}; // a peer_server that turns out to be ours
  me.set_files({{test::fake_id(1), 100, "mine"}});
  auto cat = env.own(spawn_catalog(*env.sys, test_config(), my_identity()));
  SECTION("announces carrying our id are ignored") {
    caf::anon_send(cat, sighting_atom::value, sighting(my_id, me.port(), 1));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CHECK(me.connections() == 0);
    CHECK(peers(*env.sys, cat).empty());
  }
  SECTION("an endpoint whose hello_ack carries our id is removed") {
    caf::anon_send(cat, sighting_atom::value, sighting(0, me.port(), 1));
    REQUIRE(eventually([&] { return me.connections() == 1; }));
    CHECK(eventually([&] { return peers(*env.sys, cat).empty(); }));
    CHECK(list(*env.sys, cat).empty());
  }
}

TEST_CASE("catalog polls static peers and keeps them when they fail", "[catalog]") {
  actor_env env;
  fake_seeder s{0x5};
  s.set_files({{test::fake_id(1), 100, "static.bin"}});
  auto cfg = test_config();
  cfg.peer_expiry_ms = 300; // static peers never expire
  cfg.peers = {endpoint(s)};
  auto cat = env.own(spawn_catalog(*env.sys, cfg, my_identity()));
  REQUIRE(eventually([&] { return list(*env.sys, cat).size() == 1; }));
  auto ps = peers(*env.sys, cat);
  REQUIRE(ps.size() == 1);
  CHECK(ps[0].source == "static");
  CHECK(ps[0].peer_id == 0x5);
  // Polled every announce interval.
  CHECK(eventually([&] { return s.connections() >= 3; }));
  // Failing: entry kept, files withdrawn.
  s.set_mode(fake_seeder::mode::close_at_once);
  CHECK(eventually([&] { return list(*env.sys, cat).empty(); }));
  ps = peers(*env.sys, cat);
  REQUIRE(ps.size() == 1);
  CHECK(ps[0].files == 0);
  // Back: files return.
  s.set_mode(fake_seeder::mode::normal);
  CHECK(eventually([&] { return list(*env.sys, cat).size() == 1; }));
}

TEST_CASE("catalog polls a static peer conditionally: catalog_same while unchanged, "
          "the files again when its version moves",
          "[catalog]") {
  // Each poll fetched the whole catalog (~57 KB for 1,000 files) every
  // announce interval; the bench's idle downloader spent its CPU there.
  actor_env env;
  fake_seeder s{0x6};
  s.set_files({{test::fake_id(1), 100, "one.bin"}});
  s.set_version(7);
  auto cat = catalog_of_static(env, s, 1);
  REQUIRE(eventually([&] { return s.catalog_requests() >= 4; }));
  auto knowns = s.catalog_knowns();
  CHECK(knowns[0] == 0); // nothing held yet
  for (size_t i = 1; i < knowns.size(); ++i)
    CHECK(knowns[i] == 7);
  CHECK(list(*env.sys, cat).size() == 1); // unchanged answers keep the files
  // A new version: the next poll gets the files (and asks with it after).
  s.set_files({{test::fake_id(1), 100, "one.bin"}, {test::fake_id(2), 50, "two.bin"}});
  s.set_version(8);
  REQUIRE(eventually([&] { return list(*env.sys, cat).size() == 2; }));
  auto before = s.catalog_requests();
  REQUIRE(eventually([&] { return s.catalog_requests() >= before + 2; }));
  CHECK(s.catalog_knowns().back() == 8);
  CHECK(list(*env.sys, cat).size() == 2);
}

TEST_CASE("catalog asks a peer that refuses conditional requests plainly",
          "[catalog]") {
  // A build before conditional requests answers one with
  // error(bad_request) and closes: its files must still be listed.
  actor_env env;
  fake_seeder s{0x7};
  s.set_files({{test::fake_id(3), 100, "old.bin"}});
  s.set_plain_only(true);
  auto cat = catalog_of_static(env, s, 1);
  REQUIRE(eventually([&] { return s.catalog_requests() >= 4; }));
  auto knowns = s.catalog_knowns();
  CHECK(knowns[0] == 0);  // conditional, refused
  for (size_t i = 1; i < knowns.size(); ++i)
    CHECK(knowns[i] == -1); // plain from then on
  auto ps = peers(*env.sys, cat);
  REQUIRE(ps.size() == 1);
  CHECK(ps[0].files == 1);
}

TEST_CASE("catalog asks for the whole catalog when a peer without a version answers",
          "[catalog]") {
  // A peer that tells no version (0) gets known = 0 every time, so it always
  // answers with its files.
  actor_env env;
  fake_seeder s{0x8};
  s.set_files({{test::fake_id(4), 100, "a.bin"}});
  auto cat = catalog_of_static(env, s, 1);
  REQUIRE(eventually([&] { return s.catalog_requests() >= 3; }));
  for (auto k : s.catalog_knowns())
    CHECK(k == 0);
  s.set_files({{test::fake_id(4), 100, "a.bin"}, {test::fake_id(5), 1, "b.bin"}});
  CHECK(eventually([&] { return list(*env.sys, cat).size() == 2; }));
}

TEST_CASE("catalog withdraws a multicast peer's files when its fetch fails",
          "[catalog]") {
  actor_env env;
  fake_seeder a{0xa};
  a.set_files({{test::fake_id(1), 100, "x"}});
  auto cat = env.own(spawn_catalog(*env.sys, test_config(), my_identity()));
  caf::anon_send(cat, sighting_atom::value, sighting(0xa, a.port(), 1));
  REQUIRE(eventually([&] { return list(*env.sys, cat).size() == 1; }));
  a.set_mode(fake_seeder::mode::close_at_once);
  caf::anon_send(cat, sighting_atom::value, sighting(0xa, a.port(), 2));
  CHECK(eventually([&] { return list(*env.sys, cat).empty(); }));
  CHECK(peers(*env.sys, cat).size() == 1);
}
