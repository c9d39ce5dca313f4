#include <catch2/catch.hpp>

#include <random>

#include "protocol/datagram.hpp"

using namespace p2p::proto;

namespace {

datagram sample() {
  datagram d;
  d.kind = datagram_kind::announce;
  d.peer_id = 0xfedcba9876543210ull;
  d.tcp_port = 7647;
  d.catalog_version = 77;
  d.addr = "10.0.0.2";
  return d;
}

} // namespace

TEST_CASE("datagram round trip for every kind", "[datagram]") {
  for (auto kind : {datagram_kind::announce, datagram_kind::scan, datagram_kind::bye}) {
    auto d = sample();
    d.kind = kind;
    auto bytes = encode(d);
    CHECK(bytes.size() == 21 + d.addr.size());
    CHECK(std::string(bytes.data(), 4) == "P2PD");
    auto out = decode_datagram(bytes.data(), bytes.size());
    REQUIRE(out);
    CHECK(out->kind == kind);
    CHECK(out->peer_id == d.peer_id);
    CHECK(out->tcp_port == d.tcp_port);
    CHECK(out->catalog_version == d.catalog_version);
    CHECK(out->addr == d.addr);
  }
  SECTION("empty and 64-byte addresses") {
    auto d = sample();
    d.addr = "";
    auto b = encode(d);
    REQUIRE(decode_datagram(b.data(), b.size()));
    d.addr = std::string(64, 'a');
    b = encode(d);
    auto out = decode_datagram(b.data(), b.size());
    REQUIRE(out);
    CHECK(out->addr.size() == 64);
  }
}

TEST_CASE("malformed datagrams are rejected", "[datagram]") {
  auto bytes = encode(sample());
  SECTION("wrong magic") {
    bytes[0] = 'X';
    CHECK_FALSE(decode_datagram(bytes.data(), bytes.size()));
  }
  SECTION("wrong version") {
    bytes[4] = 2;
    CHECK_FALSE(decode_datagram(bytes.data(), bytes.size()));
  }
  SECTION("bad kind") {
    bytes[5] = 0;
    CHECK_FALSE(decode_datagram(bytes.data(), bytes.size()));
    bytes[5] = 4;
    CHECK_FALSE(decode_datagram(bytes.data(), bytes.size()));
  }
  SECTION("every truncation") {
    for (size_t n = 0; n < bytes.size(); ++n)
      CHECK_FALSE(decode_datagram(bytes.data(), n));
  }
  SECTION("trailing bytes") {
    bytes.push_back('x');
    CHECK_FALSE(decode_datagram(bytes.data(), bytes.size()));
  }
  SECTION("address longer than 64 bytes") {
    std::vector<char> b(bytes.begin(), bytes.begin() + 20);
    b.push_back(65);
    b.insert(b.end(), 65, 'a');
    CHECK_FALSE(decode_datagram(b.data(), b.size()));
  }
  SECTION("encode cuts an over-long address instead of emitting garbage") {
    auto d = sample();
    d.addr = std::string(100, 'z');
    auto b = encode(d);
    auto out = decode_datagram(b.data(), b.size());
    REQUIRE(out);
    CHECK(out->addr == std::string(64, 'z'));
  }
  SECTION("null pointer") {
    CHECK_FALSE(decode_datagram(nullptr, 0));
  }
}

TEST_CASE("random datagrams never crash", "[datagram][fuzz]") {
  std::mt19937 rng(99);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<size_t> len(0, 600);
  auto good = encode(sample());
  int accepted = 0;
  for (int round = 0; round < 20000; ++round) {
    std::vector<char> b;
    if (round % 2 == 0) {
      b = good; // mutate a valid datagram
      b[std::uniform_int_distribution<size_t>(0, b.size() - 1)(rng)] =
        static_cast<char>(byte(rng));
    } else {
      b.resize(len(rng));
      for (auto& c : b)
        c = static_cast<char>(byte(rng));
    }
    if (auto d = decode_datagram(b.data(), b.size())) {
      ++accepted;
      CHECK(d->addr.size() <= 64);
    }
  }
  CHECK(accepted > 0);
}

namespace {

p2p::key_bytes key_of(uint8_t fill) {
  p2p::key_bytes k;
  k.fill(fill);
  return k;
}

datagram keyed_sample(uint64_t time_ms = 1'800'000'000'000ull, uint64_t counter = 7) {
  auto d = sample();
  d.time_ms = time_ms;
  d.counter = counter;
  return d;
}

} // namespace

TEST_CASE("keyed datagrams round trip under their key only", "[datagram][network_key]") {
  auto key = key_of(1);
  for (auto kind : {datagram_kind::announce, datagram_kind::scan, datagram_kind::bye}) {
    auto d = keyed_sample();
    d.kind = kind;
    auto b = encode_keyed(d, key);
    CHECK(b.size() == 21 + d.addr.size() + 48);
    CHECK(b[4] == keyed_datagram_version);
    auto out = decode_keyed_datagram(b.data(), b.size(), key);
    REQUIRE(out);
    CHECK(out->kind == kind);
    CHECK(out->peer_id == d.peer_id);
    CHECK(out->tcp_port == d.tcp_port);
    CHECK(out->catalog_version == d.catalog_version);
    CHECK(out->addr == d.addr);
    CHECK(out->time_ms == d.time_ms);
    CHECK(out->counter == d.counter);
  }
  auto b = encode_keyed(keyed_sample(), key);
  SECTION("another key: ignored") {
    CHECK_FALSE(decode_keyed_datagram(b.data(), b.size(), key_of(2)));
  }
  SECTION("a keyless daemon does not read a keyed datagram") {
    CHECK_FALSE(decode_datagram(b.data(), b.size()));
  }
  SECTION("a keyed daemon does not read a plain datagram") {
    auto plain = encode(sample());
    CHECK_FALSE(decode_keyed_datagram(plain.data(), plain.size(), key));
  }
  SECTION("every changed byte breaks the tag (a forged field or tag)") {
    for (size_t i = 0; i < b.size(); ++i) {
      auto forged = b;
      forged[i] = static_cast<char>(forged[i] ^ 0x01);
      CHECK_FALSE(decode_keyed_datagram(forged.data(), forged.size(), key));
    }
  }
  SECTION("every truncation and trailing bytes") {
    for (size_t n = 0; n < b.size(); ++n)
      CHECK_FALSE(decode_keyed_datagram(b.data(), n, key));
    auto longer = b;
    longer.push_back('x');
    CHECK_FALSE(decode_keyed_datagram(longer.data(), longer.size(), key));
  }
  SECTION("a validly tagged datagram with a bad field is still refused") {
    // A key holder sending garbage: the tag is right, the layout is not.
    std::vector<char> junk(30, 'x');
    junk[0] = 'P', junk[1] = '2', junk[2] = 'P', junk[3] = 'D', junk[4] = 2;
    auto tag = p2p::hmac_sha256(key, junk.data(), junk.size());
    junk.insert(junk.end(), tag.begin(), tag.end());
    CHECK_FALSE(decode_keyed_datagram(junk.data(), junk.size(), key));
  }
}

TEST_CASE("the replay guard takes each sender's datagrams once, in order, on time",
          "[datagram][network_key]") {
  replay_guard guard(60000, 3);
  uint64_t now = 1'800'000'000'000ull;
  using v = replay_guard::verdict;
  CHECK(guard.check(keyed_sample(now, 5), now) == v::fresh);
  SECTION("the same datagram again is a replay") {
    CHECK(guard.check(keyed_sample(now, 5), now + 10) == v::replayed);
  }
  SECTION("an older counter is a replay, a newer one fresh") {
    CHECK(guard.check(keyed_sample(now, 4), now + 10) == v::replayed);
    CHECK(guard.check(keyed_sample(now + 5, 6), now + 10) == v::fresh);
    CHECK(guard.check(keyed_sample(now + 5, 6), now + 10) == v::replayed);
  }
  SECTION("a time outside the window is stale, in either direction") {
    CHECK(guard.check(keyed_sample(now - 60001, 9), now) == v::stale);
    CHECK(guard.check(keyed_sample(now + 60001, 9), now) == v::stale);
    CHECK(guard.check(keyed_sample(now - 60000, 9), now) == v::fresh);
  }
  SECTION("other senders have their own counters") {
    auto d = keyed_sample(now, 1);
    d.peer_id = 42;
    CHECK(guard.check(d, now) == v::fresh);
    CHECK(guard.check(d, now) == v::replayed);
  }
  SECTION("senders gone stale make room; fresh ones are never forgotten") {
    for (uint64_t id : {2u, 3u}) {
      auto d = keyed_sample(now, 1);
      d.peer_id = id;
      CHECK(guard.check(d, now) == v::fresh);
    }
    auto d = keyed_sample(now + 1000, 1);
    d.peer_id = 4;
    CHECK(guard.check(d, now + 1000) == v::full);
    d.time_ms = now + 61000;
    CHECK(guard.check(d, now + 61000) == v::fresh); // the three others are stale now
    CHECK(guard.senders() == 1);
    // A replay of a forgotten sender's datagram is stale, not fresh.
    CHECK(guard.check(keyed_sample(now, 5), now + 61000) == v::stale);
  }
}
