#pragma once
// Multicast discovery datagrams (see docs/protocol.md).
//
// Layout: magic "P2PD" | u8 version | u8 kind | u64 peer id | u16 tcp port |
// u32 catalog version | u8 addr length | addr bytes (text, e.g. "10.0.0.2").
// Catalogs are never carried here; a receiver fetches them over TCP.
//
// Keyed (private swarm, --network-key): version 2, the same fields, then
// u64 sender time (ms since the Unix epoch) | u64 counter (per sender, grows
// by one each datagram) | 32-byte HMAC-SHA256 tag over every byte before it,
// keyed with the network key's datagram key. A keyless daemon reads only
// version 1 and a keyed one only version 2, so neither learns the other.
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/defaults.hpp"
#include "protocol/network_key.hpp"

namespace p2p::proto {

constexpr uint8_t datagram_version = 1;
constexpr uint8_t keyed_datagram_version = 2;
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
  // Keyed datagrams only (0 otherwise).
  uint64_t time_ms = 0;  // sender's clock, ms since the Unix epoch
  uint64_t counter = 0;  // per sender, strictly growing
};

// Version 1 (no key).
std::vector<char> encode(const datagram& d);

// Version 2: `d` with d.time_ms and d.counter, tagged with `key` (the
// datagram key of network_secrets).
std::vector<char> encode_keyed(const datagram& d, const key_bytes& key);

// Version 1 only. nullopt on a wrong magic/version/kind, truncation,
// trailing bytes, or an address longer than 64 bytes.
std::optional<datagram> decode_datagram(const char* p, size_t n);

// Version 2 only, and only with a tag that `key` made (checked in constant
// time before any field is trusted); else as decode_datagram.
std::optional<datagram> decode_keyed_datagram(const char* p, size_t n, const key_bytes& key);

// Tells fresh keyed datagrams from replays: one is accepted when its time is
// within `window_ms` of ours and its counter is above every counter accepted
// from that sender. Senders not heard within the window are forgotten when
// room is needed (their old datagrams are stale anyway); with `max_senders`
// all fresh, a new sender is refused until one goes stale.
class replay_guard {
public:
  enum class verdict { fresh, replayed, stale, full };

  explicit replay_guard(uint64_t window_ms = defaults::datagram_replay_window_ms,
                        size_t max_senders = defaults::datagram_replay_senders)
    : window_ms_(window_ms), max_senders_(max_senders) {}

  // Checks (and on `fresh` records) datagram `d` received at `now_ms` (ms
  // since the Unix epoch).
  verdict check(const datagram& d, uint64_t now_ms);

  size_t senders() const { return last_.size(); }

private:
  struct seen {
    uint64_t counter;
    uint64_t time_ms;
  };
  uint64_t window_ms_;
  size_t max_senders_;
  std::unordered_map<uint64_t, seen> last_; // by peer id
};

const char* to_string(replay_guard::verdict v);

} // namespace p2p::proto
