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
//
// Chunk run payloads come in a few sizes (1 to 4 chunks of 256 KiB by
// default). Buffers are allocated with at least `min_capacity` bytes (the
// largest run payload), so that any idle buffer can take any run, and a
// request takes the idle buffer whose size is nearest from above (shrinking
// is free; growing zero-fills). Handing out the most recent buffer instead,
// allocated at the exact size, and freeing what came back past the bound,
// made the fetchers allocate and zero-fill new buffers all along: 1,300-4,500
// page faults per GiB downloaded (perf record -e page-faults of bench.py's 1
// GiB download, 2026-12-02), each costly where a VM's balloon takes back
// free memory (docs/profiling.md, "Memory freed a while ago is slow to touch").
#include <cstddef>
#include <mutex>
#include <vector>

namespace p2p {

class buffer_pool {
public:
  // Holds at most `max_bytes` of capacity in idle buffers; more is freed.
  // New buffers get a capacity of at least `min_capacity` bytes.
  explicit buffer_pool(size_t max_bytes, size_t min_capacity = 0)
    : max_bytes_(max_bytes), min_capacity_(min_capacity) {}

  // A buffer of exactly `size` bytes. Its contents are unspecified (a recycled
  // buffer keeps old bytes; only bytes beyond its previous size are zeroed),
  // so the caller must overwrite all of them. Of the idle buffers with the
  // capacity, the one with the smallest size not below `size`, else the
  // largest size (the fewest bytes zeroed); a new one when none has the
  // capacity. Thread-safe.
  std::vector<char> take(size_t size);

  // Takes `buf` back for reuse. Buffers without capacity (moved-from) are
  // ignored; one that would exceed max_bytes is freed. Thread-safe.
  void give(std::vector<char>&& buf);

  // Capacity in bytes of the idle buffers held now.
  size_t idle_bytes() const;
  // Buffers allocated by take() so far (none was idle with the capacity).
  size_t allocations() const;

private:
  size_t max_bytes_;
  size_t min_capacity_;
  size_t allocations_ = 0;
  mutable std::mutex mutex_;
  std::vector<std::vector<char>> idle_;
  size_t idle_bytes_ = 0;
};

// The daemon's pool for chunk payloads: range_fetchers take from it, downloads
// give back. Each buffer holds a chunk run of defaults::max_run_bytes. Bounded
// to 40 MiB of idle capacity: a download holds up to max_checking_bytes of
// runs as small as one 256 KiB chunk (32 buffers) plus one per fetcher, and
// a 16 MiB bound freed the rest when they came back, so the next download
// allocated and faulted them in again. Only the bytes a payload used are
// resident: bench.py's 1 GiB download peaked at 37-39 MiB RSS against 43-46
// with the 16 MiB bound and exact-size buffers, and took 125-390 page faults
// against 1,285-2,204 (2026-12-02).
buffer_pool& chunk_buffers();

} // namespace p2p
