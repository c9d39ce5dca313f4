#include <catch2/catch.hpp>

#include <algorithm>
#include <map>

#include "storage/chunk_picker.hpp"

using namespace p2p;

namespace {

// Seeders take turns: each picks one chunk, and it arrives at once.
std::map<peer_key, uint32_t> run_round_robin(chunk_picker& p,
                                             const std::vector<peer_key>& peers,
                                             std::vector<int>& fetched) {
  std::map<peer_key, uint32_t> shares;
  fetched.assign(p.chunk_count(), 0);
  for (size_t turn = 0; !p.complete(); ++turn) {
    REQUIRE(turn < 10 * uint64_t{p.chunk_count()} + 10);
    auto peer = peers[turn % peers.size()];
    auto c = p.pick(peer);
    REQUIRE(c);
    ++fetched[*c];
    ++shares[peer];
    CHECK(p.mark_have(*c, peer).empty());
  }
  return shares;
}

} // namespace

TEST_CASE("round robin over 1, 2 and 3 seeders fetches each chunk once",
          "[chunk_picker]") {
  for (size_t seeders : {1, 2, 3}) {
    INFO(seeders << " seeders");
    std::vector<peer_key> peers;
    for (size_t i = 0; i < seeders; ++i)
      peers.push_back(static_cast<peer_key>(10 + i));
    chunk_picker p(100);
    std::vector<int> fetched;
    auto shares = run_round_robin(p, peers, fetched);
    CHECK(std::all_of(fetched.begin(), fetched.end(), [](int n) { return n == 1; }));
    CHECK(p.have_count() == 100);
    CHECK(p.fresh_count() == 0);
    for (auto peer : peers) {
      CHECK(shares[peer] >= 100 / seeders);
      CHECK(shares[peer] <= 100 / seeders + 1);
      CHECK(p.in_flight(peer) == 0);
      CHECK_FALSE(p.pick(peer));
    }
  }
}

TEST_CASE("pipelined seeders: fresh chunks lowest first, no duplicates before endgame",
          "[chunk_picker]") {
  chunk_picker p(10);
  std::vector<uint32_t> order;
  for (int i = 0; i < 5; ++i) {
    order.push_back(*p.pick(1));
    order.push_back(*p.pick(2));
  }
  std::vector<uint32_t> expected = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  CHECK(order == expected);
  CHECK(p.fresh_count() == 0);
  CHECK(p.in_flight(1) == 5);
  CHECK(p.in_flight(2) == 5);
  // Nothing fresh, endgame off: nothing.
  CHECK_FALSE(p.pick(1, false));
}

TEST_CASE("endgame duplicates only when nothing fresh is left", "[chunk_picker]") {
  chunk_picker p(4);
  CHECK(p.pick(1) == 0u);
  CHECK(p.pick(1) == 1u);
  CHECK(p.pick(1) == 2u);
  // Peer 2 gets the fresh chunk first, not a duplicate.
  CHECK(p.pick(2) == 3u);
  // Now only duplicates: peer 2 gets peer 1's chunks, each once, lowest first.
  CHECK(p.pick(2) == 0u);
  CHECK(p.pick(2) == 1u);
  CHECK(p.pick(2) == 2u);
  CHECK_FALSE(p.pick(2)); // never the same chunk twice to one peer
  CHECK(p.pick(1) == 3u);
  CHECK_FALSE(p.pick(1));
  CHECK(p.fresh_count() == 0);

  SECTION("first copy wins; the other peer is told to cancel") {
    auto cancel = p.mark_have(0, 2);
    CHECK(cancel == std::vector<peer_key>{1});
    CHECK(p.in_flight(1) == 3);
    CHECK(p.in_flight(2) == 3);
    // The single-argument form returns every peer still fetching it.
    auto all = p.mark_have(1);
    std::sort(all.begin(), all.end());
    CHECK(all == std::vector<peer_key>{1, 2});
    CHECK(p.mark_have(1).empty()); // already had it
  }
  SECTION("endgame prefers the chunk with the fewest fetchers") {
    chunk_picker q(2);
    CHECK(q.pick(1) == 0u);
    CHECK(q.pick(2) == 1u);
    CHECK(q.pick(3) == 0u); // both have one fetcher: lowest index
    CHECK(q.pick(4) == 1u); // chunk 1 has fewer fetchers now
  }
}

TEST_CASE("a failed chunk is never given to that peer again", "[chunk_picker]") {
  chunk_picker p(3);
  CHECK(p.pick(1) == 0u);
  p.failed(0, 1);
  CHECK(p.in_flight(1) == 0);
  CHECK(p.fresh_count() == 3);
  CHECK(p.pick(1) == 1u); // not 0 again
  CHECK(p.pick(1) == 2u);
  CHECK_FALSE(p.pick(1)); // 0 is fresh but failed here; 1, 2 are its own
  CHECK(p.pick(2) == 0u); // another peer gets it
  p.failed(0, 2);
  CHECK_FALSE(p.pick(1, false));
  CHECK(p.pick(3) == 0u);

  SECTION("not even in endgame") {
    chunk_picker q(1);
    CHECK(q.pick(1) == 0u);
    q.failed(0, 1);
    CHECK(q.pick(2) == 0u);
    CHECK_FALSE(q.pick(1)); // in flight on 2, but 1 failed it
  }
}

TEST_CASE("released chunks return to the pool without blame", "[chunk_picker]") {
  chunk_picker p(3);
  CHECK(p.pick(1) == 0u);
  CHECK(p.pick(1) == 1u);
  p.released(0, 1);
  CHECK(p.fresh_count() == 2);
  CHECK(p.pick(1) == 0u); // the same peer may take it again
  p.released(2, 1);        // not in flight: ignored
  CHECK(p.fresh_count() == 1);
  p.released(99, 1);       // out of range: ignored
}

TEST_CASE("peer_lost returns its chunks to the pool", "[chunk_picker]") {
  chunk_picker p(6);
  for (int i = 0; i < 3; ++i) {
    p.pick(1);
    p.pick(2);
  }
  // 1 has 0,2,4 and 2 has 1,3,5. Duplicate 1 onto peer 3 (endgame).
  CHECK(p.pick(3) == 0u);
  auto lost = p.peer_lost(1);
  std::sort(lost.begin(), lost.end());
  CHECK(lost == std::vector<uint32_t>{0, 2, 4});
  CHECK(p.in_flight(1) == 0);
  // 0 is still in flight on peer 3, so only 2 and 4 are fresh.
  CHECK(p.fresh_count() == 2);
  CHECK(p.pick(2) == 2u);
  CHECK(p.pick(2) == 4u);
  CHECK(p.peer_lost(42).empty());
}

TEST_CASE("resume: pre-marked chunks are never picked", "[chunk_picker]") {
  chunk_picker p(10);
  for (uint32_t i : {0u, 1u, 4u, 9u})
    CHECK(p.mark_have(i).empty());
  CHECK(p.have_count() == 4);
  CHECK(p.fresh_count() == 6);
  std::vector<uint32_t> got;
  while (auto c = p.pick(1, false))
    got.push_back(*c);
  CHECK(got == std::vector<uint32_t>{2, 3, 5, 6, 7, 8});
  for (auto c : got)
    p.mark_have(c, 1);
  CHECK(p.complete());
  CHECK_FALSE(p.pick(2));
  CHECK(std::all_of(p.bitmap().begin(), p.bitmap().end(), [](bool b) { return b; }));
}

TEST_CASE("a chunk marked while it sits in the returned pool is not picked",
          "[chunk_picker]") {
  chunk_picker p(3);
  CHECK(p.pick(1) == 0u);
  p.released(0, 1);
  p.mark_have(0);
  CHECK(p.pick(1) == 1u);
  CHECK(p.pick(1) == 2u);
  CHECK_FALSE(p.pick(1));
  CHECK(p.pick(2) == 1u); // endgame: 2 duplicates what 1 is fetching
}

TEST_CASE("edge cases", "[chunk_picker]") {
  chunk_picker empty(0);
  CHECK(empty.complete());
  CHECK_FALSE(empty.pick(1));
  CHECK(empty.fresh_count() == 0);
  chunk_picker p(2);
  CHECK(p.mark_have(5).empty()); // out of range: ignored
  p.failed(7, 1);
  CHECK(p.fresh_count() == 2);
}

TEST_CASE("large picker stays fast", "[chunk_picker]") {
  const uint32_t n = 65536;
  chunk_picker p(n);
  std::vector<peer_key> peers = {1, 2, 3};
  uint32_t done = 0;
  // Pipelined: each peer keeps 16 requests; every 7th arrival fails once.
  std::map<peer_key, std::vector<uint32_t>> queue;
  for (uint64_t step = 0; !p.complete(); ++step) {
    REQUIRE(step < 10ull * n);
    auto peer = peers[step % 3];
    while (p.in_flight(peer) < 16) {
      auto c = p.pick(peer);
      if (!c)
        break;
      queue[peer].push_back(*c);
    }
    auto& q = queue[peer];
    if (q.empty())
      continue;
    auto c = q.front();
    q.erase(q.begin());
    if (p.have(c))
      continue;
    if (c % 7 == 0 && peer == 1) {
      p.failed(c, peer);
      continue;
    }
    p.mark_have(c, peer);
    ++done;
  }
  CHECK(done == n);
}
