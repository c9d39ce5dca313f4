#pragma once
// Private swarms (README "Private swarms", docs/protocol.md): the network key
// shared by the daemons of one swarm, its key file, and the keys derived
// from it. Pure: OpenSSL only, no CAF, no sockets.
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace p2p {

// 32 secret bytes; never logged, never shown in status.
using key_bytes = std::array<uint8_t, 32>;
// An HMAC-SHA256 tag.
using mac_tag = std::array<uint8_t, 32>;

// The key file's contents: 64 hex digits (either case) and at most one
// trailing newline ("\n" or "\r\n"). nullopt for anything else.
std::optional<key_bytes> parse_network_key(const std::string& text);

// Reads the key file at `path`. Refused (nullopt, `err` says why, never the
// key): not a regular file, readable or writable by group or others (mode &
// 077: the key is as secret as an ssh private key; ssh refuses the same),
// larger than 4 KiB, or malformed (parse_network_key).
std::optional<key_bytes> load_network_key(const std::string& path, std::string& err);

// Writes a new key file at `path`: 32 bytes from OpenSSL's RAND_bytes as 64
// hex digits and a newline, mode 0600, created with O_EXCL|O_NOFOLLOW (an
// existing file or link is never overwritten), fsynced. "" on success, else
// the error text.
std::string write_new_network_key(const std::string& path);

// The keys derived from one network key with HKDF-SHA256 (RFC 5869; no salt,
// one `info` label each: "p2p datagram v1", "p2p hello v1", "p2p tls v1"), so
// a tag on a datagram says nothing about the hello or TLS keys.
struct network_secrets {
  key_bytes datagram; // HMAC-SHA256 of discovery datagrams
  key_bytes hello;    // HMAC-SHA256 proofs of the peer hello
  key_bytes tls;      // TLS 1.3 external PSK (--encrypt)
};

// HKDF-SHA256 of `key` with `info` into 32 bytes (OpenSSL 3 EVP_KDF "HKDF").
key_bytes hkdf_sha256(const key_bytes& key, const std::string& info);

// The three keys of `key`.
network_secrets derive_secrets(const key_bytes& key);

// HMAC-SHA256 of `n` bytes at `p` under `key`.
mac_tag hmac_sha256(const key_bytes& key, const void* p, size_t n);

// Constant-time equality of two tags (CRYPTO_memcmp).
bool same_tag(const mac_tag& a, const uint8_t* b);

} // namespace p2p
