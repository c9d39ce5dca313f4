// download, chunk verification: chunks are hashed against the manifest and
// written into the part file by a few verifier actors per download, so that
// the download actor (chunk bookkeeping) is never the one stage every byte
// waits in. SHA-256 of a 256 KiB chunk plus its pwrite took the download actor
// ~0.3 ms, busy 76-77 % of a 1 GiB download from 3 loopback seeders
// (2026-11-30); libtorrent likewise hashes pieces on a pool of threads
// (settings_pack::hashing_threads).
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unistd.h>

#include <caf/all.hpp>

#include "actors/download_state.hpp"
#include "protocol/frame.hpp"
#include "storage/fs.hpp"
#include "storage/part_file.hpp"

namespace p2p::download_detail {

namespace {

// A descriptor closed when its last user goes: the verifiers' own dup of the
// part file's, so a download that fails and removes its part file meanwhile
// never leaves a verifier writing into a closed (or reused) descriptor.
// `write_lock` lets one verifier write at a time: concurrent pwrites to one
// file wait for each other on the inode's rwsem anyway, and the kernel spins
// there while the owner copies (`rwsem_spin_on_owner`: 12-14 % of the
// downloader's CPU, 2 verifiers on 2 cores); a waiter on this mutex sleeps
// instead. Measured 2026-12-01, bench.py --size-mib 1024 --runs 3 --no-cold
// --cap-mbit 0 --files 10 --skip nginx,aria2c,libtorrent,openssl,tc,
// binaries alternating, 3 runs each: downloader 1.95 / 1.92 / 1.86 CPU-s per
// GiB against 2.09 / 2.19 / 2.05 without; throughput the same (0.52-0.54x
// the raw copy either way).
//
// `direct` is a second descriptor of the part file opened with O_DIRECT (-1
// where the filesystem refuses it, e.g. tmpfs): verified spans aligned to
// direct_align go to the disk from an aligned bounce buffer, past the page
// cache (write_direct). Buffered, the page-cache copy was 37 % of the
// downloader's samples and the kernel's writeback ran beside it on the same
// two cores; with O_DIRECT 1 GiB from 3 seeders moved at 620-659 MiB/s
// against 505-537 MiB/s buffered, the downloader at 1.53-1.60 CPU-s per GiB
// against 1.66-1.89 (bench.py --size-mib 1024 --runs 3 --no-cold --cap-mbit
// 0 --files 10 --skip nginx,aria2c,libtorrent,openssl,tc, alternating, 2
// rounds, 2026-12-02; docs/profiling.md, "O_DIRECT writes"). The cost: the
// bytes are not in the page cache after the write, so serving them (partial
// seeder, then share) reads the disk (the peer_server's disk reader, with
// read-ahead).
struct owned_fd {
  int fd;
  int direct;
  mutable std::atomic<bool> direct_ok{true}; // false once the filesystem refused
  mutable std::mutex write_lock;
  owned_fd(int f, int d) : fd(f), direct(d) {}
  ~owned_fd() {
    if (direct >= 0)
      ::close(direct);
    if (fd >= 0)
      ::close(fd);
  }
  owned_fd(const owned_fd&) = delete;
  owned_fd& operator=(const owned_fd&) = delete;
};

// O_DIRECT wants the file offset, the length and the buffer's address aligned
// to the device's logical block (512 or 4096 bytes): 4096 covers both. Every
// chunk but a file's last is a multiple of it (chunk sizes are powers of two
// from 4 KiB).
constexpr size_t direct_align = 4096;
// The bounce buffer of each verifier thread: spans go out in pieces of this.
constexpr size_t direct_piece = 1u << 20;

// Writes `n` bytes of `data` at `at` through out.direct, copied piece by
// piece into this thread's aligned bounce buffer. Returns how many bytes it
// wrote: all of them, or fewer when there is no O_DIRECT descriptor, the
// span is not aligned, or a write failed (the caller then writes the rest
// buffered, which reports a real error such as ENOSPC). EINVAL or EOPNOTSUPP
// (a filesystem that opens O_DIRECT but refuses the write) turn it off for
// this download.
size_t write_direct(const owned_fd& out, uint64_t at, const char* data, size_t n) {
  if (out.direct < 0 || !out.direct_ok || at % direct_align != 0 || n % direct_align != 0)
    return 0;
  struct aligned_free {
    void operator()(char* p) const { std::free(p); }
  };
  static thread_local std::unique_ptr<char, aligned_free> bounce;
  if (!bounce) {
    void* p = nullptr;
    if (::posix_memalign(&p, direct_align, direct_piece) != 0)
      return 0;
    bounce.reset(static_cast<char*>(p));
  }
  size_t done = 0;
  while (done < n) {
    auto piece = std::min(direct_piece, n - done);
    std::memcpy(bounce.get(), data + done, piece);
    size_t put = 0;
    while (put < piece) {
      auto w = ::pwrite(out.direct, bounce.get() + put, piece - put,
                        static_cast<off_t>(at + done + put));
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0 || (put + static_cast<size_t>(w)) % direct_align != 0) {
        if (w < 0 && (errno == EINVAL || errno == EOPNOTSUPP))
          out.direct_ok = false;
        // A short write leaves the rest unaligned: the caller writes it.
        return done + put + (w > 0 ? static_cast<size_t>(w) : 0);
      }
      put += static_cast<size_t>(w);
    }
    done += piece;
  }
  return done;
}

// Answers hash_atom(first, count, at, wanted, buffer) with (first, count, ok,
// error, buffer). The buffer holds chunks first .. first + count - 1 back to
// back from byte `at` on (a chunk or chunk_run frame payload; count at most
// proto::max_run_chunks). Bit k of `wanted` asks for chunk first + k; bit k of `ok` says it is
// the chunk the manifest names (SHA-256) and is written at its offset, one
// pwrite per unbroken span of such chunks. No bit is set when the chunks'
// lengths do not add up to the data's (a malformed frame: every wanted chunk
// is bad). `error` is non-empty when a write failed ("cannot write <part
// path>: …"). The buffer comes back for the pool.
caf::behavior chunk_verifier(caf::event_based_actor*, std::shared_ptr<const manifest> man,
                             std::shared_ptr<const owned_fd> out, std::string path) {
  return {
    [=](hash_atom, uint32_t first, uint32_t count, uint32_t at, uint64_t wanted,
        std::vector<char>& buf)
      -> caf::result<uint32_t, uint32_t, uint64_t, std::string, std::vector<char>> {
      uint64_t ok = 0;
      std::string err;
      auto chunks = man->chunk_count();
      bool fits = count >= 1 && count <= proto::max_run_chunks && first < chunks && count <= chunks - first
                  && at <= buf.size();
      uint64_t total = 0;
      for (uint32_t k = 0; fits && k < count; ++k)
        total += man->chunk_length(first + k);
      fits = fits && total == buf.size() - at;
      const char* data = buf.data() + at;
      if (fits) {
        uint64_t off = 0;
        for (uint32_t k = 0; k < count; ++k) {
          auto len = man->chunk_length(first + k);
          if (((wanted >> k) & 1) && man->verify(first + k, data + off, len))
            ok |= uint64_t{1} << k;
          off += len;
        }
      }
      if (ok != 0) {
        std::lock_guard<std::mutex> guard{out->write_lock};
        uint64_t off = 0;
        for (uint32_t k = 0; k < count && err.empty();) {
          if (((ok >> k) & 1) == 0) {
            off += man->chunk_length(first + k++);
            continue;
          }
          auto span_at = off;
          auto span_first = first + k;
          for (; k < count && ((ok >> k) & 1); ++k)
            off += man->chunk_length(first + k);
          auto to = man->chunk_offset(span_first);
          auto n = static_cast<size_t>(off - span_at);
          auto direct = write_direct(*out, to, data + span_at, n);
          if (direct < n)
            err = write_all_at(out->fd, path, to + direct, data + span_at + direct, n - direct);
        }
      }
      return {first, count, ok, std::move(err), std::move(buf)};
    },
  };
}

} // namespace

std::string spawn_verifiers(self_ptr self) {
  auto& st = self->state;
  if (!st.verifiers.empty())
    return {};
  int fd = ::fcntl(st.part.fd(), F_DUPFD_CLOEXEC, 0);
  if (fd < 0)
    return "cannot write " + st.part.path() + ": " + errno_text(errno);
  int direct = ::open(st.part.path().c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);
  auto out = std::make_shared<const owned_fd>(fd, direct);
  auto man = std::make_shared<const manifest>(*st.man);
  // One per core, at most 4: hashing is all they do (a 2-core machine: 2).
  auto n = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 4);
  for (size_t i = 0; i < n; ++i)
    st.verifiers.push_back(self->spawn(chunk_verifier, man, out, st.part.path()));
  return {};
}

void stop_verifiers(self_ptr self) {
  for (auto& v : self->state.verifiers)
    self->send_exit(v, caf::exit_reason::user_shutdown);
  self->state.verifiers.clear();
}

} // namespace p2p::download_detail
