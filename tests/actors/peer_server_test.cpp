// peer_server over real loopback sockets: a plain POSIX client sends frames.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>

#include <chrono>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <functional>
#include <thread>

#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/actors.hpp"
#include "config/defaults.hpp"
#include "protocol/frame.hpp"
#include "storage/fs.hpp"
#include "storage/manifest.hpp"
#include "tests/support/actor_env.hpp"
#include "tests/support/socket_client.hpp"
#include "util/hex.hpp"

namespace {

using namespace p2p;
using namespace std::chrono_literals;
using test::ask;
using test::random_bytes;
using test::write_file;

struct frame {
  proto::frame_type type = proto::frame_type::error;
  std::vector<char> payload;
};

// A blocking test client speaking the peer protocol (connect 5 s, reads 10 s).
struct client : test::socket_client {
  explicit client(uint16_t port) : socket_client(port, 5000ms) {}

  // One frame as it came; nullopt on EOF or timeout.
  std::optional<frame> read_raw_frame() {
    char hdr[proto::frame_header_size];
    if (!read_exact(hdr, sizeof(hdr)))
      return std::nullopt;
    proto::frame_header h;
    REQUIRE(proto::decode_header(hdr, h) == proto::header_status::ok);
    frame f;
    f.type = h.type;
    f.payload.resize(h.length);
    if (h.length > 0 && !read_exact(f.payload.data(), h.length))
      return std::nullopt;
    return f;
  }

  // The next frame, a chunk_run taken apart into the chunk frames it carries
  // (so the tests below read one chunk per frame however the server grouped
  // them); nullopt on EOF or timeout.
  std::optional<frame> read_frame() {
    if (split_.empty()) {
      auto f = read_raw_frame();
      if (!f || f->type != proto::frame_type::chunk_run)
        return f;
      split_run(*f);
    }
    auto f = std::move(split_.front());
    split_.pop_front();
    return f;
  }

private:
  std::deque<frame> split_;

  // Every chunk of a run but the file's last has the chunk size: the one
  // power of two in [len / count, len / (count - 1)).
  void split_run(const frame& run) {
    uint32_t first = 0, count = 0;
    const char* data = nullptr;
    size_t len = 0;
    REQUIRE(proto::decode_chunk_run(run.payload.data(), run.payload.size(), first, count,
                                    data, len));
    REQUIRE(count >= 2);
    size_t size = 1;
    while (size * count < len)
      size *= 2;
    for (uint32_t k = 0; k < count; ++k) {
      auto at = std::min(len, size_t{k} * size);
      auto n = k + 1 == count ? len - at : std::min(size, len - at);
      frame f;
      f.type = proto::frame_type::chunk;
      proto::encode_chunk_header(f.payload, first + k, static_cast<uint32_t>(n));
      f.payload.erase(f.payload.begin(), f.payload.begin() + proto::frame_header_size);
      f.payload.insert(f.payload.end(), data + at, data + at + n);
      split_.push_back(std::move(f));
    }
  }
};

template <class Msg>
Msg expect_msg(client& c, proto::frame_type type) {
  auto f = c.read_frame();
  REQUIRE(f);
  REQUIRE(f->type == type);
  Msg m;
  REQUIRE(proto::decode(f->payload.data(), f->payload.size(), m));
  return m;
}

proto::content_id id_of(const std::string& hex) {
  auto bytes = from_hex(hex);
  REQUIRE(bytes);
  REQUIRE(bytes->size() == 32);
  proto::content_id id;
  std::copy(bytes->begin(), bytes->end(), id.begin());
  return id;
}

std::vector<char> chunk_req(const std::string& id_hex, uint32_t index,
                            bool cancel = false) {
  std::vector<char> out;
  proto::encode(out, proto::chunk_req_msg{id_of(id_hex), index}, cancel);
  return out;
}

// Requests for chunks first .. first + count - 1, back to back (one write).
std::vector<char> chunk_reqs(const std::string& id_hex, uint32_t first, uint32_t count) {
  std::vector<char> out;
  for (uint32_t k = first; k - first < count; ++k)
    proto::encode(out, proto::chunk_req_msg{id_of(id_hex), k});
  return out;
}

proto::error_msg expect_error(client& c) {
  return expect_msg<proto::error_msg>(c, proto::frame_type::error);
}

// Reads one chunk frame and checks its index and data against the file.
void expect_chunk(client& c, const std::string& content, uint32_t chunk_size,
                  uint32_t index) {
  auto f = c.read_frame();
  REQUIRE(f);
  if (f->type == proto::frame_type::error) {
    proto::error_msg e;
    proto::decode(f->payload.data(), f->payload.size(), e);
    FAIL("error " << static_cast<int>(e.code) << ": " << e.message);
  }
  REQUIRE(f->type == proto::frame_type::chunk);
  uint32_t got_index = 0;
  const char* data = nullptr;
  size_t len = 0;
  REQUIRE(proto::decode_chunk(f->payload.data(), f->payload.size(), got_index, data, len));
  REQUIRE(got_index == index);
  uint64_t off = uint64_t{index} * chunk_size;
  auto want = std::min<uint64_t>(chunk_size, content.size() - off);
  REQUIRE(len == want);
  REQUIRE(std::memcmp(data, content.data() + off, len) == 0);
}

constexpr uint32_t test_chunk = 16 * 1024;

// A registry sharing one file and a peer_server on an ephemeral port.
struct server_fixture {
  test::temp_dir tmp;
  test::actor_env env;
  caf::actor_system& sys = *env.sys;
  std::unique_ptr<caf::scoped_actor> self;
  config cfg;
  share_registry_actor reg;
  peer_server_actor srv;
  uint16_t port = 0;
  std::string file;
  std::string content;
  share_info share;

  explicit server_fixture(uint64_t rate_limit = 0, size_t file_size = 1000 * 1000 + 123,
                          uint32_t chunk_size = test_chunk) {
    self = std::make_unique<caf::scoped_actor>(sys);
    cfg.state_dir = tmp.file("state");
    cfg.chunk_size = chunk_size;
    cfg.peer_port = 0;
    cfg.upload_rate_limit = rate_limit;
    content = random_bytes(file_size, 42);
    file = tmp.write("movie.bin", content);
    reg = spawn_share_registry(sys, cfg);
    auto s = spawn_peer_server(sys, cfg, reg, 0x1234abcd5678ef00ull, port);
    REQUIRE(s);
    srv = *s;
    REQUIRE(port != 0);
    auto res = ask<share_result>(*self, reg, share_atom::value, file);
    REQUIRE(res);
    REQUIRE(res->shares.size() == 1);
    share = res->shares.front();
    REQUIRE(share.chunk_size == chunk_size);
    wait_for_catalog();
  }
  // The server's catalog, asked plainly on a connection of its own.
  proto::catalog_msg catalog() {
    client c{port};
    std::vector<char> out;
    proto::encode_catalog_req(out);
    c.send(out);
    return expect_msg<proto::catalog_msg>(c, proto::frame_type::catalog);
  }
  // The server subscribes to the registry asynchronously: wait until its
  // catalog lists the file.
  void wait_for_catalog() {
    REQUIRE(test::eventually([&] { return !catalog().files.empty(); }, 5000ms));
  }
  // A download in progress offered through the registry: its part file
  // <name>.part holding `content` (test_chunk chunks), chunks `have` verified.
  share_info offer_partial(const std::string& name, const std::string& content,
                           std::vector<bool> have) {
    auto part = tmp.write(name + ".part", content);
    std::string err;
    auto m = build_manifest(part, test_chunk, err);
    REQUIRE(m);
    auto cid = content_id_of(*m);
    share_info info;
    info.name = name;
    info.path = part;
    info.id_hex = to_hex(cid.data(), cid.size());
    info.size = content.size();
    info.chunk_size = test_chunk;
    info.partial = true;
    info.have = std::move(have);
    caf::anon_send(reg, partial_atom::value, info, serialize(*m));
    return info;
  }
  ~server_fixture() {
    caf::anon_send_exit(srv, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(reg, caf::exit_reason::user_shutdown);
  }
  uint32_t chunks() const {
    return static_cast<uint32_t>((share.size + share.chunk_size - 1) / share.chunk_size);
  }
};

} // namespace

TEST_CASE("peer_server answers hello and catalog", "[peer_server]") {
  server_fixture fx;
  client c{fx.port};
  std::vector<char> out;
  proto::encode(out, proto::hello_msg{77, 9999, "tester"}, false);
  proto::encode_catalog_req(out);
  c.send(out);

  auto ack = expect_msg<proto::hello_msg>(c, proto::frame_type::hello_ack);
  CHECK(ack.peer_id == 0x1234abcd5678ef00ull);
  CHECK(ack.tcp_port == fx.port);
  CHECK(!ack.name.empty());

  auto cat = expect_msg<proto::catalog_msg>(c, proto::frame_type::catalog);
  REQUIRE(cat.files.size() == 1);
  CHECK(cat.files[0].name == "movie.bin");
  CHECK(cat.files[0].size == fx.content.size());
  CHECK(to_hex(cat.files[0].id.data(), 32) == fx.share.id_hex);
}

TEST_CASE("peer_server answers a conditional catalog request with catalog_same while the "
          "asker's version is current",
          "[peer_server][catalog]") {
  server_fixture fx;
  // One request per connection, as peer_query asks.
  auto ask_frame = [&](const std::vector<char>& req) {
    client c{fx.port};
    c.send(req);
    auto f = c.read_frame();
    REQUIRE(f);
    return *f;
  };
  auto conditional = [&](uint32_t known) {
    std::vector<char> out;
    proto::encode_catalog_req(out, known);
    return ask_frame(out);
  };
  // Plain: the files, no version (what every older build asks and reads).
  std::vector<char> plain;
  proto::encode_catalog_req(plain);
  auto f = ask_frame(plain);
  REQUIRE(f.type == proto::frame_type::catalog);
  proto::catalog_msg cat;
  REQUIRE(proto::decode(f.payload.data(), f.payload.size(), cat));
  CHECK(cat.version == 0);
  CHECK(cat.files.size() == 1);
  // Holding nothing: the files and the version.
  f = conditional(0);
  REQUIRE(f.type == proto::frame_type::catalog);
  REQUIRE(proto::decode(f.payload.data(), f.payload.size(), cat));
  REQUIRE(cat.version != 0);
  CHECK(cat.files.size() == 1);
  auto v = cat.version;
  // Holding that version: catalog_same, 4 bytes.
  f = conditional(v);
  REQUIRE(f.type == proto::frame_type::catalog_same);
  proto::catalog_same_msg same;
  REQUIRE(proto::decode(f.payload.data(), f.payload.size(), same));
  CHECK(same.version == v);
  // Holding another: the files.
  f = conditional(v - 1);
  CHECK(f.type == proto::frame_type::catalog);
  // A second share moves the version: the files again, both.
  auto second = fx.tmp.write("second.bin", random_bytes(5000, 9));
  REQUIRE(ask<share_result>(*fx.self, fx.reg, share_atom::value, second));
  REQUIRE(test::eventually(
    [&] { return conditional(v).type == proto::frame_type::catalog; }, 5000ms));
  f = conditional(v);
  REQUIRE(proto::decode(f.payload.data(), f.payload.size(), cat));
  CHECK(cat.files.size() == 2);
  CHECK(cat.version != v);
  CHECK(conditional(cat.version).type == proto::frame_type::catalog_same);
}

TEST_CASE("peer_server sends manifests", "[peer_server]") {
  server_fixture fx;
  client c{fx.port};
  std::vector<char> out;
  proto::encode(out, proto::manifest_req_msg{id_of(fx.share.id_hex)});
  c.send(out);
  auto f = c.read_frame();
  REQUIRE(f);
  REQUIRE(f->type == proto::frame_type::manifest);
  auto d = sha256(f->payload.data(), f->payload.size());
  CHECK(to_hex(d.data(), d.size()) == fx.share.id_hex);
  auto m = parse_manifest(f->payload.data(), f->payload.size());
  REQUIRE(m);
  CHECK(m->size == fx.content.size());

  out.clear();
  proto::encode(out, proto::manifest_req_msg{id_of(std::string(64, 'a'))});
  c.send(out);
  auto e = expect_error(c);
  CHECK(e.code == proto::error_code::unknown_file);
}

TEST_CASE("peer_server serves chunks and errors", "[peer_server]") {
  server_fixture fx;
  client c{fx.port};
  auto last = fx.chunks() - 1;
  c.send(chunk_req(fx.share.id_hex, 0));
  expect_chunk(c, fx.content, test_chunk, 0);
  c.send(chunk_req(fx.share.id_hex, last));
  expect_chunk(c, fx.content, test_chunk, last); // the short one

  c.send(chunk_req(std::string(64, 'b'), 3));
  auto e = expect_error(c);
  CHECK(e.code == proto::error_code::unknown_file);
  CHECK(e.index == 3);

  c.send(chunk_req(fx.share.id_hex, fx.chunks()));
  e = expect_error(c);
  CHECK(e.code == proto::error_code::bad_index);
  CHECK(e.index == fx.chunks());

  // Cancelling something not queued is harmless; the connection goes on.
  c.send(chunk_req(fx.share.id_hex, 5, true));
  c.send(chunk_req(fx.share.id_hex, 1));
  expect_chunk(c, fx.content, test_chunk, 1);

  auto up = ask<upload_stats>(*fx.self, fx.srv, uploads_atom::value);
  REQUIRE(up);
  CHECK(up->bytes_total == test_chunk * 2 + (fx.content.size() - uint64_t{last} * test_chunk));
}

TEST_CASE("peer_server keeps many requests in order", "[peer_server]") {
  server_fixture fx;
  client c{fx.port};
  auto n = fx.chunks();
  // Rounds of 32 requests (the per-connection bound) sent in one write.
  for (uint32_t round = 0; round < 3; ++round) {
    std::vector<char> out;
    std::vector<uint32_t> sent;
    for (uint32_t k = 0; k < defaults::server_requests_per_conn; ++k) {
      auto idx = (round * 17 + k * 5) % n;
      proto::encode(out, proto::chunk_req_msg{id_of(fx.share.id_hex), idx});
      sent.push_back(idx);
    }
    c.send(out);
    for (auto idx : sent)
      expect_chunk(c, fx.content, test_chunk, idx);
  }
}

TEST_CASE("peer_server bounds queued requests per connection", "[peer_server]") {
  // Big chunks, and the client does not read while sending: at least the
  // bound's worth of requests is accepted and served in order; the rest are
  // either served or refused with busy.
  server_fixture fx{0, 8 * 1000 * 1000};
  client c{fx.port};
  auto n = fx.chunks();
  constexpr uint32_t total = 200;
  REQUIRE(n > total);
  std::vector<char> out;
  for (uint32_t k = 0; k < total; ++k)
    proto::encode(out, proto::chunk_req_msg{id_of(fx.share.id_hex), k % n});
  c.send(out);
  uint32_t chunks = 0, busy = 0;
  int64_t prev = -1;
  for (uint32_t k = 0; k < total; ++k) {
    auto f = c.read_frame();
    REQUIRE(f);
    if (f->type == proto::frame_type::error) {
      proto::error_msg e;
      REQUIRE(proto::decode(f->payload.data(), f->payload.size(), e));
      REQUIRE(e.code == proto::error_code::busy);
      ++busy;
      continue;
    }
    REQUIRE(f->type == proto::frame_type::chunk);
    uint32_t idx = 0;
    const char* data = nullptr;
    size_t len = 0;
    REQUIRE(proto::decode_chunk(f->payload.data(), f->payload.size(), idx, data, len));
    // Requests were 0, 1, 2, ... (fewer than n); served ones keep that order.
    REQUIRE(static_cast<int64_t>(idx) > prev);
    uint64_t off = uint64_t{idx} * test_chunk;
    REQUIRE(std::memcmp(data, fx.content.data() + off, len) == 0);
    ++chunks;
    prev = idx;
  }
  CHECK(chunks + busy == total);
  CHECK(chunks >= defaults::server_requests_per_conn);
}

TEST_CASE("peer_server closes on garbage", "[peer_server]") {
  server_fixture fx;
  // A new connection sends `bytes`: the answer is bad_request, then EOF.
  auto refused = [&](const std::vector<char>& bytes) {
    client c{fx.port};
    c.send(bytes);
    auto e = expect_error(c);
    CHECK(e.code == proto::error_code::bad_request);
    CHECK(c.closed());
  };
  SECTION("bad version") {
    refused({0, 0, 0, 0, 7, 1});
  }
  SECTION("oversize frame") {
    refused({'\x7f', 0, 0, 0, static_cast<char>(proto::protocol_version), 7});
  }
  SECTION("malformed chunk request") {
    std::vector<char> out;
    proto::encode_header(out, proto::frame_type::chunk_req, 3);
    out.insert(out.end(), {1, 2, 3});
    refused(out);
  }
  SECTION("frame a server does not take") {
    std::vector<char> out;
    proto::encode_chunk_header(out, 0, 0);
    refused(out);
  }
  // The server still works for others.
  client c2{fx.port};
  c2.send(chunk_req(fx.share.id_hex, 0));
  expect_chunk(c2, fx.content, test_chunk, 0);
}

TEST_CASE("peer_server refuses a version 1 peer in version 1's frame layout",
          "[peer_server][swarm]") {
  server_fixture fx;
  client c{fx.port};
  std::vector<char> old_hello;
  proto::encode(old_hello, proto::hello_msg{7, 0, "old"}, false);
  old_hello[4] = 1;
  c.send(old_hello);
  char hdr[proto::frame_header_size];
  REQUIRE(c.read_exact(hdr, sizeof(hdr)));
  CHECK(hdr[4] == 1); // what a version 1 reader accepts
  CHECK(hdr[5] == static_cast<char>(proto::frame_type::error));
  auto len = (uint32_t{static_cast<uint8_t>(hdr[2])} << 8) | static_cast<uint8_t>(hdr[3]);
  std::vector<char> payload(len);
  REQUIRE(c.read_exact(payload.data(), len));
  proto::error_msg e;
  REQUIRE(proto::decode(payload.data(), payload.size(), e));
  CHECK(e.code == proto::error_code::bad_request);
  CHECK(e.message.find("version 1") != std::string::npos);
  CHECK(c.closed());
}

TEST_CASE("peer_server refuses a file that changed on disk", "[peer_server]") {
  server_fixture fx;
  client c{fx.port};
  c.send(chunk_req(fx.share.id_hex, 0));
  expect_chunk(c, fx.content, test_chunk, 0);
  // Same size, new content and mtime; the registry has not noticed yet (or
  // has withdrawn the share): either way no stale bytes are served.
  write_file(fx.file, random_bytes(fx.content.size(), 7));
  struct timespec ts[2] = {{1'500'000'000, 0}, {1'500'000'000, 0}};
  REQUIRE(::utimensat(AT_FDCWD, fx.file.c_str(), ts, 0) == 0);
  c.send(chunk_req(fx.share.id_hex, 1));
  auto e = expect_error(c);
  CHECK((e.code == proto::error_code::changed
         || e.code == proto::error_code::unknown_file));
}

TEST_CASE("peer_server reports a port in use", "[peer_server]") {
  server_fixture fx;
  config cfg = fx.cfg;
  cfg.peer_port = fx.port;
  uint16_t port2 = 0;
  auto s = spawn_peer_server(fx.sys, cfg, fx.reg, 1, port2);
  REQUIRE(!s);
  CHECK(describe(s.error()).first == "io_error");
  INFO(describe(s.error()).second);
  CHECK(describe(s.error()).second.find("cannot listen on 0.0.0.0:") == 0);
}

TEST_CASE("peer_server honours the upload rate limit", "[peer_server]") {
  // 400 KB/s; 32 chunks of 16 KiB = 512 KiB take more than a second.
  server_fixture fx{400 * 1000};
  client c{fx.port};
  std::vector<char> out;
  for (uint32_t k = 0; k < 32; ++k)
    proto::encode(out, proto::chunk_req_msg{id_of(fx.share.id_hex), k});
  auto start = std::chrono::steady_clock::now();
  c.send(out);
  for (uint32_t k = 0; k < 32; ++k)
    expect_chunk(c, fx.content, test_chunk, k);
  auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(elapsed >= 1000ms);
  CHECK(elapsed < 3000ms);
}

TEST_CASE("peer_server serves a partial offer's verified chunks: bitfield, not_have, have",
          "[peer_server][swarm]") {
  server_fixture fx;
  auto within_5s = [](const std::function<bool()>& pred) {
    return test::eventually(pred, 5000ms);
  };
  // A download in progress: its part file, chunk 0 verified, chunk 1 not yet.
  auto content = random_bytes(3 * test_chunk + 5, 7);
  auto info = fx.offer_partial("part.bin", content, {true, false, false, true});
  // It shows in the catalog (a partial offer is announced like a share).
  auto listed = [&] {
    auto cat = fx.catalog();
    return std::any_of(cat.files.begin(), cat.files.end(),
                       [&](auto& f) { return f.name == "part.bin"; });
  };
  REQUIRE(within_5s(listed));
  // The registry no longer lists it as a share of this daemon.
  auto shares = ask<std::vector<share_info>>(*fx.self, fx.reg, list_atom::value);
  REQUIRE(shares);
  CHECK(shares->size() == 1);

  client c{fx.port};
  std::vector<char> out;
  proto::encode(out, proto::interested_msg{id_of(info.id_hex)});
  c.send(out);
  auto bf = expect_msg<proto::bitfield_msg>(c, proto::frame_type::bitfield);
  CHECK(bf.bits == info.have);
  c.send(chunk_req(info.id_hex, 1));
  auto e = expect_error(c);
  CHECK(e.code == proto::error_code::not_have);
  CHECK(e.index == 1);
  c.send(chunk_req(info.id_hex, 0));
  expect_chunk(c, content, test_chunk, 0);
  // Chunk 1 verified: a have goes to the interested connection, then it is served.
  caf::anon_send(fx.reg, have_atom::value, info.id_hex, uint32_t{1});
  auto h = expect_msg<proto::have_msg>(c, proto::frame_type::have);
  CHECK(h.index == 1);
  CHECK(h.id == id_of(info.id_hex));
  c.send(chunk_req(info.id_hex, 1));
  expect_chunk(c, content, test_chunk, 1);
  // The manifest is served for it as well.
  auto man = ask<std::vector<char>>(*fx.self, fx.reg, manifest_atom::value, info.id_hex);
  REQUIRE(man);
  std::string err;
  auto offered = build_manifest(info.path, test_chunk, err);
  REQUIRE(offered);
  CHECK(*man == serialize(*offered));
  // A full share answers with every bit set.
  out.clear();
  proto::encode(out, proto::interested_msg{id_of(fx.share.id_hex)});
  c.send(out);
  auto full = expect_msg<proto::bitfield_msg>(c, proto::frame_type::bitfield);
  CHECK(full.bits == std::vector<bool>(fx.chunks(), true));
  // Withdrawn (the download failed): gone from the catalog.
  caf::anon_send(fx.reg, withdraw_atom::value, info.id_hex, std::string{});
  REQUIRE(within_5s([&] { return !listed(); }));
}

TEST_CASE("peer_server serves a completed download's share from its final path as soon as "
          "the share alone arrives, before the table",
          "[peer_server][swarm]") {
  // share_registry sends a completed download's share on its own at once and
  // the table partial_announce_delay_ms later (issue 9); meanwhile the part
  // file is gone, renamed to the final path.
  server_fixture fx;
  auto content = random_bytes(3 * test_chunk + 5, 8);
  auto info = fx.offer_partial("done.bin", content, {true, true, true, false});
  auto named = [&](const proto::catalog_msg& cat) {
    return std::count_if(cat.files.begin(), cat.files.end(),
                         [&](auto& f) { return f.name == "done.bin"; });
  };
  REQUIRE(test::eventually([&] { return named(fx.catalog()) == 1; }, 5000ms));
  // Chunk 0 is served from the part file (its descriptor is now cached).
  client c{fx.port};
  c.send(chunk_req(info.id_hex, 0));
  expect_chunk(c, content, test_chunk, 0);
  // Complete: renamed, and the share alone goes to the peer_server (the
  // registry still has the partial offer and announces nothing).
  auto final_path = fx.tmp.file("done.bin");
  REQUIRE(::rename(info.path.c_str(), final_path.c_str()) == 0);
  struct stat fst;
  REQUIRE(::stat(final_path.c_str(), &fst) == 0);
  share_info done = info;
  done.path = final_path;
  done.partial = false;
  done.have.clear();
  done.mtime_ns = mtime_ns_of(fst);
  caf::anon_send(fx.srv, share_atom::value, done);
  // Every chunk is served now, chunk 3 too (the partial offer lacked it),
  // and the catalog offers it once, as a full share.
  for (uint32_t k = 0; k < 4; ++k) {
    c.send(chunk_req(info.id_hex, k));
    expect_chunk(c, content, test_chunk, k);
  }
  auto cat = fx.catalog();
  CHECK(named(cat) == 1);
  std::vector<char> out;
  proto::encode(out, proto::interested_msg{id_of(info.id_hex)});
  c.send(out);
  auto bf = expect_msg<proto::bitfield_msg>(c, proto::frame_type::bitfield);
  CHECK(bf.bits == std::vector<bool>(4, true));
}

TEST_CASE("peer_server replaces a served share by a share alone at the same path and id",
          "[peer_server][swarm]") {
  // The same content downloaded again over its own file comes as a share
  // alone (share_registry, issue 9): from then on the server checks the new
  // file's stat, not the old one's (which would answer `changed`).
  server_fixture fx;
  share_info again = fx.share;
  again.mtime_ns += 1; // as if rewritten: the file on disk no longer matches
  caf::anon_send(fx.srv, share_atom::value, again);
  {
    client c{fx.port}; // a connection of its own: nothing cached
    c.send(chunk_req(fx.share.id_hex, 0));
    auto e = expect_error(c);
    CHECK(e.code == proto::error_code::changed);
  }
  caf::anon_send(fx.srv, share_atom::value, fx.share); // the file's real stat again
  client c{fx.port};
  c.send(chunk_req(fx.share.id_hex, 0));
  expect_chunk(c, fx.content, test_chunk, 0);
  auto cat = fx.catalog();
  CHECK(std::count_if(cat.files.begin(), cat.files.end(),
                      [&](auto& f) { return f.name == fx.share.name; })
        == 1);
}

// Zero-copy serving (actors/peer_server.cpp): cached chunks go by send +
// sendfile past CAF's write buffer. 32 requests of 1 MiB chunks, read only
// later, fill the socket, so sends stop half-way (EAGAIN) and go on later; a
// catalog request sent meanwhile is answered while a chunk is half-sent, so its frame must wait for that chunk's end (written at once,
// it lands inside the chunk's bytes and this test fails). Every frame must
// arrive whole and in order.
TEST_CASE("peer_server sends cached chunks by sendfile, whole and in order, "
          "around a full socket",
          "[peer_server][zero_copy]") {
  constexpr uint32_t big = 1024 * 1024;
  server_fixture fx{0, 8 * big - 77, big};
  REQUIRE(fx.chunks() == 8);
  client c{fx.port};
  // A fixed receive buffer (no autotuning up to tcp_rmem's 32 MiB): what is
  // unread fills the socket after a few MiB.
  int rcvbuf = 64 * 1024;
  REQUIRE(::setsockopt(c.fd(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) == 0);
  // The connection's first read opens the file on the disk reader; after it,
  // the file is open here.
  c.send(chunk_req(fx.share.id_hex, 7));
  expect_chunk(c, fx.content, big, 7);
  std::vector<char> out;
  std::vector<uint32_t> sent;
  for (uint32_t k = 0; k < defaults::server_requests_per_conn; ++k) {
    auto idx = (k * 3) % fx.chunks(); // the short last one among them
    proto::encode(out, proto::chunk_req_msg{id_of(fx.share.id_hex), idx});
    sent.push_back(idx);
  }
  c.send(out);
  // The first answer read, ~30 MiB still to come, none read: the socket is
  // full, so the catalog request is handled while a chunk is half-sent.
  expect_chunk(c, fx.content, big, sent[0]);
  out.clear();
  proto::encode_catalog_req(out);
  c.send(out);
  size_t next = 1;
  bool catalog = false;
  while (next < sent.size() || !catalog) {
    auto f = c.read_frame();
    REQUIRE(f);
    if (f->type == proto::frame_type::catalog) {
      REQUIRE_FALSE(catalog);
      catalog = true;
      proto::catalog_msg m;
      REQUIRE(proto::decode(f->payload.data(), f->payload.size(), m));
      REQUIRE(m.files.size() == 1);
      continue;
    }
    REQUIRE(f->type == proto::frame_type::chunk);
    REQUIRE(next < sent.size());
    uint32_t idx = 0;
    const char* data = nullptr;
    size_t len = 0;
    REQUIRE(proto::decode_chunk(f->payload.data(), f->payload.size(), idx, data, len));
    REQUIRE(idx == sent[next]);
    uint64_t off = uint64_t{idx} * big;
    REQUIRE(len == std::min<uint64_t>(big, fx.content.size() - off));
    REQUIRE(std::memcmp(data, fx.content.data() + off, len) == 0);
    ++next;
  }
  auto up = ask<upload_stats>(*fx.self, fx.srv, uploads_atom::value);
  REQUIRE(up);
  int fd = ::open(fx.file.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  auto known = page_cache_holds(fd, 0, fx.content.size());
  ::close(fd);
  if (known) {
    CHECK(up->disk_reads == 1);
    CHECK(up->zero_copy_chunks == sent.size() + 1); // and chunk 7, after the open
  } else {
    CHECK(up->zero_copy_chunks == 0); // no cachestat(2): the copy path
  }
}

// Reads one raw frame: a chunk_run of `count` chunks from `first` whose bytes
// are the file's (chunks of `size` bytes).
void expect_run(client& c, const std::string& content, uint32_t size, uint32_t first,
                uint32_t count) {
  auto f = c.read_raw_frame();
  REQUIRE(f);
  REQUIRE(f->type == proto::frame_type::chunk_run);
  uint32_t got_first = 0, got_count = 0;
  const char* data = nullptr;
  size_t len = 0;
  REQUIRE(proto::decode_chunk_run(f->payload.data(), f->payload.size(), got_first, got_count,
                                  data, len));
  CHECK(got_first == first);
  CHECK(got_count == count);
  uint64_t off = uint64_t{first} * size;
  auto want = std::min<uint64_t>(uint64_t{count} * size, content.size() - off);
  REQUIRE(len == want);
  CHECK(std::memcmp(data, content.data() + off, len) == 0);
}

TEST_CASE("peer_server sends queued requests for consecutive cached chunks as one chunk run",
          "[peer_server][zero_copy][run]") {
  server_fixture fx; // 1,000,123 bytes in 16 KiB chunks: 62 chunks, the last short
  REQUIRE(fx.chunks() == 62);
  client c{fx.port};
  // The connection's first request opens the file on the disk reader.
  c.send(chunk_req(fx.share.id_hex, 30));
  expect_chunk(c, fx.content, test_chunk, 30);
  int fd = ::open(fx.file.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  auto known = page_cache_holds(fd, 0, fx.content.size());
  ::close(fd);
  // Sent in one write, so the server reads them together: 0-9 go out as one
  // run; 13-14 another; 12, asked for after 14, and 20 alone; 58-61 end the
  // file (the last chunk short).
  std::vector<uint32_t> asked = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 14, 12, 20, 58, 59, 60, 61};
  std::vector<char> out;
  for (auto i : asked)
    proto::encode(out, proto::chunk_req_msg{id_of(fx.share.id_hex), i});
  c.send(out);
  if (!known) {
    WARN("no cachestat(2): chunks are copied one frame each, never sent as runs");
    for (size_t k = 0; k < asked.size(); ++k) {
      auto f = c.read_raw_frame();
      REQUIRE(f);
      CHECK(f->type == proto::frame_type::chunk);
    }
    return;
  }
  expect_run(c, fx.content, test_chunk, 0, 10);
  expect_run(c, fx.content, test_chunk, 13, 2);
  expect_chunk(c, fx.content, test_chunk, 12);
  expect_chunk(c, fx.content, test_chunk, 20);
  expect_run(c, fx.content, test_chunk, 58, 4);
  auto up = ask<upload_stats>(*fx.self, fx.srv, uploads_atom::value);
  REQUIRE(up);
  CHECK(up->zero_copy_chunks == 19);
  CHECK(up->bytes_total == 18 * test_chunk + (fx.content.size() - 61 * test_chunk));
}

namespace {

// After clients left: a new one is still served (chunk 5, chunks of
// `chunk_size`), and within 5 s no connection has requests under way (the
// ones gone are forgotten).
void expect_serves_and_forgets(server_fixture& fx, uint32_t chunk_size) {
  client d{fx.port};
  d.send(chunk_req(fx.share.id_hex, 5));
  expect_chunk(d, fx.content, chunk_size, 5);
  auto deadline = std::chrono::steady_clock::now() + 5s;
  for (;;) {
    auto up = ask<upload_stats>(*fx.self, fx.srv, uploads_atom::value);
    REQUIRE(up);
    if (up->active == 0)
      break;
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(20ms);
  }
}

} // namespace

TEST_CASE("peer_server under an upload rate limit sends one chunk per frame",
          "[peer_server][run]") {
  server_fixture fx{100 * 1000 * 1000}; // a limit far above what the test moves
  client c{fx.port};
  c.send(chunk_req(fx.share.id_hex, 30));
  expect_chunk(c, fx.content, test_chunk, 30);
  c.send(chunk_reqs(fx.share.id_hex, 0, 8));
  for (uint32_t k = 0; k < 8; ++k) {
    auto f = c.read_raw_frame();
    REQUIRE(f);
    REQUIRE(f->type == proto::frame_type::chunk); // the bucket's debt stays one chunk
  }
}

TEST_CASE("peer_server survives a client that leaves in the middle of a sendfile",
          "[peer_server][zero_copy]") {
  constexpr uint32_t big = 1024 * 1024;
  server_fixture fx{0, 8 * big, big};
  {
    client c{fx.port};
    std::vector<char> out;
    for (uint32_t k = 0; k < defaults::server_requests_per_conn; ++k)
      proto::encode(out, proto::chunk_req_msg{id_of(fx.share.id_hex), k % fx.chunks()});
    c.send(out);
    expect_chunk(c, fx.content, big, 0);
    expect_chunk(c, fx.content, big, 1);
  } // closed with ~30 MiB of answers unsent: the server's sends fail (EPIPE)
  expect_serves_and_forgets(fx, big); // the closed connection
}

TEST_CASE("peer_server survives clients that reset the connection right after asking for a "
          "chunk run", "[peer_server][zero_copy][run]") {
  // The first send of a chunk run failing (EPIPE: the peer reset) ended the
  // connection and emptied its request queue, and the run's requests were
  // then erased from the empty queue: a double free under AddressSanitizer
  // (the CI's sanitized system tier, 2026-12-02).
  server_fixture fx;
  // Each client has the file opened (its first request) and its chunks
  // cached, asks for a run of 10 and resets at once: the server reads the
  // requests after the reset in some of these rounds (a race by nature).
  for (int round = 0; round < 30; ++round) {
    client c{fx.port};
    c.send(chunk_req(fx.share.id_hex, 30));
    expect_chunk(c, fx.content, test_chunk, 30);
    c.send(chunk_reqs(fx.share.id_hex, 0, 10));
    linger reset{1, 0};
    REQUIRE(::setsockopt(c.fd(), SOL_SOCKET, SO_LINGER, &reset, sizeof(reset)) == 0);
  } // closed with SO_LINGER 0: a reset
  expect_serves_and_forgets(fx, test_chunk); // the reset connections
}

TEST_CASE("a peer_server stopped right after its start closes its listening socket",
          "[peer_server]") {
  // The exit arrives in the multiplexer iteration that added the listening
  // socket; quitting there made CAF 0.17.6 drop its epoll registration and
  // keep it (and its doorman) forever (actors/broker_lifetime.hpp,
  // defer_exit). A daemon whose control port is taken stops it so.
  test::actor_env env;
  test::temp_dir tmp;
  config cfg;
  cfg.state_dir = tmp.file("state");
  cfg.peer_port = 0;
  auto before = test::open_fds();
  {
    uint16_t port = 0;
    test::io_thread_gate gate{*env.sys};
    auto s = spawn_peer_server(*env.sys, cfg, share_registry_actor{}, 1, port);
    REQUIRE(s);
    caf::anon_send_exit(*s, caf::exit_reason::user_shutdown);
    gate.release(); // its start and the exit in one iteration
  }
  CHECK(test::eventually([&] { return test::open_fds() == before; }, 3s));
}
