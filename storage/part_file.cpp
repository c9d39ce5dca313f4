#include "storage/part_file.hpp"

#include <cerrno>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/fs.hpp"

namespace p2p {

namespace {

std::string parent_dir(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos)
    return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

} // namespace

part_file::~part_file() {
  close();
}

part_file::part_file(part_file&& other) noexcept
  : fd_(other.fd_), path_(std::move(other.path_)), pwrite_(std::move(other.pwrite_)),
    fallocate_(std::move(other.fallocate_)) {
  other.fd_ = -1;
}

part_file& part_file::operator=(part_file&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = other.fd_;
    path_ = std::move(other.path_);
    pwrite_ = std::move(other.pwrite_);
    fallocate_ = std::move(other.fallocate_);
    other.fd_ = -1;
  }
  return *this;
}

std::string part_file::create(uint64_t size) {
  close();
  const auto& path = path_;
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0)
    return "cannot create " + path + ": " + errno_text(errno);
  if (size == 0)
    return {};
  auto len = static_cast<int64_t>(size);
  int rc = fallocate_ ? fallocate_(fd_, 0, len)
                      : ::posix_fallocate(fd_, 0, static_cast<off_t>(len));
  if (rc == EOPNOTSUPP || rc == EINVAL)
    rc = ::ftruncate(fd_, static_cast<off_t>(len)) == 0 ? 0 : errno;
  if (rc != 0)
    return "cannot reserve " + std::to_string(size) + " bytes for " + path + ": "
           + errno_text(rc);
  return {};
}

std::string part_file::open_existing(uint64_t size) {
  close();
  const auto& path = path_;
  struct stat sb;
  if (::stat(path.c_str(), &sb) != 0 || static_cast<uint64_t>(sb.st_size) != size)
    return "part file missing or of the wrong size";
  fd_ = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd_ < 0)
    return "cannot open part file: " + errno_text(errno);
  return {};
}

std::string write_all_at(int fd, const std::string& path, uint64_t offset, const char* data,
                         size_t len, const part_file::pwrite_fn& pw) {
  auto off = static_cast<int64_t>(offset);
  while (len > 0) {
    auto n = pw ? pw(fd, data, len, off)
                : static_cast<long>(::pwrite(fd, data, len, static_cast<off_t>(off)));
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return "cannot write " + path + ": " + errno_text(errno);
    }
    if (n == 0) // no progress and no error: a full device reports ENOSPC next
      return "cannot write " + path + ": " + errno_text(ENOSPC);
    data += n;
    len -= static_cast<size_t>(n);
    off += n;
  }
  return {};
}

std::string part_file::write_at(uint64_t offset, const char* data, size_t len) {
  return write_all_at(fd_, path_, offset, data, len, pwrite_);
}

std::string part_file::sync() {
  return fd_ < 0 ? std::string{} : sync_data(fd_, path_);
}

std::string part_file::sync_data(int fd, const std::string& path) {
  if (int err = sync_fd(fd, path, true); err != 0)
    return "cannot sync " + path + ": " + errno_text(err);
  return {};
}

std::string part_file::commit(const std::string& final_path, bool replace) {
  if (fd_ < 0)
    return "cannot rename " + path_ + ": not open";
  if (int err = sync_fd(fd_, path_); err != 0) {
    auto text = "cannot sync " + path_ + ": " + errno_text(err);
    close();
    return text;
  }
  close();
  unsigned flags = replace ? 0 : RENAME_NOREPLACE;
  if (::renameat2(AT_FDCWD, path_.c_str(), AT_FDCWD, final_path.c_str(), flags) != 0)
    return "cannot rename " + path_ + " to " + final_path + ": " + errno_text(errno);
  fsync_dir(parent_dir(final_path));
  return {};
}

void part_file::discard() {
  close();
  if (!path_.empty())
    ::unlink(path_.c_str());
}

void part_file::close() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

write_behind::write_behind(int fd, std::string path, uint64_t limit, range_fn sync)
    : fd_(fd), path_(std::move(path)), limit_(limit), sync_(std::move(sync)) {}

int write_behind::call(int64_t off, int64_t n, unsigned flags) {
  for (;;) {
    int rc = sync_ ? sync_(fd_, off, n, flags) : ::sync_file_range(fd_, off, n, flags);
    if (rc == 0)
      return 0;
    if (errno != EINTR)
      return errno;
  }
}

std::string write_behind::wrote(uint64_t at, uint64_t n) {
  if (!enabled_ || n == 0)
    return {};
  auto fail = [&](int err) -> std::string {
    if (err == EINVAL || err == ENOSYS || err == ESPIPE || err == EOPNOTSUPP) {
      enabled_ = false; // not on this file system: the syncs still hold
      started_.clear();
      under_way_ = 0;
      return {};
    }
    return "cannot write " + path_ + ": " + errno_text(err);
  };
  if (int err = call(static_cast<int64_t>(at), static_cast<int64_t>(n), SYNC_FILE_RANGE_WRITE))
    return fail(err);
  started_.emplace_back(at, n);
  under_way_ += n;
  while (under_way_ > limit_ && !started_.empty()) {
    auto [off, len] = started_.front();
    started_.pop_front();
    under_way_ -= len;
    if (int err = call(static_cast<int64_t>(off), static_cast<int64_t>(len),
                       SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE
                         | SYNC_FILE_RANGE_WAIT_AFTER))
      return fail(err);
  }
  return {};
}

} // namespace p2p
