// Manifests from peers: whatever parses is consistent and serializes back to
// the same bytes (so its content id is the hash of what was received).
#include <cstdint>
#include <vector>

#include "fuzz/check.hpp"
#include "storage/manifest.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto p = reinterpret_cast<const char*>(data);
  auto m = p2p::parse_manifest(p, size);
  if (!m)
    return 0;
  FUZZ_CHECK(p2p::is_valid_chunk_size(m->chunk_size));
  FUZZ_CHECK(m->chunk_count() <= p2p::max_chunks);
  uint64_t expected = (m->size + m->chunk_size - 1) / m->chunk_size;
  FUZZ_CHECK(m->chunk_count() == expected);
  uint64_t total = 0;
  for (uint32_t i = 0; i < m->chunk_count(); ++i) {
    auto len = m->chunk_length(i);
    FUZZ_CHECK(len > 0 && len <= m->chunk_size);
    FUZZ_CHECK(m->chunk_offset(i) == total);
    total += len;
  }
  FUZZ_CHECK(total == m->size);
  FUZZ_CHECK(p2p::serialize(*m) == std::vector<char>(p, p + size));
  FUZZ_CHECK(p2p::content_id_of(*m) == p2p::sha256(p, size));
  return 0;
}
