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
  // Every name of a directory with events; names whose watch ended are
  // dropped (their events still reported). A descriptor no name has any
  // more was removed while its events were queued.
  for (auto i = by_dir_.begin(); i != by_dir_.end();) {
    if (hit.count(i->second) != 0)
      out.dirs.push_back(i->first);
    if (gone.count(i->second) != 0) {
      ::inotify_rm_watch(fd_, i->second); // EINVAL after IN_IGNORED: harmless
      i = by_dir_.erase(i);
    } else {
      ++i;
    }
  }
  return out;
}

} // namespace p2p
