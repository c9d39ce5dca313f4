#pragma once
// The paths that p2p's syncs reach (storage/fs.hpp: every fsync and
// fdatasync goes through sync_fd), in order, while a sync_log lives. One at a
// time, on a test whose actors run on its own thread (unit tests, the
// deterministic actor tier). No CAF.
#include <string>
#include <vector>

#include "storage/fs.hpp"

namespace p2p::test {

class sync_log {
public:
  sync_log() {
    paths().clear();
    set_sync_observer([](const std::string& path) { paths().push_back(path); });
  }
  ~sync_log() { set_sync_observer(nullptr); }
  sync_log(const sync_log&) = delete;
  sync_log& operator=(const sync_log&) = delete;

  // The paths synced since the log began (or since clear()).
  const std::vector<std::string>& synced() const { return paths(); }
  void clear() { paths().clear(); }

private:
  static std::vector<std::string>& paths() {
    static std::vector<std::string> v;
    return v;
  }
};

// Whether `path` starts with `prefix` (write_file_atomic syncs a temp file
// named <path>.tmp.<pid>.<n>).
inline bool starts_with(const std::string& path, const std::string& prefix) {
  return path.compare(0, prefix.size(), prefix) == 0;
}

} // namespace p2p::test
