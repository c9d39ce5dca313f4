#include "storage/chunk_picker.hpp"

#include <algorithm>
#include <limits>
#include <numeric>
#include <random>

namespace p2p {

chunk_picker::chunk_picker(uint32_t chunk_count)
  : have_(chunk_count, false), avail_(chunk_count, 0), tie_(chunk_count),
    by_tie_(chunk_count), fresh_bits_((uint64_t{chunk_count} + 63) / 64, 0) {
  std::iota(tie_.begin(), tie_.end(), 0u);
  std::iota(by_tie_.begin(), by_tie_.end(), 0u);
  for (uint32_t i = 0; i < chunk_count; ++i) {
    fresh_.insert(fresh_.end(), fresh_key(i));
    put(fresh_bits_, i, true);
  }
}

chunk_picker::chunk_picker(uint32_t chunk_count, uint64_t tie_seed, uint32_t extent_chunks)
  : chunk_picker(chunk_count) {
  extent_ = std::max<uint32_t>(extent_chunks, 1);
  std::mt19937_64 rng(tie_seed);
  std::shuffle(by_tie_.begin(), by_tie_.end(), rng);
  fresh_.clear();
  for (uint32_t place = 0; place < chunk_count; ++place) {
    tie_[by_tie_[place]] = place;
    fresh_.insert(fresh_.end(), fresh_key(by_tie_[place]));
  }
}

bool chunk_picker::failed_by(uint32_t i, peer_key peer) const {
  return !failed_.empty() && failed_.count({i, peer}) > 0;
}

std::vector<peer_key> chunk_picker::mark_have(uint32_t i) {
  std::vector<peer_key> fetching;
  if (i >= chunk_count() || have_[i])
    return fetching;
  if (is_fresh(i))
    fresh_erase(i);
  have_[i] = true;
  ++have_count_;
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

bool chunk_picker::source_has_chunk(peer_key peer, uint32_t i) const {
  auto s = sources_.find(peer);
  return s == sources_.end() || test(s->second, i);
}

std::optional<uint32_t> chunk_picker::least_fresh_of(peer_key peer,
                                                     const words& bits) const {
  std::optional<uint32_t> best;
  uint64_t best_key = 0;
  for (size_t w = 0; w < bits.size(); ++w) {
    for (auto m = bits[w] & fresh_bits_[w]; m != 0; m &= m - 1) {
      auto i = static_cast<uint32_t>(w * 64 + static_cast<size_t>(__builtin_ctzll(m)));
      if ((!best || fresh_key(i) < best_key) && !failed_by(i, peer)) {
        best = i;
        best_key = fresh_key(i);
      }
    }
  }
  return best;
}

bool chunk_picker::partial_source() const {
  return std::any_of(lacking_.begin(), lacking_.end(),
                     [](const auto& kv) { return kv.second > 0; });
}

std::optional<uint32_t> chunk_picker::pick_fresh(peer_key peer) {
  auto s = sources_.find(peer);
  const words* bits = s == sources_.end() ? nullptr : &s->second;
  std::optional<uint32_t> best;
  int scanned = 0;
  for (auto key : fresh_) {
    if (bits && ++scanned > scan_limit)
      break;
    auto i = by_tie_[static_cast<uint32_t>(key)];
    if ((bits && !test(*bits, i)) || failed_by(i, peer))
      continue;
    best = i;
    break;
  }
  if (!best && bits && scanned > scan_limit)
    best = least_fresh_of(peer, *bits);
  if (!best)
    return std::nullopt;
  // Extent affinity, while every source has every chunk: the chunk after
  // this peer's last pick, within its extent, when it is as rare as the best
  // one; else the first such chunk of the best one's extent, so that sources
  // starting in one extent take its chunks in order, in consecutive batches.
  if (extent_ > 1 && !partial_source()) {
    auto takes = [&](uint32_t i) {
      return is_fresh(i) && (!bits || test(*bits, i)) && !failed_by(i, peer)
             && avail_[i] <= avail_[*best];
    };
    auto last = last_pick_.find(peer);
    auto next = last == last_pick_.end() ? 0 : last->second + 1;
    if (last != last_pick_.end() && next < chunk_count() && next % extent_ != 0 && takes(next)) {
      best = next;
    } else {
      for (auto i = *best - *best % extent_; i < *best; ++i)
        if (takes(i)) {
          best = i;
          break;
        }
    }
  }
  fresh_erase(*best);
  last_pick_[peer] = *best;
  return best;
}

std::optional<uint32_t> chunk_picker::pick_endgame(peer_key peer) const {
  // Duplicate the chunk with the fewest fetchers (lowest index on a tie), so
  // copies spread over the stragglers instead of piling on one.
  std::optional<uint32_t> best;
  size_t best_fetchers = std::numeric_limits<size_t>::max();
  for (auto& [i, peers] : inflight_) {
    if (peers.size() >= best_fetchers || peers.count(peer) > 0 || failed_by(i, peer)
        || !source_has_chunk(peer, i))
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

void chunk_picker::bump(uint32_t i, int delta) {
  bool fresh = is_fresh(i);
  if (fresh)
    fresh_erase(i);
  avail_[i] = static_cast<uint32_t>(static_cast<int64_t>(avail_[i]) + delta);
  if (fresh)
    fresh_insert(i);
}

void chunk_picker::remove_source(peer_key peer) {
  auto s = sources_.find(peer);
  if (s == sources_.end())
    return;
  for (uint32_t i = 0; i < chunk_count(); ++i)
    if (test(s->second, i))
      bump(i, -1);
  sources_.erase(s);
  lacking_.erase(peer);
}

void chunk_picker::add_source(peer_key peer, const std::vector<bool>& bits) {
  remove_source(peer);
  auto& mine = sources_[peer];
  mine.assign(fresh_bits_.size(), 0);
  auto n = std::min<size_t>(bits.size(), chunk_count());
  uint32_t set = 0;
  for (uint32_t i = 0; i < n; ++i)
    if (bits[i]) {
      put(mine, i, true);
      bump(i, +1);
      ++set;
    }
  lacking_[peer] = chunk_count() - set;
}

void chunk_picker::source_has(peer_key peer, uint32_t i) {
  auto s = sources_.find(peer);
  if (i >= chunk_count() || s == sources_.end() || test(s->second, i))
    return;
  put(s->second, i, true);
  bump(i, +1);
  --lacking_[peer];
}

void chunk_picker::not_have(uint32_t i, peer_key peer) {
  if (i >= chunk_count())
    return;
  if (sources_.count(peer) == 0)
    add_source(peer, std::vector<bool>(chunk_count(), true));
  auto& bits = sources_[peer];
  drop_request(i, peer);
  if (test(bits, i)) {
    put(bits, i, false);
    bump(i, -1);
    ++lacking_[peer];
  }
}

bool chunk_picker::wants_from(peer_key peer) const {
  auto s = sources_.find(peer);
  for (uint32_t i = 0; i < chunk_count(); ++i)
    if (!have_[i] && (s == sources_.end() || test(s->second, i)) && !failed_by(i, peer))
      return true;
  return false;
}

bool chunk_picker::drop_request(uint32_t i, peer_key peer) {
  auto it = inflight_.find(i);
  if (it == inflight_.end() || it->second.erase(peer) == 0)
    return false;
  if (it->second.empty()) {
    inflight_.erase(it);
    if (!have_[i])
      fresh_insert(i);
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
  if (auto bp = by_peer_.find(peer); bp != by_peer_.end()) {
    chunks.assign(bp->second.begin(), bp->second.end());
    for (auto i : chunks)
      drop_request(i, peer);
  }
  remove_source(peer);
  last_pick_.erase(peer);
  return chunks;
}

size_t chunk_picker::in_flight(peer_key peer) const {
  auto bp = by_peer_.find(peer);
  return bp == by_peer_.end() ? 0 : bp->second.size();
}

uint32_t chunk_picker::fresh_count() const {
  return static_cast<uint32_t>(fresh_.size());
}

} // namespace p2p
