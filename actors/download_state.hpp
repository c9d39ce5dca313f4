#pragma once
// Inside the download actor (actors/download.cpp: the transfer;
// actors/download_start.cpp: the start-up from a resume record or a
// seeder's manifest). Not for other actors: they talk to it by messages
// (actors/actors.hpp).
#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/actors.hpp"
#include "config/defaults.hpp"
#include "storage/chunk_picker.hpp"
#include "storage/manifest.hpp"
#include "storage/manifest_rounds.hpp"
#include "storage/part_file.hpp"
#include "storage/seeder_set.hpp"

namespace p2p::download_detail {

// A random 64-bit seed: drawn from this thread's generator, itself seeded
// once from std::random_device. Constructing a random_device per download
// (twice) was ~2.7 % of the downloader's worker threads with 1,000 small
// files (perf, issue 9).
inline uint64_t random_seed() {
  thread_local std::mt19937_64 gen{(uint64_t{std::random_device{}()} << 32) ^ std::random_device{}()};
  return gen();
}

inline seeder_set make_seeder_set(const config& cfg) {
  auto rng = std::make_shared<std::mt19937_64>(random_seed());
  // Unoffered for a peer expiry: the catalog itself would have forgotten the
  // last seeder by then. The grace is the first scan window plus one catalog
  // poll (issue 7 item 3): the catalog polls static peers, and hears every
  // multicast peer's announce, once per announce interval.
  return seeder_set({defaults::retry_base_ms, cfg.retry_max_ms, defaults::max_retries,
                     defaults::max_bad_chunks, defaults::max_bad_chunks,
                     defaults::max_sources_per_download, cfg.peer_expiry_ms,
                     cfg.scan_window_ms + cfg.announce_interval_ms,
                     defaults::request_queue_ms, defaults::min_requests_in_flight,
                     cfg.requests_in_flight, defaults::start_requests_in_flight},
                    [rng](uint64_t lo, uint64_t hi) {
                      return std::uniform_int_distribution<uint64_t>(lo, hi)(*rng);
                    });
}

// The picker for `chunk_count` chunks of `chunk_size` bytes, ties broken by a
// random order of its own so that the downloaders of one swarm diverge; while
// no source is partial, a source's picks continue within extents of
// defaults::pick_extent_bytes, so that it serves them as chunk runs
// (storage/chunk_picker.hpp).
inline chunk_picker make_picker(uint32_t chunk_count, uint32_t chunk_size) {
  auto extent = chunk_size == 0 ? 1 : defaults::pick_extent_bytes / chunk_size;
  return chunk_picker(chunk_count, random_seed(), static_cast<uint32_t>(extent));
}

struct download_state {
  static inline const char* name = "download";
  config cfg;
  identity self_id;
  download_params p;
  catalog_actor catalog;
  download_manager_actor manager;
  share_registry_actor registry; // where verified chunks are offered (swarming); may be null
  bool offered = false;          // a partial offer is registered with the registry
  bool seeding = false;          // complete and handed to the registry as a share
  peer_links links;              // how it reaches the seeders (actors/actors.hpp)
  std::string stem;  // resume record path without extension
  std::string final_path;
  std::optional<manifest> man;
  std::optional<chunk_picker> picker;
  part_file part;
  std::optional<seeder_set> seeders;
  std::vector<range_fetcher_actor> fetchers; // by seeder key; null when none
  // Chunk verifiers (download_verify.cpp), handed chunks round robin, and the
  // chunks they are checking now (index -> the seeder it came from): a second
  // copy of one of those is not checked too.
  std::vector<caf::actor> verifiers;
  caf::actor writer; // writes the chunks the verifiers found good (detached)
  size_t next_verifier = 0;
  std::map<uint32_t, seeder_key> verifying;
  // Of those, how many came from each seeder (by key) and the bytes of the
  // buffers they hold. The picker counts a chunk in flight until it is
  // verified; the requests on the wire are its in_flight(key) minus
  // checking_of[key] (refill in download.cpp).
  std::vector<uint32_t> checking_of;
  uint64_t checking_bytes = 0;
  dl_state state = dl_state::queued;
  std::string error;
  uint64_t bytes_done = 0;
  bool dirty = false;
  // The resume record and manifest exist on disk: written when the manifest
  // arrives (a file of one chunk: by the first save, within
  // resume_save_interval_ms, or a stop), or found at resume.
  bool recorded = false;
  std::vector<char> manifest_bytes; // as received, until save_record has saved it
  bool manifest_synced = false; // <stem>.manifest fsynced (before the first record with chunks)
  caf::actor syncer; // the part syncer (download.cpp), spawned by the first periodic save
  bool syncing = false; // a periodic save's sync is under way
  // No periodic save before this (the actor clock): defaults::resume_sync_spacing.
  std::chrono::steady_clock::time_point next_sync{};
  bool resumed = false; // started from a resume record (p.size came from it)
  bool ended = false;
  // Set when the download ends: a resume check still reading stops.
  std::shared_ptr<std::atomic<bool>> stop_checking = std::make_shared<std::atomic<bool>>(false);
  bool failing = false; // the unoffered rule fired; the catalog is asked for other ids
  manifest_rounds rounds{defaults::manifest_rounds_max,
                        std::chrono::milliseconds(defaults::manifest_hedge_ms)}; // start-up
  uint32_t ticks = 0;
  std::deque<std::pair<std::chrono::steady_clock::time_point, uint64_t>> samples;
  uint64_t rate = 0;
  std::chrono::steady_clock::time_point paced_at{}; // last seeder_set::pace()
  // When the fresh chunks ran out (the actor clock; unset while some are left):
  // the endgame's duplicates wait defaults::endgame_delay_ms from here.
  std::chrono::steady_clock::time_point fresh_gone{};
};

using self_ptr = download_actor::stateful_pointer<download_state>;

// download.cpp
// Ends the download as `final_state` with `reason`: part file and record removed.
void fail(self_ptr self, const std::string& reason, dl_state final_state = dl_state::failed);
// Removes <stem>.json and <stem>.manifest.
void remove_record(self_ptr self);
// Writes the resume record (once a second; with the manifest the first time);
// one that vouches for chunks only after the part file and the manifest are
// synced, and synced. `wait` false (the periodic save): the sync runs on the
// part syncer, off this actor, and the record follows when it is done.
void save_record(self_ptr self, bool wait = true);
// The manifest is known and the picker set up: connect the seeders.
void begin_transfer(self_ptr self);

// download_verify.cpp
// Spawns the download's chunk verifiers (one per core, at most 4; once) and
// its chunk writer, which writes through its own descriptor of the part file,
// so discarding it while the writer still writes is safe. Returns "" or
// "cannot write <part path>: …".
std::string spawn_verifiers(self_ptr self);
// Stops them all; chunks they still hold are dropped (the download is ending).
void stop_verifiers(self_ptr self);

// download_status.cpp
// The download's status as the manager shows it.
download_info snapshot(self_ptr self);
// Sends the manager a progress report (snapshot).
void report(self_ptr self);
// Adds a rate sample (bytes_done now) and updates the rate over rate_window_ms.
void update_rate(self_ptr self);
// Offers the part file's verified chunks to peers through the registry
// (swarming); once per download, when the manifest is known.
void offer(self_ptr self);
// Withdraws that offer; a complete download becomes a share of the final
// file unless --no-seed.
void withdraw_offer(self_ptr self);

// download_start.cpp
// Continues from a resume record that matches its part file; false otherwise
// (a record that does not match is discarded).
bool load_resume(self_ptr self);
// After load_resume: the part file's chunks the record does not vouch for are
// hashed against the manifest in a detached actor (verify_unrecorded, off the
// I/O threads); those that match are kept. Then begin_transfer.
void check_unrecorded(self_ptr self);
// Asks the seeders for the manifest (or the next one, or gives up) as the
// manifest rounds say; the transfer begins when one arrives.
void start_manifest(self_ptr self);
void tick_manifest(self_ptr self);

} // namespace p2p::download_detail
