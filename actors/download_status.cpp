// download, what it tells others: its progress reports to the manager (state,
// bytes, rate, seeders) and, with swarming, its partial offer to the share
// registry (the verified chunks peers may fetch from its part file).
#include <caf/all.hpp>

#include "actors/download_state.hpp"

namespace p2p::download_detail {

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
  bool running = st.state == dl_state::running;
  d.rate_bps = running ? st.rate : 0;
  d.eta_s = (st.rate > 0 && running) ? static_cast<int64_t>((st.p.size - st.bytes_done) / st.rate)
                                     : -1;
  d.error = st.error;
  for (const auto& s : st.seeders->seeders())
    d.peers.push_back(peer_bytes{s.endpoint, s.bytes, s.st, s.error});
  d.seeding = st.seeding;
  return d;
}

void report(self_ptr self) {
  self->send(self->state.manager, progress_atom::value, snapshot(self));
}

void update_rate(self_ptr self) {
  constexpr auto rate_window = std::chrono::milliseconds(defaults::rate_window_ms);
  auto& st = self->state;
  auto now = self->clock().now();
  st.samples.emplace_back(now, st.bytes_done);
  while (st.samples.size() > 2 && now - st.samples.front().first > rate_window)
    st.samples.pop_front();
  auto dt = std::chrono::duration<double>(now - st.samples.front().first).count();
  st.rate = dt > 0.1 ? static_cast<uint64_t>((st.bytes_done - st.samples.front().second) / dt)
                     : 0;
}

// Offers the part file's verified chunks to peers (swarming): the registry
// lists it in the catalog, peer_server serves the verified chunks.
void offer(self_ptr self) {
  auto& st = self->state;
  if (!st.registry || st.offered || !st.man || !st.picker)
    return;
  share_info info;
  info.name = st.p.name;
  info.path = st.part.path();
  info.id_hex = st.p.id_hex;
  info.size = st.man->size;
  info.chunk_size = st.man->chunk_size;
  info.partial = true;
  info.have = st.picker->bitmap();
  self->send(st.registry, partial_atom::value, std::move(info), serialize(*st.man));
  st.offered = true;
}

// Withdraws the partial offer; a complete download (every chunk verified)
// becomes a share of the final file unless --no-seed.
void withdraw_offer(self_ptr self) {
  auto& st = self->state;
  if (!st.offered)
    return;
  st.seeding = st.state == dl_state::complete && st.p.req.seed;
  self->send(st.registry, withdraw_atom::value, st.p.id_hex,
             st.seeding ? st.final_path : std::string{});
  st.offered = false;
}

} // namespace p2p::download_detail
