#pragma once
// Reuse of chunk-sized byte buffers between threads.
//
// A chunk arrives in the range_fetcher's read buffer and is handed, with that
// buffer, to the download actor. Without reuse, the broker's next read needs a
// fresh buffer that std::vector zero-fills (and that malloc may map anew, with
// page faults): measured as 10 % of the downloader's CPU (bench/run.sh
// --perf). The download gives every chunk buffer back here; the fetcher takes
// one of the right size for the next chunk payload, so nothing is zero-filled
// in the steady state.
#include <cstddef>
#include <mutex>
#include <vector>

namespace p2p {

class buffer_pool {
public:
  // Holds at most `max_bytes` of capacity in idle buffers; more is freed.
  explicit buffer_pool(size_t max_bytes) : max_bytes_(max_bytes) {}

  // A buffer of exactly `size` bytes. Its contents are unspecified (a recycled
  // buffer keeps old bytes; only bytes beyond its previous size are zeroed),
  // so the caller must overwrite all of them. Thread-safe.
  std::vector<char> take(size_t size);

  // Takes `buf` back for reuse. Buffers without capacity (moved-from) are
  // ignored; one that would exceed max_bytes is freed. Thread-safe.
  void give(std::vector<char>&& buf);

  // Capacity in bytes of the idle buffers held now.
  size_t idle_bytes() const;

private:
  size_t max_bytes_;
  mutable std::mutex mutex_;
  std::vector<std::vector<char>> idle_;
  size_t idle_bytes_ = 0;
};

// The daemon's pool for chunk payloads: range_fetchers take from it, downloads
// give back. Bounded to 16 MiB of idle buffers (the requests in flight of a
// few seeders at the default 256 KiB chunk), on top of the memory bound of
// docs/profiling.md.
buffer_pool& chunk_buffers();

} // namespace p2p
