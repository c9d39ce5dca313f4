#include "protocol/datagram.hpp"

#include <cstring>
#include <iterator>

#include "util/bytes.hpp"

namespace p2p::proto {

namespace {

constexpr char magic[4] = {'P', '2', 'P', 'D'};
constexpr size_t max_addr = 64;
constexpr size_t keyed_trailer = 8 + 8 + 32; // time, counter, tag

bool valid_kind(uint8_t k) {
  return k >= static_cast<uint8_t>(datagram_kind::announce)
         && k <= static_cast<uint8_t>(datagram_kind::bye);
}

void encode_fields(std::vector<char>& out, const datagram& d, uint8_t version) {
  out.reserve(21 + max_addr + keyed_trailer);
  bytes::put_raw(out, magic, sizeof(magic));
  bytes::put_u8(out, version);
  bytes::put_u8(out, static_cast<uint8_t>(d.kind));
  bytes::put_u64(out, d.peer_id);
  bytes::put_u16(out, d.tcp_port);
  bytes::put_u32(out, d.catalog_version);
  // An address never legitimately exceeds 64 bytes; cut rather than emit a
  // datagram every receiver would drop.
  auto len = d.addr.size() > max_addr ? max_addr : d.addr.size();
  bytes::put_u8(out, static_cast<uint8_t>(len));
  bytes::put_raw(out, d.addr.data(), len);
}

// The fields of either version; `r` is left after the address.
std::optional<datagram> decode_fields(bytes::reader& r, uint8_t want_version,
                                      size_t trailer) {
  char m[4];
  uint8_t version, kind, addr_len;
  datagram d;
  if (!r.get_raw(m, sizeof(m)) || std::memcmp(m, magic, sizeof(m)) != 0)
    return std::nullopt;
  if (!r.get_u8(version) || version != want_version)
    return std::nullopt;
  if (!r.get_u8(kind) || !valid_kind(kind))
    return std::nullopt;
  d.kind = static_cast<datagram_kind>(kind);
  if (!r.get_u64(d.peer_id) || !r.get_u16(d.tcp_port) || !r.get_u32(d.catalog_version)
      || !r.get_u8(addr_len) || addr_len > max_addr || r.remaining() != addr_len + trailer)
    return std::nullopt;
  d.addr.assign(r.cursor(), addr_len);
  char skip[max_addr];
  r.get_raw(skip, addr_len);
  return d;
}

} // namespace

std::vector<char> encode(const datagram& d) {
  std::vector<char> out;
  encode_fields(out, d, datagram_version);
  return out;
}

std::vector<char> encode_keyed(const datagram& d, const key_bytes& key) {
  std::vector<char> out;
  encode_fields(out, d, keyed_datagram_version);
  bytes::put_u64(out, d.time_ms);
  bytes::put_u64(out, d.counter);
  auto tag = hmac_sha256(key, out.data(), out.size());
  bytes::put_raw(out, tag.data(), tag.size());
  return out;
}

std::optional<datagram> decode_datagram(const char* p, size_t n) {
  if (p == nullptr || n > max_datagram_size)
    return std::nullopt;
  bytes::reader r(p, n);
  return decode_fields(r, datagram_version, 0);
}

std::optional<datagram> decode_keyed_datagram(const char* p, size_t n,
                                              const key_bytes& key) {
  if (p == nullptr || n > max_datagram_size || n < keyed_trailer)
    return std::nullopt;
  // The tag first: nothing of a forged datagram is parsed.
  auto signed_len = n - 32;
  auto tag = hmac_sha256(key, p, signed_len);
  if (!same_tag(tag, reinterpret_cast<const uint8_t*>(p + signed_len)))
    return std::nullopt;
  bytes::reader r(p, signed_len);
  auto d = decode_fields(r, keyed_datagram_version, 16);
  if (!d || !r.get_u64(d->time_ms) || !r.get_u64(d->counter) || !r.at_end())
    return std::nullopt;
  return d;
}

replay_guard::verdict replay_guard::check(const datagram& d, uint64_t now_ms) {
  auto off = d.time_ms > now_ms ? d.time_ms - now_ms : now_ms - d.time_ms;
  if (off > window_ms_)
    return verdict::stale;
  auto it = last_.find(d.peer_id);
  if (it != last_.end()) {
    if (d.counter <= it->second.counter)
      return verdict::replayed;
    it->second = seen{d.counter, d.time_ms};
    return verdict::fresh;
  }
  if (last_.size() >= max_senders_) {
    // Forget the senders whose last datagram is stale: a replay of any of
    // theirs is stale too.
    for (auto i = last_.begin(); i != last_.end();) {
      auto age = now_ms > i->second.time_ms ? now_ms - i->second.time_ms : 0;
      i = age > window_ms_ ? last_.erase(i) : std::next(i);
    }
    if (last_.size() >= max_senders_)
      return verdict::full;
  }
  last_.emplace(d.peer_id, seen{d.counter, d.time_ms});
  return verdict::fresh;
}

const char* to_string(replay_guard::verdict v) {
  switch (v) {
    case replay_guard::verdict::fresh:
      return "fresh";
    case replay_guard::verdict::replayed:
      return "replayed (counter not newer)";
    case replay_guard::verdict::stale:
      return "stale (time outside the window)";
    case replay_guard::verdict::full:
      return "too many senders";
  }
  return "?";
}

} // namespace p2p::proto
