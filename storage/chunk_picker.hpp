#pragma once
// Decides which chunk each seeder fetches next. Pure logic, no I/O.
//
// Seeders pull work: when a fetcher has room for another request the download
// asks pick(peer). Fresh chunks go out lowest index first, so every seeder keeps
// busy and faster seeders take more. When no fresh chunk is left (endgame),
// pick() hands out a chunk already in flight on another peer, so a slow peer
// never holds the file at 99%; the first copy to arrive wins.
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <vector>

namespace p2p {

using peer_key = uint32_t;

class chunk_picker {
public:
  explicit chunk_picker(uint32_t chunk_count);

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
  // chunk the peer already has in flight, or one it failed before.
  // With `endgame` false, only chunks nobody is fetching are returned.
  std::optional<uint32_t> pick(peer_key peer, bool endgame = true);

  // A request failed (bad hash, error reply): the chunk returns to the pool and
  // this peer will not be asked for it again.
  void failed(uint32_t i, peer_key peer);

  // A request was given up without blame (cancelled, shutdown).
  void released(uint32_t i, peer_key peer);

  // The peer is gone: all its chunks in flight return to the pool.
  // Returns them.
  std::vector<uint32_t> peer_lost(peer_key peer);

  size_t in_flight(peer_key peer) const;
  // Chunks neither verified nor in flight anywhere.
  uint32_t fresh_count() const;

private:
  // Fresh chunks are those at or above next_fresh_ that are not verified
  // (never handed out yet) plus the ones in returned_ (handed out once, then
  // given back). pick() takes returned_ first (all below next_fresh_), then
  // advances the cursor: O(log n) per call.
  bool failed_by(uint32_t i, peer_key peer) const;
  std::optional<uint32_t> pick_fresh(peer_key peer);
  std::optional<uint32_t> pick_endgame(peer_key peer) const;
  // Ends `peer`'s request for chunk i; true when it was in flight there.
  bool drop_request(uint32_t i, peer_key peer);

  std::vector<bool> have_;
  uint32_t have_count_ = 0;
  uint32_t next_fresh_ = 0;                        // lowest never-picked index
  std::set<uint32_t> returned_;                    // fresh chunks below next_fresh_
  std::map<uint32_t, std::set<peer_key>> inflight_; // chunk -> peers fetching it
  std::map<peer_key, std::set<uint32_t>> by_peer_;  // peer -> chunks in flight
  std::set<std::pair<uint32_t, peer_key>> failed_;  // (chunk, peer) never again
};

} // namespace p2p
