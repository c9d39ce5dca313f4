#pragma once
// The peer hello of a private swarm: a mutual challenge-response over the
// hello key derived from the network key (protocol/network_key.hpp;
// docs/protocol.md "Private swarms").
//
//   client -> server  auth_hello      hello fields | client nonce (32)
//   server -> client  auth_hello_ack  hello fields | server nonce (32) |
//                                     HMAC(hello key, "server" | Nc | Ns)
//   client -> server  auth_proof      HMAC(hello key, "client" | Nc | Ns)
//
// Each side proves it holds the key over a nonce it did not choose, and the
// role label stops a proof from being reflected back. The server answers
// nothing else until the client's proof checks out. Pure: no CAF.
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocol/frame.hpp"
#include "protocol/network_key.hpp"

namespace p2p::proto {

using nonce = std::array<uint8_t, 32>;

// 32 bytes from OpenSSL's RAND_bytes.
nonce make_nonce();

enum class hello_role : uint8_t { client, server };

// HMAC-SHA256(hello_key, "p2p hello client" or "p2p hello server" | client
// nonce | server nonce).
mac_tag hello_proof(const key_bytes& hello_key, hello_role role, const nonce& client,
                    const nonce& server);

struct auth_hello_msg {
  hello_msg hello;
  nonce client_nonce{};
};

struct auth_hello_ack_msg {
  hello_msg hello;
  nonce server_nonce{};
  mac_tag server_proof{};
};

struct auth_proof_msg {
  mac_tag client_proof{};
};

// Whole frames appended to `out`.
void encode(std::vector<char>& out, const auth_hello_msg& m);
void encode(std::vector<char>& out, const auth_hello_ack_msg& m);
void encode(std::vector<char>& out, const auth_proof_msg& m);
// Payload decoders: false when truncated or with trailing bytes.
bool decode(const char* p, size_t n, auth_hello_msg& out);
bool decode(const char* p, size_t n, auth_hello_ack_msg& out);
bool decode(const char* p, size_t n, auth_proof_msg& out);

// The client side of the opening, for the brokers that dial a peer_server
// (range_fetcher, peer_query). Without a network key it is the plain
// hello/hello_ack; with one, the challenge-response above.
class hello_client {
public:
  // `network` null: keyless.
  hello_client(std::shared_ptr<const network_secrets> network, hello_msg hello);

  // The first frame to send (hello or auth_hello).
  std::vector<char> first_frame();

  // The server's answer to it (a frame of `type` with `payload`). True when
  // the server is accepted: server() holds its hello and `reply` the frames to
  // send before any request (the auth_proof when keyed). False with error()
  // naming why: an error frame's text, a keyless/keyed mismatch, a wrong
  // proof (another network key), a malformed frame.
  bool on_answer(frame_type type, const std::vector<char>& payload,
                 std::vector<char>& reply);

  const hello_msg& server() const { return server_; }
  const std::string& error() const { return error_; }

private:
  std::shared_ptr<const network_secrets> network_;
  hello_msg hello_;
  nonce mine_{};
  hello_msg server_;
  std::string error_;
};

// The server side's state of one connection's opening.
class hello_server {
public:
  enum class verdict {
    answered, // `reply` holds the hello_ack / auth_hello_ack; keyed: wait for the proof
    accepted, // the connection may ask for catalogs, manifests and chunks
    refused,  // close it; reason() says why (one line for the log and the
              // error frame to the client)
  };

  // `network` null: keyless.
  hello_server(std::shared_ptr<const network_secrets> network, hello_msg mine);

  // A frame of `type` before the connection is accepted (hello, auth_hello,
  // auth_proof, or any other: refused).
  verdict on_frame(frame_type type, const std::vector<char>& payload,
                   std::vector<char>& reply);

  bool accepted() const { return accepted_; }
  const hello_msg& client() const { return client_; }
  const std::string& reason() const { return reason_; }

private:
  verdict refuse(std::string why);

  std::shared_ptr<const network_secrets> network_;
  hello_msg mine_;
  nonce client_nonce_{};
  nonce server_nonce_{};
  bool challenged_ = false; // auth_hello_ack sent
  bool accepted_ = false;
  hello_msg client_;
  std::string reason_;
};

} // namespace p2p::proto
