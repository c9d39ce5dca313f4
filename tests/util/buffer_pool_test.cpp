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

TEST_CASE("buffer_pool serves chunk runs of mixed sizes from the buffers it has",
          "[buffer_pool]") {
  // Runs of 1 to 4 chunks of 256 KiB, at most 6 held at once (in the
  // verifiers and the writer), as in a download from 3 seeders. The pool must
  // not allocate past the 6 buffers it needs: a buffer too small for a 1 MiB
  // run once cost page faults on every few MiB (buffer_pool.hpp).
  constexpr size_t run = 256 << 10;
  buffer_pool pool(16 << 20, 4 * run + 8);
  std::vector<std::vector<char>> held;
  unsigned seed = 1;
  for (int i = 0; i < 2000; ++i) {
    seed = seed * 1103515245u + 12345u;
    auto chunks = 1 + (seed >> 16) % 4;
    held.push_back(pool.take(chunks * run + 8));
    REQUIRE(held.back().size() == chunks * run + 8);
    if (held.size() == 6) {
      auto k = (seed >> 8) % held.size(); // given back in any order
      pool.give(std::move(held[k]));
      held.erase(held.begin() + static_cast<long>(k));
    }
  }
  CHECK(pool.allocations() == 6);
}

TEST_CASE("buffer_pool hands out the idle buffer that needs the fewest bytes zeroed",
          "[buffer_pool]") {
  buffer_pool pool(1 << 20, 4096);
  auto small = pool.take(100);
  auto mid = pool.take(2000);
  auto big = pool.take(3000);
  CHECK(small.capacity() >= 4096); // every buffer can take any size up to 4096
  const char* at_small = small.data();
  const char* at_mid = mid.data();
  const char* at_big = big.data();
  pool.give(std::move(big));
  pool.give(std::move(small));
  pool.give(std::move(mid));
  auto a = pool.take(1500); // sizes 3000, 100, 2000 idle: 2000 shrinks the least
  CHECK(a.data() == at_mid);
  auto b = pool.take(3500); // 3000 and 100 idle, neither large enough: 3000 grows the least
  CHECK(b.data() == at_big);
  auto c = pool.take(4000); // 100 idle: it has the capacity
  CHECK(c.data() == at_small);
  CHECK(pool.allocations() == 3);
  auto d = pool.take(5000); // nothing idle
  CHECK(pool.allocations() == 4);
  CHECK(d.size() == 5000);
}

TEST_CASE("the daemon's chunk buffer pool keeps the buffers one download holds at its peak",
          "[buffer_pool]") {
  // 8 MiB waiting for verifiers in single-chunk runs of 256 KiB, plus one
  // run being read per seeder: all of them come back when the download ends,
  // and the next download must find them idle instead of allocating again.
  auto& pool = chunk_buffers();
  std::vector<std::vector<char>> held;
  for (int i = 0; i < 36; ++i)
    held.push_back(pool.take((256 << 10) + 4));
  for (auto& b : held)
    pool.give(std::move(b));
  held.clear();
  auto before = pool.allocations();
  for (int i = 0; i < 36; ++i)
    held.push_back(pool.take(i % 4 == 0 ? (1 << 20) + 8 : (256 << 10) + 4));
  CHECK(pool.allocations() == before);
  for (auto& b : held)
    pool.give(std::move(b));
}
