#include <catch2/catch.hpp>

#include <random>

#include "storage/manifest.hpp"
#include "tests/support/bytes.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/hex.hpp"

using namespace p2p;
using p2p::test::random_bytes;

namespace {

manifest build(const std::string& path, uint32_t chunk) {
  std::string err;
  auto m = build_manifest(path, chunk, err);
  INFO(err);
  REQUIRE(m);
  CHECK(err.empty());
  return *m;
}

} // namespace

TEST_CASE("sha256 known answers", "[manifest]") {
  auto empty = sha256("", 0);
  CHECK(to_hex(empty.data(), empty.size())
        == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  auto abc = sha256("abc", 3);
  CHECK(to_hex(abc.data(), abc.size())
        == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  sha256_stream s;
  s.update("a", 1);
  s.update("", 0);
  s.update("bc", 2);
  CHECK(s.finish() == abc);
  s.update("abc", 3); // reusable after finish
  CHECK(s.finish() == abc);
}

TEST_CASE("chunk size rules", "[manifest]") {
  CHECK(is_valid_chunk_size(4096));
  CHECK(is_valid_chunk_size(256 * 1024));
  CHECK(is_valid_chunk_size(16u << 20));
  CHECK_FALSE(is_valid_chunk_size(0));
  CHECK_FALSE(is_valid_chunk_size(2048));
  CHECK_FALSE(is_valid_chunk_size(5000));
  CHECK_FALSE(is_valid_chunk_size(32u << 20));

  CHECK(effective_chunk_size(0, 256 * 1024) == 256 * 1024);
  CHECK(effective_chunk_size(uint64_t{65536} * 4096, 4096) == 4096);
  CHECK(effective_chunk_size(uint64_t{65536} * 4096 + 1, 4096) == 8192);
  // 100 GiB with 256 KiB preferred: 409600 chunks -> 2 MiB gives 51200.
  CHECK(effective_chunk_size(uint64_t{100} << 30, 256 * 1024) == 2u << 20);
  // Beyond 1 TiB the cap wins, even if that means more than 65536 chunks.
  CHECK(effective_chunk_size(uint64_t{4} << 40, 4096) == max_chunk_size);
  // A bad preference is brought into range.
  CHECK(effective_chunk_size(10, 0) == min_chunk_size);
  CHECK(effective_chunk_size(10, 5000) == 8192);
  CHECK(effective_chunk_size(10, 1u << 30) == max_chunk_size);
  for (uint64_t size : {uint64_t{1}, uint64_t{1} << 30, uint64_t{1} << 38}) {
    auto cs = effective_chunk_size(size, 4096);
    CHECK(is_valid_chunk_size(cs));
    CHECK((size + cs - 1) / cs <= max_chunks);
  }
}

TEST_CASE("build_manifest over file shapes", "[manifest]") {
  test::temp_dir dir;
  const uint32_t cs = 4096;

  SECTION("empty file has no chunks") {
    auto m = build(dir.write("empty", ""), cs);
    CHECK(m.size == 0);
    CHECK(m.chunk_count() == 0);
    CHECK(m.chunk_size == cs);
    auto bytes = serialize(m);
    CHECK(bytes.size() == 16);
    REQUIRE(parse_manifest(bytes.data(), bytes.size()));
  }
  SECTION("one byte") {
    auto m = build(dir.write("one", "x"), cs);
    CHECK(m.size == 1);
    REQUIRE(m.chunk_count() == 1);
    CHECK(m.chunk_length(0) == 1);
    CHECK(m.hashes[0] == sha256("x", 1));
    CHECK(m.verify(0, "x", 1));
  }
  SECTION("exact multiple of the chunk size") {
    auto data = random_bytes(3 * cs, 1);
    auto m = build(dir.write("exact", data), cs);
    REQUIRE(m.chunk_count() == 3);
    for (uint32_t i = 0; i < 3; ++i) {
      CHECK(m.chunk_length(i) == cs);
      CHECK(m.chunk_offset(i) == uint64_t{i} * cs);
      CHECK(m.hashes[i] == sha256(data.data() + i * cs, cs));
    }
  }
  SECTION("last chunk short") {
    auto data = random_bytes(2 * cs + 100, 2);
    auto m = build(dir.write("short", data), cs);
    REQUIRE(m.chunk_count() == 3);
    CHECK(m.chunk_length(2) == 100);
    CHECK(m.chunk_length(3) == 0);
    CHECK(m.hashes[2] == sha256(data.data() + 2 * cs, 100));
    CHECK(m.verify(2, data.data() + 2 * cs, 100));
    CHECK_FALSE(m.verify(2, data.data() + 2 * cs, 99));
  }
  SECTION("chunks bigger than the read buffer and spanning reads") {
    auto data = random_bytes((3u << 20) + 12345, 3);
    auto m = build(dir.write("big", data), 2u << 20);
    REQUIRE(m.chunk_count() == 2);
    CHECK(m.hashes[0] == sha256(data.data(), 2u << 20));
    CHECK(m.hashes[1] == sha256(data.data() + (2u << 20), data.size() - (2u << 20)));
    // Small chunks: many per read buffer.
    auto m2 = build(dir.file("big"), cs);
    REQUIRE(m2.chunk_count() == (data.size() + cs - 1) / cs);
    CHECK(m2.hashes.back() == sha256(data.data() + uint64_t{m2.chunk_count() - 1} * cs,
                                     data.size() % cs));
  }
  SECTION("chunk size grows to keep at most 65536 chunks") {
    std::string path = dir.file("sparse");
    {
      std::ofstream f(path, std::ios::binary);
      f.seekp(uint64_t{65536} * 4096); // 65536 chunks of 4 KiB + 1 byte
      f.put('z');
    }
    auto m = build(path, 4096);
    CHECK(m.chunk_size == 8192);
    CHECK(m.chunk_count() == 32769);
  }
  SECTION("errors name the file") {
    std::string err;
    CHECK_FALSE(build_manifest(dir.file("missing"), cs, err));
    CHECK_THAT(err, Catch::StartsWith("cannot open " + dir.file("missing")));
    CHECK_THAT(err, Catch::Contains("No such file"));
    CHECK_FALSE(build_manifest(dir.path(), cs, err));
    CHECK_THAT(err, Catch::Contains("not a regular file"));
  }
  SECTION("progress counts every byte read, on top of what it held") {
    auto path = dir.write("progress.bin", random_bytes(3 * cs + 5, 8));
    std::atomic<uint64_t> progress{100};
    std::string err;
    REQUIRE(build_manifest(path, cs, err, nullptr, &progress));
    CHECK(progress == 100 + 3 * cs + 5);
  }
  SECTION("a cancel flag stops the hash; a clear one changes nothing") {
    auto path = dir.write("cancel.bin", random_bytes(3 * cs + 5, 9));
    std::atomic<bool> cancel{true};
    std::string err;
    CHECK_FALSE(build_manifest(path, cs, err, &cancel));
    CHECK(err == "cancelled");
    cancel = false;
    err.clear();
    auto m = build_manifest(path, cs, err, &cancel);
    REQUIRE(m);
    CHECK(serialize(*m) == serialize(build(path, cs)));
  }
}

TEST_CASE("manifest serialization and parsing", "[manifest]") {
  manifest m;
  m.size = 10000;
  m.chunk_size = 4096;
  for (uint8_t i = 0; i < 3; ++i) {
    digest d{};
    d.fill(i);
    m.hashes.push_back(d);
  }
  auto bytes = serialize(m);
  REQUIRE(bytes.size() == 16 + 3 * 32);
  auto back = parse_manifest(bytes.data(), bytes.size());
  REQUIRE(back);
  CHECK(back->size == m.size);
  CHECK(back->chunk_size == m.chunk_size);
  CHECK(back->hashes == m.hashes);
  CHECK(content_id_of(*back) == content_id_of(m));

  SECTION("truncated or trailing") {
    for (size_t n = 0; n < bytes.size(); ++n)
      CHECK_FALSE(parse_manifest(bytes.data(), n));
    bytes.push_back(0);
    CHECK_FALSE(parse_manifest(bytes.data(), bytes.size()));
  }
  SECTION("bad chunk size") {
    auto b = m;
    b.chunk_size = 5000;
    auto s = serialize(b);
    CHECK_FALSE(parse_manifest(s.data(), s.size()));
    b.chunk_size = 0;
    s = serialize(b);
    CHECK_FALSE(parse_manifest(s.data(), s.size()));
  }
  SECTION("count does not match the size") {
    auto b = m;
    b.size = 4096 * 3 + 1;
    auto s = serialize(b);
    CHECK_FALSE(parse_manifest(s.data(), s.size()));
    b.size = 4096 * 2;
    s = serialize(b);
    CHECK_FALSE(parse_manifest(s.data(), s.size()));
  }
  SECTION("too many chunks") {
    manifest b;
    b.chunk_size = 4096;
    b.size = uint64_t{4096} * (max_chunks + 1);
    b.hashes.resize(max_chunks + 1);
    auto s = serialize(b);
    CHECK_FALSE(parse_manifest(s.data(), s.size()));
  }
  SECTION("a hostile header claiming 2^64 bytes") {
    std::vector<char> s(16, '\xff');
    CHECK_FALSE(parse_manifest(s.data(), s.size()));
  }
  SECTION("random garbage") {
    std::mt19937 rng(5);
    for (int i = 0; i < 5000; ++i) {
      std::vector<char> g(rng() % 200);
      for (auto& c : g)
        c = static_cast<char>(rng());
      (void) parse_manifest(g.data(), g.size());
    }
  }
}

TEST_CASE("content id changes when anything changes", "[manifest]") {
  manifest m;
  m.size = 3 * 4096;
  m.chunk_size = 4096;
  m.hashes.resize(3);
  auto base = content_id_of(m);
  for (size_t i = 0; i < 3; ++i) {
    for (size_t byte : {size_t{0}, size_t{31}}) {
      auto b = m;
      b.hashes[i][byte] ^= 1;
      CHECK(content_id_of(b) != base);
    }
  }
  auto b = m;
  b.size -= 1;
  CHECK(content_id_of(b) != base);
  auto c = m;
  c.chunk_size = 8192;
  CHECK(content_id_of(c) != base);
}

TEST_CASE("verify checks index, length and hash", "[manifest]") {
  std::string data = random_bytes(5000, 9);
  manifest m;
  m.size = data.size();
  m.chunk_size = 4096;
  m.hashes = {sha256(data.data(), 4096), sha256(data.data() + 4096, 904)};
  CHECK(m.verify(0, data.data(), 4096));
  CHECK(m.verify(1, data.data() + 4096, 904));
  CHECK_FALSE(m.verify(1, data.data(), 904));
  CHECK_FALSE(m.verify(0, data.data(), 4095));
  CHECK_FALSE(m.verify(2, data.data(), 0));
  auto tampered = data;
  tampered[100] ^= 1;
  CHECK_FALSE(m.verify(0, tampered.data(), 4096));
}
