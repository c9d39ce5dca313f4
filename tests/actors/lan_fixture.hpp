#pragma once
// The daemon's download side on a deterministic actor system
// (tests/support/deterministic.hpp): a real catalog and download_manager
// whose peer queries and seeder connections reach a fake LAN. The test adds
// seeders, plays their fetchers' part and moves the clock.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/actors.hpp"
#include "config/defaults.hpp"
#include "storage/manifest.hpp"
#include "tests/support/actor_env.hpp"
#include "tests/support/deterministic.hpp"
#include "util/hex.hpp"

namespace p2p::test {

// A file some fake seeders offer: its bytes, manifest and content id.
struct fake_file {
  std::string name;
  std::string data;
  manifest man;
  std::vector<char> manifest_bytes;
  std::string id_hex;

  // `size` seeded random bytes in chunks of `chunk_size`.
  fake_file(std::string file_name, size_t size, uint64_t seed, uint32_t chunk_size = 4096)
    : name(std::move(file_name)), data(random_bytes(size, seed)) {
    man.size = size;
    man.chunk_size = chunk_size;
    for (uint64_t off = 0; off < size; off += chunk_size)
      man.hashes.push_back(
        sha256(data.data() + off, std::min<uint64_t>(chunk_size, size - off)));
    manifest_bytes = serialize(man);
    auto d = sha256(manifest_bytes.data(), manifest_bytes.size());
    id_hex = to_hex(d.data(), d.size());
  }

  uint32_t chunks() const { return man.chunk_count(); }
  std::string chunk(uint32_t i) const {
    return data.substr(man.chunk_offset(i), man.chunk_length(i));
  }
};

struct lan_fixture {
  deterministic_system d;
  std::shared_ptr<fake_lan> lan = std::make_shared<fake_lan>();
  temp_dir dir;
  config cfg;
  identity me{0x5e1f, "10.0.0.100", 7647};
  catalog_actor catalog;
  download_manager_actor manager;

  // Peers never expire (the tests move the clock far) unless `overrides`
  // says otherwise; two requests in flight per seeder, so two seeders share
  // a small file.
  explicit lan_fixture(nlohmann::json overrides = nlohmann::json::object()) {
    if (!overrides.contains("peer_expiry_ms"))
      overrides["peer_expiry_ms"] = 86400000;
    if (!overrides.contains("requests_in_flight"))
      overrides["requests_in_flight"] = 2;
    cfg = test_config(dir.file("state"), overrides);
    catalog = d.own(spawn_catalog(d.sys(), cfg, me, lan->links()));
    start_manager();
  }

  // A new download_manager on the same state dir (the old one, if any, stays
  // until the fixture ends): it resumes the downloads that have a record.
  void start_manager() {
    manager = d.own(spawn_download_manager(d.sys(), cfg, me, catalog, {}, lan->links()));
    d.run();
  }

  // Seeder `n` (10.0.0.n:7000, peer id n) offering `files`, announced to the
  // catalog. Returns its endpoint.
  std::string add_seeder(uint64_t n, const std::vector<const fake_file*>& files) {
    auto host = "10.0.0." + std::to_string(n);
    auto endpoint = host + ":7000";
    auto& p = lan->peers[endpoint];
    p.peer_id = n;
    for (auto* f : files) {
      p.files.push_back(remote_file{f->name, f->id_hex, f->man.size});
      p.manifests[f->id_hex] = f->manifest_bytes;
    }
    caf::anon_send(catalog, sighting_atom::value, peer_sighting{n, host, 7000, 1, false});
    d.run();
    return endpoint;
  }

  std::string out_dir() const { return dir.file("out"); }

  caf::expected<download_info> download(const std::string& name, bool overwrite = false) {
    download_request req;
    req.name = name;
    req.out_dir = out_dir();
    req.overwrite = overwrite;
    return d.ask<download_info>(manager, download_atom::value, req);
  }

  download_info status(uint64_t key) {
    return d.get<download_info>(manager, status_atom::value, key);
  }

  // A download's status as its next progress report (one download tick
  // later) tells it: downloads report on their tick and when they end.
  download_info reported(uint64_t key) {
    d.advance(std::chrono::milliseconds(defaults::download_tick_ms));
    return status(key);
  }

  // The fetcher tells its download the connection is up.
  void ready(const fake_lan::fetcher& f) {
    caf::anon_send(f.owner, ready_atom::value, f.key);
    d.run();
  }

  // The fetcher delivers chunk `index` holding `bytes`.
  void deliver(const fake_lan::fetcher& f, uint32_t index, const std::string& bytes) {
    caf::anon_send(f.owner, chunk_atom::value, f.key, index, chunk_payload(index, bytes));
    d.run();
  }

  // The fetcher reports the seeder's error frame for chunk `index`.
  void fail(const fake_lan::fetcher& f, uint32_t index, proto::error_code code) {
    caf::anon_send(f.owner, failed_atom::value, f.key, index, code,
                   std::string{"from the test"});
    d.run();
  }

  // The fetcher's connection ends: it reports lost (`why`) and quits.
  void lose(fake_lan::fetcher& f, const std::string& why = "connection lost") {
    f.lost_reason = why;
    auto hdl = caf::actor_cast<range_fetcher_actor>(f.addr);
    REQUIRE(hdl);
    caf::anon_send(hdl, tick_atom::value);
    d.run();
  }

  // Answers every request not answered yet of every open fetcher, in order,
  // with the chunk's bytes, or with what `bytes_for` returns when given, until
  // no request is left unanswered. Returns the number of chunks sent.
  size_t serve(const fake_file& f,
               std::function<std::string(const fake_lan::fetcher&, uint32_t)> bytes_for = {}) {
    size_t sent = 0;
    for (bool progress = true; progress;) {
      progress = false;
      for (size_t i = 0; i < lan->fetchers.size(); ++i) {
        auto fe = lan->fetchers[i];
        while (!fe->stopped && answered_[fe.get()] < fe->fetched.size()) {
          auto index = fe->fetched[answered_[fe.get()]++];
          deliver(*fe, index, bytes_for ? bytes_for(*fe, index) : f.chunk(index));
          ++sent;
          progress = true;
        }
      }
    }
    return sent;
  }

private:
  std::map<const fake_lan::fetcher*, size_t> answered_;
};

// The seeder entry of `addr` in a download's status; fails the test when
// there is none.
inline const peer_bytes& seeder_of(const download_info& d, const std::string& addr) {
  const peer_bytes* found = nullptr;
  for (const auto& p : d.peers)
    if (p.addr == addr)
      found = &p;
  INFO("seeder " << addr << " in the status of " << d.name);
  REQUIRE(found != nullptr);
  return *found;
}

} // namespace p2p::test
