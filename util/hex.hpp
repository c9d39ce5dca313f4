#pragma once
// Hex encoding of byte strings (content ids, digests).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace p2p {

// Value 0..15 of one hex digit (either case); -1 for any other character.
int hex_value(char c);

// Lower-case hex of `n` bytes at `p`.
std::string to_hex(const void* p, size_t n);

// Bytes of a hex string; nullopt on odd length or a non-hex character.
std::optional<std::vector<uint8_t>> from_hex(std::string_view hex);

} // namespace p2p
