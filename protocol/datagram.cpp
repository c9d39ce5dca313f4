#include "protocol/datagram.hpp"

#include "util/bytes.hpp"

namespace p2p::proto {

namespace {

constexpr char magic[4] = {'P', '2', 'P', 'D'};
constexpr size_t max_addr = 64;

bool valid_kind(uint8_t k) {
  return k >= static_cast<uint8_t>(datagram_kind::announce)
         && k <= static_cast<uint8_t>(datagram_kind::bye);
}

} // namespace

std::vector<char> encode(const datagram& d) {
  std::vector<char> out;
  out.reserve(21 + max_addr);
  bytes::put_raw(out, magic, sizeof(magic));
  bytes::put_u8(out, datagram_version);
  bytes::put_u8(out, static_cast<uint8_t>(d.kind));
  bytes::put_u64(out, d.peer_id);
  bytes::put_u16(out, d.tcp_port);
  bytes::put_u32(out, d.catalog_version);
  // An address never legitimately exceeds 64 bytes; cut rather than emit a
  // datagram every receiver would drop.
  auto len = d.addr.size() > max_addr ? max_addr : d.addr.size();
  bytes::put_u8(out, static_cast<uint8_t>(len));
  bytes::put_raw(out, d.addr.data(), len);
  return out;
}

std::optional<datagram> decode_datagram(const char* p, size_t n) {
  if (p == nullptr || n > max_datagram_size)
    return std::nullopt;
  bytes::reader r(p, n);
  char m[4];
  uint8_t version, kind, addr_len;
  datagram d;
  if (!r.get_raw(m, sizeof(m)) || std::memcmp(m, magic, sizeof(m)) != 0)
    return std::nullopt;
  if (!r.get_u8(version) || version != datagram_version)
    return std::nullopt;
  if (!r.get_u8(kind) || !valid_kind(kind))
    return std::nullopt;
  d.kind = static_cast<datagram_kind>(kind);
  if (!r.get_u64(d.peer_id) || !r.get_u16(d.tcp_port) || !r.get_u32(d.catalog_version)
      || !r.get_u8(addr_len) || addr_len > max_addr || r.remaining() != addr_len)
    return std::nullopt;
  d.addr.assign(r.cursor(), addr_len);
  return d;
}

} // namespace p2p::proto
