#pragma once
// Manifests: a file's size, chunk size and the SHA-256 of each chunk.
// The content id of a file is the SHA-256 of its serialized manifest.
//
// Serialized: u64 size | u32 chunk size | u32 chunk count | count * 32-byte digests
// (big endian). chunk count == ceil(size / chunk size); 0 for an empty file.
#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace p2p {

using digest = std::array<uint8_t, 32>;

constexpr uint32_t min_chunk_size = 4 * 1024;
constexpr uint32_t max_chunk_size = 16 * 1024 * 1024;
constexpr uint32_t max_chunks = 65536;

// SHA-256 (OpenSSL EVP).
digest sha256(const void* data, size_t n);

// Incremental SHA-256 for callers that hash in pieces.
class sha256_stream {
public:
  sha256_stream();
  ~sha256_stream();
  sha256_stream(const sha256_stream&) = delete;
  sha256_stream& operator=(const sha256_stream&) = delete;
  void update(const void* data, size_t n);
  digest finish();
private:
  void* ctx_;
};

bool is_valid_chunk_size(uint64_t n); // power of two in [min, max]

// The chunk size used for a file: `preferred`, doubled until the file has at
// most max_chunks chunks (capped at max_chunk_size).
uint32_t effective_chunk_size(uint64_t file_size, uint32_t preferred);

struct manifest {
  uint64_t size = 0;
  uint32_t chunk_size = 0;
  std::vector<digest> hashes;

  uint32_t chunk_count() const { return static_cast<uint32_t>(hashes.size()); }
  uint64_t chunk_offset(uint32_t i) const { return uint64_t{i} * chunk_size; }
  uint32_t chunk_length(uint32_t i) const;
  // True when `data` (n bytes) is chunk i.
  bool verify(uint32_t i, const void* data, size_t n) const;
};

std::vector<char> serialize(const manifest& m);
// nullopt when malformed: bad chunk size, count != ceil(size/chunk), truncated,
// trailing bytes, more than max_chunks chunks.
std::optional<manifest> parse_manifest(const char* p, size_t n);
digest content_id_of(const manifest& m);

// Reads the file at `path` and builds its manifest with
// effective_chunk_size(size, preferred_chunk). On error returns nullopt and
// sets `err` ("cannot open ...: No such file or directory"). When `cancel`
// becomes true it stops after the current read and sets err to "cancelled".
// `progress`, when given, grows by the bytes read as hashing goes (for the
// hashing progress of `share`).
std::optional<manifest> build_manifest(const std::string& path,
                                       uint32_t preferred_chunk, std::string& err,
                                       const std::atomic<bool>* cancel = nullptr,
                                       std::atomic<uint64_t>* progress = nullptr);

} // namespace p2p
