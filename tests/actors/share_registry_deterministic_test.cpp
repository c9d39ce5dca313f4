// share_registry's check tick on the deterministic scheduler: shares loaded
// from the state dir (no hashing: hashers are detached actors, which the
// test_coordinator does not drive), files removed on disk, the clock moved
// by the test.
#include <catch2/catch.hpp>

#include <filesystem>
#include <memory>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "config/defaults.hpp"
#include "storage/fs.hpp"
#include "storage/manifest.hpp"
#include "tests/support/actor_env.hpp"
#include "tests/support/deterministic.hpp"
#include "util/hex.hpp"

using namespace p2p;
using namespace p2p::test;
using namespace std::chrono_literals;
namespace stdfs = std::filesystem;

namespace {

// What a subscriber was sent: (table size, catalog version) per message.
using sightings = std::vector<std::pair<size_t, uint32_t>>;

shares_listener_actor::behavior_type listener(shares_listener_actor::pointer,
                                              std::shared_ptr<sightings> seen) {
  return {
    [seen](shares_atom, const std::vector<share_info>& table, uint32_t version) {
      seen->emplace_back(table.size(), version);
    },
    [](have_atom, const std::string&, uint32_t) {},
  };
}

// Writes <state>/shares.json and the manifests for `paths`, as a daemon that
// shared them and stopped leaves them.
void write_state(const std::string& state_dir, const std::vector<std::string>& paths) {
  auto arr = nlohmann::json::array();
  for (const auto& p : paths) {
    std::string err;
    auto m = build_manifest(p, 4096, err);
    REQUIRE(m);
    auto bytes = serialize(*m);
    auto id = sha256(bytes.data(), bytes.size());
    auto id_hex = to_hex(id.data(), id.size());
    write_file(state_dir + "/manifests/" + id_hex + ".manifest",
               std::string(bytes.begin(), bytes.end()));
    struct stat st;
    REQUIRE(::stat(p.c_str(), &st) == 0);
    arr.push_back({{"name", stdfs::path(p).filename().string()},
                   {"path", p},
                   {"id_hex", id_hex},
                   {"size", m->size},
                   {"chunk_size", m->chunk_size},
                   {"mtime_ns", mtime_ns_of(st)}});
  }
  write_file(state_dir + "/shares.json", arr.dump(2));
}

// Shares <dir>/<sub>/a.bin and b.bin, loaded from the state dir.
struct registry_fixture {
  deterministic_system d;
  temp_dir dir;
  std::string a;
  std::string b;
  share_registry_actor reg;
  std::shared_ptr<sightings> seen = std::make_shared<sightings>();

  explicit registry_fixture(const std::string& sub = "files")
    : a(dir.write(sub + "/a.bin", random_bytes(10000, 1))),
      b(dir.write(sub + "/b.bin", random_bytes(5000, 2))) {
    write_state(dir.file("state"), {a, b});
    reg = d.own(spawn_share_registry(d.sys(), test_config(dir.file("state"))));
    auto who = d.sys().spawn(listener, seen);
    d.own(who);
    caf::anon_send(reg, subscribe_atom::value, who);
    d.run();
  }

  std::vector<share_info> list() { return d.get<std::vector<share_info>>(reg, list_atom::value); }
};

constexpr auto check_interval = std::chrono::milliseconds(defaults::share_check_interval_ms);
constexpr auto full_check_interval
  = std::chrono::milliseconds(defaults::share_full_check_interval_ms);

} // namespace

TEST_CASE("share_registry loads its shares from the state dir without hashing",
          "[share_registry][deterministic]") {
  registry_fixture fx;
  CHECK(fx.list().size() == 2);
  REQUIRE(fx.seen->size() == 1); // the table at subscribe
  CHECK(fx.seen->at(0).first == 2);
}

TEST_CASE("share_registry withdraws a deleted file at its next check tick and tells subscribers",
          "[share_registry][deterministic]") {
  registry_fixture fx;
  auto v0 = fx.seen->at(0).second;
  REQUIRE(::unlink(fx.a.c_str()) == 0);
  fx.d.advance(check_interval - 10ms);
  CHECK(fx.list().size() == 2); // not noticed before the tick
  fx.d.advance(10ms);
  auto l = fx.list();
  REQUIRE(l.size() == 1);
  CHECK(l[0].path == fx.b);
  REQUIRE(fx.seen->size() == 2);
  CHECK(fx.seen->at(1) == std::make_pair(size_t{1}, v0 + 1));
  // The withdrawal is persisted: shares.json lists b only, a's manifest is gone.
  auto saved = nlohmann::json::parse(read_whole(fx.dir.file("state/shares.json")));
  REQUIRE(saved.size() == 1);
  CHECK(saved[0]["path"] == fx.b);
  size_t manifests = 0;
  for (auto& e : stdfs::directory_iterator(fx.dir.file("state/manifests")))
    manifests += e.is_regular_file() ? 1 : 0;
  CHECK(manifests == 1);
}

TEST_CASE("share_registry's check tick repeats and costs no notification while nothing changes",
          "[share_registry][deterministic]") {
  registry_fixture fx;
  fx.d.advance(10 * check_interval);
  CHECK(fx.seen->size() == 1);
  // Still ticking after ten periods: a deletion now is seen one period later.
  REQUIRE(::unlink(fx.b.c_str()) == 0);
  fx.d.advance(check_interval);
  CHECK(fx.list().size() == 1);
  CHECK(fx.seen->size() == 2);
}

TEST_CASE("share_registry runs a check on a tick from elsewhere without a second timer chain",
          "[share_registry][deterministic]") {
  registry_fixture fx;
  fx.d.advance(check_interval / 2);
  REQUIRE(::unlink(fx.a.c_str()) == 0);
  caf::anon_send(fx.reg, tick_atom::value);
  fx.d.run();
  CHECK(fx.list().size() == 1); // checked at once
  CHECK(fx.seen->size() == 2);
  // Its own timer fires at one period; a deletion right after it is seen one
  // period later, not half a period later (a timer chain started by the
  // foreign tick would have checked then).
  fx.d.advance(check_interval / 2);
  REQUIRE(::unlink(fx.b.c_str()) == 0);
  fx.d.advance(check_interval - 10ms);
  CHECK(fx.list().size() == 1);
  fx.d.advance(10ms);
  CHECK(fx.list().empty());
}

TEST_CASE("share_registry's tick stats only shares in changed directories, and the full check "
          "finds what inotify cannot see",
          "[share_registry][deterministic]") {
  // An idle tick that stat'ed every share cost ~1 ms per 2 s for 1,000 shares
  // (issue 9, idle CPU). A folder above the watched one renamed is invisible
  // to inotify (inotify(7)): only the full check notices the files are gone,
  // which shows the ticks in between stat'ed nothing.
  registry_fixture fx{"top/files"};
  fx.d.advance(check_interval); // the first tick checks the loaded shares
  REQUIRE(fx.list().size() == 2);
  REQUIRE(::rename(fx.dir.file("top").c_str(), fx.dir.file("moved").c_str()) == 0);
  fx.d.advance(full_check_interval - 2 * check_interval);
  CHECK(fx.list().size() == 2); // no tick saw it
  CHECK(fx.seen->size() == 1);
  fx.d.advance(2 * check_interval);
  CHECK(fx.list().empty()); // the full check did
  CHECK(fx.seen->size() == 2);
}

TEST_CASE("share_registry sees a change in a watched directory at the next tick, "
          "before any full check",
          "[share_registry][deterministic]") {
  registry_fixture fx{"top/files"};
  fx.d.advance(check_interval);
  // Renamed within its directory: an event there, so the next tick stats a.
  REQUIRE(::rename(fx.a.c_str(), (fx.a + ".old").c_str()) == 0);
  fx.d.advance(check_interval);
  auto l = fx.list();
  REQUIRE(l.size() == 1);
  CHECK(l[0].path == fx.b);
}
