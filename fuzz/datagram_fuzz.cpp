// Discovery datagrams: whatever decodes must encode back to the same bytes.
#include <cstdint>
#include <vector>

#include "fuzz/check.hpp"
#include "protocol/datagram.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto p = reinterpret_cast<const char*>(data);
  // Keyed (private swarm): a forged tag is refused before any parsing;
  // whatever verifies encodes back to the same bytes.
  p2p::key_bytes key{};
  if (auto k = p2p::proto::decode_keyed_datagram(p, size, key))
    FUZZ_CHECK(p2p::proto::encode_keyed(*k, key) == std::vector<char>(p, p + size));
  auto d = p2p::proto::decode_datagram(p, size);
  if (!d)
    return 0;
  FUZZ_CHECK(size <= p2p::proto::max_datagram_size && d->addr.size() <= 64);
  FUZZ_CHECK(p2p::proto::encode(*d) == std::vector<char>(p, p + size));
  return 0;
}
