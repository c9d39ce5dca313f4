#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>

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

// -- swarming: bitfields, rarest first ------------------------------------------

namespace {

std::vector<bool> bits_of(uint32_t n, std::initializer_list<uint32_t> set) {
  std::vector<bool> b(n, false);
  for (auto i : set)
    b[i] = true;
  return b;
}

} // namespace

TEST_CASE("rarest first: the chunk the fewest sources have goes first",
          "[chunk_picker][swarm]") {
  chunk_picker p(4);
  p.add_source(1, bits_of(4, {0, 1, 2, 3})); // full seeder
  p.add_source(2, bits_of(4, {0, 1, 3}));
  p.add_source(3, bits_of(4, {0, 3}));
  CHECK(p.availability(0) == 3);
  CHECK(p.availability(1) == 2);
  CHECK(p.availability(2) == 1);
  CHECK(p.availability(3) == 3);
  // Peer 1 has all: the rarest (2), then 1, then 0 and 3 (tie: lowest index).
  CHECK(p.pick(1, false) == 2u);
  CHECK(p.pick(1, false) == 1u);
  CHECK(p.pick(1, false) == 0u);
  CHECK(p.pick(1, false) == 3u);
  CHECK_FALSE(p.pick(1, false));
}

TEST_CASE("a source is never asked for a chunk it lacks, not even in endgame",
          "[chunk_picker][swarm]") {
  chunk_picker p(4);
  p.add_source(1, bits_of(4, {0, 1}));
  p.add_source(2, bits_of(4, {}));
  CHECK_FALSE(p.pick(2)); // lacks everything
  CHECK_FALSE(p.wants_from(2));
  CHECK(p.wants_from(1));
  CHECK(p.pick(1) == 0u);
  CHECK(p.pick(1) == 1u);
  CHECK_FALSE(p.pick(1)); // 2 and 3 are fresh but 1 lacks them
  CHECK(p.fresh_count() == 2);
  p.source_has(2, 0);     // a have: 2 now has chunk 0 (in flight on 1)
  CHECK(p.pick(2) == 0u); // endgame duplicate of what it has
  CHECK_FALSE(p.pick(2));
  p.mark_have(0, 1);
  p.mark_have(1, 1);
  CHECK_FALSE(p.wants_from(1)); // everything it has is here already
  CHECK_FALSE(p.wants_from(2));
}

TEST_CASE("have updates make a chunk available and less rare", "[chunk_picker][swarm]") {
  chunk_picker p(3);
  p.add_source(1, bits_of(3, {}));
  p.add_source(2, bits_of(3, {0, 1, 2}));
  CHECK_FALSE(p.pick(1));
  p.source_has(1, 2);
  CHECK(p.availability(2) == 2);
  p.source_has(1, 2); // a repeated have changes nothing
  CHECK(p.availability(2) == 2);
  p.source_has(1, 99); // out of range: ignored
  CHECK(p.pick(1) == 2u);
  // For 2, chunks 0 and 1 are rarer (1 source) than 2 was: lowest first.
  CHECK(p.pick(2) == 0u);
  CHECK(p.pick(2) == 1u);
  CHECK(p.pick(2) == 2u); // endgame: duplicates 1's request
}

TEST_CASE("a source without a bitfield has everything and adds no availability",
          "[chunk_picker][swarm]") {
  chunk_picker p(3);
  p.add_source(2, bits_of(3, {1}));
  CHECK(p.source_has_chunk(7, 0));
  CHECK(p.availability(0) == 0);
  // Chunks 0 and 2 (no bitfield has them) are rarer than 1.
  CHECK(p.pick(7, false) == 0u);
  CHECK(p.pick(7, false) == 2u);
  CHECK(p.pick(7, false) == 1u);
}

TEST_CASE("not_have: the source lacks the chunk, the request ends without blame",
          "[chunk_picker][swarm]") {
  chunk_picker p(2);
  p.add_source(1, bits_of(2, {0, 1}));
  p.add_source(2, bits_of(2, {0, 1}));
  CHECK(p.pick(1) == 0u);
  p.not_have(0, 1);
  CHECK(p.in_flight(1) == 0);
  CHECK_FALSE(p.source_has_chunk(1, 0));
  CHECK(p.availability(0) == 1);
  CHECK(p.pick(1) == 1u); // not 0: it said it lacks it
  CHECK(p.pick(2) == 0u); // not blamed: another source gets it
  p.source_has(1, 0);     // a later have: it may be asked again
  CHECK(p.pick(1) == 0u); // endgame duplicate now allowed
  SECTION("from a source without a bitfield") {
    chunk_picker q(2);
    CHECK(q.pick(5) == 0u);
    q.not_have(0, 5);
    CHECK_FALSE(q.source_has_chunk(5, 0));
    CHECK(q.source_has_chunk(5, 1));
    CHECK(q.pick(5) == 1u);
    CHECK_FALSE(q.pick(5));
    q.not_have(9, 5); // out of range: ignored
  }
}

TEST_CASE("a source that disappears takes its availability along",
          "[chunk_picker][swarm]") {
  chunk_picker p(3);
  p.add_source(1, bits_of(3, {0, 1, 2}));
  p.add_source(2, bits_of(3, {0, 1}));
  p.add_source(3, bits_of(3, {0}));
  CHECK(p.pick(2) == 1u); // 1 (2 sources) is rarer than 0 (3)
  auto lost = p.peer_lost(2);
  CHECK(lost == std::vector<uint32_t>{1});
  CHECK(p.availability(0) == 2);
  CHECK(p.availability(1) == 1);
  CHECK(p.availability(2) == 1);
  CHECK(p.in_flight(2) == 0);
  // Back with a new bitfield: counted once, not twice.
  p.add_source(2, bits_of(3, {2}));
  CHECK(p.availability(2) == 2);
  CHECK(p.availability(1) == 1);
  CHECK(p.pick(1) == 1u);
  // Replacing a bitfield also replaces its availability.
  p.add_source(3, bits_of(3, {}));
  CHECK(p.availability(0) == 1);
  CHECK(p.pick(1) == 0u); // 0 (1 source) before 2 (2 sources)
}

TEST_CASE("random tie order: downloaders seeded differently diverge",
          "[chunk_picker][swarm]") {
  const uint32_t n = 64;
  auto first_picks = [&](uint64_t seed) {
    chunk_picker p(n, seed);
    p.add_source(1, std::vector<bool>(n, true));
    std::vector<uint32_t> order;
    while (auto c = p.pick(1, false))
      order.push_back(*c);
    return order;
  };
  auto a = first_picks(1);
  auto b = first_picks(2);
  REQUIRE(a.size() == n);
  REQUIRE(b.size() == n);
  CHECK(first_picks(1) == a); // deterministic per seed
  CHECK(a != b);
  auto sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (uint32_t i = 0; i < n; ++i)
    CHECK(sorted[i] == i); // a permutation: each chunk exactly once
  // Rarity still comes before the tie order.
  chunk_picker p(n, 3);
  auto bits = std::vector<bool>(n, true);
  p.add_source(1, bits);
  bits[40] = false;
  p.add_source(2, bits);
  CHECK(p.pick(1) == 40u);
}

TEST_CASE("swarm simulation: partial sources trade until all are complete",
          "[chunk_picker][swarm]") {
  // Peer 0 is the seeder; peers 1..4 download from every other peer and
  // announce each chunk they verify (have). Per round every peer uploads at
  // most one chunk and receives at most one (equal uplinks and downlinks):
  // the seeder alone would need 4 * n rounds, a perfect swarm n. The seeder
  // leaves after n uploads: rarest first has then sent each chunk once, so
  // the swarm completes without it (lowest-index or random picks would have
  // sent some chunks twice and lost others).
  const uint32_t n = 200;
  const int downloaders = 4;
  const int peers = downloaders + 1;
  std::vector<chunk_picker> pickers;
  for (int d = 0; d < downloaders; ++d)
    pickers.emplace_back(n, 100 + d);
  std::vector<std::vector<bool>> has(peers, std::vector<bool>(n, false));
  has[0].assign(n, true);
  for (int d = 0; d < downloaders; ++d)
    for (int s = 0; s < peers; ++s)
      if (s != d + 1)
        pickers[d].add_source(static_cast<peer_key>(s), has[s]);
  std::vector<uint32_t> uploads(peers, 0);
  uint32_t rounds = 0;
  auto all_complete = [&] {
    return std::all_of(pickers.begin(), pickers.end(),
                       [](const chunk_picker& p) { return p.complete(); });
  };
  for (; !all_complete(); ++rounds) {
    REQUIRE(rounds < 4 * n);
    std::vector<bool> busy(peers, false);
    std::vector<std::pair<int, uint32_t>> arrivals;
    for (int k = 0; k < downloaders; ++k) {
      int d = static_cast<int>((rounds + k) % downloaders);
      for (int j = 0; j < peers && !pickers[d].complete(); ++j) {
        int s = static_cast<int>((rounds + d + j) % peers);
        bool gone = s == 0 && !has[0][0];
        if (s == d + 1 || busy[s] || gone)
          continue;
        auto c = pickers[d].pick(static_cast<peer_key>(s), false);
        if (!c)
          continue;
        REQUIRE(has[s][*c]); // never asked for a chunk it lacks
        busy[s] = true;
        ++uploads[s];
        arrivals.push_back({d, *c});
        pickers[d].mark_have(*c, static_cast<peer_key>(s));
        break;
      }
    }
    for (auto [d, c] : arrivals) {
      has[d + 1][c] = true;
      for (int o = 0; o < downloaders; ++o)
        if (o != d)
          pickers[o].source_has(static_cast<peer_key>(d + 1), c);
    }
    if (uploads[0] == n && has[0][0]) {
      has[0].assign(n, false);
      for (auto& p : pickers)
        p.peer_lost(0);
    }
  }
  UNSCOPED_INFO("rounds " << rounds << ", seeder uploads " << uploads[0]);
  CHECK(rounds <= n + n / 4);
  CHECK(uploads[0] == n);
  for (int d = 1; d < peers; ++d)
    CHECK(uploads[d] > n / 2);
}

TEST_CASE("large picker with partial sources stays fast", "[chunk_picker][swarm]") {
  const uint32_t n = 65536;
  chunk_picker p(n, 42);
  // Four sources with every 2nd, 3rd, 5th, 7th chunk; one full seeder.
  for (peer_key s : {2u, 3u, 5u, 7u}) {
    std::vector<bool> b(n, false);
    for (uint32_t i = 0; i < n; i += s)
      b[i] = true;
    p.add_source(s, b);
  }
  p.add_source(1, std::vector<bool>(n, true));
  std::vector<peer_key> peers = {1, 2, 3, 5, 7};
  for (uint64_t step = 0; !p.complete(); ++step) {
    REQUIRE(step < 4ull * n);
    auto peer = peers[step % peers.size()];
    if (auto c = p.pick(peer)) {
      REQUIRE(p.source_has_chunk(peer, *c));
      p.mark_have(*c, peer);
    }
  }
  CHECK(p.have_count() == n);
}

TEST_CASE("a source whose chunks sit far back in the order still gets the rarest",
          "[chunk_picker][swarm]") {
  // More than the picker's scan limit of commoner-for-others chunks come
  // first; source 2's own chunks are found by its bitfield instead.
  const uint32_t n = 200;
  chunk_picker p(n, 9);
  p.add_source(1, std::vector<bool>(n, true));
  p.add_source(2, bits_of(n, {150, 199, 7}));
  p.add_source(3, bits_of(n, {150, 7}));
  p.add_source(4, bits_of(n, {150}));
  p.failed(7, 2); // never picked again from 2, even by the bitfield path
  CHECK(p.pick(2, false) == 199u); // 2 sources
  CHECK(p.pick(2, false) == 150u); // 4 sources
  CHECK_FALSE(p.pick(2, false));
  CHECK(p.pick(3, false) == 7u);
}

TEST_CASE("a source whose only needed chunk failed there is wanted no more",
          "[chunk_picker][swarm]") {
  chunk_picker p(2);
  p.add_source(1, bits_of(2, {0}));
  CHECK(p.wants_from(1));
  REQUIRE(p.pick(1) == 0u);
  p.failed(0, 1); // a bad hash or an io error: never asked of 1 again
  CHECK_FALSE(p.wants_from(1));
  CHECK(p.wants_from(2)); // a source without a bitfield has everything
}

TEST_CASE("a seeded picker with extents hands a full source consecutive chunks from a "
          "random start",
          "[picker][run]") {
  constexpr uint32_t n = 100, extent = 16;
  auto picks_of = [&](uint64_t seed, uint32_t e, const std::vector<bool>* partial) {
    chunk_picker p(n, seed, e);
    p.add_source(0, std::vector<bool>(n, true));
    if (partial)
      p.add_source(1, *partial);
    std::vector<uint32_t> picks;
    while (auto i = p.pick(0, false))
      picks.push_back(*i);
    REQUIRE(picks.size() == n);
    return picks;
  };
  auto picks = picks_of(7, extent, nullptr);
  // Every pick continues the one before unless that ended an extent or the
  // next chunk was taken already, and a new start is the first fresh chunk of
  // its extent: one source takes the 7 extents of 100 chunks whole.
  std::set<uint32_t> taken;
  size_t starts = 0;
  for (size_t k = 0; k < picks.size(); ++k) {
    if (k > 0) {
      auto next = picks[k - 1] + 1;
      bool can_continue = next < n && next % extent != 0 && taken.count(next) == 0;
      if (can_continue)
        REQUIRE(picks[k] == next);
    }
    if (k == 0 || picks[k] != picks[k - 1] + 1) {
      ++starts;
      CHECK(picks[k] % extent == 0);
    }
    taken.insert(picks[k]);
  }
  CHECK(starts == 7);
  // The starts are random: another seed, another order; no extents, no runs.
  CHECK(picks_of(8, extent, nullptr) != picks);
  auto plain = picks_of(7, 1, nullptr);
  size_t consecutive = 0;
  for (size_t k = 1; k < plain.size(); ++k)
    consecutive += plain[k] == plain[k - 1] + 1;
  CHECK(consecutive < 10);
  // A partial source (a swarm): no affinity, the seed's permutation as is.
  std::vector<bool> most(n, true);
  most[50] = false;
  CHECK(picks_of(7, extent, &most) == picks_of(7, 1, &most));
  // ...until it has every chunk.
  chunk_picker q(n, 7, extent);
  q.add_source(0, std::vector<bool>(n, true));
  q.add_source(1, most);
  q.source_has(1, 50);
  auto first = q.pick(0, false);
  REQUIRE(first);
  if ((*first + 1) % extent != 0 && *first + 1 < n)
    CHECK(q.pick(0, false) == *first + 1);
}
