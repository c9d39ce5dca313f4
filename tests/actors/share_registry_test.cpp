// share_registry in an in-process actor system, on files in a temp dir.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/after.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/actors.hpp"
#include "storage/manifest.hpp"
#include "util/hex.hpp"

namespace {

using namespace p2p;
using namespace std::chrono_literals;
namespace stdfs = std::filesystem;

struct temp_dir {
  std::string path;
  temp_dir() {
    std::string tmpl = (stdfs::temp_directory_path() / "p2p-reg-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~temp_dir() {
    std::error_code ec;
    stdfs::remove_all(path, ec);
  }
};

void write_file(const std::string& path, const std::string& data) {
  stdfs::create_directories(stdfs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

// Sets the file's mtime to `secs` seconds after the epoch (deterministic change).
void set_mtime(const std::string& path, time_t secs) {
  struct timespec ts[2];
  ts[0].tv_sec = ts[1].tv_sec = secs;
  ts[0].tv_nsec = ts[1].tv_nsec = 0;
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), ts, 0) == 0);
}

std::string pattern(size_t n, char seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i)
    s[i] = static_cast<char>(seed + i * 7 + i / 251);
  return s;
}

struct system_fixture {
  caf::actor_system_config acfg;
  std::unique_ptr<caf::actor_system> sys;
  system_fixture() {
    acfg.load<caf::io::middleman>();
    sys = std::make_unique<caf::actor_system>(acfg);
  }
};

template <class T, class Handle, class... Ts>
caf::expected<T> ask(caf::scoped_actor& self, const Handle& h, Ts&&... xs) {
  caf::expected<T> out{caf::error{}};
  self->request(h, std::chrono::seconds(10), std::forward<Ts>(xs)...)
    .receive([&](T& x) { out = std::move(x); },
             [&](caf::error& e) { out = std::move(e); });
  return out;
}

std::string code_of(const caf::error& e) {
  return describe(e).first;
}

// Polls `list` until `pred(shares)` holds or the timeout passes.
template <class Pred>
std::vector<share_info> wait_for(caf::scoped_actor& self, const share_registry_actor& reg,
                                 Pred pred, std::chrono::milliseconds timeout = 8s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto l = ask<std::vector<share_info>>(self, reg, list_atom::value);
    REQUIRE(l);
    if (pred(*l) || std::chrono::steady_clock::now() > deadline)
      return *l;
    std::this_thread::sleep_for(50ms);
  }
}

config test_config(const temp_dir& tmp) {
  config cfg;
  cfg.state_dir = tmp.path + "/state";
  cfg.chunk_size = 4096;
  return cfg;
}

void stop(const share_registry_actor& reg) {
  caf::anon_send_exit(reg, caf::exit_reason::user_shutdown);
}

} // namespace

TEST_CASE("share_registry shares a file and serves its manifest", "[share_registry]") {
  temp_dir tmp;
  auto file = tmp.path + "/data/a.bin";
  auto content = pattern(10000, 'a');
  write_file(file, content);
  system_fixture fx;
  auto reg = spawn_share_registry(*fx.sys, test_config(tmp));
  caf::scoped_actor self{*fx.sys};

  auto res = ask<std::vector<share_info>>(self, reg, share_atom::value, file);
  REQUIRE(res);
  REQUIRE(res->size() == 1);
  auto s = res->front();
  CHECK(s.name == "a.bin");
  CHECK(s.path == file);
  CHECK(s.size == 10000);
  CHECK(s.chunk_size == 4096);
  CHECK(s.id_hex.size() == 64);

  auto m = ask<std::vector<char>>(self, reg, manifest_atom::value, s.id_hex);
  REQUIRE(m);
  auto d = sha256(m->data(), m->size());
  CHECK(to_hex(d.data(), d.size()) == s.id_hex);
  auto parsed = parse_manifest(m->data(), m->size());
  REQUIRE(parsed);
  CHECK(parsed->size == 10000);
  CHECK(parsed->chunk_count() == 3);
  CHECK(parsed->verify(2, content.data() + 8192, 10000 - 8192));

  auto missing = ask<std::vector<char>>(self, reg, manifest_atom::value,
                                        std::string(64, '0'));
  REQUIRE(!missing);
  CHECK(code_of(missing.error()) == "not_found");

  // Persisted.
  CHECK(stdfs::exists(tmp.path + "/state/shares.json"));
  CHECK(stdfs::exists(tmp.path + "/state/manifests/" + s.id_hex + ".manifest"));
  stop(reg);
}

TEST_CASE("share_registry rejects bad paths", "[share_registry]") {
  temp_dir tmp;
  system_fixture fx;
  auto reg = spawn_share_registry(*fx.sys, test_config(tmp));
  caf::scoped_actor self{*fx.sys};
  auto rel = ask<std::vector<share_info>>(self, reg, share_atom::value,
                                          std::string("relative/file"));
  REQUIRE(!rel);
  CHECK(code_of(rel.error()) == "bad_request");
  auto missing = ask<std::vector<share_info>>(self, reg, share_atom::value,
                                              tmp.path + "/nope");
  REQUIRE(!missing);
  CHECK(code_of(missing.error()) == "not_found");
  CHECK(describe(missing.error()).second == tmp.path + "/nope: No such file or directory");
  auto un = ask<std::vector<share_info>>(self, reg, unshare_atom::value,
                                         std::string("nothing"));
  REQUIRE(!un);
  CHECK(code_of(un.error()) == "not_found");
  stop(reg);
}

TEST_CASE("share_registry shares a directory recursively", "[share_registry]") {
  temp_dir tmp;
  write_file(tmp.path + "/dir/one.txt", pattern(5000, '1'));
  write_file(tmp.path + "/dir/sub/two.txt", pattern(100, '2'));
  write_file(tmp.path + "/dir/sub/one.txt", pattern(7000, '3')); // same name
  write_file(tmp.path + "/dir/empty.txt", "");
  system_fixture fx;
  auto reg = spawn_share_registry(*fx.sys, test_config(tmp));
  caf::scoped_actor self{*fx.sys};
  auto res = ask<std::vector<share_info>>(self, reg, share_atom::value,
                                          tmp.path + "/dir");
  REQUIRE(res);
  CHECK(res->size() == 4);
  auto l = ask<std::vector<share_info>>(self, reg, list_atom::value);
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
    auto again = ask<std::vector<share_info>>(self, reg, share_atom::value,
                                              tmp.path + "/dir/one.txt");
    REQUIRE(again);
    REQUIRE(again->size() == 1);
    auto l2 = ask<std::vector<share_info>>(self, reg, list_atom::value);
    REQUIRE(l2);
    CHECK(l2->size() == 4);
    auto dir_again = ask<std::vector<share_info>>(self, reg, share_atom::value,
                                                  tmp.path + "/dir/");
    REQUIRE(dir_again);
    CHECK(dir_again->size() == 4);
  }
  SECTION("unshare by name, id and path") {
    auto by_name = ask<std::vector<share_info>>(self, reg, unshare_atom::value,
                                                std::string("one.txt"));
    REQUIRE(by_name);
    CHECK(by_name->size() == 2);
    auto l2 = ask<std::vector<share_info>>(self, reg, list_atom::value);
    REQUIRE(l2);
    REQUIRE(l2->size() == 2);
    auto id = l2->front().id_hex;
    auto by_id = ask<std::vector<share_info>>(self, reg, unshare_atom::value, id);
    REQUIRE(by_id);
    CHECK(by_id->size() == 1);
    auto by_path = ask<std::vector<share_info>>(self, reg, unshare_atom::value,
                                                tmp.path + "/dir");
    REQUIRE(by_path);
    CHECK(by_path->size() == 1);
    auto l3 = ask<std::vector<share_info>>(self, reg, list_atom::value);
    REQUIRE(l3);
    CHECK(l3->empty());
    auto again = ask<std::vector<share_info>>(self, reg, unshare_atom::value,
                                              std::string("one.txt"));
    REQUIRE(!again);
    CHECK(code_of(again.error()) == "not_found");
  }
  stop(reg);
}

TEST_CASE("share_registry notifies subscribers", "[share_registry]") {
  temp_dir tmp;
  write_file(tmp.path + "/f.bin", pattern(3000, 'f'));
  system_fixture fx;
  auto reg = spawn_share_registry(*fx.sys, test_config(tmp));
  caf::scoped_actor self{*fx.sys};
  caf::scoped_actor listener{*fx.sys};
  caf::anon_send(reg, subscribe_atom::value,
                 caf::actor_cast<shares_listener_actor>(listener));
  uint32_t v0 = 0;
  listener->receive([&](shares_atom, std::vector<share_info>& t, uint32_t v) {
    CHECK(t.empty());
    v0 = v;
  }, caf::after(5s) >> [] { FAIL("no initial table"); });
  auto res = ask<std::vector<share_info>>(self, reg, share_atom::value,
                                          tmp.path + "/f.bin");
  REQUIRE(res);
  listener->receive([&](shares_atom, std::vector<share_info>& t, uint32_t v) {
    CHECK(t.size() == 1);
    CHECK(v > v0);
  }, caf::after(5s) >> [] { FAIL("no update"); });
  // A no-op re-share sends nothing.
  auto again = ask<std::vector<share_info>>(self, reg, share_atom::value,
                                            tmp.path + "/f.bin");
  REQUIRE(again);
  bool got = false;
  listener->receive([&](shares_atom, std::vector<share_info>&, uint32_t) { got = true; },
                    caf::after(300ms) >> [] {});
  CHECK(!got);
  stop(reg);
}

TEST_CASE("share_registry re-hashes a changed file", "[share_registry]") {
  temp_dir tmp;
  auto file = tmp.path + "/c.bin";
  write_file(file, pattern(9000, 'c'));
  set_mtime(file, 1'600'000'000);
  system_fixture fx;
  auto reg = spawn_share_registry(*fx.sys, test_config(tmp));
  caf::scoped_actor self{*fx.sys};
  auto res = ask<std::vector<share_info>>(self, reg, share_atom::value, file);
  REQUIRE(res);
  REQUIRE(res->size() == 1);
  auto old_id = res->front().id_hex;

  write_file(file, pattern(9500, 'd'));
  set_mtime(file, 1'600'000'100);
  caf::anon_send(reg, tick_atom::value);
  auto l = wait_for(self, reg, [&](const std::vector<share_info>& l) {
    return l.size() == 1 && l.front().id_hex != old_id;
  });
  REQUIRE(l.size() == 1);
  CHECK(l.front().id_hex != old_id);
  CHECK(l.front().size == 9500);
  auto m_old = ask<std::vector<char>>(self, reg, manifest_atom::value, old_id);
  CHECK(!m_old);
  auto m_new = ask<std::vector<char>>(self, reg, manifest_atom::value,
                                      l.front().id_hex);
  CHECK(m_new);

  // A removed file is withdrawn.
  stdfs::remove(file);
  caf::anon_send(reg, tick_atom::value);
  auto gone = wait_for(self, reg, [](const std::vector<share_info>& l) { return l.empty(); });
  CHECK(gone.empty());
  stop(reg);
}

TEST_CASE("share_registry persists shares across restarts", "[share_registry]") {
  temp_dir tmp;
  auto keep = tmp.path + "/keep.bin";
  auto gone = tmp.path + "/gone.bin";
  auto edit = tmp.path + "/edit.bin";
  write_file(keep, pattern(20000, 'k'));
  write_file(gone, pattern(300, 'g'));
  write_file(edit, pattern(5000, 'e'));
  set_mtime(edit, 1'600'000'000);
  std::string keep_id, edit_id;
  {
    system_fixture fx;
    auto reg = spawn_share_registry(*fx.sys, test_config(tmp));
    caf::scoped_actor self{*fx.sys};
    for (auto& f : {keep, gone, edit}) {
      auto r = ask<std::vector<share_info>>(self, reg, share_atom::value, f);
      REQUIRE(r);
      REQUIRE(r->size() == 1);
      if (f == keep)
        keep_id = r->front().id_hex;
      if (f == edit)
        edit_id = r->front().id_hex;
    }
    stop(reg);
  }
  stdfs::remove(gone);
  write_file(edit, pattern(5000, 'E'));
  set_mtime(edit, 1'600'000'500);
  {
    system_fixture fx;
    auto reg = spawn_share_registry(*fx.sys, test_config(tmp));
    caf::scoped_actor self{*fx.sys};
    auto l = wait_for(self, reg, [&](const std::vector<share_info>& l) {
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
    auto m = ask<std::vector<char>>(self, reg, manifest_atom::value, keep_id);
    REQUIRE(m);
    auto d = sha256(m->data(), m->size());
    CHECK(to_hex(d.data(), d.size()) == keep_id);
    CHECK(!stdfs::exists(tmp.path + "/state/manifests/" + edit_id + ".manifest"));
    stop(reg);
  }
}

TEST_CASE("share_registry hashes a directory of many files", "[share_registry]") {
  temp_dir tmp;
  for (int i = 0; i < 40; ++i)
    write_file(tmp.path + "/many/d" + std::to_string(i % 3) + "/f" + std::to_string(i),
               pattern(1000 + i * 37, static_cast<char>(i)));
  system_fixture fx;
  auto reg = spawn_share_registry(*fx.sys, test_config(tmp));
  caf::scoped_actor self{*fx.sys};
  auto res = ask<std::vector<share_info>>(self, reg, share_atom::value,
                                          tmp.path + "/many");
  REQUIRE(res);
  CHECK(res->size() == 40);
  auto l = ask<std::vector<share_info>>(self, reg, list_atom::value);
  REQUIRE(l);
  CHECK(l->size() == 40);
  stop(reg);
}
