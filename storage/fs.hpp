#pragma once
// File-system helpers with the durability rules of DESIGN.md.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

struct stat;

namespace p2p {

// A stat result's modification time in nanoseconds since the epoch (what
// shares record to notice a changed file).
int64_t mtime_ns_of(const struct stat& st);

// Writes `data` to `path` atomically: temp file in the same directory, fsync,
// rename, fsync of the directory. Returns an error message or "" on success.
// `durable` false skips both fsyncs (the rename stays atomic): for files that
// are verified when read back and cheap to rebuild (manifests, a resume record
// that vouches for no chunk), so sharing or downloading thousands of files
// does not cost two fsyncs each.
std::string write_file_atomic(const std::string& path, const std::string& data,
                              unsigned mode = 0644, bool durable = true);

// Whole file as a string; nullopt when it cannot be read.
std::optional<std::string> read_file(const std::string& path);

// Creates a directory and its parents (mode 0755); "" or an error message.
// A directory that exists already costs one stat(2), nothing more.
std::string make_dirs(const std::string& path);

// Free bytes available to this user on the file system holding `path`.
std::optional<uint64_t> free_space(const std::string& path);

// fsync of a directory (after rename/unlink inside it).
void fsync_dir(const std::string& dir);

// fsync(2) of the open file `fd`, or fdatasync(2) with `data_only`; `path`
// names it for the sync observer. Returns 0 or the errno value. Every sync
// the daemon makes (write_file_atomic, fsync_dir, sync_file, part_file) goes
// through here.
int sync_fd(int fd, const std::string& path, bool data_only = false);

// fsync of the existing file at `path` (opened read-only): its data, written
// earlier without a sync, reaches the disk. "" or an error message.
std::string sync_file(const std::string& path);

// Test seam: `f` is called with the path of every sync_fd, in order, before
// the sync; nullptr (the default) for none. Process-wide: tests set it while
// no other thread syncs (the deterministic actor tier).
using sync_observer = void (*)(const std::string& path);
void set_sync_observer(sync_observer f);

// "/a/b" + "c" -> "/a/b/c".
std::string join_path(const std::string& dir, const std::string& name);

// The last path component ("/a/b.txt" -> "b.txt").
std::string base_name(const std::string& path);

// Reads `len` bytes at `offset` of `fd` into `buf` (pread, continuing after
// short reads and EINTR). Returns the bytes read: `len`, fewer when the file
// ends first, or -1 with errno set.
long read_full_at(int fd, char* buf, size_t len, uint64_t offset);

// Whether every page of bytes [offset, offset + len) of the open file `fd` is
// in the page cache, asked with cachestat(2) (Linux 6.5+; it reads nothing and
// never waits for the disk). nullopt when the kernel cannot tell (ENOSYS on an
// older kernel, EPERM in a sandbox): callers then assume "not known".
std::optional<bool> page_cache_holds(int fd, uint64_t offset, uint64_t len);

// The pages of bytes [offset, offset + len) of `fd` (`pages` of them; none
// for len 0) that cachestat(2) counts: in the page cache, dirty (written, not
// yet sent to the disk), and under writeback. nullopt as for page_cache_holds.
struct page_cache_pages {
  uint64_t pages = 0;
  uint64_t cached = 0;
  uint64_t dirty = 0;
  uint64_t writeback = 0;
};
std::optional<page_cache_pages> page_cache_stat(int fd, uint64_t offset, uint64_t len);

// strerror(errno) as a string.
std::string errno_text(int err);

} // namespace p2p
