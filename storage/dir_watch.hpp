#pragma once
// Which watched directories had an entry change, from Linux inotify(7): the
// share registry re-stats only the shares in those directories instead of
// every shared file on every check (an idle daemon sharing 1,000 files spent
// ~1 ms per 2 s check on stat; issue 9's idle-CPU target).
#include <map>
#include <string>
#include <vector>

namespace p2p {

class dir_watch {
public:
  // Opens a non-blocking inotify instance; ok() is false (and every add
  // fails) when the kernel refuses one (EMFILE: the per-user instance limit).
  dir_watch();
  ~dir_watch();
  dir_watch(const dir_watch&) = delete;
  dir_watch& operator=(const dir_watch&) = delete;

  bool ok() const { return fd_ >= 0; }

  // Watches the directory `dir` (an absolute path): entries created,
  // written, closed after writing, changing attributes (mtime, mode),
  // deleted or moved in or out, and the directory itself deleted or moved.
  // Returns true when it is watched (already, or now); false with errno set
  // when not (ENOSPC: the user's inotify watch limit,
  // /proc/sys/fs/inotify/max_user_watches; ENOENT, ENOTDIR, EACCES).
  bool add(const std::string& dir);

  // Stops watching `dir`; nothing when it is not watched.
  void remove(const std::string& dir);

  struct changes {
    std::vector<std::string> dirs; // each at most once, in no set order
    bool overflow = false; // the kernel dropped events: anything may have changed
  };

  // Reads every pending event without blocking. A watched directory that was
  // deleted or moved is reported and no longer watched (add it again).
  changes poll();

private:
  int fd_ = -1;
  // Watched directories and their watch descriptors; one directory under two
  // names (a link) has one descriptor for both.
  std::map<std::string, int> by_dir_;
};

} // namespace p2p
