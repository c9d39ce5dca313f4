#include "storage/fs.hpp"

#include <atomic>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace p2p {

namespace {

std::string dir_name(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos)
    return ".";
  if (slash == 0)
    return "/";
  return path.substr(0, slash);
}

bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    auto w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

} // namespace

int64_t mtime_ns_of(const struct stat& st) {
  return int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
}

std::string errno_text(int err) {
  return std::strerror(err);
}

namespace {

std::atomic<sync_observer> observer{nullptr};

} // namespace

void set_sync_observer(sync_observer f) {
  observer.store(f);
}

int sync_fd(int fd, const std::string& path, bool data_only) {
  if (auto f = observer.load())
    f(path);
  int rc = data_only ? ::fdatasync(fd) : ::fsync(fd);
  return rc == 0 ? 0 : errno;
}

void fsync_dir(const std::string& dir) {
  auto path = dir.empty() ? std::string(".") : dir;
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return;
  sync_fd(fd, path);
  ::close(fd);
}

std::string sync_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return "cannot open " + path + ": " + errno_text(errno);
  int err = sync_fd(fd, path);
  ::close(fd);
  return err == 0 ? "" : "cannot sync " + path + ": " + errno_text(err);
}

std::string write_file_atomic(const std::string& path, const std::string& data,
                              unsigned mode, bool durable) {
  static std::atomic<unsigned> counter{0};
  auto tmp = path + ".tmp." + std::to_string(::getpid()) + "."
             + std::to_string(counter++);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 07777);
  if (fd < 0)
    return "cannot create " + tmp + ": " + errno_text(errno);
  auto fail = [&](const std::string& what) {
    auto text = what + " " + tmp + ": " + errno_text(errno);
    ::close(fd);
    ::unlink(tmp.c_str());
    return text;
  };
  // The umask must not widen or narrow what the caller asked for (the
  // control cookie is 0600, shared state 0644).
  if (::fchmod(fd, mode & 07777) != 0)
    return fail("cannot chmod");
  if (!write_all(fd, data.data(), data.size()))
    return fail("cannot write");
  if (durable) {
    if (int err = sync_fd(fd, tmp); err != 0) {
      errno = err;
      return fail("cannot fsync");
    }
  }
  if (::close(fd) != 0) {
    auto text = "cannot close " + tmp + ": " + errno_text(errno);
    ::unlink(tmp.c_str());
    return text;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    auto text = "cannot rename " + tmp + " to " + path + ": " + errno_text(errno);
    ::unlink(tmp.c_str());
    return text;
  }
  if (durable)
    fsync_dir(dir_name(path));
  return "";
}

std::optional<std::string> read_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return std::nullopt;
  std::string out;
  char buf[65536];
  for (;;) {
    auto r = ::read(fd, buf, sizeof(buf));
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      ::close(fd);
      return std::nullopt;
    }
    if (r == 0)
      break;
    out.append(buf, static_cast<size_t>(r));
  }
  ::close(fd);
  return out;
}

std::string make_dirs(const std::string& path) {
  if (path.empty())
    return "cannot create directory: empty path";
  // The common case (a download's folder, the state dir): it exists. One
  // stat instead of a failing mkdir per path component (issue 9: 16 per
  // download of a small file).
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    return "";
  size_t pos = 0;
  for (;;) {
    pos = path.find('/', pos + 1);
    auto prefix = path.substr(0, pos);
    if (!prefix.empty() && ::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST)
      return "cannot create directory " + prefix + ": " + errno_text(errno);
    if (pos == std::string::npos)
      break;
  }
  if (::stat(path.c_str(), &st) != 0)
    return "cannot create directory " + path + ": " + errno_text(errno);
  if (!S_ISDIR(st.st_mode))
    return "cannot create directory " + path + ": exists and is not a directory";
  return "";
}

std::optional<uint64_t> free_space(const std::string& path) {
  struct statvfs vfs {};
  if (::statvfs(path.c_str(), &vfs) != 0)
    return std::nullopt;
  return static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
}

std::string join_path(const std::string& dir, const std::string& name) {
  if (dir.empty())
    return name;
  if (dir.back() == '/')
    return dir + name;
  return dir + "/" + name;
}

std::string base_name(const std::string& path) {
  auto end = path.find_last_not_of('/');
  if (end == std::string::npos)
    return path.empty() ? "" : "/";
  auto start = path.find_last_of('/', end);
  start = start == std::string::npos ? 0 : start + 1;
  return path.substr(start, end - start + 1);
}

namespace {

// cachestat(2)'s ABI (include/uapi/linux/mman.h since 6.5; Debian 12's kernel
// headers predate it). The syscall number is 451 on every architecture.
struct cachestat_range_abi {
  uint64_t off;
  uint64_t len;
};
struct cachestat_abi {
  uint64_t nr_cache;
  uint64_t nr_dirty;
  uint64_t nr_writeback;
  uint64_t nr_evicted;
  uint64_t nr_recently_evicted;
};
constexpr long cachestat_syscall = 451;

} // namespace

std::optional<page_cache_pages> page_cache_stat(int fd, uint64_t offset, uint64_t len) {
  if (len == 0)
    return page_cache_pages{};
  static const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  uint64_t first = offset / page;
  uint64_t end = (offset + len + page - 1) / page;
  cachestat_range_abi range{first * page, (end - first) * page};
  cachestat_abi cs{};
  if (::syscall(cachestat_syscall, fd, &range, &cs, 0) != 0)
    return std::nullopt;
  return page_cache_pages{end - first, cs.nr_cache, cs.nr_dirty, cs.nr_writeback};
}

std::optional<bool> page_cache_holds(int fd, uint64_t offset, uint64_t len) {
  auto st = page_cache_stat(fd, offset, len);
  if (!st)
    return std::nullopt;
  return st->cached >= st->pages;
}

long read_full_at(int fd, char* buf, size_t len, uint64_t offset) {
  size_t got = 0;
  while (got < len) {
    auto n = ::pread(fd, buf + got, len - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -1;
    if (n == 0)
      break;
    got += static_cast<size_t>(n);
  }
  return static_cast<long>(got);
}

} // namespace p2p
