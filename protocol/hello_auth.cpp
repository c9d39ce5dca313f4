#include "protocol/hello_auth.hpp"

#include <openssl/rand.h>

#include <stdexcept>

#include "util/bytes.hpp"

namespace p2p::proto {

namespace {

void put_hello_fields(std::vector<char>& out, const hello_msg& h) {
  bytes::put_u64(out, h.peer_id);
  bytes::put_u16(out, h.tcp_port);
  bytes::put_str16(out, h.name);
}

bool get_hello_fields(bytes::reader& r, hello_msg& h) {
  return r.get_u64(h.peer_id) && r.get_u16(h.tcp_port) && r.get_str16(h.name);
}

// Header with the payload's length patched in after the payload is written.
template <class F>
void frame(std::vector<char>& out, frame_type type, F body) {
  auto at = out.size();
  encode_header(out, type, 0);
  body();
  auto len = static_cast<uint32_t>(out.size() - at - frame_header_size);
  for (int i = 0; i < 4; ++i)
    out[at + i] = static_cast<char>(len >> (24 - 8 * i));
}

const char* no_key_here = "this daemon has no network key (the peer is in a private swarm)";
const char* key_needed = "this daemon is in a private swarm: the peer has no network key";
const char* key_differs = "the peer's network key differs from ours";

} // namespace

nonce make_nonce() {
  nonce n;
  if (RAND_bytes(n.data(), static_cast<int>(n.size())) != 1)
    throw std::runtime_error("no randomness for a hello nonce");
  return n;
}

mac_tag hello_proof(const key_bytes& hello_key, hello_role role, const nonce& client,
                    const nonce& server) {
  std::string label = role == hello_role::client ? "p2p hello client" : "p2p hello server";
  std::vector<char> msg(label.begin(), label.end());
  bytes::put_raw(msg, client.data(), client.size());
  bytes::put_raw(msg, server.data(), server.size());
  return hmac_sha256(hello_key, msg.data(), msg.size());
}

void encode(std::vector<char>& out, const auth_hello_msg& m) {
  frame(out, frame_type::auth_hello, [&] {
    put_hello_fields(out, m.hello);
    bytes::put_raw(out, m.client_nonce.data(), m.client_nonce.size());
  });
}

void encode(std::vector<char>& out, const auth_hello_ack_msg& m) {
  frame(out, frame_type::auth_hello_ack, [&] {
    put_hello_fields(out, m.hello);
    bytes::put_raw(out, m.server_nonce.data(), m.server_nonce.size());
    bytes::put_raw(out, m.server_proof.data(), m.server_proof.size());
  });
}

void encode(std::vector<char>& out, const auth_proof_msg& m) {
  frame(out, frame_type::auth_proof,
        [&] { bytes::put_raw(out, m.client_proof.data(), m.client_proof.size()); });
}

bool decode(const char* p, size_t n, auth_hello_msg& out) {
  bytes::reader r(p, n);
  auth_hello_msg m;
  if (!get_hello_fields(r, m.hello) || !r.get_raw(m.client_nonce.data(), 32) || !r.at_end())
    return false;
  out = std::move(m);
  return true;
}

bool decode(const char* p, size_t n, auth_hello_ack_msg& out) {
  bytes::reader r(p, n);
  auth_hello_ack_msg m;
  if (!get_hello_fields(r, m.hello) || !r.get_raw(m.server_nonce.data(), 32)
      || !r.get_raw(m.server_proof.data(), 32) || !r.at_end())
    return false;
  out = std::move(m);
  return true;
}

bool decode(const char* p, size_t n, auth_proof_msg& out) {
  bytes::reader r(p, n);
  auth_proof_msg m;
  if (!r.get_raw(m.client_proof.data(), 32) || !r.at_end())
    return false;
  out = m;
  return true;
}

// -- client ---------------------------------------------------------------------

hello_client::hello_client(std::shared_ptr<const network_secrets> network, hello_msg hello)
  : network_(std::move(network)), hello_(std::move(hello)) {
  if (network_)
    mine_ = make_nonce();
}

std::vector<char> hello_client::first_frame() {
  std::vector<char> out;
  if (network_)
    encode(out, auth_hello_msg{hello_, mine_});
  else
    encode(out, hello_, false);
  return out;
}

bool hello_client::on_answer(frame_type type, const std::vector<char>& payload,
                             std::vector<char>& reply) {
  if (type == frame_type::error) {
    error_msg e;
    error_ = decode(payload.data(), payload.size(), e) ? "peer error: " + e.message
                                                       : "malformed error frame";
    return false;
  }
  if (!network_) {
    if (type == frame_type::auth_hello_ack) {
      error_ = "the peer is in a private swarm; this daemon has no network key";
      return false;
    }
    if (type != frame_type::hello_ack || !decode(payload.data(), payload.size(), server_)) {
      error_ = "expected hello_ack, got " + to_string(type);
      return false;
    }
    return true;
  }
  auth_hello_ack_msg ack;
  if (type == frame_type::hello_ack) {
    error_ = "the peer has no network key; this daemon is in a private swarm";
    return false;
  }
  if (type != frame_type::auth_hello_ack || !decode(payload.data(), payload.size(), ack)) {
    error_ = "expected auth_hello_ack, got " + to_string(type);
    return false;
  }
  auto want = hello_proof(network_->hello, hello_role::server, mine_, ack.server_nonce);
  if (!same_tag(want, ack.server_proof.data())) {
    error_ = key_differs;
    return false;
  }
  server_ = std::move(ack.hello);
  encode(reply, auth_proof_msg{
                  hello_proof(network_->hello, hello_role::client, mine_, ack.server_nonce)});
  return true;
}

// -- server ---------------------------------------------------------------------

hello_server::hello_server(std::shared_ptr<const network_secrets> network, hello_msg mine)
  : network_(std::move(network)), mine_(std::move(mine)) {
}

hello_server::verdict hello_server::refuse(std::string why) {
  reason_ = std::move(why);
  return verdict::refused;
}

hello_server::verdict hello_server::on_frame(frame_type type,
                                             const std::vector<char>& payload,
                                             std::vector<char>& reply) {
  if (accepted_ && type != frame_type::hello)
    return verdict::accepted;
  const char* p = payload.data();
  auto n = payload.size();
  switch (type) {
    case frame_type::hello:
      if (network_)
        return refuse(key_needed);
      if (!decode(p, n, client_))
        return refuse("malformed hello frame");
      encode(reply, mine_, true);
      accepted_ = true;
      return verdict::answered;
    case frame_type::auth_hello: {
      if (!network_)
        return refuse(no_key_here);
      auth_hello_msg m;
      if (challenged_ || !decode(p, n, m))
        return refuse("malformed auth_hello frame");
      client_ = std::move(m.hello);
      client_nonce_ = m.client_nonce;
      server_nonce_ = make_nonce();
      challenged_ = true;
      encode(reply, auth_hello_ack_msg{mine_, server_nonce_,
                                       hello_proof(network_->hello, hello_role::server,
                                                   client_nonce_, server_nonce_)});
      return verdict::answered;
    }
    case frame_type::auth_proof: {
      auth_proof_msg m;
      if (!network_ || !challenged_)
        return refuse("auth_proof before auth_hello");
      if (!decode(p, n, m))
        return refuse("malformed auth_proof frame");
      auto want = hello_proof(network_->hello, hello_role::client, client_nonce_,
                              server_nonce_);
      if (!same_tag(want, m.client_proof.data()))
        return refuse(key_differs);
      accepted_ = true;
      return verdict::accepted;
    }
    default:
      return refuse(network_ ? "a " + to_string(type)
                                 + " frame before the network key was proven"
                             : "a " + to_string(type) + " frame before hello");
  }
}

} // namespace p2p::proto
