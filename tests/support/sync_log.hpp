#pragma once
// The paths that p2p's syncs reach (storage/fs.hpp: every fsync and
// fdatasync goes through sync_fd), in order, while a sync_log lives. One at a
// time; syncs may come from any thread (a download's part syncer is a
// detached actor). `hold` makes syncs of one path wait until release(). No CAF.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "storage/fs.hpp"

namespace p2p::test {

class sync_log {
public:
  sync_log() {
    auto& s = shared();
    std::lock_guard<std::mutex> guard{s.mtx};
    s.paths.clear();
    s.threads.clear();
    s.held.clear();
    s.released = false;
    set_sync_observer(&observe);
  }
  ~sync_log() {
    release();
    set_sync_observer(nullptr);
  }
  sync_log(const sync_log&) = delete;
  sync_log& operator=(const sync_log&) = delete;

  // The paths synced since the log began (or since clear()), in order.
  std::vector<std::string> synced() const {
    std::lock_guard<std::mutex> guard{shared().mtx};
    return shared().paths;
  }
  // The thread of each sync in synced().
  std::vector<std::thread::id> threads() const {
    std::lock_guard<std::mutex> guard{shared().mtx};
    return shared().threads;
  }
  void clear() {
    std::lock_guard<std::mutex> guard{shared().mtx};
    shared().paths.clear();
    shared().threads.clear();
  }
  // The next sync of `path` waits (before syncing, after being logged)
  // until release(), for 10 s at most: a sync on the test's own thread
  // cannot hang the test. Later syncs of it do not wait.
  void hold(const std::string& path) {
    std::lock_guard<std::mutex> guard{shared().mtx};
    shared().held = path;
    shared().released = false;
  }
  void release() {
    {
      std::lock_guard<std::mutex> guard{shared().mtx};
      shared().released = true;
    }
    shared().cv.notify_all();
  }

private:
  struct state {
    std::mutex mtx;
    std::condition_variable cv;
    std::vector<std::string> paths;
    std::vector<std::thread::id> threads;
    std::string held;
    bool released = false;
  };
  static state& shared() {
    static state s;
    return s;
  }
  static void observe(const std::string& path) {
    auto& s = shared();
    std::unique_lock<std::mutex> lock{s.mtx};
    s.paths.push_back(path);
    s.threads.push_back(std::this_thread::get_id());
    if (!s.held.empty() && path == s.held) {
      s.held.clear();
      s.cv.wait_for(lock, std::chrono::seconds(10), [&] { return s.released; });
    }
  }
};

// Whether `path` starts with `prefix` (write_file_atomic syncs a temp file
// named <path>.tmp.<pid>.<n>).
inline bool starts_with(const std::string& path, const std::string& prefix) {
  return path.compare(0, prefix.size(), prefix) == 0;
}

} // namespace p2p::test
