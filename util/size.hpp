#pragma once
// Byte counts for people (the CLI's tables, the daemon's messages).
#include <cstdint>
#include <string>

namespace p2p {

// 1536 -> "1.5 KiB", 20971520 -> "20.0 MiB", 12 -> "12 B" (IEC units, one
// decimal; 1023.96 KiB shows as "1.0 MiB", never "1024.0 KiB").
std::string format_size(uint64_t bytes);

} // namespace p2p
