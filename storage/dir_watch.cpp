#include "storage/dir_watch.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <set>

namespace p2p {

namespace {

constexpr uint32_t watch_mask = IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB
                                | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO
                                | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

} // namespace

dir_watch::dir_watch() : fd_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
}

dir_watch::~dir_watch() {
  if (fd_ >= 0)
    ::close(fd_);
}

bool dir_watch::add(const std::string& dir) {
  if (fd_ < 0) {
    errno = EMFILE;
    return false;
  }
  if (by_dir_.count(dir) != 0)
    return true;
  int wd = ::inotify_add_watch(fd_, dir.c_str(), watch_mask);
  if (wd < 0)
    return false;
  // The same directory under another path (a link) gets the same wd: keep
  // the first name, report events under it.
  auto [it, fresh] = by_wd_.emplace(wd, dir);
  if (!fresh)
    return by_dir_.emplace(dir, wd), true;
  by_dir_.emplace(dir, wd);
  return true;
}

void dir_watch::remove(const std::string& dir) {
  auto i = by_dir_.find(dir);
  if (i == by_dir_.end())
    return;
  int wd = i->second;
  by_dir_.erase(i);
  for (auto& [d, w] : by_dir_)
    if (w == wd)
      return; // still watched under another name
  by_wd_.erase(wd);
  ::inotify_rm_watch(fd_, wd);
}

dir_watch::changes dir_watch::poll() {
  changes out;
  if (fd_ < 0)
    return out;
  std::set<int> hit;
  std::set<int> gone;
  alignas(inotify_event) char buf[16384];
  for (;;) {
    auto n = ::read(fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break; // EAGAIN: drained
    for (char* p = buf; p < buf + n;) {
      auto* ev = reinterpret_cast<inotify_event*>(p);
      p += sizeof(inotify_event) + ev->len;
      if (ev->mask & IN_Q_OVERFLOW) {
        out.overflow = true;
        continue;
      }
      if (ev->wd < 0)
        continue;
      hit.insert(ev->wd);
      if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF))
        gone.insert(ev->wd);
    }
  }
  for (int wd : hit) {
    auto i = by_wd_.find(wd);
    if (i == by_wd_.end())
      continue; // removed while its events were queued
    for (auto& [d, w] : by_dir_)
      if (w == wd)
        out.dirs.push_back(d);
  }
  for (int wd : gone) {
    if (by_wd_.erase(wd) == 0)
      continue;
    ::inotify_rm_watch(fd_, wd); // EINVAL after IN_IGNORED: harmless
    for (auto i = by_dir_.begin(); i != by_dir_.end();)
      i = i->second == wd ? by_dir_.erase(i) : std::next(i);
  }
  return out;
}

} // namespace p2p
