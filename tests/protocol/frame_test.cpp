#include <catch2/catch.hpp>

#include <cctype>
#include <random>

#include "protocol/frame.hpp"

using namespace p2p::proto;

namespace {

content_id make_id(uint8_t seed) {
  content_id id{};
  for (size_t i = 0; i < id.size(); ++i)
    id[i] = static_cast<uint8_t>(seed + i);
  return id;
}

// Splits an encoded frame into header + payload, checking the header.
std::vector<char> payload_of(const std::vector<char>& frame, frame_type expected) {
  REQUIRE(frame.size() >= frame_header_size);
  frame_header h;
  REQUIRE(decode_header(frame.data(), h) == header_status::ok);
  CHECK(h.type == expected);
  CHECK(h.version == protocol_version);
  REQUIRE(h.length == frame.size() - frame_header_size);
  return {frame.begin() + frame_header_size, frame.end()};
}

// Every strict prefix of a payload must be rejected, and so must one more byte.
template <class Msg>
void check_truncation_and_trailing(const std::vector<char>& payload) {
  for (size_t n = 0; n < payload.size(); ++n) {
    Msg m;
    CHECK_FALSE(decode(payload.data(), n, m));
  }
  auto longer = payload;
  longer.push_back('x');
  Msg m;
  CHECK_FALSE(decode(longer.data(), longer.size(), m));
}

} // namespace

TEST_CASE("frame header round trip and rejection", "[frame]") {
  std::vector<char> buf;
  encode_header(buf, frame_type::chunk, 123456);
  REQUIRE(buf.size() == frame_header_size);
  frame_header h;
  REQUIRE(decode_header(buf.data(), h) == header_status::ok);
  CHECK(h.length == 123456);
  CHECK(h.type == frame_type::chunk);

  SECTION("bad version") {
    buf[4] = 1; // before swarming: refused, not half-understood
    CHECK(decode_header(buf.data(), h) == header_status::bad_version);
    buf[4] = 2; // before chunk runs
    CHECK(decode_header(buf.data(), h) == header_status::bad_version);
    buf[4] = 4;
    CHECK(decode_header(buf.data(), h) == header_status::bad_version);
    buf[4] = 0;
    CHECK(decode_header(buf.data(), h) == header_status::bad_version);
  }
  SECTION("bad type") {
    buf[5] = 0;
    CHECK(decode_header(buf.data(), h) == header_status::bad_type);
    buf[5] = 19; // the type after chunk_run
    CHECK(decode_header(buf.data(), h) == header_status::bad_type);
    buf[5] = 17;
    CHECK(decode_header(buf.data(), h) == header_status::ok);
    CHECK(h.type == frame_type::catalog_same);
    buf[5] = 18;
    CHECK(decode_header(buf.data(), h) == header_status::ok);
    CHECK(h.type == frame_type::chunk_run);
    buf[5] = static_cast<char>(255);
    CHECK(decode_header(buf.data(), h) == header_status::bad_type);
  }
  SECTION("oversize") {
    std::vector<char> big;
    encode_header(big, frame_type::chunk, max_frame_payload + 1);
    CHECK(decode_header(big.data(), h) == header_status::oversize);
    std::vector<char> edge;
    encode_header(edge, frame_type::chunk, max_frame_payload);
    CHECK(decode_header(edge.data(), h) == header_status::ok);
    std::vector<char> huge;
    encode_header(huge, frame_type::chunk, 0xffffffffu);
    CHECK(decode_header(huge.data(), h) == header_status::oversize);
    CHECK(decode_header(edge.data(), h, 1000) == header_status::oversize);
  }
  SECTION("length is big endian") {
    std::vector<char> b;
    encode_header(b, frame_type::hello, 0x01020304);
    CHECK(b[0] == 1);
    CHECK(b[1] == 2);
    CHECK(b[2] == 3);
    CHECK(b[3] == 4);
  }
}

TEST_CASE("hello and hello_ack round trip", "[frame]") {
  hello_msg m;
  m.peer_id = 0x0123456789abcdefull;
  m.tcp_port = 7647;
  m.name = "host-ä";
  for (bool ack : {false, true}) {
    std::vector<char> buf;
    encode(buf, m, ack);
    auto payload = payload_of(buf, ack ? frame_type::hello_ack : frame_type::hello);
    hello_msg out;
    REQUIRE(decode(payload.data(), payload.size(), out));
    CHECK(out.peer_id == m.peer_id);
    CHECK(out.tcp_port == m.tcp_port);
    CHECK(out.name == m.name);
    check_truncation_and_trailing<hello_msg>(payload);
  }
}

TEST_CASE("catalog_req is an empty frame", "[frame]") {
  std::vector<char> buf;
  encode_catalog_req(buf);
  auto payload = payload_of(buf, frame_type::catalog_req);
  CHECK(payload.empty());
}

TEST_CASE("a conditional catalog_req carries the version the asker holds", "[frame]") {
  std::vector<char> buf;
  encode_catalog_req(buf, 0x01020304);
  auto payload = payload_of(buf, frame_type::catalog_req);
  REQUIRE(payload.size() == 4);
  CHECK(payload[0] == 1); // big endian
  bool conditional = false;
  uint32_t known = 0;
  REQUIRE(decode_catalog_req(payload.data(), payload.size(), conditional, known));
  CHECK(conditional);
  CHECK(known == 0x01020304);
  // 0: the asker holds nothing yet; still conditional.
  std::vector<char> zero;
  encode_catalog_req(zero, 0);
  auto zp = payload_of(zero, frame_type::catalog_req);
  REQUIRE(decode_catalog_req(zp.data(), zp.size(), conditional, known));
  CHECK(conditional);
  CHECK(known == 0);
  // Empty: plain, as every build before.
  REQUIRE(decode_catalog_req(nullptr, 0, conditional, known));
  CHECK_FALSE(conditional);
  // Any other length is malformed.
  for (size_t n : {1, 2, 3, 5, 8}) {
    std::vector<char> odd(n, '\x01');
    CHECK_FALSE(decode_catalog_req(odd.data(), odd.size(), conditional, known));
  }
}

TEST_CASE("catalog_same carries a version other than 0, nothing else", "[frame]") {
  std::vector<char> buf;
  encode(buf, catalog_same_msg{77});
  auto payload = payload_of(buf, frame_type::catalog_same);
  catalog_same_msg out;
  REQUIRE(decode(payload.data(), payload.size(), out));
  CHECK(out.version == 77);
  check_truncation_and_trailing<catalog_same_msg>(payload);
  std::vector<char> zero(4, '\0');
  CHECK_FALSE(decode(zero.data(), zero.size(), out));
  CHECK(to_string(frame_type::catalog_same) == "catalog_same");
}

TEST_CASE("a catalog answering a conditional request ends with the version", "[frame]") {
  catalog_msg m;
  m.files.push_back({make_id(1), 10, "a"});
  m.files.push_back({make_id(2), 20, "bb"});
  m.version = 0xdeadbeef;
  std::vector<char> buf;
  encode(buf, m);
  auto payload = payload_of(buf, frame_type::catalog);
  catalog_msg out;
  REQUIRE(decode(payload.data(), payload.size(), out));
  CHECK(out.version == 0xdeadbeef);
  REQUIRE(out.files.size() == 2);
  CHECK(out.files[1].name == "bb");
  // Without the version it is a plain catalog (version 0); cut inside the
  // version, or one byte more, it is malformed.
  catalog_msg plain;
  REQUIRE(decode(payload.data(), payload.size() - 4, plain));
  CHECK(plain.version == 0);
  for (size_t cut = 1; cut < 4; ++cut)
    CHECK_FALSE(decode(payload.data(), payload.size() - cut, out));
  auto longer = payload;
  longer.push_back('x');
  CHECK_FALSE(decode(longer.data(), longer.size(), out));
  // A version of 0 written out is malformed (0 means "absent").
  auto zero = std::vector<char>(payload.begin(), payload.end() - 4);
  zero.insert(zero.end(), 4, '\0');
  CHECK_FALSE(decode(zero.data(), zero.size(), out));
  // A plain catalog (version 0) is encoded without it, as before.
  m.version = 0;
  std::vector<char> old;
  encode(old, m);
  CHECK(old.size() == buf.size() - 4);
}

TEST_CASE("catalog round trip", "[frame]") {
  catalog_msg m;
  for (uint8_t i = 0; i < 5; ++i)
    m.files.push_back({make_id(i), uint64_t{1} << (i * 9), "file" + std::to_string(i)});
  m.files.push_back({make_id(9), 0, ""});
  std::vector<char> buf;
  encode(buf, m);
  auto payload = payload_of(buf, frame_type::catalog);
  catalog_msg out;
  REQUIRE(decode(payload.data(), payload.size(), out));
  REQUIRE(out.files.size() == m.files.size());
  for (size_t i = 0; i < m.files.size(); ++i) {
    CHECK(out.files[i].id == m.files[i].id);
    CHECK(out.files[i].size == m.files[i].size);
    CHECK(out.files[i].name == m.files[i].name);
  }
  check_truncation_and_trailing<catalog_msg>(payload);

  SECTION("empty catalog") {
    std::vector<char> b;
    encode(b, catalog_msg{});
    auto p = payload_of(b, frame_type::catalog);
    catalog_msg o;
    o.files.resize(3);
    REQUIRE(decode(p.data(), p.size(), o));
    CHECK(o.files.empty());
  }
  SECTION("a hostile count does not allocate or crash") {
    std::vector<char> p = {'\xff', '\xff', '\xff', '\xff'};
    catalog_msg o;
    CHECK_FALSE(decode(p.data(), p.size(), o));
  }
}

TEST_CASE("manifest_req, manifest, chunk_req, cancel round trip", "[frame]") {
  SECTION("manifest_req") {
    manifest_req_msg m{make_id(7)};
    std::vector<char> buf;
    encode(buf, m);
    auto payload = payload_of(buf, frame_type::manifest_req);
    manifest_req_msg out;
    REQUIRE(decode(payload.data(), payload.size(), out));
    CHECK(out.id == m.id);
    check_truncation_and_trailing<manifest_req_msg>(payload);
  }
  SECTION("manifest") {
    std::vector<char> bytes = {'a', 'b', 'c', '\0', 'd'};
    std::vector<char> buf;
    encode_manifest(buf, bytes);
    CHECK(payload_of(buf, frame_type::manifest) == bytes);
  }
  SECTION("chunk_req and cancel") {
    chunk_req_msg m{make_id(3), 0xdeadbeef};
    for (bool cancel : {false, true}) {
      std::vector<char> buf;
      encode(buf, m, cancel);
      auto payload = payload_of(buf, cancel ? frame_type::cancel : frame_type::chunk_req);
      chunk_req_msg out;
      REQUIRE(decode(payload.data(), payload.size(), out));
      CHECK(out.id == m.id);
      CHECK(out.index == m.index);
      check_truncation_and_trailing<chunk_req_msg>(payload);
    }
  }
}

TEST_CASE("error frame round trip", "[frame]") {
  error_msg m{error_code::busy, 42, "too many requests"};
  std::vector<char> buf;
  encode(buf, m);
  auto payload = payload_of(buf, frame_type::error);
  error_msg out;
  REQUIRE(decode(payload.data(), payload.size(), out));
  CHECK(out.code == error_code::busy);
  CHECK(out.index == 42);
  CHECK(out.message == m.message);
  check_truncation_and_trailing<error_msg>(payload);

  SECTION("unknown error codes are malformed") {
    auto p = payload;
    p[0] = 0;
    p[1] = 0;
    CHECK_FALSE(decode(p.data(), p.size(), out));
    p[1] = 99;
    CHECK_FALSE(decode(p.data(), p.size(), out));
    p[1] = 8;
    CHECK_FALSE(decode(p.data(), p.size(), out));
  }
  SECTION("not_have is a known code") {
    std::vector<char> b;
    encode(b, error_msg{error_code::not_have, 7, "not yet"});
    auto p = payload_of(b, frame_type::error);
    REQUIRE(decode(p.data(), p.size(), out));
    CHECK(out.code == error_code::not_have);
    CHECK(out.index == 7);
  }
}

TEST_CASE("interested and have round trip", "[frame][swarm]") {
  SECTION("interested") {
    interested_msg m{make_id(5)};
    std::vector<char> buf;
    encode(buf, m);
    auto payload = payload_of(buf, frame_type::interested);
    CHECK(payload.size() == 32);
    interested_msg out;
    REQUIRE(decode(payload.data(), payload.size(), out));
    CHECK(out.id == m.id);
    check_truncation_and_trailing<interested_msg>(payload);
  }
  SECTION("have") {
    have_msg m{make_id(6), 0x01020304};
    std::vector<char> buf;
    encode(buf, m);
    auto payload = payload_of(buf, frame_type::have);
    CHECK(payload.size() == 36);
    CHECK(payload[32] == 1); // index big endian after the id
    CHECK(payload[35] == 4);
    have_msg out;
    REQUIRE(decode(payload.data(), payload.size(), out));
    CHECK(out.id == m.id);
    CHECK(out.index == m.index);
    check_truncation_and_trailing<have_msg>(payload);
  }
}

TEST_CASE("bitfield round trip, bit order and hostile input", "[frame][swarm]") {
  for (uint32_t count : {0u, 1u, 7u, 8u, 9u, 16u, 100u, 65536u}) {
    INFO(count << " chunks");
    bitfield_msg m{make_id(2), std::vector<bool>(count)};
    for (uint32_t i = 0; i < count; ++i)
      m.bits[i] = (i * 2654435761u) % 3 == 0;
    std::vector<char> buf;
    encode(buf, m);
    auto payload = payload_of(buf, frame_type::bitfield);
    CHECK(payload.size() == 32 + 4 + (count + 7) / 8);
    bitfield_msg out;
    REQUIRE(decode(payload.data(), payload.size(), out));
    CHECK(out.id == m.id);
    CHECK(out.bits == m.bits);
    if (count <= 100)
      check_truncation_and_trailing<bitfield_msg>(payload);
  }
  SECTION("chunk 0 is the high bit of the first byte") {
    bitfield_msg m{make_id(1), {true, false, false, false, false, false, false, false, true}};
    std::vector<char> buf;
    encode(buf, m);
    auto payload = payload_of(buf, frame_type::bitfield);
    REQUIRE(payload.size() == 32 + 4 + 2);
    CHECK(static_cast<uint8_t>(payload[36]) == 0x80);
    CHECK(static_cast<uint8_t>(payload[37]) == 0x80);
  }
  SECTION("a set spare bit is garbage") {
    bitfield_msg m{make_id(1), std::vector<bool>(9, true)};
    std::vector<char> buf;
    encode(buf, m);
    auto payload = payload_of(buf, frame_type::bitfield);
    REQUIRE(static_cast<uint8_t>(payload.back()) == 0x80);
    payload.back() = static_cast<char>(0x81);
    bitfield_msg out;
    CHECK_FALSE(decode(payload.data(), payload.size(), out));
  }
  SECTION("a hostile count does not allocate or crash") {
    std::vector<char> p(36, '\0');
    p[32] = p[33] = p[34] = p[35] = '\xff'; // 2^32-1 chunks, no bytes
    bitfield_msg out;
    CHECK_FALSE(decode(p.data(), p.size(), out));
    p.resize(36 + 1000);
    CHECK_FALSE(decode(p.data(), p.size(), out));
  }
}

TEST_CASE("a refusal reaches a version 1 peer in its own frame layout", "[frame][swarm]") {
  std::vector<char> v1;
  encode_refusal(v1, 1, "protocol version 2 required");
  REQUIRE(v1.size() > frame_header_size);
  CHECK(v1[4] == 1);
  CHECK(v1[5] == static_cast<char>(frame_type::error));
  // What a version 1 peer decodes: the payload is a v1 error(bad_request).
  error_msg e;
  REQUIRE(decode(v1.data() + frame_header_size, v1.size() - frame_header_size, e));
  CHECK(e.code == error_code::bad_request);
  CHECK(e.message == "protocol version 2 required");
  // So does a version 2 peer (before chunk runs): its error frame is the same.
  std::vector<char> v2;
  encode_refusal(v2, 2, "protocol version 3 required");
  CHECK(v2[4] == 2);
  CHECK(v2[5] == static_cast<char>(frame_type::error));
  // Any other version gets the current layout.
  std::vector<char> v9;
  encode_refusal(v9, 9, "x");
  frame_header h;
  CHECK(decode_header(v9.data(), h) == header_status::ok);
  CHECK(h.type == frame_type::error);
}

TEST_CASE("frame_reader reports the version a refused peer speaks", "[frame][reader][swarm]") {
  frame_reader r;
  CHECK(r.peer_version() == 0);
  std::vector<char> old_hello;
  encode(old_hello, hello_msg{1, 2, "old"}, false);
  old_hello[4] = 1;
  std::vector<char> head(old_hello.begin(), old_hello.begin() + frame_header_size);
  CHECK(r.feed(head) == frame_reader::step::error);
  CHECK(r.error() == header_status::bad_version);
  CHECK(r.peer_version() == 1);
}

TEST_CASE("chunk frame carries raw data after the index", "[frame]") {
  std::string data(1000, '\0');
  for (size_t i = 0; i < data.size(); ++i)
    data[i] = static_cast<char>(i * 7);
  std::vector<char> buf;
  encode_chunk_header(buf, 17, static_cast<uint32_t>(data.size()));
  CHECK(buf.size() == frame_header_size + chunk_payload_offset);
  buf.insert(buf.end(), data.begin(), data.end());
  auto payload = payload_of(buf, frame_type::chunk);
  uint32_t index = 0;
  const char* p = nullptr;
  size_t n = 0;
  REQUIRE(decode_chunk(payload.data(), payload.size(), index, p, n));
  CHECK(index == 17);
  CHECK(std::string(p, n) == data);
  CHECK_FALSE(decode_chunk(payload.data(), 3, index, p, n));
  REQUIRE(decode_chunk(payload.data(), 4, index, p, n));
  CHECK(n == 0);
}

TEST_CASE("a chunk run frame carries its first index and count and then the chunks bytes", "[frame]") {
  std::string data(3000, '\0');
  for (size_t i = 0; i < data.size(); ++i)
    data[i] = static_cast<char>(i * 13);
  std::vector<char> buf;
  encode_chunk_run_header(buf, 40, 3, static_cast<uint32_t>(data.size()));
  CHECK(buf.size() == frame_header_size + chunk_run_payload_offset);
  buf.insert(buf.end(), data.begin(), data.end());
  auto payload = payload_of(buf, frame_type::chunk_run);
  uint32_t first = 0, count = 0;
  const char* p = nullptr;
  size_t n = 0;
  REQUIRE(decode_chunk_run(payload.data(), payload.size(), first, count, p, n));
  CHECK(first == 40);
  CHECK(count == 3);
  CHECK(std::string(p, n) == data);

  SECTION("hostile runs are refused") {
    CHECK_FALSE(decode_chunk_run(payload.data(), 7, first, count, p, n)); // cut fields
    auto with = [&](uint32_t f, uint32_t c) {
      std::vector<char> h;
      encode_chunk_run_header(h, f, c, 0);
      return decode_chunk_run(h.data() + frame_header_size, chunk_run_payload_offset, first,
                              count, p, n);
    };
    CHECK_FALSE(with(0, 0));                       // an empty run
    CHECK_FALSE(with(0, max_run_chunks + 1));      // too many chunks
    CHECK_FALSE(with(0xfffffff0u, 0x20));          // past the last index u32 can name
    CHECK(with(0xffffffffu - max_run_chunks, max_run_chunks));
    CHECK(n == 0);                                 // no data: the manifest's call
    CHECK(with(0, 1));
  }
}

TEST_CASE("long strings are cut to the u16 limit", "[frame]") {
  hello_msg m;
  m.name.assign(70000, 'n');
  std::vector<char> buf;
  encode(buf, m, false);
  auto payload = payload_of(buf, frame_type::hello);
  hello_msg out;
  REQUIRE(decode(payload.data(), payload.size(), out));
  CHECK(out.name.size() == 65535);
}

TEST_CASE("random bytes never crash the decoders", "[frame][fuzz]") {
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<size_t> len(0, 300);
  for (int round = 0; round < 20000; ++round) {
    std::vector<char> b(len(rng));
    for (auto& c : b)
      c = static_cast<char>(byte(rng));
    // Bias some rounds towards plausible prefixes (small counts/lengths).
    if (round % 2 == 0 && b.size() >= 4)
      b[0] = b[1] = 0;
    hello_msg h;
    catalog_msg c;
    catalog_same_msg cs;
    manifest_req_msg mr;
    chunk_req_msg cr;
    error_msg e;
    interested_msg im;
    bitfield_msg bf;
    have_msg hv;
    (void) decode(b.data(), b.size(), im);
    (void) decode(b.data(), b.size(), hv);
    if (decode(b.data(), b.size(), bf))
      CHECK(b.size() == 36 + (bf.bits.size() + 7) / 8);
    (void) decode(b.data(), b.size(), h);
    (void) decode(b.data(), b.size(), c);
    if (decode(b.data(), b.size(), cs))
      CHECK(b.size() == 4);
    bool cond = false;
    uint32_t known = 0;
    if (decode_catalog_req(b.data(), b.size(), cond, known))
      CHECK((b.size() == 0 || b.size() == 4));
    (void) decode(b.data(), b.size(), mr);
    (void) decode(b.data(), b.size(), cr);
    (void) decode(b.data(), b.size(), e);
    uint32_t idx;
    const char* p;
    size_t n;
    if (decode_chunk(b.data(), b.size(), idx, p, n))
      CHECK(n + 4 == b.size());
    uint32_t run = 0;
    if (decode_chunk_run(b.data(), b.size(), idx, run, p, n))
      CHECK((n + 8 == b.size() && run >= 1 && run <= max_run_chunks
             && uint64_t{idx} + run <= 0x100000000ull));
    if (b.size() >= frame_header_size) {
      frame_header hdr;
      auto st = decode_header(b.data(), hdr);
      if (st == header_status::ok)
        CHECK(hdr.length <= max_frame_payload);
    }
  }
  SUCCEED("no crash");
}

TEST_CASE("to_string names every frame type", "[frame]") {
  CHECK(to_string(frame_type::hello) == "hello");
  CHECK(to_string(frame_type::chunk) == "chunk");
  CHECK(to_string(frame_type::cancel) == "cancel");
  CHECK(to_string(frame_type::chunk_run) == "chunk_run");
  CHECK(to_string(static_cast<frame_type>(77)) == "unknown(77)");
}

TEST_CASE("frame_reader: header then payload", "[frame][reader]") {
  frame_reader r;
  std::vector<char> stream;
  encode(stream, chunk_req_msg{make_id(1), 5});
  encode_catalog_req(stream);
  encode(stream, hello_msg{9, 10, "x"}, true);

  SECTION("exact reads, as a broker does") {
    size_t pos = 0;
    std::vector<frame_type> seen;
    while (pos < stream.size()) {
      auto want = r.want();
      REQUIRE(pos + want <= stream.size());
      std::vector<char> buf(stream.begin() + pos, stream.begin() + pos + want);
      pos += want;
      auto st = r.feed(buf);
      REQUIRE(st != frame_reader::step::error);
      if (st == frame_reader::step::frame) {
        seen.push_back(r.header().type);
        if (r.header().type == frame_type::chunk_req) {
          chunk_req_msg m;
          REQUIRE(decode(r.payload().data(), r.payload().size(), m));
          CHECK(m.index == 5);
        }
        if (r.header().type == frame_type::catalog_req)
          CHECK(r.payload().empty());
        if (r.header().type == frame_type::hello_ack) {
          hello_msg m;
          REQUIRE(decode(r.payload().data(), r.payload().size(), m));
          CHECK(m.name == "x");
        }
      }
    }
    CHECK(seen == std::vector<frame_type>{frame_type::chunk_req, frame_type::catalog_req,
                                          frame_type::hello_ack});
    CHECK(r.want() == frame_header_size);
  }

  SECTION("byte at a time") {
    int frames = 0;
    for (char c : stream) {
      std::vector<char> buf{c};
      auto st = r.feed(buf);
      REQUIRE(st != frame_reader::step::error);
      if (st == frame_reader::step::frame)
        ++frames;
    }
    CHECK(frames == 3);
  }

  SECTION("everything at once, then drained with empty feeds") {
    auto buf = stream;
    int frames = 0;
    if (r.feed(buf) == frame_reader::step::frame)
      ++frames;
    for (int i = 0; i < 5; ++i) {
      std::vector<char> empty;
      if (r.feed(empty) == frame_reader::step::frame)
        ++frames;
    }
    CHECK(frames == 3);
  }
}

TEST_CASE("frame_reader: zero-length payload is a frame right after the header",
          "[frame][reader]") {
  frame_reader r;
  std::vector<char> buf;
  encode_catalog_req(buf);
  CHECK(r.want() == frame_header_size);
  CHECK(r.feed(buf) == frame_reader::step::frame);
  CHECK(r.header().type == frame_type::catalog_req);
  CHECK(r.header().length == 0);
  CHECK(r.payload().empty());
  CHECK(r.want() == frame_header_size);
}

TEST_CASE("frame_reader: bad headers are errors that stick", "[frame][reader]") {
  SECTION("oversize") {
    frame_reader r(1024);
    std::vector<char> buf;
    encode_header(buf, frame_type::chunk, 1025);
    CHECK(r.feed(buf) == frame_reader::step::error);
    CHECK(r.error() == header_status::oversize);
    std::vector<char> more;
    encode_catalog_req(more);
    CHECK(r.feed(more) == frame_reader::step::error);
  }
  SECTION("bad version") {
    frame_reader r;
    std::vector<char> buf = {0, 0, 0, 0, 7, 1};
    CHECK(r.feed(buf) == frame_reader::step::error);
    CHECK(r.error() == header_status::bad_version);
  }
  SECTION("bad type") {
    frame_reader r;
    std::vector<char> buf = {0, 0, 0, 0, static_cast<char>(protocol_version), 0};
    CHECK(r.feed(buf) == frame_reader::step::error);
    CHECK(r.error() == header_status::bad_type);
  }
  SECTION("the payload length is what want() asks for next") {
    frame_reader r;
    std::vector<char> buf;
    encode_header(buf, frame_type::manifest, 300);
    CHECK(r.feed(buf) == frame_reader::step::more);
    CHECK(r.want() == 300);
    std::vector<char> payload(300, 'm');
    CHECK(r.feed(payload) == frame_reader::step::frame);
    CHECK(r.payload().size() == 300);
    CHECK(r.want() == frame_header_size);
  }
}

TEST_CASE("content_id_from_hex takes exactly 64 hex digits", "[frame]") {
  auto id = make_id(0x10);
  std::string hex;
  for (auto b : id) {
    static const char* digits = "0123456789abcdef";
    hex += digits[b >> 4];
    hex += digits[b & 15];
  }
  auto back = content_id_from_hex(hex);
  REQUIRE(back);
  CHECK(*back == id);
  std::string upper = hex;
  for (auto& c : upper)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CHECK(content_id_from_hex(upper) == id);
  CHECK_FALSE(content_id_from_hex(""));
  CHECK_FALSE(content_id_from_hex(hex.substr(0, 62)));      // 31 bytes
  CHECK_FALSE(content_id_from_hex(hex + "00"));             // 33 bytes
  CHECK_FALSE(content_id_from_hex(hex.substr(0, 63)));      // odd length
  CHECK_FALSE(content_id_from_hex(hex.substr(0, 63) + "g")); // not hex
}
