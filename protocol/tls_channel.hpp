#pragma once
// TLS 1.3 for peer connections (--encrypt; docs/protocol.md "Encryption"):
// one OpenSSL session over two memory BIOs, so a CAF broker keeps its own
// socket and thread and only hands bytes through. Authenticated by an
// external PSK (the network key's TLS key, protocol/network_key.hpp), no
// certificates; TLS_AES_128_GCM_SHA256 only. Pure: no sockets, no CAF.
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "protocol/network_key.hpp"

namespace p2p::proto {

class tls_channel {
public:
  enum class role { client, server };

  // A client's first flight (ClientHello) is ready in take_ciphertext() at once.
  tls_channel(role r, const key_bytes& psk);
  ~tls_channel();
  tls_channel(const tls_channel&) = delete;
  tls_channel& operator=(const tls_channel&) = delete;

  // Takes `n` bytes read from the socket; appends the plaintext they carry
  // to `plain`. False on anything but TLS from a peer with the same key:
  // error() says why ("the peer does not encrypt" when its first bytes are
  // not a TLS record, "the peer refused the connection: ..." when they are a
  // whole plain `busy` error frame (a server at its connection limit), "TLS
  // handshake failed: ..." for another key), and the connection must be
  // closed.
  bool read_ciphertext(const char* p, size_t n, std::vector<char>& plain);

  // Encrypts `n` bytes of plaintext (kept until the handshake is done). False
  // after an error.
  bool write_plain(const char* p, size_t n);

  // Appends the bytes to send (handshake and records) to `out`; the number
  // appended.
  size_t take_ciphertext(std::vector<char>& out);

  bool established() const { return established_; }
  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }
  // The peer's first bytes were not TLS: it speaks the plain protocol (and
  // reads a plain error frame).
  bool peer_is_plain() const { return plain_peer_; }

private:
  bool handshake();
  bool fail(const std::string& why);

  struct impl;
  std::unique_ptr<impl> impl_;
  bool established_ = false;
  bool seen_bytes_ = false;
  bool plain_peer_ = false;
  std::vector<char> pending_; // plaintext written before the handshake ended
  std::string error_;
};

} // namespace p2p::proto
