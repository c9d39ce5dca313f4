// download: one per file. Owns the chunk picker, hands chunks to one
// range_fetcher per seeder, verifies every chunk before writing it at its
// offset into <name>.part, keeps the resume record, and ends complete
// (renamed to <name>), failed or cancelled (part file and record removed).
#include <algorithm>
#include <chrono>
#include <deque>
#include <fcntl.h>
#include <optional>
#include <random>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/actors.hpp"
#include "actors/download_files.hpp"
#include "config/defaults.hpp"
#include "protocol/frame.hpp"
#include "storage/chunk_picker.hpp"
#include "storage/fs.hpp"
#include "storage/manifest.hpp"
#include "storage/resume.hpp"
#include "util/buffer_pool.hpp"
#include "util/hex.hpp"
#include "util/net.hpp"

namespace p2p {

namespace {

using clock_type = std::chrono::steady_clock;
constexpr auto tick_interval = std::chrono::milliseconds(defaults::download_tick_ms);
constexpr uint32_t ticks_per_save = defaults::resume_save_interval_ms / defaults::download_tick_ms;
constexpr uint32_t ticks_per_seeder_poll =
  defaults::seeder_poll_interval_ms / defaults::download_tick_ms;
constexpr auto manifest_hedge = std::chrono::milliseconds(defaults::manifest_hedge_ms);
constexpr auto rate_window = std::chrono::milliseconds(defaults::rate_window_ms);
constexpr auto catalog_timeout = std::chrono::milliseconds(defaults::catalog_ask_timeout_ms);

struct seeder {
  std::string endpoint;
  range_fetcher_actor fetcher;
  std::string state = "connecting"; // connecting, active, retrying, dropped
  std::string error;
  uint64_t bytes = 0;
  uint32_t bad_chunks = 0;
  uint32_t retries = 0;
  bool ready = false;
  // Set when it was dropped for being unreachable (not for bad data): it may
  // rejoin from then on if the catalog still lists it.
  std::optional<clock_type::time_point> rejoin_after;
};

struct download_state {
  static inline const char* name = "download";
  config cfg;
  identity self_id;
  download_params p;
  catalog_actor catalog;
  download_manager_actor manager;
  std::string stem;  // resume record path without extension
  std::string part_path;
  std::string final_path;
  std::optional<manifest> man;
  std::optional<chunk_picker> picker;
  int fd = -1;
  std::vector<seeder> seeders;
  std::string state = "queued";
  std::string error;
  uint64_t bytes_done = 0;
  bool dirty = false;
  bool manifest_pending = false;
  bool resumed = false; // started from a resume record (p.size came from it)
  uint32_t manifest_rounds = 0;
  size_t manifest_next = 0;          // next seeder to ask in this round
  size_t manifest_outstanding = 0;   // manifest requests not answered yet
  std::string manifest_error;        // the last one's failure
  clock_type::time_point manifest_asked;
  uint32_t ticks = 0;
  std::deque<std::pair<clock_type::time_point, uint64_t>> samples;
  uint64_t rate = 0;
  bool ended = false;
};

using self_ptr = download_actor::stateful_pointer<download_state>;

download_info snapshot(self_ptr self) {
  auto& st = self->state;
  download_info d;
  d.key = st.p.key;
  d.name = st.p.name;
  d.id_hex = st.p.id_hex;
  d.out_path = st.final_path;
  d.size = st.p.size;
  d.state = st.state;
  d.bytes_done = st.bytes_done;
  d.rate_bps = st.state == "running" ? st.rate : 0;
  d.eta_s = (st.rate > 0 && st.state == "running")
              ? static_cast<int64_t>((st.p.size - st.bytes_done) / st.rate)
              : -1;
  d.error = st.error;
  for (const auto& s : st.seeders)
    d.peers.push_back(peer_bytes{s.endpoint, s.bytes, s.state, s.error});
  return d;
}

void report(self_ptr self) {
  self->send(self->state.manager, progress_atom::value, snapshot(self));
}

void remove_record(self_ptr self) {
  auto& st = self->state;
  ::unlink((st.stem + ".json").c_str());
  ::unlink((st.stem + ".manifest").c_str());
}

// Stops the fetchers and this actor (manifest queries still out stop when they
// see this actor go). The final state was set by the caller.
void end(self_ptr self) {
  auto& st = self->state;
  st.ended = true;
  if (st.fd >= 0) {
    ::close(st.fd);
    st.fd = -1;
  }
  for (auto& s : st.seeders) {
    if (s.fetcher) {
      self->send_exit(s.fetcher, caf::exit_reason::user_shutdown);
      s.fetcher = nullptr;
    }
    if (st.state == "complete" && s.state != "dropped")
      s.state = "done";
  }
  report(self);
  self->quit();
}

void fail(self_ptr self, const std::string& reason, const std::string& final_state = "failed") {
  auto& st = self->state;
  if (st.ended)
    return;
  if (st.fd >= 0) {
    ::close(st.fd);
    st.fd = -1;
  }
  if (!st.part_path.empty())
    ::unlink(st.part_path.c_str());
  remove_record(self);
  st.state = final_state;
  st.error = reason;
  end(self);
}

void save_record(self_ptr self) {
  auto& st = self->state;
  if (!st.man || !st.picker || st.fd < 0)
    return;
  // The part file reaches the disk before the record that vouches for it.
  if (::fdatasync(st.fd) != 0) {
    fail(self, "cannot sync " + st.part_path + ": " + errno_text(errno));
    return;
  }
  resume_record rec;
  rec.id_hex = st.p.id_hex;
  rec.name = st.p.name;
  rec.out_dir = st.p.req.out_dir;
  rec.size = st.man->size;
  rec.chunk_size = st.man->chunk_size;
  rec.overwrite = st.p.req.overwrite;
  rec.have = st.picker->bitmap();
  auto err = write_file_atomic(st.stem + ".json", to_json(rec), 0600);
  if (!err.empty())
    spdlog::warn("cannot save resume record for {}: {}", st.p.name, err);
  else
    st.dirty = false;
}

void finish(self_ptr self) {
  auto& st = self->state;
  if (::fsync(st.fd) != 0) {
    fail(self, "cannot sync " + st.part_path + ": " + errno_text(errno));
    return;
  }
  ::close(st.fd);
  st.fd = -1;
  unsigned flags = st.p.req.overwrite ? 0 : RENAME_NOREPLACE;
  if (::renameat2(AT_FDCWD, st.part_path.c_str(), AT_FDCWD, st.final_path.c_str(), flags)
      != 0) {
    fail(self, "cannot rename " + st.part_path + " to " + st.final_path + ": "
                 + errno_text(errno));
    return;
  }
  fsync_dir(st.p.req.out_dir);
  remove_record(self);
  st.state = "complete";
  st.error.clear();
  end(self);
}

bool alive(const seeder& s) {
  return s.state != "dropped";
}

void connect(self_ptr self, seeder_key key) {
  auto& st = self->state;
  auto& s = st.seeders[key];
  s.state = "connecting";
  s.ready = false;
  s.fetcher = spawn_range_fetcher(self->system(), st.cfg, st.self_id, self, key,
                                  s.endpoint, st.p.id_hex);
  self->link_to(s.fetcher);
}

uint32_t in_flight_cap(self_ptr self) {
  auto& st = self->state;
  if (st.picker->fresh_count() > 0)
    return st.cfg.requests_in_flight;
  return std::min(st.cfg.requests_in_flight, defaults::endgame_in_flight);
}

void refill(self_ptr self, seeder_key key) {
  auto& st = self->state;
  if (st.ended || !st.picker)
    return;
  auto& s = st.seeders[key];
  if (!s.fetcher || !s.ready)
    return;
  auto cap = in_flight_cap(self);
  while (st.picker->in_flight(key) < cap) {
    auto i = st.picker->pick(key);
    if (!i)
      break;
    self->send(s.fetcher, fetch_atom::value, *i);
  }
}

void refill_all(self_ptr self) {
  for (seeder_key k = 0; k < self->state.seeders.size(); ++k)
    refill(self, k);
}

void add_seeders(self_ptr self, const std::vector<std::string>& endpoints);

// Fails the download when every seeder it tried is gone and the catalog knows
// no other. With no seeder known yet (a resume right after a restart) it waits;
// so it does while a seeder dropped as unreachable is still listed (it may be
// restarting: it rejoins when back, and the download fails once the catalog
// forgets it).
void check_alive(self_ptr self) {
  auto& st = self->state;
  if (st.ended || st.seeders.empty()
      || std::any_of(st.seeders.begin(), st.seeders.end(), alive))
    return;
  self->request(st.catalog, catalog_timeout, seeders_atom::value, st.p.id_hex)
    .then(
      [=](const std::vector<std::string>& eps) {
        add_seeders(self, eps);
        auto& st = self->state;
        if (st.ended || std::any_of(st.seeders.begin(), st.seeders.end(), alive))
          return;
        auto may_return = [&](const seeder& s) {
          return s.rejoin_after
                 && std::find(eps.begin(), eps.end(), s.endpoint) != eps.end();
        };
        if (std::any_of(st.seeders.begin(), st.seeders.end(), may_return))
          return; // on_tick asks again while nobody is alive
        std::string why;
        for (const auto& s : st.seeders)
          why += (why.empty() ? "" : "; ") + s.endpoint + ": " + s.error;
        fail(self, "no seeder could finish the file (" + why + ")");
      },
      [=](const caf::error&) {});
}

// Stops using a seeder. `may_rejoin`: it only could not be reached, so it is
// tried again once retry_max_ms has passed and the catalog lists it again.
void drop(self_ptr self, seeder_key key, const std::string& reason,
          bool may_rejoin = false) {
  auto& st = self->state;
  auto& s = st.seeders[key];
  if (s.state == "dropped")
    return;
  spdlog::warn("download {}: dropping seeder {}: {}", st.p.name, s.endpoint, reason);
  s.state = "dropped";
  s.error = reason;
  s.ready = false;
  s.rejoin_after.reset();
  if (may_rejoin)
    s.rejoin_after = clock_type::now() + std::chrono::milliseconds(st.cfg.retry_max_ms);
  if (s.fetcher) {
    self->send_exit(s.fetcher, caf::exit_reason::user_shutdown);
    s.fetcher = nullptr;
  }
  if (st.picker)
    st.picker->peer_lost(key);
  refill_all(self);
  check_alive(self);
}

void begin_transfer(self_ptr self) {
  auto& st = self->state;
  st.state = "running";
  if (st.picker->complete()) {
    finish(self);
    return;
  }
  for (seeder_key k = 0; k < st.seeders.size(); ++k)
    if (!st.seeders[k].fetcher && st.seeders[k].state != "dropped"
        && st.seeders[k].state != "retrying")
      connect(self, k);
  check_alive(self);
}

// A seeder dropped as unreachable that the catalog lists again: one more
// connection. One failure drops it again (and starts a new wait), so a peer
// the catalog still lists while it is dead costs one attempt per retry_max_ms.
void maybe_rejoin(self_ptr self, seeder_key key) {
  auto& st = self->state;
  auto& s = st.seeders[key];
  if (s.state != "dropped" || !s.rejoin_after || clock_type::now() < *s.rejoin_after
      || !st.picker || st.state != "running" || st.ended)
    return;
  spdlog::info("download {}: seeder {} is listed again; reconnecting", st.p.name,
               s.endpoint);
  s.rejoin_after.reset();
  s.retries = defaults::max_retries;
  connect(self, key);
}

void add_seeders(self_ptr self, const std::vector<std::string>& endpoints) {
  auto& st = self->state;
  for (const auto& ep : endpoints) {
    auto known = std::find_if(st.seeders.begin(), st.seeders.end(),
                              [&](const seeder& s) { return s.endpoint == ep; });
    if (known != st.seeders.end()) {
      maybe_rejoin(self, static_cast<seeder_key>(known - st.seeders.begin()));
      continue;
    }
    seeder s;
    s.endpoint = ep;
    st.seeders.push_back(std::move(s));
    if (st.picker && st.state == "running" && !st.ended) {
      spdlog::info("download {}: new seeder {}", st.p.name, ep);
      connect(self, static_cast<seeder_key>(st.seeders.size() - 1));
    }
  }
}

// Opens the part file for a fresh download and reserves its space.
bool create_part(self_ptr self) {
  auto& st = self->state;
  st.fd = ::open(st.part_path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (st.fd < 0) {
    fail(self, "cannot create " + st.part_path + ": " + errno_text(errno));
    return false;
  }
  if (st.man->size > 0) {
    int rc = ::posix_fallocate(st.fd, 0, static_cast<off_t>(st.man->size));
    if (rc == EOPNOTSUPP || rc == EINVAL)
      rc = ::ftruncate(st.fd, static_cast<off_t>(st.man->size)) == 0 ? 0 : errno;
    if (rc != 0) {
      fail(self, "cannot reserve " + std::to_string(st.man->size) + " bytes for "
                   + st.part_path + ": " + errno_text(rc));
      return false;
    }
  }
  return true;
}

void on_manifest(self_ptr self, const std::vector<char>& bytes) {
  auto& st = self->state;
  auto m = parse_manifest(bytes.data(), bytes.size());
  if (!m) {
    fail(self, "received an unreadable manifest");
    return;
  }
  if (st.p.size != m->size) {
    if (!st.resumed) {
      fail(self, "the manifest says " + std::to_string(m->size) + " bytes, the catalog "
                   + std::to_string(st.p.size));
      return;
    }
    // The size came from a discarded resume record; the manifest hashes to the
    // content id, so its size is the file's.
    spdlog::info("download {}: size {} from the manifest (the record said {})", st.p.name,
                 m->size, st.p.size);
    st.p.size = m->size;
  }
  st.man = std::move(*m);
  std::string data(bytes.begin(), bytes.end());
  if (auto err = make_dirs(downloads_dir(st.cfg)); !err.empty())
    spdlog::warn("cannot create {}: {}", downloads_dir(st.cfg), err);
  if (auto err = write_file_atomic(st.stem + ".manifest", data, 0600); !err.empty())
    spdlog::warn("cannot save manifest of {}: {}", st.p.name, err);
  if (!create_part(self))
    return;
  st.picker.emplace(st.man->chunk_count());
  st.dirty = true;
  save_record(self);
  begin_transfer(self);
}

// Asks the next seeder of this round for the manifest. A seeder that errs
// passes the turn on at once; one that stays silent gets a second one asked
// after manifest_hedge (see on_tick), so one mute seeder never holds the start.
void ask_manifest(self_ptr self) {
  auto& st = self->state;
  while (st.manifest_next < st.seeders.size()) {
    auto ep = st.seeders[st.manifest_next++].endpoint;
    auto hp = parse_host_port(ep);
    if (!hp) {
      st.manifest_error = "bad seeder address " + ep;
      continue;
    }
    ++st.manifest_outstanding;
    st.manifest_asked = clock_type::now();
    auto q = spawn_peer_query(self->system(), hp->host, hp->port, st.self_id.peer_id,
                              defaults::connect_timeout_ms);
    auto answered = [self] { --self->state.manifest_outstanding; };
    self->request(q, std::chrono::milliseconds(defaults::connect_timeout_ms * 2),
                  manifest_atom::value, st.p.id_hex)
      .then(
        [=](const std::vector<char>& bytes) {
          auto& st = self->state;
          answered();
          if (st.ended || st.man)
            return; // another seeder answered first
          st.manifest_pending = false;
          on_manifest(self, bytes);
        },
        [=](const caf::error& err) {
          auto& st = self->state;
          answered();
          if (st.ended || st.man)
            return;
          auto [code, msg] = describe(err);
          st.manifest_error = msg.empty() ? code : msg;
          ask_manifest(self);
        });
    return;
  }
  if (st.manifest_outstanding > 0)
    return; // the round ends with the last answer
  st.manifest_pending = false;
  if (st.seeders.empty())
    return; // wait for seeders
  if (++st.manifest_rounds >= defaults::manifest_rounds_max)
    fail(self, "could not get the manifest from any seeder: " + st.manifest_error);
}

void fetch_manifest(self_ptr self) {
  auto& st = self->state;
  if (st.manifest_pending || st.man || st.ended || st.seeders.empty())
    return;
  st.manifest_pending = true;
  st.manifest_next = 0;
  ask_manifest(self);
}

// Continues from a resume record that matches its part file; false otherwise.
bool load_resume(self_ptr self) {
  auto& st = self->state;
  auto text = read_file(st.stem + ".json");
  if (!text)
    return false;
  st.resumed = true;
  auto discard = [&](const std::string& why) {
    spdlog::warn("download {}: discarding resume record: {}", st.p.name, why);
    remove_record(self);
    return false;
  };
  auto rec = resume_from_json(*text);
  if (!rec)
    return discard("unreadable");
  auto mbytes = read_file(st.stem + ".manifest");
  auto m = mbytes ? parse_manifest(mbytes->data(), mbytes->size()) : std::nullopt;
  if (!m)
    return discard("manifest missing or unreadable");
  auto cid = content_id_of(*m);
  if (to_hex(cid.data(), cid.size()) != st.p.id_hex || rec->id_hex != st.p.id_hex)
    return discard("content id does not match");
  if (rec->size != m->size || rec->have.size() != m->chunk_count())
    return discard("size does not match the manifest");
  struct stat sb;
  if (::stat(st.part_path.c_str(), &sb) != 0
      || static_cast<uint64_t>(sb.st_size) != m->size)
    return discard("part file missing or of the wrong size");
  st.fd = ::open(st.part_path.c_str(), O_RDWR | O_CLOEXEC);
  if (st.fd < 0)
    return discard("cannot open part file: " + errno_text(errno));
  st.man = std::move(*m);
  st.p.size = st.man->size;
  st.picker.emplace(st.man->chunk_count());
  for (uint32_t i = 0; i < rec->have.size(); ++i)
    if (rec->have[i]) {
      st.picker->mark_have(i);
      st.bytes_done += st.man->chunk_length(i);
    }
  spdlog::info("download {}: resuming with {} of {} chunks verified", st.p.name,
               st.picker->have_count(), st.man->chunk_count());
  return true;
}

bool write_chunk(self_ptr self, uint32_t index, const char* data, size_t len) {
  auto& st = self->state;
  auto off = static_cast<off_t>(st.man->chunk_offset(index));
  while (len > 0) {
    auto n = ::pwrite(st.fd, data, len, off);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      fail(self, "cannot write " + st.part_path + ": " + errno_text(errno));
      return false;
    }
    data += n;
    len -= static_cast<size_t>(n);
    off += n;
  }
  return true;
}

void on_chunk(self_ptr self, seeder_key key, uint32_t index, std::vector<char>& buf) {
  auto& st = self->state;
  const char* data = nullptr;
  size_t len = 0;
  uint32_t framed_index = 0;
  if (st.ended || !st.picker || key >= st.seeders.size()
      || !proto::decode_chunk(buf.data(), buf.size(), framed_index, data, len))
    return;
  auto& s = st.seeders[key];
  if (s.state == "dropped")
    return; // sent before the drop: neither trusted nor allowed to bury the reason
  if (index >= st.picker->chunk_count() || st.picker->have(index)) {
    refill(self, key); // a duplicate from the endgame
    return;
  }
  if (len != st.man->chunk_length(index) || !st.man->verify(index, data, len)) {
    st.picker->failed(index, key);
    ++s.bad_chunks;
    s.error = "chunk " + std::to_string(index) + " failed its hash";
    spdlog::warn("download {}: chunk {} from {} failed its hash", st.p.name, index,
                 s.endpoint);
    if (s.bad_chunks >= defaults::max_bad_chunks)
      drop(self, key, "sent " + std::to_string(s.bad_chunks)
                        + " chunks that failed their hash");
    else
      refill_all(self);
    return;
  }
  if (!write_chunk(self, index, data, len))
    return;
  auto others = st.picker->mark_have(index);
  st.bytes_done += len;
  s.bytes += len;
  s.retries = 0;
  st.dirty = true;
  for (auto o : others)
    if (o != key && o < st.seeders.size() && st.seeders[o].fetcher)
      self->send(st.seeders[o].fetcher, cancel_atom::value, index);
  if (st.picker->complete()) {
    finish(self);
    return;
  }
  refill(self, key);
  for (auto o : others)
    refill(self, o);
}

// Delay before reconnect `attempt` (1-based): retry_base_ms doubling, capped
// at `cap_ms`, jittered to 50-100 %.
std::chrono::milliseconds backoff(uint32_t attempt, uint64_t cap_ms) {
  static thread_local std::mt19937 rng{std::random_device{}()};
  uint64_t ms = defaults::retry_base_ms;
  for (uint32_t i = 1; i < attempt && ms < cap_ms; ++i)
    ms *= 2;
  ms = std::max<uint64_t>(std::min<uint64_t>(ms, cap_ms), 1);
  std::uniform_int_distribution<uint64_t> jitter(ms / 2, ms);
  return std::chrono::milliseconds(jitter(rng));
}

void on_lost(self_ptr self, seeder_key key, const std::string& reason) {
  auto& st = self->state;
  if (st.ended || key >= st.seeders.size())
    return;
  auto& s = st.seeders[key];
  if (s.state == "dropped")
    return;
  s.fetcher = nullptr;
  s.ready = false;
  s.error = reason;
  if (st.picker)
    st.picker->peer_lost(key);
  if (++s.retries > defaults::max_retries) {
    drop(self, key,
         reason + " (gave up after " + std::to_string(defaults::max_retries) + " retries)",
         true);
    return;
  }
  s.state = "retrying";
  auto delay = backoff(s.retries, st.cfg.retry_max_ms);
  spdlog::info("download {}: seeder {} lost ({}); retry in {} ms", st.p.name, s.endpoint,
               reason, delay.count());
  self->delayed_send(self, delay, retry_atom::value, key);
  refill_all(self);
}

void update_rate(self_ptr self) {
  auto& st = self->state;
  auto now = clock_type::now();
  st.samples.emplace_back(now, st.bytes_done);
  while (st.samples.size() > 2 && now - st.samples.front().first > rate_window)
    st.samples.pop_front();
  auto dt = std::chrono::duration<double>(now - st.samples.front().first).count();
  st.rate = dt > 0.1 ? static_cast<uint64_t>(
                         (st.bytes_done - st.samples.front().second) / dt)
                     : 0;
}

void on_tick(self_ptr self) {
  auto& st = self->state;
  if (st.ended)
    return;
  ++st.ticks;
  update_rate(self);
  if (st.dirty && st.ticks % ticks_per_save == 0)
    save_record(self);
  if (st.ended)
    return;
  bool starving = std::none_of(st.seeders.begin(), st.seeders.end(), alive);
  if (starving && !st.seeders.empty() && st.picker)
    check_alive(self);
  else if (st.ticks % ticks_per_seeder_poll == 0 || starving)
    self->request(st.catalog, catalog_timeout, seeders_atom::value, st.p.id_hex)
      .then([=](const std::vector<std::string>& eps) { add_seeders(self, eps); },
            [](const caf::error&) {});
  if (!st.man) {
    if (st.manifest_pending && clock_type::now() - st.manifest_asked >= manifest_hedge)
      ask_manifest(self);
    else
      fetch_manifest(self);
  }
  report(self);
  self->delayed_send(self, tick_interval, tick_atom::value);
}

} // namespace

download_actor::behavior_type download(self_ptr self, config cfg, identity id,
                                       download_params p, catalog_actor catalog,
                                       download_manager_actor manager) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.self_id = std::move(id);
  st.p = std::move(p);
  st.catalog = catalog;
  st.manager = manager;
  st.stem = record_stem(st.cfg, st.p.id_hex, st.p.req.out_dir);
  st.final_path = join_path(st.p.req.out_dir, st.p.name);
  st.part_path = st.final_path + ".part";
  // Fetchers are linked: their normal exits are reported as `lost` messages.
  self->set_exit_handler([=](const caf::exit_msg& msg) {
    auto& st = self->state;
    for (auto& s : st.seeders)
      if (s.fetcher && caf::actor_cast<caf::actor_addr>(s.fetcher) == msg.source)
        return;
    if (msg.reason == caf::exit_reason::normal)
      return;
    self->quit(msg.reason);
  });
  for (const auto& ep : st.p.seeders) {
    seeder s;
    s.endpoint = ep;
    st.seeders.push_back(std::move(s));
  }
  if (load_resume(self))
    begin_transfer(self);
  else
    fetch_manifest(self);
  if (!st.ended)
    self->delayed_send(self, tick_interval, tick_atom::value);
  return {
    [=](ready_atom, seeder_key key) {
      auto& st = self->state;
      if (key >= st.seeders.size() || !st.seeders[key].fetcher)
        return;
      st.seeders[key].state = "active";
      st.seeders[key].ready = true;
      refill(self, key);
    },
    [=](chunk_atom, seeder_key key, uint32_t index, std::vector<char>& buf) {
      on_chunk(self, key, index, buf);
      chunk_buffers().give(std::move(buf)); // the fetchers read the next chunks into it
    },
    [=](failed_atom, seeder_key key, uint32_t index, const std::string& why) {
      auto& st = self->state;
      if (st.ended || !st.picker || key >= st.seeders.size())
        return;
      auto& s = st.seeders[key];
      if (s.state == "dropped")
        return;
      s.error = why;
      if (why.rfind("busy", 0) == 0) {
        st.picker->released(index, key);
      } else if (why.rfind("unknown_file", 0) == 0 || why.rfind("changed", 0) == 0) {
        drop(self, key, why);
        return;
      } else {
        st.picker->failed(index, key);
      }
      refill_all(self);
    },
    [=](lost_atom, seeder_key key, const std::string& why) { on_lost(self, key, why); },
    [=](tick_atom) { on_tick(self); },
    [=](retry_atom, seeder_key key) {
      auto& st = self->state;
      if (st.ended || key >= st.seeders.size() || st.seeders[key].state != "retrying")
        return;
      if (st.picker)
        connect(self, key);
      else
        st.seeders[key].state = "connecting";
    },
    [=](cancel_atom) -> download_info {
      fail(self, "cancelled by user", "cancelled");
      return snapshot(self);
    },
    [=](stop_atom) -> bool {
      if (!self->state.ended) {
        save_record(self);
        // The record stays: the download resumes when the daemon starts again.
        self->state.ended = true;
        end(self);
      }
      return true;
    },
  };
}

download_actor spawn_download(caf::actor_system& sys, const config& cfg, identity self,
                              download_params params, catalog_actor catalog,
                              download_manager_actor manager) {
  return sys.spawn(download, cfg, self, std::move(params), catalog, manager);
}

} // namespace p2p
