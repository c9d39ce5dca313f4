#include <catch2/catch.hpp>

#include "storage/seeder_set.hpp"

using namespace p2p;
using kind = seeder_set::action::kind;
using st = seeder_set::state;
using ms = std::chrono::milliseconds;

namespace {

constexpr seeder_set::limits lim{500, 10000, 5, 3, 3};

// A random source that always answers the top of the range (jitter off).
seeder_set make_set(bool low = false) {
  return seeder_set(lim, [low](uint64_t lo, uint64_t hi) { return low ? lo : hi; });
}

seeder_set::time_point t0() {
  return seeder_set::time_point{} + std::chrono::hours(1);
}

bool has(const seeder_set::actions& a, kind k, seeder_set::key key = 0) {
  for (const auto& x : a)
    if (x.what == k && (k == kind::fail || x.k == key))
      return true;
  return false;
}

const seeder_set::action* find(const seeder_set::actions& a, kind k) {
  for (const auto& x : a)
    if (x.what == k)
      return &x;
  return nullptr;
}

// A started set with seeders "a:1", "b:2", ... all connected.
seeder_set started(size_t n, bool low = false) {
  auto s = make_set(low);
  std::vector<std::string> eps;
  for (size_t i = 0; i < n; ++i)
    eps.push_back(std::string(1, static_cast<char>('a' + i)) + ":" + std::to_string(i + 1));
  s.listed(eps, t0(), false);
  auto a = s.start(t0());
  REQUIRE(a.size() == n);
  for (seeder_set::key k = 0; k < n; ++k) {
    REQUIRE(has(a, kind::connect, k));
    s.connected(k);
    REQUIRE(s.ready(k));
  }
  return s;
}

} // namespace

TEST_CASE("seeder_set: backoff doubles from retry_base_ms up to the cap", "[seeder_set]") {
  CHECK(seeder_set::backoff_ms(1, 500, 10000) == 500);
  CHECK(seeder_set::backoff_ms(2, 500, 10000) == 1000);
  CHECK(seeder_set::backoff_ms(3, 500, 10000) == 2000);
  CHECK(seeder_set::backoff_ms(5, 500, 10000) == 8000);
  CHECK(seeder_set::backoff_ms(6, 500, 10000) == 10000);
  CHECK(seeder_set::backoff_ms(60, 500, 10000) == 10000); // no overflow
  CHECK(seeder_set::backoff_ms(1, 500, 200) == 200);      // a cap below the base
  CHECK(seeder_set::backoff_ms(1, 0, 0) == 1);            // never 0 ms

  auto hi = started(1);
  auto lo = started(1, true);
  std::vector<int64_t> want{500, 1000, 2000, 4000, 8000};
  for (size_t i = 0; i < want.size(); ++i) {
    auto a = hi.lost(0, "closed", t0());
    auto r = find(a, kind::retry);
    REQUIRE(r);
    CHECK(r->delay == ms(want[i]));
    CHECK(has(a, kind::stop)); // its chunks in flight return to the pool
    CHECK(hi.at(0).st == st::retrying);
    auto b = lo.lost(0, "closed", t0());
    REQUIRE(find(b, kind::retry));
    CHECK(find(b, kind::retry)->delay == ms(want[i] / 2)); // jitter's floor: 50 %
    CHECK(has(hi.retry_due(0), kind::connect));
    CHECK(has(lo.retry_due(0), kind::connect));
    hi.connected(0);
  }
}

TEST_CASE("seeder_set: a good chunk resets the retry count", "[seeder_set]") {
  auto s = started(1);
  for (int i = 0; i < 4; ++i) {
    s.lost(0, "closed", t0());
    s.retry_due(0);
  }
  s.connected(0);
  s.chunk_ok(0, 1000);
  CHECK(s.at(0).retries == 0);
  CHECK(s.at(0).bytes == 1000);
  auto a = s.lost(0, "closed", t0());
  REQUIRE(find(a, kind::retry));
  CHECK(find(a, kind::retry)->delay == ms(500));
}

TEST_CASE("seeder_set: dropped after max_retries, rejoins after retry_max_ms when listed",
          "[seeder_set]") {
  auto s = started(2);
  for (uint32_t i = 0; i < lim.max_retries; ++i) {
    CHECK(find(s.lost(0, "connection refused", t0()), kind::retry));
    CHECK(has(s.retry_due(0), kind::connect, 0));
  }
  auto a = s.lost(0, "connection refused", t0());
  CHECK(find(a, kind::retry) == nullptr);
  CHECK(has(a, kind::stop, 0));
  CHECK(s.at(0).st == st::dropped);
  CHECK(s.at(0).error == "connection refused (gave up after 5 retries)");
  REQUIRE(s.at(0).rejoin_after);
  CHECK(*s.at(0).rejoin_after == t0() + ms(lim.retry_max_ms));
  CHECK_FALSE(s.alive(0));
  CHECK_FALSE(s.starving()); // b is still there

  // Listed again too early: nothing; a retry message that was still on its way neither.
  CHECK(s.listed({"a:1", "b:2"}, t0() + ms(9999), true).empty());
  CHECK(s.retry_due(0).empty());
  CHECK(s.at(0).st == st::dropped);
  // Listed after the wait: one more attempt.
  auto r = s.listed({"a:1", "b:2"}, t0() + ms(10000), true);
  REQUIRE(r.size() == 1);
  CHECK(has(r, kind::connect, 0));
  CHECK(s.at(0).st == st::connecting);
  CHECK_FALSE(s.at(0).rejoin_after);
  // One failure drops it again and starts a new wait.
  auto again = s.lost(0, "connection refused", t0() + ms(10500));
  CHECK(s.at(0).st == st::dropped);
  CHECK(has(again, kind::stop, 0));
  REQUIRE(s.at(0).rejoin_after);
  CHECK(*s.at(0).rejoin_after == t0() + ms(20500));
}

TEST_CASE("seeder_set: a drop for bad chunks is final", "[seeder_set]") {
  auto s = started(2);
  for (uint32_t i = 0; i + 1 < lim.max_bad_chunks; ++i) {
    auto a = s.bad_chunk(0, i);
    REQUIRE(a.size() == 1);
    CHECK(a[0].what == kind::fail_chunk);
    CHECK(a[0].chunk == i);
    CHECK(s.at(0).error == "chunk " + std::to_string(i) + " failed its hash");
    CHECK(s.alive(0));
  }
  auto a = s.bad_chunk(0, 7);
  CHECK(has(a, kind::fail_chunk, 0));
  CHECK(has(a, kind::stop, 0));
  CHECK(s.at(0).st == st::dropped);
  CHECK(s.at(0).error == "sent 3 chunks that failed their hash");
  CHECK_FALSE(s.at(0).rejoin_after);
  // Listed for ever after: never used again; its late messages change nothing.
  CHECK(s.listed({"a:1", "b:2"}, t0() + std::chrono::hours(5), false).empty());
  CHECK(s.bad_chunk(0, 8).empty());
  CHECK(s.error(0, 8, proto::error_code::busy, "x").empty());
  CHECK(s.lost(0, "closed", t0()).empty());
  CHECK(s.at(0).error == "sent 3 chunks that failed their hash");
}

TEST_CASE("seeder_set: with none left it waits while an unreachable one is listed",
          "[seeder_set]") {
  auto s = started(2);
  s.bad_chunk(1, 0);
  s.bad_chunk(1, 1);
  s.bad_chunk(1, 2);
  for (uint32_t i = 0; i <= lim.max_retries; ++i) {
    s.lost(0, "connection refused", t0());
    s.retry_due(0);
  }
  REQUIRE(s.at(0).st == st::dropped);
  REQUIRE(s.starving());
  // a:1 is listed and may come back: wait.
  CHECK_FALSE(has(s.listed({"a:1", "b:2"}, t0() + ms(1000), true), kind::fail));
  // Without `decide` (a routine poll) nothing is decided either.
  CHECK_FALSE(has(s.listed({"b:2"}, t0() + ms(1000), false), kind::fail));
  // The catalog forgot it: give up, naming every seeder's reason.
  auto a = s.listed({"b:2"}, t0() + ms(2000), true);
  auto f = find(a, kind::fail);
  REQUIRE(f);
  CHECK(f->reason
        == "no seeder could finish the file (a:1: connection refused (gave up after 5 "
           "retries); b:2: sent 3 chunks that failed their hash)");
}

TEST_CASE("seeder_set: gives up at once when no dropped seeder may return",
          "[seeder_set]") {
  auto s = started(1);
  auto a = s.error(0, 3, proto::error_code::unknown_file, "not shared: abc");
  CHECK(has(a, kind::stop, 0));
  REQUIRE(s.starving());
  auto acts = s.listed({"a:1"}, t0(), true);
  auto f = find(acts, kind::fail);
  REQUIRE(f);
  CHECK(f->reason == "no seeder could finish the file (a:1: unknown_file: not shared: abc)");
}

TEST_CASE("seeder_set: no seeder known yet is waiting, not starving", "[seeder_set]") {
  auto s = make_set();
  CHECK_FALSE(s.starving());
  CHECK(s.start(t0()).empty());
  CHECK(s.listed({}, t0(), true).empty());
  // One appears later: connected at once.
  auto a = s.listed({"x:9"}, t0(), true);
  CHECK(has(a, kind::connect, 0));
  CHECK(s.at(0).endpoint == "x:9");
}

TEST_CASE("seeder_set: before the start nobody is connected", "[seeder_set]") {
  auto s = make_set();
  CHECK(s.listed({"a:1", "b:2"}, t0(), false).empty());
  CHECK(s.size() == 2);
  CHECK(s.at(1).st == st::connecting);
  CHECK_FALSE(s.ready(0));
  s.connected(0); // no connection asked for: ignored
  CHECK_FALSE(s.ready(0));
  auto a = s.start(t0());
  CHECK(a.size() == 2);
  CHECK(s.listed({"a:1", "b:2"}, t0(), false).empty()); // known: not connected twice
}

TEST_CASE("seeder_set: error codes", "[seeder_set]") {
  using proto::error_code;
  SECTION("busy gives the chunk back without blame") {
    auto s = started(1);
    for (int i = 0; i < 10; ++i) {
      auto a = s.error(0, 4, error_code::busy, "too many requests");
      REQUIRE(a.size() == 1);
      CHECK(a[0].what == kind::release_chunk);
      CHECK(a[0].chunk == 4);
    }
    CHECK(s.ready(0));
    CHECK(s.at(0).error == "busy: too many requests");
  }
  SECTION("not_have gives the chunk back without blame") {
    auto s = started(1);
    for (int i = 0; i < 10; ++i) {
      auto a = s.error(0, 5, error_code::not_have, "not yet");
      REQUIRE(a.size() == 1);
      CHECK(a[0].what == kind::not_have_chunk);
      CHECK(a[0].chunk == 5);
    }
    CHECK(s.ready(0));
  }
  SECTION("unknown_file and changed drop the seeder for good") {
    for (auto code : {error_code::unknown_file, error_code::changed}) {
      auto s = started(2);
      auto a = s.error(0, 1, code, "gone");
      CHECK(has(a, kind::stop, 0));
      CHECK(s.at(0).st == st::dropped);
      CHECK_FALSE(s.at(0).rejoin_after);
      CHECK(s.at(0).error == std::string{proto::to_string(code)} + ": gone");
    }
  }
  SECTION("io fails the chunk there and counts toward a drop") {
    auto s = started(2);
    for (uint32_t i = 0; i + 1 < lim.io_errors_max; ++i) {
      auto a = s.error(0, i, error_code::io, "Permission denied");
      REQUIRE(a.size() == 1);
      CHECK(a[0].what == kind::fail_chunk);
      CHECK(s.alive(0));
    }
    s.chunk_ok(0, 10); // good chunks in between do not wipe the count
    auto a = s.error(0, 9, error_code::io, "Permission denied");
    CHECK(has(a, kind::fail_chunk, 0));
    CHECK(has(a, kind::stop, 0));
    CHECK(s.at(0).st == st::dropped);
    CHECK_FALSE(s.at(0).rejoin_after);
    CHECK(s.at(0).error == "answered 3 io errors (last: io: Permission denied)");
  }
  SECTION("bad_index and bad_request fail that chunk on that seeder only") {
    auto s = started(1);
    for (int i = 0; i < 10; ++i) {
      auto a = s.error(0, 2, i % 2 ? error_code::bad_index : error_code::bad_request, "x");
      REQUIRE(a.size() == 1);
      CHECK(a[0].what == kind::fail_chunk);
    }
    CHECK(s.ready(0));
  }
}

TEST_CASE("seeder_set: complete marks the seeders in use done", "[seeder_set]") {
  auto s = started(2);
  s.error(1, 0, proto::error_code::changed, "x");
  s.complete();
  CHECK(s.at(0).st == st::done);
  CHECK(s.at(1).st == st::dropped);
  CHECK(std::string{to_string(st::done)} == "done");
  CHECK(std::string{to_string(st::retrying)} == "retrying");
}

TEST_CASE("seeder_set: at most max_linked seeders hold a connection, a drop frees a slot",
          "[seeder_set][swarm]") {
  seeder_set::limits capped = lim;
  capped.max_linked = 2;
  seeder_set s(capped, [](uint64_t, uint64_t hi) { return hi; });
  s.listed({"a:1", "b:2", "c:3"}, t0(), false);
  auto a = s.start(t0());
  CHECK(a.size() == 2);
  CHECK(has(a, kind::connect, 0));
  CHECK(has(a, kind::connect, 1));
  CHECK_FALSE(has(a, kind::connect, 2));
  CHECK(s.at(2).st == st::connecting); // waiting, alive, no connection
  CHECK_FALSE(s.at(2).linked);
  s.connected(0);
  s.connected(1);
  // A newly listed one waits as well.
  CHECK(s.listed({"a:1", "b:2", "c:3", "d:4"}, t0(), false).empty());
  // A lost connection keeps its slot while it waits for its retry.
  auto l = s.lost(0, "closed", t0());
  CHECK(has(l, kind::retry, 0));
  CHECK_FALSE(has(l, kind::connect, 2));
  CHECK(has(s.retry_due(0), kind::connect, 0));
  // A drop hands the slot to the first one waiting, in listing order.
  auto d = s.error(1, 0, proto::error_code::unknown_file, "gone");
  CHECK(has(d, kind::stop, 1));
  CHECK(has(d, kind::connect, 2));
  CHECK_FALSE(has(d, kind::connect, 3));
  CHECK(s.at(3).st == st::connecting);
}

TEST_CASE("seeder_set: a seeder that breaks the protocol is dropped for good",
          "[seeder_set][swarm]") {
  auto s = started(2);
  auto a = s.misbehaved(1, "bitfield of 3 chunks, not 4");
  CHECK(has(a, kind::stop, 1));
  CHECK(s.at(1).st == st::dropped);
  CHECK(s.at(1).error == "bitfield of 3 chunks, not 4");
  CHECK_FALSE(s.at(1).rejoin_after); // never rejoins
  CHECK(s.listed({"a:1", "b:2"}, t0() + std::chrono::hours(1), false).empty());
  CHECK(s.misbehaved(7, "out of range").empty());
}

TEST_CASE("seeder_set: unoffered content fails after the expiry, not before the grace",
          "[seeder_set][unoffered]") {
  // Expiry 16 s, grace 4 s (DESIGN defaults: peer_expiry_ms; scan window + poll).
  seeder_set::limits l = lim;
  l.unoffered_fail_ms = 16000;
  l.offer_grace_ms = 4000;
  auto flat = [](uint64_t lo, uint64_t) { return lo; };

  SECTION("nobody ever offers it (a resumed download whose content changed)") {
    seeder_set s(l, flat);
    CHECK(s.unoffered(t0()).empty()); // nothing listed yet: no clock
    s.listed({}, t0(), false);
    s.start(t0());
    CHECK(s.unoffered(t0() + ms(3999)).empty());
    s.listed({}, t0() + ms(15000), true);
    CHECK(s.unoffered(t0() + ms(15999)).empty());
    auto why = s.unoffered(t0() + ms(16000));
    CHECK(why.find("16 s") != std::string::npos);
    CHECK(why.find("none since the download started") != std::string::npos);
  }
  SECTION("the grace holds even with a short expiry") {
    l.unoffered_fail_ms = 1000;
    seeder_set s(l, flat);
    s.listed({}, t0(), false);
    CHECK(s.unoffered(t0() + ms(3999)).empty());
    CHECK_FALSE(s.unoffered(t0() + ms(4000)).empty());
  }
  SECTION("an offer restarts the clock; a seeder alive stops it") {
    seeder_set s(l, flat);
    s.listed({}, t0(), false);
    s.listed({"a:1"}, t0() + ms(10000), false); // listed, connecting: alive
    CHECK(s.unoffered(t0() + ms(60000)).empty());
    s.start(t0() + ms(10000));
    s.bad_chunk(0, 1);
    s.bad_chunk(0, 2);
    s.bad_chunk(0, 3); // dropped for good
    REQUIRE_FALSE(s.alive(0));
    s.listed({}, t0() + ms(12000), false);
    CHECK(s.unoffered(t0() + ms(25999)).empty()); // 16 s after the last offer at 10 s
    auto why = s.unoffered(t0() + ms(26000));
    CHECK(why.find("the last one went away") != std::string::npos);
  }
  SECTION("0 turns the rule off") {
    seeder_set s(lim, flat);
    s.listed({}, t0(), false);
    CHECK(s.unoffered(t0() + std::chrono::hours(24)).empty());
  }
}

TEST_CASE("seeder_set: requests in flight follow each seeder's rate (pace)",
          "[seeder_set][swarm]") {
  seeder_set::limits l = lim;
  l.queue_ms = 250;
  l.min_depth = 2;
  l.max_depth = 16;
  seeder_set s(l, [](uint64_t, uint64_t hi) { return hi; });
  s.listed({"fast:1", "shared:2", "idle:3"}, t0(), false);
  s.start(t0());
  const uint32_t chunk = 256 * 1024;
  // Before any measurement: start_depth (a seeder shared by many downloaders
  // must not get a deep queue from each of them at once).
  l.start_depth = 3;
  s = seeder_set(l, [](uint64_t, uint64_t hi) { return hi; });
  s.listed({"fast:1", "shared:2", "idle:3"}, t0(), false);
  s.start(t0());
  for (seeder_set::key k = 0; k < 3; ++k)
    s.connected(k);
  CHECK(s.depth(0) == 3);
  CHECK(s.depth(7) == 3); // out of range: the same
  // In 250 ms: 16 chunks from 0 (64 chunks/s), 1.5 chunks from 1, none from 2.
  s.chunk_ok(0, 16ull * chunk);
  s.chunk_ok(1, 3ull * chunk / 2);
  s.pace(ms(250), chunk);
  CHECK(s.at(0).rate == 16ull * chunk * 4 / 2); // averaged with the start value 0
  CHECK(s.depth(0) == 8);                       // 32 chunks/s * 250 ms (rounded down)
  CHECK(s.depth(1) == 2);                       // 3 chunks/s: the minimum
  CHECK(s.depth(2) == 2);
  // 40 chunks in the next 250 ms: (32 + 160) / 2 = 96 chunks/s, 24 > the cap.
  s.chunk_ok(0, 40ull * chunk);
  s.pace(ms(250), chunk);
  CHECK(s.depth(0) == 16);
  // A seeder that stops delivering falls back towards the minimum.
  for (int i = 0; i < 10; ++i)
    s.pace(ms(250), chunk);
  CHECK(s.depth(0) == 2);
  CHECK(s.at(0).rate < chunk);
  // Middle of the range: 6.5 chunks in every 250 ms: 26 chunks/s, 6.5 -> 6.
  for (int i = 0; i < 12; ++i) {
    s.chunk_ok(1, 13ull * chunk / 2);
    s.pace(ms(250), chunk);
  }
  CHECK(s.depth(1) == 6);
  // Zero elapsed time or chunk size changes nothing.
  s.pace(ms(0), chunk);
  s.pace(ms(250), 0);
  CHECK(s.depth(1) == 6);
}

TEST_CASE("seeder_set: a seeder not active keeps its rate and depth through pace",
          "[seeder_set][swarm]") {
  seeder_set::limits l = lim;
  l.queue_ms = 250;
  l.min_depth = 1;
  l.max_depth = 16;
  l.start_depth = 2;
  seeder_set s(l, [](uint64_t, uint64_t hi) { return hi; });
  s.listed({"a:1", "b:2"}, t0(), false);
  s.start(t0());
  const uint32_t chunk = 4096;
  // b takes longer than a tick to connect: not measured as a seeder of 0 B/s.
  s.connected(0);
  s.chunk_ok(0, 16ull * chunk);
  s.pace(ms(250), chunk);
  CHECK(s.depth(0) == 8);
  CHECK(s.depth(1) == 2); // start_depth, not min_depth
  // a is lost: while it waits for its retry, ticks leave its depth alone, and
  // it comes back with the depth it left with.
  s.lost(0, "closed", t0());
  REQUIRE(s.at(0).st == seeder_state::retrying);
  for (int i = 0; i < 4; ++i)
    s.pace(ms(250), chunk);
  CHECK(s.depth(0) == 8);
  s.retry_due(0);
  s.connected(0);
  CHECK(s.depth(0) == 8);
  // Active again and silent: it falls towards the minimum as before.
  s.pace(ms(250), chunk);
  CHECK(s.depth(0) == 4);
}

TEST_CASE("seeder_set: a --requests-in-flight below the minimum depth wins", "[seeder_set]") {
  seeder_set::limits l = lim;
  l.min_depth = 2;
  l.max_depth = 1;
  seeder_set s(l, [](uint64_t, uint64_t hi) { return hi; });
  s.listed({"a:1"}, t0(), false);
  s.start(t0());
  s.connected(0);
  CHECK(s.depth(0) == 1); // start_depth 2 > max_depth 1
  s.chunk_ok(0, 1ull << 30);
  s.pace(ms(250), 256 * 1024);
  CHECK(s.depth(0) == 1);
  l.max_depth = 0; // never 0 requests
  seeder_set z(l, [](uint64_t, uint64_t hi) { return hi; });
  z.listed({"a:1"}, t0(), false);
  CHECK(z.depth(0) == 1);
}

TEST_CASE("seeder_set: a download links as many useful sources as it wants chunks",
          "[seeder_set][swarm]") {
  auto s = make_set();
  s.listed({"a:1", "b:2", "c:3", "d:4"}, t0(), false);
  // One chunk to fetch: one connection, not four (issue 9: a small file cost
  // four TCP connections).
  auto a = s.start(t0(), 1);
  REQUIRE(a.size() == 1);
  CHECK(has(a, kind::connect, 0));
  CHECK(s.waiting());
  s.connected(0);
  // Polls of the catalog link nobody more.
  CHECK(s.listed({"a:1", "b:2", "c:3", "d:4"}, t0(), false).empty());
  // Its bitfield lacks the chunk (a partial seeder): the next one links.
  auto u = s.useful(0, false);
  REQUIRE(u.size() == 1);
  CHECK(has(u, kind::connect, 1));
  CHECK(s.at(0).linked); // kept: a have may make it useful again
  CHECK(s.useful(0, false).empty()); // told twice: nothing new
  s.connected(1);
  // A have makes it useful again: nobody is unlinked, nobody more linked.
  CHECK(s.useful(0, true).empty());
  CHECK(s.at(0).linked);
  CHECK(s.at(1).linked);
  CHECK_FALSE(s.at(2).linked);
}

TEST_CASE("seeder_set: a lost source is replaced at once while it waits for its retry",
          "[seeder_set][swarm]") {
  auto s = make_set();
  s.listed({"a:1", "b:2", "c:3"}, t0(), false);
  REQUIRE(s.start(t0(), 1).size() == 1);
  s.connected(0);
  auto l = s.lost(0, "connection closed by seeder", t0());
  CHECK(has(l, kind::stop, 0));
  CHECK(has(l, kind::retry, 0));
  CHECK(has(l, kind::connect, 1));
  CHECK_FALSE(has(l, kind::connect, 2));
  // The stop comes before the new connection (the download carries them out in order).
  CHECK(find(l, kind::stop) < find(l, kind::connect));
  // Its retry reconnects it alongside: two linked, the third still waits.
  CHECK(has(s.retry_due(0), kind::connect, 0));
  CHECK(s.at(0).linked);
  CHECK(s.at(1).linked);
  CHECK_FALSE(s.at(2).linked);
  // A drop of a useful one links the next.
  auto d = s.error(1, 0, proto::error_code::unknown_file, "gone");
  CHECK(has(d, kind::stop, 1));
  CHECK_FALSE(has(d, kind::connect, 2)); // 0 is linked and useful: one is wanted
}

TEST_CASE("seeder_set: widen links every listed seeder up to max_linked", "[seeder_set][swarm]") {
  seeder_set::limits capped = lim;
  capped.max_linked = 3;
  seeder_set s(capped, [](uint64_t, uint64_t hi) { return hi; });
  s.listed({"a:1", "b:2", "c:3", "d:4"}, t0(), false);
  REQUIRE(s.start(t0(), 1).size() == 1);
  auto w = s.widen();
  CHECK(w.size() == 2);
  CHECK(has(w, kind::connect, 1));
  CHECK(has(w, kind::connect, 2));
  CHECK_FALSE(s.at(3).linked);
  CHECK(s.widen().empty());
  // Without a `wanted`, start links every listed seeder as before.
  auto all = make_set();
  all.listed({"a:1", "b:2", "c:3"}, t0(), false);
  CHECK(all.start(t0()).size() == 3);
  CHECK_FALSE(all.waiting());
}
