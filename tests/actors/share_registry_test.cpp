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
#include "config/defaults.hpp"
#include <nlohmann/json.hpp>

#include "storage/fs.hpp"
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
    auto r = test::ask<share_result>(self, reg, share_atom::value, path);
    if (!r)
      return r.error();
    skipped = r->skipped;
    return r->shares;
  }
  std::vector<skipped_file> skipped; // of the last share()
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

  // Persisted: a manifest of up to 4 chunks inline in shares.json, larger
  // ones in their own file.
  auto saved = nlohmann::json::parse(*read_file(tmp.file("state/shares.json")));
  REQUIRE(saved.size() == 1);
  CHECK(saved[0].value("manifest_hex", "") == to_hex(m->data(), m->size()));
  CHECK_FALSE(stdfs::exists(tmp.file("state/manifests/" + s.id_hex + ".manifest")));
  write_file(tmp.file("data/big.bin"), random_bytes(5 * 4096, 'b'));
  auto big = fx.share(tmp.file("data/big.bin"));
  REQUIRE(big);
  CHECK(stdfs::exists(tmp.file("state/manifests/" + big->front().id_hex + ".manifest")));
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
  std::set<std::string> names;
  std::set<std::string> ids;
  for (auto& s : *l) {
    ids.insert(s.id_hex);
    names.insert(s.name);
  }
  // A folder's files are offered as a tree under the folder's name.
  CHECK(names == std::set<std::string>{"dir/one.txt", "dir/sub/one.txt", "dir/sub/two.txt",
                                       "dir/empty.txt"});
  CHECK(ids.size() == 4);

  SECTION("re-sharing is a no-op") {
    auto dir_again = fx.share(tmp.file("dir/"));
    REQUIRE(dir_again);
    CHECK(dir_again->size() == 4);
    auto l2 = fx.list();
    REQUIRE(l2);
    CHECK(l2->size() == 4);
  }
  SECTION("sharing a file of a shared folder again offers it under its own name") {
    auto again = fx.share(tmp.file("dir/one.txt"));
    REQUIRE(again);
    REQUIRE(again->size() == 1);
    CHECK(again->front().name == "one.txt");
    auto l2 = fx.list();
    REQUIRE(l2);
    CHECK(l2->size() == 4);
  }
  SECTION("unshare by folder name, file name, id and path") {
    auto by_folder = fx.unshare(std::string("dir/sub"));
    REQUIRE(by_folder);
    CHECK(by_folder->size() == 2);
    auto by_name = fx.unshare(std::string("dir/one.txt"));
    REQUIRE(by_name);
    CHECK(by_name->size() == 1);
    auto l2 = fx.list();
    REQUIRE(l2);
    REQUIRE(l2->size() == 1);
    auto by_id = fx.unshare(l2->front().id_hex);
    REQUIRE(by_id);
    CHECK(by_id->size() == 1);
    CHECK(fx.list()->empty());
    REQUIRE(fx.share(tmp.file("dir")));
    auto by_path = fx.unshare(tmp.file("dir"));
    REQUIRE(by_path);
    CHECK(by_path->size() == 4);
    auto again = fx.unshare(std::string("dir/one.txt"));
    REQUIRE(!again);
    CHECK(code_of(again.error()) == "not_found");
  }
}

TEST_CASE("share_registry offers every name of the same bytes, with one manifest",
          "[share_registry][names]") {
  temp_dir tmp;
  auto data = random_bytes(40000, 'a'); // 10 chunks: its manifest has a file
  tmp.write("d/a.bin", data);
  tmp.write("d/copy.bin", data);
  stdfs::create_hard_link(tmp.file("d/a.bin"), tmp.file("d/b.bin"));
  tmp.write("d/__init__.py", "");
  tmp.write("d/.keep", "");
  registry_fixture fx{tmp};
  auto res = fx.share(tmp.file("d"));
  REQUIRE(res);
  CHECK(res->size() == 5);
  std::set<std::string> names;
  std::set<std::string> ids;
  auto listed = fx.list();
  REQUIRE(listed);
  for (auto& s : *listed) {
    names.insert(s.name);
    ids.insert(s.id_hex);
  }
  CHECK(names == std::set<std::string>{"d/a.bin", "d/b.bin", "d/copy.bin", "d/__init__.py",
                                       "d/.keep"});
  CHECK(ids.size() == 2); // the 40000 bytes and the empty file
  CHECK(std::distance(stdfs::directory_iterator(tmp.file("state/manifests")),
                      stdfs::directory_iterator{})
        == 1); // the empty file's manifest is inline in shares.json
  // Unsharing one name keeps the manifest the other names still use.
  auto a = fx.unshare(std::string("d/a.bin"));
  REQUIRE(a);
  REQUIRE(a->size() == 1);
  CHECK(fx.manifest(a->front().id_hex));
  REQUIRE(fx.unshare(std::string("d/b.bin")));
  REQUIRE(fx.unshare(std::string("d/copy.bin")));
  CHECK_FALSE(fx.manifest(a->front().id_hex));
  CHECK_FALSE(stdfs::exists(tmp.file("state/manifests/" + a->front().id_hex + ".manifest")));
}

TEST_CASE("share_registry offers links under their own names and skips links leading "
          "outside the shared folder",
          "[share_registry][names]") {
  temp_dir tmp;
  tmp.write("share/v1.2.3.iso", random_bytes(5000, 'v'));
  tmp.write("private/secret.txt", "secret");
  stdfs::create_symlink("v1.2.3.iso", tmp.file("share/latest.iso"));
  stdfs::create_symlink("../private/secret.txt", tmp.file("share/alias.txt"));
  stdfs::create_symlink("nowhere", tmp.file("share/broken"));
  registry_fixture fx{tmp};
  auto res = fx.share(tmp.file("share"));
  REQUIRE(res);
  std::set<std::string> names;
  for (auto& s : *res)
    names.insert(s.name);
  CHECK(names == std::set<std::string>{"share/v1.2.3.iso", "share/latest.iso"});
  std::map<std::string, std::string> skipped;
  for (auto& s : fx.skipped)
    skipped[stdfs::path(s.path).filename().string()] = s.reason;
  CHECK(skipped.size() == 2);
  CHECK(skipped["alias.txt"] == "link leads outside the shared folder");
  CHECK(skipped["broken"] == "broken link");

  // A link shared directly: its target under the link's name.
  stdfs::create_symlink(tmp.file("share/v1.2.3.iso"), tmp.file("direct.iso"));
  auto direct = fx.share(tmp.file("direct.iso"));
  REQUIRE(direct);
  REQUIRE(direct->size() == 1);
  CHECK(direct->front().name == "direct.iso");
  CHECK(direct->front().size == 5000);
}

TEST_CASE("share_registry lists a folder's special files as skipped in its reply",
          "[share_registry][names]") {
  temp_dir tmp;
  tmp.write("share/a.txt", "a");
  REQUIRE(::mkfifo(tmp.file("share/pipe").c_str(), 0644) == 0);
  registry_fixture fx{tmp};
  auto res = fx.share(tmp.file("share"));
  REQUIRE(res);
  REQUIRE(res->size() == 1);
  CHECK(res->front().name == "share/a.txt");
  REQUIRE(fx.skipped.size() == 1);
  CHECK(fx.skipped[0].path == tmp.file("share/pipe"));
  CHECK(fx.skipped[0].reason == "special file (fifo, socket or device)");
}

TEST_CASE("share_registry announces a folder of many files in a few tables, not one "
          "per file",
          "[share_registry]") {
  temp_dir tmp;
  for (int i = 0; i < 600; ++i)
    tmp.write("many/d" + std::to_string(i % 6) + "/f" + std::to_string(i),
              random_bytes(100 + i, static_cast<uint32_t>(i)));
  registry_fixture fx{tmp};
  caf::scoped_actor listener{*fx.env.sys};
  caf::anon_send(fx.reg, subscribe_atom::value,
                 caf::actor_cast<shares_listener_actor>(listener));
  listener->receive([&](shares_atom, std::vector<share_info>&, uint32_t) {}); // initial
  auto res = fx.share(tmp.file("many"));
  REQUIRE(res);
  CHECK(res->size() == 600);
  // The reply comes after the table was saved and announced.
  size_t tables = 0;
  size_t last_size = 0;
  bool more = true;
  while (more)
    listener->receive(
      [&](shares_atom, std::vector<share_info>& t, uint32_t) {
        ++tables;
        last_size = t.size();
      },
      caf::after(std::chrono::milliseconds(300)) >> [&] { more = false; });
  CHECK(last_size == 600);
  CHECK(tables >= 1);
  CHECK(tables <= 3); // one per batch window, not 600
  auto saved = nlohmann::json::parse(*p2p::read_file(tmp.file("state/shares.json")));
  CHECK(saved.size() == 600);
}

TEST_CASE("share_registry reports the hashing still to do while batches are hashed",
          "[share_registry]") {
  // 600 files (three batches of at most 256): asked right behind the share,
  // the registry answers before the share ends, so every file not hashed yet
  // (queued or in a running batch) counts; afterwards nothing is left.
  temp_dir tmp;
  uint64_t total = 0;
  for (int i = 0; i < 600; ++i) {
    tmp.write("many/d" + std::to_string(i % 6) + "/f" + std::to_string(i),
              random_bytes(8000 + i, static_cast<uint32_t>(i)));
    total += 8000 + i;
  }
  registry_fixture fx{tmp};
  fx.self->send(fx.reg, share_atom::value, tmp.file("many"));
  fx.self->send(fx.reg, hash_atom::value);
  // Replies arrive in the order the registry sent them.
  std::vector<std::string> order;
  uint64_t files = 0, left = 0;
  for (int k = 0; k < 2; ++k)
    fx.self->receive(
      [&](share_result& r) {
        order.push_back("share");
        CHECK(r.shares.size() == 600);
      },
      [&](uint64_t f, uint64_t l) {
        order.push_back("hash");
        files = f;
        left = l;
      },
      caf::after(std::chrono::seconds(30)) >> [&] { order.push_back("timeout"); });
  REQUIRE(order.size() == 2);
  CHECK(order.front() != "timeout");
  if (order.front() == "hash") {
    CHECK(files > 0);
    CHECK(files <= 600);
    CHECK(left <= total);
  }
  uint64_t f2 = 1, l2 = 1;
  fx.self->request(fx.reg, std::chrono::seconds(10), hash_atom::value)
    .receive(
      [&](uint64_t f, uint64_t l) {
        f2 = f;
        l2 = l;
      },
      [&](caf::error&) {});
  CHECK(f2 == 0);
  CHECK(l2 == 0);
}

TEST_CASE("share_registry: a finished download of a folder's file is shared on under "
          "its tree name, its partial offer hidden while the id is shared",
          "[share_registry][swarm]") {
  temp_dir tmp;
  auto content = random_bytes(3 * 4096 + 5, 11);
  auto path = tmp.write("out/photos/2024/a.jpg", content);
  std::string err;
  auto m = build_manifest(path, 4096, err);
  REQUIRE(m);
  auto cid = content_id_of(*m);
  share_info info;
  info.name = "photos/2024/a.jpg";
  info.path = path + ".part";
  info.id_hex = to_hex(cid.data(), cid.size());
  info.size = content.size();
  info.chunk_size = 4096;
  info.have = {true, true, true, true};
  registry_fixture fx{tmp};
  caf::anon_send(fx.reg, partial_atom::value, info, serialize(*m));
  // A partial offer is served (manifest) but not one of this daemon's shares.
  CHECK(fx.manifest(info.id_hex));
  CHECK(fx.list()->empty());
  caf::anon_send(fx.reg, withdraw_atom::value, info.id_hex, path);
  auto l = fx.wait_for([](auto& l) { return !l.empty(); });
  REQUIRE(l.size() == 1);
  CHECK(l[0].name == "photos/2024/a.jpg"); // the name it was downloaded by
  CHECK(l[0].path == path);
  CHECK(l[0].id_hex == info.id_hex);
  CHECK_FALSE(l[0].partial);
  // Saved by the registry's next flush (share_flush_interval_ms), not at once.
  nlohmann::json saved;
  REQUIRE(test::eventually(
    [&] {
      auto text = p2p::read_file(tmp.file("state/shares.json"));
      saved = nlohmann::json::parse(text.value_or(""), nullptr, false);
      return saved.is_array() && saved.size() == 1;
    },
    std::chrono::milliseconds(defaults::share_flush_interval_ms) + 5s));
  CHECK(saved[0]["name"] == "photos/2024/a.jpg");
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

TEST_CASE("share_registry re-hashes a link's share when its target in another directory "
          "changes",
          "[share_registry]") {
  // The registry watches each share's directory and, for a link, its
  // target's: a change to the target alone must reach the link's share.
  temp_dir tmp;
  auto root = tmp.file("album");
  auto real = root + "/sub1/real.bin";
  write_file(real, random_bytes(9000, 'r'));
  set_mtime(real, 1'600'000'000);
  stdfs::create_directories(root + "/sub2");
  stdfs::create_symlink("../sub1/real.bin", root + "/sub2/link.bin");
  registry_fixture fx{tmp};
  auto res = fx.share(root);
  REQUIRE(res);
  REQUIRE(res->size() == 2);
  auto old_id = res->front().id_hex;
  REQUIRE(res->back().id_hex == old_id);

  write_file(real, random_bytes(9500, 'R'));
  set_mtime(real, 1'600'000'100);
  caf::anon_send(fx.reg, tick_atom::value);
  auto l = fx.wait_for([&](const std::vector<share_info>& l) {
    return l.size() == 2 && l[0].id_hex != old_id && l[1].id_hex != old_id;
  });
  REQUIRE(l.size() == 2);
  for (auto& s : l) {
    INFO(s.path);
    CHECK(s.id_hex != old_id);
    CHECK(s.size == 9500);
  }
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
