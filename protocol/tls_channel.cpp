#include "protocol/tls_channel.hpp"

#include "protocol/frame.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstring>
#include <stdexcept>

namespace p2p::proto {

namespace {

// The PSK's identity on the wire: there is one key per swarm.
constexpr unsigned char psk_identity[] = "p2p network key v1";
constexpr size_t psk_identity_len = sizeof(psk_identity) - 1;
// TLS_AES_128_GCM_SHA256 (RFC 8446 B.4): AES-NI makes it nearly free here.
constexpr unsigned char suite_id[] = {0x13, 0x01};
constexpr size_t read_block = 64 * 1024;

// One context for the process: TLS 1.3 only, one suite, no tickets (the
// PSK is the only way in), no certificates.
SSL_CTX* shared_context() {
  static SSL_CTX* ctx = [] {
    SSL_CTX* c = SSL_CTX_new(TLS_method());
    if (c == nullptr)
      throw std::runtime_error("SSL_CTX_new failed");
    SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION);
    SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION);
    SSL_CTX_set_ciphersuites(c, "TLS_AES_128_GCM_SHA256");
    SSL_CTX_set_num_tickets(c, 0);
    SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
    return c;
  }();
  return ctx;
}

int psk_index() {
  static int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// A session carrying the PSK, as RFC 8446 external PSKs are given to OpenSSL.
SSL_SESSION* psk_session(SSL* ssl) {
  auto* key = static_cast<const key_bytes*>(SSL_get_ex_data(ssl, psk_index()));
  const SSL_CIPHER* cipher = SSL_CIPHER_find(ssl, suite_id);
  if (key == nullptr || cipher == nullptr)
    return nullptr;
  SSL_SESSION* s = SSL_SESSION_new();
  if (s == nullptr)
    return nullptr;
  if (SSL_SESSION_set1_master_key(s, key->data(), key->size()) != 1
      || SSL_SESSION_set_cipher(s, cipher) != 1
      || SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION) != 1) {
    SSL_SESSION_free(s);
    return nullptr;
  }
  return s;
}

int use_psk(SSL* ssl, const EVP_MD*, const unsigned char** id, size_t* idlen,
            SSL_SESSION** sess) {
  *sess = psk_session(ssl);
  if (*sess == nullptr)
    return 0;
  *id = psk_identity;
  *idlen = psk_identity_len;
  return 1;
}

int find_psk(SSL* ssl, const unsigned char* id, size_t idlen, SSL_SESSION** sess) {
  if (idlen != psk_identity_len || std::memcmp(id, psk_identity, idlen) != 0) {
    *sess = nullptr; // unknown identity: the handshake fails
    return 1;
  }
  *sess = psk_session(ssl);
  return *sess != nullptr ? 1 : 0;
}

std::string openssl_error() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0)
    return "unknown error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

} // namespace

struct tls_channel::impl {
  SSL* ssl = nullptr;
  BIO* in = nullptr;  // ciphertext from the peer (owned by ssl)
  BIO* out = nullptr; // ciphertext to the peer (owned by ssl)
  key_bytes psk;
  ~impl() {
    if (ssl != nullptr)
      SSL_free(ssl);
    OPENSSL_cleanse(psk.data(), psk.size());
  }
};

tls_channel::tls_channel(role r, const key_bytes& psk) : impl_(std::make_unique<impl>()) {
  impl_->psk = psk;
  impl_->ssl = SSL_new(shared_context());
  if (impl_->ssl == nullptr)
    throw std::runtime_error("SSL_new failed: " + openssl_error());
  impl_->in = BIO_new(BIO_s_mem());
  impl_->out = BIO_new(BIO_s_mem());
  SSL_set_bio(impl_->ssl, impl_->in, impl_->out);
  SSL_set_ex_data(impl_->ssl, psk_index(), &impl_->psk);
  if (r == role::client) {
    SSL_set_psk_use_session_callback(impl_->ssl, use_psk);
    SSL_set_connect_state(impl_->ssl);
    handshake(); // the ClientHello
  } else {
    SSL_set_psk_find_session_callback(impl_->ssl, find_psk);
    SSL_set_accept_state(impl_->ssl);
  }
}

tls_channel::~tls_channel() = default;

bool tls_channel::fail(const std::string& why) {
  if (error_.empty())
    error_ = why;
  return false;
}

bool tls_channel::handshake() {
  int rc = SSL_do_handshake(impl_->ssl);
  if (rc == 1) {
    established_ = true;
    if (!pending_.empty()) {
      auto plain = std::move(pending_);
      pending_.clear();
      return write_plain(plain.data(), plain.size());
    }
    return true;
  }
  int err = SSL_get_error(impl_->ssl, rc);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
    return true;
  return fail("TLS handshake failed (another network key?): " + openssl_error());
}

bool tls_channel::read_ciphertext(const char* p, size_t n, std::vector<char>& plain) {
  if (failed())
    return false;
  if (n == 0)
    return true;
  if (!seen_bytes_) {
    seen_bytes_ = true;
    // A TLS record starts with its content type: 22 handshake (21 alert).
    // Anything else is a peer that speaks the plain protocol.
    if (p[0] != 22 && p[0] != 21) {
      plain_peer_ = true;
      // A server at its connection limit refuses before any TLS, with one
      // plain `busy` error frame (docs/protocol.md, "Limits"): say that, not
      // that it does not encrypt.
      frame_header hdr;
      error_msg refusal;
      if (n >= frame_header_size && decode_header(p, hdr) == header_status::ok
          && hdr.type == frame_type::error && n >= frame_header_size + hdr.length
          && decode(p + frame_header_size, hdr.length, refusal)
          && refusal.code == error_code::busy)
        return fail("the peer refused the connection: " + refusal.message);
      return fail("the peer does not encrypt (plain protocol; this daemon runs --encrypt)");
    }
  }
  if (BIO_write(impl_->in, p, static_cast<int>(n)) != static_cast<int>(n))
    return fail("TLS: cannot buffer input");
  if (!established_ && (!handshake() || !established_))
    return !failed();
  for (;;) {
    auto at = plain.size();
    plain.resize(at + read_block);
    size_t got = 0;
    int rc = SSL_read_ex(impl_->ssl, plain.data() + at, read_block, &got);
    plain.resize(at + (rc == 1 ? got : 0));
    if (rc == 1)
      continue;
    int err = SSL_get_error(impl_->ssl, rc);
    if (err == SSL_ERROR_WANT_READ)
      return true;
    if (err == SSL_ERROR_ZERO_RETURN)
      return fail("TLS: the peer closed the session");
    return fail("TLS: bad record from the peer: " + openssl_error());
  }
}

bool tls_channel::write_plain(const char* p, size_t n) {
  if (failed())
    return false;
  if (!established_) {
    pending_.insert(pending_.end(), p, p + n);
    return true;
  }
  while (n > 0) {
    size_t put = 0;
    if (SSL_write_ex(impl_->ssl, p, n, &put) != 1)
      return fail("TLS: cannot encrypt: " + openssl_error());
    p += put;
    n -= put;
  }
  return true;
}

size_t tls_channel::take_ciphertext(std::vector<char>& out) {
  auto pending = BIO_ctrl_pending(impl_->out);
  if (pending == 0)
    return 0;
  auto at = out.size();
  out.resize(at + pending);
  int got = BIO_read(impl_->out, out.data() + at, static_cast<int>(pending));
  out.resize(at + (got > 0 ? static_cast<size_t>(got) : 0));
  return out.size() - at;
}

} // namespace p2p::proto
