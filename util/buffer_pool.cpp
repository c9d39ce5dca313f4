#include "util/buffer_pool.hpp"

#include <algorithm>
#include <utility>

#include "config/defaults.hpp"
#include "protocol/frame.hpp"

namespace p2p {

std::vector<char> buffer_pool::take(size_t size) {
  std::vector<char> buf;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    size_t best = idle_.size();
    for (size_t i = 0; i < idle_.size(); ++i) {
      if (idle_[i].capacity() < size)
        continue;
      if (best == idle_.size()) {
        best = i;
        continue;
      }
      auto have = idle_[i].size();
      auto kept = idle_[best].size();
      // Not below `size` and nearer it, or below and nearer it from there.
      bool better = have >= size ? (kept < size || have < kept) : (kept < size && have > kept);
      if (better)
        best = i;
    }
    if (best < idle_.size()) {
      buf = std::move(idle_[best]);
      idle_[best] = std::move(idle_.back());
      idle_.pop_back();
      idle_bytes_ -= buf.capacity();
    } else {
      ++allocations_;
    }
  }
  if (buf.capacity() < size)
    buf.reserve(std::max(size, min_capacity_));
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

size_t buffer_pool::allocations() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return allocations_;
}

buffer_pool& chunk_buffers() {
  static buffer_pool pool(40u << 20, defaults::max_run_bytes + proto::chunk_run_payload_offset);
  return pool;
}

} // namespace p2p
