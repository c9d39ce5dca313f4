#include <catch2/catch.hpp>

#include "protocol/hello_auth.hpp"

using namespace p2p;
using namespace p2p::proto;

namespace {

std::shared_ptr<const network_secrets> keys(uint8_t fill) {
  key_bytes k;
  k.fill(fill);
  return std::make_shared<const network_secrets>(derive_secrets(k));
}

// One frame of `bytes` split into its type and payload.
std::pair<frame_type, std::vector<char>> split(const std::vector<char>& bytes) {
  REQUIRE(bytes.size() >= frame_header_size);
  frame_header h;
  REQUIRE(decode_header(bytes.data(), h) == header_status::ok);
  REQUIRE(bytes.size() == frame_header_size + h.length);
  return {h.type, std::vector<char>(bytes.begin() + frame_header_size, bytes.end())};
}

struct outcome {
  bool client_ok = false;
  bool server_accepted = false;
  std::string client_error;
  std::string server_reason;
};

// Runs the whole opening between a client with `ck` and a server with `sk`.
outcome opening_between(std::shared_ptr<const network_secrets> ck,
            std::shared_ptr<const network_secrets> sk) {
  outcome o;
  hello_client client(ck, hello_msg{1, 0, "client"});
  hello_server server(sk, hello_msg{2, 7647, "server"});
  auto [t1, p1] = split(client.first_frame());
  std::vector<char> answer;
  auto v = server.on_frame(t1, p1, answer);
  if (v == hello_server::verdict::refused) {
    // The server's refusal reaches the client as an error frame.
    encode(answer, error_msg{error_code::bad_request, 0, server.reason()});
    o.server_reason = server.reason();
  }
  auto [t2, p2] = split(answer);
  std::vector<char> proof;
  o.client_ok = client.on_answer(t2, p2, proof);
  o.client_error = client.error();
  if (o.client_ok && !proof.empty()) {
    auto [t3, p3] = split(proof);
    std::vector<char> none;
    v = server.on_frame(t3, p3, none);
    CHECK(none.empty());
    if (v == hello_server::verdict::refused)
      o.server_reason = server.reason();
  }
  o.server_accepted = server.accepted();
  if (o.client_ok && o.server_accepted) {
    CHECK(client.server().peer_id == 2);
    CHECK(client.server().name == "server");
    CHECK(server.client().peer_id == 1);
  }
  return o;
}

} // namespace

TEST_CASE("the opening without keys is the plain hello", "[hello_auth]") {
  auto o = opening_between(nullptr, nullptr);
  CHECK(o.client_ok);
  CHECK(o.server_accepted);
}

TEST_CASE("the same network key: both sides prove it", "[hello_auth]") {
  auto o = opening_between(keys(1), keys(1));
  CHECK(o.client_ok);
  CHECK(o.server_accepted);
}

TEST_CASE("a different network key is refused by both sides", "[hello_auth]") {
  auto o = opening_between(keys(1), keys(2));
  CHECK_FALSE(o.client_ok);
  CHECK_FALSE(o.server_accepted);
  CHECK(o.client_error == "the peer's network key differs from ours");
}

TEST_CASE("keyed and keyless refuse each other, both ways", "[hello_auth]") {
  auto a = opening_between(nullptr, keys(1));
  CHECK_FALSE(a.client_ok);
  CHECK_FALSE(a.server_accepted);
  CHECK(a.server_reason.find("the peer has no network key") != std::string::npos);
  CHECK(a.client_error.find("peer error") != std::string::npos);
  auto b = opening_between(keys(1), nullptr);
  CHECK_FALSE(b.client_ok);
  CHECK_FALSE(b.server_accepted);
  CHECK(b.server_reason.find("this daemon has no network key") != std::string::npos);
}

TEST_CASE("a keyed server answers nothing before the proof", "[hello_auth]") {
  auto k = keys(1);
  hello_server server(k, hello_msg{2, 7647, "server"});
  std::vector<char> reply;
  SECTION("a request first") {
    CHECK(server.on_frame(frame_type::catalog_req, {}, reply)
          == hello_server::verdict::refused);
    CHECK(reply.empty());
    CHECK(server.reason().find("before the network key was proven") != std::string::npos);
  }
  SECTION("a proof without a challenge") {
    std::vector<char> proof;
    encode(proof, auth_proof_msg{});
    auto [t, p] = split(proof);
    CHECK(server.on_frame(t, p, reply) == hello_server::verdict::refused);
  }
  SECTION("a proof over other nonces, or the server's own proof reflected") {
    hello_client client(k, hello_msg{1, 0, "c"});
    auto [t1, p1] = split(client.first_frame());
    REQUIRE(server.on_frame(t1, p1, reply) == hello_server::verdict::answered);
    auto [t2, p2] = split(reply);
    auth_hello_ack_msg ack;
    REQUIRE(decode(p2.data(), p2.size(), ack));
    std::vector<char> reflected;
    encode(reflected, auth_proof_msg{ack.server_proof});
    auto [t3, p3] = split(reflected);
    std::vector<char> none;
    CHECK(server.on_frame(t3, p3, none) == hello_server::verdict::refused);
    CHECK_FALSE(server.accepted());
  }
  SECTION("a second auth_hello") {
    hello_client client(k, hello_msg{1, 0, "c"});
    auto [t1, p1] = split(client.first_frame());
    REQUIRE(server.on_frame(t1, p1, reply) == hello_server::verdict::answered);
    CHECK(server.on_frame(t1, p1, reply) == hello_server::verdict::refused);
  }
}

TEST_CASE("a forged server proof is refused by the client", "[hello_auth]") {
  auto k = keys(1);
  hello_client client(k, hello_msg{1, 0, "c"});
  client.first_frame();
  auth_hello_ack_msg ack{hello_msg{2, 1, "s"}, make_nonce(), {}};
  std::vector<char> bytes;
  encode(bytes, ack);
  auto [t, p] = split(bytes);
  std::vector<char> reply;
  CHECK_FALSE(client.on_answer(t, p, reply));
  CHECK(reply.empty()); // no proof of ours goes to a server that proved nothing
}

TEST_CASE("auth frames round trip and refuse truncation", "[hello_auth]") {
  auth_hello_ack_msg m{hello_msg{9, 8, "name"}, make_nonce(), {}};
  m.server_proof[3] = 7;
  std::vector<char> bytes;
  encode(bytes, m);
  auto [t, p] = split(bytes);
  CHECK(t == frame_type::auth_hello_ack);
  auth_hello_ack_msg out;
  REQUIRE(decode(p.data(), p.size(), out));
  CHECK(out.hello.peer_id == 9);
  CHECK(out.hello.name == "name");
  CHECK(out.server_nonce == m.server_nonce);
  CHECK(out.server_proof == m.server_proof);
  for (size_t n = 0; n < p.size(); ++n)
    CHECK_FALSE(decode(p.data(), n, out));
  p.push_back(0);
  CHECK_FALSE(decode(p.data(), p.size(), out));
  auth_hello_msg h;
  auth_proof_msg pr;
  CHECK_FALSE(decode(p.data(), 10, h));
  CHECK_FALSE(decode(p.data(), 31, pr));
}
