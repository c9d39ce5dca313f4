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
