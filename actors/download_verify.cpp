// download, chunk verification: chunks are hashed against the manifest by a
// few verifier actors per download, so that the download actor (chunk
// bookkeeping) is never the one stage every byte waits in, and the good ones
// are written into the part file by the download's one chunk writer, a
// detached actor, so that no hashing waits for the disk. SHA-256 of a 256 KiB
// chunk plus its pwrite took the download actor ~0.3 ms, busy 76-77 % of a 1
// GiB download from 3 loopback seeders (2026-11-30); libtorrent likewise
// hashes pieces on a pool of threads (settings_pack::hashing_threads) and
// writes on its disk threads.
#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <memory>
#include <string>
#include <thread>
#include <unistd.h>

#include <caf/all.hpp>

#include "actors/download_state.hpp"
#include "config/defaults.hpp"
#include "protocol/frame.hpp"
#include "storage/fs.hpp"
#include "storage/part_file.hpp"

namespace p2p::download_detail {

namespace {

// A descriptor closed when its last user goes: the writer's own dup of the
// part file's, so a download that fails and removes its part file meanwhile
// never leaves the writer writing into a closed (or reused) descriptor.
struct owned_fd {
  int fd;
  explicit owned_fd(int f) : fd(f) {}
  ~owned_fd() {
    if (fd >= 0)
      ::close(fd);
  }
  owned_fd(const owned_fd&) = delete;
  owned_fd& operator=(const owned_fd&) = delete;
};

// The chunk writer: answers write_atom(first, count, at, ok, buffer) with
// (first, count, ok, error, buffer). The buffer holds chunks first .. first +
// count - 1 back to back from byte `at` on, as checked by a verifier; bit k of
// `ok` says chunk first + k matched its hash: those are written at their
// offsets, one pwrite per unbroken span of them. `error` is non-empty when a
// write failed ("cannot write <part path>: ..."). Each span's writeback
// starts at once and the oldest are waited for past write_behind_bytes
// (write_behind, storage/part_file.hpp): that wait blocks, so the writer is
// detached, one per download. Only one writes, in the order the verifiers
// pass the chunks on: concurrent pwrites to one file wait for each other on
// the inode's lock anyway, and the kernel spun there while the owner copied
// (`rwsem_spin_on_owner`, 12-14 % of the downloader's CPU with 2 writing
// verifiers, 2026-12-01).
caf::behavior chunk_writer(caf::event_based_actor*, std::shared_ptr<const manifest> man,
                           std::shared_ptr<const owned_fd> out, std::string path) {
  auto behind = std::make_shared<write_behind>(out->fd, path, defaults::write_behind_bytes);
  return {
    [=](write_atom, uint32_t first, uint32_t count, uint32_t at, uint64_t ok,
        std::vector<char>& buf)
      -> caf::result<uint32_t, uint32_t, uint64_t, std::string, std::vector<char>> {
      std::string err;
      const char* data = buf.data() + at;
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
        err = write_all_at(out->fd, path, to, data + span_at, n);
        if (err.empty())
          err = behind->wrote(to, n);
      }
      return {first, count, ok, std::move(err), std::move(buf)};
    },
  };
}

// Answers hash_atom(first, count, at, wanted, buffer) with (first, count, ok,
// error, buffer), the answer of `writer` when a chunk is good. The buffer
// holds chunks first .. first + count - 1 back to back from byte `at` on (a
// chunk or chunk_run frame payload; count at most proto::max_run_chunks). Bit
// k of `wanted` asks for chunk first + k; bit k of `ok` says it is the chunk
// the manifest names (SHA-256) and is written at its offset (chunk_writer).
// No bit is set when the chunks' lengths do not add up to the data's (a
// malformed frame: every wanted chunk is bad). `error` is non-empty when a
// write failed. The buffer comes back for the pool.
caf::behavior chunk_verifier(caf::event_based_actor* self, std::shared_ptr<const manifest> man,
                             caf::actor writer) {
  return {
    [=](hash_atom, uint32_t first, uint32_t count, uint32_t at, uint64_t wanted,
        std::vector<char>& buf)
      -> caf::result<uint32_t, uint32_t, uint64_t, std::string, std::vector<char>> {
      uint64_t ok = 0;
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
      if (ok == 0)
        return {first, count, ok, std::string{}, std::move(buf)};
      auto rp = self->make_response_promise();
      rp.delegate(writer, write_atom::value, first, count, at, ok, std::move(buf));
      return rp;
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
  auto out = std::make_shared<const owned_fd>(fd);
  auto man = std::make_shared<const manifest>(*st.man);
  // Under the test coordinator (the deterministic actor tests) the writer is
  // a scheduled actor like the rest, so a test's run() includes its writes.
  if (dynamic_cast<caf::scheduler::test_coordinator*>(&self->home_system().scheduler()))
    st.writer = self->spawn(chunk_writer, man, out, st.part.path());
  else
    st.writer = self->spawn<caf::detached>(chunk_writer, man, out, st.part.path());
  // One per core, at most 4: hashing is all they do (a 2-core machine: 2).
  auto n = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 4);
  for (size_t i = 0; i < n; ++i)
    st.verifiers.push_back(self->spawn(chunk_verifier, man, st.writer));
  return {};
}

void stop_verifiers(self_ptr self) {
  auto& st = self->state;
  for (auto& v : st.verifiers)
    self->send_exit(v, caf::exit_reason::user_shutdown);
  st.verifiers.clear();
  if (st.writer)
    self->send_exit(st.writer, caf::exit_reason::user_shutdown);
  st.writer = nullptr;
}

} // namespace p2p::download_detail
