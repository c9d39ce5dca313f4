#include "storage/chunk_picker.hpp"

#include <limits>

namespace p2p {

chunk_picker::chunk_picker(uint32_t chunk_count) : have_(chunk_count, false) {
}

bool chunk_picker::failed_by(uint32_t i, peer_key peer) const {
  return !failed_.empty() && failed_.count({i, peer}) > 0;
}

std::vector<peer_key> chunk_picker::mark_have(uint32_t i) {
  std::vector<peer_key> fetching;
  if (i >= chunk_count() || have_[i])
    return fetching;
  have_[i] = true;
  ++have_count_;
  returned_.erase(i);
  if (auto it = inflight_.find(i); it != inflight_.end()) {
    for (auto peer : it->second) {
      fetching.push_back(peer);
      if (auto bp = by_peer_.find(peer); bp != by_peer_.end()) {
        bp->second.erase(i);
        if (bp->second.empty())
          by_peer_.erase(bp);
      }
    }
    inflight_.erase(it);
  }
  // Nobody will be asked for this chunk again; forget who failed it.
  failed_.erase(failed_.lower_bound({i, 0}),
                failed_.lower_bound({i + 1, 0}));
  return fetching;
}

std::vector<peer_key> chunk_picker::mark_have(uint32_t i, peer_key from) {
  auto fetching = mark_have(i);
  std::vector<peer_key> others;
  for (auto peer : fetching)
    if (peer != from)
      others.push_back(peer);
  return others;
}

std::optional<uint32_t> chunk_picker::pick_fresh(peer_key peer) {
  for (auto i : returned_) {
    if (!failed_by(i, peer)) {
      returned_.erase(i);
      return i;
    }
  }
  while (next_fresh_ < chunk_count() && have_[next_fresh_])
    ++next_fresh_;
  if (next_fresh_ < chunk_count())
    return next_fresh_++;
  return std::nullopt;
}

std::optional<uint32_t> chunk_picker::pick_endgame(peer_key peer) const {
  // Duplicate the chunk with the fewest fetchers (lowest index on a tie), so
  // copies spread over the stragglers instead of piling on one.
  std::optional<uint32_t> best;
  size_t best_fetchers = std::numeric_limits<size_t>::max();
  for (auto& [i, peers] : inflight_) {
    if (peers.size() >= best_fetchers || peers.count(peer) > 0 || failed_by(i, peer))
      continue;
    best = i;
    best_fetchers = peers.size();
    if (best_fetchers == 1)
      break;
  }
  return best;
}

std::optional<uint32_t> chunk_picker::pick(peer_key peer, bool endgame) {
  auto chosen = pick_fresh(peer);
  if (!chosen && endgame)
    chosen = pick_endgame(peer);
  if (chosen) {
    inflight_[*chosen].insert(peer);
    by_peer_[peer].insert(*chosen);
  }
  return chosen;
}

bool chunk_picker::drop_request(uint32_t i, peer_key peer) {
  auto it = inflight_.find(i);
  if (it == inflight_.end() || it->second.erase(peer) == 0)
    return false;
  if (it->second.empty()) {
    inflight_.erase(it);
    if (!have_[i])
      returned_.insert(i);
  }
  if (auto bp = by_peer_.find(peer); bp != by_peer_.end()) {
    bp->second.erase(i);
    if (bp->second.empty())
      by_peer_.erase(bp);
  }
  return true;
}

void chunk_picker::failed(uint32_t i, peer_key peer) {
  if (i >= chunk_count() || have_[i])
    return;
  failed_.insert({i, peer});
  drop_request(i, peer);
}

void chunk_picker::released(uint32_t i, peer_key peer) {
  if (i >= chunk_count())
    return;
  drop_request(i, peer);
}

std::vector<uint32_t> chunk_picker::peer_lost(peer_key peer) {
  std::vector<uint32_t> chunks;
  auto bp = by_peer_.find(peer);
  if (bp == by_peer_.end())
    return chunks;
  chunks.assign(bp->second.begin(), bp->second.end());
  for (auto i : chunks)
    drop_request(i, peer);
  return chunks;
}

size_t chunk_picker::in_flight(peer_key peer) const {
  auto bp = by_peer_.find(peer);
  return bp == by_peer_.end() ? 0 : bp->second.size();
}

uint32_t chunk_picker::fresh_count() const {
  return chunk_count() - have_count_ - static_cast<uint32_t>(inflight_.size());
}

} // namespace p2p
