#pragma once
// Test data shared by the unit, actor, system and LAN tests: seeded
// pseudo-random bytes and SHA-256 in lower-case hex. Needs only p2p_core (no
// CAF, no daemon binaries).
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "storage/manifest.hpp"
#include "util/hex.hpp"

namespace p2p::test {

// `size` pseudo-random bytes, the same for the same seed (so a failing run can
// be repeated) and different for different seeds.
inline std::string random_bytes(size_t size, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::string out(size, '\0');
  for (size_t i = 0; i < size; i += 8) {
    auto v = gen();
    for (size_t j = 0; j < 8 && i + j < size; ++j)
      out[i + j] = static_cast<char>((v >> (8 * j)) & 0xff);
  }
  return out;
}

// SHA-256 of `data`, lower-case hex.
inline std::string sha256_hex(const std::string& data) {
  auto d = sha256(data.data(), data.size());
  return to_hex(d.data(), d.size());
}

// SHA-256 of a file's contents, lower-case hex (of no bytes when the file
// cannot be read).
inline std::string file_sha256(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return sha256_hex(ss.str());
}

} // namespace p2p::test
