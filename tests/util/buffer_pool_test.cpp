#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <thread>

#include "util/buffer_pool.hpp"

using namespace p2p;

TEST_CASE("buffer_pool hands a given-back buffer out again without zeroing it",
          "[buffer_pool]") {
  buffer_pool pool(1 << 20);
  auto a = pool.take(1000);
  CHECK(a.size() == 1000);
  a.assign(1000, 'x');
  const char* mem = a.data();
  pool.give(std::move(a));
  CHECK(pool.idle_bytes() >= 1000);
  auto b = pool.take(1000);
  CHECK(b.data() == mem);                      // the same memory
  CHECK(b == std::vector<char>(1000, 'x'));   // old bytes kept: nothing zero-filled
  CHECK(pool.idle_bytes() == 0);
  // A smaller request reuses it too (shrinks), a larger one cannot.
  pool.give(std::move(b));
  auto c = pool.take(10);
  CHECK(c.data() == mem);
  CHECK(c.size() == 10);
  pool.give(std::move(c));
  auto d = pool.take(5000);
  CHECK(d.size() == 5000);
  CHECK(d.data() != mem);
  CHECK(d == std::vector<char>(5000, 0));     // fresh: zeroed
  CHECK(pool.idle_bytes() >= 1000);           // the small one still waits
}

TEST_CASE("buffer_pool keeps no more than its bound and ignores empty buffers",
          "[buffer_pool]") {
  buffer_pool pool(3000);
  pool.give(std::vector<char>{});
  std::vector<char> moved(100);
  auto sink = std::move(moved);
  pool.give(std::move(moved)); // moved-from: no capacity
  CHECK(pool.idle_bytes() == 0);
  pool.give(std::vector<char>(1000));
  pool.give(std::vector<char>(1000));
  pool.give(std::vector<char>(1000));
  CHECK(pool.idle_bytes() == 3000);
  pool.give(std::vector<char>(1000)); // over the bound: freed
  CHECK(pool.idle_bytes() == 3000);
  auto none = pool.take(0);
  CHECK(none.empty());
}

TEST_CASE("buffer_pool is safe to use from two threads at once", "[buffer_pool]") {
  buffer_pool pool(64 << 10);
  std::atomic<int> wrong{0}; // Catch's assertions are not thread-safe
  auto work = [&pool, &wrong](char fill) {
    for (int i = 0; i < 2000; ++i) {
      auto b = pool.take(4096);
      if (b.size() != 4096) {
        ++wrong;
        continue;
      }
      std::fill(b.begin(), b.end(), fill);
      if (std::count(b.begin(), b.end(), fill) != 4096) // another thread wrote into it
        ++wrong;
      pool.give(std::move(b));
    }
  };
  std::thread t(work, 'a');
  work('b');
  t.join();
  CHECK(wrong == 0);
  CHECK(pool.idle_bytes() <= (64u << 10));
  CHECK(pool.idle_bytes() >= 4096);
}
