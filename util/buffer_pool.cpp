#include "util/buffer_pool.hpp"

#include <utility>

namespace p2p {

std::vector<char> buffer_pool::take(size_t size) {
  std::vector<char> buf;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // The most recently given back buffer that is large enough (warm in cache).
    for (size_t i = idle_.size(); i-- > 0;) {
      if (idle_[i].capacity() >= size) {
        buf = std::move(idle_[i]);
        idle_[i] = std::move(idle_.back());
        idle_.pop_back();
        idle_bytes_ -= buf.capacity();
        break;
      }
    }
  }
  buf.resize(size);
  return buf;
}

void buffer_pool::give(std::vector<char>&& buf) {
  if (buf.capacity() == 0)
    return;
  std::vector<char> drop; // freed outside the lock
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (idle_bytes_ + buf.capacity() > max_bytes_) {
      drop = std::move(buf);
    } else {
      idle_bytes_ += buf.capacity();
      idle_.push_back(std::move(buf));
    }
  }
}

size_t buffer_pool::idle_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return idle_bytes_;
}

buffer_pool& chunk_buffers() {
  static buffer_pool pool(16u << 20);
  return pool;
}

} // namespace p2p
