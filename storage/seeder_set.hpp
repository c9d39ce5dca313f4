#pragma once
// The seeders of one download and what to do about each: a plain class, no
// CAF, no sockets (the model is libtorrent's peer_list: fail counts and
// reconnect times, tested alone). The download actor feeds it events
// (listed, connected, lost, chunk_ok, bad_chunk, error, retry_due, tick) and
// carries out the actions it answers with (connect k, stop k, retry k after
// d, fail(reason), and what becomes of the chunk an error names).
//
// Rules (DESIGN.md "Downloads"; retry/backoff numbers in config/defaults.hpp):
// - A lost connection is retried after a backoff: retry_base_ms doubling per
//   attempt, capped at retry_max_ms, jittered to 50-100 %. A chunk that
//   arrives resets the count. After max_retries the seeder is dropped as
//   unreachable: it may rejoin once retry_max_ms has passed and the catalog
//   lists it again (one attempt, then dropped again).
// - max_bad_chunks chunks that fail their hash drop the seeder for good; so do
//   the error codes unknown_file and changed. busy gives the chunk back
//   without blame, not_have too (a partial seeder: "not yet", never bad data); io, bad_index and bad_request fail that chunk on that seeder
//   (io_errors_max io errors drop the seeder for good, like bad data: a
//   seeder that cannot read its file never serves it).
// - At most max_linked seeders hold a connection (or a retry) at once; the
//   others listed wait, in listing order, until one is dropped.
// - A download links no more useful sources than it wants (start's `wanted`:
//   the chunks it lacks, so a file of one chunk links one seeder, not every
//   one listed: 4 TCP connections per small file were most of its cost,
//   issue 9). A source is useful while linked (connecting or active) and not
//   known to lack every chunk the download still needs (useful()). A lost
//   one (retrying) or a useless one (a partial seeder without the chunks)
//   lets the next listed seeder link at once. The endgame's delay passing
//   calls widen(): a slow source then gets company, as before.
// - With no seeder left the download waits while one dropped as unreachable
//   is still listed, and fails once none is.
// - With no seeder alive (none ever known, e.g. a download resumed after its
//   content changed everywhere), the download fails once the catalog has
//   listed no seeder for unoffered_fail_ms, and not before offer_grace_ms
//   after the first listing (issue 7: the catalog's full chance to fill after
//   a restart is one scan window plus one catalog poll).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "protocol/frame.hpp"
#include "storage/seeder_state.hpp"

namespace p2p {

class seeder_set {
public:
  using clock = std::chrono::steady_clock;
  using time_point = clock::time_point;
  using key = uint32_t; // index into seeders(), stable for the download's life

  using state = seeder_state;

  struct seeder {
    std::string endpoint; // "host:port"
    state st = state::connecting;
    std::string error;    // the last failure, for status output
    uint64_t bytes = 0;   // verified bytes received from it
    uint32_t bad_chunks = 0;
    uint32_t io_errors = 0; // io error replies (they count like bad chunks)
    uint32_t retries = 0;   // reconnects since its last good chunk
    bool linked = false;    // a connection (fetcher) exists for it
    uint64_t rate = 0;      // verified bytes/s from it, smoothed (pace())
    uint32_t depth = 0;     // requests it may have in flight (pace())
    uint64_t paced_bytes = 0; // `bytes` at the last pace()
    // Linked but known to lack every chunk the download still needs (useful()).
    bool useless = false;
    // Set when dropped as unreachable: it may rejoin from then on if listed.
    std::optional<time_point> rejoin_after;
  };

  struct action {
    enum class kind {
      connect,      // start a connection (fetcher) to seeder k
      stop,         // end seeder k's connection if any; its chunks in flight return
      retry,        // send retry_due(k) after `delay`
      release_chunk, // chunk `chunk` goes back to the pool without blame on k
      fail_chunk,    // chunk `chunk` failed on k: never ask k for it again
      not_have_chunk, // k does not have chunk `chunk` yet: back to the pool, no blame
      fail,         // the download fails with `reason`
    };
    kind what;
    key k = 0;
    uint32_t chunk = 0;
    std::chrono::milliseconds delay{0};
    std::string reason;
  };
  using actions = std::vector<action>;

  struct limits {
    uint32_t retry_base_ms;  // first backoff
    uint32_t retry_max_ms;   // backoff cap and rejoin wait
    uint32_t max_retries;    // reconnects before a drop
    uint32_t max_bad_chunks; // hash failures before a drop
    uint32_t io_errors_max;  // io error replies before a drop
    // Seeders with a connection open, being opened or awaiting a retry, at
    // most (defaults::max_sources_per_download); the others listed wait in
    // `connecting` without a connection until one of these is dropped.
    uint32_t max_linked = UINT32_MAX;
    uint32_t unoffered_fail_ms = 0; // no seeder listed this long: fail (0: never); peer_expiry_ms
    uint32_t offer_grace_ms = 0;    // not before this long after the first listing
    // Requests in flight per seeder (see pace()): enough to keep about
    // queue_ms of its measured rate asked for, within [min_depth, max_depth]
    // (max_depth: --requests-in-flight).
    uint32_t queue_ms = 250;
    uint32_t min_depth = 2;
    uint32_t max_depth = 16;
    uint32_t start_depth = 2; // before the first pace(), within [1, max_depth]
  };

  // `random(lo, hi)`: a uniformly drawn integer in [lo, hi] (the backoff jitter).
  seeder_set(limits lim, std::function<uint64_t(uint64_t, uint64_t)> random);

  const std::vector<seeder>& seeders() const { return seeders_; }
  const seeder& at(key k) const { return seeders_[k]; }
  size_t size() const { return seeders_.size(); }
  bool started() const { return started_; }
  // Not dropped (connecting, active, retrying).
  bool alive(key k) const;
  // Connected and taking requests.
  bool ready(key k) const { return seeders_[k].st == state::active && seeders_[k].linked; }
  // Seeders are known and every one is dropped.
  bool starving() const;

  // The transfer begins (manifest known): connects the seeders waiting, up to
  // `wanted` useful ones (the chunks the download lacks) and max_linked in all.
  actions start(time_point now, uint32_t wanted = UINT32_MAX);
  // Whether linked seeder k has a chunk the download still needs (the
  // picker's wants_from, asked after its bitfield, a not_have or a failed
  // chunk). A useless one stays linked (a have may make it useful again) but
  // no longer counts against `wanted`: the next listed seeder is connected.
  actions useful(key k, bool has_wanted);
  // Lifts the `wanted` limit: every listed seeder links, up to max_linked
  // (the endgame's delay passed with a chunk still in flight).
  actions widen();
  // Listed seeders wait for a slot (not linked, not retrying, not dropped).
  bool waiting() const;
  // The catalog's current seeders of the content id: new ones are added (and
  // connected once started); one dropped as unreachable rejoins after its
  // wait. With `decide` and none left alive, waits while a rejoinable seeder
  // is among `endpoints`, else answers fail.
  actions listed(const std::vector<std::string>& endpoints, time_point now, bool decide);
  // Why the download must fail for want of any offer of its content id (see
  // the rules above); "" while it may still wait. Pure: ask on every tick.
  std::string unoffered(time_point now) const;
  // Seeder k's connection is up.
  void connected(key k);
  // A verified chunk of `bytes` arrived from k.
  void chunk_ok(key k, uint64_t bytes);
  // Chunk `chunk` from k failed its hash.
  actions bad_chunk(key k, uint32_t chunk);
  // k answered error `code` for chunk `chunk`.
  actions error(key k, uint32_t chunk, proto::error_code code, const std::string& message);
  // k's connection ended (refused, closed, stalled); its fetcher is gone.
  actions lost(key k, const std::string& reason, time_point now);
  // A retry's backoff has passed.
  actions retry_due(key k);
  // k broke the protocol (a bitfield of the wrong length, ...): dropped for
  // good with `reason`, like a seeder of bad data.
  actions misbehaved(key k, const std::string& reason);
  // The download completed: seeders in use become done.
  void complete();

  // Timer (every download tick, `elapsed` since the last call): each active
  // seeder's rate (verified bytes over `elapsed`, averaged with the last
  // value) and from it its depth = rate * queue_ms / chunk_bytes (rounded down) within
  // [min_depth, max_depth]. Like libtorrent's request queue sized by the
  // peer's rate (request_queue_time): a seeder that many downloaders share
  // holds few requests of each, so a chunk never waits seconds in its queue
  // while other sources could serve it; a fast one gets the full pipeline.
  // Seeders not active (connecting, retrying) keep their rate and depth.
  void pace(std::chrono::milliseconds elapsed, uint32_t chunk_bytes);
  // Requests seeder k may have in flight: its depth; start_depth before the
  // first pace() (small: a seeder many downloaders start on at once would
  // otherwise queue a full pipeline from each).
  uint32_t depth(key k) const;

  // Backoff before reconnect `attempt` (1-based), before jitter: retry_base_ms
  // doubling, capped at retry_max_ms, at least 1 ms.
  static uint64_t backoff_ms(uint32_t attempt, uint32_t base_ms, uint32_t cap_ms);

private:
  actions drop(key k, const std::string& reason, bool may_rejoin, time_point now);
  void connect(key k, actions& out);
  // Connects seeders waiting for a slot while fewer than max_linked hold one.
  void fill_slots(actions& out);
  // Holds a slot: linked, or retrying (reconnects after its backoff).
  static bool holds_slot(const seeder& s) { return s.linked || s.st == state::retrying; }

  limits lim_;
  std::function<uint64_t(uint64_t, uint64_t)> random_;
  std::vector<seeder> seeders_;
  bool started_ = false;
  uint32_t wanted_ = UINT32_MAX; // useful sources to link at most (start())
  std::optional<time_point> first_listed_; // the first listed() call
  std::optional<time_point> last_offered_; // the last listed() with any endpoint
};


} // namespace p2p
