// download: one per file. A thin shell over plain parts: the chunk picker
// (which chunk each seeder fetches), the seeder set (each seeder's state,
// retries, drops, wait-or-give-up) and the part file (<name>.part, written at
// chunk offsets after each chunk is verified). Its start-up (resume record or
// manifest rounds) is in download_start.cpp, its progress reports and partial
// offer in download_status.cpp. It hands chunks to one
// range_fetcher per seeder, keeps the resume record, and ends complete
// (renamed to <name>), failed or cancelled (part file and record removed).
#include <algorithm>
#include <fcntl.h>
#include <random>
#include <unistd.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/download_files.hpp"
#include "actors/download_state.hpp"
#include "protocol/frame.hpp"
#include "storage/fs.hpp"
#include "storage/names.hpp"
#include "storage/resume.hpp"
#include "util/buffer_pool.hpp"

namespace p2p {

namespace download_detail {

// Time is the actor system's clock (self->clock().now(): steady_clock in the
// daemon, the test clock in the deterministic actor tests).
using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;
constexpr auto tick_interval = milliseconds(defaults::download_tick_ms);
constexpr uint32_t ticks_per_save = defaults::resume_save_interval_ms / defaults::download_tick_ms;
constexpr uint32_t ticks_per_seeder_poll =
  defaults::seeder_poll_interval_ms / defaults::download_tick_ms;
constexpr auto catalog_timeout = milliseconds(defaults::catalog_ask_timeout_ms);

void remove_record(self_ptr self) {
  ::unlink((self->state.stem + ".json").c_str());
  ::unlink((self->state.stem + ".manifest").c_str());
}

void stop_fetcher(self_ptr self, seeder_key k) {
  auto& f = self->state.fetchers[k];
  if (f)
    self->send_exit(f, caf::exit_reason::user_shutdown);
  f = nullptr;
}

// Stops the fetchers and this actor (manifest queries still out stop when they
// see this actor go). The final state was set by the caller.
void end(self_ptr self) {
  auto& st = self->state;
  st.ended = true;
  withdraw_offer(self);
  st.stop_checking->store(true);
  st.part.close();
  stop_verifiers(self);
  if (st.syncer)
    caf::anon_send(st.syncer, stop_atom::value); // after the sync under way, if any
  for (seeder_key k = 0; k < st.fetchers.size(); ++k)
    stop_fetcher(self, k);
  if (st.state == dl_state::complete)
    st.seeders->complete();
  report(self);
  self->quit();
}

void fail(self_ptr self, const std::string& reason, dl_state final_state) {
  auto& st = self->state;
  if (st.ended)
    return;
  withdraw_offer(self); // before its part file goes: peers stop asking for it
  st.part.discard();
  remove_record(self);
  st.state = final_state;
  st.error = reason;
  end(self);
}

namespace {

// Writes <stem>.manifest, atomically, unsynced: load_resume_files checks it
// against the content id, and save_record syncs it before the first record
// that vouches for a chunk. Before the first record; tried again with the
// next record when it fails.
void save_manifest(self_ptr self) {
  auto& st = self->state;
  if (auto err = make_dirs(downloads_dir(st.cfg)); !err.empty())
    spdlog::warn("cannot create {}: {}", downloads_dir(st.cfg), err);
  auto& bytes = st.manifest_bytes;
  if (auto err = write_file_atomic(st.stem + ".manifest", std::string(bytes.begin(), bytes.end()),
                                   0600, false);
      !err.empty())
    return spdlog::warn("cannot save manifest of {}: {}", st.p.name, err);
  std::vector<char>().swap(bytes); // up to 2 MiB (65,536 chunks), not needed again
}

} // namespace

namespace {

// Writes the resume record with the chunks of `have` (atomically; fsynced
// when `durable`, i.e. when it vouches for chunks whose data is synced).
void write_record(self_ptr self, std::vector<bool> have, bool durable) {
  auto& st = self->state;
  resume_record rec;
  rec.id_hex = st.p.id_hex;
  rec.name = st.p.name;
  rec.out_dir = st.p.req.out_dir;
  rec.size = st.man->size;
  rec.chunk_size = st.man->chunk_size;
  rec.overwrite = st.p.req.overwrite;
  rec.seed = st.p.req.seed;
  rec.have = std::move(have);
  auto err = write_file_atomic(st.stem + ".json", to_json(rec), 0600, durable);
  if (!err.empty()) {
    spdlog::warn("cannot save resume record for {}: {}", st.p.name, err);
    st.dirty = true;
  } else {
    st.recorded = true;
  }
}

// The part syncer: a detached actor (its own thread) that answers
// flush_atom(fd, manifest path) with "" or the error, after fdatasync(fd)
// (then closes fd, a dup of the part file's) and, when the path is not
// empty, an fsync of that file. stop_atom ends it once the syncs before it
// are done (each closes its descriptor); linked, it also ends with a
// download that dies. fdatasync of a part file being written took
// 280 ms on this VM's disk (perf trace of bench's 1 GiB download,
// 2026-12-02); on the download actor it stopped every chunk of the download
// for that long, once a second.
caf::behavior part_syncer(caf::event_based_actor* self, std::string part_path) {
  return {
    [=](stop_atom) { self->quit(); },
    [=](flush_atom, int fd, const std::string& manifest) -> std::string {
      auto err = part_file::sync_data(fd, part_path);
      ::close(fd);
      if (!err.empty())
        return err;
      if (!manifest.empty())
        if (auto e = sync_file(manifest); !e.empty())
          spdlog::warn("download: {}", e);
      return {};
    },
  };
}

// save_record's periodic form: the part file (and, the first time, the
// manifest) is synced by the part syncer while the download goes on; the
// record then vouches for the chunks verified when the sync began (each
// was written before its verifier answered). One sync at a time; a record
// due meanwhile waits for the next tick. False when the part file cannot be
// duplicated (the caller then saves synchronously).
bool save_record_async(self_ptr self) {
  auto& st = self->state;
  if (st.syncing)
    return true;
  int fd = ::fcntl(st.part.fd(), F_DUPFD_CLOEXEC, 0);
  if (fd < 0)
    return false;
  if (!st.syncer)
    st.syncer = self->spawn<caf::detached + caf::linked>(part_syncer, st.part.path());
  auto manifest = st.manifest_synced ? std::string{} : st.stem + ".manifest";
  auto have = st.picker->bitmap();
  auto started = self->clock().now();
  st.syncing = true;
  st.dirty = false; // chunks verified from now on set it again
  self->request(st.syncer, caf::infinite, flush_atom::value, fd, manifest)
    .then(
      [=](const std::string& err) mutable {
        auto& st = self->state;
        st.syncing = false;
        st.next_sync = started + (self->clock().now() - started) * defaults::resume_sync_spacing;
        if (st.ended)
          return; // complete, failed or stopped meanwhile: its own record (or none) stands
        if (!err.empty())
          return fail(self, err);
        st.manifest_synced = true;
        write_record(self, std::move(have), true);
      },
      [=](const caf::error&) {
        self->state.syncing = false;
        self->state.dirty = true;
      });
  return true;
}

} // namespace

void save_record(self_ptr self, bool wait) {
  auto& st = self->state;
  if (!st.man || !st.picker || !st.part.is_open())
    return;
  if (!st.manifest_bytes.empty())
    save_manifest(self);
  // A record that vouches for chunks reaches the disk after the part file's
  // data and the manifest (saved unsynced by save_manifest), then by an fsync
  // of its own. One that vouches for none is not synced: lost in a power
  // cut it costs a download that had nothing yet (issue 9: 4 of the 9 syncs
  // of a small file's download).
  bool vouches = st.picker->have_count() > 0;
  if (vouches && !wait && save_record_async(self))
    return;
  if (vouches) {
    if (auto err = st.part.sync(); !err.empty())
      return fail(self, err);
    if (!st.manifest_synced) {
      if (auto err = sync_file(st.stem + ".manifest"); !err.empty())
        spdlog::warn("download {}: {}", st.p.name, err);
      st.manifest_synced = true;
    }
  }
  st.dirty = false;
  write_record(self, st.picker->bitmap(), vouches);
}

void finish(self_ptr self) {
  auto& st = self->state;
  if (auto err = st.part.commit(st.final_path, st.p.req.overwrite); !err.empty())
    return fail(self, err);
  if (st.recorded)
    remove_record(self);
  st.state = dl_state::complete;
  st.error.clear();
  end(self);
}

// Whether the endgame's duplicate requests may go out: no fresh chunk is left
// and none has been for defaults::endgame_delay_ms (the delay starts here, the
// first time it finds none; on_tick's refill_all hands the duplicates out).
bool endgame_due(self_ptr self) {
  auto& st = self->state;
  if (st.picker->fresh_count() > 0) {
    st.fresh_gone = {};
    return false;
  }
  auto now = self->clock().now();
  if (st.fresh_gone == clock_type::time_point{})
    st.fresh_gone = now;
  return now - st.fresh_gone >= milliseconds(defaults::endgame_delay_ms);
}

// How many free request slots a source needs before it is handed fresh
// chunks: one chunk run's worth (defaults::max_run_bytes), at most half its
// depth `cap`, at least 1. Handed one chunk per chunk verified, a source's
// requests were consecutive only in the runs it had sent: seeder 1 of the
// bench sent 326 runs of 3.4 chunks on average and 271 single chunks
// (strace of its header sends, 1 GiB from 3 seeders, 2026-12-02).
uint32_t refill_batch(const download_state& st, uint32_t cap) {
  auto chunk = st.man ? st.man->chunk_size : 0;
  uint32_t run = chunk == 0 ? 1 : std::max<uint32_t>(1, defaults::max_run_bytes / chunk);
  return std::max<uint32_t>(1, std::min(run, cap / 2));
}

// Seeder `key`'s requests not answered yet: the chunks the picker has in
// flight there less those that arrived and wait for (or are in) a verifier.
// A seeder lost meanwhile has none in the picker (clamped at 0).
size_t on_the_wire(const download_state& st, seeder_key key) {
  auto in_flight = st.picker->in_flight(key);
  size_t checking = key < st.checking_of.size() ? st.checking_of[key] : 0;
  return in_flight > checking ? in_flight - checking : 0;
}

void refill(self_ptr self, seeder_key key) {
  auto& st = self->state;
  if (st.ended || !st.picker || !st.fetchers[key] || !st.seeders->ready(key))
    return;
  std::vector<uint32_t> picked;
  for (bool first = true;; first = false) {
    // Endgame only once no chunk is left that nobody is fetching: a partial
    // seeder that lacks the fresh chunks gets no duplicates before (in a
    // swarm they were sent, cancelled too late and thrown away). Nor before
    // endgame_delay_ms has passed since: the chunks in flight usually arrive
    // by then, and a one-chunk file is not fetched from every seeder.
    bool endgame = st.picker->fresh_count() == 0;
    if (endgame && !endgame_due(self))
      break;
    // The chunks waiting for a verifier hold memory, not request slots: past
    // max_checking_bytes no seeder gets more until a verifier answers.
    if (st.checking_bytes >= defaults::max_checking_bytes)
      break;
    auto cap = st.seeders->depth(key); // paced by the seeder's rate
    if (endgame)
      cap = std::min(cap, defaults::endgame_in_flight);
    auto in_flight = on_the_wire(st, key);
    if (in_flight >= cap)
      break;
    if (first && !endgame && cap - in_flight < refill_batch(st, cap))
      break; // the next verified chunks free a run's worth of slots
    auto i = st.picker->pick(key, endgame);
    if (!i)
      break;
    picked.push_back(*i);
  }
  if (!picked.empty())
    self->send(st.fetchers[key], fetch_atom::value, std::move(picked));
}

void refill_all(self_ptr self) {
  for (seeder_key k = 0; k < self->state.fetchers.size(); ++k)
    refill(self, k);
}

void check_alive(self_ptr self);
void carry_out(self_ptr self, const seeder_set::actions& acts, bool catalog_answer = false);

// Tells the seeder set whether linked seeder k still has a chunk this
// download needs (a partial seeder may lack them all): when not, the next
// listed seeder links in its place. Only asked while one waits for a slot
// (wants_from is O(chunks)).
void check_useful(self_ptr self, seeder_key k) {
  auto& st = self->state;
  if (st.ended || !st.picker || !st.seeders->waiting())
    return;
  auto acts = st.seeders->useful(k, st.picker->wants_from(k));
  if (!acts.empty())
    carry_out(self, acts);
}

// Carries out what the seeder set decided, then hands out the work again.
// With every seeder gone it asks the catalog whether to wait or give up,
// unless the actions are the catalog's answer to that question: asking again
// at once looped download and catalog without pause (a million messages in
// the deterministic test) while a dropped seeder waited to rejoin; the tick
// asks again.
void carry_out(self_ptr self, const seeder_set::actions& acts, bool catalog_answer) {
  auto& st = self->state;
  using kind = seeder_set::action::kind;
  st.fetchers.resize(st.seeders->size());
  std::vector<seeder_key> lacking; // lost a chunk it was asked for: maybe useless now
  for (const auto& a : acts) {
    if (st.ended)
      return;
    const auto& s = st.seeders->at(a.k);
    switch (a.what) {
      case kind::connect:
        spdlog::debug("download {}: connecting to seeder {}", st.p.name, s.endpoint);
        stop_fetcher(self, a.k);
        st.fetchers[a.k] = st.links.fetcher(self->system(), st.cfg, st.self_id, self, a.k,
                                            s.endpoint, st.p.id_hex);
        self->link_to(st.fetchers[a.k]);
        break;
      case kind::stop:
        if (s.st == seeder_set::state::dropped)
          spdlog::warn("download {}: dropping seeder {}: {}", st.p.name, s.endpoint, s.error);
        stop_fetcher(self, a.k);
        if (st.picker)
          st.picker->peer_lost(a.k);
        break;
      case kind::retry:
        spdlog::info("download {}: seeder {} lost ({}); retry in {} ms", st.p.name, s.endpoint,
                     a.reason, a.delay.count());
        self->delayed_send(self, a.delay, retry_atom::value, a.k);
        break;
      case kind::release_chunk:
        st.picker->released(a.chunk, a.k);
        break;
      case kind::fail_chunk:
        st.picker->failed(a.chunk, a.k);
        lacking.push_back(a.k);
        break;
      case kind::not_have_chunk:
        st.picker->not_have(a.chunk, a.k);
        lacking.push_back(a.k);
        break;
      case kind::fail:
        return fail(self, a.reason);
    }
  }
  for (auto k : lacking)
    check_useful(self, k);
  if (st.ended)
    return;
  refill_all(self);
  if (!catalog_answer && st.seeders->starving())
    check_alive(self);
}

// Asks the catalog for the content id's seeders; with `decide`, the seeder
// set may give up when none is left (see seeder_set::listed).
void poll_seeders(self_ptr self, bool decide) {
  auto& st = self->state;
  self->request(st.catalog, catalog_timeout, seeders_atom::value, st.p.id_hex)
    .then(
      [=](const std::vector<std::string>& eps) {
        if (!self->state.ended)
          carry_out(self, self->state.seeders->listed(eps, self->clock().now(), decide),
                    true);
      },
      [](const caf::error&) {});
}

// With every seeder it tried gone, asks the catalog once more: the seeder set
// then waits (one may rejoin) or gives up.
void check_alive(self_ptr self) {
  if (!self->state.ended && self->state.seeders->starving())
    poll_seeders(self, true);
}

void begin_transfer(self_ptr self) {
  auto& st = self->state;
  if (auto err = spawn_verifiers(self); !err.empty())
    return fail(self, err);
  st.state = dl_state::running;
  offer(self);
  if (st.picker->complete())
    return finish(self);
  // As many useful sources as chunks to fetch (seeder_set.hpp): a small file
  // is fetched over one connection.
  carry_out(self, st.seeders->start(self->clock().now(),
                                    st.picker->chunk_count() - st.picker->have_count()));
  if (!st.ended)
    report(self); // queued -> running shows at once, not a tick later
}

// A verifier's answer for chunk `index` from seeder `key`: `ok` when it
// matched the manifest and was written, `err` when the write failed. The
// seeders that may take more requests now (`key`, and those whose copies of
// the chunk were cancelled) are appended to `refills`.
void on_verified(self_ptr self, seeder_key key, uint32_t index, bool ok, const std::string& err,
                 std::vector<seeder_key>& refills) {
  auto& st = self->state;
  st.verifying.erase(index);
  if (st.ended)
    return;
  if (!err.empty())
    return fail(self, err);
  // A seeder dropped or lost meanwhile: its verified bytes are kept, but it is
  // neither credited nor blamed any more (its requests went back at the drop).
  bool alive = key < st.seeders->size() && st.seeders->alive(key);
  if (!ok) {
    spdlog::warn("download {}: chunk {} from {} failed its hash", st.p.name, index,
                 st.seeders->at(key).endpoint);
    if (alive)
      carry_out(self, st.seeders->bad_chunk(key, index));
    return;
  }
  if (st.picker->have(index))
    return;
  auto len = st.man->chunk_length(index);
  auto others = st.picker->mark_have(index);
  if (st.offered)
    self->send(st.registry, have_atom::value, st.p.id_hex, index);
  st.bytes_done += len;
  if (alive)
    st.seeders->chunk_ok(key, len);
  st.dirty = true;
  for (auto o : others)
    if (o != key && o < st.fetchers.size() && st.fetchers[o])
      self->send(st.fetchers[o], cancel_atom::value, index);
  if (st.picker->complete())
    return finish(self);
  refills.push_back(key);
  refills.insert(refills.end(), others.begin(), others.end());
}

// Chunks first .. first + count - 1 from seeder `key`, their bytes back to
// back from byte `at` of `buf` (a chunk or chunk_run frame payload; count at
// most proto::max_run_chunks): the ones still needed go to one verifier in
// one job (the buffer moves along and comes back to the pool with the
// answer); chunks had already or being checked from another copy are
// skipped. The seeder is refilled once the whole run is handed on (its
// requests are answered), so its next requests go out together and come back
// as a run again, while these are checked.
void on_chunks(self_ptr self, seeder_key key, uint32_t first, uint32_t count, uint32_t at,
               std::vector<char>& buf) {
  auto& st = self->state;
  if (st.ended || !st.picker || key >= st.seeders->size())
    return;
  if (!st.seeders->alive(key))
    return; // sent before the drop: neither trusted nor allowed to bury the reason
  auto chunks = st.picker->chunk_count();
  uint64_t wanted = 0;
  for (uint32_t k = 0; k < count && k < proto::max_run_chunks; ++k) {
    auto i = first + k;
    if (i >= chunks || st.picker->have(i))
      continue; // a duplicate from the endgame
    if (st.verifying.count(i) > 0) {
      // The endgame's other copy is being checked: this request is over.
      // Should that copy be bad, the chunk goes back to the pool as usual.
      st.picker->released(i, key);
      continue;
    }
    wanted |= uint64_t{1} << k;
  }
  if (wanted == 0)
    return refill(self, key);
  uint32_t checking = 0;
  for (uint32_t k = 0; k < count; ++k)
    if ((wanted >> k) & 1) {
      st.verifying.emplace(first + k, key);
      ++checking;
    }
  uint64_t held = buf.size();
  if (st.checking_of.size() <= key)
    st.checking_of.resize(key + 1, 0);
  st.checking_of[key] += checking;
  st.checking_bytes += held;
  // Their requests are answered: the seeder may have the next ones now, while
  // these are checked (max_checking_bytes bounds what waits).
  auto checked = [=] {
    auto& st = self->state;
    st.checking_of[key] -= checking;
    bool was_full = st.checking_bytes >= defaults::max_checking_bytes;
    st.checking_bytes -= held;
    return was_full;
  };
  auto& v = st.verifiers[st.next_verifier++ % st.verifiers.size()];
  self->request(v, caf::infinite, hash_atom::value, first, count, at, wanted, std::move(buf))
    .then(
      [=](uint32_t f, uint32_t n, uint64_t ok, const std::string& err, std::vector<char>& b) {
        chunk_buffers().give(std::move(b)); // the fetchers read the next chunks into it
        bool was_full = checked();
        std::vector<seeder_key> refills{key};
        for (uint32_t k = 0; k < n && !self->state.ended; ++k)
          if ((wanted >> k) & 1)
            on_verified(self, key, f + k, (ok >> k) & 1, err, refills);
        if (self->state.ended)
          return;
        if (was_full)
          return refill_all(self); // every seeder waited for this room
        std::sort(refills.begin(), refills.end());
        refills.erase(std::unique(refills.begin(), refills.end()), refills.end());
        for (auto r : refills)
          refill(self, r);
      },
      [=](const caf::error& e) {
        checked();
        for (uint32_t k = 0; k < count; ++k)
          if ((wanted >> k) & 1)
            self->state.verifying.erase(first + k);
        auto [code, msg] = describe(e);
        if (!self->state.ended)
          fail(self, "cannot verify chunks " + std::to_string(first) + " to "
                       + std::to_string(first + count - 1) + ": "
                       + (msg.empty() ? code : msg));
      });
  refill(self, key);
}

// A chunk frame from seeder `key` (its payload in `buf`): see on_chunks.
void on_chunk(self_ptr self, seeder_key key, std::vector<char>& buf) {
  const char* data = nullptr;
  size_t len = 0;
  uint32_t index = 0;
  if (proto::decode_chunk(buf.data(), buf.size(), index, data, len))
    on_chunks(self, key, index, 1, static_cast<uint32_t>(proto::chunk_payload_offset), buf);
}

// A chunk_run frame from seeder `key` (its payload in `buf`): see on_chunks.
void on_chunk_run(self_ptr self, seeder_key key, std::vector<char>& buf) {
  const char* data = nullptr;
  size_t len = 0;
  uint32_t first = 0;
  uint32_t count = 0;
  if (proto::decode_chunk_run(buf.data(), buf.size(), first, count, data, len))
    on_chunks(self, key, first, count, static_cast<uint32_t>(proto::chunk_run_payload_offset),
              buf);
}

// The unoffered rule fired (seeder_set::unoffered): ends the download failed,
// naming the content ids the catalog now offers under the same name (the
// file changed on its seeders: download that one instead).
void fail_unoffered(self_ptr self, std::string why) {
  auto& st = self->state;
  st.failing = true;
  auto id8 = st.p.id_hex.substr(0, 8);
  self->request(st.catalog, catalog_timeout, list_atom::value, st.p.name, std::string{})
    .then(
      [=](const std::vector<file_offer>& offers) {
        std::string others;
        for (const auto& o : offers)
          if (o.id_hex != self->state.p.id_hex)
            others += (others.empty() ? "" : ", ") + o.id_hex.substr(0, 8);
        fail(self, why + (others.empty() ? "" : "; the same name is now offered with content id "
                                                  + others + " (download that one)"));
      },
      [=](const caf::error&) { fail(self, why); });
}

void on_tick(self_ptr self) {
  auto& st = self->state;
  if (st.ended)
    return;
  ++st.ticks;
  update_rate(self);
  // The actor's clock, like every other timing rule here: under the
  // deterministic scheduler the real clock saw ~0 ms between two ticks.
  auto now = self->clock().now();
  if (st.man && st.paced_at != clock_type::time_point{}) {
    st.seeders->pace(std::chrono::duration_cast<milliseconds>(now - st.paced_at),
                     st.man->chunk_size);
    refill_all(self); // a seeder's depth may have grown
  }
  st.paced_at = now;
  // A chunk still in flight after the endgame's delay: the seeders not linked
  // for want of chunks (a small file links one) link now, for its duplicates.
  if (st.picker && !st.picker->complete() && st.seeders->waiting() && endgame_due(self))
    carry_out(self, st.seeders->widen());
  if (st.ended)
    return;
  if (st.dirty && st.ticks % ticks_per_save == 0 && now >= st.next_sync)
    save_record(self, false);
  if (st.ended)
    return;
  if (!st.failing)
    if (auto why = st.seeders->unoffered(self->clock().now()); !why.empty())
      fail_unoffered(self, "content id " + st.p.id_hex.substr(0, 8) + ": " + why);
  bool starving = st.seeders->starving();
  bool none_known = st.seeders->size() == 0; // the catalog is asked every tick until one is
  if (starving && st.picker)
    check_alive(self);
  else if (st.ticks % ticks_per_seeder_poll == 0 || starving || none_known)
    poll_seeders(self, false);
  if (!st.man)
    tick_manifest(self);
  report(self);
  self->delayed_send(self, tick_interval, tick_atom::value);
}

} // namespace download_detail

using namespace download_detail;

download_actor::behavior_type download(self_ptr self, config cfg, identity id,
                                       download_params p, catalog_actor catalog,
                                       download_manager_actor manager,
                                       share_registry_actor registry, peer_links links) {
  auto& st = self->state;
  st.registry = registry;
  st.cfg = std::move(cfg);
  st.links = std::move(links);
  st.self_id = std::move(id);
  st.p = std::move(p);
  st.catalog = catalog;
  st.manager = manager;
  st.final_path = join_path(st.p.req.out_dir, st.p.name);
  st.stem = record_stem(st.cfg, st.p.id_hex, st.final_path);
  st.part = part_file(part_path_of(st.final_path)); // fits NAME_MAX (storage/names.hpp)
  st.seeders.emplace(make_seeder_set(st.cfg));
  // In a random order: a download that links fewer seeders than are listed
  // (a small file links one) takes the first, and every download would
  // otherwise pick the catalog's first: 1,000 small files all came from one
  // of 3 seeders.
  std::shuffle(st.p.seeders.begin(), st.p.seeders.end(), std::mt19937_64(random_seed()));
  st.seeders->listed(st.p.seeders, self->clock().now(), false);
  st.fetchers.resize(st.seeders->size());
  // Fetchers are linked: their normal exits are reported as `lost` messages.
  self->set_exit_handler([=](const caf::exit_msg& msg) {
    for (auto& f : self->state.fetchers)
      if (f && caf::actor_cast<caf::actor_addr>(f) == msg.source)
        return;
    if (msg.reason == caf::exit_reason::normal)
      return;
    self->quit(msg.reason);
  });
  if (load_resume(self))
    check_unrecorded(self);
  else
    start_manifest(self);
  if (!st.ended)
    self->delayed_send(self, tick_interval, tick_atom::value);
  return {
    [=](bitfield_atom, seeder_key key, const std::vector<bool>& bits) {
      auto& st = self->state;
      if (st.ended || !st.picker || key >= st.seeders->size() || !st.seeders->alive(key))
        return;
      if (bits.size() != st.picker->chunk_count())
        return carry_out(self, st.seeders->misbehaved(
                                 key, "bitfield of " + std::to_string(bits.size())
                                        + " chunks, not " + std::to_string(st.picker->chunk_count())));
      st.picker->add_source(key, bits);
      check_useful(self, key);
    },
    [=](have_atom, seeder_key key, uint32_t index) {
      auto& st = self->state;
      if (st.ended || !st.picker || key >= st.seeders->size() || !st.seeders->alive(key))
        return;
      st.picker->source_has(key, index);
      if (!st.picker->have(index))
        if (auto acts = st.seeders->useful(key, true); !acts.empty()) // counts against `wanted` again
          return carry_out(self, acts);
      refill(self, key);
    },
    [=](ready_atom, seeder_key key) {
      auto& st = self->state;
      if (key >= st.fetchers.size() || !st.fetchers[key])
        return;
      st.seeders->connected(key);
      refill(self, key);
    },
    [=](chunk_atom, seeder_key key, uint32_t, std::vector<char>& buf) {
      on_chunk(self, key, buf);
      // Unless a verifier has it now: the fetchers read the next chunks into it.
      chunk_buffers().give(std::move(buf));
    },
    [=](chunk_atom, seeder_key key, uint32_t, uint32_t, std::vector<char>& buf) {
      on_chunk_run(self, key, buf);
      chunk_buffers().give(std::move(buf));
    },
    [=](failed_atom, seeder_key key, uint32_t index, proto::error_code code,
        const std::string& message) {
      auto& st = self->state;
      if (!st.ended && st.picker && key < st.seeders->size())
        carry_out(self, st.seeders->error(key, index, code, message));
    },
    [=](lost_atom, seeder_key key, const std::string& why) {
      auto& st = self->state;
      if (st.ended || key >= st.seeders->size() || !st.seeders->alive(key))
        return;
      st.fetchers[key] = nullptr; // it has quit
      if (st.picker)
        st.picker->peer_lost(key);
      carry_out(self, st.seeders->lost(key, why, self->clock().now()));
    },
    [=](tick_atom) { on_tick(self); },
    [=](retry_atom, seeder_key key) {
      if (!self->state.ended)
        carry_out(self, self->state.seeders->retry_due(key));
    },
    [=](cancel_atom) -> download_info {
      fail(self, "cancelled by user", dl_state::cancelled);
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
                              download_manager_actor manager,
                              share_registry_actor registry, peer_links links) {
  return sys.spawn(download, cfg, self, std::move(params), catalog, manager, registry,
                   std::move(links));
}

} // namespace p2p
