#pragma once
// Multicast discovery datagrams (see docs/protocol.md).
//
// Layout: magic "P2PD" | u8 version | u8 kind | u64 peer id | u16 tcp port |
// u32 catalog version | u8 addr length | addr bytes (text, e.g. "10.0.0.2").
// Catalogs are never carried here; a receiver fetches them over TCP.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace p2p::proto {

constexpr uint8_t datagram_version = 1;
constexpr size_t max_datagram_size = 512;

enum class datagram_kind : uint8_t {
  announce = 1, // "I am here; my catalog has this version"
  scan = 2,     // "everybody, announce yourselves now" (answered with announce)
  bye = 3,      // "I am leaving"
};

struct datagram {
  datagram_kind kind = datagram_kind::announce;
  uint64_t peer_id = 0;
  uint16_t tcp_port = 0;
  uint32_t catalog_version = 0;
  std::string addr; // the address others should dial; at most 64 bytes
};

std::vector<char> encode(const datagram& d);

// nullopt on a wrong magic/version/kind, truncation, trailing bytes, or an
// address longer than 64 bytes.
std::optional<datagram> decode_datagram(const char* p, size_t n);

} // namespace p2p::proto
