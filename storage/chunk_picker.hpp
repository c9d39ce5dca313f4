#pragma once
// Decides which chunk each source fetches next. Pure logic, no I/O.
//
// Sources pull work: when a fetcher has room for another request the download
// asks pick(peer). Fresh chunks go out rarest first: the chunk the fewest
// sources have (by their bitfields, see add_source), so downloaders of one
// swarm fetch different chunks and trade them (BitTorrent's rarest-first;
// libtorrent's piece_picker). Ties go by a tie order: the chunk index (lowest
// first) by default, a random permutation when a seed is given, so that
// downloaders diverge. With extents (runs of consecutive chunks), a source is
// handed the chunk after its last pick, within the same extent, when that is
// fresh and no rarer chunk is left for it, else the first fresh chunk of the
// extent its best pick lies in, so that it can send its chunks as one chunk
// run (libtorrent's piece_extent_affinity) -- but only while every source has
// every chunk: in a swarm (any partial source) two
// downloaders that continue into the same chunks both fetch them from the
// seeder. 8 downloaders of 48 MiB from one seeder at 100 Mbit each finished
// in 1.27-1.34x the time of one download with affinity, 1.16-1.18x without
// (tests/lan/swarm_test.cpp, 2026-12-02). When no fresh chunk is left (endgame), pick() hands out
// a chunk already in flight on another source, so a slow source never holds
// the file at 99%; the first copy to arrive wins.
//
// A source that never sent a bitfield counts as having every chunk (a full
// seeder of protocol 1 / before its bitfield); it adds nothing to availability.
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <vector>

namespace p2p {

using peer_key = uint32_t;

class chunk_picker {
public:
  // Ties between equally rare chunks go lowest index first.
  explicit chunk_picker(uint32_t chunk_count);
  // Ties go by a random permutation drawn from `tie_seed` (mt19937_64); a
  // source's next pick continues its last one within aligned extents of
  // `extent_chunks` chunks (0 and 1: no affinity).
  chunk_picker(uint32_t chunk_count, uint64_t tie_seed, uint32_t extent_chunks = 1);

  uint32_t chunk_count() const { return static_cast<uint32_t>(have_.size()); }
  bool have(uint32_t i) const { return have_[i]; }
  uint32_t have_count() const { return have_count_; }
  bool complete() const { return have_count_ == chunk_count(); }
  const std::vector<bool>& bitmap() const { return have_; }

  // Marks a chunk verified (from a resume record, or after receiving it).
  // Returns the other peers that still have it in flight (to cancel there).
  std::vector<peer_key> mark_have(uint32_t i);
  // The same for a chunk that just arrived from `from`: its request there is
  // finished, and only the *other* peers fetching it are returned.
  std::vector<peer_key> mark_have(uint32_t i, peer_key from);

  // The next chunk for `peer`, or nullopt if nothing is left for it. Never a
  // chunk the peer lacks, already has in flight, or failed before.
  // With `endgame` false, only chunks nobody is fetching are returned.
  std::optional<uint32_t> pick(peer_key peer, bool endgame = true);

  // -- sources' bitfields (swarming) --------------------------------------------

  // `peer` has the chunks set in `bits` (its bitfield, chunk_count() entries;
  // a longer one is cut, a shorter one padded with "lacks"). Replaces what
  // was known about it.
  void add_source(peer_key peer, const std::vector<bool>& bits);
  // `peer` announced chunk i (a have frame); out of range is ignored.
  void source_has(peer_key peer, uint32_t i);
  // `peer` answered "don't have (yet)" for chunk i: it lacks i until a have
  // says otherwise, and the request ends without blame.
  void not_have(uint32_t i, peer_key peer);
  // Whether `peer` has chunk i as far as known (true for a peer without a
  // bitfield).
  bool source_has_chunk(peer_key peer, uint32_t i) const;
  // How many sources with a bitfield have chunk i.
  uint32_t availability(uint32_t i) const { return avail_[i]; }
  // Whether `peer` has a chunk this download still needs and has not failed
  // there. O(chunk_count()).
  bool wants_from(peer_key peer) const;

  // A request failed (bad hash, error reply): the chunk returns to the pool and
  // this peer will not be asked for it again.
  void failed(uint32_t i, peer_key peer);

  // A request was given up without blame (cancelled, shutdown).
  void released(uint32_t i, peer_key peer);

  // The peer is gone: all its chunks in flight return to the pool and its
  // bitfield is forgotten (a source that comes back sends a new one).
  // Returns the chunks it had in flight.
  std::vector<uint32_t> peer_lost(peer_key peer);

  size_t in_flight(peer_key peer) const;
  // Chunks neither verified nor in flight anywhere.
  uint32_t fresh_count() const;

private:
  // Fresh chunks (neither verified nor in flight) sit in fresh_ ordered by
  // (availability, tie order): pick() takes the first one the peer has. For a
  // source with a bitfield it looks at the first scan_limit entries only, then
  // takes the least key over (fresh AND the source's bits) word by word, so
  // a pick costs O(scan_limit log n + n / 64 + candidates), never O(n log n).
  static constexpr int scan_limit = 64;
  using words = std::vector<uint64_t>; // bit i of word i / 64 is chunk i
  static bool test(const words& w, uint32_t i) { return (w[i / 64] >> (i % 64)) & 1u; }
  static void put(words& w, uint32_t i, bool v) {
    if (v)
      w[i / 64] |= uint64_t{1} << (i % 64);
    else
      w[i / 64] &= ~(uint64_t{1} << (i % 64));
  }
  void fresh_insert(uint32_t i) {
    fresh_.insert(fresh_key(i));
    put(fresh_bits_, i, true);
  }
  void fresh_erase(uint32_t i) {
    fresh_.erase(fresh_key(i));
    put(fresh_bits_, i, false);
  }
  std::optional<uint32_t> least_fresh_of(peer_key peer, const words& bits) const;
  uint64_t fresh_key(uint32_t i) const {
    return (uint64_t{avail_[i]} << 32) | tie_[i];
  }
  bool is_fresh(uint32_t i) const {
    return !have_[i] && inflight_.count(i) == 0;
  }
  // Changes chunk i's availability by +1/-1, keeping fresh_ ordered.
  void bump(uint32_t i, int delta);
  void remove_source(peer_key peer);
  bool failed_by(uint32_t i, peer_key peer) const;
  std::optional<uint32_t> pick_fresh(peer_key peer);
  // Whether a source with a bitfield lacks a chunk (a swarm: no affinity).
  bool partial_source() const;
  std::optional<uint32_t> pick_endgame(peer_key peer) const;
  // Ends `peer`'s request for chunk i; true when it was in flight there.
  bool drop_request(uint32_t i, peer_key peer);

  std::vector<bool> have_;
  uint32_t have_count_ = 0;
  std::vector<uint32_t> avail_;   // chunk -> sources with a bitfield having it
  std::vector<uint32_t> tie_;     // chunk -> its place among equally rare ones
  std::vector<uint32_t> by_tie_;  // tie place -> chunk
  std::set<uint64_t> fresh_;      // fresh_key of every fresh chunk
  words fresh_bits_;              // the same chunks as bits
  std::map<peer_key, words> sources_;               // peer -> its bitfield
  std::map<uint32_t, std::set<peer_key>> inflight_; // chunk -> peers fetching it
  std::map<peer_key, std::set<uint32_t>> by_peer_;  // peer -> chunks in flight
  std::set<std::pair<uint32_t, peer_key>> failed_;  // (chunk, peer) never again
  uint32_t extent_ = 1;                             // chunks per affinity extent
  std::map<peer_key, uint32_t> lacking_;            // source -> chunks its bitfield lacks
  std::map<peer_key, uint32_t> last_pick_;          // peer -> its last fresh pick
};

} // namespace p2p
