// share_registry in an in-process actor system, on files in a temp dir.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include <caf/after.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/actors.hpp"
#include "storage/manifest.hpp"
#include "tests/support/actor_env.hpp"
#include "util/hex.hpp"

namespace {

using namespace p2p;
using namespace std::chrono_literals;
using test::random_bytes;
using test::temp_dir;
using test::write_file;
namespace stdfs = std::filesystem;

// Sets the file's mtime to `secs` seconds after the epoch (deterministic change).
void set_mtime(const std::string& path, time_t secs) {
  struct timespec ts[2];
  ts[0].tv_sec = ts[1].tv_sec = secs;
  ts[0].tv_nsec = ts[1].tv_nsec = 0;
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), ts, 0) == 0);
}

std::string code_of(const caf::error& e) {
  return describe(e).first;
}

config registry_config(const temp_dir& tmp) {
  config cfg;
  cfg.state_dir = tmp.file("state");
  cfg.chunk_size = 4096;
  return cfg;
}

using shares = caf::expected<std::vector<share_info>>;

// An actor system with a share_registry on tmp/state, stopped at the end.
struct registry_fixture {
  test::actor_env env;
  share_registry_actor reg;
  caf::scoped_actor self;

  explicit registry_fixture(const temp_dir& tmp)
    : reg(spawn_share_registry(*env.sys, registry_config(tmp))), self(*env.sys) {}
  ~registry_fixture() { caf::anon_send_exit(reg, caf::exit_reason::user_shutdown); }

  shares share(const std::string& path) {
    return test::ask<std::vector<share_info>>(self, reg, share_atom::value, path);
  }
  shares unshare(const std::string& what) {
    return test::ask<std::vector<share_info>>(self, reg, unshare_atom::value, what);
  }
  shares list() { return test::ask<std::vector<share_info>>(self, reg, list_atom::value); }
  caf::expected<std::vector<char>> manifest(const std::string& id_hex) {
    return test::ask<std::vector<char>>(self, reg, manifest_atom::value, id_hex);
  }

  // Polls list() until `pred(shares)` holds or the timeout passes.
  template <class Pred>
  std::vector<share_info> wait_for(Pred pred, std::chrono::milliseconds timeout = 8s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto l = list();
      REQUIRE(l);
      if (pred(*l) || std::chrono::steady_clock::now() > deadline)
        return *l;
      std::this_thread::sleep_for(50ms);
    }
  }
};

} // namespace

TEST_CASE("share_registry shares a file and serves its manifest", "[share_registry]") {
  temp_dir tmp;
  auto file = tmp.file("data/a.bin");
  auto content = random_bytes(10000, 'a');
  write_file(file, content);
  registry_fixture fx{tmp};

  auto res = fx.share(file);
  REQUIRE(res);
  REQUIRE(res->size() == 1);
  auto s = res->front();
  CHECK(s.name == "a.bin");
  CHECK(s.path == file);
  CHECK(s.size == 10000);
  CHECK(s.chunk_size == 4096);
  CHECK(s.id_hex.size() == 64);

  auto m = fx.manifest(s.id_hex);
  REQUIRE(m);
  auto d = sha256(m->data(), m->size());
  CHECK(to_hex(d.data(), d.size()) == s.id_hex);
  auto parsed = parse_manifest(m->data(), m->size());
  REQUIRE(parsed);
  CHECK(parsed->size == 10000);
  CHECK(parsed->chunk_count() == 3);
  CHECK(parsed->verify(2, content.data() + 8192, 10000 - 8192));

  auto missing = fx.manifest(std::string(64, '0'));
  REQUIRE(!missing);
  CHECK(code_of(missing.error()) == "not_found");

  // Persisted.
  CHECK(stdfs::exists(tmp.file("state/shares.json")));
  CHECK(stdfs::exists(tmp.file("state/manifests/" + s.id_hex + ".manifest")));
}

TEST_CASE("share_registry rejects bad paths", "[share_registry]") {
  temp_dir tmp;
  registry_fixture fx{tmp};
  auto rel = fx.share(std::string("relative/file"));
  REQUIRE(!rel);
  CHECK(code_of(rel.error()) == "bad_request");
  auto missing = fx.share(tmp.file("nope"));
  REQUIRE(!missing);
  CHECK(code_of(missing.error()) == "not_found");
  CHECK(describe(missing.error()).second == tmp.file("nope") + ": No such file or directory");
  auto un = fx.unshare(std::string("nothing"));
  REQUIRE(!un);
  CHECK(code_of(un.error()) == "not_found");
}

TEST_CASE("share_registry shares a directory recursively", "[share_registry]") {
  temp_dir tmp;
  tmp.write("dir/one.txt", random_bytes(5000, '1'));
  tmp.write("dir/sub/two.txt", random_bytes(100, '2'));
  tmp.write("dir/sub/one.txt", random_bytes(7000, '3')); // same name
  tmp.write("dir/empty.txt", "");
  registry_fixture fx{tmp};
  auto res = fx.share(tmp.file("dir"));
  REQUIRE(res);
  CHECK(res->size() == 4);
  auto l = fx.list();
  REQUIRE(l);
  CHECK(l->size() == 4);
  size_t ones = 0;
  std::set<std::string> ids;
  for (auto& s : *l) {
    ids.insert(s.id_hex);
    if (s.name == "one.txt")
      ++ones;
  }
  CHECK(ones == 2);
  CHECK(ids.size() == 4);

  SECTION("re-sharing is a no-op") {
    auto again = fx.share(tmp.file("dir/one.txt"));
    REQUIRE(again);
    REQUIRE(again->size() == 1);
    auto l2 = fx.list();
    REQUIRE(l2);
    CHECK(l2->size() == 4);
    auto dir_again = fx.share(tmp.file("dir/"));
    REQUIRE(dir_again);
    CHECK(dir_again->size() == 4);
  }
  SECTION("unshare by name, id and path") {
    auto by_name = fx.unshare(std::string("one.txt"));
    REQUIRE(by_name);
    CHECK(by_name->size() == 2);
    auto l2 = fx.list();
    REQUIRE(l2);
    REQUIRE(l2->size() == 2);
    auto id = l2->front().id_hex;
    auto by_id = fx.unshare(id);
    REQUIRE(by_id);
    CHECK(by_id->size() == 1);
    auto by_path = fx.unshare(tmp.file("dir"));
    REQUIRE(by_path);
    CHECK(by_path->size() == 1);
    auto l3 = fx.list();
    REQUIRE(l3);
    CHECK(l3->empty());
    auto again = fx.unshare(std::string("one.txt"));
    REQUIRE(!again);
    CHECK(code_of(again.error()) == "not_found");
  }
}

TEST_CASE("share_registry notifies subscribers", "[share_registry]") {
  temp_dir tmp;
  tmp.write("f.bin", random_bytes(3000, 'f'));
  registry_fixture fx{tmp};
  caf::scoped_actor listener{*fx.env.sys};
  caf::anon_send(fx.reg, subscribe_atom::value,
                 caf::actor_cast<shares_listener_actor>(listener));
  uint32_t v0 = 0;
  listener->receive([&](shares_atom, std::vector<share_info>& t, uint32_t v) {
    CHECK(t.empty());
    v0 = v;
  }, caf::after(5s) >> [] { FAIL("no initial table"); });
  auto res = fx.share(tmp.file("f.bin"));
  REQUIRE(res);
  listener->receive([&](shares_atom, std::vector<share_info>& t, uint32_t v) {
    CHECK(t.size() == 1);
    CHECK(v > v0);
  }, caf::after(5s) >> [] { FAIL("no update"); });
  // A no-op re-share sends nothing.
  auto again = fx.share(tmp.file("f.bin"));
  REQUIRE(again);
  bool got = false;
  listener->receive([&](shares_atom, std::vector<share_info>&, uint32_t) { got = true; },
                    caf::after(300ms) >> [] {});
  CHECK(!got);
}

TEST_CASE("share_registry re-hashes a changed file", "[share_registry]") {
  temp_dir tmp;
  auto file = tmp.file("c.bin");
  write_file(file, random_bytes(9000, 'c'));
  set_mtime(file, 1'600'000'000);
  registry_fixture fx{tmp};
  auto res = fx.share(file);
  REQUIRE(res);
  REQUIRE(res->size() == 1);
  auto old_id = res->front().id_hex;

  write_file(file, random_bytes(9500, 'd'));
  set_mtime(file, 1'600'000'100);
  caf::anon_send(fx.reg, tick_atom::value);
  auto l = fx.wait_for([&](const std::vector<share_info>& l) {
    return l.size() == 1 && l.front().id_hex != old_id;
  });
  REQUIRE(l.size() == 1);
  CHECK(l.front().id_hex != old_id);
  CHECK(l.front().size == 9500);
  auto m_old = fx.manifest(old_id);
  CHECK(!m_old);
  auto m_new = fx.manifest(l.front().id_hex);
  CHECK(m_new);

  // A removed file is withdrawn.
  stdfs::remove(file);
  caf::anon_send(fx.reg, tick_atom::value);
  auto gone = fx.wait_for([](const std::vector<share_info>& l) { return l.empty(); });
  CHECK(gone.empty());
}

TEST_CASE("share_registry persists shares across restarts", "[share_registry]") {
  temp_dir tmp;
  auto keep = tmp.file("keep.bin");
  auto gone = tmp.file("gone.bin");
  auto edit = tmp.file("edit.bin");
  write_file(keep, random_bytes(20000, 'k'));
  write_file(gone, random_bytes(300, 'g'));
  write_file(edit, random_bytes(5000, 'e'));
  set_mtime(edit, 1'600'000'000);
  std::string keep_id, edit_id;
  {
    registry_fixture fx{tmp};
    for (auto& f : {keep, gone, edit}) {
      auto r = fx.share(f);
      REQUIRE(r);
      REQUIRE(r->size() == 1);
      if (f == keep)
        keep_id = r->front().id_hex;
      if (f == edit)
        edit_id = r->front().id_hex;
    }
  }
  stdfs::remove(gone);
  write_file(edit, random_bytes(5000, 'E'));
  set_mtime(edit, 1'600'000'500);
  {
    registry_fixture fx{tmp};
    auto l = fx.wait_for([&](const std::vector<share_info>& l) {
      return l.size() == 2;
    });
    REQUIRE(l.size() == 2);
    std::map<std::string, share_info> by_name;
    for (auto& s : l)
      by_name[s.name] = s;
    REQUIRE(by_name.count("keep.bin") == 1);
    REQUIRE(by_name.count("edit.bin") == 1);
    CHECK(by_name["keep.bin"].id_hex == keep_id);
    CHECK(by_name["edit.bin"].id_hex != edit_id);
    auto m = fx.manifest(keep_id);
    REQUIRE(m);
    auto d = sha256(m->data(), m->size());
    CHECK(to_hex(d.data(), d.size()) == keep_id);
    CHECK(!stdfs::exists(tmp.file("state/manifests/" + edit_id + ".manifest")));
  }
}

TEST_CASE("share_registry hashes a directory of many files", "[share_registry]") {
  temp_dir tmp;
  for (int i = 0; i < 40; ++i)
    tmp.write("many/d" + std::to_string(i % 3) + "/f" + std::to_string(i),
              random_bytes(1000 + i * 37, static_cast<uint32_t>(i)));
  registry_fixture fx{tmp};
  auto res = fx.share(tmp.file("many"));
  REQUIRE(res);
  CHECK(res->size() == 40);
  auto l = fx.list();
  REQUIRE(l);
  CHECK(l->size() == 40);
}
