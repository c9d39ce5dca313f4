#pragma once
// File names that come from peers are untrusted.
#include <optional>
#include <string>
#include <string_view>

namespace p2p {

// A name safe to create inside an output directory: no '/', '\\', NUL or
// control characters (each replaced by '_'), not "." or "..", not empty,
// at most 255 bytes (longer names are cut, keeping UTF-8 sequences whole).
// nullopt when nothing usable remains.
std::optional<std::string> sanitize_name(std::string_view name);

} // namespace p2p
