// A download inside one actor system against three seeder daemons (real
// share_registry + peer_server actors on loopback): one serves good data, one
// serves a copy corrupted after sharing, one dies halfway.
#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <fcntl.h>
#include <sys/stat.h>

#include "actors/system.hpp"
#include "storage/manifest.hpp"
#include "tests/support/actor_env.hpp"
#include "util/hex.hpp"

using namespace p2p;
using namespace p2p::test;
using namespace std::chrono_literals;

namespace {

struct daemon_in_process {
  temp_dir dir;
  config cfg;
  daemon_handles h;
  bool running = false;

  daemon_in_process(caf::actor_system& sys, nlohmann::json overrides) {
    cfg = test_config(dir.path() + "/state", std::move(overrides));
    auto started = start_daemon(sys, cfg, "cookie");
    REQUIRE(started);
    h = *started;
    running = true;
  }

  std::string endpoint() const {
    return "127.0.0.1:" + std::to_string(h.self.peer_port);
  }

  void stop(caf::actor_system& sys) {
    if (running)
      stop_daemon(sys, h);
    running = false;
  }

  caf::expected<std::vector<file_offer>> files(caf::scoped_actor& self) {
    return ask<std::vector<file_offer>>(self, h.catalog, list_atom::value);
  }

  // Starts downloading content `id_hex` into dir/out.
  caf::expected<download_info> download(caf::scoped_actor& self, const std::string& id_hex) {
    download_request req;
    req.id_hex = id_hex;
    req.out_dir = dir.file("out");
    return ask<download_info>(self, h.downloads, download_atom::value, req);
  }

  caf::expected<download_info> status(caf::scoped_actor& self, uint64_t key) {
    return ask<download_info>(self, h.downloads, status_atom::value, key);
  }
};

share_info share(caf::scoped_actor& self, daemon_in_process& d, const std::string& path) {
  auto res = ask<share_result>(self, d.h.registry, share_atom::value, path);
  REQUIRE(res);
  REQUIRE(res->shares.size() == 1);
  return res->shares.front();
}

// Overwrites a file with other bytes of the same size, keeping its mtime, so
// the seeder does not notice and serves bytes that fail the manifest.
void corrupt_in_place(const std::string& path, uint32_t seed) {
  struct stat before;
  REQUIRE(::stat(path.c_str(), &before) == 0);
  auto garbage = random_bytes(static_cast<size_t>(before.st_size), seed);
  write_file(path, garbage);
  struct timespec ts[2] = {before.st_atim, before.st_mtim};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), ts, 0) == 0);
}

const peer_bytes* peer_of(const download_info& d, const std::string& addr) {
  for (const auto& p : d.peers)
    if (p.addr == addr)
      return &p;
  return nullptr;
}

} // namespace

TEST_CASE("a download survives a corrupt seeder and a seeder that dies",
          "[download]") {
  actor_env env;
  auto& sys = *env.sys;
  caf::scoped_actor self{sys};
  const auto content = random_bytes(6 << 20, 7);
  // Slow seeders, so the download is still running when one of them dies.
  nlohmann::json seed_cfg{{"chunk_size", 65536}, {"upload_rate_limit", 3 << 20}};
  daemon_in_process good(sys, seed_cfg), corrupt(sys, seed_cfg), dying(sys, seed_cfg);
  std::string id;
  for (auto* d : {&good, &corrupt, &dying}) {
    auto path = d->dir.path() + "/file.bin";
    write_file(path, content);
    id = share(self, *d, path).id_hex;
  }
  corrupt_in_place(corrupt.dir.path() + "/file.bin", 99);

  daemon_in_process leecher(
    sys, {{"peers", {good.endpoint(), corrupt.endpoint(), dying.endpoint()}},
          {"requests_in_flight", 4}});
  REQUIRE(eventually(
    [&] {
      auto files = leecher.files(self);
      return files && files->size() == 1 && files->front().seeders.size() == 3;
    },
    10s));

  auto started = leecher.download(self, id);
  REQUIRE(started);
  auto key = started->key;
  auto status = [&] {
    auto d = leecher.status(self, key);
    REQUIRE(d);
    return *d;
  };
  // Kill the third seeder once it has delivered something.
  REQUIRE(eventually(
    [&] {
      // Keep the status alive: peer_of points into it (ASan found this
      // reading a destroyed temporary).
      auto now = status();
      auto p = peer_of(now, dying.endpoint());
      return p && p->bytes > 0;
    },
    20s));
  dying.stop(sys);

  REQUIRE(eventually([&] { return is_final(status()); }, 60s));
  auto d = status();
  INFO("error: " << d.error);
  REQUIRE(d.state == dl_state::complete);
  CHECK(d.bytes_done == content.size());
  CHECK(read_whole(d.out_path) == content);
  CHECK_FALSE(std::filesystem::exists(d.out_path + ".part"));

  auto bad = peer_of(d, corrupt.endpoint());
  REQUIRE(bad);
  CHECK(bad->state == seeder_state::dropped);
  CHECK(bad->error.find("hash") != std::string::npos);
  CHECK(bad->bytes == 0);
  auto dead = peer_of(d, dying.endpoint());
  REQUIRE(dead);
  CHECK(dead->state != seeder_state::active);
  CHECK_FALSE(dead->error.empty());
  // Every byte came from a seeder that served good data.
  CHECK(peer_of(d, good.endpoint())->bytes + dead->bytes == content.size());

  for (auto* dm : {&leecher, &good, &corrupt})
    dm->stop(sys);
}

TEST_CASE("a download fails cleanly when no seeder can deliver", "[download]") {
  actor_env env;
  auto& sys = *env.sys;
  caf::scoped_actor self{sys};
  const auto content = random_bytes(300000, 3);
  daemon_in_process corrupt(sys, {{"chunk_size", 65536}});
  auto path = corrupt.dir.path() + "/file.bin";
  write_file(path, content);
  auto id = share(self, corrupt, path).id_hex;
  corrupt_in_place(path, 5);

  daemon_in_process leecher(sys, {{"peers", {corrupt.endpoint()}}});
  REQUIRE(eventually(
    [&] {
      auto f = leecher.files(self);
      return f && f->size() == 1;
    },
    10s));
  auto started = leecher.download(self, id);
  REQUIRE(started);
  download_info d;
  REQUIRE(eventually(
    [&] {
      d = *leecher.status(self, started->key);
      return d.state == dl_state::failed;
    },
    30s));
  CHECK(d.error.find("no seeder could finish") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(d.out_path + ".part"));
  CHECK_FALSE(std::filesystem::exists(d.out_path));
  auto records = leecher.dir.path() + "/state/downloads"; // made by the first record, if any
  CHECK((!std::filesystem::exists(records) || std::filesystem::is_empty(records)));
  leecher.stop(sys);
  corrupt.stop(sys);
}
