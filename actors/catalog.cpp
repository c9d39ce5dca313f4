// catalog: the peers this daemon knows (multicast sightings and static
// --peer endpoints) and the files each offers. Catalogs are fetched over TCP
// with a short-lived peer_query per fetch.
#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/actors.hpp"
#include "actors/crash_hook.hpp"
#include "config/defaults.hpp"
#include "util/net.hpp"

namespace p2p {

namespace {

// Time is the actor system's clock (self->clock().now(): steady_clock in the
// daemon, the test clock in the deterministic actor tests).
using clock_type = std::chrono::steady_clock;

// Expiry and static polls run on a tick of at most a second (shorter when
// peer_expiry_ms is short, as in tests).
constexpr uint32_t max_tick_ms = defaults::catalog_max_tick_ms;

struct peer_entry {
  std::string host;
  uint16_t port = 0;
  uint64_t peer_id = 0;               // 0 until known
  std::vector<remote_file> files;
  clock_type::time_point last_seen;   // last sighting or successful fetch
  uint32_t catalog_version = 0;       // latest announced
  // The version of `files` as the peer told it (0: not told): the next
  // fetch asks for the catalog only if it changed (catalog_same otherwise;
  // static peers are polled every announce interval, and each poll fetched
  // the whole catalog: ~57 KB for 1,000 files).
  uint32_t fetched_version = 0;
  bool plain_only = false;            // refused a conditional request (an older build)
  bool has_catalog = false;           // the last fetch succeeded
  bool is_static = false;
  bool fetching = false;
  bool refetch = false;               // asked again while a fetch was running
};

struct catalog_state {
  static inline const char* name = "catalog";

  identity me;
  peer_links links; // peer_query spawner
  uint32_t announce_interval_ms = defaults::announce_interval_ms;
  uint32_t peer_expiry_ms = defaults::peer_expiry_ms;
  uint32_t scan_window_ms = defaults::scan_window_ms;
  uint32_t fetch_timeout_ms = defaults::connect_timeout_ms;
  uint32_t tick_ms = max_tick_ms;
  std::map<std::string, peer_entry> peers; // by endpoint "host:port"
  clock_type::time_point last_static_poll;
  clock_type::time_point next_tick_due; // when the periodic tick is due
};

using catalog_ptr = catalog_actor::stateful_pointer<catalog_state>;

// Schedules the periodic tick. Ticks that others send arrive early and do not
// start a second chain (see the tick handler).
void schedule_tick(catalog_ptr self) {
  auto interval = std::chrono::milliseconds(self->state.tick_ms);
  self->state.next_tick_due = self->clock().now() + interval;
  self->delayed_send(caf::actor_cast<catalog_actor>(self), interval,
                     tick_atom::value);
}

uint32_t or_default(uint32_t value, uint32_t fallback) {
  return value != 0 ? value : fallback;
}

void fetch(catalog_ptr self, const std::string& endpoint);

void on_fetched(catalog_ptr self, const std::string& endpoint, remote_catalog& rc) {
  auto& st = self->state;
  auto it = st.peers.find(endpoint);
  if (it == st.peers.end())
    return; // said bye or expired meanwhile
  auto& p = it->second;
  p.fetching = false;
  if (rc.peer_id == st.me.peer_id) {
    spdlog::debug("catalog: {} is this daemon; dropping it", endpoint);
    st.peers.erase(it);
    return;
  }
  if (rc.unchanged) {
    if (p.has_catalog && rc.peer_id == p.peer_id && rc.version == p.fetched_version) {
      p.last_seen = self->clock().now();
      if (p.refetch)
        fetch(self, endpoint);
      return;
    }
    // Not the copy we hold (another daemon at that endpoint, or a version
    // we never got): ask for the whole catalog.
    p.fetched_version = 0;
    p.refetch = false;
    return fetch(self, endpoint);
  }
  p.fetched_version = rc.version;
  if (!p.has_catalog)
    spdlog::info("peer {:016x} at {} joined with {} files", rc.peer_id, endpoint,
                 rc.files.size());
  else
    spdlog::debug("catalog: {} now offers {} files", endpoint, rc.files.size());
  p.peer_id = rc.peer_id;
  p.files = std::move(rc.files);
  p.has_catalog = true;
  p.last_seen = self->clock().now();
  if (p.refetch)
    fetch(self, endpoint);
}

void on_fetch_failed(catalog_ptr self, const std::string& endpoint,
                     const caf::error& err) {
  auto& st = self->state;
  auto it = st.peers.find(endpoint);
  if (it == st.peers.end())
    return;
  auto& p = it->second;
  p.fetching = false;
  if (!p.plain_only && describe(err).first == ec_code(ec::bad_request)) {
    // An older build refuses the conditional request: ask it plainly, now
    // and from now on.
    spdlog::debug("catalog: {} does not take conditional catalog requests", endpoint);
    p.plain_only = true;
    p.refetch = false;
    return fetch(self, endpoint);
  }
  p.fetched_version = 0;
  if (p.has_catalog)
    spdlog::info("peer {:016x} unreachable: {}", p.peer_id, describe(err).second);
  else
    spdlog::debug("catalog: fetch from {} failed: {}", endpoint, describe(err).second);
  // Keep the entry (static peers are polled again, multicast ones expire when
  // silent), but offer none of its files until a fetch succeeds.
  p.files.clear();
  p.has_catalog = false;
  if (p.refetch)
    fetch(self, endpoint);
}

void fetch(catalog_ptr self, const std::string& endpoint) {
  auto& st = self->state;
  auto it = st.peers.find(endpoint);
  if (it == st.peers.end())
    return;
  auto& p = it->second;
  if (p.fetching) {
    p.refetch = true;
    return;
  }
  p.fetching = true;
  p.refetch = false;
  spdlog::debug("catalog: fetching catalog of {}", endpoint);
  auto q = st.links.query(self->system(), p.host, p.port, st.me.peer_id, st.fetch_timeout_ms);
  auto timeout
    = std::chrono::milliseconds(st.fetch_timeout_ms + defaults::catalog_fetch_slack_ms);
  auto on_ok = [=](remote_catalog& rc) { on_fetched(self, endpoint, rc); };
  auto on_err = [=](caf::error& err) { on_fetch_failed(self, endpoint, err); };
  if (p.plain_only)
    self->request(q, timeout, catalog_atom::value).then(on_ok, on_err);
  else
    self->request(q, timeout, catalog_atom::value, p.has_catalog ? p.fetched_version : 0u)
      .then(on_ok, on_err);
}

void on_sighting(catalog_ptr self, const peer_sighting& s) {
  auto& st = self->state;
  if (s.peer_id != 0 && s.peer_id == st.me.peer_id)
    return; // our own announce
  if (s.addr.empty() || s.port == 0) {
    spdlog::debug("catalog: ignoring sighting without an endpoint");
    return;
  }
  auto endpoint = format_host_port(s.addr, s.port);
  auto now = self->clock().now();
  auto [it, added] = st.peers.try_emplace(endpoint);
  auto& p = it->second;
  bool need_fetch = added || !p.has_catalog || s.is_static;
  if (added) {
    p.host = s.addr;
    p.port = s.port;
    spdlog::debug("catalog: new peer {} ({})", endpoint,
                  s.is_static ? "static" : "multicast");
  } else if (s.peer_id != 0 && p.peer_id != 0 && s.peer_id != p.peer_id) {
    // Another daemon now listens at this endpoint (a restart).
    spdlog::info("peer at {} restarted as {:016x}", endpoint, s.peer_id);
    p.files.clear();
    p.has_catalog = false;
    p.plain_only = false; // perhaps a newer build
    need_fetch = true;
  } else if (s.catalog_version != p.catalog_version) {
    need_fetch = true;
  }
  if (s.peer_id != 0)
    p.peer_id = s.peer_id;
  p.catalog_version = s.catalog_version;
  p.is_static = p.is_static || s.is_static;
  p.last_seen = now;
  if (need_fetch)
    fetch(self, endpoint);
}

void on_bye(catalog_ptr self, uint64_t peer_id) {
  auto& st = self->state;
  for (auto it = st.peers.begin(); it != st.peers.end();) {
    auto& p = it->second;
    if (p.peer_id != peer_id) {
      ++it;
      continue;
    }
    spdlog::info("peer {:016x} at {} left", peer_id, it->first);
    if (p.is_static) {
      // Configured: keep polling it, but it offers nothing now.
      p.files.clear();
      p.has_catalog = false;
      ++it;
    } else {
      it = st.peers.erase(it);
    }
  }
}

void on_tick(catalog_ptr self) {
  auto& st = self->state;
  auto now = self->clock().now();
  auto expiry = std::chrono::milliseconds(st.peer_expiry_ms);
  for (auto it = st.peers.begin(); it != st.peers.end();) {
    auto& p = it->second;
    if (!p.is_static && now - p.last_seen > expiry) {
      spdlog::info("peer {:016x} at {} expired (silent for {} ms)", p.peer_id,
                   it->first,
                   std::chrono::duration_cast<std::chrono::milliseconds>(
                     now - p.last_seen)
                     .count());
      it = st.peers.erase(it);
    } else {
      ++it;
    }
  }
  if (now - st.last_static_poll >= std::chrono::milliseconds(st.announce_interval_ms)) {
    st.last_static_poll = now;
    for (auto& [endpoint, p] : st.peers)
      if (p.is_static)
        fetch(self, endpoint);
  }
}

// The (name, content id) offers `keep` accepts (a remote_file predicate),
// sorted by name, then id: two names of the same bytes are two offers (issue
// 11). The seeders of an offer are all peers that offer its content id under
// any name (they serve the same chunks), deduplicated by peer id so a daemon
// reachable under two endpoints (static + multicast) counts once.
template <class Keep>
std::vector<file_offer> offers_where(const catalog_state& st, Keep keep) {
  std::map<std::pair<std::string, std::string>, uint64_t> offers; // (name, id) -> size
  std::map<std::string, std::vector<std::string>> seeders;       // by content id
  for (auto& [endpoint, p] : st.peers)
    for (auto& f : p.files)
      if (keep(f)) {
        offers.emplace(std::make_pair(f.name, f.id_hex), f.size);
        seeders.emplace(f.id_hex, std::vector<std::string>{});
      }
  std::map<std::string, std::set<uint64_t>> ids_seen;
  for (auto& [endpoint, p] : st.peers) {
    for (auto& f : p.files) {
      auto s = seeders.find(f.id_hex);
      if (s == seeders.end())
        continue;
      if (p.peer_id != 0 && !ids_seen[f.id_hex].insert(p.peer_id).second)
        continue;
      auto& list = s->second;
      if (list.empty() || list.back() != endpoint) // a peer's files are contiguous
        list.push_back(endpoint);
    }
  }
  for (auto& [id, list] : seeders) {
    std::sort(list.begin(), list.end());
    list.erase(std::unique(list.begin(), list.end()), list.end());
  }
  std::vector<file_offer> result;
  result.reserve(offers.size());
  for (auto& [key, size] : offers)
    result.push_back(file_offer{key.first, key.second, size, seeders[key.second]});
  return result;
}

// Every offer on the LAN (for `ls`).
std::vector<file_offer> merged_offers(const catalog_state& st) {
  return offers_where(st, [](const remote_file&) { return true; });
}

// The offers named `name` or lying in the folder `name` ("name/..."), whose
// id starts with `id_prefix` (empty name or prefix: any), without merging
// the whole catalog per download request.
std::vector<file_offer> matching_offers(const catalog_state& st, const std::string& name,
                                        const std::string& id_prefix) {
  return offers_where(st, [&](const remote_file& f) {
    bool name_ok = name.empty() || f.name == name
                   || (f.name.size() > name.size() + 1
                       && f.name.compare(0, name.size(), name) == 0
                       && f.name[name.size()] == '/');
    return name_ok && f.id_hex.compare(0, id_prefix.size(), id_prefix) == 0;
  });
}

// The endpoints offering `id_hex` (as the offers count them).
std::vector<std::string> seeders_of(const catalog_state& st, const std::string& id_hex) {
  auto offers = offers_where(st, [&](const remote_file& f) { return f.id_hex == id_hex; });
  return offers.empty() ? std::vector<std::string>{} : std::move(offers.front().seeders);
}

std::vector<peer_info> peer_list(const catalog_state& st, clock_type::time_point now) {
  std::vector<peer_info> result;
  for (auto& [endpoint, p] : st.peers) {
    peer_info info;
    info.peer_id = p.peer_id;
    info.addr = endpoint;
    info.files = static_cast<uint32_t>(p.files.size());
    info.last_seen_ms
      = std::chrono::duration_cast<std::chrono::milliseconds>(now - p.last_seen).count();
    info.source = p.is_static ? "static" : "multicast";
    result.push_back(std::move(info));
  }
  return result;
}

// Waits `ms`, then answers its one request; lets the catalog reply to a scan
// after the scan window without a timer message in its own interface.
caf::behavior scan_timer(caf::event_based_actor* self, uint32_t ms) {
  return {
    [=](scan_atom) {
      auto rp = self->make_response_promise();
      self->delayed_send(self, std::chrono::milliseconds(ms), timeout_atom::value);
      self->become([=](timeout_atom) mutable {
        rp.deliver(true);
        self->quit();
      });
      return rp;
    },
  };
}

catalog_actor::behavior_type catalog(catalog_ptr self, config cfg, identity me,
                                     peer_links links) {
  arm_crash_hook(self);
  auto& st = self->state;
  st.me = me;
  st.links = std::move(links);
  st.announce_interval_ms = or_default(cfg.announce_interval_ms,
                                       defaults::announce_interval_ms);
  st.peer_expiry_ms = or_default(cfg.peer_expiry_ms, defaults::peer_expiry_ms);
  st.scan_window_ms = or_default(cfg.scan_window_ms, defaults::scan_window_ms);
  st.tick_ms = std::clamp<uint32_t>(st.peer_expiry_ms / 4, 50, max_tick_ms);
  st.last_static_poll = self->clock().now();
  for (auto& s : cfg.peers) {
    auto hp = parse_host_port(s);
    if (!hp || hp->port == 0) {
      spdlog::warn("catalog: ignoring malformed static peer '{}'", s);
      continue;
    }
    on_sighting(self, peer_sighting{0, hp->host, hp->port, 0, true});
  }
  schedule_tick(self);
  return {
    [=](sighting_atom, const peer_sighting& s) { on_sighting(self, s); },
    [=](bye_atom, uint64_t peer_id) { on_bye(self, peer_id); },
    [=](scan_atom, uint32_t window_ms) -> caf::result<scan_result> {
      auto& st = self->state;
      for (auto& [endpoint, p] : st.peers)
        fetch(self, endpoint);
      auto rp = self->make_response_promise<scan_result>();
      auto timer = self->spawn(scan_timer, window_ms > 0 ? window_ms : st.scan_window_ms);
      self->request(timer, caf::infinite, scan_atom::value)
        .then([=](bool) mutable {
          auto& st = self->state;
          std::set<std::pair<std::string, std::string>> ids; // offers: (name, id)
          for (auto& [endpoint, p] : st.peers)
            for (auto& f : p.files)
              ids.emplace(f.name, f.id_hex);
          rp.deliver(scan_result{static_cast<uint32_t>(st.peers.size()),
                                 static_cast<uint32_t>(ids.size())});
        });
      return rp;
    },
    [=](list_atom) { return merged_offers(self->state); },
    [=](list_atom, const std::string& name, const std::string& id_prefix) {
      return matching_offers(self->state, name, id_prefix);
    },
    [=](peers_atom) { return peer_list(self->state, self->clock().now()); },
    [=](seeders_atom, const std::string& id_hex) { return seeders_of(self->state, id_hex); },
    [=](tick_atom) {
      on_tick(self);
      if (self->clock().now() >= self->state.next_tick_due)
        schedule_tick(self);
    },
  };
}

} // namespace

catalog_actor spawn_catalog(caf::actor_system& sys, const config& cfg, identity self,
                            peer_links links) {
  return sys.spawn(catalog, cfg, self, std::move(links));
}

} // namespace p2p
